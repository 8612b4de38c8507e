//! The fully connected layer: `a = f(W x + b)`.

use crate::activation::Activation;
use crate::exec;
use crate::layer::Layer;
use crate::params::Params;
use crate::passes::{Backward, Forward};
use crate::simd;
use crate::LayerInfo;
use num_traits::Float;
use rand::Rng;

#[cfg(feature = "alloc")]
mod rows;
#[cfg(test)]
mod tests;
#[cfg(feature = "alloc")]
pub(crate) use rows::DenseRows;

/// A fully connected layer with `IN` inputs, `OUT` outputs, activation `A`
/// and scalar type `T`.
///
/// # Math
///
/// Forward, for one sample `x ∈ ℝ^IN`:
///
/// ```text
/// z = W x + b          z_o = b_o + Σ_i W_oi x_i        (pre-activation)
/// a = f(z)             a_o = f(z_o)                    (output)
/// ```
///
/// Backward, given `∂L/∂a` from the layer above, by the chain rule:
///
/// ```text
/// δ_o      = ∂L/∂z_o  = ∂L/∂a_o · f'(z_o)
/// ∂L/∂b_o  = δ_o
/// ∂L/∂W_oi = δ_o x_i                  (the outer product δ xᵀ)
/// ∂L/∂x_i  = Σ_o W_oi δ_o             (Wᵀ δ, handed to the layer below)
/// ```
///
/// # Generics
///
/// * `IN`, `OUT`: the widths. `W` is `[[T; IN]; OUT]`: row `o` holds the
///   weights into output `o`, PyTorch's `nn.Linear` layout, so weights move
///   between the two without transposes.
/// * `A`: an [`Activation`], a zero-sized marker such as
///   [`Tanh`](crate::activation::Tanh).
/// * `T`: the scalar, any [`num_traits::Float`]; `f32` unless given.
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// let layer: Dense<2, 1, Identity> = Dense::new([[2.0, -1.0]], [0.5]);
/// assert_eq!(layer.forward(&[3.0, 4.0]), [2.5]); // 2·3 - 1·4 + 0.5
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense<const IN: usize, const OUT: usize, A: Activation, T: Float = f32> {
    /// `W`, with `weights[o][i]` the weight from input `i` to output `o`.
    pub weights: [[T; IN]; OUT],
    /// `b`, one bias per output.
    pub bias: [T; OUT],
    /// The activation, a zero-sized marker.
    pub activation: A,
}

/// What [`Dense::backward`](Backward::backward) needs from the forward pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseTape<const IN: usize, const OUT: usize, T> {
    /// The layer's input `x`.
    pub input: [T; IN],
    /// The pre-activation `z = W x + b`.
    pub pre_activation: [T; OUT],
    /// The output `a = f(z)` (kept so that derivatives such as `σ' = a (1 - a)`
    /// need no second exponential).
    pub output: [T; OUT],
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Dense<IN, OUT, A, T> {
    /// A layer with the given weights (`weights[o][i]`: input `i` to output
    /// `o`) and biases.
    pub fn new(weights: [[T; IN]; OUT], bias: [T; OUT]) -> Self {
        Self { weights, bias, activation: A::default() }
    }

    /// A layer with weights drawn by `init` instead of the activation's
    /// default, and zero biases.
    pub fn random_with<R: Rng + ?Sized>(init: crate::init::Init, rng: &mut R) -> Self {
        let mut layer = Self::zeroed();
        for row in layer.weights.iter_mut() {
            for w in row.iter_mut() {
                *w = init.sample(IN, OUT, rng);
            }
        }
        layer
    }

    /// The pre-activation `z = W x + b`.
    ///
    /// Each `z_o` is summed in a fixed order (eight partial sums combined in
    /// a fixed tree), so it has the same bits on every platform.
    #[inline]
    pub fn affine(&self, x: &[T; IN]) -> [T; OUT] {
        simd::affine(&self.weights, &self.bias, x)
    }

    // The two kernels below are inlined into every caller on desktop CPUs,
    // where the SIMD dispatch needs them compiled inside its AVX2 function;
    // on microcontrollers each layer shape keeps one out-of-line copy, which
    // keeps firmware small.

    /// The forward pass for one sample: `(z, a)`.
    ///
    /// [`Forward::forward`] and [`Backward::forward_tape`] run this, compiled
    /// for the CPU's SIMD extension (see [`simd`](crate::simd)).
    #[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
    pub(crate) fn forward_sample<I: simd::Isa>(&self, isa: I, x: &[T; IN]) -> ([T; OUT], [T; OUT]) {
        let z = isa.affine(&self.weights, &self.bias, x); //    z = W x + b
        let a = simd::map(&z, A::f); //                         a = f(z)
        (z, a)
    }

    /// The backward pass for one sample: adds `∂L/∂W` and `∂L/∂b` into
    /// `grads` or, if `WRITE`, writes them (as `0 + g`, the bits that
    /// adding into zeroed `grads` gives), and returns `∂L/∂x` (zeros unless
    /// `INPUT_GRADIENT`).
    #[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
    pub(crate) fn backward_sample<const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        tape: &DenseTape<IN, OUT, T>,
        d_output: &[T; OUT],
        grads: &mut Self,
    ) -> [T; IN] {
        // δ_o = ∂L/∂a_o · f'(z_o)
        let delta = simd::map3(d_output, &tape.pre_activation, &tape.output, |d, z, a| d * A::df(z, a));
        // ∂L/∂b_o += δ_o
        if WRITE {
            grads.bias = [T::zero(); OUT];
        }
        simd::add_assign(&mut grads.bias, &delta);
        // ∂L/∂W_oi += δ_o x_i  (G += δ xᵀ)  and  ∂L/∂x_i = Σ_o W_oi δ_o  (Wᵀ δ)
        simd::outer_and_transposed::<T, IN, OUT, INPUT_GRADIENT, WRITE>(
            &self.weights,
            &delta,
            &tape.input,
            &mut grads.weights,
        )
    }
}

// The public passes: thin entry points into the execution seam.

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Forward for Dense<IN, OUT, A, T> {
    type Input = [T; IN];
    type Output = [T; OUT];

    #[inline]
    fn forward(&self, x: &[T; IN]) -> [T; OUT] {
        exec::forward(self, x)
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Backward for Dense<IN, OUT, A, T> {
    type Tape = DenseTape<IN, OUT, T>;

    #[inline]
    fn forward_tape(&self, x: &[T; IN]) -> ([T; OUT], Self::Tape) {
        exec::forward_tape(self, x)
    }

    #[inline]
    fn backward(&self, tape: &Self::Tape, d_output: &[T; OUT], grads: &mut Self) -> [T; IN] {
        exec::backward::<_, true>(self, tape, d_output, grads)
    }

    #[inline]
    fn backward_params(&self, tape: &Self::Tape, d_output: &[T; OUT], grads: &mut Self) {
        exec::backward::<_, false>(self, tape, d_output, grads);
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Params for Dense<IN, OUT, A, T> {
    type Scalar = T;
    const PARAMS: usize = IN * OUT + OUT;

    fn zeroed() -> Self {
        Self::new([[T::zero(); IN]; OUT], [T::zero(); OUT])
    }

    #[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline)]
    fn visit<const M: usize, const S: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [T]; M], [&[T]; S]),
    {
        f(mutable.each_mut().map(|l| l.weights.as_flattened_mut()), shared.map(|l| l.weights.as_flattened()));
        f(mutable.each_mut().map(|l| &mut l.bias[..]), shared.map(|l| &l.bias[..]));
    }
}

// The execution seam.

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Layer for Dense<IN, OUT, A, T> {
    #[inline(always)]
    fn forward_in<I: simd::Isa>(&self, isa: I, x: &[T; IN]) -> [T; OUT] {
        self.forward_sample(isa, x).1
    }

    #[inline(always)]
    fn forward_tape_in<I: simd::Isa>(&self, isa: I, x: &[T; IN]) -> ([T; OUT], Self::Tape) {
        let (z, a) = self.forward_sample(isa, x);
        (a, DenseTape { input: *x, pre_activation: z, output: a })
    }

    #[inline(always)]
    fn backward_in<I: simd::Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        _isa: I,
        tape: &Self::Tape,
        d_output: &[T; OUT],
        grads: &mut Self,
    ) -> [T; IN] {
        self.backward_sample::<INPUT_GRADIENT, WRITE>(tape, d_output, grads)
    }

    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::random_with(A::INIT, rng)
    }

    fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for w in self.weights.as_flattened_mut() {
            *w = A::INIT.sample(IN, OUT, rng);
        }
        self.bias = [T::zero(); OUT];
    }

    fn zero_bytes_are_zeroed() -> bool
    where
        T: 'static,
    {
        crate::layer::zero_bytes_are_zeroed::<T, A>()
    }

    const LAYER_COUNT: usize = 1;

    fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
        f(LayerInfo::dense(IN, OUT, A::NAME));
    }

    #[cfg(feature = "alloc")]
    type Rows = DenseRows<OUT, T>;

    #[cfg(feature = "alloc")]
    fn uses_gemm(rows: usize) -> bool {
        crate::batch::gemm_pays(rows, IN, OUT)
    }

    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn forward_rows<'t, I: simd::Isa>(
        &self,
        isa: I,
        input: &[[T; IN]],
        tape: &'t mut Self::Rows,
    ) -> &'t [[T; OUT]]
    where
        T: 'static,
    {
        self.rows_forward(isa, input, tape, Self::uses_gemm(input.len()))
    }

    #[cfg(feature = "alloc")]
    fn freeze_rows(&self, tape: &mut Self::Rows) {
        tape.freeze(&self.weights);
    }

    #[cfg(feature = "alloc")]
    fn output_rows(tape: &mut Self::Rows) -> (&[[T; OUT]], &mut [[T; OUT]]) {
        tape.output_and_gradient()
    }

    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn backward_rows<I: simd::Isa, const WRITE: bool>(
        &self,
        isa: I,
        input: &[[T; IN]],
        tape: &mut Self::Rows,
        grads: &mut Self,
        d_input: Option<&mut [[T; IN]]>,
    ) where
        T: 'static,
    {
        self.rows_backward::<I, WRITE>(isa, input, tape, grads, d_input, Self::uses_gemm(input.len()))
    }
}
