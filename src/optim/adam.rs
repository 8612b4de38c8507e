//! Adam and AdamW: per-parameter step sizes from running moments of the
//! gradient.

use super::{check_learning_rate, check_weight_decay, require, Optimizer};
use crate::error::Error;
use crate::math::cast;
use crate::model::Params;
use num_traits::Float;

/// Adam, `torch.optim.Adam`: momentum on the gradient, divided by a running
/// root-mean-square of the gradient, with both running averages
/// bias-corrected.
///
/// # Math
///
/// For every parameter `θ` with gradient `g`, learning rate `η`, betas
/// `(β₁, β₂)`, `ε` and weight decay `λ`, at step `t = 1, 2, ...`
/// (with `m₀ = v₀ = 0`):
///
/// ```text
/// g  ← g + λ θ                          (L2 weight decay, if λ ≠ 0)
/// m  ← β₁ m + (1 - β₁) g                (first moment: momentum)
/// v  ← β₂ v + (1 - β₂) g²               (second moment)
/// v̂  ← max(v̂, v)   and use v̂ for v      (AMSGrad only)
/// θ  ← θ - (η / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)
/// ```
///
/// `ε` is added after the bias correction of `√v`, exactly as PyTorch does,
/// and the first moment is updated in PyTorch's form `m ← m + (1 - β₁)(g - m)`.
/// Defaults: `β = (0.9, 0.999)`, `ε = 1e-8`, `λ = 0`, no AMSGrad.
#[derive(Clone, Debug)]
pub struct Adam<M> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    /// Decoupled weight decay (AdamW) instead of L2 (Adam).
    decoupled: bool,
    /// The step count `t`.
    t: u64,
    /// `β₁ᵗ` and `β₂ᵗ`, kept as running products so that every platform
    /// computes the same bits.
    beta1_t: f64,
    beta2_t: f64,
    /// The first moment `m`.
    m: M,
    /// The second moment `v`.
    v: M,
    /// The running maximum `v̂` of the second moment (AMSGrad).
    v_max: M,
}

impl<M: Params> Adam<M> {
    /// Adam with learning rate `lr` and PyTorch's defaults for everything else.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
            t: 0,
            beta1_t: 1.0,
            beta2_t: 1.0,
            m: M::zeroed(),
            v: M::zeroed(),
            v_max: M::zeroed(),
        }
    }

    /// Sets `(β₁, β₂)`, each in `[0, 1)` (default `(0.9, 0.999)`).
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
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

    /// Turns AMSGrad on or off (default off): divide by the running maximum
    /// of the second moment instead of the second moment itself.
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// The number of steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl<M: Params> Optimizer<M> for Adam<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        self.t += 1;
        self.beta1_t *= self.beta1;
        self.beta2_t *= self.beta2;
        let lr = self.lr;
        // The scalars PyTorch computes in double precision.
        let step_size: M::Scalar = cast(lr / (1.0 - self.beta1_t));
        let bias_correction2_sqrt: M::Scalar = cast(Float::sqrt(1.0 - self.beta2_t));
        let decay: M::Scalar =
            cast(if self.decoupled { 1.0 - lr * self.weight_decay } else { self.weight_decay });
        let (beta2, eps): (M::Scalar, M::Scalar) = (cast(self.beta2), cast(self.eps));
        let (one_minus_beta1, one_minus_beta2): (M::Scalar, M::Scalar) =
            (cast(1.0 - self.beta1), cast(1.0 - self.beta2));
        let (decoupled, l2, amsgrad) =
            (self.decoupled, !self.decoupled && self.weight_decay != 0.0, self.amsgrad);
        let decoupled = decoupled && self.weight_decay != 0.0;

        M::visit(
            [model, &mut self.m, &mut self.v, &mut self.v_max],
            [grads],
            &mut |[theta, m, v, v_max], [grad]| {
                let slots = theta.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(v_max.iter_mut());
                for ((((theta, m), v), v_max), &g) in slots.zip(grad) {
                    let mut g = g;
                    if decoupled {
                        *theta = *theta * decay; //                 θ ← θ (1 - η λ)
                    } else if l2 {
                        g = g + decay * *theta; //                  g ← g + λ θ
                    }
                    *m = *m + one_minus_beta1 * (g - *m); //        m ← β₁ m + (1 - β₁) g
                    *v = beta2 * *v + one_minus_beta2 * g * g; //   v ← β₂ v + (1 - β₂) g²
                    let second = if amsgrad {
                        *v_max = v_max.max(*v); //                  v̂ ← max(v̂, v)
                        *v_max
                    } else {
                        *v
                    };
                    let denominator = second.sqrt() / bias_correction2_sqrt + eps;
                    *theta = *theta - step_size * (*m / denominator);
                }
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
        require("beta1", self.beta1, (0.0..1.0).contains(&self.beta1), "in [0, 1)")?;
        require("beta2", self.beta2, (0.0..1.0).contains(&self.beta2), "in [0, 1)")?;
        require("eps", self.eps, self.eps >= 0.0 && self.eps.is_finite(), "non-negative and finite")?;
        check_weight_decay(self.weight_decay)
    }

    fn reset(&mut self) {
        self.t = 0;
        self.beta1_t = 1.0;
        self.beta2_t = 1.0;
        self.m.fill_zero();
        self.v.fill_zero();
        self.v_max.fill_zero();
    }
}

/// AdamW, `torch.optim.AdamW`: Adam with decoupled weight decay.
///
/// # Math
///
/// As [`Adam`], except that weight decay shrinks the parameter directly,
/// before the Adam step, instead of entering the gradient (and so the
/// moments):
///
/// ```text
/// θ ← θ - η λ θ
/// m ← β₁ m + (1 - β₁) g
/// v ← β₂ v + (1 - β₂) g²
/// θ ← θ - (η / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)
/// ```
///
/// Defaults as PyTorch: `β = (0.9, 0.999)`, `ε = 1e-8`, `λ = 0.01`.
#[derive(Clone, Debug)]
pub struct AdamW<M>(Adam<M>);

impl<M: Params> AdamW<M> {
    /// AdamW with learning rate `lr` and PyTorch's defaults for everything
    /// else (weight decay 0.01).
    pub fn new(lr: f64) -> Self {
        Self(Adam { decoupled: true, weight_decay: 0.01, ..Adam::new(lr) })
    }

    /// Sets `(β₁, β₂)`, each in `[0, 1)` (default `(0.9, 0.999)`).
    pub fn betas(self, beta1: f64, beta2: f64) -> Self {
        Self(self.0.betas(beta1, beta2))
    }

    /// Sets `ε` (default `1e-8`).
    pub fn eps(self, eps: f64) -> Self {
        Self(self.0.eps(eps))
    }

    /// Sets the decoupled weight decay `λ` (default 0.01).
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Self(self.0.weight_decay(weight_decay))
    }

    /// Turns AMSGrad on or off (default off).
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        Self(self.0.amsgrad(amsgrad))
    }

    /// The number of steps taken so far.
    pub fn steps(&self) -> u64 {
        self.0.t
    }
}

impl<M: Params> Optimizer<M> for AdamW<M> {
    fn step(&mut self, model: &mut M, grads: &M) {
        self.0.step(model, grads);
    }
    fn learning_rate(&self) -> f64 {
        self.0.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.0.lr = lr;
    }
    fn check(&self) -> Result<(), Error> {
        self.0.check()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}
