//! The rows of a batch through a `Dense` layer (`alloc`): one matrix product
//! per pass when that pays, the per-sample kernels row by row otherwise.
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
//! stored column-major: the product ([`gemm_into`]) takes every operand with
//! its own row and column strides, so none of the three products copies or
//! transposes anything. Bias and activation are one pass over `Z` after the
//! product, and `f'` with the bias gradient one pass over `Δ` before the
//! products. When `f'` can be
//! had from `A` alone (identity, ReLU, sigmoid, tanh:
//! [`Activation::DERIVATIVE_FROM_OUTPUT`]), `Z` is not kept at all: the
//! product is written into `A`'s buffer and activated in place.

extern crate alloc;

use super::Dense;
use crate::activation::Activation;
use crate::gemm::{gemm_into, Matrix};
use crate::simd::{self, Isa};
use alloc::vec::Vec;
use num_traits::Float;

/// The rows of a `Dense` layer's batch: `Z`, `A` and `Δ`, one row per
/// sample (`Z` empty if the activation's derivative needs only `A`), and,
/// in a [`Frozen`](crate::batch::Frozen) model's tape only, the layer's
/// weights transposed.
#[derive(Clone, Debug)]
pub struct DenseRows<const OUT: usize, T> {
    pre_activation: Vec<[T; OUT]>,
    output: Vec<[T; OUT]>,
    gradient: Vec<[T; OUT]>,
    /// `Wᵀ` stored `IN × OUT` row-major (empty unless frozen): the forward
    /// product's second operand from contiguous rows, which
    /// `matrixmultiply` packs faster than `W` read through a stride of `IN`.
    frozen_weights: Vec<T>,
}

impl<const OUT: usize, T> Default for DenseRows<OUT, T> {
    fn default() -> Self {
        Self {
            pre_activation: Vec::new(),
            output: Vec::new(),
            gradient: Vec::new(),
            frozen_weights: Vec::new(),
        }
    }
}

impl<const OUT: usize, T: Float> DenseRows<OUT, T> {
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

    /// Keeps `Wᵀ` (`IN × OUT`, row-major) for the forward products of a
    /// frozen model ([`Layer::freeze_rows`](crate::layer::Layer::freeze_rows)).
    ///
    /// Eight rows of `W` at a time (25 KB for `IN` = 784, in the L1 cache),
    /// each of their columns written as eight consecutive elements of a row
    /// of `Wᵀ`: the rows are read from memory once (a column at a time over
    /// all of `W` would read every row again for each column).
    pub(crate) fn freeze<const IN: usize>(&mut self, weights: &[[T; IN]; OUT]) {
        const BLOCK: usize = 8;
        self.frozen_weights.clear();
        self.frozen_weights.resize(IN * OUT, T::zero());
        for (block, rows) in weights.chunks(BLOCK).enumerate() {
            let o = block * BLOCK;
            for i in 0..IN {
                let column = &mut self.frozen_weights[i * OUT + o..][..rows.len()];
                for (w_t, row) in column.iter_mut().zip(rows) {
                    *w_t = row[i];
                }
            }
        }
    }

    /// `A`, and the buffer for `∂L/∂A` beside it.
    pub(crate) fn output_and_gradient(&mut self) -> (&[[T; OUT]], &mut [[T; OUT]]) {
        (&self.output, &mut self.gradient)
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static> Dense<IN, OUT, A, T> {
    /// The forward pass of the rows of `input` into `tape`: one matrix
    /// product if `gemm`, else the per-sample kernel row by row.
    #[inline(always)]
    pub(crate) fn rows_forward<'t, I: Isa>(
        &self,
        isa: I,
        input: &[[T; IN]],
        tape: &'t mut DenseRows<OUT, T>,
        gemm: bool,
    ) -> &'t [[T; OUT]] {
        let rows = input.len();
        tape.resize::<A>(rows);
        let DenseRows { pre_activation, output, frozen_weights, .. } = tape;
        if gemm {
            // Z = X Wᵀ: X is rows × IN row-major; Wᵀ is W read with strides
            // (1, IN), or a frozen model's copy of Wᵀ, row-major (the same
            // numbers, and the same sums in the same order).
            // Written into A's buffer when Z need not be kept.
            let product = if A::DERIVATIVE_FROM_OUTPUT { &mut *output } else { &mut *pre_activation };
            let w_t = if frozen_weights.len() == IN * OUT {
                Matrix::row_major(frozen_weights, IN, OUT)
            } else {
                Matrix::transposed(self.weights.as_flattened(), IN, OUT)
            };
            gemm_into(
                T::one(),
                Matrix::row_major(input.as_flattened(), rows, IN),
                w_t,
                T::zero(),
                product.as_flattened_mut(),
            );
            // Z ← Z + 1 bᵀ, A = f(Z) (in place if Z is not kept: each
            // element gets f(z + b) in one pass, a new value stored whole,
            // where `f` alone in place would leave some elements as they
            // are, which the compiler turns into masked stores, slow on
            // some CPUs)
            if A::DERIVATIVE_FROM_OUTPUT {
                for a in output.iter_mut() {
                    *a = simd::map2(a, &self.bias, |z, b| A::f(z + b));
                }
            } else {
                for (z, a) in pre_activation.iter_mut().zip(output.iter_mut()) {
                    simd::add_assign(z, &self.bias);
                    *a = simd::map(z, A::f);
                }
            }
        } else {
            // `Z` has no rows if it is not kept.
            let mut pre_activation = pre_activation.iter_mut();
            for (x, a) in input.iter().zip(output.iter_mut()) {
                let z;
                (z, *a) = self.forward_sample(isa, x);
                if let Some(slot) = pre_activation.next() {
                    *slot = z;
                }
            }
        }
        &tape.output
    }

    /// The backward pass of the rows recorded in `tape`, given `∂L/∂A` in
    /// its gradient buffer: writes (`WRITE`) or adds the parameter gradients
    /// into `grads`, and `∂L/∂X` into `d_input` if given; through matrix
    /// products if `gemm`, else row by row.
    #[inline(always)]
    pub(crate) fn rows_backward<I: Isa, const WRITE: bool>(
        &self,
        _isa: I,
        input: &[[T; IN]],
        tape: &mut DenseRows<OUT, T>,
        grads: &mut Self,
        d_input: Option<&mut [[T; IN]]>,
        gemm: bool,
    ) {
        let rows = input.len().min(tape.output.len());
        let input = &input[..rows];
        let DenseRows { pre_activation, output, gradient, .. } = tape;
        let delta = &mut gradient[..rows];
        // Δ = ∂L/∂A ⊙ f'(Z, A), with A standing in for Z if f' needs only A,
        // and ∂L/∂b = Σ_b δ_b in the same pass, while the row is in cache
        // (rows in order, as the per-sample path adds them).
        if WRITE {
            grads.bias = [T::zero(); OUT];
        }
        let z = if A::DERIVATIVE_FROM_OUTPUT { &*output } else { &*pre_activation };
        for ((d, z), a) in delta.iter_mut().zip(&z[..rows]).zip(&output[..rows]) {
            *d = simd::map3(d, z, a, |d, z, a| d * A::df(z, a));
            simd::add_assign(&mut grads.bias, d);
        }
        let delta = &*delta;
        if gemm {
            // ∂L/∂W = Δᵀ X: Δᵀ is Δ read with strides (1, OUT).
            gemm_into(
                T::one(),
                Matrix::transposed(delta.as_flattened(), OUT, rows),
                Matrix::row_major(input.as_flattened(), rows, IN),
                if WRITE { T::zero() } else { T::one() },
                grads.weights.as_flattened_mut(),
            );
            // ∂L/∂X = Δ W
            if let Some(d_input) = d_input {
                let len = rows.min(d_input.len());
                gemm_into(
                    T::one(),
                    Matrix::row_major(delta.as_flattened(), len, OUT),
                    Matrix::row_major(self.weights.as_flattened(), OUT, IN),
                    T::zero(),
                    d_input[..len].as_flattened_mut(),
                );
            }
            return;
        }
        // Row by row, with the per-sample kernels: G += δ xᵀ and, if wanted,
        // ∂L/∂x = Wᵀ δ.
        if WRITE {
            grads.weights = [[T::zero(); IN]; OUT];
        }
        match d_input {
            Some(d_input) => {
                for ((x, delta), d_x) in input.iter().zip(delta).zip(d_input.iter_mut()) {
                    *d_x = simd::outer_and_transposed::<T, IN, OUT, true, false>(
                        &self.weights,
                        delta,
                        x,
                        &mut grads.weights,
                    );
                }
            }
            None => {
                for (x, delta) in input.iter().zip(delta) {
                    simd::outer_and_transposed::<T, IN, OUT, false, false>(
                        &self.weights,
                        delta,
                        x,
                        &mut grads.weights,
                    );
                }
            }
        }
    }
}
