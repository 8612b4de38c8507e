//! RMSprop: divide the gradient by a running root-mean-square of itself.

use super::{check_learning_rate, check_weight_decay, require, Optimizer};
use crate::error::Error;
use crate::math::{cast, flush_subnormal};
use crate::model::Params;
use num_traits::Float;

/// RMSprop, `torch.optim.RMSprop`.
///
/// # Math
///
/// For every parameter `θ` with gradient `g`, learning rate `η`, smoothing
/// constant `α`, `ε`, momentum `μ` and weight decay `λ` (all state starting
/// at zero):
///
/// ```text
/// g ← g + λ θ                               (weight decay, if λ ≠ 0)
/// s ← α s + (1 - α) g²                      (mean square)
/// a ← α a + (1 - α) g                       (mean gradient; centred only)
/// d ← √(s - a²) + ε   (centred)   or   d ← √s + ε
/// b ← μ b + g / d,   θ ← θ - η b            (if μ > 0)
/// θ ← θ - η g / d                           (otherwise)
/// ```
///
/// Defaults as PyTorch: `α = 0.99`, `ε = 1e-8`, `μ = 0`, `λ = 0`, not
/// centred (PyTorch's default learning rate is `0.01`). State values that
/// fall below the smallest normal number are set to zero
/// ([`flush_subnormal`](crate::math::flush_subnormal)).
#[derive(Clone, Debug)]
pub struct RmsProp<M> {
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
    weight_decay: f64,
    /// The mean square `s`.
    square_avg: M,
    /// The mean gradient `a` (centred only).
    grad_avg: M,
    /// The momentum buffer `b`.
    buffer: M,
}

impl<M: Params> RmsProp<M> {
    /// The optimizer's size in bytes, its per-parameter state included
    /// (`size_of::<Self>()`), known at compile time: what a microcontroller
    /// must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

    /// RMSprop with learning rate `lr` and PyTorch's defaults for everything
    /// else.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
            square_avg: M::zeroed(),
            grad_avg: M::zeroed(),
            buffer: M::zeroed(),
        }
    }

    /// Sets the smoothing constant `α` in `[0, 1)` (default 0.99).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets `ε` (default `1e-8`).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the momentum `μ` (default 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Centres the second moment by the squared mean gradient (default off).
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    /// Sets the weight decay `λ` (default 0): L2, added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

/// The scalars and switches of one RMSprop step.
#[derive(Clone, Copy)]
struct Rule<T> {
    lr: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    mu: T,
    lambda: T,
    decay: bool,
    centered: bool,
    momentum: bool,
}

impl<T: Float> Rule<T> {
    /// The update of one tensor; the slices are separate arguments so that
    /// the compiler knows they do not overlap, and vectorises the loop.
    #[inline]
    fn apply(&self, theta: &mut [T], square_avg: &mut [T], grad_avg: &mut [T], buffer: &mut [T], grad: &[T]) {
        let Rule { lr, alpha, one_minus_alpha, eps, mu, lambda, decay, centered, momentum } = *self;
        let slots =
            theta.iter_mut().zip(square_avg.iter_mut()).zip(grad_avg.iter_mut()).zip(buffer.iter_mut());
        for ((((theta, s), a), b), &g) in slots.zip(grad) {
            let mut g = g;
            if decay {
                g = g + lambda * *theta; //                   g ← g + λ θ
            }
            *s = flush_subnormal(alpha * *s + one_minus_alpha * g * g); //  s ← α s + (1 - α) g²
            let d = if centered {
                *a = flush_subnormal(*a + one_minus_alpha * (g - *a)); //   a ← α a + (1 - α) g
                (*s - *a * *a).sqrt() + eps
            } else {
                s.sqrt() + eps
            };
            if momentum {
                *b = flush_subnormal(mu * *b + g / d); //                   b ← μ b + g / d
                *theta = *theta - lr * *b;
            } else {
                *theta = *theta - lr * (g / d);
            }
        }
    }
}

impl<M: Params> Optimizer<M> for RmsProp<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        let lr: M::Scalar = cast(self.lr);
        let (alpha, one_minus_alpha): (M::Scalar, M::Scalar) = (cast(self.alpha), cast(1.0 - self.alpha));
        let (eps, mu, lambda): (M::Scalar, M::Scalar, M::Scalar) =
            (cast(self.eps), cast(self.momentum), cast(self.weight_decay));
        let (decay, centered, momentum) = (self.weight_decay != 0.0, self.centered, self.momentum > 0.0);

        let rule = Rule { lr, alpha, one_minus_alpha, eps, mu, lambda, decay, centered, momentum };
        M::visit(
            [model, &mut self.square_avg, &mut self.grad_avg, &mut self.buffer],
            [grads],
            &mut |[theta, square_avg, grad_avg, buffer], [grad]| {
                rule.apply(theta, square_avg, grad_avg, buffer, grad)
            },
        );
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn check(&self) -> Result<(), Error> {
        check_learning_rate(self.lr)?;
        require("alpha", self.alpha, (0.0..1.0).contains(&self.alpha), "in [0, 1)")?;
        require("eps", self.eps, self.eps >= 0.0 && self.eps.is_finite(), "non-negative and finite")?;
        require(
            "momentum",
            self.momentum,
            self.momentum >= 0.0 && self.momentum.is_finite(),
            "non-negative and finite",
        )?;
        check_weight_decay(self.weight_decay)
    }

    fn reset(&mut self) {
        self.square_avg.fill_zero();
        self.grad_avg.fill_zero();
        self.buffer.fill_zero();
    }
}
