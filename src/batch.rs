//! The batched path: a mini-batch as a matrix, and each wide `Dense` layer as
//! one matrix product (`alloc` feature).
//!
//! # Math
//!
//! Stack a batch of `B` samples as the rows of a matrix `X ∈ ℝ^{B×IN}`. The
//! per-sample formulas of [`Dense`] then become matrix products, row `b` of
//! every matrix belonging to sample `b`:
//!
//! ```text
//! Z = X Wᵀ + 1 bᵀ                 (B × OUT: z_b = W x_b + b)
//! A = f(Z)                        (elementwise)
//!
//! Δ     = ∂L/∂A ⊙ f'(Z)           (B × OUT: δ_b, elementwise)
//! ∂L/∂W = Δᵀ X                    (OUT × IN: Σ_b δ_b x_bᵀ)
//! ∂L/∂b = Σ_b δ_b                 (the column sums of Δ)
//! ∂L/∂X = Δ W                     (B × IN: row b is Wᵀ δ_b)
//! ```
//!
//! `W` is stored `OUT × IN`, row-major (PyTorch's layout), which is `Wᵀ`
//! stored column-major: [`matrixmultiply`] takes every operand with its own
//! row and column strides, so none of the three products copies or
//! transposes anything. Bias and activation are one pass over `Z` after the
//! product, and `f'` one pass over `Δ` before the products. When `f'` can be
//! had from `A` alone (identity, ReLU, sigmoid, tanh:
//! [`Activation::DERIVATIVE_FROM_OUTPUT`]), `Z` is not kept at all: the
//! product is written into `A`'s buffer and activated in place. The first
//! layer's `∂L/∂X` is not computed when nothing needs it (a training step
//! never does).
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
//! [`Train::fit`](crate::train::Train::fit) uses the batched path when at
//! least one layer would take the product, and the per-sample path
//! otherwise, and batch inference ([`Workspace::forward`],
//! [`Train::predict`](crate::train::Train::predict)) likewise.
//!
//! The batched path is not bit-identical across machines: `matrixmultiply`
//! picks its kernel (SSE2, AVX, FMA, AVX-512) at run time and sums in its own
//! order. It agrees with the per-sample path to rounding (the tests check
//! `f32` and `f64`), and is reproducible on one machine. The per-sample path
//! is the one that gives the same bits everywhere.
//!
//! # Memory
//!
//! A [`Workspace`] holds, per layer, `A`, `Δ` and (if `f'` needs it) `Z` for as many rows as the
//! largest batch it has seen (it grows on first use, never shrinks), plus a
//! buffer to gather shuffled rows. After its first step, a training step
//! allocates nothing of its own: the only allocations left are
//! `matrixmultiply`'s packing buffers, one per matrix product
//! (`tests/batch.rs` counts them).

extern crate alloc;

use crate::activation::Activation;
use crate::chain::Feeds;
use crate::dense::Dense;
use crate::error::Error;
use crate::loss::Loss;
use crate::math::count;
use crate::model::{Backward, Params};
use crate::optim::Optimizer;
use crate::simd::{self, Isa, Kernel};
use crate::train::Clip;
use alloc::vec::Vec;
use core::any::TypeId;
use num_traits::Float;

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
    rows >= 8 && rows * inputs * outputs >= 1 << 14
}

/// Whether parameter gradients are added to `grads` or replace them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradients {
    /// `grads ← ∂L/∂θ`: what a training step wants, and cheaper (no zeroing,
    /// no read of the old values).
    Replace,
    /// `grads ← grads + ∂L/∂θ`, as [`Backward::backward`] does.
    Accumulate,
}

/// Models that run a whole batch at once: every `Dense` layer (with an
/// `f32` or `f64` scalar, or any other `'static` [`Float`]) and every chain
/// of them. See the [module documentation](self) for the mathematics.
///
/// A batch is a slice of rows of the model's input type. The matrices of the
/// batch's forward pass (and the buffers its backward pass needs) live in a
/// `BatchTape`, which grows to the batch's size on first use; a
/// [`Workspace`] keeps one and is the easiest way in.
pub trait Batched: Backward {
    /// The batch's matrices: for each `Dense` layer, `Z`, `A` and a buffer
    /// for `Δ`, one row per sample.
    type BatchTape: Default;

    /// Whether any layer of the model uses a matrix product for a batch of
    /// `rows` rows ([`gemm_pays`]).
    fn uses_gemm(rows: usize) -> bool;

    /// The forward pass of every row of `input`, recorded in `tape`; returns
    /// the outputs, one row per input row.
    fn forward_batch<'t>(&self, input: &[Self::Input], tape: &'t mut Self::BatchTape) -> &'t [Self::Output];

    /// The outputs of the last [`forward_batch`](Batched::forward_batch)
    /// and, next to them, the buffer where the caller writes `∂L/∂output`
    /// (one row per sample) before calling
    /// [`backward_batch`](Batched::backward_batch).
    fn output_and_gradient(tape: &mut Self::BatchTape) -> (&[Self::Output], &mut [Self::Output]);

    /// The backward pass of the batch recorded in `tape` (for the same
    /// `input`), given `∂L/∂output` in the buffer of
    /// [`output_and_gradient`](Batched::output_and_gradient): writes or adds
    /// (`mode`) the parameter gradients `∂L/∂θ` (summed over the rows) into
    /// `grads`, and `∂L/∂input` into `d_input` if one is given.
    ///
    /// The tape's gradient buffers are overwritten.
    fn backward_batch(
        &self,
        input: &[Self::Input],
        tape: &mut Self::BatchTape,
        grads: &mut Self,
        mode: Gradients,
        d_input: Option<&mut [Self::Input]>,
    );
}

/// The batch tape of a `Dense` layer: `Z`, `A` and `Δ`, one row per sample
/// (`Z` empty if the activation's derivative needs only `A`:
/// [`Activation::DERIVATIVE_FROM_OUTPUT`]).
#[derive(Clone, Debug)]
pub struct DenseBatchTape<const OUT: usize, T> {
    pre_activation: Vec<[T; OUT]>,
    output: Vec<[T; OUT]>,
    gradient: Vec<[T; OUT]>,
}

impl<const OUT: usize, T> Default for DenseBatchTape<OUT, T> {
    fn default() -> Self {
        Self { pre_activation: Vec::new(), output: Vec::new(), gradient: Vec::new() }
    }
}

impl<const OUT: usize, T: Float> DenseBatchTape<OUT, T> {
    /// Makes room for `rows` rows (allocating only to grow); `Z` gets none
    /// if the activation's derivative needs only the output
    /// ([`Activation::DERIVATIVE_FROM_OUTPUT`]).
    fn resize<A: Activation>(&mut self, rows: usize) {
        let z_rows = if A::DERIVATIVE_FROM_OUTPUT { 0 } else { rows };
        self.pre_activation.resize(z_rows, [T::zero(); OUT]);
        for matrix in [&mut self.output, &mut self.gradient] {
            matrix.resize(rows, [T::zero(); OUT]);
        }
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static> Batched for Dense<IN, OUT, A, T> {
    type BatchTape = DenseBatchTape<OUT, T>;

    fn uses_gemm(rows: usize) -> bool {
        gemm_pays(rows, IN, OUT)
    }

    fn forward_batch<'t>(&self, input: &[[T; IN]], tape: &'t mut Self::BatchTape) -> &'t [[T; OUT]] {
        self.forward_rows(input, tape, gemm_pays(input.len(), IN, OUT))
    }

    fn output_and_gradient(tape: &mut Self::BatchTape) -> (&[[T; OUT]], &mut [[T; OUT]]) {
        (&tape.output, &mut tape.gradient)
    }

    fn backward_batch(
        &self,
        input: &[[T; IN]],
        tape: &mut Self::BatchTape,
        grads: &mut Self,
        mode: Gradients,
        d_input: Option<&mut [[T; IN]]>,
    ) {
        let gemm = gemm_pays(input.len(), IN, OUT);
        self.backward_rows(input, tape, grads, mode, d_input, gemm)
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static> Dense<IN, OUT, A, T> {
    /// [`Batched::forward_batch`] with the path chosen by the caller:
    /// one matrix product if `gemm`, else row by row.
    fn forward_rows<'t>(
        &self,
        input: &[[T; IN]],
        tape: &'t mut DenseBatchTape<OUT, T>,
        gemm: bool,
    ) -> &'t [[T; OUT]] {
        let rows = input.len();
        tape.resize::<A>(rows);
        let DenseBatchTape { pre_activation, output, .. } = tape;
        if gemm {
            // Z = X Wᵀ: X is rows × IN row-major; Wᵀ is W read with strides (1, IN).
            // Written into A's buffer when Z need not be kept.
            let product = if A::DERIVATIVE_FROM_OUTPUT { &mut *output } else { &mut *pre_activation };
            gemm_into(
                T::one(),
                Matrix::row_major(input.as_flattened(), rows, IN),
                Matrix::transposed(self.weights.as_flattened(), IN, OUT),
                T::zero(),
                product.as_flattened_mut(),
            );
            // Z ← Z + 1 bᵀ, A = f(Z)
            simd::dispatch(BiasActivation { layer: self, pre_activation, output });
        } else {
            simd::dispatch(ForwardRows { layer: self, input, pre_activation, output });
        }
        &tape.output
    }

    /// [`Batched::backward_batch`] with the path chosen by the caller.
    fn backward_rows(
        &self,
        input: &[[T; IN]],
        tape: &mut DenseBatchTape<OUT, T>,
        grads: &mut Self,
        mode: Gradients,
        d_input: Option<&mut [[T; IN]]>,
        gemm: bool,
    ) {
        let rows = input.len().min(tape.output.len());
        let input = &input[..rows];
        let DenseBatchTape { pre_activation, output, gradient } = tape;
        let gradient = &mut gradient[..rows];
        // Δ = ∂L/∂A ⊙ f'(Z, A), with A standing in for Z if f' needs only A
        let z = if A::DERIVATIVE_FROM_OUTPUT { &*output } else { &*pre_activation };
        simd::dispatch(ActivationGradient::<IN, OUT, A, T> {
            pre_activation: &z[..rows],
            output: &output[..rows],
            gradient,
            activation: core::marker::PhantomData,
        });
        if mode == Gradients::Replace {
            grads.bias = [T::zero(); OUT];
        }
        if gemm {
            let beta = if mode == Gradients::Replace { T::zero() } else { T::one() };
            let delta = &gradient[..];
            // ∂L/∂W = Δᵀ X: Δᵀ is Δ read with strides (1, OUT).
            gemm_into(
                T::one(),
                Matrix::transposed(delta.as_flattened(), OUT, rows),
                Matrix::row_major(input.as_flattened(), rows, IN),
                beta,
                grads.weights.as_flattened_mut(),
            );
            // ∂L/∂b = Σ_b δ_b
            for delta in delta {
                simd::add_assign(&mut grads.bias, delta);
            }
            // ∂L/∂X = Δ W
            if let Some(d_input) = d_input {
                let len = rows.min(d_input.len());
                let d_input = &mut d_input[..len];
                gemm_into(
                    T::one(),
                    Matrix::row_major(delta.as_flattened(), len, OUT),
                    Matrix::row_major(self.weights.as_flattened(), OUT, IN),
                    T::zero(),
                    d_input.as_flattened_mut(),
                );
            }
        } else {
            if mode == Gradients::Replace {
                grads.weights = [[T::zero(); IN]; OUT];
            }
            simd::dispatch(BackwardRows { layer: self, input, delta: gradient, grads, d_input });
        }
    }
}

/// The two paths of a `Dense` layer, side by side, for `benches/batch.rs`,
/// which measures where the matrix product starts to pay ([`gemm_pays`]).
/// Not part of the API.
#[doc(hidden)]
pub mod calibration {
    use super::*;

    /// One training pass of `layer` over `input` as the batched path runs it
    /// (forward, then backward with the input gradient, given an output
    /// gradient of ones), through the matrix product if `gemm`, else row by
    /// row.
    pub fn train_pass<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static>(
        layer: &Dense<IN, OUT, A, T>,
        input: &[[T; IN]],
        tape: &mut DenseBatchTape<OUT, T>,
        grads: &mut Dense<IN, OUT, A, T>,
        d_input: &mut [[T; IN]],
        gemm: bool,
    ) {
        layer.forward_rows(input, tape, gemm);
        for d in tape.gradient.iter_mut() {
            *d = [T::one(); OUT];
        }
        layer.backward_rows(input, tape, grads, Gradients::Replace, Some(d_input), gemm);
    }
}

/// `Z ← Z + 1 bᵀ` and `A = f(Z)`, row by row, after the matrix product
/// (which is in `Z`, or in `A`'s buffer if `Z` is not kept: then in place).
struct BiasActivation<'a, const IN: usize, const OUT: usize, A: Activation, T: Float> {
    layer: &'a Dense<IN, OUT, A, T>,
    pre_activation: &'a mut [[T; OUT]],
    output: &'a mut [[T; OUT]],
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Kernel
    for BiasActivation<'_, IN, OUT, A, T>
{
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        if A::DERIVATIVE_FROM_OUTPUT {
            for a in self.output.iter_mut() {
                simd::add_assign(a, &self.layer.bias);
                *a = simd::map(a, A::f);
            }
        } else {
            for (z, a) in self.pre_activation.iter_mut().zip(self.output.iter_mut()) {
                simd::add_assign(z, &self.layer.bias);
                *a = simd::map(z, A::f);
            }
        }
    }
}

/// The forward pass row by row, with the per-sample kernel.
struct ForwardRows<'a, const IN: usize, const OUT: usize, A: Activation, T: Float> {
    layer: &'a Dense<IN, OUT, A, T>,
    input: &'a [[T; IN]],
    pre_activation: &'a mut [[T; OUT]],
    output: &'a mut [[T; OUT]],
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Kernel for ForwardRows<'_, IN, OUT, A, T> {
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) {
        // `Z` has no rows if it is not kept.
        let mut pre_activation = self.pre_activation.iter_mut();
        for (x, a) in self.input.iter().zip(self.output.iter_mut()) {
            let z;
            (z, *a) = self.layer.forward_sample(isa, x);
            if let Some(slot) = pre_activation.next() {
                *slot = z;
            }
        }
    }
}

/// `Δ = ∂L/∂A ⊙ f'(Z, A)`, in place.
struct ActivationGradient<'a, const IN: usize, const OUT: usize, A: Activation, T: Float> {
    pre_activation: &'a [[T; OUT]],
    output: &'a [[T; OUT]],
    gradient: &'a mut [[T; OUT]],
    activation: core::marker::PhantomData<A>,
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Kernel
    for ActivationGradient<'_, IN, OUT, A, T>
{
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        for ((d, z), a) in self.gradient.iter_mut().zip(self.pre_activation).zip(self.output) {
            *d = simd::map3(d, z, a, |d, z, a| d * A::df(z, a));
        }
    }
}

/// The backward pass row by row, with the per-sample kernels: for each row,
/// `b += δ`, `G += δ xᵀ` and, if wanted, `∂L/∂x = Wᵀ δ`.
struct BackwardRows<'a, const IN: usize, const OUT: usize, A: Activation, T: Float> {
    layer: &'a Dense<IN, OUT, A, T>,
    input: &'a [[T; IN]],
    delta: &'a [[T; OUT]],
    grads: &'a mut Dense<IN, OUT, A, T>,
    d_input: Option<&'a mut [[T; IN]]>,
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Kernel for BackwardRows<'_, IN, OUT, A, T> {
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        let BackwardRows { layer, input, delta, grads, d_input } = self;
        match d_input {
            Some(d_input) => {
                for ((x, delta), d_x) in input.iter().zip(delta).zip(d_input.iter_mut()) {
                    simd::add_assign(&mut grads.bias, delta);
                    *d_x = simd::outer_and_transposed::<T, IN, OUT, true, false>(
                        &layer.weights,
                        delta,
                        x,
                        &mut grads.weights,
                    );
                }
            }
            None => {
                for (x, delta) in input.iter().zip(delta) {
                    simd::add_assign(&mut grads.bias, delta);
                    simd::outer_and_transposed::<T, IN, OUT, false, false>(
                        &layer.weights,
                        delta,
                        x,
                        &mut grads.weights,
                    );
                }
            }
        }
    }
}

/// A matrix in a slice: element `(i, j)` at `i · row_stride + j · col_stride`.
#[derive(Clone, Copy, Debug)]
struct Matrix<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> Matrix<'a, T> {
    /// `rows × cols`, stored row after row.
    fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Matrix { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a `cols × rows` row-major matrix: `rows × cols`,
    /// stored column after column.
    fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        Matrix { data, rows, cols, row_stride: 1, col_stride: rows }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }

    fn get(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// `C ← α A B + β C` with `C` row-major (`A.rows × B.cols`, exactly the
/// length of `c`): `matrixmultiply`'s `sgemm` for `f32`, `dgemm` for `f64`, a
/// plain triple loop for any other scalar type. With `β = 0`, `C`'s old
/// contents are ignored (even NaN).
///
/// Shapes that do not fit (never the case for the layers above) leave `c`
/// unchanged.
#[allow(unsafe_code)] // the call of sgemm/dgemm, with raw pointers
fn gemm_into<T: Float + 'static>(alpha: T, a: Matrix<'_, T>, b: Matrix<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.len() != m * n || !a.fits() || !b.fits() {
        return;
    }
    let stride = |s: usize| s as isize;
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let (alpha, beta) = (alpha.to_f32().unwrap_or(f32::NAN), beta.to_f32().unwrap_or(f32::NAN));
        // SAFETY: `T` is `f32` (same `TypeId`), so the pointer casts only
        // name the type the elements already have. Every element (i, j) that
        // the strides reach lies inside its slice (`fits`, and `C` is a
        // dense row-major m × n matrix of exactly `c.len()` elements, whose
        // distinct (i, j) are distinct elements). `c` is a unique borrow, so
        // it overlaps neither `a` nor `b`.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                alpha,
                a.data.as_ptr().cast::<f32>(),
                stride(a.row_stride),
                stride(a.col_stride),
                b.data.as_ptr().cast::<f32>(),
                stride(b.row_stride),
                stride(b.col_stride),
                beta,
                c.as_mut_ptr().cast::<f32>(),
                stride(n),
                1,
            );
        }
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        let (alpha, beta) = (alpha.to_f64().unwrap_or(f64::NAN), beta.to_f64().unwrap_or(f64::NAN));
        // SAFETY: as for `sgemm` above, with `T` = `f64`.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                alpha,
                a.data.as_ptr().cast::<f64>(),
                stride(a.row_stride),
                stride(a.col_stride),
                b.data.as_ptr().cast::<f64>(),
                stride(b.row_stride),
                stride(b.col_stride),
                beta,
                c.as_mut_ptr().cast::<f64>(),
                stride(n),
                1,
            );
        }
    } else {
        for i in 0..m {
            for j in 0..n {
                let sum = (0..k).fold(T::zero(), |s, p| s + a.get(i, p) * b.get(p, j));
                let c = &mut c[i * n + j];
                *c = if beta == T::zero() { alpha * sum } else { alpha * sum + beta * *c };
            }
        }
    }
}

/// Implements [`Batched`] for one tuple arity: the forward pass layer after
/// layer, the backward pass from the last layer to the first, each layer
/// writing `∂L/∂input` into the gradient buffer of the layer before it.
///
/// Arguments: each element as `Type index` in forward order; each
/// neighbouring pair `Prev Next`; the last element as `Type index`; then, from
/// the last layer down to the second, `Layer index Previous previous_index`.
macro_rules! batched_chain {
    (
        layers: $L0:ident $i0:tt $(, $L:ident $i:tt)*;
        pairs: $($P:ident $N:ident),*;
        last: $Last:ident $last:tt;
        backward: $($B:ident $b:tt $BP:ident $bp:tt),*
    ) => {
        impl<$L0: Batched $(, $L: Batched + Params<Scalar = $L0::Scalar>)*> Batched for ($L0, $($L,)*)
        where
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type BatchTape = ($L0::BatchTape, $($L::BatchTape,)*);

            fn uses_gemm(rows: usize) -> bool {
                $L0::uses_gemm(rows) $(|| $L::uses_gemm(rows))*
            }

            fn forward_batch<'t>(&self, x: &[Self::Input], tape: &'t mut Self::BatchTape) -> &'t [Self::Output] {
                let x = self.$i0.forward_batch(x, &mut tape.$i0);
                $( let x = self.$i.forward_batch(Feeds::feed_rows(x), &mut tape.$i); )*
                x
            }

            fn output_and_gradient(tape: &mut Self::BatchTape) -> (&[Self::Output], &mut [Self::Output]) {
                $Last::output_and_gradient(&mut tape.$last)
            }

            fn backward_batch(
                &self,
                x: &[Self::Input],
                tape: &mut Self::BatchTape,
                grads: &mut Self,
                mode: Gradients,
                d_input: Option<&mut [Self::Input]>,
            ) {
                $(
                    let (y, d_y) = $BP::output_and_gradient(&mut tape.$bp);
                    self.$b.backward_batch(
                        Feeds::feed_rows(y),
                        &mut tape.$b,
                        &mut grads.$b,
                        mode,
                        Some(Feeds::feed_rows_mut(d_y)),
                    );
                )*
                self.$i0.backward_batch(x, &mut tape.$i0, &mut grads.$i0, mode, d_input);
            }
        }
    };
}

batched_chain!(layers: L0 0; pairs: ; last: L0 0; backward: );
batched_chain!(layers: L0 0, L1 1; pairs: L0 L1; last: L1 1; backward: L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2; pairs: L0 L1, L1 L2; last: L2 2; backward: L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3; pairs: L0 L1, L1 L2, L2 L3; last: L3 3; backward: L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4; pairs: L0 L1, L1 L2, L2 L3, L3 L4; last: L4 4; backward: L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5; last: L5 5; backward: L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6; last: L6 6; backward: L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7; last: L7 7; backward: L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8; last: L8 8; backward: L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9; last: L9 9; backward: L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9, L10 10; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10; last: L10 10; backward: L10 10 L9 9, L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
batched_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9, L10 10, L11 11; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10, L10 L11; last: L11 11; backward: L11 11 L10 10, L10 10 L9 9, L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);

/// Everything a batched training step needs besides the model, its
/// gradients and the optimizer: the batch tape of every layer and a buffer
/// for gathering shuffled rows. Allocated on first use, reused after.
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let mut net: Net = Model::init(&mut rng);
/// let (inputs, labels) = (vec![[0.5f32; 64]; 32], vec![3usize; 32]);
///
/// let mut workspace = Workspace::<Net>::new();
/// let mut grads = Net::zeroed();
/// let mut adam = Adam::new(1e-3);
/// let before = workspace.train_step(&mut net, &inputs, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)?;
/// let after = net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy)?;
/// assert!(after < before);
///
/// // Batch inference through the same matrices.
/// let logits = workspace.forward(&net, &inputs);
/// assert_eq!(logits.len(), 32);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Workspace<M: Batched> {
    tape: M::BatchTape,
    gathered: Vec<M::Input>,
}

impl<M: Batched> Default for Workspace<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Batched> core::fmt::Debug for Workspace<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workspace").finish_non_exhaustive()
    }
}

impl<M: Batched> Workspace<M> {
    /// An empty workspace; it allocates on first use, for the size of the
    /// batch it is given.
    pub fn new() -> Self {
        Workspace { tape: M::BatchTape::default(), gathered: Vec::new() }
    }

    /// The outputs of `model` for every row of `inputs`, computed as one
    /// batch (each layer as a matrix product where that pays). The slice
    /// lives in the workspace until its next use.
    pub fn forward<'w>(&'w mut self, model: &M, inputs: &[M::Input]) -> &'w [M::Output] {
        model.forward_batch(inputs, &mut self.tape)
    }
}

impl<M, T, const IN: usize, const N: usize> Workspace<M>
where
    M: Batched<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float,
{
    /// The outputs of `model` for every input, into `outputs` (which must
    /// have the same length), as one batch.
    pub fn predict_into(
        &mut self,
        model: &M,
        inputs: &[[T; IN]],
        outputs: &mut [[T; N]],
    ) -> Result<(), Error> {
        if inputs.len() != outputs.len() {
            return Err(Error::LengthMismatch {
                what: "inputs",
                len: inputs.len(),
                other: "outputs",
                other_len: outputs.len(),
            });
        }
        outputs.copy_from_slice(self.forward(model, inputs));
        Ok(())
    }

    /// The mean loss over the batch `inputs`, `targets`, and its gradient:
    /// `grads` is overwritten with `(1/B) Σ_b ∂L_b/∂θ`, exactly what
    /// [`Train::train_step`](crate::train::Train::train_step) computes with
    /// the per-sample path (up to rounding).
    ///
    /// # Math
    ///
    /// The output layer's gradient buffer receives `(1/B) ∂L_b/∂y_b` for
    /// every row `b`; the backward pass then sums over the rows, so the
    /// parameter gradients come out as means without a separate pass.
    pub fn gradient<L: Loss<T, N>>(
        &mut self,
        model: &M,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
        grads: &mut M,
    ) -> Result<T, Error> {
        if inputs.len() != targets.len() {
            return Err(Error::LengthMismatch {
                what: "inputs",
                len: inputs.len(),
                other: "targets",
                other_len: targets.len(),
            });
        }
        if inputs.is_empty() {
            return Err(Error::EmptyData { what: "batch" });
        }
        model.forward_batch(inputs, &mut self.tape);
        let inverse = T::one() / count::<T>(inputs.len());
        let (outputs, d_outputs) = M::output_and_gradient(&mut self.tape);
        let mut sum = T::zero();
        for ((y, d_y), t) in outputs.iter().zip(d_outputs.iter_mut()).zip(targets) {
            let (value, gradient) = loss.loss_and_gradient(y, t);
            sum = sum + value;
            *d_y = gradient.map(|g| g * inverse);
        }
        model.backward_batch(inputs, &mut self.tape, grads, Gradients::Replace, None);
        Ok(sum * inverse)
    }

    /// One optimizer step on one batch, through the batched path: the same
    /// contract as [`Train::train_step`](crate::train::Train::train_step)
    /// (mean loss before the update returned; on a non-finite loss nothing
    /// is updated and the result is [`Error::Diverged`]).
    #[allow(clippy::too_many_arguments)]
    pub fn train_step<L, O>(
        &mut self,
        model: &mut M,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
        optimizer: &mut O,
        grads: &mut M,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Loss<T, N>,
        O: Optimizer<M>,
    {
        let mean = self.gradient(model, inputs, targets, loss, grads)?;
        if !mean.is_finite() {
            return Err(Error::Diverged { epoch: 0, batch: 0, loss: mean.to_f64().unwrap_or(f64::NAN) });
        }
        clip.apply(grads);
        optimizer.step(model, grads);
        Ok(mean)
    }

    /// [`gradient`](Workspace::gradient) on the rows of `inputs` and
    /// `targets` listed in `indices` (a shuffled mini-batch), gathered into
    /// the workspace first; `targets_buffer` receives the targets.
    pub(crate) fn gradient_of_rows<L: Loss<T, N>>(
        &mut self,
        model: &M,
        (inputs, targets): (&[[T; IN]], &[L::Target]),
        indices: &[usize],
        targets_buffer: &mut Vec<L::Target>,
        loss: &L,
        grads: &mut M,
    ) -> Result<T, Error> {
        let mut gathered = core::mem::take(&mut self.gathered);
        gathered.clear();
        targets_buffer.clear();
        for &i in indices {
            if let (Some(x), Some(t)) = (inputs.get(i), targets.get(i)) {
                gathered.push(*x);
                targets_buffer.push(*t);
            }
        }
        let result = self.gradient(model, &gathered, targets_buffer, loss, grads);
        self.gathered = gathered;
        result
    }
}
