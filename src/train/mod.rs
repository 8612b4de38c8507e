//! Training over data sets: mini-batch steps, epochs, `fit`.
//!
//! # Batch, mini-batch and stochastic gradient descent
//!
//! The loss of a data set is the mean of its per-sample losses, so its
//! gradient is the mean of the per-sample gradients. One optimizer step on a
//! batch of `B` samples runs `B` forward and backward passes, which
//! *accumulate* their parameter gradients, divides the sum by `B`, and steps:
//!
//! ```text
//! g = (1/B) Σ_b ∂L(f(x_b), t_b)/∂θ,     θ ← step(θ, g)
//! ```
//!
//! * `B = 1` is **stochastic** gradient descent: one noisy step per sample,
//!   many steps per epoch.
//! * `B = n` (the whole data set) is **full-batch** gradient descent: one
//!   exact step per epoch.
//! * Anything between is **mini-batch** gradient descent, the usual
//!   compromise: less noise than `B = 1`, far more steps per epoch than
//!   `B = n`.
//!
//! [`Train::train_step`] is one such step on the slices it is given; it needs
//! no allocator and is what a `no_std` training loop calls.
//! [`Train::train_epoch`] runs the steps of one epoch in order, also without
//! an allocator. With `alloc`, [`Train::fit`] adds shuffling, schedules,
//! validation, early stopping and a history.

#[cfg(feature = "alloc")]
mod fit;
mod report;
mod schedule;
mod shuffle;

pub use crate::step::Clip;
#[cfg(feature = "alloc")]
pub use fit::FitOptions;
pub use report::{EpochReport, StopReason};
#[cfg(feature = "alloc")]
pub use report::{FitError, History};
pub use schedule::{EarlyStopping, Schedule};
pub use shuffle::shuffle_together;

use crate::check::{check_batch_size, check_data};
use crate::error::Error;
use crate::loss::{Loss, Targets};
use crate::math::count;
use crate::model::Model;
use crate::optim::Optimizer;
use crate::params::Params;
use crate::step::{self, Rate};
use num_traits::Float;

#[cfg(feature = "alloc")]
use core::ops::ControlFlow;
#[cfg(feature = "alloc")]
use rand::Rng;

/// Training a [`Model`] on slices of samples: one step, one epoch, or
/// [`fit`](Train::fit).
///
/// Implemented for every model whose input is `[T; IN]` and output `[T; N]`
/// (which is every model of this crate); import it with the prelude. Every
/// method trains through the crate's one training step: the batch
/// gradient, a check that the loss is finite, clipping and the optimizer's
/// update.
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<2, 8, Tanh, f64>, Dense<8, 2, Identity, f64>);
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let labels = [0, 1, 1, 0];
///
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let mut net: Net = Model::init(&mut rng);
/// let mut opt = Adam::new(0.05);
/// let mut grads = Net::zeroed();
/// for _ in 0..300 {
///     net.train_step(&inputs, &labels, &SoftmaxCrossEntropy, &mut opt, &mut grads, Clip::None)?;
/// }
/// assert_eq!(net.accuracy(&inputs, &labels)?, 1.0); // (Infer)
/// assert_eq!(net.classify(&[0.0, 1.0])?, 1);
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait Train<T: Float, const IN: usize, const N: usize>:
    Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>
{
    /// Checks a whole data set for this model and `loss`: inputs and targets
    /// pair up, the set is not empty, every input is finite and every target
    /// valid for the loss (a class index below `N`, say). The error names the
    /// first offending sample.
    ///
    /// [`fit`](Train::fit) does this itself; a training loop built on
    /// [`train_step`](Train::train_step) calls it once per data set.
    fn check_data<L, Y>(&self, inputs: &[[T; IN]], targets: &[Y], loss: &L) -> Result<(), Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
    {
        check_data(loss, inputs, targets, "data set")
    }

    /// One optimizer step on one batch: the mean loss over `inputs`, its
    /// gradient accumulated in `grads` (reset first), clipping, and the
    /// update. Returns the batch's mean loss (before the update).
    ///
    /// Needs no allocator. Everything is checked before anything changes:
    /// the batch as [`check_data`](Train::check_data) checks a data set
    /// (lengths, finite inputs, targets valid for the loss: the error names
    /// the sample), the optimizer's settings and the clipping threshold. If
    /// the loss is not finite, or the gradient is not (after clipping),
    /// nothing is updated and the result is [`Error::Diverged`] (epoch and
    /// batch 0).
    fn train_step<L, O, Y>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        optimizer: &mut O,
        grads: &mut Self,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
        O: Optimizer<Self>,
    {
        check_data(loss, inputs, targets, "batch")?;
        step::check_settings(optimizer, clip)?;
        step::step(self, grads, optimizer, clip, Rate::Own, |model, grads| {
            Ok(step::sample_gradient(model, inputs.iter().zip(targets), loss, grads))
        })
    }

    /// One epoch of steps over consecutive batches of `batch_size` samples
    /// (the last one may be smaller), in the order given. Returns the mean
    /// loss over the epoch's samples.
    ///
    /// Needs no allocator; to shuffle between epochs without one, see
    /// [`shuffle_together`]. On divergence the model keeps the weights of the
    /// last finite step only if the divergence shows in the loss; use
    /// [`fit`](Train::fit) for the full guarantee.
    #[allow(clippy::too_many_arguments)]
    fn train_epoch<L, O, Y>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        optimizer: &mut O,
        grads: &mut Self,
        batch_size: usize,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
        O: Optimizer<Self>,
    {
        // The whole data set, once, before the first step changes anything.
        check_data(loss, inputs, targets, "data set")?;
        check_batch_size(batch_size)?;
        step::check_settings(optimizer, clip)?;
        let mut total = T::zero();
        for (batch, (x, t)) in inputs.chunks(batch_size).zip(targets.chunks(batch_size)).enumerate() {
            let step = step::step(self, grads, optimizer, clip, Rate::Own, |model, grads| {
                Ok(step::sample_gradient(model, x.iter().zip(t), loss, grads))
            });
            let mean = step.map_err(|e| match e {
                Error::Diverged { loss, cause, .. } => Error::Diverged { epoch: 0, batch, loss, cause },
                e => e,
            })?;
            total = total + mean * count(x.len());
        }
        Ok(total / count(inputs.len()))
    }

    /// Trains on `inputs` and `targets` as `options` say: epochs of shuffled
    /// mini-batches, an optional learning-rate schedule, optional validation
    /// with early stopping. [`fit_with`](Train::fit_with) also calls a
    /// function after every epoch.
    ///
    /// Everything is checked before the first step: the lengths, every input
    /// (finite), every target (valid for the loss), the optimizer's and the
    /// options' hyper-parameters, and the learning rate the schedule gives
    /// every epoch (a positive number in the model's scalar type). During
    /// training, a batch whose loss is not finite, or an update that leaves a
    /// parameter non-finite, stops training with [`Error::Diverged`], whose
    /// [`Divergence`](crate::error::Divergence) says which; the model then
    /// has its weights from before that step (the optimizer's state does
    /// not). Every failure comes as a [`FitError`] with the history of the
    /// epochs that completed; `?` turns it into the [`Error`].
    ///
    /// Each mini-batch goes through the [batched path](crate::batch) when
    /// one of the model's layers is wide enough for a matrix product to pay
    /// at that batch size ([`gemm_pays`](crate::batch::gemm_pays)), and
    /// through the per-sample path otherwise (always for `batch_size = 1`).
    /// The model, its gradients and the copies `fit` keeps (for divergence
    /// and early stopping) are on the heap, so a `Box<M>` of any size trains
    /// here without touching the stack. The learning rate of each step is
    /// handed to the optimizer with the step
    /// ([`Optimizer::step_with_rate`]); the optimizer's own rate is never
    /// changed.
    ///
    /// With [`FitOptions::threads`] above 1 (`std`), the batched path's
    /// batches of more than 128 rows are shared among that many threads,
    /// started once for the call; the result is the same for any number of
    /// threads (fixed shards, summed in a fixed order: see [`crate::batch`]).
    ///
    /// The same model, data, options and generator state give bit-identical
    /// results on the same machine (and on every machine when no layer takes
    /// a matrix product, whose kernel `matrixmultiply` picks per CPU).
    #[cfg(feature = "alloc")]
    #[allow(clippy::result_large_err)] // returned once per training run
    fn fit<L, O, R, Y>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        optimizer: &mut O,
        options: FitOptions<'_, T, IN, Y>,
        rng: &mut R,
    ) -> Result<History<T>, FitError<T>>
    where
        T: 'static,
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
        // (threads, `FitOptions::threads`)
        Self: Send + Sync,
        T: Send + Sync,
        L: Sync,
        Y: Send + Sync,
        O: Optimizer<Self>,
        R: Rng + ?Sized,
    {
        fit::fit(self, inputs, targets, loss, optimizer, options, rng, &mut |_| ControlFlow::Continue(()))
    }

    /// [`fit`](Train::fit), calling `on_epoch` after every epoch with its
    /// report (to print progress, record losses, plot); returning
    /// `ControlFlow::Break(())` stops training after that epoch
    /// ([`StopReason::Callback`]).
    #[cfg(feature = "alloc")]
    #[allow(clippy::result_large_err, clippy::too_many_arguments)]
    fn fit_with<L, O, R, Y>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        optimizer: &mut O,
        options: FitOptions<'_, T, IN, Y>,
        rng: &mut R,
        mut on_epoch: impl FnMut(&EpochReport<T>) -> ControlFlow<()>,
    ) -> Result<History<T>, FitError<T>>
    where
        T: 'static,
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
        // (threads, `FitOptions::threads`)
        Self: Send + Sync,
        T: Send + Sync,
        L: Sync,
        Y: Send + Sync,
        O: Optimizer<Self>,
        R: Rng + ?Sized,
    {
        fit::fit(self, inputs, targets, loss, optimizer, options, rng, &mut on_epoch)
    }
}

impl<M, T: Float, const IN: usize, const N: usize> Train<T, IN, N> for M where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>
{
}
