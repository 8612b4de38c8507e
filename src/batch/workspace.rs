//! The buffers of the batched path, and its entry points: batch inference
//! and batched training steps.

extern crate alloc;

use crate::check::check_data;
use crate::error::Error;
use crate::exec;
use crate::loss::{Loss, Targets};
use crate::model::Model;
use crate::optim::Optimizer;
use crate::params::Params;
use crate::step::{self, Clip, Rate};
use alloc::vec::Vec;
use num_traits::Float;

/// Everything a batched training step needs besides the model, its
/// gradients and the optimizer: the batch matrices of every layer and a
/// buffer for gathering shuffled rows. Allocated on first use, reused after.
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let mut net: Net = Model::init(&mut rng);
/// let (inputs, labels) = (vec![[0.5f32; 64]; 32], vec![3usize; 32]);
///
/// let mut workspace = Workspace::<Net>::new();
/// let mut grads = Net::zeroed();
/// let mut adam = Adam::new(1e-3);
/// let before = workspace.train_step(&mut net, &inputs, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)?;
/// let after = net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy)?;
/// assert!(after < before);
///
/// // Batch inference through the same matrices.
/// let logits = workspace.forward(&net, &inputs);
/// assert_eq!(logits.len(), 32);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Workspace<M: Model> {
    tape: M::Rows,
    gathered: Vec<M::Input>,
}

impl<M: Model> Default for Workspace<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> core::fmt::Debug for Workspace<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workspace").finish_non_exhaustive()
    }
}

impl<M: Model> Workspace<M> {
    /// An empty workspace; it allocates on first use, for the size of the
    /// batch it is given.
    pub fn new() -> Self {
        Workspace { tape: M::Rows::default(), gathered: Vec::new() }
    }
}

impl<M: Model> Workspace<M>
where
    M::Scalar: 'static,
{
    /// The outputs of `model` for every row of `inputs`, computed as one
    /// batch (each layer as a matrix product where that pays). The slice
    /// lives in the workspace until its next use.
    pub fn forward<'w>(&'w mut self, model: &M, inputs: &[M::Input]) -> &'w [M::Output] {
        exec::forward_rows(model, inputs, &mut self.tape)
    }
}

impl<M, T, const IN: usize, const N: usize> Workspace<M>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'static,
{
    /// The mean loss over the batch `inputs`, `targets`, and its gradient
    /// (the batch is checked first, as
    /// [`Train::check_data`](crate::Train::check_data) checks a data set):
    /// `grads` is overwritten with `(1/B) Σ_b ∂L_b/∂θ`, what
    /// [`Train::train_step`](crate::Train::train_step) computes with the
    /// per-sample path (up to rounding).
    ///
    /// # Math
    ///
    /// The output layer's gradient buffer receives `(1/B) ∂L_b/∂y_b` for
    /// every row `b`; the backward pass then sums over the rows, so the
    /// parameter gradients come out as means without a separate pass.
    pub fn gradient<L, Y>(
        &mut self,
        model: &M,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        grads: &mut M,
    ) -> Result<T, Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
    {
        check_data(loss, inputs, targets, "batch")?;
        self.batch_gradient(model, inputs, targets, loss, grads)
    }

    /// [`gradient`](Workspace::gradient), for the crate's own callers.
    pub(crate) fn batch_gradient<L: Loss<T, N>>(
        &mut self,
        model: &M,
        inputs: &[[T; IN]],
        targets: &[L::Target],
        loss: &L,
        grads: &mut M,
    ) -> Result<T, Error> {
        if inputs.len() != targets.len() {
            return Err(Error::LengthMismatch {
                what: "inputs",
                len: inputs.len(),
                other: "targets",
                other_len: targets.len(),
            });
        }
        if inputs.is_empty() {
            return Err(Error::EmptyData { what: "batch" });
        }
        Ok(exec::rows_gradient(model, inputs, targets, loss, &mut self.tape, grads, inputs.len()))
    }

    /// One optimizer step on one batch, through the batched path: the same
    /// contract as [`Train::train_step`](crate::Train::train_step)
    /// (mean loss before the update returned; on a non-finite loss nothing
    /// is updated and the result is [`Error::Diverged`]).
    #[allow(clippy::too_many_arguments)]
    pub fn train_step<L, O, Y>(
        &mut self,
        model: &mut M,
        inputs: &[[T; IN]],
        targets: &[Y],
        loss: &L,
        optimizer: &mut O,
        grads: &mut M,
        clip: Clip,
    ) -> Result<T, Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
        O: Optimizer<M>,
    {
        check_data(loss, inputs, targets, "batch")?;
        step::check_settings(optimizer, clip)?;
        step::step(model, grads, optimizer, clip, Rate::Own, |model, grads| {
            self.batch_gradient(model, inputs, targets, loss, grads)
        })
    }

    /// The rows `rows` of `inputs` and `targets` as part of a batch of
    /// `batch_rows` rows: writes their gradient divided by `batch_rows` into
    /// `grads` and returns their summed loss divided likewise. Shuffled rows
    /// (`Rows::Listed`) are gathered into the workspace first, their targets
    /// into `targets_buffer`. At least one row; every index in range (the
    /// callers' rows come from `0..inputs.len()`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows_gradient<L: Loss<T, N>>(
        &mut self,
        model: &M,
        (inputs, targets): (&[[T; IN]], &[L::Target]),
        rows: Rows<'_>,
        targets_buffer: &mut Vec<L::Target>,
        loss: &L,
        grads: &mut M,
        batch_rows: usize,
    ) -> T {
        match rows {
            Rows::Range(range) => {
                let inputs = inputs.get(range.clone()).unwrap_or(&[]);
                let targets = targets.get(range).unwrap_or(&[]);
                exec::rows_gradient(model, inputs, targets, loss, &mut self.tape, grads, batch_rows)
            }
            Rows::Listed(indices) => {
                let mut gathered = core::mem::take(&mut self.gathered);
                gathered.clear();
                targets_buffer.clear();
                for &i in indices {
                    if let (Some(x), Some(t)) = (inputs.get(i), targets.get(i)) {
                        gathered.push(*x);
                        targets_buffer.push(*t);
                    }
                }
                let gradient = exec::rows_gradient(
                    model,
                    &gathered,
                    targets_buffer,
                    loss,
                    &mut self.tape,
                    grads,
                    batch_rows,
                );
                self.gathered = gathered;
                gradient
            }
        }
    }
}

/// Which rows of a data set form a batch (or a shard of one).
#[derive(Clone, Debug)]
pub(crate) enum Rows<'a> {
    /// Consecutive rows (unshuffled training).
    Range(core::ops::Range<usize>),
    /// The rows at these indices (a shuffled mini-batch), gathered first.
    Listed(&'a [usize]),
}

impl Rows<'_> {
    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            Rows::Range(range) => range.len(),
            Rows::Listed(indices) => indices.len(),
        }
    }

    /// Rows `part` of these (positions within this batch).
    pub(crate) fn part(&self, part: core::ops::Range<usize>) -> Rows<'_> {
        match self {
            Rows::Range(range) => Rows::Range(range.start + part.start..range.start + part.end),
            Rows::Listed(indices) => Rows::Listed(indices.get(part).unwrap_or(&[])),
        }
    }
}
