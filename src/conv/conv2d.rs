//! The 2-d convolution: [`Conv2d`].

use super::kernels::{self, Geometry};
use super::{entry_points, shape, ConvTape, Image};
use crate::activation::Activation;
use crate::layer::Layer;
use crate::model::{LayerInfo, LayerKind};
use crate::params::Params;
use crate::simd;
use num_traits::Float;
use rand::Rng;

/// A 2-d convolution from `CI` channels of `H × W` to `CO` channels of
/// `HO × WO`, with a `K × K` kernel, stride `S`, zero padding `P` on every
/// side, a bias per output channel and activation `A`: PyTorch's
/// `nn.Conv2d(CI, CO, K, stride=S, padding=P)` followed by the activation.
///
/// `HO` and `WO` must be PyTorch's output sizes, [`out_len`](super::out_len)`(H, K, S, P)`
/// and `out_len(W, K, S, P)`; a type with other sizes does not build. "Same"
/// padding for an odd kernel at stride 1 is `P = (K − 1) / 2`; "valid" is
/// `P = 0`.
///
/// # Math
///
/// Forward, for one sample `x` (channels × rows × columns): a sliding dot
/// product of each output channel's `CI × K × K` kernel with the input
/// window under it (cross-correlation, as PyTorch computes it; positions
/// outside the input read zero):
///
/// ```text
/// z_{o,r,c} = b_o + Σ_{i,kr,kc} W_{o,i,kr,kc} · x_{i, r·S + kr − P, c·S + kc − P}
/// a_{o,r,c} = f(z_{o,r,c})
/// ```
///
/// Backward, given `∂L/∂a`, by the chain rule (every weight is used at every
/// output position, so its gradient sums over them):
///
/// ```text
/// δ_{o,r,c}          = ∂L/∂a_{o,r,c} · f'(z_{o,r,c})
/// ∂L/∂b_o            = Σ_{r,c} δ_{o,r,c}
/// ∂L/∂W_{o,i,kr,kc}  = Σ_{r,c} δ_{o,r,c} · x_{i, r·S + kr − P, c·S + kc − P}   (x correlated with δ)
/// ∂L/∂x_{i,y,x}      = Σ_{o,kr,kc} W_{o,i,kr,kc} · δ_{o, (y + P − kr)/S, (x + P − kc)/S}
/// ```
///
/// the last over the terms whose output position is whole and inside the
/// output: at stride 1, the full correlation of `δ` with the kernel flipped
/// in both directions. The functions are
/// `correlate` (forward), `parameter_gradients` and
/// `input_gradient` in `src/conv/kernels.rs`.
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// // One 2x2 kernel that sums its window, over a 3x3 image, "valid", stride 1.
/// let conv: Conv2d<1, 1, 2, 1, 0, 3, 3, 2, 2, Identity> = Conv2d::new([[[[1.0; 2]; 2]]], [0.0]);
/// let x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
/// assert_eq!(conv.forward(&x), [[[12.0, 16.0], [24.0, 28.0]]]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d<
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
    T: Float = f32,
> {
    /// The kernels, `weights[o][i][kr][kc]`: PyTorch's `[out][in][kh][kw]`.
    pub weights: [[[[T; K]; K]; CI]; CO],
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
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        A: Activation,
        T: Float,
    > Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>
{
    const SHAPE: () = shape::conv("Conv2d", &[CI, CO, K, S, P, H, W, HO, WO], K, S, P, &[H, W], &[HO, WO]);

    const GEOMETRY: Geometry =
        Geometry { ci: CI, kh: K, kw: K, s: S, ph: P, pw: P, h: H, w: W, ho: HO, wo: WO };

    /// A layer with the given kernels (`weights[o][i][kr][kc]`) and biases.
    pub fn new(weights: [[[[T; K]; K]; CI]; CO], bias: [T; CO]) -> Self {
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
        for w in self.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut() {
            *w = init.sample(CI * K * K, CO * K * K, rng);
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
    fn correlate(&self, x: &Image<CI, H, W, T>, f: impl Fn(T) -> T + Copy) -> Image<CO, HO, WO, T> {
        let () = Self::SHAPE;
        let mut z = [[[T::zero(); WO]; HO]; CO];
        let x = x.as_flattened().as_flattened();
        if simd::WIDE_CPU {
            // The weights as one row of CO channels per tap (i, kr, kc).
            let mut by_tap = [[[[T::zero(); CO]; K]; K]; CI];
            let weights = self.weights.as_flattened().as_flattened().as_flattened();
            kernels::transpose(weights, CO, by_tap.as_flattened_mut().as_flattened_mut().as_flattened_mut());
            let by_tap = by_tap.as_flattened().as_flattened();
            kernels::correlate_by_channels(
                Self::GEOMETRY,
                x,
                by_tap,
                &self.bias,
                z.as_flattened_mut().as_flattened_mut(),
                f,
            );
        } else {
            let weights = self.weights.as_flattened().as_flattened().as_flattened();
            kernels::correlate(
                Self::GEOMETRY,
                x,
                weights,
                &self.bias,
                z.as_flattened_mut().as_flattened_mut(),
            );
            for v in z.as_flattened_mut().as_flattened_mut() {
                *v = f(*v);
            }
        }
        z
    }

    /// The forward pass of one sample: `(z, a)`.
    #[inline(always)]
    fn forward_sample(&self, x: &Image<CI, H, W, T>) -> (Image<CO, HO, WO, T>, Image<CO, HO, WO, T>) {
        let z = self.correlate(x, |z| z);
        let mut a = [[[T::zero(); WO]; HO]; CO];
        let z_flat = z.as_flattened().as_flattened();
        for (a, &z) in a.as_flattened_mut().as_flattened_mut().iter_mut().zip(z_flat) {
            *a = A::f(z); // a = f(z)
        }
        (z, a)
    }

    /// The backward pass of one sample.
    #[inline(always)]
    fn backward_sample<const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        tape: &ConvTape<Image<CI, H, W, T>, Image<CO, HO, WO, T>>,
        d_output: &[[[T; WO]; HO]; CO],
        grads: &mut Self,
    ) -> [[[T; W]; H]; CI] {
        // δ = ∂L/∂a · f'(z)
        let mut delta = *d_output;
        let z = tape.pre_activation.as_flattened().as_flattened();
        let a = tape.output.as_flattened().as_flattened();
        for ((d, &z), &a) in delta.as_flattened_mut().as_flattened_mut().iter_mut().zip(z).zip(a) {
            *d = *d * A::df(z, a);
        }
        Self::parameter_gradients::<WRITE>(&tape.input, &delta, grads);
        let mut d_x = [[[T::zero(); W]; H]; CI];
        if INPUT_GRADIENT {
            self.input_gradient(&delta, &mut d_x);
        }
        d_x
    }

    /// `∂L/∂W` and `∂L/∂b` of one sample from `δ = ∂L/∂z`, written into
    /// `grads` (`WRITE`) or added to it (inlined as [`Self::correlate`]).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn parameter_gradients<const WRITE: bool>(
        x: &Image<CI, H, W, T>,
        delta: &Image<CO, HO, WO, T>,
        grads: &mut Self,
    ) {
        let x = x.as_flattened().as_flattened();
        if simd::WIDE_CPU {
            // δ by position and the gradients by tap, output channels last.
            let mut by_position = [[[T::zero(); CO]; WO]; HO];
            kernels::transpose(
                delta.as_flattened().as_flattened(),
                CO,
                by_position.as_flattened_mut().as_flattened_mut(),
            );
            let mut d_by_tap = [[[[T::zero(); CO]; K]; K]; CI];
            if !WRITE {
                let g = grads.weights.as_flattened().as_flattened().as_flattened();
                kernels::transpose(g, CO, d_by_tap.as_flattened_mut().as_flattened_mut().as_flattened_mut());
            }
            let mut d_bias = if WRITE { [T::zero(); CO] } else { grads.bias };
            kernels::parameter_gradients_by_channels(
                Self::GEOMETRY,
                x,
                by_position.as_flattened(),
                d_by_tap.as_flattened_mut().as_flattened_mut(),
                &mut d_bias,
            );
            kernels::transpose(
                d_by_tap.as_flattened().as_flattened().as_flattened(),
                CI * K * K,
                grads.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut(),
            );
            grads.bias = d_bias;
        } else {
            kernels::parameter_gradients::<T, WRITE>(
                Self::GEOMETRY,
                x,
                delta.as_flattened().as_flattened(),
                grads.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut(),
                &mut grads.bias,
            );
        }
    }

    /// `∂L/∂x` of one sample from `δ = ∂L/∂z`, into `d_x` (inlined as
    /// [`Self::correlate`]).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn input_gradient(&self, delta: &Image<CO, HO, WO, T>, d_x: &mut Image<CI, H, W, T>) {
        let delta = delta.as_flattened().as_flattened();
        if simd::WIDE_CPU {
            // The weights as one row of CI input channels per output channel and tap.
            let mut by_output = [[[[T::zero(); CI]; K]; K]; CO];
            for (w_o, by_o) in self.weights.iter().zip(by_output.iter_mut()) {
                kernels::transpose(
                    w_o.as_flattened().as_flattened(),
                    CI,
                    by_o.as_flattened_mut().as_flattened_mut(),
                );
            }
            kernels::input_gradient_by_channels(
                Self::GEOMETRY,
                by_output.as_flattened().as_flattened(),
                delta,
                d_x.as_flattened_mut().as_flattened_mut(),
            );
        } else {
            kernels::input_gradient(
                Self::GEOMETRY,
                self.weights.as_flattened().as_flattened().as_flattened(),
                delta,
                d_x.as_flattened_mut().as_flattened_mut(),
            );
        }
    }
}

entry_points!(
    Conv2d<CI, CO, K, S, P, H, W, HO, WO; A: Activation, T: Float>,
    [[[T; W]; H]; CI],
    [[[T; WO]; HO]; CO],
    ConvTape<[[[T; W]; H]; CI], [[[T; WO]; HO]; CO]>
);

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
    > Params for Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>
{
    type Scalar = T;
    const PARAMS: usize = CO * CI * K * K + CO;

    fn zeroed() -> Self {
        Self::new([[[[T::zero(); K]; K]; CI]; CO], [T::zero(); CO])
    }

    fn visit<const M: usize, const N: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; N], f: &mut F)
    where
        F: FnMut([&mut [T]; M], [&[T]; N]),
    {
        f(
            mutable.each_mut().map(|l| l.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut()),
            shared.map(|l| l.weights.as_flattened().as_flattened().as_flattened()),
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
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        A: Activation,
        T: Float,
    > Layer for Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>
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
            kind: LayerKind::Conv2d {
                in_channels: CI,
                out_channels: CO,
                kernel: K,
                stride: S,
                padding: P,
                height: H,
                width: W,
            },
            inputs: CI * H * W,
            outputs: CO * HO * WO,
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
