//! The two passes every layer and every chain of layers has: [`Forward`]
//! (input in, output out) and [`Backward`] (the chain rule back through it).
//!
//! Both are thin: each method runs the layer through the crate's one
//! execution seam ([`Layer`](crate::layer::Layer)), which picks the
//! instruction set once for the whole model.

use crate::params::Params;

/// The forward pass: input in, output out.
///
/// `Input` and `Output` are fixed-size arrays `[T; N]`, so a sample of the
/// wrong width is a compile error, not a run-time one.
pub trait Forward {
    /// What the layer takes: `[T; IN]`.
    type Input: Copy;
    /// What the layer returns: `[T; OUT]`.
    type Output: Copy;

    /// Computes the output for one sample.
    fn forward(&self, input: &Self::Input) -> Self::Output;
}

/// The backward pass: the chain rule through the layer.
///
/// Backpropagation needs, for every layer, the values the forward pass saw
/// (its input and pre-activations). [`forward_tape`](Backward::forward_tape)
/// records them in a `Tape`, a plain struct of arrays on the stack;
/// [`backward`](Backward::backward) reads the tape and turns `∂L/∂output` into
/// `∂L/∂input`, adding `∂L/∂θ` for every parameter `θ` into `grads`.
///
/// Parameter gradients *accumulate* (`grads += ...`): a mini-batch gradient is
/// the sum of the per-sample backward passes, and [`Params::fill_zero`] resets
/// them between steps.
pub trait Backward: Forward + Params {
    /// What [`backward`](Backward::backward) needs from the forward pass.
    type Tape;

    /// Computes the output and records the tape for
    /// [`backward`](Backward::backward).
    fn forward_tape(&self, input: &Self::Input) -> (Self::Output, Self::Tape);

    /// Given `∂L/∂output` for the sample recorded in `tape`, adds the
    /// parameter gradients `∂L/∂θ` into `grads` and returns `∂L/∂input`.
    fn backward(&self, tape: &Self::Tape, d_output: &Self::Output, grads: &mut Self) -> Self::Input;

    /// As [`backward`](Backward::backward), but without `∂L/∂input`: what a
    /// training step calls on a whole network, whose first layer's input
    /// gradient nothing needs. `Dense` skips the product `Wᵀ δ` of its input
    /// gradient; a chain skips it in its first layer only.
    fn backward_params(&self, tape: &Self::Tape, d_output: &Self::Output, grads: &mut Self);
}
