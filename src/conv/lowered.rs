//! The batched path of a convolution (`alloc`): each sample's convolution
//! lowered to matrix products through the column matrix of its input
//! ("im2col") where that pays, the per-sample passes row by row
//! ([`SampleRows`]) otherwise.
//!
//! # Math
//!
//! Write a sample's input `x` (`CI` channels of `H × W`) as its column
//! matrix: one row per kernel tap `(i, kr, kc)` (`CK = CI·K·K` rows, in the
//! order of the weights), one column per output position `(r, c)`
//! (`N = HO·WO` columns), holding the input value that tap sees there:
//!
//! ```text
//! col(x)_{(i,kr,kc), (r,c)} = x_{i, r·S + kr − P, c·S + kc − P}     (0 in the padding)
//! ```
//!
//! The kernels, PyTorch's `[out][in][kh][kw]` flattened, are the row-major
//! `CO × CK` matrix `W`, and the convolution of [`Conv2d`]'s `# Math` is one
//! matrix product per sample `b`; the chain rule through it gives the
//! backward pass (every matrix row-major, `CO × N` for `Z`, `A`, `Δ`, which
//! is the output tensor's own layout `[o][r][c]`):
//!
//! ```text
//! Z_b     = W · col(x_b) + b 1ᵀ        (CO × N)
//! A_b     = f(Z_b)
//!
//! Δ_b     = ∂L/∂A_b ⊙ f'(Z_b)
//! ∂L/∂W   = Σ_b Δ_b · col(x_b)ᵀ        (CO × CK, summed over the batch in row order)
//! ∂L/∂b   = Σ_b Δ_b 1
//! ∂L/∂x_b = col⁻¹(Wᵀ · Δ_b)           (Wᵀ Δ_b is CK × N)
//! ```
//!
//! `col⁻¹` ("col2im") is the adjoint of `col`: every entry of the `CK × N`
//! matrix is added back onto the input position it was copied from (the
//! padding's entries are dropped), which sums, for each input, the terms
//! `W_{o,i,kr,kc} · δ_{o,r,c}` of the input gradient in `# Math`.
//! [`Conv1d`] is the case `H = HO = 1`, `1 × K` kernels, no vertical
//! padding.
//!
//! `W` read with strides `(1, CK)` is `Wᵀ` and `col(x_b)` read with strides
//! `(1, N)` is `col(x_b)ᵀ`: [`gemm_into`] takes both as they are stored, and
//! `Z_b` is written straight into the sample's output tensor (into `A`'s
//! buffer, activated in place, when `f'` needs only `A`:
//! [`Activation::DERIVATIVE_FROM_OUTPUT`]).
//!
//! # One product per sample, the column matrix built twice
//!
//! The batch could be one product per pass, `W · [col(x_1) … col(x_B)]`,
//! but its result is channel-major across the batch (`CO × B·N`), not the
//! sample-major tensors the next layer reads, and its column matrices and
//! `Wᵀ Δ` (`CK × B·N`, 1.8 MB for W6's second convolution at 32 rows) do
//! not stay in the cache. One product per sample writes each sample's `Z`
//! in place, and one `CK × N` column matrix (56 KB there) serves every
//! sample: built in the forward pass for `W · col(x_b)`, built again in the
//! backward pass for `Δ_b · col(x_b)ᵀ`, and `Wᵀ Δ_b` has one `CK × N`
//! buffer too. In a one-off measurement outside the benches (thread CPU
//! time, medians of 40 alternating runs, on the AMD EPYC of
//! `benches/README.md`), W6's convolution products at 32 rows took 1.49 ms
//! as products per sample against 1.73–1.83 ms as batch-wide ones, and
//! keeping every sample's column matrix instead of building it twice made
//! the W6 step no faster.
//!
//! For stride 1 with "same" padding a tap's row of the column matrix is
//! the flattened input shifted by `kr·W + kc − (P·W + P)`: one contiguous
//! copy, then zeros in the columns where the shift wraps around a row
//! (col2im likewise: zero those entries, then one shifted sum). Other
//! geometries copy row by row.
//!
//! # Summation order
//!
//! Every sum runs in an order fixed by the shapes alone: `matrixmultiply`'s
//! order inside a product (it depends on the CPU's kernel, as Dense's
//! batched path does), the weight gradient sample after sample (`β = 1`
//! from the second sample on), the bias gradient sample after sample, each
//! channel's positions in eight running sums added in a fixed tree, col2im
//! over taps in weight order. The
//! results agree with the per-sample path to rounding (`tests/conv_batch.rs`
//! checks 1e-12 relative in `f64`), are reproducible on one machine, and are
//! not bit-identical across machines; the per-sample path is the one that
//! is.
//!
//! # Memory
//!
//! `Z` (if `f'` needs it), `A` and `Δ` per row, one column matrix and one
//! `Wᵀ Δ_b` (both `CK × N`, whatever the batch size): they grow to the
//! largest batch seen and are reused, so after its first step the lowered
//! path allocates nothing of its own; `matrixmultiply` allocates its
//! packing buffer on each of its calls (three per sample in a training
//! pass that wants the input gradient, two without, one in inference).

extern crate alloc;

use super::kernels::Geometry;
use super::rows::SampleRows;
use super::{Conv1d, Conv2d};
use crate::activation::Activation;
use crate::gemm::{gemm_into, Matrix};
use crate::layer::Layer;
use crate::simd::Isa;
use alloc::vec::Vec;
use num_traits::Float;

/// A convolution as the lowered path sees it: its geometry, its tensors as
/// flat slices and its parameters as a `CO × CK` matrix and a bias vector.
pub(crate) trait Lowered: Layer {
    /// The activation `f`.
    type Activation: Activation;
    /// The sizes of one sample's convolution.
    const GEOMETRY: Geometry;
    /// `CO`, the output channels: the rows of `W`.
    const OUT_CHANNELS: usize;
    /// An output tensor of zeros.
    fn zero_output() -> Self::Output;
    /// Input tensors, one after another, as one slice.
    fn flat_inputs(x: &[Self::Input]) -> &[Self::Scalar];
    /// Input tensors, one after another, as one mutable slice.
    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [Self::Scalar];
    /// Output tensors, one after another, as one slice.
    fn flat_outputs(y: &[Self::Output]) -> &[Self::Scalar];
    /// Output tensors, one after another, as one mutable slice.
    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [Self::Scalar];
    /// `W`, `CO × CK` row-major (PyTorch's layout flattened), and `b`.
    fn parameters(&self) -> (&[Self::Scalar], &[Self::Scalar]);
    /// `W` and `b`, mutable (of a gradient).
    fn parameters_mut(&mut self) -> (&mut [Self::Scalar], &mut [Self::Scalar]);
}

/// Whether a convolution with `CK = CI·K·K` taps, `CO` output channels and
/// `N = HO·WO` output positions runs `rows` rows faster lowered to matrix
/// products than row by row through the per-sample kernels.
///
/// # Math
///
/// Both paths cost about the same per row whatever the batch size (the
/// lowered path runs one set of products per row): the per-sample kernels
/// `r · CO·CK·N`, the lowered path a fixed cost per row (three calls of
/// `matrixmultiply`, each packing its operands, and the column matrix) plus
/// `g · CO·CK·N` with `g < r`. So the products pay once a row has enough
/// multiply-adds, from about 4096 on:
///
/// ```text
/// rows ≥ 2   and   CO · CK · N ≥ 2¹²
/// ```
///
/// A single row stays on the per-sample path, whose results have the same
/// bits on every machine (so `fit` with `batch_size: 1` keeps them).
/// `benches/batch.rs` measures
/// both paths on sixteen shapes from 162 to 307,200 multiply-adds per row
/// (`benches/README.md` has the table): every choice of the rule is the
/// faster path or within 15% of it there.
pub(crate) const fn lowering_pays(rows: usize, taps: usize, outputs: usize, positions: usize) -> bool {
    rows >= 2 && taps.saturating_mul(outputs).saturating_mul(positions) >= 1 << 12
}

/// Whether layer `L` takes the lowered path for `rows` rows.
pub(crate) fn lowered<L: Lowered>(rows: usize) -> bool {
    let g = L::GEOMETRY;
    lowering_pays(rows, g.ci * g.kh * g.kw, L::OUT_CHANNELS, g.ho * g.wo)
}

/// A convolution's batch: the row-by-row path's rows and tapes, or the
/// lowered path's matrices, whichever the last forward pass used.
pub struct ConvRows<Y, Tape, T> {
    /// The row-by-row path.
    samples: SampleRows<Y, Tape>,
    /// Whether the last forward pass was lowered.
    lowered: bool,
    /// `col(x_b)` of the row at hand, `CK × N`.
    columns: Vec<T>,
    /// `Z`, one tensor per row (no rows if `f'` needs only `A`).
    pre_activation: Vec<Y>,
    /// `A`, one tensor per row.
    output: Vec<Y>,
    /// `∂L/∂A`, overwritten with `Δ` by the backward pass.
    gradient: Vec<Y>,
    /// `Wᵀ Δ_b` of one row, `CK × N`.
    d_columns: Vec<T>,
}

impl<Y, Tape, T> Default for ConvRows<Y, Tape, T> {
    fn default() -> Self {
        ConvRows {
            samples: SampleRows::default(),
            lowered: false,
            columns: Vec::new(),
            pre_activation: Vec::new(),
            output: Vec::new(),
            gradient: Vec::new(),
            d_columns: Vec::new(),
        }
    }
}

impl<Y: Copy, Tape, T> ConvRows<Y, Tape, T> {
    /// The outputs of the last forward pass and the buffer for their
    /// gradients.
    pub(crate) fn output_and_gradient(&mut self) -> (&[Y], &mut [Y]) {
        if self.lowered {
            (&self.output, &mut self.gradient)
        } else {
            self.samples.output_and_gradient()
        }
    }
}

impl<Y: Copy, Tape, T: Float + 'static> ConvRows<Y, Tape, T> {
    /// The forward pass of the rows of `input`: lowered if `lowered`, else
    /// row by row. (A frame of its own in debug builds: inlined into the
    /// dispatched kernel with the other layers' passes, its buffers would
    /// share one frame with theirs, too large for a test thread's stack.)
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn forward<L, I>(&mut self, layer: &L, isa: I, input: &[L::Input], lowered: bool) -> &[Y]
    where
        L: Lowered<Output = Y, Tape = Tape, Scalar = T>,
        I: Isa,
    {
        self.lowered = lowered;
        if !lowered {
            return self.samples.forward(layer, isa, input);
        }
        let g = L::GEOMETRY;
        let (taps, positions, outputs) = (g.ci * g.kh * g.kw, g.ho * g.wo, L::OUT_CHANNELS);
        let rows = input.len();
        let keep_z = !<L::Activation as Activation>::DERIVATIVE_FROM_OUTPUT;
        // Growing allocates; shrinking and reuse do not.
        self.columns.resize(taps * positions, T::zero());
        self.pre_activation.resize(if keep_z { rows } else { 0 }, L::zero_output());
        self.output.resize(rows, L::zero_output());
        self.gradient.resize(rows, L::zero_output());

        let (weights, bias) = layer.parameters();
        let w = Matrix::row_major(weights, outputs, taps);
        let z = if keep_z { &mut self.pre_activation } else { &mut self.output };
        let col = &mut self.columns;
        let samples = L::flat_inputs(input)
            .chunks_exact(g.ci * g.h * g.w)
            .zip(L::flat_outputs_mut(z).chunks_exact_mut(outputs * positions));
        for (x, z) in samples {
            im2col(g, x, col);
            // Z_b = W · col(x_b)
            gemm_into(T::one(), w, Matrix::row_major(col, taps, positions), T::zero(), z);
        }
        // Z ← Z + b 1ᵀ, A = f(Z) (in place if Z is not kept)
        let f = <L::Activation as Activation>::f::<T>;
        if keep_z {
            let z = L::flat_outputs_mut(&mut self.pre_activation).chunks_exact_mut(positions);
            let a = L::flat_outputs_mut(&mut self.output).chunks_exact_mut(positions);
            for ((z, a), &b) in z.zip(a).zip(bias.iter().cycle()) {
                for (z, a) in z.iter_mut().zip(a) {
                    *z = *z + b;
                    *a = f(*z);
                }
            }
        } else {
            let a = L::flat_outputs_mut(&mut self.output).chunks_exact_mut(positions);
            for (a, &b) in a.zip(bias.iter().cycle()) {
                for a in a {
                    *a = f(*a + b);
                }
            }
        }
        &self.output
    }

    /// The backward pass of the rows of the last forward pass (for the
    /// same `input`), given `∂L/∂A` in the gradient buffer: writes
    /// (`WRITE`) or adds the parameter gradients summed over the rows into
    /// `grads`, and each row's `∂L/∂x` into `d_input` if given; by the path
    /// the forward pass took.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn backward<L, I, const WRITE: bool>(
        &mut self,
        layer: &L,
        isa: I,
        input: &[L::Input],
        grads: &mut L,
        d_input: Option<&mut [L::Input]>,
    ) where
        L: Lowered<Output = Y, Tape = Tape, Scalar = T>,
        I: Isa,
    {
        if !self.lowered {
            return self.samples.backward::<L, I, WRITE>(layer, isa, grads, d_input);
        }
        let g = L::GEOMETRY;
        let (taps, positions, outputs) = (g.ci * g.kh * g.kw, g.ho * g.wo, L::OUT_CHANNELS);
        let rows = input.len().min(self.output.len());
        let keep_z = !<L::Activation as Activation>::DERIVATIVE_FROM_OUTPUT;
        let ConvRows { columns, pre_activation, output, gradient, d_columns, .. } = self;
        d_columns.resize(taps * positions, T::zero());

        let (weights, _) = layer.parameters();
        let w_transposed = Matrix::transposed(weights, taps, outputs);
        let (d_weights, d_bias) = grads.parameters_mut();
        if WRITE {
            d_bias.fill(T::zero());
            if rows == 0 {
                d_weights.fill(T::zero());
            }
        }
        let tensor = outputs * positions;
        let a = L::flat_outputs(output).chunks_exact(tensor);
        // f' reads Z, or A standing in for it when it needs only A.
        let z = L::flat_outputs(if keep_z { pre_activation } else { output }).chunks_exact(tensor);
        let delta = L::flat_outputs_mut(gradient).chunks_exact_mut(tensor);
        columns.resize(taps * positions, T::zero());
        let x = L::flat_inputs(input).chunks_exact(g.ci * g.h * g.w);
        let mut d_x = d_input.map(|d| L::flat_inputs_mut(d).chunks_exact_mut(g.ci * g.h * g.w));
        let df = <L::Activation as Activation>::df::<T>;
        for (b, (((delta, z), a), x)) in delta.zip(z).zip(a).zip(x).take(rows).enumerate() {
            // Δ_b = ∂L/∂A_b ⊙ f'(Z_b, A_b) and ∂L/∂b += Δ_b 1, channel by channel
            let channels = delta.chunks_exact_mut(positions).zip(z.chunks_exact(positions));
            for ((delta, z), (a, db)) in channels.zip(a.chunks_exact(positions).zip(d_bias.iter_mut())) {
                for ((d, &z), &a) in delta.iter_mut().zip(z).zip(a) {
                    *d = *d * df(z, a);
                }
                *db = *db + sum(delta);
            }
            let delta = &*delta;
            // ∂L/∂W += Δ_b · col(x_b)ᵀ (written by the first row if WRITE)
            im2col(g, x, columns);
            let col = &columns[..];
            let beta = if WRITE && b == 0 { T::zero() } else { T::one() };
            gemm_into(
                T::one(),
                Matrix::row_major(delta, outputs, positions),
                Matrix::transposed(col, positions, taps),
                beta,
                d_weights,
            );
            // ∂L/∂x_b = col⁻¹(Wᵀ · Δ_b)
            if let Some(d_x) = d_x.as_mut().and_then(Iterator::next) {
                gemm_into(
                    T::one(),
                    w_transposed,
                    Matrix::row_major(delta, outputs, positions),
                    T::zero(),
                    d_columns,
                );
                col2im(g, d_columns, d_x);
            }
        }
    }
}

/// `Σ x`, in a fixed order that runs eight additions at a time: eight
/// running sums over `x[8k + j]` (the tail into the first ones), then
/// added pairwise, `((s₀ + s₄) + (s₂ + s₆)) + ((s₁ + s₅) + (s₃ + s₇))`.
#[inline(always)]
fn sum<T: Float>(x: &[T]) -> T {
    let mut s = [T::zero(); 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (s, &x) in s.iter_mut().zip(chunk) {
            *s = *s + x;
        }
    }
    for (s, &x) in s.iter_mut().zip(chunks.remainder()) {
        *s = *s + x;
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// The output positions `lo..hi` (along one dimension of `out` positions)
/// whose input position `p·s + k − pad` lies inside `0..n`, for kernel
/// offset `k` (empty, `lo = hi`, if there are none).
#[inline(always)]
fn span(k: usize, pad: usize, s: usize, n: usize, out: usize) -> (usize, usize) {
    // p·s + k ≥ pad  ⇔  p ≥ ⌈(pad − k) / s⌉
    let lo = if pad > k { (pad - k).div_ceil(s) } else { 0 };
    // p·s + k − pad < n  ⇔  p < ⌈(n + pad − k) / s⌉
    let hi = if n + pad > k { (n + pad - k).div_ceil(s).min(out) } else { 0 };
    (lo.min(hi), hi)
}

/// Whether tap `(kr, kc)` reads, at output position `(r, c)`, input
/// position `(r + kr − P, c + kc − P)` of an input as large as the output:
/// stride 1 and "same" padding. Then the tap's row of the column matrix is
/// the flattened input shifted by `kr·W + kc − (P·W + P)`, one contiguous
/// copy, except in the columns where the shift wraps around a row.
#[inline(always)]
fn same_size(g: Geometry) -> bool {
    g.s == 1 && g.h == g.ho && g.w == g.wo
}

/// For a tap `(kr, kc)` of a [`same_size`] convolution: the positions
/// `lo..hi` of the flattened output whose shifted input position
/// `q + shift` lies inside the flattened input, and `lo + shift`.
#[inline(always)]
fn shifted(g: Geometry, kr: usize, kc: usize) -> (usize, usize, usize) {
    let n = g.h * g.w;
    let (offset, base) = (kr * g.w + kc, g.ph * g.w + g.pw);
    let lo = base.saturating_sub(offset).min(n);
    let hi = (n + base).saturating_sub(offset).min(n).max(lo);
    (lo, hi, lo + offset - base)
}

/// Zeros the columns `c < lo` and `c ≥ hi` of every row (of `wo` columns)
/// of `m`.
#[inline(always)]
fn zero_columns_outside<T: Float>(m: &mut [T], wo: usize, (lo, hi): (usize, usize)) {
    if lo > 0 || hi < wo {
        for row in m.chunks_exact_mut(wo) {
            let (before, rest) = row.split_at_mut(lo);
            before.fill(T::zero());
            rest[hi - lo..].fill(T::zero());
        }
    }
}

/// `col(x)`: the `CK × N` column matrix of one sample `x` (`CI × H × W`),
/// written into `col`.
#[inline(always)]
fn im2col<T: Float>(g: Geometry, x: &[T], col: &mut [T]) {
    let mut col_rows = col.chunks_exact_mut(g.ho * g.wo);
    for x_i in x.chunks_exact(g.h * g.w) {
        for kr in 0..g.kh {
            for kc in 0..g.kw {
                let Some(col_row) = col_rows.next() else { return };
                let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                if same_size(g) {
                    // One shifted copy, then the wrapped columns zeroed.
                    let (lo, hi, from) = shifted(g, kr, kc);
                    let (before, rest) = col_row.split_at_mut(lo);
                    let (inside, after) = rest.split_at_mut(hi - lo);
                    before.fill(T::zero());
                    inside.copy_from_slice(&x_i[from..][..inside.len()]);
                    after.fill(T::zero());
                    zero_columns_outside(col_row, g.wo, (c_lo, c_hi));
                    continue;
                }
                let first = (c_lo * g.s + kc).saturating_sub(g.pw);
                for (r, out) in col_row.chunks_exact_mut(g.wo).enumerate() {
                    // The input row y = r·S + kr − P, if it is inside.
                    let y = r * g.s + kr;
                    let x_row = match y.checked_sub(g.ph) {
                        Some(y) if y < g.h => &x_i[y * g.w..][..g.w],
                        _ => {
                            out.fill(T::zero());
                            continue;
                        }
                    };
                    let (before, rest) = out.split_at_mut(c_lo);
                    let (inside, after) = rest.split_at_mut(c_hi - c_lo);
                    before.fill(T::zero());
                    after.fill(T::zero());
                    if inside.is_empty() {
                        continue;
                    }
                    if g.s == 1 {
                        inside.copy_from_slice(&x_row[first..][..inside.len()]);
                    } else {
                        for (out, &x) in inside.iter_mut().zip(x_row[first..].iter().step_by(g.s)) {
                            *out = x;
                        }
                    }
                }
            }
        }
    }
}

/// `col⁻¹`: every entry of the `CK × N` matrix `d_col` added onto the input
/// position of `d_x` (`CI × H × W`, overwritten) that `col` copied it from,
/// taps in weight order. `d_col`'s entries that `col` fills with padding
/// may be overwritten with zeros.
#[inline(always)]
fn col2im<T: Float>(g: Geometry, d_col: &mut [T], d_x: &mut [T]) {
    d_x.fill(T::zero());
    let mut col_rows = d_col.chunks_exact_mut(g.ho * g.wo);
    for dx_i in d_x.chunks_exact_mut(g.h * g.w) {
        for kr in 0..g.kh {
            for kc in 0..g.kw {
                let Some(col_row) = col_rows.next() else { return };
                let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                if same_size(g) {
                    // The wrapped columns zeroed (adding them then adds 0),
                    // then one shifted sum.
                    zero_columns_outside(col_row, g.wo, (c_lo, c_hi));
                    let (lo, hi, to) = shifted(g, kr, kc);
                    for (dx, &d) in dx_i[to..].iter_mut().zip(&col_row[lo..hi]) {
                        *dx = *dx + d;
                    }
                    continue;
                }
                let first = (c_lo * g.s + kc).saturating_sub(g.pw);
                for (r, d) in col_row.chunks_exact(g.wo).enumerate() {
                    let y = r * g.s + kr;
                    let dx_row = match y.checked_sub(g.ph) {
                        Some(y) if y < g.h => &mut dx_i[y * g.w..][..g.w],
                        _ => continue,
                    };
                    let inside = &d[c_lo..c_hi];
                    if inside.is_empty() {
                        continue;
                    }
                    if g.s == 1 {
                        for (dx, &d) in dx_row[first..].iter_mut().zip(inside) {
                            *dx = *dx + d;
                        }
                    } else {
                        for (dx, &d) in dx_row[first..].iter_mut().step_by(g.s).zip(inside) {
                            *dx = *dx + d;
                        }
                    }
                }
            }
        }
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        A: Activation,
        T: Float,
    > Lowered for Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>
{
    type Activation = A;
    const GEOMETRY: Geometry =
        Geometry { ci: CI, kh: K, kw: K, s: S, ph: P, pw: P, h: H, w: W, ho: HO, wo: WO };
    const OUT_CHANNELS: usize = CO;

    fn zero_output() -> Self::Output {
        [[[T::zero(); WO]; HO]; CO]
    }

    fn flat_inputs(x: &[Self::Input]) -> &[T] {
        x.as_flattened().as_flattened().as_flattened()
    }

    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [T] {
        x.as_flattened_mut().as_flattened_mut().as_flattened_mut()
    }

    fn flat_outputs(y: &[Self::Output]) -> &[T] {
        y.as_flattened().as_flattened().as_flattened()
    }

    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [T] {
        y.as_flattened_mut().as_flattened_mut().as_flattened_mut()
    }

    fn parameters(&self) -> (&[T], &[T]) {
        (self.weights.as_flattened().as_flattened().as_flattened(), &self.bias)
    }

    fn parameters_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut(), &mut self.bias)
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const L: usize,
        const LO: usize,
        A: Activation,
        T: Float,
    > Lowered for Conv1d<CI, CO, K, S, P, L, LO, A, T>
{
    type Activation = A;
    // One row: a 1 × K kernel, no vertical padding.
    const GEOMETRY: Geometry =
        Geometry { ci: CI, kh: 1, kw: K, s: S, ph: 0, pw: P, h: 1, w: L, ho: 1, wo: LO };
    const OUT_CHANNELS: usize = CO;

    fn zero_output() -> Self::Output {
        [[T::zero(); LO]; CO]
    }

    fn flat_inputs(x: &[Self::Input]) -> &[T] {
        x.as_flattened().as_flattened()
    }

    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [T] {
        x.as_flattened_mut().as_flattened_mut()
    }

    fn flat_outputs(y: &[Self::Output]) -> &[T] {
        y.as_flattened().as_flattened()
    }

    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [T] {
        y.as_flattened_mut().as_flattened_mut()
    }

    fn parameters(&self) -> (&[T], &[T]) {
        (self.weights.as_flattened().as_flattened(), &self.bias)
    }

    fn parameters_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.weights.as_flattened_mut().as_flattened_mut(), &mut self.bias)
    }
}

#[cfg(test)]
mod tests {
    //! The column matrix and its adjoint against their definitions, and the
    //! lowered backward pass adding (`WRITE = false`) onto gradients, which
    //! no public entry point does (`tests/conv_batch.rs` checks the rest
    //! through the public API).

    extern crate std;

    use super::{col2im, im2col, lowered, lowering_pays, span, Geometry};
    use crate::activation::{ReLU, Tanh};
    use crate::conv::{Conv1d, Conv2d, Flatten2d, Unflatten2d};
    use crate::dense::Dense;
    use crate::layer::Layer;
    use crate::params::Params;
    use crate::passes::Backward;
    use crate::simd::Portable;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};
    use std::vec::Vec;

    /// Every geometry with a few channels, sizes 1 to 7, kernels 1 to 4,
    /// strides 1 to 3 and paddings 0 to 2 (both 2-d and 1-d), that a layer
    /// accepts.
    fn geometries() -> Vec<Geometry> {
        let mut all = Vec::new();
        for (h, w) in [(1, 1), (1, 7), (3, 5), (4, 4), (7, 6)] {
            for k in 1..5 {
                for s in 1..4 {
                    for p in 0..3 {
                        let (kh, ph) = if h == 1 { (1, 0) } else { (k, p) };
                        if h + 2 * ph < kh || w + 2 * p < k {
                            continue;
                        }
                        let (ho, wo) = ((h + 2 * ph - kh) / s + 1, (w + 2 * p - k) / s + 1);
                        all.push(Geometry { ci: 2, kh, kw: k, s, ph, pw: p, h, w, ho, wo });
                    }
                }
            }
        }
        all
    }

    /// `col(x)` by its definition.
    fn naive_im2col(g: Geometry, x: &[f64]) -> Vec<f64> {
        let mut col = Vec::new();
        for i in 0..g.ci {
            for kr in 0..g.kh {
                for kc in 0..g.kw {
                    for r in 0..g.ho {
                        for c in 0..g.wo {
                            let (y, x_) = (
                                (r * g.s + kr) as isize - g.ph as isize,
                                (c * g.s + kc) as isize - g.pw as isize,
                            );
                            let inside = (0..g.h as isize).contains(&y) && (0..g.w as isize).contains(&x_);
                            col.push(if inside {
                                x[(i * g.h + y as usize) * g.w + x_ as usize]
                            } else {
                                0.0
                            });
                        }
                    }
                }
            }
        }
        col
    }

    #[test]
    fn span_is_the_set_of_outputs_inside_the_input() {
        for n in 1..12 {
            for kernel in 1..6 {
                for k in 0..kernel {
                    for pad in 0..4 {
                        for s in 1..4 {
                            if n + 2 * pad < kernel {
                                continue;
                            }
                            let out = (n + 2 * pad - kernel) / s + 1;
                            let inside: Vec<usize> =
                                (0..out).filter(|p| p * s + k >= pad && p * s + k - pad < n).collect();
                            let (lo, hi) = span(k, pad, s, n, out);
                            if inside.is_empty() {
                                assert_eq!(lo, hi, "n {n} k {k} pad {pad} s {s}");
                            } else {
                                assert_eq!(
                                    (lo..hi).collect::<Vec<_>>(),
                                    inside,
                                    "n {n} k {k} pad {pad} s {s}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// `im2col` (including the shifted copy of "same" convolutions) is
    /// its definition, over garbage in its output buffer.
    #[test]
    fn im2col_is_its_definition() {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        for g in geometries() {
            let x: Vec<f64> = (0..g.ci * g.h * g.w).map(|_| rng.random::<f64>() - 0.5).collect();
            let mut col = std::vec![f64::NAN; g.ci * g.kh * g.kw * g.ho * g.wo];
            im2col(g, &x, &mut col);
            assert_eq!(col, naive_im2col(g, &x), "h {} w {} k {} s {} p {}", g.h, g.w, g.kw, g.s, g.pw);
        }
    }

    /// `col⁻¹` is the adjoint of `col`, `⟨col(x), m⟩ = ⟨x, col⁻¹(m)⟩`, and
    /// is the scatter-add of its definition.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
        for g in geometries() {
            let x: Vec<f64> = (0..g.ci * g.h * g.w).map(|_| rng.random::<f64>() - 0.5).collect();
            let m: Vec<f64> =
                (0..g.ci * g.kh * g.kw * g.ho * g.wo).map(|_| rng.random::<f64>() - 0.5).collect();
            // The scatter-add by definition: each entry of m onto the input it was copied from.
            let mut want = std::vec![0.0; x.len()];
            let mut k = 0;
            for i in 0..g.ci {
                for kr in 0..g.kh {
                    for kc in 0..g.kw {
                        for r in 0..g.ho {
                            for c in 0..g.wo {
                                let (y, x_) = (
                                    (r * g.s + kr) as isize - g.ph as isize,
                                    (c * g.s + kc) as isize - g.pw as isize,
                                );
                                if (0..g.h as isize).contains(&y) && (0..g.w as isize).contains(&x_) {
                                    want[(i * g.h + y as usize) * g.w + x_ as usize] += m[k];
                                }
                                k += 1;
                            }
                        }
                    }
                }
            }
            let mut got = std::vec![f64::NAN; x.len()];
            col2im(g, &mut m.clone(), &mut got);
            for (got, want) in got.iter().zip(&want) {
                assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
            }
            let left: f64 = naive_im2col(g, &x).iter().zip(&m).map(|(a, b)| a * b).sum();
            let right: f64 = x.iter().zip(&got).map(|(a, b)| a * b).sum();
            assert!((left - right).abs() <= 1e-12, "⟨col(x), m⟩ {left} vs ⟨x, col⁻¹(m)⟩ {right}");
        }
    }

    #[test]
    fn the_rule() {
        // A row of 4096 multiply-adds: 1 → 8 channels, 3x3, 8x8 outputs has 4608.
        assert!(lowering_pays(2, 9, 8, 64) && !lowering_pays(1, 9, 8, 64));
        assert!(!lowering_pays(32, 18, 4, 49) && lowering_pays(32, 16, 16, 16));
        assert!(lowered::<Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU, f32>>(32));
        assert!(!lowered::<Conv1d<2, 3, 3, 1, 0, 11, 9, ReLU, f32>>(32));
    }

    /// The lowered backward pass with `WRITE = false` adds the batch's
    /// gradients onto what `grads` held, and computes every row's input
    /// gradient, as the per-sample `backward` summed sample by sample does.
    #[test]
    fn lowered_rows_add_gradients_and_give_input_gradients() {
        type Net = (
            Unflatten2d<98, 2, 7, 7, f64>,
            Conv2d<2, 8, 3, 1, 1, 7, 7, 7, 7, Tanh, f64>,
            Conv2d<8, 6, 3, 2, 1, 7, 7, 4, 4, ReLU, f64>,
            Flatten2d<6, 4, 4, 96, f64>,
            Dense<96, 3, Tanh, f64>,
        );
        assert!(lowered::<Conv2d<2, 8, 3, 1, 1, 7, 7, 7, 7, Tanh, f64>>(5));
        assert!(lowered::<Conv2d<8, 6, 3, 2, 1, 7, 7, 4, 4, ReLU, f64>>(5));
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
        let mut net = Net::random(&mut rng);
        net.for_each_tensor_mut(|t| t.iter_mut().for_each(|v| *v += 0.01));
        let mut draw = |_| rng.random::<f64>() * 2.0 - 1.0;
        let x: Vec<[f64; 98]> = (0..5).map(|_| core::array::from_fn(&mut draw)).collect();
        let d_y: Vec<[f64; 3]> = (0..5).map(|_| core::array::from_fn(&mut draw)).collect();

        let mut want = Net::zeroed();
        want.for_each_tensor_mut(|t| t.iter_mut().enumerate().for_each(|(k, v)| *v = 0.5 - 0.01 * k as f64));
        let mut grads = want;
        let mut want_dx = Vec::new();
        for (x, d) in x.iter().zip(&d_y) {
            let (_, tape) = net.forward_tape(x);
            want_dx.push(net.backward(&tape, d, &mut want));
        }

        let mut tape = <Net as Layer>::Rows::default();
        net.forward_rows(Portable, &x, &mut tape);
        Net::output_rows(&mut tape).1.copy_from_slice(&d_y);
        let mut dx = std::vec![[f64::NAN; 98]; 5];
        net.backward_rows::<_, false>(Portable, &x, &mut tape, &mut grads, Some(&mut dx));
        let close = |a: &[f64], b: &[f64], what: &str| {
            assert_eq!(a.len(), b.len());
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (k, (a, b)) in a.iter().zip(b).enumerate() {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(scale), "{what} {k}: {a} vs {b}");
            }
        };
        close(dx.as_flattened(), want_dx.as_flattened(), "input gradient");
        let flat = |m: &Net| {
            let mut v = Vec::new();
            m.for_each_tensor(|t| v.extend_from_slice(t));
            v
        };
        close(&flat(&grads), &flat(&want), "accumulated gradient");
    }
}
