//! Optimizers: how a gradient becomes a parameter update.
//!
//! Each optimizer follows `torch.optim` exactly: the same hyper-parameters
//! with the same defaults, the same update order, the same treatment of the
//! first step. Its per-parameter state (momentum buffers, moment estimates)
//! has the model's own type, so it lives inline in the optimizer value, on the
//! stack or in a `static`, with no allocation; every update rule is one loop
//! over aligned flat slices handed out by [`Params::visit`].
//!
//! | optimizer | state | PyTorch |
//! |---|---|---|
//! | [`Sgd`] | none | `torch.optim.SGD` |
//! | [`SgdMomentum`] (from [`Sgd::momentum`]) | momentum buffer | `torch.optim.SGD` with momentum |
//! | [`Adam`] | first and second moments (and with AMSGrad, [`Maximum`], their running maximum) | `torch.optim.Adam` |
//! | [`AdamW`] | as `Adam` | `torch.optim.AdamW` |
//! | [`RmsProp`] | mean square, mean gradient, momentum buffer | `torch.optim.RMSprop` |
//!
//! The scalar hyper-parameters are `f64`, converted to the model's scalar type
//! at each step.

mod adam;
mod rmsprop;
mod sgd;

pub use adam::{Adam, AdamW, AmsGrad, Maximum, NoMaximum};
pub use rmsprop::RmsProp;
pub use sgd::{Sgd, SgdMomentum};

use crate::error::Error;
use crate::model::Params;

/// An update rule for the parameters of models of type `M`.
pub trait Optimizer<M: Params> {
    /// Updates `model` one step against `grads` (the gradient of the loss,
    /// a value of the model's own type).
    fn step(&mut self, model: &mut M, grads: &M);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (learning-rate schedules call this between
    /// epochs).
    fn set_learning_rate(&mut self, lr: f64);

    /// Checks every hyper-parameter, naming the first one out of range.
    fn check(&self) -> Result<(), Error>;

    /// Forgets all state (moments, momentum, step count), as if new.
    fn reset(&mut self);
}

/// `Ok` if `value` satisfies `valid`, else an [`Error::InvalidHyperparameter`].
pub(crate) fn require(
    name: &'static str,
    value: f64,
    valid: bool,
    expected: &'static str,
) -> Result<(), Error> {
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter { name, value, expected })
    }
}

/// The learning rate must be positive and finite.
pub(crate) fn check_learning_rate(lr: f64) -> Result<(), Error> {
    require("learning rate", lr, lr > 0.0 && lr.is_finite(), "positive and finite")
}

/// Weight decay must be non-negative and finite.
pub(crate) fn check_weight_decay(weight_decay: f64) -> Result<(), Error> {
    require(
        "weight decay",
        weight_decay,
        weight_decay >= 0.0 && weight_decay.is_finite(),
        "non-negative and finite",
    )
}
