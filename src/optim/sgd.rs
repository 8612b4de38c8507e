//! Stochastic gradient descent with momentum, dampening, Nesterov momentum
//! and weight decay.

use super::{check_learning_rate, check_weight_decay, require, Optimizer};
use crate::error::Error;
use crate::math::cast;
use crate::model::Params;

/// Stochastic gradient descent, `torch.optim.SGD`.
///
/// # Math
///
/// For every parameter `θ` with gradient `g = ∂L/∂θ`, learning rate `η`,
/// momentum `μ`, dampening `τ` and weight decay `λ`, at step `t = 1, 2, ...`:
///
/// ```text
/// g ← g + λ θ                              (weight decay, if λ ≠ 0)
/// b ← g                                    (t = 1)
/// b ← μ b + (1 - τ) g                      (t > 1)        (if μ ≠ 0)
/// g ← g + μ b   (Nesterov)   or   g ← b    (otherwise)    (if μ ≠ 0)
/// θ ← θ - η g
/// ```
///
/// With `μ = 0` (the default) this is plain gradient descent `θ ← θ - η g`.
/// Nesterov momentum requires `μ > 0` and `τ = 0`, as in PyTorch.
///
/// ```
/// use backprop::prelude::*;
/// let mut layer: Dense<1, 1, Identity, f64> = Dense::new([[1.0]], [0.0]);
/// let grads: Dense<1, 1, Identity, f64> = Dense::new([[0.5]], [-1.0]);
/// let mut sgd = Sgd::new(0.1);
/// sgd.step(&mut layer, &grads);
/// assert_eq!((layer.weights, layer.bias), ([[0.95]], [0.1]));
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<M> {
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    /// The momentum buffer `b`, one per parameter.
    buffer: M,
    /// Whether `buffer` holds a value yet (PyTorch starts it at the first
    /// gradient, undamped).
    started: bool,
}

impl<M: Params> Sgd<M> {
    /// SGD with learning rate `lr` and no momentum or weight decay.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            buffer: M::zeroed(),
            started: false,
        }
    }

    /// Sets the momentum `μ` (default 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening `τ` (default 0).
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }

    /// Turns Nesterov momentum on or off (default off).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the weight decay `λ` (default 0): an L2 penalty `½ λ ‖θ‖²` added
    /// to the loss, through its gradient `λ θ`.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl<M: Params> Optimizer<M> for Sgd<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        let lr: M::Scalar = cast(self.lr);
        let mu: M::Scalar = cast(self.momentum);
        let one_minus_tau: M::Scalar = cast(1.0 - self.dampening);
        let lambda: M::Scalar = cast(self.weight_decay);
        let (use_momentum, nesterov, started) = (self.momentum != 0.0, self.nesterov, self.started);
        self.started = use_momentum;
        let decay = self.weight_decay != 0.0;
        if !use_momentum {
            // Plain SGD: the momentum buffer is not touched.
            M::visit([model], [grads], &mut |[theta], [grad]| {
                for (theta, &g) in theta.iter_mut().zip(grad) {
                    let g = if decay { g + lambda * *theta } else { g };
                    *theta = *theta - lr * g; //                    θ ← θ - η g
                }
            });
            return;
        }
        M::visit([model, &mut self.buffer], [grads], &mut |[theta, buffer], [grad]| {
            for ((theta, b), &g) in theta.iter_mut().zip(buffer.iter_mut()).zip(grad) {
                let g = if decay { g + lambda * *theta } else { g }; // g ← g + λ θ
                *b = if started { mu * *b + one_minus_tau * g } else { g }; // b ← μ b + (1 - τ) g
                let g = if nesterov { g + mu * *b } else { *b };
                *theta = *theta - lr * g; //                         θ ← θ - η g
            }
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn check(&self) -> Result<(), Error> {
        check_learning_rate(self.lr)?;
        require(
            "momentum",
            self.momentum,
            self.momentum >= 0.0 && self.momentum.is_finite(),
            "non-negative and finite",
        )?;
        require("dampening", self.dampening, self.dampening.is_finite(), "finite")?;
        check_weight_decay(self.weight_decay)?;
        if self.nesterov {
            require("momentum", self.momentum, self.momentum > 0.0, "positive with Nesterov momentum")?;
            require("dampening", self.dampening, self.dampening == 0.0, "zero with Nesterov momentum")?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.buffer.fill_zero();
        self.started = false;
    }
}
