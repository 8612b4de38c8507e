//! The fully connected layer: `a = f(W x + b)`.

use crate::activation::Activation;
use crate::model::{Architecture, Backward, Forward, LayerInfo, Params};
use num_traits::Float;
use rand::Rng;

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
    #[inline]
    pub fn affine(&self, x: &[T; IN]) -> [T; OUT] {
        let mut z = self.bias;
        for (z_o, w_o) in z.iter_mut().zip(&self.weights) {
            *z_o = *z_o + dot(w_o, x);
        }
        z
    }
}

/// `Σ_i w_i x_i`.
#[inline(always)]
fn dot<T: Float, const N: usize>(w: &[T; N], x: &[T; N]) -> T {
    w.iter().zip(x).fold(T::zero(), |s, (&w_i, &x_i)| s + w_i * x_i)
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Forward for Dense<IN, OUT, A, T> {
    type Input = [T; IN];
    type Output = [T; OUT];

    #[inline]
    fn forward(&self, x: &[T; IN]) -> [T; OUT] {
        self.affine(x).map(A::f)
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Backward for Dense<IN, OUT, A, T> {
    type Tape = DenseTape<IN, OUT, T>;

    #[inline]
    fn forward_tape(&self, x: &[T; IN]) -> ([T; OUT], Self::Tape) {
        let z = self.affine(x);
        let a = z.map(A::f);
        (a, DenseTape { input: *x, pre_activation: z, output: a })
    }

    #[inline]
    fn backward(&self, tape: &Self::Tape, d_output: &[T; OUT], grads: &mut Self) -> [T; IN] {
        let x = &tape.input;
        let mut d_input = [T::zero(); IN];
        // Indexed by `o` so that the code reads like the formulas above.
        #[allow(clippy::needless_range_loop)]
        for o in 0..OUT {
            // δ_o = ∂L/∂a_o · f'(z_o)
            let delta = d_output[o] * A::df(tape.pre_activation[o], tape.output[o]);
            // ∂L/∂b_o += δ_o
            grads.bias[o] = grads.bias[o] + delta;
            // ∂L/∂W_oi += δ_o x_i  and  ∂L/∂x_i += W_oi δ_o
            let (w_o, g_o) = (&self.weights[o], &mut grads.weights[o]);
            for ((g, d_x), (&w, &x_i)) in g_o.iter_mut().zip(d_input.iter_mut()).zip(w_o.iter().zip(x)) {
                *g = *g + delta * x_i;
                *d_x = *d_x + w * delta;
            }
        }
        d_input
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Params for Dense<IN, OUT, A, T> {
    type Scalar = T;
    const PARAMS: usize = IN * OUT + OUT;

    fn zeroed() -> Self {
        Self::new([[T::zero(); IN]; OUT], [T::zero(); OUT])
    }

    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::random_with(A::INIT, rng)
    }

    fn visit<const M: usize, const S: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [T]; M], [&[T]; S]),
    {
        f(mutable.each_mut().map(|l| l.weights.as_flattened_mut()), shared.map(|l| l.weights.as_flattened()));
        f(mutable.each_mut().map(|l| &mut l.bias[..]), shared.map(|l| &l.bias[..]));
    }
}

impl<const IN: usize, const OUT: usize, A: Activation, T: Float> Architecture for Dense<IN, OUT, A, T> {
    const LAYERS: usize = 1;

    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
        f(LayerInfo { inputs: IN, outputs: OUT, activation: A::NAME });
    }
}
