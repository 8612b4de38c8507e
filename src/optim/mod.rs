//! Optimizers: how a gradient becomes a parameter update.
//!
//! An optimizer walks the model's parameters and gradients (which have the
//! model's own type) in lockstep through [`Params::visit`](crate::Params::visit),
//! one flat slice per tensor, so each update rule is a single loop.

mod sgd;

pub use sgd::Sgd;
