//! The crate's one error type.
//!
//! No public function panics on bad data: wrong values (a class index past
//! the last class, a negative learning rate, a NaN in an input, slices of
//! different lengths) are reported as an [`Error`] that says what was wrong
//! and where. Wrong *shapes* are not errors at all: they do not compile.

use core::fmt;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A class index is not below the number of classes (the output width).
    ClassOutOfRange {
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The class index that was given.
        class: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A target holds NaN or an infinity.
    NonFiniteTarget {
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The position of the first such element in the target.
        index: usize,
    },
    /// A target of a loss on probabilities is outside `[0, 1]`.
    TargetNotProbability {
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The position of the first such element in the target.
        index: usize,
    },
    /// An input holds NaN or an infinity.
    NonFiniteInput {
        /// Which sample.
        sample: usize,
        /// The position of the first such element in the input.
        index: usize,
    },
    /// Two slices that must pair up element by element have different
    /// lengths.
    LengthMismatch {
        /// What the first slice holds (`"inputs"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// What the second slice holds (`"targets"`, `"labels"`, `"outputs"`).
        other: &'static str,
        /// Its length.
        other_len: usize,
    },
    /// A data set has no samples.
    EmptyData {
        /// Which data set (`"training data"`, `"validation data"`).
        what: &'static str,
    },
    /// A hyper-parameter (learning rate, batch size, Huber threshold, ...) is
    /// out of its range.
    InvalidHyperparameter {
        /// Which hyper-parameter.
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// Training diverged: the loss of a batch, or a parameter after an
    /// update, became NaN or infinite. Training stops there; the model keeps
    /// the last weights that were finite.
    Diverged {
        /// The epoch (from 0) in which it happened.
        epoch: usize,
        /// The batch (from 0) within the epoch.
        batch: usize,
        /// The batch's mean loss (NaN or infinite, or finite if the update
        /// itself overflowed).
        loss: f64,
    },
}

impl Error {
    /// The same error, attributed to sample `sample` of a data set.
    pub fn at_sample(self, sample: usize) -> Self {
        match self {
            Error::ClassOutOfRange { class, classes, .. } => {
                Error::ClassOutOfRange { sample, class, classes }
            }
            Error::NonFiniteTarget { index, .. } => Error::NonFiniteTarget { sample, index },
            Error::TargetNotProbability { index, .. } => Error::TargetNotProbability { sample, index },
            Error::NonFiniteInput { index, .. } => Error::NonFiniteInput { sample, index },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ClassOutOfRange { sample, class, classes } => write!(
                f,
                "sample {sample}: class index {class} is out of range: the model has {classes} outputs (classes 0..{classes})"
            ),
            Error::NonFiniteTarget { sample, index } => {
                write!(f, "sample {sample}: target element {index} is not finite")
            }
            Error::TargetNotProbability { sample, index } => {
                write!(f, "sample {sample}: target element {index} is not a probability in [0, 1]")
            }
            Error::NonFiniteInput { sample, index } => {
                write!(f, "sample {sample}: input element {index} is not finite")
            }
            Error::LengthMismatch { what, len, other, other_len } => {
                write!(f, "{len} {what} but {other_len} {other}: they must pair up one to one")
            }
            Error::EmptyData { what } => write!(f, "the {what} has no samples"),
            Error::InvalidHyperparameter { name, value, expected } => {
                write!(f, "invalid {name} {value}: it must be {expected}")
            }
            Error::Diverged { epoch, batch, loss } => write!(
                f,
                "training diverged in epoch {epoch}, batch {batch} (loss {loss}): \
                 the model keeps its last finite weights; try a smaller learning rate or gradient clipping"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
