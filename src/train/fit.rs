//! `fit`: epochs of shuffled mini-batches, a learning-rate schedule,
//! validation, early stopping and a history (`alloc`).
//!
//! Every step is the crate's one training step
//! ([`step`](crate::step)); `fit` adds what lies around the steps: it checks
//! everything before the first one, picks the path of each batch, passes
//! the scheduled learning rate to the optimizer with the step (the
//! optimizer's own rate is never changed), and keeps the copies of the
//! weights that divergence and early stopping restore.

extern crate alloc;

use super::data::{check_batch_size, check_data};
use super::report::{EpochReport, History, StopReason};
use super::schedule::{EarlyStopping, Schedule};
use super::shuffle::fisher_yates;
use crate::batch::Workspace;
use crate::error::Error;
use crate::loss::Loss;
use crate::math::{cast, count};
use crate::model::Model;
use crate::optim::Optimizer;
use crate::params::Params;
use crate::step::{self, Clip, Rate};
use alloc::{boxed::Box, vec::Vec};
use core::ops::ControlFlow;
use num_traits::Float;
use rand::Rng;

/// The epoch callback of [`FitOptions::on_epoch`]: called with each epoch's
/// report; `ControlFlow::Break(())` stops training after that epoch.
pub type EpochCallback<'a, T> = dyn FnMut(&EpochReport<T>) -> ControlFlow<()> + 'a;

/// How [`fit`](crate::Train::fit) trains.
///
/// ```
/// use backprop::train::{FitOptions, Schedule};
/// let options: FitOptions<'_, f32, 4, usize> =
///     FitOptions { epochs: 50, batch_size: 16, schedule: Schedule::Cosine { period: 50, min_lr: 0.0 }, ..Default::default() };
/// ```
pub struct FitOptions<'a, T, const IN: usize, Target> {
    /// How many passes over the training data (default 100).
    pub epochs: usize,
    /// Samples per optimizer step (default 32): 1 is stochastic gradient
    /// descent, the data set's size is full-batch gradient descent.
    pub batch_size: usize,
    /// Whether to shuffle the training data before every epoch (default
    /// true), with the generator passed to `fit`.
    pub shuffle: bool,
    /// The learning-rate schedule (default constant).
    pub schedule: Schedule,
    /// Gradient clipping (default none).
    pub clip: Clip,
    /// Validation inputs and targets, evaluated after every epoch.
    pub validation: Option<(&'a [[T; IN]], &'a [Target])>,
    /// Early stopping on the validation loss (or on the training loss
    /// without validation data).
    pub early_stopping: Option<EarlyStopping>,
    /// Called after every epoch with its report; return
    /// `ControlFlow::Break(())` to stop training.
    pub on_epoch: Option<&'a mut EpochCallback<'a, T>>,
}

impl<T, const IN: usize, Target> Default for FitOptions<'_, T, IN, Target> {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 32,
            shuffle: true,
            schedule: Schedule::Constant,
            clip: Clip::None,
            validation: None,
            early_stopping: None,
            on_epoch: None,
        }
    }
}

/// `dst ← src`, parameter by parameter, in place.
fn copy_params<M: Params>(dst: &mut M, src: &M) {
    M::visit([dst], [src], &mut |[dst], [src]| dst.copy_from_slice(src));
}

/// A copy of `model`'s parameters in a new box, made in place (a big model
/// never passes through the stack).
fn boxed_copy<M: Model>(model: &M) -> Box<M>
where
    M::Scalar: 'static,
{
    let mut copy = <Box<M> as Params>::zeroed();
    copy_params(&mut *copy, model);
    copy
}

/// Whether every parameter of `model` is finite.
fn all_finite<M: Params>(model: &M) -> bool {
    let mut finite = true;
    model.for_each_tensor(|p| finite &= p.iter().all(|x| x.is_finite()));
    finite
}

/// The mean loss on the validation data and, for a classification loss,
/// the accuracy.
fn validate<M, T, L, const IN: usize, const N: usize>(
    model: &M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
) -> (Option<T>, Option<f64>)
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float,
    L: Loss<T, N>,
{
    let (loss_sum, correct) = inputs.iter().zip(targets).fold((T::zero(), None), |(s, c), (x, t)| {
        let y = model.forward(x);
        let c = match loss.is_correct(&y, t) {
            Some(ok) => Some(c.unwrap_or(0usize) + usize::from(ok)),
            None => c,
        };
        (s + loss.loss(&y, t), c)
    });
    (Some(loss_sum / count(inputs.len())), correct.map(|c| c as f64 / inputs.len() as f64))
}

/// The body of [`Train::fit`](crate::Train::fit).
pub(crate) fn fit<M, T, L, O, R, const IN: usize, const N: usize>(
    model: &mut M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
    optimizer: &mut O,
    mut options: FitOptions<'_, T, IN, L::Target>,
    rng: &mut R,
) -> Result<History<T>, Error>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'static,
    L: Loss<T, N>,
    O: Optimizer<M>,
    R: Rng + ?Sized,
{
    // Check everything before touching the model.
    check_data(loss, inputs, targets, "training data")?;
    if let Some((x, t)) = options.validation {
        check_data(loss, x, t, "validation data")?;
    }
    check_batch_size(options.batch_size)?;
    optimizer.check()?;
    options.schedule.check()?;
    options.clip.check()?;
    if let Some(stop) = options.early_stopping {
        crate::optim::require(
            "early-stopping minimum improvement",
            stop.min_delta,
            stop.min_delta >= 0.0 && stop.min_delta.is_finite(),
            "non-negative and finite",
        )?;
    }

    let initial_lr = optimizer.learning_rate();
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    // The batched path's matrices and gather buffers (allocated on first use).
    let mut workspace = Workspace::<M>::new();
    let mut gathered_targets: Vec<L::Target> = Vec::new();
    // Gradients and weight copies on the heap, made and copied in place.
    let mut grads: Box<M> = <Box<M> as Params>::zeroed();
    let mut last_finite: Box<M> = boxed_copy(model);
    let mut best: Option<(T, usize, Box<M>)> = None;
    let mut history =
        History { epochs: Vec::with_capacity(options.epochs), best_epoch: 0, stopped: StopReason::Completed };

    // The schedule's rates in epoch order: one multiplication per decay in all.
    for (epoch, learning_rate) in options.schedule.rates(initial_lr).take(options.epochs).enumerate() {
        if options.shuffle {
            fisher_yates(order.len(), rng, |i, j| order.swap(i, j));
        }

        let mut total = T::zero();
        for (batch, indices) in order.chunks(options.batch_size).enumerate() {
            let diverged =
                |loss: T| Error::Diverged { epoch, batch, loss: loss.to_f64().unwrap_or(f64::NAN) };
            copy_params(&mut *last_finite, model);
            let rate = Rate::Scheduled(learning_rate);
            let mean = step::step(model, &mut grads, optimizer, options.clip, rate, |model, grads| {
                if !M::uses_gemm(indices.len()) {
                    let samples = indices.iter().map(|&i| (&inputs[i], &targets[i]));
                    return Ok(step::sample_gradient(model, samples, loss, grads));
                }
                // The batched path: the rows as a matrix, gathered when shuffled.
                match (options.shuffle, indices.first()) {
                    (false, Some(&first)) => {
                        let rows = first..first + indices.len();
                        workspace.gradient(model, &inputs[rows.clone()], &targets[rows], loss, grads)
                    }
                    _ => workspace.gradient_of_rows(
                        model,
                        (inputs, targets),
                        indices,
                        &mut gathered_targets,
                        loss,
                        grads,
                    ),
                }
            })
            .map_err(|e| match e {
                Error::Diverged { loss, .. } => Error::Diverged { epoch, batch, loss },
                e => e,
            })?;
            if !all_finite(model) {
                copy_params(model, &last_finite);
                return Err(diverged(mean));
            }
            total = total + mean * count(indices.len());
        }
        let train_loss = total / count(inputs.len());

        let (validation_loss, validation_accuracy) = match options.validation {
            Some((x, t)) => validate(model, x, t, loss),
            None => (None, None),
        };

        let report = EpochReport { epoch, learning_rate, train_loss, validation_loss, validation_accuracy };
        history.epochs.push(report);

        // Track the best epoch by the monitored loss.
        let monitored = validation_loss.unwrap_or(train_loss);
        let min_delta: T = cast(options.early_stopping.map_or(0.0, |s| s.min_delta));
        let improved = match &best {
            None => true,
            Some((best_loss, _, _)) => monitored < *best_loss - min_delta,
        };
        if improved {
            let keep = options.early_stopping.is_some_and(|s| s.restore_best);
            match &mut best {
                Some((best_loss, best_epoch, weights)) => {
                    *best_loss = monitored;
                    *best_epoch = epoch;
                    if keep {
                        copy_params(&mut **weights, model);
                    }
                }
                None => best = Some((monitored, epoch, boxed_copy(model))),
            }
            history.best_epoch = epoch;
        }

        if let Some(callback) = options.on_epoch.as_mut() {
            if callback(&report).is_break() {
                history.stopped = StopReason::Callback;
                break;
            }
        }
        if let (Some(stop), Some((_, best_epoch, _))) = (options.early_stopping, &best) {
            if epoch - *best_epoch >= stop.patience.max(1) {
                history.stopped = StopReason::EarlyStopping;
                break;
            }
        }
    }

    if let (Some(stop), Some((_, _, weights))) = (options.early_stopping, &best) {
        if stop.restore_best {
            copy_params(model, weights);
        }
    }
    Ok(history)
}
