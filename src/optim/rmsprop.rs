//! RMSprop: divide the gradient by a running root-mean-square of itself.

use super::{check_eps, check_learning_rate, check_weight_decay, require, Buffer, Kept, Optimizer, Unused};
use crate::error::Error;
use crate::math::{cast, flush_subnormal};
use crate::params::Params;
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
/// (too small to move a parameter, and slow to compute with on x86).
///
/// The mean gradient and the momentum buffer are part of the type, kept
/// only when their option is on (see [`Buffer`]): `RmsProp<M>` keeps one
/// value of the model's type, [`centered`](RmsProp::centered) adds the mean
/// gradient (`RmsProp<M, Kept<M>, _>`) and [`momentum`](RmsProp::momentum)
/// the momentum buffer (`RmsProp<M, _, Kept<M>>`).
#[derive(Clone, Debug)]
pub struct RmsProp<M, A = Unused, B = Unused> {
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    weight_decay: f64,
    /// The mean square `s`.
    square_avg: M,
    /// The mean gradient `a`, if centred.
    grad_avg: A,
    /// The momentum buffer `b`, if there is momentum.
    buffer: B,
}

impl<M: Params> RmsProp<M> {
    /// RMSprop with learning rate `lr` and PyTorch's defaults for everything
    /// else.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            weight_decay: 0.0,
            square_avg: M::zeroed(),
            grad_avg: Unused,
            buffer: Unused,
        }
    }
}

impl<M: Params, B> RmsProp<M, Unused, B> {
    /// Centres the second moment by the squared mean gradient
    /// (PyTorch's `centered=True`); the optimizer then keeps the mean
    /// gradient, a value of the model's type.
    pub fn centered(self) -> RmsProp<M, Kept<M>, B>
    where
        Kept<M>: Buffer<M>,
    {
        let RmsProp { lr, alpha, eps, momentum, weight_decay, square_avg, buffer, .. } = self;
        RmsProp { lr, alpha, eps, momentum, weight_decay, square_avg, grad_avg: Kept::zeroed(), buffer }
    }
}

impl<M: Params, A> RmsProp<M, A, Unused> {
    /// Sets the momentum `μ ≥ 0` (default 0); the optimizer then keeps a
    /// momentum buffer, a value of the model's type (used while `μ > 0`).
    pub fn momentum(self, momentum: f64) -> RmsProp<M, A, Kept<M>>
    where
        Kept<M>: Buffer<M>,
    {
        let RmsProp { lr, alpha, eps, weight_decay, square_avg, grad_avg, .. } = self;
        RmsProp { lr, alpha, eps, momentum, weight_decay, square_avg, grad_avg, buffer: Kept::zeroed() }
    }
}

impl<M: Params, A> RmsProp<M, A, Kept<M>> {
    /// Changes the momentum `μ` of an optimizer that keeps a momentum buffer.
    pub fn set_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
}

impl<M: Params, A: Buffer<M>, B: Buffer<M>> RmsProp<M, A, B> {
    /// The optimizer's size in bytes, its per-parameter state included
    /// (`size_of::<Self>()`), known at compile time: what a microcontroller
    /// must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

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
}

impl<T: Float> Rule<T> {
    /// The update of one tensor, with the mean gradient if centred and the
    /// momentum buffer if there is momentum. The slices are separate
    /// arguments so that the compiler knows they do not overlap, and
    /// vectorises each loop.
    #[inline]
    fn apply(
        &self,
        theta: &mut [T],
        square_avg: &mut [T],
        grad_avg: Option<&mut [T]>,
        buffer: Option<&mut [T]>,
        grad: &[T],
    ) {
        let slots = theta.iter_mut().zip(square_avg.iter_mut());
        match (grad_avg, buffer) {
            (None, None) => {
                for ((theta, s), &g) in slots.zip(grad) {
                    self.update(theta, s, None, None, g);
                }
            }
            (Some(grad_avg), None) => {
                for (((theta, s), a), &g) in slots.zip(grad_avg).zip(grad) {
                    self.update(theta, s, Some(a), None, g);
                }
            }
            (None, Some(buffer)) => {
                for (((theta, s), b), &g) in slots.zip(buffer).zip(grad) {
                    self.update(theta, s, None, Some(b), g);
                }
            }
            (Some(grad_avg), Some(buffer)) => {
                for ((((theta, s), a), b), &g) in slots.zip(grad_avg).zip(buffer).zip(grad) {
                    self.update(theta, s, Some(a), Some(b), g);
                }
            }
        }
    }

    /// The step of one parameter `θ` with gradient `g`.
    #[inline(always)]
    fn update(&self, theta: &mut T, s: &mut T, a: Option<&mut T>, b: Option<&mut T>, g: T) {
        let Rule { lr, alpha, one_minus_alpha, eps, mu, lambda, decay } = *self;
        let mut g = g;
        if decay {
            g = g + lambda * *theta; //                   g ← g + λ θ
        }
        *s = flush_subnormal(alpha * *s + one_minus_alpha * g * g); //  s ← α s + (1 - α) g²
        let d = match a {
            Some(a) => {
                *a = flush_subnormal(*a + one_minus_alpha * (g - *a)); //   a ← α a + (1 - α) g
                (*s - *a * *a).sqrt() + eps
            }
            None => s.sqrt() + eps,
        };
        match b {
            Some(b) => {
                *b = flush_subnormal(mu * *b + g / d); //                   b ← μ b + g / d
                *theta = *theta - lr * *b;
            }
            None => *theta = *theta - lr * (g / d),
        }
    }
}

impl<M: Params, A: Buffer<M>, B: Buffer<M>> Optimizer<M> for RmsProp<M, A, B> {
    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M) {
        let lr: M::Scalar = cast(lr);
        let (alpha, one_minus_alpha): (M::Scalar, M::Scalar) = (cast(self.alpha), cast(1.0 - self.alpha));
        let (eps, mu, lambda): (M::Scalar, M::Scalar, M::Scalar) =
            (cast(self.eps), cast(self.momentum), cast(self.weight_decay));
        let decay = self.weight_decay != 0.0;
        let rule = Rule { lr, alpha, one_minus_alpha, eps, mu, lambda, decay };
        // PyTorch uses the momentum buffer only while μ > 0.
        let buffer = if self.momentum > 0.0 { self.buffer.get() } else { None };
        let square_avg = &mut self.square_avg;
        match (self.grad_avg.get(), buffer) {
            (None, None) => M::visit([model, square_avg], [grads], &mut |[theta, s], [g]| {
                rule.apply(theta, s, None, None, g)
            }),
            (Some(grad_avg), None) => {
                M::visit([model, square_avg, grad_avg], [grads], &mut |[theta, s, a], [g]| {
                    rule.apply(theta, s, Some(a), None, g)
                })
            }
            (None, Some(buffer)) => {
                M::visit([model, square_avg, buffer], [grads], &mut |[theta, s, b], [g]| {
                    rule.apply(theta, s, None, Some(b), g)
                })
            }
            (Some(grad_avg), Some(buffer)) => {
                M::visit([model, square_avg, grad_avg, buffer], [grads], &mut |[theta, s, a, b], [g]| {
                    rule.apply(theta, s, Some(a), Some(b), g)
                })
            }
        }
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn check(&self) -> Result<(), Error> {
        check_learning_rate::<M::Scalar>(self.lr)?;
        require("alpha", self.alpha, (0.0..1.0).contains(&self.alpha), "in [0, 1)")?;
        check_eps::<M::Scalar>(self.eps)?;
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
        for buffer in [self.grad_avg.get(), self.buffer.get()].into_iter().flatten() {
            buffer.fill_zero();
        }
    }
}
