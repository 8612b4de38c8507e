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

use super::report::{EpochReport, FitError, History, StopReason};
use super::schedule::{EarlyStopping, Schedule};
use super::shuffle::fisher_yates;
use crate::batch::shards::{boxed_copy, copy_params, Local, Snapshot};
use crate::batch::Rows;
use crate::check::{check_batch_size, check_data, check_data_scanned};
use crate::error::{Divergence, Error};
use crate::infer::{check_finite_output, finite_loss};
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

/// How [`fit`](crate::Train::fit) trains. A plain value (`Copy`), so one set
/// of options serves a sweep:
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
/// let (x, y) = ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [[0.0], [1.0], [1.0], [0.0]]);
/// let options = FitOptions { epochs: 50, batch_size: 4, schedule: Schedule::Cosine { period: 50, min_lr: 0.0 }, ..Default::default() };
/// for lr in [0.1, 0.3, 1.0] {
///     let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
///     let mut net: Net = Model::init(&mut rng);
///     let history = net.fit(&x, &y, &Mse, &mut Sgd::new(lr), options, &mut rng)?;
///     assert_eq!(history.epochs.len(), 50);
/// }
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
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
    /// How many threads share each batch's gradient on the batched path
    /// (default 1; 0 is an [`Error::InvalidHyperparameter`]). The result
    /// does not depend on it: a batch of more than 128 rows is split into the
    /// same shards (at most 8) whatever the number of threads, and their
    /// gradients are added in the same order (see [`crate::batch`]), so 1,
    /// 2 or 3 threads give the same bits. No more threads are started than
    /// the largest batch has shards; they also share the check that every
    /// training input is finite. Without the `std` feature the shards run
    /// one after the other on the calling thread. The per-sample path
    /// (nets too narrow for the batched path) runs on one thread.
    pub threads: usize,
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
            threads: 1,
        }
    }
}

/// Whether every parameter of `model` is finite.
fn all_finite<M: Params>(model: &M) -> bool {
    let mut finite = true;
    model.for_each_tensor(|p| finite &= crate::check::all_finite(p));
    finite
}

/// How errors name the training data set.
const TRAINING_DATA: &str = "training data";

/// Every check `fit` makes before its first step: the data sets, the batch
/// size, the optimizer's and the options' settings, and the learning rate
/// the schedule gives every epoch, in the model's scalar type.
/// `scan` tells whether all training inputs are finite: the pass on this
/// thread, or `true` where a threaded `fit` makes that pass afterwards on
/// its threads ([`TRAINING_DATA`]'s inputs, named the same way).
fn check_everything<M, T, L, O, const IN: usize, const N: usize>(
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
    optimizer: &O,
    options: &FitOptions<'_, T, IN, L::Target>,
    scan: impl FnOnce(&[[T; IN]]) -> bool,
) -> Result<(), Error>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float,
    L: Loss<T, N>,
    O: Optimizer<M>,
{
    check_data_scanned(loss, inputs, targets, TRAINING_DATA, scan)?;
    if let Some((x, t)) = options.validation {
        check_data(loss, x, t, "validation data")?;
    }
    check_batch_size(options.batch_size)?;
    crate::optim::require("threads", options.threads as f64, options.threads > 0, "at least 1")?;
    crate::step::check_settings(optimizer, options.clip)?;
    options.schedule.check()?;
    if let Some(stop) = options.early_stopping {
        crate::optim::require(
            "early-stopping minimum improvement",
            stop.min_delta,
            stop.min_delta >= 0.0 && stop.min_delta.is_finite(),
            "non-negative and finite",
        )?;
    }
    // Every epoch's rate must be a positive number in the model's scalar
    // type: a step schedule can decay it to zero, a large factor overflow it.
    let rates = options.schedule.rates(optimizer.learning_rate());
    for (epoch, rate) in rates.take(options.epochs).enumerate() {
        let narrow: T = cast(rate);
        if !(rate > 0.0 && narrow > T::zero() && narrow.is_finite()) {
            return Err(Error::InvalidSchedule { epoch, rate });
        }
    }
    Ok(())
}

/// The mean loss on the validation data and, for a classification loss,
/// the accuracy; an error if an output or a loss is not finite.
fn validate<M, T, L, const IN: usize, const N: usize>(
    model: &M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
) -> Result<(T, Option<f64>), Error>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float,
    L: Loss<T, N>,
{
    let (mut loss_sum, mut correct) = (T::zero(), None);
    for (sample, (x, t)) in inputs.iter().zip(targets).enumerate() {
        // Non-finite validation outputs or losses would be recorded as the
        // monitored loss and steer early stopping: an error instead.
        let y = model.forward(x);
        let located = |e: Error| e.in_data("validation data");
        check_finite_output(&y, sample).map_err(located)?;
        loss_sum = loss_sum + finite_loss(loss.loss(&y, t), sample).map_err(located)?;
        if let Some(ok) = loss.is_correct(&y, t) {
            correct = Some(correct.unwrap_or(0usize) + usize::from(ok));
        }
    }
    Ok((loss_sum / count(inputs.len()), correct.map(|c| c as f64 / inputs.len() as f64)))
}

/// The body of [`Train::fit`](crate::Train::fit) and
/// [`Train::fit_with`](crate::Train::fit_with): the checks, then the epochs,
/// with the batched path's gradients on this thread or shared by a team of
/// threads (`std`, [`FitOptions::threads`]).
#[allow(clippy::result_large_err, clippy::too_many_arguments)] // returned once per training run
pub(crate) fn fit<M, T, L, O, R, const IN: usize, const N: usize>(
    model: &mut M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
    optimizer: &mut O,
    options: FitOptions<'_, T, IN, L::Target>,
    rng: &mut R,
    on_epoch: &mut dyn FnMut(&EpochReport<T>) -> ControlFlow<()>,
) -> Result<History<T>, FitError<T>>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T> + Send + Sync,
    T: Float + Send + Sync + 'static,
    L: Loss<T, N> + Sync,
    L::Target: Send + Sync,
    O: Optimizer<M>,
    R: Rng + ?Sized,
{
    let mut history =
        History { epochs: Vec::with_capacity(options.epochs), best_epoch: 0, stopped: StopReason::Completed };
    let mut local = Local::<M, L::Target>::new();
    #[cfg(feature = "std")]
    {
        let largest = options.batch_size.min(inputs.len());
        let threaded =
            options.threads > 1 && crate::batch::shards::shard_count(largest) > 1 && M::uses_gemm(largest);
        // Every check but the pass over the training inputs' values, which
        // the threads share once they are started; a call refused for
        // another reason starts none (it is refused below, by the checks in
        // their order).
        if threaded && check_everything(inputs, targets, loss, optimizer, &options, |_| true).is_ok() {
            use crate::batch::team::{with_team, Team};
            // More threads than the largest batch has shards would only wait.
            let threads = options.threads.min(crate::batch::shards::shard_count(largest));
            let team = Team::new(model, (inputs, targets), loss, threads, largest);
            return with_team(&team, || {
                // Everything else passed, so a non-finite input is the
                // error the checks in order would report.
                let finite = team.inputs_finite();
                let checked = crate::check::name_non_finite(inputs, finite);
                if let Err(error) = checked.map_err(|e| e.in_data(TRAINING_DATA)) {
                    history.stopped = StopReason::Failed;
                    return Err(FitError { error, history });
                }
                let mut gradient =
                    |model: &M, rows: Rows<'_>, grads: &mut M| team.gradient(&mut local, model, rows, grads);
                // The team's snapshot of the weights, which its workers read,
                // is also the copy that a divergence restores.
                let mut last_finite = &team;
                let data = (inputs, targets);
                epochs(
                    model,
                    data,
                    loss,
                    optimizer,
                    options,
                    rng,
                    on_epoch,
                    history,
                    &mut gradient,
                    &mut last_finite,
                )
            });
        }
    }
    // Check everything before touching the model.
    let scan = |inputs: &[[T; IN]]| crate::check::all_finite(inputs.as_flattened());
    if let Err(error) = check_everything(inputs, targets, loss, optimizer, &options, scan) {
        history.stopped = StopReason::Failed;
        return Err(FitError { error, history });
    }
    let mut gradient = |model: &M, rows: Rows<'_>, grads: &mut M| {
        local.gradient(model, (inputs, targets), rows, loss, grads)
    };
    let mut last_finite: Box<M> = boxed_copy(model);
    let data = (inputs, targets);
    epochs(model, data, loss, optimizer, options, rng, on_epoch, history, &mut gradient, &mut last_finite)
}

/// The batched path's mean loss and gradient of a batch.
type BatchGradient<'g, M, T> = dyn FnMut(&M, Rows<'_>, &mut M) -> T + 'g;

/// The epochs of `fit`, its options checked; `gradient` computes the
/// batched path's gradients.
#[allow(clippy::result_large_err, clippy::too_many_arguments)]
fn epochs<M, T, L, O, R, const IN: usize, const N: usize>(
    model: &mut M,
    (inputs, targets): (&[[T; IN]], &[L::Target]),
    loss: &L,
    optimizer: &mut O,
    options: FitOptions<'_, T, IN, L::Target>,
    rng: &mut R,
    on_epoch: &mut dyn FnMut(&EpochReport<T>) -> ControlFlow<()>,
    mut history: History<T>,
    gradient: &mut BatchGradient<'_, M, T>,
    last_finite: &mut dyn Snapshot<M>,
) -> Result<History<T>, FitError<T>>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'static,
    L: Loss<T, N>,
    O: Optimizer<M>,
    R: Rng + ?Sized,
{
    let initial_lr = optimizer.learning_rate();
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    // Gradients and weight copies on the heap, made and copied in place.
    let mut grads: Box<M> = <Box<M> as Params>::zeroed();
    let mut best: Option<(T, usize, Box<M>)> = None;

    // The schedule's rates in epoch order: one multiplication per decay in all.
    for (epoch, learning_rate) in options.schedule.rates(initial_lr).take(options.epochs).enumerate() {
        if options.shuffle {
            fisher_yates(order.len(), rng, |i, j| order.swap(i, j));
        }

        let mut total = T::zero();
        for (batch, indices) in order.chunks(options.batch_size).enumerate() {
            last_finite.save(model);
            let rate = Rate::Scheduled(learning_rate);
            let mean = step::step(model, &mut grads, optimizer, options.clip, rate, |model, grads| {
                if !M::uses_gemm(indices.len()) {
                    let samples = indices.iter().map(|&i| (&inputs[i], &targets[i]));
                    return Ok(step::sample_gradient(model, samples, loss, grads));
                }
                // The batched path: the rows as a matrix, gathered when shuffled.
                let rows = match (options.shuffle, indices.first()) {
                    (false, Some(&first)) => Rows::Range(first..first + indices.len()),
                    _ => Rows::Listed(indices),
                };
                Ok(gradient(model, rows, grads))
            })
            .map_err(|e| match e {
                // Nothing was updated before the first batch: not the learning rate.
                Error::Diverged { loss, .. } => {
                    let first = epoch == 0 && batch == 0;
                    let cause = if first { Divergence::InitialLoss } else { Divergence::Loss };
                    Error::Diverged { epoch, batch, loss, cause }
                }
                e => e,
            });
            let error = match mean {
                Ok(mean) if all_finite(model) => {
                    total = total + mean * count(indices.len());
                    continue;
                }
                Ok(mean) => {
                    last_finite.restore(model);
                    let loss = mean.to_f64().unwrap_or(f64::NAN);
                    Error::Diverged { epoch, batch, loss, cause: Divergence::Update }
                }
                Err(error) => error,
            };
            history.stopped = StopReason::Failed;
            return Err(FitError { error, history });
        }
        let train_loss = total / count(inputs.len());

        let (validation_loss, validation_accuracy) = match options.validation {
            Some((x, t)) => match validate(model, x, t, loss) {
                Ok((loss, accuracy)) => (Some(loss), accuracy),
                Err(error) => {
                    history.stopped = StopReason::Failed;
                    return Err(FitError { error, history });
                }
            },
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

        if on_epoch(&report).is_break() {
            history.stopped = StopReason::Callback;
            break;
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
