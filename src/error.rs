//! The crate's one error type.
//!
//! No public function panics on bad data: wrong values (a class index past
//! the last class, a negative learning rate, a NaN in a target) are reported
//! as an [`Error`] that says what was wrong and where. Wrong *shapes* are not
//! errors at all: they do not compile.

use core::fmt;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A class index is not below the number of classes (the output width).
    ClassOutOfRange {
        /// The class index that was given.
        class: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A target holds NaN or an infinity.
    NonFiniteTarget {
        /// The position of the first such element in the target.
        index: usize,
    },
    /// A target of a loss on probabilities is outside `[0, 1]`.
    TargetNotProbability {
        /// The position of the first such element in the target.
        index: usize,
    },
    /// A hyper-parameter (learning rate, Huber threshold, ...) is out of its
    /// range.
    InvalidHyperparameter {
        /// Which hyper-parameter.
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ClassOutOfRange { class, classes } => {
                write!(f, "class index {class} is out of range: the model has {classes} outputs (classes 0..{classes})")
            }
            Error::NonFiniteTarget { index } => write!(f, "target element {index} is not finite"),
            Error::TargetNotProbability { index } => {
                write!(f, "target element {index} is not a probability in [0, 1]")
            }
            Error::InvalidHyperparameter { name, value, expected } => {
                write!(f, "invalid {name} {value}: it must be {expected}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
