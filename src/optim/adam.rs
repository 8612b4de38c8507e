//! Adam and AdamW: per-parameter step sizes from running moments of the
//! gradient.

use super::{check_eps, check_learning_rate, check_weight_decay, require, Buffer, Kept, Optimizer, Unused};
use crate::error::Error;
use crate::math::{cast, flush_subnormal};
use crate::params::Params;
use crate::simd;
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
/// `ε` is added after the bias correction of `√v`, as PyTorch does, and the
/// first moment is updated in PyTorch's form `m ← m + (1 - β₁)(g - m)`. The
/// last line is evaluated in the equal form
///
/// ```text
/// θ  ← θ - (η √(1 - β₂ᵗ) / (1 - β₁ᵗ)) · m / (√v + ε √(1 - β₂ᵗ))
/// ```
///
/// (scalars in `f64`), with one division per parameter where PyTorch has
/// two: the divider is what bounds the speed of an Adam step, and this one
/// runs a third faster. In exact arithmetic the two are the same; in `f32`
/// a parameter can differ from PyTorch's in the last bit or two per step (the
/// `f64` parity tests agree to 10⁻⁹).
/// Moments that fall below the smallest normal number are set to zero
/// (too small to move any
/// parameter, and very slow to compute with on x86).
/// Defaults: `β = (0.9, 0.999)`, `ε = 1e-8`, `λ = 0`, no AMSGrad.
///
/// AMSGrad's running maximum is part of the type: `Adam<M>` keeps two values
/// of the model's type (`m`, `v`), and [`amsgrad`](Adam::amsgrad) turns it
/// into an `Adam<M, Kept<M>>`, which keeps the third (see
/// [`Buffer`]). Nothing is reserved for an option that is off.
#[derive(Clone, Debug)]
pub struct Adam<M, X = Unused> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
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
    /// The running maximum `v̂` of the second moment, if AMSGrad is on.
    v_max: X,
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
            decoupled: false,
            t: 0,
            beta1_t: 1.0,
            beta2_t: 1.0,
            m: M::zeroed(),
            v: M::zeroed(),
            v_max: Unused,
        }
    }

    /// Turns AMSGrad on (PyTorch's `amsgrad=True`): divide by the running
    /// maximum of the second moment instead of the second moment itself.
    /// The optimizer then keeps that maximum, a third value of the model's
    /// type.
    pub fn amsgrad(self) -> Adam<M, Kept<M>>
    where
        Kept<M>: Buffer<M>,
    {
        let Adam { lr, beta1, beta2, eps, weight_decay, decoupled, t, beta1_t, beta2_t, m, v, .. } = self;
        let v_max = Kept::zeroed();
        Adam { lr, beta1, beta2, eps, weight_decay, decoupled, t, beta1_t, beta2_t, m, v, v_max }
    }
}

impl<M: Params, X: Buffer<M>> Adam<M, X> {
    /// The optimizer's size in bytes, its per-parameter state included
    /// (`size_of::<Self>()`), known at compile time: what a microcontroller
    /// must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

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

    /// The number of steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl<M: Params, X: Buffer<M>> Optimizer<M> for Adam<M, X> {
    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M) {
        self.t += 1;
        self.beta1_t *= self.beta1;
        self.beta2_t *= self.beta2;
        // The scalars PyTorch computes in double precision, with the bias
        // correction of √v moved out of the denominator (see the Math section).
        let bias_correction2_sqrt = Float::sqrt(1.0 - self.beta2_t);
        let scaled_step: M::Scalar = cast(lr / (1.0 - self.beta1_t) * bias_correction2_sqrt);
        let scaled_eps: M::Scalar = cast(self.eps * bias_correction2_sqrt);
        let decay: M::Scalar =
            cast(if self.decoupled { 1.0 - lr * self.weight_decay } else { self.weight_decay });
        let beta2: M::Scalar = cast(self.beta2);
        let (one_minus_beta1, one_minus_beta2): (M::Scalar, M::Scalar) =
            (cast(1.0 - self.beta1), cast(1.0 - self.beta2));
        let decay_mode = match (self.weight_decay != 0.0, self.decoupled) {
            (false, _) => Decay::None,
            (true, true) => Decay::Decoupled,
            (true, false) => Decay::L2,
        };
        let rule = Rule { decay, one_minus_beta1, beta2, one_minus_beta2, scaled_eps, scaled_step };
        match self.v_max.get() {
            None => M::visit([model, &mut self.m, &mut self.v], [grads], &mut |[theta, m, v], [grad]| {
                match decay_mode {
                    Decay::None => rule.apply::<NO_DECAY, false>(theta, m, v, &mut [], grad),
                    Decay::L2 => rule.apply::<L2, false>(theta, m, v, &mut [], grad),
                    Decay::Decoupled => rule.apply::<DECOUPLED, false>(theta, m, v, &mut [], grad),
                }
            }),
            Some(v_max) => M::visit(
                [model, &mut self.m, &mut self.v, v_max],
                [grads],
                &mut |[theta, m, v, v_max], [grad]| match decay_mode {
                    Decay::None => rule.apply::<NO_DECAY, true>(theta, m, v, v_max, grad),
                    Decay::L2 => rule.apply::<L2, true>(theta, m, v, v_max, grad),
                    Decay::Decoupled => rule.apply::<DECOUPLED, true>(theta, m, v, v_max, grad),
                },
            ),
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
        require("beta1", self.beta1, (0.0..1.0).contains(&self.beta1), "in [0, 1)")?;
        require("beta2", self.beta2, (0.0..1.0).contains(&self.beta2), "in [0, 1)")?;
        check_eps::<M::Scalar>(self.eps)?;
        check_weight_decay(self.weight_decay)
    }

    fn reset(&mut self) {
        self.t = 0;
        self.beta1_t = 1.0;
        self.beta2_t = 1.0;
        self.m.fill_zero();
        self.v.fill_zero();
        if let Some(v_max) = self.v_max.get() {
            v_max.fill_zero();
        }
    }
}

/// How weight decay enters the step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decay {
    None,
    L2,
    Decoupled,
}

/// [`Decay`] as the const parameter of [`Rule::apply`], so that each
/// combination is a loop without branches.
const NO_DECAY: u8 = 0;
const L2: u8 = 1;
const DECOUPLED: u8 = 2;

/// The scalars of one Adam step.
#[derive(Clone, Copy)]
struct Rule<T> {
    /// `λ` (L2) or `1 - η λ` (decoupled).
    decay: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    /// `ε √(1 - β₂ᵗ)`.
    scaled_eps: T,
    /// `η √(1 - β₂ᵗ) / (1 - β₁ᵗ)`.
    scaled_step: T,
}

impl<T: Float> Rule<T> {
    /// The update of one tensor, compiled for AVX2 where the CPU has it
    /// (the same operations, so the same bits, on wider registers).
    #[inline]
    fn apply<const DECAY: u8, const AMSGRAD: bool>(
        &self,
        theta: &mut [T],
        m: &mut [T],
        v: &mut [T],
        v_max: &mut [T],
        grad: &[T],
    ) {
        simd::dispatch(Update::<T, DECAY, AMSGRAD> { rule: *self, theta, m, v, v_max, grad });
    }
}

/// [`Rule::apply`] as a [`simd::Kernel`]. The slices are separate fields
/// (not an array of slices) so that the compiler knows they do not overlap,
/// and vectorises the loop.
struct Update<'a, T, const DECAY: u8, const AMSGRAD: bool> {
    rule: Rule<T>,
    theta: &'a mut [T],
    m: &'a mut [T],
    v: &'a mut [T],
    v_max: &'a mut [T],
    grad: &'a [T],
}

impl<T: Float, const DECAY: u8, const AMSGRAD: bool> simd::Kernel for Update<'_, T, DECAY, AMSGRAD> {
    type Output = ();

    #[inline(always)]
    fn run<I: simd::Isa>(self, _isa: I) {
        let Update { rule, theta, m, v, v_max, grad } = self;
        let moments = theta.iter_mut().zip(m.iter_mut()).zip(v.iter_mut());
        if AMSGRAD {
            for ((((theta, m), v), v_max), &g) in moments.zip(v_max.iter_mut()).zip(grad) {
                rule.update::<DECAY>(theta, m, v, Some(v_max), g);
            }
        } else {
            for (((theta, m), v), &g) in moments.zip(grad) {
                rule.update::<DECAY>(theta, m, v, None, g);
            }
        }
    }
}

impl<T: Float> Rule<T> {
    /// The step of one parameter `θ` with gradient `g`, its moments and (with
    /// AMSGrad) their maximum.
    #[inline(always)]
    fn update<const DECAY: u8>(&self, theta: &mut T, m: &mut T, v: &mut T, v_max: Option<&mut T>, g: T) {
        let Rule { decay, one_minus_beta1, beta2, one_minus_beta2, scaled_eps, scaled_step } = *self;
        let mut g = g;
        if DECAY == DECOUPLED {
            *theta = *theta * decay; //                 θ ← θ (1 - η λ)
        } else if DECAY == L2 {
            g = g + decay * *theta; //                  g ← g + λ θ
        }
        *m = flush_subnormal(*m + one_minus_beta1 * (g - *m)); //  m ← β₁ m + (1 - β₁) g
        *v = flush_subnormal(beta2 * *v + one_minus_beta2 * g * g); // v ← β₂ v + (1 - β₂) g²
        let second = match v_max {
            Some(v_max) => {
                *v_max = v_max.max(*v); //                  v̂ ← max(v̂, v)
                *v_max
            }
            None => *v,
        };
        let denominator = second.sqrt() + scaled_eps; //  √v + ε √(1 - β₂ᵗ)
        *theta = *theta - scaled_step * (*m / denominator);
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
///
/// With [`amsgrad`](AdamW::amsgrad) it becomes an `AdamW<M, Kept<M>>`, as
/// [`Adam`] does.
#[derive(Clone, Debug)]
pub struct AdamW<M, X = Unused>(Adam<M, X>);

impl<M: Params> AdamW<M> {
    /// AdamW with learning rate `lr` and PyTorch's defaults for everything
    /// else (weight decay 0.01).
    pub fn new(lr: f64) -> Self {
        Self(Adam { decoupled: true, weight_decay: 0.01, ..Adam::new(lr) })
    }

    /// Turns AMSGrad on: the optimizer then keeps the running maximum of
    /// the second moment (see [`Adam::amsgrad`]).
    pub fn amsgrad(self) -> AdamW<M, Kept<M>>
    where
        Kept<M>: Buffer<M>,
    {
        AdamW(self.0.amsgrad())
    }
}

impl<M: Params, X: Buffer<M>> AdamW<M, X> {
    /// The optimizer's size in bytes, its per-parameter state included
    /// (`size_of::<Self>()`), known at compile time: what a microcontroller
    /// must set aside for it.
    pub const STATE_BYTES: usize = core::mem::size_of::<Self>();

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

    /// The number of steps taken so far.
    pub fn steps(&self) -> u64 {
        self.0.t
    }
}

impl<M: Params, X: Buffer<M>> Optimizer<M> for AdamW<M, X> {
    fn step_with_rate(&mut self, lr: f64, model: &mut M, grads: &M) {
        self.0.step_with_rate(lr, model, grads);
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
