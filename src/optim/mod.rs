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
//! | [`Adam`] | first and second moments (with AMSGrad, their running maximum too) | `torch.optim.Adam` |
//! | [`AdamW`] | as `Adam` | `torch.optim.AdamW` |
//! | [`RmsProp`] | mean square (centred, the mean gradient too; with momentum, a momentum buffer) | `torch.optim.RMSprop` |
//!
//! The scalar hyper-parameters are `f64`, converted to the model's scalar type
//! at each step.

mod adam;
mod rmsprop;
mod sgd;

pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use sgd::{Sgd, SgdMomentum};

use crate::error::Error;
use crate::params::Params;

/// A buffer of the model's type that an optimizer keeps only when an option
/// needs it: [`Unused`] (the option is off, nothing is kept) or [`Kept`].
/// The choice is part of the optimizer's type (`Adam<M>` against
/// `Adam<M, Kept<M>>` with AMSGrad), so an option that is off costs no
/// memory. Sealed: these two are all there is.
pub trait Buffer<M: Params>: Clone + core::fmt::Debug + sealed::Sealed {
    /// Nothing, or a zero buffer.
    #[doc(hidden)]
    fn zeroed() -> Self;

    /// The buffer, if one is kept.
    #[doc(hidden)]
    fn get(&mut self) -> Option<&mut M>;
}

mod sealed {
    /// Only this module's buffers are [`Buffer`](super::Buffer)s.
    pub trait Sealed {}
    impl Sealed for super::Unused {}
    impl<M> Sealed for super::Kept<M> {}
}

/// An optimizer buffer that is not kept: its option is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unused;

/// An optimizer buffer that is kept: a value of the model's type.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept<M>(M);

impl<M: Params> Buffer<M> for Unused {
    fn zeroed() -> Self {
        Unused
    }
    fn get(&mut self) -> Option<&mut M> {
        None
    }
}

impl<M: Params + Clone + core::fmt::Debug> Buffer<M> for Kept<M> {
    fn zeroed() -> Self {
        Kept(M::zeroed())
    }
    fn get(&mut self) -> Option<&mut M> {
        Some(&mut self.0)
    }
}

/// An update rule for the parameters of models of type `M`.
pub trait Optimizer<M: Params> {
    /// Updates `model` one step against `grads` (the gradient of the loss,
    /// a value of the model's own type), with the optimizer's own learning
    /// rate.
    ///
    /// The update itself checks nothing (it is the innermost loop of
    /// training, and runs on microcontrollers): call
    /// [`check`](Optimizer::check) once after building the optimizer, as
    /// every training entry point of the crate does before each step.
    fn step(&mut self, model: &mut M, grads: &M) {
        self.step_with_rate(self.learning_rate(), model, grads)
    }

    /// [`step`](Optimizer::step) with the learning rate `lr` instead of the
    /// optimizer's own, which stays as it is: how a learning-rate schedule
    /// reaches the optimizer. [`fit`](crate::Train::fit) calls it with
    /// [`Schedule::learning_rate`](crate::train::Schedule::learning_rate)
    /// of the optimizer's own rate and the epoch, as PyTorch's schedulers
    /// set each epoch's rate; a hand-written loop can do the same with any
    /// rule.
    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M);

    /// The optimizer's own learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the optimizer's own learning rate.
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

/// The learning rate must be positive and finite, as given (`f64`) and in
/// the model's scalar type `T` (where `1e-50` is 0 in `f32`, say).
pub(crate) fn check_learning_rate<T: num_traits::Float>(lr: f64) -> Result<(), Error> {
    require("learning rate", lr, lr > 0.0 && lr.is_finite(), "positive and finite")?;
    let narrow: T = crate::math::cast(lr);
    let expected = if crate::math::is_f32::<T>() {
        "representable in f32, the model's scalar type (it rounds to 0 or overflows there)"
    } else {
        "representable in the model's scalar type (it rounds to 0 or overflows there)"
    };
    require("learning rate", lr, narrow > T::zero() && narrow.is_finite(), expected)
}

/// `ε` must be positive and finite, as given and in the model's scalar type
/// `T`: with `ε = 0` a parameter whose gradient has always been 0 divides
/// zero by zero.
pub(crate) fn check_eps<T: num_traits::Float>(eps: f64) -> Result<(), Error> {
    let narrow: T = crate::math::cast(eps);
    require(
        "eps",
        eps,
        eps > 0.0 && eps.is_finite() && narrow > T::zero() && narrow.is_finite(),
        "positive and finite, also in the model's scalar type",
    )
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
