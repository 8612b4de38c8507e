//! Training and evaluation over data sets: mini-batch steps, `fit`,
//! `predict`, `classify`, `accuracy`, `evaluate`.
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

use crate::error::Error;
use crate::loss::{argmax, Loss};
use crate::math::{cast, count};
use crate::model::{Model, Params};
use crate::optim::Optimizer;
use crate::simd;
use num_traits::Float;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::{boxed::Box, vec::Vec};
#[cfg(feature = "alloc")]
use core::ops::ControlFlow;
#[cfg(feature = "alloc")]
use rand::Rng;

#[cfg(feature = "alloc")]
use crate::batch::{Batched, Workspace};

/// The number of rows [`Train::predict`] sends through the batched path at
/// a time.
#[cfg(feature = "alloc")]
pub const PREDICT_BATCH: usize = 256;

/// Gradient clipping, applied to the batch gradient before the optimizer
/// step.
///
/// # Math
///
/// * `Norm(c)`: with `‖g‖` the Euclidean norm of *all* gradients together,
///   `g ← g · min(1, c / (‖g‖ + 10⁻⁶))`, as `torch.nn.utils.clip_grad_norm_`.
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

    /// Clips `grads` in place.
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
                grads.for_each_tensor_mut(|g| g.iter_mut().for_each(|g| *g = g.max(-c).min(c)));
            }
        }
    }
}

/// Checks that `inputs` and `targets` pair up and are not empty.
fn check_lengths<I, U>(
    inputs: &[I],
    targets: &[U],
    what: &'static str,
    other: &'static str,
) -> Result<(), Error> {
    if inputs.len() != targets.len() {
        return Err(Error::LengthMismatch { what, len: inputs.len(), other, other_len: targets.len() });
    }
    if inputs.is_empty() {
        return Err(Error::EmptyData { what: "data set" });
    }
    Ok(())
}

/// Checks that every element of every input is finite.
fn check_inputs<T: Float, const IN: usize>(inputs: &[[T; IN]]) -> Result<(), Error> {
    for (sample, x) in inputs.iter().enumerate() {
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput { data: "data", sample, index });
        }
    }
    Ok(())
}

/// Checks every target against the loss.
fn check_targets<T: Float, const N: usize, L: Loss<T, N>>(
    loss: &L,
    targets: &[L::Target],
) -> Result<(), Error> {
    for (sample, t) in targets.iter().enumerate() {
        loss.check_target(t).map_err(|e| e.at_sample(sample))?;
    }
    Ok(())
}

/// Checks a whole data set: lengths, finite inputs, valid targets.
fn check_data<T: Float, const IN: usize, const N: usize, L: Loss<T, N>>(
    loss: &L,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    what: &'static str,
) -> Result<(), Error> {
    let (inputs_name, targets_name) = if what == "validation data" {
        ("validation inputs", "validation targets")
    } else {
        ("inputs", "targets")
    };
    check_lengths(inputs, targets, inputs_name, targets_name).map_err(|e| match e {
        Error::EmptyData { .. } => Error::EmptyData { what },
        e => e,
    })?;
    check_inputs(inputs).map_err(|e| e.in_data(what))?;
    check_targets(loss, targets).map_err(|e| e.in_data(what))
}

/// `dst ← src`, parameter by parameter, in place.
#[cfg(feature = "alloc")]
fn copy_params<M: Params>(dst: &mut M, src: &M) {
    M::visit([dst], [src], &mut |[dst], [src]| dst.copy_from_slice(src));
}

/// A zeroed `M` on the heap, made there ([`Box<M>`'s `zeroed`](crate::boxed)).
#[cfg(feature = "alloc")]
fn boxed_zeroed<M: Params>() -> Box<M>
where
    M::Scalar: 'static,
{
    <Box<M> as Params>::zeroed()
}

/// A copy of `model`'s parameters in a new box, made in place.
#[cfg(feature = "alloc")]
fn boxed_copy<M: Params>(model: &M) -> Box<M>
where
    M::Scalar: 'static,
{
    let mut copy = boxed_zeroed::<M>();
    copy_params(&mut *copy, model);
    copy
}

/// Whether every parameter of `model` is finite.
#[cfg(feature = "alloc")]
fn all_finite<M: Params>(model: &M) -> bool {
    let mut finite = true;
    model.for_each_tensor(|p| finite &= p.iter().all(|x| x.is_finite()));
    finite
}

/// Training and evaluation of a [`Model`] over slices of samples.
///
/// Implemented for every model whose input is `[T; IN]` and output `[T; N]`
/// (which is every model of this crate); import it with the prelude.
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
/// assert_eq!(net.accuracy(&inputs, &labels)?, 1.0);
/// assert_eq!(net.classify(&[0.0, 1.0]), 1);
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
    fn check_data<L: Loss<T, N>>(
        &self,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
    ) -> Result<(), Error> {
        check_data(loss, inputs, targets, "data set")
    }

    /// One optimizer step on one batch: the mean loss over `inputs`, its
    /// gradient accumulated in `grads` (reset first), clipping, and the
    /// update. Returns the batch's mean loss (before the update).
    ///
    /// Needs no allocator. If the loss is not finite, nothing is updated and
    /// the result is [`Error::Diverged`] (epoch and batch 0). Inputs and
    /// targets are not checked for finiteness here (that is [`fit`](Train::fit)'s
    /// job, once per data set); their lengths are.
    fn train_step<L, O>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
        optimizer: &mut O,
        grads: &mut Self,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Loss<T, N>,
        O: Optimizer<Self>,
    {
        check_lengths(inputs, targets, "inputs", "targets")?;
        let mean = batch_gradient(self, inputs.iter().zip(targets), loss, grads);
        if !mean.is_finite() {
            return Err(Error::Diverged { epoch: 0, batch: 0, loss: mean.to_f64().unwrap_or(f64::NAN) });
        }
        clip.apply(grads);
        optimizer.step(self, grads);
        Ok(mean)
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
    fn train_epoch<L, O>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
        optimizer: &mut O,
        grads: &mut Self,
        batch_size: usize,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Loss<T, N>,
        O: Optimizer<Self>,
    {
        check_lengths(inputs, targets, "inputs", "targets")?;
        check_batch_size(batch_size)?;
        let mut total = T::zero();
        for (batch, (x, t)) in inputs.chunks(batch_size).zip(targets.chunks(batch_size)).enumerate() {
            let mean = self.train_step(x, t, loss, optimizer, grads, clip).map_err(|e| match e {
                Error::Diverged { loss, .. } => Error::Diverged { epoch: 0, batch, loss },
                e => e,
            })?;
            total = total + mean * count(x.len());
        }
        Ok(total / count(inputs.len()))
    }

    /// The output for every input, into `outputs` (which must have the same
    /// length).
    fn predict_into(&self, inputs: &[[T; IN]], outputs: &mut [[T; N]]) -> Result<(), Error> {
        if inputs.len() != outputs.len() {
            return Err(Error::LengthMismatch {
                what: "inputs",
                len: inputs.len(),
                other: "outputs",
                other_len: outputs.len(),
            });
        }
        for (x, y) in inputs.iter().zip(outputs.iter_mut()) {
            *y = self.forward(x);
        }
        Ok(())
    }

    /// The output for every input.
    ///
    /// When the model has a layer wide enough for the [batched
    /// path](crate::batch) to pay, the inputs go through it in batches of
    /// [`PREDICT_BATCH`] rows (each such layer one matrix product per batch);
    /// otherwise one by one through [`forward`](crate::Forward::forward).
    #[cfg(feature = "alloc")]
    fn predict(&self, inputs: &[[T; IN]]) -> Vec<[T; N]>
    where
        Self: Batched,
    {
        if !Self::uses_gemm(inputs.len().min(PREDICT_BATCH)) {
            return inputs.iter().map(|x| self.forward(x)).collect();
        }
        let mut workspace = Workspace::<Self>::new();
        let mut outputs = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(PREDICT_BATCH) {
            outputs.extend_from_slice(workspace.forward(self, batch));
        }
        outputs
    }

    /// The predicted class of one sample: the index of the largest output
    /// ([`argmax`]). For a net with one sigmoid output (binary
    /// classification), compare `forward(x)[0]` with ½ instead.
    fn classify(&self, input: &[T; IN]) -> usize {
        argmax(&self.forward(input))
    }

    /// The fraction of samples whose predicted class ([`classify`](Train::classify))
    /// equals their label.
    fn accuracy(&self, inputs: &[[T; IN]], labels: &[usize]) -> Result<f64, Error> {
        check_lengths(inputs, labels, "inputs", "labels")?;
        let mut correct = 0usize;
        for (sample, (x, &label)) in inputs.iter().zip(labels).enumerate() {
            if label >= N {
                return Err(Error::ClassOutOfRange { data: "data", sample, class: label, classes: N });
            }
            correct += usize::from(self.classify(x) == label);
        }
        Ok(correct as f64 / inputs.len() as f64)
    }

    /// The mean loss over a data set.
    fn evaluate<L: Loss<T, N>>(
        &self,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
    ) -> Result<T, Error> {
        check_lengths(inputs, targets, "inputs", "targets")?;
        check_targets(loss, targets)?;
        let sum = inputs.iter().zip(targets).fold(T::zero(), |s, (x, t)| s + loss.loss(&self.forward(x), t));
        Ok(sum / count(inputs.len()))
    }

    /// Trains on `inputs` and `targets` as `options` say: epochs of shuffled
    /// mini-batches, an optional learning-rate schedule, optional validation
    /// with early stopping, and a callback after every epoch.
    ///
    /// Everything is checked before the first step: the lengths, every input
    /// (finite), every target (valid for the loss), the optimizer's and the
    /// options' hyper-parameters. During training, a batch whose loss is not
    /// finite, or an update that leaves a parameter non-finite, stops
    /// training with [`Error::Diverged`]; the model is then restored to its
    /// weights before that step (the optimizer's state is not).
    ///
    /// Each mini-batch goes through the [batched path](crate::batch) when
    /// one of the model's layers is wide enough for a matrix product to pay
    /// at that batch size ([`gemm_pays`](crate::batch::gemm_pays)), and
    /// through the per-sample path otherwise (always for `batch_size = 1`).
    /// The model, its gradients and the copies `fit` keeps (for divergence
    /// and early stopping) are on the heap, so a `Box<M>` of any size trains
    /// here without touching the stack.
    ///
    /// The same model, data, options and generator state give bit-identical
    /// results on the same machine (and on every machine when no layer takes
    /// a matrix product, whose kernel `matrixmultiply` picks per CPU).
    #[cfg(feature = "alloc")]
    fn fit<L, O, R>(
        &mut self,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: L,
        optimizer: &mut O,
        options: FitOptions<'_, T, IN, L::Target>,
        rng: &mut R,
    ) -> Result<History<T>, Error>
    where
        Self: Batched,
        T: 'static,
        L: Loss<T, N>,
        O: Optimizer<Self>,
        R: Rng + ?Sized,
    {
        fit(self, inputs, targets, &loss, optimizer, options, rng)
    }
}

impl<M, T: Float, const IN: usize, const N: usize> Train<T, IN, N> for M where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>
{
}

/// The batch size must be at least 1.
fn check_batch_size(batch_size: usize) -> Result<(), Error> {
    crate::optim::require("batch size", batch_size as f64, batch_size > 0, "at least 1")
}

/// Overwrites `grads` with the gradient of the first sample, adds those of
/// the others, divides by the batch size, and returns the batch's mean loss.
fn batch_gradient<'a, M, T, L, const IN: usize, const N: usize>(
    model: &M,
    samples: impl Iterator<Item = (&'a [T; IN], &'a L::Target)>,
    loss: &L,
    grads: &mut M,
) -> T
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'a,
    L: Loss<T, N>,
    L::Target: 'a,
{
    // The whole loop is one SIMD dispatch: the tapes stay in this function's
    // frame and the layers are inlined into each other. On desktop CPUs the
    // first sample writes the gradients and the others add to them; a
    // microcontroller zeroes them first and keeps one backward pass in flash.
    if !simd::WIDE_CPU {
        grads.fill_zero();
    }
    let (sum, samples_seen) = simd::dispatch(SampleGradients { model, samples, loss, grads: &mut *grads });
    if simd::WIDE_CPU && samples_seen == 0 {
        grads.fill_zero();
    }
    let inverse = T::one() / count::<T>(samples_seen);
    if samples_seen > 1 {
        grads.scale(inverse); // (× 1 would change nothing)
    }
    sum * inverse
}

/// The per-sample loop of [`batch_gradient`] as a [`simd::Kernel`]: for each
/// sample, forward with a tape, the loss and its gradient, and the backward
/// pass (without the first layer's input gradient), the first sample
/// writing `grads` (on desktop CPUs) and the others adding into it. Returns
/// the summed loss and the number of samples.
struct SampleGradients<'m, M, L, S> {
    model: &'m M,
    samples: S,
    loss: &'m L,
    grads: &'m mut M,
}

impl<'a, M, T, L, S, const IN: usize, const N: usize> simd::Kernel for SampleGradients<'_, M, L, S>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'a,
    L: Loss<T, N>,
    L::Target: 'a,
    S: Iterator<Item = (&'a [T; IN], &'a L::Target)>,
{
    type Output = (T, usize);

    #[inline(always)]
    fn run<I: simd::Isa>(self, isa: I) -> (T, usize) {
        let SampleGradients { model, samples, loss, grads } = self;
        let (mut sum, mut samples_seen) = (T::zero(), 0usize);
        for (x, t) in samples {
            let (y, tape) = model.forward_tape_with(isa, x);
            let (value, d_y) = loss.loss_and_gradient(&y, t);
            sum = sum + value;
            if simd::WIDE_CPU && samples_seen == 0 {
                model.backward_params_with::<I, true>(isa, &tape, &d_y, grads);
            } else {
                model.backward_params_with::<I, false>(isa, &tape, &d_y, grads);
            }
            samples_seen += 1;
        }
        (sum, samples_seen)
    }
}

/// Shuffles two slices with the same permutation (Fisher–Yates), so that
/// inputs and their targets stay paired. Needs no allocator.
///
/// Draws are made so that the same generator state gives the same
/// permutation on every platform. If the lengths differ, only the common
/// prefix is shuffled.
pub fn shuffle_together<A, B, R: rand::Rng + ?Sized>(a: &mut [A], b: &mut [B], rng: &mut R) {
    fisher_yates(a.len().min(b.len()), rng, |i, j| {
        a.swap(i, j);
        b.swap(i, j);
    });
}

/// The Fisher–Yates shuffle of `n` items: for `i = n-1, ..., 1`, swap item
/// `i` with a uniformly chosen item `j ≤ i`.
fn fisher_yates<R: rand::Rng + ?Sized>(n: usize, rng: &mut R, mut swap: impl FnMut(usize, usize)) {
    for i in (1..n).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        // Always true; the test lets the compiler see that `swap` stays in
        // bounds, so no panic path is compiled in.
        if j <= i {
            swap(i, j);
        }
    }
}

/// A uniform integer in `0..n` (`n ≥ 1`), by rejection: no modulo bias, and
/// the same result for the same generator state on every platform.
fn below<R: rand::Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    let n = n.max(1); // never 0, and the compiler knows it: no division-by-zero panic
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// A learning-rate schedule: the learning rate of each epoch, from the
/// optimizer's initial learning rate `η₀`.
///
/// # Math
///
/// For epoch `e = 0, 1, 2, ...`:
///
/// * `Constant`: `η_e = η₀`.
/// * `Step { every: s, gamma: γ }`: `η_e = η₀ γ^⌊e / s⌋`, as `torch.optim.lr_scheduler.StepLR`.
/// * `Cosine { period: T, min_lr: η_min }`:
///   `η_e = η_min + (η₀ - η_min)(1 + cos(π e / T)) / 2` for `e ≤ T`, then
///   `η_min`, the closed form of `CosineAnnealingLR`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Schedule {
    /// The same learning rate every epoch.
    #[default]
    Constant,
    /// Multiply the learning rate by `gamma` every `every` epochs.
    Step {
        /// How many epochs between decays (at least 1).
        every: usize,
        /// The decay factor (positive and finite).
        gamma: f64,
    },
    /// Cosine annealing from the initial learning rate down to `min_lr` over
    /// `period` epochs.
    Cosine {
        /// The number of epochs to anneal over (at least 1).
        period: usize,
        /// The final learning rate (non-negative).
        min_lr: f64,
    },
}

impl Schedule {
    /// The learning rate for `epoch`, given the initial learning rate.
    pub fn learning_rate(&self, initial: f64, epoch: usize) -> f64 {
        match *self {
            Schedule::Constant => initial,
            Schedule::Step { every, gamma } => {
                let decays = epoch / every.max(1);
                (0..decays).fold(initial, |lr, _| lr * gamma)
            }
            Schedule::Cosine { period, min_lr } => {
                let progress = epoch.min(period) as f64 / period.max(1) as f64;
                min_lr + (initial - min_lr) * (1.0 + Float::cos(core::f64::consts::PI * progress)) / 2.0
            }
        }
    }

    /// Checks the schedule's parameters.
    pub fn check(&self) -> Result<(), Error> {
        use crate::optim::require;
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every, gamma } => {
                require("step schedule period", every as f64, every > 0, "at least 1")?;
                require("step schedule gamma", gamma, gamma > 0.0 && gamma.is_finite(), "positive and finite")
            }
            Schedule::Cosine { period, min_lr } => {
                require("cosine schedule period", period as f64, period > 0, "at least 1")?;
                require(
                    "cosine schedule minimum",
                    min_lr,
                    min_lr >= 0.0 && min_lr.is_finite(),
                    "non-negative and finite",
                )
            }
        }
    }
}

/// Stop training when the monitored loss (the validation loss if there is
/// validation data, else the training loss) has not improved for a while.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// How many epochs without improvement to tolerate before stopping.
    pub patience: usize,
    /// How much the loss must fall below the best so far to count as an
    /// improvement.
    pub min_delta: f64,
    /// Whether to put the best epoch's weights back into the model when
    /// training stops (early or not).
    pub restore_best: bool,
}

impl Default for EarlyStopping {
    /// Patience 10, any improvement counts, restore the best weights.
    fn default() -> Self {
        Self { patience: 10, min_delta: 0.0, restore_best: true }
    }
}

/// What happened in one epoch; the callback receives it and the history
/// keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport<T> {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The learning rate used in this epoch.
    pub learning_rate: f64,
    /// The mean training loss over the epoch's samples (each measured before
    /// its batch's update).
    pub train_loss: T,
    /// The mean loss on the validation data after the epoch, if given.
    pub validation_loss: Option<T>,
    /// The accuracy on the validation data after the epoch, if given and the
    /// loss is a classification loss.
    pub validation_accuracy: Option<f64>,
}

/// Why [`fit`](Train::fit) stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// The monitored loss stopped improving.
    EarlyStopping,
    /// The callback asked to stop.
    Callback,
}

/// What [`fit`](Train::fit) did, epoch by epoch.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq)]
pub struct History<T> {
    /// One report per epoch that ran.
    pub epochs: Vec<EpochReport<T>>,
    /// The epoch whose monitored loss (validation loss if given, else
    /// training loss) was the best: the last epoch that improved on the best
    /// before it by more than the early-stopping `min_delta` (any improvement
    /// without early stopping), as Keras counts it.
    pub best_epoch: usize,
    /// Why training stopped.
    pub stopped: StopReason,
}

#[cfg(feature = "alloc")]
impl<T: Copy> History<T> {
    /// The training loss of every epoch.
    pub fn train_loss(&self) -> Vec<T> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }

    /// The validation loss of every epoch (empty without validation data).
    pub fn validation_loss(&self) -> Vec<T> {
        self.epochs.iter().filter_map(|e| e.validation_loss).collect()
    }

    /// The validation accuracy of every epoch (empty without validation data
    /// or for regression losses).
    pub fn validation_accuracy(&self) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.validation_accuracy).collect()
    }
}

/// What the epoch callback returns: go on, or stop after this epoch.
#[cfg(feature = "alloc")]
pub type Control = ControlFlow<()>;

/// The epoch callback of [`FitOptions::on_epoch`]: called with each epoch's
/// report; `ControlFlow::Break(())` stops training after that epoch.
#[cfg(feature = "alloc")]
pub type EpochCallback<'a, T> = dyn FnMut(&EpochReport<T>) -> Control + 'a;

/// How [`fit`](Train::fit) trains.
///
/// ```
/// use backprop::train::{FitOptions, Schedule};
/// let options: FitOptions<'_, f32, 4, usize> =
///     FitOptions { epochs: 50, batch_size: 16, schedule: Schedule::Cosine { period: 50, min_lr: 0.0 }, ..Default::default() };
/// ```
#[cfg(feature = "alloc")]
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

#[cfg(feature = "alloc")]
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

/// The body of [`Train::fit`].
#[cfg(feature = "alloc")]
fn fit<M, T, L, O, R, const IN: usize, const N: usize>(
    model: &mut M,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    loss: &L,
    optimizer: &mut O,
    mut options: FitOptions<'_, T, IN, L::Target>,
    rng: &mut R,
) -> Result<History<T>, Error>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T> + Batched,
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

    // The schedule changes the optimizer's learning rate; however training
    // ends, the optimizer gets its own back.
    let initial_lr = optimizer.learning_rate();
    let mut train = || -> Result<History<T>, Error> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        // The batched path's matrices and gather buffers (allocated on first use).
        let mut workspace = Workspace::<M>::new();
        let mut gathered_targets: Vec<L::Target> = Vec::new();
        // Gradients and weight copies on the heap, made and copied in place
        // (a big model never passes through the stack).
        let mut grads: Box<M> = boxed_zeroed();
        let mut last_finite: Box<M> = boxed_copy(model);
        let mut best: Option<(T, usize, Box<M>)> = None;
        let mut history = History {
            epochs: Vec::with_capacity(options.epochs),
            best_epoch: 0,
            stopped: StopReason::Completed,
        };

        for epoch in 0..options.epochs {
            let learning_rate = options.schedule.learning_rate(initial_lr, epoch);
            optimizer.set_learning_rate(learning_rate);
            if options.shuffle {
                fisher_yates(order.len(), rng, |i, j| order.swap(i, j));
            }

            let mut total = T::zero();
            for (batch, indices) in order.chunks(options.batch_size).enumerate() {
                let mean = if M::uses_gemm(indices.len()) {
                    // The batched path: the rows as a matrix, gathered when shuffled.
                    match (options.shuffle, indices.first()) {
                        (false, Some(&first)) => {
                            let rows = first..first + indices.len();
                            workspace.gradient(
                                model,
                                &inputs[rows.clone()],
                                &targets[rows],
                                loss,
                                &mut grads,
                            )?
                        }
                        _ => workspace.gradient_of_rows(
                            model,
                            (inputs, targets),
                            indices,
                            &mut gathered_targets,
                            loss,
                            &mut grads,
                        )?,
                    }
                } else {
                    let samples = indices.iter().map(|&i| (&inputs[i], &targets[i]));
                    batch_gradient(model, samples, loss, &mut grads)
                };
                let diverged =
                    |loss: T| Error::Diverged { epoch, batch, loss: loss.to_f64().unwrap_or(f64::NAN) };
                if !mean.is_finite() {
                    return Err(diverged(mean));
                }
                options.clip.apply(&mut *grads);
                copy_params(&mut *last_finite, model);
                optimizer.step(model, &grads);
                if !all_finite(model) {
                    copy_params(model, &last_finite);
                    return Err(diverged(mean));
                }
                total = total + mean * count(indices.len());
            }
            let train_loss = total / count(inputs.len());

            let (validation_loss, validation_accuracy) = match options.validation {
                Some((x, t)) => {
                    let (loss_sum, correct) = x.iter().zip(t).fold((T::zero(), None), |(s, c), (x, t)| {
                        let y = model.forward(x);
                        let c = match loss.is_correct(&y, t) {
                            Some(ok) => Some(c.unwrap_or(0usize) + usize::from(ok)),
                            None => c,
                        };
                        (s + loss.loss(&y, t), c)
                    });
                    (Some(loss_sum / count(x.len())), correct.map(|c| c as f64 / x.len() as f64))
                }
                None => (None, None),
            };

            let report =
                EpochReport { epoch, learning_rate, train_loss, validation_loss, validation_accuracy };
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
    };
    let result = train();
    optimizer.set_learning_rate(initial_lr);
    result
}
