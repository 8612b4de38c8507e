//! The batched path: a mini-batch as a matrix, and each wide layer as one
//! matrix product (`alloc` feature).
//!
//! # Math
//!
//! Stack a batch of `B` samples as the rows of a matrix `X ∈ ℝ^{B×IN}`; a
//! `Dense` layer's per-sample formulas become three matrix products,
//! `Z = X Wᵀ + 1 bᵀ`, `∂L/∂W = Δᵀ X` and `∂L/∂X = Δ W` (the derivation is
//! beside the code, in `src/dense/rows.rs`). `W` is stored `OUT × IN`,
//! row-major (PyTorch's layout), which is `Wᵀ` stored column-major:
//! [`matrixmultiply`] takes every operand with its own row and column
//! strides, so none of the products copies or transposes anything. The
//! first layer's `∂L/∂X` is not computed when nothing needs it (a training
//! step never does). For inference with fixed weights, [`Frozen`] keeps a
//! transposed copy of each `W`, which `matrixmultiply` packs faster (the
//! same sums, so the same bits).
//!
//! # Which path, per layer
//!
//! A matrix product pays for packing its operands into cache-sized panels
//! (and `matrixmultiply` allocates the buffer for that on every call), so it
//! wins only when there is enough work to spread that over. Each layer
//! decides for itself, from its shape and the number of rows, by
//! [`gemm_pays`]: below the threshold it runs its rows through the
//! per-sample kernels (the same code as [`Forward::forward`](crate::Forward::forward), so those layers
//! compute exactly the per-sample path's bits), above it through
//! `sgemm`/`dgemm`. The threshold comes from `benches/batch.rs`, which
//! measures both on a range of shapes (see `benches/README.md`).
//! [`Train::fit`](crate::Train::fit) uses the batched path when at least
//! one layer would take the product, and the per-sample path otherwise, and
//! batch inference ([`Workspace::forward`],
//! [`Infer::predict`](crate::Infer::predict)) likewise.
//!
//! The batched path is not bit-identical across machines: `matrixmultiply`
//! picks its kernel (SSE2, AVX, FMA, AVX-512) at run time and sums in its own
//! order. It agrees with the per-sample path to rounding (the tests check
//! `f32` and `f64`), and is reproducible on one machine. The per-sample path
//! is the one that gives the same bits everywhere.
//!
//! # Threads: shards of a batch
//!
//! [`Train::fit`](crate::Train::fit) computes a batch of more than 128 rows
//! in shards, `min(⌈B / 128⌉, 8)` of them, consecutive rows each: every
//! shard's gradient is this path's gradient of its rows (scaled by the whole
//! batch's `1/B`), and the batch's gradient is their sum in shard order,
//!
//! ```text
//! g = ((g₀ + g₁) + g₂) + …       g_s = (1/B) Σ_{b ∈ shard s} ∂L_b/∂θ
//! ```
//!
//! With [`FitOptions::threads`](crate::train::FitOptions::threads) above 1
//! (`std`), worker threads started once per `fit` call compute some of the
//! shards; since the split depends on `B` alone and the sum is always
//! formed in the same order, the result has the same bits with any number
//! of threads. [`Infer::predict_with_threads`](crate::Infer::predict_with_threads)
//! shares `predict`'s blocks of rows likewise. `ARCHITECTURE.md` has the
//! design; a [`Workspace`]'s own steps run on the calling thread.
//!
//! # Memory
//!
//! A [`Workspace`] holds, per layer, `A`, `Δ` and (if `f'` needs it) `Z` for
//! as many rows as the largest batch it has seen (it grows on first use,
//! never shrinks), plus a buffer to gather shuffled rows. After its first
//! step, a training step allocates nothing of its own: the only allocations
//! left are `matrixmultiply`'s packing buffers, one per matrix product
//! (`tests/batch.rs` counts them).

mod frozen;
pub(crate) mod shards;
#[cfg(feature = "std")]
pub(crate) mod team;
mod workspace;

pub use frozen::Frozen;
pub(crate) use workspace::Rows;
pub use workspace::Workspace;

/// Whether a `Dense<IN, OUT>` layer runs `rows` rows faster as one matrix
/// product than row by row through the per-sample kernels.
///
/// # Math
///
/// A product costs about `F + p·IN·OUT + g·rows·IN·OUT`: a fixed cost `F`
/// (the call, the packing buffer's allocation; about 0.6 µs for the three
/// products of a training pass), packing `W` (`p`), and the
/// multiply-adds at full speed (`g`). Row by row costs `r·rows·IN·OUT` with
/// `r > g`, and nothing fixed. So the product pays once there are enough
/// multiply-adds to spread `F` over, and enough rows to spread the packing
/// over. `benches/batch.rs` measures a training pass (forward and backward)
/// of ten layer shapes from 16 × 16 to 784 × 128 at 2 to 64 rows
/// (`benches/README.md` has the table); the rule
///
/// ```text
/// rows ≥ 8   and   rows · IN · OUT ≥ 2¹⁴
/// ```
///
/// picks the faster path, or one within 10% of it, in every case measured
/// there.
pub const fn gemm_pays(rows: usize, inputs: usize, outputs: usize) -> bool {
    rows >= 8 && rows.saturating_mul(inputs).saturating_mul(outputs) >= 1 << 14
}
