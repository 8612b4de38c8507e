//! Stochastic gradient descent with momentum, dampening, Nesterov momentum
//! and weight decay.

use super::{check_learning_rate, check_weight_decay, require, Optimizer};
use crate::error::Error;
use crate::math::cast;
use crate::model::Params;
use num_traits::{Float, One, Zero};

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
///
/// The hyper-parameters are stored in the model's scalar type, so a step on
/// an `f32` model does no double-precision arithmetic (which a Cortex-M4F
/// would emulate in software).
#[derive(Clone)]
pub struct Sgd<M: Params> {
    lr: M::Scalar,
    momentum: M::Scalar,
    dampening: M::Scalar,
    nesterov: bool,
    weight_decay: M::Scalar,
    /// The momentum buffer `b`, one per parameter.
    buffer: M,
    /// Whether `buffer` holds a value yet (PyTorch starts it at the first
    /// gradient, undamped).
    started: bool,
}

impl<M: Params> Sgd<M> {
    /// SGD with learning rate `lr` and no momentum or weight decay.
    pub fn new(lr: f64) -> Self {
        let zero = M::Scalar::zero();
        Self {
            lr: cast(lr),
            momentum: zero,
            dampening: zero,
            nesterov: false,
            weight_decay: zero,
            buffer: M::zeroed(),
            started: false,
        }
    }

    /// Sets the momentum `μ` (default 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = cast(momentum);
        self
    }

    /// Sets the dampening `τ` (default 0).
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = cast(dampening);
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
        self.weight_decay = cast(weight_decay);
        self
    }
}

/// `θ ← θ - η (g + λ θ)` over one tensor. Out of line: one copy serves every
/// tensor of every model, which keeps firmware small; the loop inside still
/// vectorises.
#[inline(never)]
fn plain_step<T: Float>(theta: &mut [T], grad: &[T], lr: T, lambda: T, decay: bool) {
    for (theta, &g) in theta.iter_mut().zip(grad) {
        let g = if decay { g + lambda * *theta } else { g }; // g ← g + λ θ
        *theta = *theta - lr * g; //                            θ ← θ - η g
    }
}

/// The momentum update's scalars.
#[derive(Clone, Copy)]
struct Momentum<T> {
    lr: T,
    mu: T,
    one_minus_tau: T,
    lambda: T,
    decay: bool,
    nesterov: bool,
    started: bool,
}

impl<T: Float> Momentum<T> {
    /// The momentum update over one tensor (out of line, as [`plain_step`]).
    #[inline(never)]
    fn apply(&self, theta: &mut [T], buffer: &mut [T], grad: &[T]) {
        let Momentum { lr, mu, one_minus_tau, lambda, decay, nesterov, started } = *self;
        for ((theta, b), &g) in theta.iter_mut().zip(buffer.iter_mut()).zip(grad) {
            let g = if decay { g + lambda * *theta } else { g }; //           g ← g + λ θ
            *b = if started { mu * *b + one_minus_tau * g } else { g }; //    b ← μ b + (1 - τ) g
            let g = if nesterov { g + mu * *b } else { *b }; //               Nesterov: g + μ b
            *theta = *theta - lr * g; //                                      θ ← θ - η g
        }
    }
}

/// `x` as `f64`, for reporting.
fn wide<T: Float>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

impl<M: Params> Optimizer<M> for Sgd<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        let (lr, mu, lambda) = (self.lr, self.momentum, self.weight_decay);
        let one_minus_tau = M::Scalar::one() - self.dampening;
        let zero = M::Scalar::zero();
        let (use_momentum, nesterov, started) = (mu != zero, self.nesterov, self.started);
        self.started = use_momentum;
        let decay = lambda != zero;
        if use_momentum {
            let rule = Momentum { lr, mu, one_minus_tau, lambda, decay, nesterov, started };
            M::visit([model, &mut self.buffer], [grads], &mut |[theta, buffer], [grad]| rule.apply(theta, buffer, grad));
        } else {
            M::visit([model], [grads], &mut |[theta], [grad]| plain_step(theta, grad, lr, lambda, decay));
        }
    }

    fn learning_rate(&self) -> f64 {
        wide(self.lr)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = cast(lr);
    }

    fn check(&self) -> Result<(), Error> {
        let (momentum, dampening) = (wide(self.momentum), wide(self.dampening));
        check_learning_rate(wide(self.lr))?;
        require("momentum", momentum, momentum >= 0.0 && momentum.is_finite(), "non-negative and finite")?;
        require("dampening", dampening, dampening.is_finite(), "finite")?;
        check_weight_decay(wide(self.weight_decay))?;
        if self.nesterov {
            require("momentum", momentum, momentum > 0.0, "positive with Nesterov momentum")?;
            require("dampening", dampening, dampening == 0.0, "zero with Nesterov momentum")?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.buffer.fill_zero();
        self.started = false;
    }
}
