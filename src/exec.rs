//! Where execution starts: every entry point of the crate runs as one
//! kernel, dispatched once to the instruction set this CPU has
//! ([`simd::dispatch`]), and inside it the model's [`Layer`] methods run
//! with that instruction set, all of a chain's layers inlined into one
//! function.
//!
//! | entry point | kernel |
//! |---|---|
//! | [`Forward::forward`](crate::Forward::forward) | [`forward`] |
//! | [`Backward::forward_tape`](crate::Backward::forward_tape) | [`forward_tape`] |
//! | [`Backward::backward`](crate::Backward::backward), [`backward_params`](crate::Backward::backward_params) | [`backward`] |
//! | a training step's gradient, per sample | [`sample_gradients`] |
//! | batch inference (`alloc`) | [`forward_rows`] |
//! | a training step's gradient, batched (`alloc`) | [`rows_gradient`] |

use crate::layer::Layer;
use crate::loss::Loss;
use crate::simd::{self, Isa, Kernel};
use num_traits::Float;

/// The forward pass of one sample.
#[inline]
pub(crate) fn forward<L: Layer>(layer: &L, input: &L::Input) -> L::Output {
    struct Pass<'a, L: Layer>(&'a L, &'a L::Input);
    impl<L: Layer> Kernel for Pass<'_, L> {
        type Output = L::Output;
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) -> L::Output {
            self.0.forward_in(isa, self.1)
        }
    }
    simd::dispatch(Pass(layer, input))
}

/// The forward pass of one sample, with its tape.
#[inline]
pub(crate) fn forward_tape<L: Layer>(layer: &L, input: &L::Input) -> (L::Output, L::Tape) {
    struct Pass<'a, L: Layer>(&'a L, &'a L::Input);
    impl<L: Layer> Kernel for Pass<'_, L> {
        type Output = (L::Output, L::Tape);
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) -> (L::Output, L::Tape) {
            self.0.forward_tape_in(isa, self.1)
        }
    }
    simd::dispatch(Pass(layer, input))
}

/// The backward pass of one sample, adding the parameter gradients into
/// `grads`; `∂L/∂input` if `INPUT_GRADIENT`, else zeros.
#[inline]
pub(crate) fn backward<L: Layer, const INPUT_GRADIENT: bool>(
    layer: &L,
    tape: &L::Tape,
    d_output: &L::Output,
    grads: &mut L,
) -> L::Input {
    struct Pass<'a, L: Layer, const G: bool>(&'a L, &'a L::Tape, &'a L::Output, &'a mut L);
    impl<L: Layer, const G: bool> Kernel for Pass<'_, L, G> {
        type Output = L::Input;
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) -> L::Input {
            self.0.backward_in::<I, G, false>(isa, self.1, self.2, self.3)
        }
    }
    simd::dispatch(Pass::<L, INPUT_GRADIENT>(layer, tape, d_output, grads))
}

/// The summed loss and the parameter gradients of the samples, one at a
/// time: for each, the forward pass with a tape, the loss and its gradient,
/// and the backward pass without the first layer's input gradient. On
/// desktop CPUs the first sample writes `grads` and the others add to them
/// (a microcontroller zeroes `grads` first and keeps one backward pass in
/// flash: the caller does that). Returns the sum of the losses and the
/// number of samples.
#[inline]
pub(crate) fn sample_gradients<'a, M, T, L, S, const IN: usize, const N: usize>(
    model: &M,
    samples: S,
    loss: &L,
    grads: &mut M,
) -> (T, usize)
where
    M: Layer<Input = [T; IN], Output = [T; N]>,
    T: Float + 'a,
    L: Loss<T, N>,
    L::Target: 'a,
    S: Iterator<Item = (&'a [T; IN], &'a L::Target)>,
{
    struct Pass<'m, M, L, S>(&'m M, S, &'m L, &'m mut M);
    impl<'a, M, T, L, S, const IN: usize, const N: usize> Kernel for Pass<'_, M, L, S>
    where
        M: Layer<Input = [T; IN], Output = [T; N]>,
        T: Float + 'a,
        L: Loss<T, N>,
        L::Target: 'a,
        S: Iterator<Item = (&'a [T; IN], &'a L::Target)>,
    {
        type Output = (T, usize);
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) -> (T, usize) {
            let Pass(model, samples, loss, grads) = self;
            let (mut sum, mut seen) = (T::zero(), 0usize);
            for (x, t) in samples {
                let (y, tape) = model.forward_tape_in(isa, x);
                let (value, d_y) = loss.loss_and_gradient(&y, t);
                sum = sum + value;
                if simd::WIDE_CPU && seen == 0 {
                    model.backward_in::<I, false, true>(isa, &tape, &d_y, grads);
                } else {
                    model.backward_in::<I, false, false>(isa, &tape, &d_y, grads);
                }
                seen += 1;
            }
            (sum, seen)
        }
    }
    simd::dispatch(Pass(model, samples, loss, grads))
}

/// The forward pass of every row of `input` (`alloc`), recorded in `tape`.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn forward_rows<'t, M: Layer>(
    model: &M,
    input: &[M::Input],
    tape: &'t mut M::Rows,
) -> &'t [M::Output]
where
    M::Scalar: 'static,
{
    struct Pass<'a, M: Layer>(&'a M, &'a [M::Input], &'a mut M::Rows);
    impl<M: Layer> Kernel for Pass<'_, M>
    where
        M::Scalar: 'static,
    {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            self.0.forward_rows(isa, self.1, self.2);
        }
    }
    simd::dispatch(Pass(model, input, &mut *tape));
    M::output_rows(tape).0
}

/// The rows of `inputs` and `targets` (`alloc`, at least one row) as part
/// of a batch of `batch_rows` rows: returns their summed loss divided by
/// `batch_rows` and writes their gradient, divided likewise, into `grads`.
/// The batch's forward pass, `(1/B) ∂L_b/∂y_b` into the output layer's
/// gradient buffer for every row `b`, and the backward pass, which sums over
/// the rows, so the parameter gradients come out as means without a
/// separate pass. With `batch_rows = inputs.len()` that is the mean loss
/// and its gradient; a shard of a larger batch ([`crate::batch`]) passes the
/// whole batch's size.
#[cfg(feature = "alloc")]
#[inline]
pub(crate) fn rows_gradient<M, T, L, const IN: usize, const N: usize>(
    model: &M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
    tape: &mut M::Rows,
    grads: &mut M,
    batch_rows: usize,
) -> T
where
    M: Layer<Input = [T; IN], Output = [T; N]> + crate::params::Params<Scalar = T>,
    T: Float + 'static,
    L: Loss<T, N>,
{
    struct Pass<'a, M: Layer, T: Float, L: Loss<T, N>, const IN: usize, const N: usize> {
        model: &'a M,
        inputs: &'a [[T; IN]],
        targets: &'a [L::Target],
        loss: &'a L,
        tape: &'a mut M::Rows,
        grads: &'a mut M,
        batch_rows: usize,
    }
    impl<M, T, L, const IN: usize, const N: usize> Kernel for Pass<'_, M, T, L, IN, N>
    where
        M: Layer<Input = [T; IN], Output = [T; N]> + crate::params::Params<Scalar = T>,
        T: Float + 'static,
        L: Loss<T, N>,
    {
        type Output = T;
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) -> T {
            let Pass { model, inputs, targets, loss, tape, grads, batch_rows } = self;
            model.forward_rows(isa, inputs, tape);
            let inverse = T::one() / crate::math::count::<T>(batch_rows);
            let (outputs, d_outputs) = M::output_rows(tape);
            let mut sum = T::zero();
            for ((y, d_y), t) in outputs.iter().zip(d_outputs.iter_mut()).zip(targets) {
                let (value, gradient) = loss.loss_and_gradient(y, t);
                sum = sum + value;
                *d_y = gradient.map(|g| g * inverse);
            }
            model.backward_rows::<I, true>(isa, inputs, tape, grads, None);
            sum * inverse
        }
    }
    simd::dispatch(Pass { model, inputs, targets, loss, tape, grads, batch_rows })
}
