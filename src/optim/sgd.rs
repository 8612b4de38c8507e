//! Plain stochastic gradient descent.

use crate::error::Error;
use crate::math::cast;
use crate::model::Params;

/// Stochastic gradient descent: step every parameter against its gradient.
///
/// # Math
///
/// For every parameter `θ` with gradient `g = ∂L/∂θ` and learning rate `η`:
///
/// ```text
/// θ ← θ - η g
/// ```
///
/// This is `torch.optim.SGD(lr=η)` with no momentum and no weight decay.
///
/// ```
/// use backprop::prelude::*;
/// let mut layer: Dense<1, 1, Identity, f64> = Dense::new([[1.0]], [0.0]);
/// let grads: Dense<1, 1, Identity, f64> = Dense::new([[0.5]], [-1.0]);
/// Sgd::new(0.1).step(&mut layer, &grads);
/// assert_eq!((layer.weights, layer.bias), ([[0.95]], [0.1]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    lr: f64,
}

impl Sgd {
    /// SGD with learning rate `lr`. See [`check`](Sgd::check) for the valid
    /// range.
    pub fn new(lr: f64) -> Self {
        Self { lr }
    }

    /// The learning rate `η`.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Checks the hyper-parameters: the learning rate must be positive and
    /// finite.
    pub fn check(&self) -> Result<(), Error> {
        if self.lr > 0.0 && self.lr.is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidHyperparameter {
                name: "learning rate",
                value: self.lr,
                expected: "positive and finite",
            })
        }
    }

    /// One update `θ ← θ - η g` of every parameter of `model`, with `grads`
    /// the gradients (a model of the same type).
    pub fn step<M: Params>(&mut self, model: &mut M, grads: &M) {
        let lr: M::Scalar = cast(self.lr);
        M::visit([model], [grads], &mut |[theta], [g]| {
            for (theta, &g) in theta.iter_mut().zip(g.iter()) {
                *theta = *theta - lr * g;
            }
        });
    }
}
