//! The 1-d convolution: [`Conv1d`].

use super::kernels::{self, Geometry};
use super::{entry_points, shape, ConvTape};
use crate::activation::Activation;
use crate::layer::Layer;
use crate::model::{LayerInfo, LayerKind};
use crate::params::Params;
use crate::simd;
use num_traits::Float;
use rand::Rng;

/// A 1-d convolution from `CI` channels of length `L` to `CO` channels of
/// length `LO`, with a kernel of `K` taps, stride `S`, zero padding `P` at
/// each end, a bias per output channel and activation `A`: PyTorch's
/// `nn.Conv1d(CI, CO, K, stride=S, padding=P)` followed by the activation.
///
/// `LO` must be PyTorch's output length, [`out_len`](super::out_len)`(L, K, S, P)`; a type
/// with another does not build.
///
/// # Math
///
/// Forward, for one sample `x` (channels × time): each output channel's
/// `CI × K` kernel slides along the sequence (cross-correlation; positions
/// outside the input read zero):
///
/// ```text
/// z_{o,t} = b_o + Σ_{i,k} W_{o,i,k} · x_{i, t·S + k − P}
/// a_{o,t} = f(z_{o,t})
/// ```
///
/// Backward, given `∂L/∂a`:
///
/// ```text
/// δ_{o,t}        = ∂L/∂a_{o,t} · f'(z_{o,t})
/// ∂L/∂b_o        = Σ_t δ_{o,t}
/// ∂L/∂W_{o,i,k}  = Σ_t δ_{o,t} · x_{i, t·S + k − P}          (x correlated with δ)
/// ∂L/∂x_{i,u}    = Σ_{o,k} W_{o,i,k} · δ_{o, (u + P − k)/S}   (δ correlated with the flipped kernel)
/// ```
///
/// It is [`Conv2d`](super::Conv2d)'s arithmetic on one row (`src/conv/kernels.rs`).
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// // A difference filter [-1, 1] along a sequence, "valid", stride 1.
/// let conv: Conv1d<1, 1, 2, 1, 0, 4, 3, Identity> = Conv1d::new([[[-1.0, 1.0]]], [0.0]);
/// assert_eq!(conv.forward(&[[1.0, 4.0, 9.0, 16.0]]), [[3.0, 5.0, 7.0]]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv1d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const L: usize,
    const LO: usize,
    A: Activation,
    T: Float = f32,
> {
    /// The kernels, `weights[o][i][kr][kc]`: PyTorch's `[out][in][kh][kw]`.
    pub weights: [[[T; K]; CI]; CO],
    /// One bias per output channel.
    pub bias: [T; CO],
    /// The activation, a zero-sized marker.
    pub activation: A,
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
    > Conv1d<CI, CO, K, S, P, L, LO, A, T>
{
    const SHAPE: () = shape::conv("Conv1d", &[CI, CO, K, S, P, L, LO], K, S, P, &[L], &[LO]);

    // One row: a 1 × K kernel, no vertical padding.
    const GEOMETRY: Geometry =
        Geometry { ci: CI, kh: 1, kw: K, s: S, ph: 0, pw: P, h: 1, w: L, ho: 1, wo: LO };

    /// A layer with the given kernels (`weights[o][i][kr][kc]`) and biases.
    pub fn new(weights: [[[T; K]; CI]; CO], bias: [T; CO]) -> Self {
        let () = Self::SHAPE;
        Self { weights, bias, activation: A::default() }
    }

    /// A layer with weights drawn by `init` (fan in `CI·K·K`, fan out
    /// `CO·K·K`, as PyTorch counts them) instead of the activation's
    /// default, and zero biases.
    pub fn random_with<R: Rng + ?Sized>(init: crate::init::Init, rng: &mut R) -> Self {
        let mut layer = Self::zeroed();
        layer.draw(init, rng);
        layer
    }

    fn draw<R: Rng + ?Sized>(&mut self, init: crate::init::Init, rng: &mut R) {
        for w in self.weights.as_flattened_mut().as_flattened_mut() {
            *w = init.sample(CI * K, CO * K, rng);
        }
        self.bias = [T::zero(); CO];
    }

    /// `f(z)` of one sample, for the pre-activation `z`.
    ///
    /// Inlined into the dispatched kernel (which compiles it for AVX2) in
    /// optimised builds; with debug assertions, a frame of its own, as the
    /// gradients below: inlined there, every layer's buffers would share
    /// one frame (a deep net's passes then overflow a test thread's stack).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn correlate(&self, x: &[[T; L]; CI], f: impl Fn(T) -> T + Copy) -> [[T; LO]; CO] {
        let () = Self::SHAPE;
        let mut z = [[T::zero(); LO]; CO];
        let x = x.as_flattened();
        if simd::WIDE_CPU {
            // The weights as one row of CO channels per tap (i, kc).
            let mut by_tap = [[[T::zero(); CO]; K]; CI];
            let weights = self.weights.as_flattened().as_flattened();
            kernels::transpose(weights, CO, by_tap.as_flattened_mut().as_flattened_mut());
            kernels::correlate_by_channels(
                Self::GEOMETRY,
                x,
                by_tap.as_flattened(),
                &self.bias,
                z.as_flattened_mut(),
                f,
            );
        } else {
            let weights = self.weights.as_flattened().as_flattened();
            kernels::correlate(Self::GEOMETRY, x, weights, &self.bias, z.as_flattened_mut());
            for v in z.as_flattened_mut() {
                *v = f(*v);
            }
        }
        z
    }

    /// The forward pass of one sample: `(z, a)`.
    #[inline(always)]
    fn forward_sample(&self, x: &[[T; L]; CI]) -> ([[T; LO]; CO], [[T; LO]; CO]) {
        let z = self.correlate(x, |z| z);
        let mut a = [[T::zero(); LO]; CO];
        for (a, &z) in a.as_flattened_mut().iter_mut().zip(z.as_flattened()) {
            *a = A::f(z); // a = f(z)
        }
        (z, a)
    }

    /// The backward pass of one sample.
    #[inline(always)]
    fn backward_sample<const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        tape: &ConvTape<[[T; L]; CI], [[T; LO]; CO]>,
        d_output: &[[T; LO]; CO],
        grads: &mut Self,
    ) -> [[T; L]; CI] {
        // δ = ∂L/∂a · f'(z)
        let mut delta = *d_output;
        let z = tape.pre_activation.as_flattened();
        let a = tape.output.as_flattened();
        for ((d, &z), &a) in delta.as_flattened_mut().iter_mut().zip(z).zip(a) {
            *d = *d * A::df(z, a);
        }
        Self::parameter_gradients::<WRITE>(&tape.input, &delta, grads);
        let mut d_x = [[T::zero(); L]; CI];
        if INPUT_GRADIENT {
            self.input_gradient(&delta, &mut d_x);
        }
        d_x
    }

    /// `∂L/∂W` and `∂L/∂b` of one sample from `δ = ∂L/∂z`, written into
    /// `grads` (`WRITE`) or added to it (inlined as [`Self::correlate`]).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn parameter_gradients<const WRITE: bool>(x: &[[T; L]; CI], delta: &[[T; LO]; CO], grads: &mut Self) {
        let x = x.as_flattened();
        if simd::WIDE_CPU {
            // δ by position and the gradients by tap, output channels last.
            let mut by_position = [[T::zero(); CO]; LO];
            kernels::transpose(delta.as_flattened(), CO, by_position.as_flattened_mut());
            let mut d_by_tap = [[[T::zero(); CO]; K]; CI];
            if !WRITE {
                let g = grads.weights.as_flattened().as_flattened();
                kernels::transpose(g, CO, d_by_tap.as_flattened_mut().as_flattened_mut());
            }
            let mut d_bias = if WRITE { [T::zero(); CO] } else { grads.bias };
            kernels::parameter_gradients_by_channels(
                Self::GEOMETRY,
                x,
                &by_position,
                d_by_tap.as_flattened_mut(),
                &mut d_bias,
            );
            kernels::transpose(
                d_by_tap.as_flattened().as_flattened(),
                CI * K,
                grads.weights.as_flattened_mut().as_flattened_mut(),
            );
            grads.bias = d_bias;
        } else {
            kernels::parameter_gradients::<T, WRITE>(
                Self::GEOMETRY,
                x,
                delta.as_flattened(),
                grads.weights.as_flattened_mut().as_flattened_mut(),
                &mut grads.bias,
            );
        }
    }

    /// `∂L/∂x` of one sample from `δ = ∂L/∂z`, into `d_x` (inlined as
    /// [`Self::correlate`]).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn input_gradient(&self, delta: &[[T; LO]; CO], d_x: &mut [[T; L]; CI]) {
        let delta = delta.as_flattened();
        if simd::WIDE_CPU {
            // The weights as one row of CI input channels per output channel and tap.
            let mut by_output = [[[T::zero(); CI]; K]; CO];
            for (w_o, by_o) in self.weights.iter().zip(by_output.iter_mut()) {
                kernels::transpose(w_o.as_flattened(), CI, by_o.as_flattened_mut());
            }
            kernels::input_gradient_by_channels(
                Self::GEOMETRY,
                by_output.as_flattened(),
                delta,
                d_x.as_flattened_mut(),
            );
        } else {
            kernels::input_gradient(
                Self::GEOMETRY,
                self.weights.as_flattened().as_flattened(),
                delta,
                d_x.as_flattened_mut(),
            );
        }
    }
}

entry_points!(
    Conv1d<CI, CO, K, S, P, L, LO; A: Activation, T: Float>,
    [[T; L]; CI],
    [[T; LO]; CO],
    ConvTape<[[T; L]; CI], [[T; LO]; CO]>
);

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
    > Params for Conv1d<CI, CO, K, S, P, L, LO, A, T>
{
    type Scalar = T;
    const PARAMS: usize = CO * CI * K + CO;

    fn zeroed() -> Self {
        Self::new([[[T::zero(); K]; CI]; CO], [T::zero(); CO])
    }

    fn visit<const M: usize, const N: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; N], f: &mut F)
    where
        F: FnMut([&mut [T]; M], [&[T]; N]),
    {
        f(
            mutable.each_mut().map(|l| l.weights.as_flattened_mut().as_flattened_mut()),
            shared.map(|l| l.weights.as_flattened().as_flattened()),
        );
        f(mutable.each_mut().map(|l| &mut l.bias[..]), shared.map(|l| &l.bias[..]));
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
    > Layer for Conv1d<CI, CO, K, S, P, L, LO, A, T>
{
    #[inline(always)]
    fn forward_in<I: simd::Isa>(&self, _isa: I, x: &Self::Input) -> Self::Output {
        self.correlate(x, A::f) // a = f(z)
    }

    #[inline(always)]
    fn forward_tape_in<I: simd::Isa>(&self, _isa: I, x: &Self::Input) -> (Self::Output, Self::Tape) {
        let (z, a) = self.forward_sample(x);
        (a, ConvTape { input: *x, pre_activation: z, output: a })
    }

    #[inline(always)]
    fn backward_in<I: simd::Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        _isa: I,
        tape: &Self::Tape,
        d_output: &Self::Output,
        grads: &mut Self,
    ) -> Self::Input {
        self.backward_sample::<INPUT_GRADIENT, WRITE>(tape, d_output, grads)
    }

    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::random_with(A::INIT, rng)
    }

    fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.draw(A::INIT, rng);
    }

    fn zero_bytes_are_zeroed() -> bool
    where
        T: 'static,
    {
        crate::layer::zero_bytes_are_zeroed::<T, A>()
    }

    const LAYER_COUNT: usize = 1;

    fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
        f(LayerInfo {
            kind: LayerKind::Conv1d {
                in_channels: CI,
                out_channels: CO,
                kernel: K,
                stride: S,
                padding: P,
                length: L,
            },
            inputs: CI * L,
            outputs: CO * LO,
            activation: A::NAME,
        });
    }

    #[cfg(feature = "alloc")]
    type Rows = super::lowered::ConvRows<Self::Output, Self::Tape, T>;

    #[cfg(feature = "alloc")]
    fn uses_gemm(rows: usize) -> bool {
        super::lowered::lowered::<Self>(rows)
    }

    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn forward_rows<'t, I: simd::Isa>(
        &self,
        isa: I,
        input: &[Self::Input],
        tape: &'t mut Self::Rows,
    ) -> &'t [Self::Output]
    where
        T: 'static,
    {
        tape.forward(self, isa, input, Self::uses_gemm(input.len()))
    }

    #[cfg(feature = "alloc")]
    fn output_rows(tape: &mut Self::Rows) -> (&[Self::Output], &mut [Self::Output]) {
        tape.output_and_gradient()
    }

    #[cfg(feature = "alloc")]
    #[inline(always)]
    fn backward_rows<I: simd::Isa, const WRITE: bool>(
        &self,
        isa: I,
        input: &[Self::Input],
        tape: &mut Self::Rows,
        grads: &mut Self,
        d_input: Option<&mut [Self::Input]>,
    ) where
        T: 'static,
    {
        tape.backward::<Self, I, WRITE>(self, isa, input, grads, d_input)
    }
}
