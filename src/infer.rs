//! Inference over data sets: [`Infer`], the predictions, classes, accuracy
//! and mean loss of a trained model.

use crate::check::{check_inputs, check_lengths, check_targets};
use crate::error::Error;
use crate::loss::{argmax, Loss, Targets};
use crate::math::count;
use crate::model::Model;
use crate::params::Params;
use num_traits::Float;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use crate::batch::Workspace;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "std")]
extern crate std;

/// The number of rows [`Infer::predict`] sends through the batched path at
/// a time.
#[cfg(feature = "alloc")]
pub const PREDICT_BATCH: usize = 256;

/// Running a [`Model`] on slices of samples: outputs, classes, accuracy and
/// mean loss.
///
/// Implemented for every model whose input is `[T; IN]` and output `[T; N]`
/// (which is every model of this crate); import it with the prelude.
///
/// ```
/// use backprop::prelude::*;
///
/// static XOR: (Dense<2, 2, Tanh>, Dense<2, 2, Identity>) = (
///     Dense { weights: [[4.0, 4.0], [-4.0, -4.0]], bias: [-2.0, 6.0], activation: Tanh },
///     Dense { weights: [[-5.0, -5.0], [5.0, 5.0]], bias: [5.0, -5.0], activation: Identity },
/// );
/// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// let labels = [0, 1, 1, 0];
/// assert_eq!(XOR.classify(&[0.0, 1.0])?, 1);
/// assert!(XOR.classify(&[f32::NAN, 1.0]).is_err()); // no class is invented
/// assert_eq!(XOR.accuracy(&inputs, &labels)?, 1.0);
/// assert!(XOR.evaluate(&inputs, &labels, &SoftmaxCrossEntropy)? < 0.01);
/// let mut outputs = [[0.0; 2]; 4];
/// XOR.predict_into(&inputs, &mut outputs)?; // no allocation
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait Infer<T: Float, const IN: usize, const N: usize>:
    Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>
{
    /// The output for every input, into `outputs` (which must have the same
    /// length), one sample at a time; no allocation.
    ///
    /// The outputs are the model's raw values, as
    /// [`forward`](crate::Forward::forward) computes them: a NaN input gives
    /// NaN outputs, which invent nothing. The summaries that would have to
    /// make something of them ([`classify`](Infer::classify),
    /// [`accuracy`](Infer::accuracy), [`evaluate`](Infer::evaluate)) refuse
    /// them instead.
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

    /// The output for every input: the model's raw values, NaN for NaN, as
    /// [`predict_into`](Infer::predict_into).
    ///
    /// When the model has a layer wide enough for the [batched
    /// path](crate::batch) to pay, the inputs go through it in batches of
    /// [`PREDICT_BATCH`] rows (each such layer one matrix product per batch);
    /// otherwise one by one through [`forward`](crate::Forward::forward).
    #[cfg(feature = "alloc")]
    fn predict(&self, inputs: &[[T; IN]]) -> Vec<[T; N]>
    where
        T: 'static,
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

    /// [`predict`](Infer::predict) shared among `threads` threads (`std`;
    /// 0 is an [`Error::InvalidHyperparameter`]): the same outputs, bit for
    /// bit, for any number of threads.
    ///
    /// The inputs are cut into the blocks `predict` runs one after the other
    /// ([`PREDICT_BATCH`] rows through the batched path, or single rows
    /// through [`forward`](crate::Forward::forward)), and each thread takes
    /// a run of consecutive blocks, each with its own workspace, writing
    /// its own part of the outputs: every block is computed by the same code
    /// as in `predict`, so the thread count changes nothing but the time.
    /// The threads are started for the call and joined before it returns.
    ///
    /// ```
    /// use backprop::prelude::*;
    ///
    /// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
    /// let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    /// let inputs = vec![[0.25f32; 64]; 1000];
    /// assert_eq!(net.predict_with_threads(&inputs, 2)?, net.predict(&inputs));
    /// assert!(net.predict_with_threads(&inputs, 0).is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    #[cfg(feature = "std")]
    fn predict_with_threads(&self, inputs: &[[T; IN]], threads: usize) -> Result<Vec<[T; N]>, Error>
    where
        T: Send + Sync + 'static,
        Self: Sync,
    {
        crate::optim::require("threads", threads as f64, threads > 0, "at least 1")?;
        let batched = Self::uses_gemm(inputs.len().min(PREDICT_BATCH));
        let block = if batched { PREDICT_BATCH } else { 1 };
        let blocks = inputs.len().div_ceil(block);
        if threads == 1 || blocks < 2 {
            return Ok(self.predict(inputs));
        }
        let mut outputs = alloc::vec![[T::zero(); N]; inputs.len()];
        // Thread t takes blocks ⌊t·blocks/threads⌋ .. ⌊(t+1)·blocks/threads⌋.
        let threads = threads.min(blocks);
        let rows_of = |t: usize| (t * blocks / threads * block).min(inputs.len());
        let run = |inputs: &[[T; IN]], outputs: &mut [[T; N]]| {
            if batched {
                let mut workspace = Workspace::<Self>::new();
                for (x, y) in inputs.chunks(PREDICT_BATCH).zip(outputs.chunks_mut(PREDICT_BATCH)) {
                    y.copy_from_slice(workspace.forward(self, x));
                }
            } else {
                for (x, y) in inputs.iter().zip(outputs.iter_mut()) {
                    *y = self.forward(x);
                }
            }
        };
        std::thread::scope(|scope| {
            let (first, mut rest) = outputs.split_at_mut(rows_of(1));
            for t in 1..threads {
                let (start, end) = (rows_of(t), rows_of(t + 1));
                let (mine, others) = core::mem::take(&mut rest).split_at_mut(end - start);
                rest = others;
                let inputs = inputs.get(start..end).unwrap_or(&[]);
                scope.spawn(move || run(inputs, mine));
            }
            // The calling thread takes the first run of blocks.
            run(inputs.get(..rows_of(1)).unwrap_or(&[]), first);
        });
        Ok(outputs)
    }

    /// The predicted class of one sample: the index of the largest output
    /// ([`argmax`]). For a net with one sigmoid output (binary
    /// classification), compare `forward(x)[0]` with ½ instead.
    ///
    /// No class is invented: an input element that is NaN or infinite is
    /// [`Error::NonFiniteInput`], and an output that is NaN (a NaN in the
    /// weights, an overflow inside the net) is [`Error::NonFiniteOutput`].
    fn classify(&self, input: &[T; IN]) -> Result<usize, Error> {
        check_input(input, 0)?;
        let output = self.forward(input);
        check_output(&output, 0)?;
        Ok(argmax(&output))
    }

    /// The fraction of samples whose predicted class ([`classify`](Infer::classify))
    /// equals their label. Every label must be a class (below `N`), every
    /// input finite, and no output NaN: the error names the first sample
    /// that is not.
    fn accuracy(&self, inputs: &[[T; IN]], labels: &[usize]) -> Result<f64, Error> {
        check_lengths(inputs, labels, "inputs", "labels")?;
        let mut correct = 0usize;
        for (sample, (x, &label)) in inputs.iter().zip(labels).enumerate() {
            if label >= N {
                return Err(Error::ClassOutOfRange { data: "data", sample, class: label, classes: N });
            }
            let class = self.classify(x).map_err(|e| e.at_sample(sample))?;
            correct += usize::from(class == label);
        }
        Ok(correct as f64 / inputs.len() as f64)
    }

    /// The mean loss over a data set. Every target must be valid for the
    /// loss, every input finite, every output finite and every sample's loss
    /// finite: the error names the first sample that is not.
    fn evaluate<L, Y>(&self, inputs: &[[T; IN]], targets: &[Y], loss: &L) -> Result<T, Error>
    where
        L: Targets<Y, T, N> + Loss<T, N, Target = Y>,
    {
        check_lengths(inputs, targets, "inputs", "targets")?;
        check_targets(loss, targets)?;
        let mut sum = T::zero();
        for (sample, (x, t)) in inputs.iter().zip(targets).enumerate() {
            check_input(x, sample)?;
            let y = self.forward(x);
            check_finite_output(&y, sample)?;
            sum = sum + finite_loss(loss.loss(&y, t), sample)?;
        }
        Ok(sum / count(inputs.len()))
    }
}

/// `Ok` if every element of the input of `sample` is finite.
fn check_input<T: Float, const IN: usize>(x: &[T; IN], sample: usize) -> Result<(), Error> {
    check_inputs(core::slice::from_ref(x)).map_err(|e| e.at_sample(sample))
}

/// `Ok` if no element of the output of `sample` is NaN (`classify`: an
/// infinite logit still has a class).
fn check_output<T: Float, const N: usize>(y: &[T; N], sample: usize) -> Result<(), Error> {
    output_where(y, sample, |v| v.is_nan())
}

/// `Ok` if every element of the output of `sample` is finite (a loss is
/// computed from it).
pub(crate) fn check_finite_output<T: Float, const N: usize>(y: &[T; N], sample: usize) -> Result<(), Error> {
    output_where(y, sample, |v| !v.is_finite())
}

/// [`Error::NonFiniteOutput`] for the first element of `y` that is `bad`.
fn output_where<T: Float, const N: usize>(
    y: &[T; N],
    sample: usize,
    bad: impl Fn(T) -> bool,
) -> Result<(), Error> {
    match y.iter().enumerate().find(|&(_, &v)| bad(v)) {
        Some((index, v)) => {
            let value = v.to_f64().unwrap_or(f64::NAN);
            Err(Error::NonFiniteOutput { data: "data", sample, index, value })
        }
        None => Ok(()),
    }
}

/// The loss of one sample, refused if it is not finite.
pub(crate) fn finite_loss<T: Float>(value: T, sample: usize) -> Result<T, Error> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFiniteLoss { data: "data", sample, loss: value.to_f64().unwrap_or(f64::NAN) })
    }
}

impl<M, T: Float, const IN: usize, const N: usize> Infer<T, IN, N> for M where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>
{
}
