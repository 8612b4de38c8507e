//! What training reports: each epoch's [`EpochReport`], why it stopped
//! ([`StopReason`]), and the [`History`] of a `fit`.

#[cfg(feature = "alloc")]
use crate::error::Error;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

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

/// Why [`fit`](crate::Train::fit) stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// The monitored loss stopped improving.
    EarlyStopping,
    /// The callback asked to stop.
    Callback,
    /// An error stopped it: the history is the one inside the
    /// [`FitError`].
    Failed,
}

/// What [`fit`](crate::Train::fit) did, epoch by epoch.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq)]
pub struct History<T> {
    /// One report per epoch that ran.
    pub epochs: Vec<EpochReport<T>>,
    /// The epoch whose monitored loss (validation loss if given, else
    /// training loss) was the best: the last epoch that improved on the best
    /// before it by more than the early-stopping `min_delta` (any improvement
    /// without early stopping), as Keras counts it. 0 if no epoch ran
    /// (`epochs: 0`, or a failure in the first): check `epochs.is_empty()`.
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

/// Why [`fit`](crate::Train::fit) failed, with the history of the epochs it
/// completed before (none if a check before the first step failed).
///
/// `?` turns it into the [`Error`] alone, so a function returning
/// `Result<_, backprop::Error>` can call `fit(..)?`.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq)]
pub struct FitError<T> {
    /// What went wrong.
    pub error: Error,
    /// The epochs that completed, with `stopped` set to
    /// [`StopReason::Failed`].
    pub history: History<T>,
}

#[cfg(feature = "alloc")]
impl<T> From<FitError<T>> for Error {
    fn from(e: FitError<T>) -> Error {
        e.error
    }
}

#[cfg(feature = "alloc")]
impl<T> core::fmt::Display for FitError<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let epochs = self.history.epochs.len();
        let plural = if epochs == 1 { "" } else { "s" };
        write!(f, "{} (after {epochs} complete epoch{plural})", self.error)
    }
}

#[cfg(feature = "std")]
impl<T: core::fmt::Debug> std::error::Error for FitError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
