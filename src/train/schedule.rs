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
///
/// # Cost
///
/// `Constant` and `Cosine` cost a few operations per epoch. `Step` is
/// computed as PyTorch's `StepLR` computes it, one rounded multiplication by
/// `γ` per decay (`η₀ γ γ ⋯ γ`, left to right), and those are the bits
/// [`fit`](crate::train::Train::fit) trains with. No shortcut gives those
/// bits in general: `γ^k` by squaring, or `exp(k ln γ)`, rounds differently,
/// and each product's rounding depends on the one before. So
/// [`learning_rate`](Schedule::learning_rate) takes up to `⌊e / s⌋`
/// multiplications for epoch `e` (fewer once the rate stops changing:
/// it reaches 0, an infinity, or a value that `γ` leaves as it is), while
/// [`rates`](Schedule::rates), which `fit` uses, walks the epochs in order
/// and keeps the product: one multiplication per decay in all, the same
/// bits.
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
    /// The learning rate for `epoch`, given the initial learning rate. The
    /// schedule's parameters are taken as they are: call
    /// [`check`](Schedule::check) first (`fit` checks them and every epoch's
    /// rate).
    ///
    /// For every epoch in turn, [`rates`](Schedule::rates) gives the same
    /// values at a constant cost per epoch (see [Cost](Schedule#cost)).
    pub fn learning_rate(&self, initial: f64, epoch: usize) -> f64 {
        match *self {
            Schedule::Constant => initial,
            Schedule::Step { every, gamma } => {
                let decays = epoch / every.max(1);
                let mut lr = initial;
                for _ in 0..decays {
                    let next = lr * gamma;
                    if next.to_bits() == lr.to_bits() {
                        // A fixed point (0, an infinity, or a value `gamma`
                        // rounds back to itself): every further product is
                        // the same multiplication of the same bits.
                        break;
                    }
                    lr = next;
                }
                lr
            }
            Schedule::Cosine { period, min_lr } => {
                let progress = epoch.min(period) as f64 / period.max(1) as f64;
                min_lr + (initial - min_lr) * (1.0 + Float::cos(core::f64::consts::PI * progress)) / 2.0
            }
        }
    }

    /// The learning rate of every epoch in turn, from epoch 0 on (an endless
    /// iterator: take as many as there are epochs). Item `e` has the same
    /// bits as [`learning_rate(initial, e)`](Schedule::learning_rate), and
    /// each item costs at most one multiplication: a `Step` schedule keeps
    /// its running product instead of recomputing it. This is what
    /// [`fit`](crate::train::Train::fit) uses, and what a training loop of
    /// your own can use with
    /// [`Optimizer::step_with_rate`](crate::optim::Optimizer::step_with_rate).
    ///
    /// ```
    /// use backprop::train::Schedule;
    ///
    /// let schedule = Schedule::Step { every: 2, gamma: 0.5 };
    /// let rates: Vec<f64> = schedule.rates(0.8).take(6).collect();
    /// assert_eq!(rates, [0.8, 0.8, 0.4, 0.4, 0.2, 0.2]);
    /// for (epoch, &rate) in rates.iter().enumerate() {
    ///     assert_eq!(rate, schedule.learning_rate(0.8, epoch));
    /// }
    /// ```
    pub fn rates(self, initial: f64) -> impl Iterator<Item = f64> + Clone {
        Rates { schedule: self, initial, epoch: 0, step: initial, until_decay: self.period() }
    }

    /// The epochs between two decays of a `Step` schedule (1 for the others,
    /// which do not use it).
    fn period(&self) -> usize {
        match *self {
            Schedule::Step { every, .. } => every.max(1),
            _ => 1,
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

/// The iterator of [`Schedule::rates`].
#[derive(Clone, Debug)]
struct Rates {
    schedule: Schedule,
    initial: f64,
    /// The epoch of the next item (saturating: from `usize::MAX` on, every
    /// schedule's rate no longer changes).
    epoch: usize,
    /// A `Step` schedule's rate for that epoch: `initial` multiplied by
    /// `gamma` once per decay so far, in the order `learning_rate` does it.
    step: f64,
    /// The epochs until the next decay of a `Step` schedule (from `every`
    /// down to 1).
    until_decay: usize,
}

impl Iterator for Rates {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let rate = match self.schedule {
            Schedule::Step { gamma, .. } => {
                let rate = self.step;
                self.until_decay -= 1;
                if self.until_decay == 0 {
                    self.step = rate * gamma;
                    self.until_decay = self.schedule.period();
                }
                rate
            }
            schedule => schedule.learning_rate(self.initial, self.epoch),
        };
        self.epoch = self.epoch.saturating_add(1);
        Some(rate)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
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

#[cfg(test)]
mod tests {
    use super::Schedule;

    /// `Schedule::Step`'s learning rate as it was computed before `rates`
    /// and the fixed-point exit: one multiplication per decay, every time.
    fn repeated_product(initial: f64, every: usize, gamma: f64, epoch: usize) -> f64 {
        let decays = epoch / every.max(1);
        (0..decays).fold(initial, |lr, _| lr * gamma)
    }

    const GAMMAS: [f64; 11] = [
        0.1,
        1.0 / 3.0,
        0.5,
        0.9,
        0.99,
        0.9999,
        1.0 - f64::EPSILON / 2.0, // the largest below 1
        1.0,
        1.01,
        1.5,
        2.0,
    ];

    /// Every epoch below 1100 (in which 0.1, 1/3, 0.5 and 2 take 0.1 to 0
    /// or an infinity, and 1.5 takes `f64::MAX` to one) and 14 more spread
    /// up to 10⁵.
    fn epochs() -> impl Iterator<Item = usize> {
        (0..1100).chain((0..12).map(|k| 1100 + k * 8311)).chain([99_999, 100_000])
    }

    #[test]
    fn step_rates_and_learning_rate_are_the_repeated_product_bit_for_bit() {
        for gamma in GAMMAS {
            for initial in [0.1, f64::MAX, 5e-324] {
                for every in [1, 7] {
                    let schedule = Schedule::Step { every, gamma };
                    let mut rates = schedule.rates(initial);
                    let mut next = 0;
                    for epoch in epochs() {
                        let rate = rates.by_ref().nth(epoch - next).unwrap();
                        next = epoch + 1;
                        let want = repeated_product(initial, every, gamma, epoch);
                        let got = schedule.learning_rate(initial, epoch);
                        let at = (gamma, initial, every, epoch);
                        let why = "(gamma, initial, every, epoch)";
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "learning_rate at {why} = {at:?}: {got:e}, want {want:e}"
                        );
                        assert_eq!(
                            rate.to_bits(),
                            want.to_bits(),
                            "rates at {why} = {at:?}: {rate:e}, want {want:e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rates_of_constant_and_cosine_are_learning_rate() {
        for schedule in [
            Schedule::Constant,
            Schedule::Cosine { period: 10, min_lr: 0.001 },
            Schedule::Cosine { period: 1, min_lr: 0.0 },
            Schedule::Step { every: 0, gamma: 0.5 }, // `every` 0 counts as 1, as in `learning_rate`
        ] {
            for (epoch, rate) in schedule.rates(0.1).take(40).enumerate() {
                let want = schedule.learning_rate(0.1, epoch);
                assert_eq!(
                    rate.to_bits(),
                    want.to_bits(),
                    "{schedule:?}, epoch {epoch}: {rate}, want {want}"
                );
            }
        }
    }

    #[test]
    fn a_step_rate_that_stopped_changing_costs_no_more_multiplications() {
        // 0.5 reaches 0 after 1075 halvings of 1.0; the old loop went on
        // multiplying 0 for the rest of the 10⁹ decays.
        let schedule = Schedule::Step { every: 1, gamma: 0.5 };
        assert_eq!(schedule.learning_rate(1.0, 1_000_000_000), 0.0);
        assert_eq!(schedule.learning_rate(1.0, 1074), 5e-324);
        assert_eq!(Schedule::Step { every: 1, gamma: 1.0 }.learning_rate(0.3, usize::MAX), 0.3);
        assert_eq!(Schedule::Step { every: 1, gamma: 2.0 }.learning_rate(1.0, usize::MAX), f64::INFINITY);
    }
}
