//! One training step, the routine every entry point that trains runs:
//! the batch's mean loss and gradient, a check that the loss is finite,
//! clipping, and the optimizer's update.
//!
//! [`Train::train_step`](crate::Train::train_step) (per sample),
//! [`Workspace::train_step`](crate::batch::Workspace::train_step) (batched)
//! and every step of [`Train::fit`](crate::Train::fit) (either path, with a
//! scheduled learning rate) call [`step`]; they differ only in how the
//! gradient is computed: [`sample_gradient`] here, or the batched path's
//! [`Workspace::gradient`](crate::batch::Workspace::gradient).
//!
//! # Math
//!
//! The loss of a batch is the mean of its per-sample losses, so its
//! gradient is the mean of the per-sample gradients:
//!
//! ```text
//! g = (1/B) Σ_b ∂L(f(x_b), t_b)/∂θ,     g ← clip(g),     θ ← update(θ, g)
//! ```

use crate::error::{Divergence, Error};
use crate::exec;
use crate::layer::Layer;
use crate::loss::Loss;
use crate::math::{cast, count};
use crate::optim::Optimizer;
use crate::params::Params;
use crate::simd;
use num_traits::Float;

/// Gradient clipping, applied to the batch gradient before the optimizer
/// step.
///
/// # Math
///
/// * `Norm(c)`: with `‖g‖` the Euclidean norm of *all* gradients together,
///   `g ← g · min(1, c / (‖g‖ + 10⁻⁶))`, as `torch.nn.utils.clip_grad_norm_`.
///   If `‖g‖²` overflows the scalar type (gradients near `1e19` in `f32`),
///   the factor is 0 and the step moves nothing, as in PyTorch.
/// * `Value(c)`: every gradient clamped to `[-c, c]`, as
///   `torch.nn.utils.clip_grad_value_`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Clip {
    /// No clipping.
    #[default]
    None,
    /// Rescale the whole gradient so that its global norm is at most this.
    Norm(f64),
    /// Clamp every gradient to `[-c, c]`.
    Value(f64),
}

impl Clip {
    /// Checks the threshold: positive and finite.
    pub fn check(&self) -> Result<(), Error> {
        match *self {
            Clip::None => Ok(()),
            Clip::Norm(c) | Clip::Value(c) => crate::optim::require(
                "clipping threshold",
                c,
                c > 0.0 && c.is_finite(),
                "positive and finite",
            ),
        }
    }

    /// [`check`](Clip::check), and that the threshold is still positive and
    /// finite in the model's scalar type `T` (a norm of `1e-50` is 0 in
    /// `f32` and would silently stop all training).
    pub(crate) fn check_in<T: Float>(&self) -> Result<(), Error> {
        self.check()?;
        match *self {
            Clip::None => Ok(()),
            Clip::Norm(c) | Clip::Value(c) => {
                let narrow: T = cast(c);
                crate::optim::require(
                    "clipping threshold",
                    c,
                    narrow > T::zero() && narrow.is_finite(),
                    "positive and finite in the model's scalar type (it rounds to 0 or overflows there)",
                )
            }
        }
    }

    /// Clips `grads` in place. The threshold is taken as it is: call
    /// [`check`](Clip::check) first (every training entry point does). A NaN
    /// gradient stays NaN.
    pub fn apply<M: Params>(&self, grads: &mut M) {
        match *self {
            Clip::None => {}
            Clip::Norm(max_norm) => {
                let mut sum_of_squares = <M::Scalar as num_traits::Zero>::zero();
                grads.for_each_tensor(|g| {
                    sum_of_squares = g.iter().fold(sum_of_squares, |s, &g| s + g * g);
                });
                let coefficient = cast::<M::Scalar>(max_norm) / (sum_of_squares.sqrt() + cast(1e-6));
                grads.scale(coefficient.min(<M::Scalar as num_traits::One>::one()));
            }
            Clip::Value(c) => {
                let c: M::Scalar = cast(c);
                // A NaN stays NaN (`max`/`min` would turn it into -c and
                // hide a diverging gradient).
                grads.for_each_tensor_mut(|g| {
                    g.iter_mut().filter(|g| !g.is_nan()).for_each(|g| *g = g.max(-c).min(c))
                });
            }
        }
    }
}

/// The learning rate of a step: the optimizer's own, or one a schedule
/// chose for this step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rate {
    /// [`Optimizer::step`]: the optimizer's learning rate.
    Own,
    /// [`Optimizer::step_with_rate`]: this learning rate instead (`fit`).
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
    Scheduled(f64),
}

/// The settings every entry point that trains checks once, before its first
/// step changes anything: the optimizer's, and the clipping threshold in the
/// model's scalar type (an [`Error::InvalidHyperparameter`]).
pub(crate) fn check_settings<M, O>(optimizer: &O, clip: Clip) -> Result<(), Error>
where
    M: Params,
    O: Optimizer<M>,
{
    optimizer.check()?;
    clip.check_in::<M::Scalar>()
}

/// One training step, its settings already checked ([`check_settings`]):
/// `gradient` writes the batch gradient into `grads` and returns the batch's
/// mean loss; if that loss is finite, the gradient is clipped and the
/// optimizer updates `model` with it. Returns the mean loss (before
/// the update), or [`Error::Diverged`] with [`Divergence::Loss`] (epoch and
/// batch 0: callers that know more say so) with nothing updated.
#[inline]
pub(crate) fn step<M, O>(
    model: &mut M,
    grads: &mut M,
    optimizer: &mut O,
    clip: Clip,
    rate: Rate,
    gradient: impl FnOnce(&M, &mut M) -> Result<M::Scalar, Error>,
) -> Result<M::Scalar, Error>
where
    M: Params,
    O: Optimizer<M>,
{
    let mean = gradient(model, grads)?;
    if !mean.is_finite() {
        return Err(Error::Diverged {
            epoch: 0,
            batch: 0,
            loss: num_traits::ToPrimitive::to_f64(&mean).unwrap_or(f64::NAN),
            cause: Divergence::Loss,
        });
    }
    clip.apply(grads);
    match rate {
        Rate::Own => optimizer.step(model, grads),
        Rate::Scheduled(lr) => optimizer.step_with_rate(lr, model, grads),
    }
    Ok(mean)
}

/// The per-sample path's batch gradient: overwrites `grads` with
/// `(1/B) Σ_b ∂L_b/∂θ` over the samples and returns the batch's mean loss.
pub(crate) fn sample_gradient<'a, M, T, L, const IN: usize, const N: usize>(
    model: &M,
    samples: impl Iterator<Item = (&'a [T; IN], &'a L::Target)>,
    loss: &L,
    grads: &mut M,
) -> T
where
    M: Layer<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'a,
    L: Loss<T, N>,
    L::Target: 'a,
{
    // The whole loop is one SIMD dispatch: the tapes stay in one frame and
    // the layers are inlined into each other. On desktop CPUs the first
    // sample writes the gradients and the others add to them; a
    // microcontroller zeroes them first and keeps one backward pass in flash.
    if !simd::WIDE_CPU {
        grads.fill_zero();
    }
    let (sum, samples_seen) = exec::sample_gradients(model, samples, loss, &mut *grads);
    if simd::WIDE_CPU && samples_seen == 0 {
        grads.fill_zero();
    }
    let inverse = T::one() / count::<T>(samples_seen);
    if samples_seen > 1 {
        grads.scale(inverse); // (× 1 would change nothing)
    }
    sum * inverse
}
