//! How training proceeds over epochs: the learning-rate [`Schedule`] and
//! [`EarlyStopping`].

use crate::error::Error;
use num_traits::Float;

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
