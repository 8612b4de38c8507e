//! Stochastic gradient descent, with or without momentum.
//!
//! Plain SGD keeps no state, so [`Sgd`] holds only its two scalars. Momentum
//! needs a buffer the size of the model, so asking for it,
//! [`Sgd::momentum`], returns a different type, [`SgdMomentum`], that owns
//! one. A microcontroller training with plain SGD does not pay for a buffer
//! (or for the code that updates it) that it never uses.

use super::{check_learning_rate, check_weight_decay, require, Optimizer};
use crate::error::Error;
use crate::math::{cast, flush_subnormal};
use crate::params::Params;
use num_traits::{Float, One, Zero};

/// Stochastic gradient descent, `torch.optim.SGD` without momentum.
///
/// # Math
///
/// For every parameter `θ` with gradient `g = ∂L/∂θ`, learning rate `η` and
/// weight decay `λ`:
///
/// ```text
/// g ← g + λ θ                              (weight decay, if λ ≠ 0)
/// θ ← θ - η g
/// ```
///
/// For momentum, dampening and Nesterov momentum, see [`Sgd::momentum`].
///
/// # Generics
///
/// `M` is the model type, inferred from the model the optimizer steps, as
/// for every optimizer of this crate. The hyper-parameters are stored in the
/// model's scalar type, so a step on an `f32` model does no double-precision
/// arithmetic (which a Cortex-M4F would emulate in software).
///
/// ```
/// use backprop::prelude::*;
/// let mut layer: Dense<1, 1, Identity, f64> = Dense::new([[1.0]], [0.0]);
/// let grads: Dense<1, 1, Identity, f64> = Dense::new([[0.5]], [-1.0]);
/// let mut sgd = Sgd::new(0.1);
/// sgd.step(&mut layer, &grads);
/// assert_eq!((layer.weights, layer.bias), ([[0.95]], [0.1]));
/// ```
pub struct Sgd<M: Params> {
    lr: M::Scalar,
    weight_decay: M::Scalar,
    /// The learning rate as given, for reporting it if it is not
    /// representable in the model's scalar type.
    given_lr: f64,
}

impl<M: Params> Clone for Sgd<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Params> Copy for Sgd<M> {}

impl<M: Params> core::fmt::Debug for Sgd<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sgd")
            .field("lr", &wide(self.lr))
            .field("weight_decay", &wide(self.weight_decay))
            .finish()
    }
}

impl<M: Params> PartialEq for Sgd<M> {
    fn eq(&self, other: &Self) -> bool {
        self.lr == other.lr && self.weight_decay == other.weight_decay && self.given_lr == other.given_lr
    }
}

impl<M: Params> Sgd<M> {
    /// The optimizer's size in bytes, its two scalars and the learning rate
    /// as given, and no per-parameter state (`size_of::<Self>()`), known at
    /// compile time: what a microcontroller must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

    /// SGD with learning rate `lr` and no weight decay.
    pub fn new(lr: f64) -> Self {
        Self { lr: cast(lr), weight_decay: M::Scalar::zero(), given_lr: lr }
    }

    /// Sets the weight decay `λ` (default 0): an L2 penalty `½ λ ‖θ‖²` added
    /// to the loss, through its gradient `λ θ`.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = cast(weight_decay);
        self
    }

    /// SGD with momentum `μ`: see [`SgdMomentum`].
    pub fn momentum(self, momentum: f64) -> SgdMomentum<M> {
        SgdMomentum {
            plain: self,
            momentum: cast(momentum),
            dampening: M::Scalar::zero(),
            nesterov: false,
            buffer: M::zeroed(),
            started: false,
        }
    }

    /// `θ ← θ - η (g + λ θ)` with the learning rate `lr`.
    fn update(&self, lr: M::Scalar, model: &mut M, grads: &M) {
        let weight_decay = self.weight_decay;
        M::visit([model], [grads], &mut |[theta], [grad]| plain_step(theta, grad, lr, weight_decay));
    }
}

impl<M: Params> Optimizer<M> for Sgd<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        self.update(self.lr, model, grads);
    }

    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M) {
        self.update(cast(lr), model, grads);
    }

    fn learning_rate(&self) -> f64 {
        wide(self.lr)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = cast(lr);
        self.given_lr = lr;
    }

    fn check(&self) -> Result<(), Error> {
        check_learning_rate::<M::Scalar>(self.given_lr)?;
        check_weight_decay(wide(self.weight_decay))
    }

    fn reset(&mut self) {}
}

/// `θ ← θ - η (g + λ θ)` over one tensor. Out of line on microcontrollers:
/// one copy serves every tensor of every model, which keeps firmware small.
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline)]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")), inline(never))]
fn plain_step<T: Float>(theta: &mut [T], grad: &[T], lr: T, lambda: T) {
    let decay = lambda != T::zero();
    for (theta, &g) in theta.iter_mut().zip(grad) {
        let g = if decay { g + lambda * *theta } else { g }; // g ← g + λ θ
        *theta = *theta - lr * g; //                            θ ← θ - η g
    }
}

/// Stochastic gradient descent with momentum, `torch.optim.SGD` with
/// `momentum > 0`: made by [`Sgd::momentum`].
///
/// # Math
///
/// For every parameter `θ` with gradient `g`, learning rate `η`, momentum
/// `μ`, dampening `τ` and weight decay `λ`, at step `t = 1, 2, ...`:
///
/// ```text
/// g ← g + λ θ                              (weight decay, if λ ≠ 0)
/// b ← g                                    (t = 1)
/// b ← μ b + (1 - τ) g                      (t > 1)
/// g ← g + μ b   (Nesterov)   or   g ← b    (otherwise)
/// θ ← θ - η g
/// ```
///
/// The first step starts the buffer at the undamped gradient, as PyTorch
/// does. Buffer values that fall below the smallest normal number are set to
/// zero (too small to move a parameter, and slow to compute with on x86). With `μ = 0` it behaves exactly as plain [`Sgd`]. Nesterov momentum
/// requires `μ > 0` and `τ = 0`, as in PyTorch.
///
/// ```
/// use backprop::prelude::*;
/// type Net = (Dense<2, 4, Tanh>, Dense<4, 1, Identity>);
/// let sgd: SgdMomentum<Net> = Sgd::new(0.05).momentum(0.9).nesterov(true).weight_decay(1e-4);
/// assert!(sgd.check().is_ok());
/// ```
#[derive(Clone)]
pub struct SgdMomentum<M: Params> {
    /// The learning rate and weight decay.
    plain: Sgd<M>,
    momentum: M::Scalar,
    dampening: M::Scalar,
    nesterov: bool,
    /// The momentum buffer `b`, one per parameter.
    buffer: M,
    /// Whether `buffer` holds a value yet.
    started: bool,
}

impl<M: Params> SgdMomentum<M> {
    /// The optimizer's size in bytes, its per-parameter state included
    /// (`size_of::<Self>()`), known at compile time: what a microcontroller
    /// must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

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

    /// Sets the weight decay `λ` (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.plain = self.plain.weight_decay(weight_decay);
        self
    }
}

impl<M: Params> SgdMomentum<M> {
    /// One momentum step with the learning rate `lr`.
    fn update(&mut self, lr: M::Scalar, model: &mut M, grads: &M) {
        if self.momentum == M::Scalar::zero() {
            // PyTorch keeps no buffer at zero momentum: plain SGD.
            return self.plain.update(lr, model, grads);
        }
        let rule = Momentum {
            lr,
            lambda: self.plain.weight_decay,
            mu: self.momentum,
            one_minus_tau: M::Scalar::one() - self.dampening,
            nesterov: self.nesterov,
            started: self.started,
        };
        M::visit([model, &mut self.buffer], [grads], &mut |[theta, buffer], [grad]| {
            rule.apply(theta, buffer, grad)
        });
        self.started = true;
    }
}

impl<M: Params> Optimizer<M> for SgdMomentum<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        self.update(self.plain.lr, model, grads);
    }

    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M) {
        self.update(cast(lr), model, grads);
    }

    fn learning_rate(&self) -> f64 {
        wide(self.plain.lr)
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.plain.set_learning_rate(lr);
    }

    fn check(&self) -> Result<(), Error> {
        self.plain.check()?;
        let (momentum, dampening) = (wide(self.momentum), wide(self.dampening));
        require("momentum", momentum, momentum >= 0.0 && momentum.is_finite(), "non-negative and finite")?;
        require("dampening", dampening, dampening.is_finite(), "finite")?;
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

/// The momentum update's scalars.
#[derive(Clone, Copy)]
struct Momentum<T> {
    lr: T,
    lambda: T,
    mu: T,
    one_minus_tau: T,
    nesterov: bool,
    started: bool,
}

impl<T: Float> Momentum<T> {
    /// The momentum update over one tensor (out of line, as [`plain_step`]).
    #[inline(never)]
    fn apply(&self, theta: &mut [T], buffer: &mut [T], grad: &[T]) {
        let Momentum { lr, lambda, mu, one_minus_tau, nesterov, started } = *self;
        let decay = lambda != T::zero();
        for ((theta, b), &g) in theta.iter_mut().zip(buffer.iter_mut()).zip(grad) {
            let g = if decay { g + lambda * *theta } else { g }; //           g ← g + λ θ
            *b = flush_subnormal(if started { mu * *b + one_minus_tau * g } else { g }); // b ← μ b + (1 - τ) g
            let g = if nesterov { g + mu * *b } else { *b }; //               Nesterov: g + μ b
            *theta = *theta - lr * g; //                                      θ ← θ - η g
        }
    }
}

/// `x` as `f64`, for reporting.
fn wide<T: Float>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}
