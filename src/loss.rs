//! Loss functions: how far the network's output `y` is from the target, and
//! the gradient `∂L/∂y` that starts the backward pass.
//!
//! Each loss is the per-sample value that PyTorch's `reduction="mean"` gives:
//! elementwise losses average over the `N` outputs, and a batch loss is the
//! mean of the per-sample losses (the same as PyTorch's mean over all
//! `batch × N` elements, since every sample has `N` elements).
//! [`SoftmaxCrossEntropy`] and the classification losses average over samples.
//!
//! A loss's target type is part of its type: [`Mse`] wants `[T; N]`, the same
//! width as the output; [`SoftmaxCrossEntropy`] wants a class index `usize`.
//! Data of the wrong shape does not compile.

use crate::error::Error;
use crate::math::{cast, exp, log1p_exp, log_sum_exp, max, sigmoid};
use num_traits::Float;

/// Which targets a loss takes, for a model whose outputs are `[T; N]`: a
/// class index (`usize`) for [`SoftmaxCrossEntropy`], an array like the
/// output (`[T; N]`) for the others.
///
/// It is what makes handing a loss the wrong kind of targets a compile error
/// that says so ("`SoftmaxCrossEntropy` takes no targets of type `f32`")
/// rather than a type mismatch that reads backwards: every entry point that
/// takes targets requires it beside [`Loss`]. A loss of your own declares
/// its targets in one line, `impl<T, const N: usize> Targets<MyTarget, T, N>
/// for MyLoss {}`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes no targets of type `{Y}` for a model with outputs `[{T}; {N}]`",
    label = "this loss",
    note = "`SoftmaxCrossEntropy` takes class indices (`usize`), one per sample; `Mse`, `Mae`, `Huber`, `BinaryCrossEntropy` and `BceWithLogits` take arrays like the output (`[{T}; {N}]`)",
    note = "a loss of your own says which targets it takes with `impl<T, const N: usize> Targets<YourTarget, T, N> for YourLoss {{}}`"
)]
pub trait Targets<Y, T, const N: usize> {}

impl<T: Float, const N: usize> Targets<usize, T, N> for SoftmaxCrossEntropy {}
impl<T: Float, const N: usize> Targets<[T; N], T, N> for Mse {}
impl<T: Float, const N: usize> Targets<[T; N], T, N> for Mae {}
impl<T: Float, const N: usize> Targets<[T; N], T, N> for Huber {}
impl<T: Float, const N: usize> Targets<[T; N], T, N> for BinaryCrossEntropy {}
impl<T: Float, const N: usize> Targets<[T; N], T, N> for BceWithLogits {}

/// A loss on an `N`-wide output of scalar type `T`.
///
/// ```
/// use backprop::prelude::*;
/// let y = [0.5_f64, 2.0];
/// let target = [1.0, 2.0];
/// assert_eq!(Mse.loss(&y, &target), 0.125);           // ((0.5-1)² + 0²) / 2
/// assert_eq!(Mse.gradient(&y, &target), [-0.5, 0.0]); // 2 (y - t) / N
/// ```
pub trait Loss<T: Float, const N: usize> {
    /// What a sample's target is: `[T; N]` or a class index `usize`.
    type Target: Copy;

    /// The loss `L(y, target)` for one sample.
    fn loss(&self, output: &[T; N], target: &Self::Target) -> T;

    /// `∂L/∂y` for one sample: what [`Backward::backward`](crate::Backward::backward)
    /// takes as `d_output`.
    fn gradient(&self, output: &[T; N], target: &Self::Target) -> [T; N];

    /// The loss and its gradient at once, `(loss(y, t), gradient(y, t))`
    /// with the same bits: what a training step needs. A loss whose two
    /// halves share work (the exponentials of [`SoftmaxCrossEntropy`])
    /// does that work once.
    fn loss_and_gradient(&self, output: &[T; N], target: &Self::Target) -> (T, [T; N]) {
        (self.loss(output, target), self.gradient(output, target))
    }

    /// Checks that a target is one this loss can use (finite, a class index
    /// below `N`, a probability in `[0, 1]`), naming what is wrong if not.
    /// [`loss`](Loss::loss) and [`gradient`](Loss::gradient) never panic on a
    /// bad target, but their result is then meaningless (NaN, typically).
    fn check_target(&self, target: &Self::Target) -> Result<(), Error>;

    /// For classification losses, whether `output` predicts `target`'s class
    /// (the basis of accuracy); `None` for regression losses.
    fn is_correct(&self, output: &[T; N], target: &Self::Target) -> Option<bool> {
        let _ = (output, target);
        None
    }
}

/// Checks that every element of `t` is finite.
fn check_finite<T: Float, const N: usize>(t: &[T; N]) -> Result<(), Error> {
    match t.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFiniteTarget { data: "data", sample: 0, index }),
        None => Ok(()),
    }
}

/// `1 / N` in `T`.
#[inline(always)]
fn inv_len<T: Float, const N: usize>() -> T {
    T::one() / cast(N as f64)
}

/// Mean squared error, PyTorch's `nn.MSELoss()`: regression.
///
/// # Math
///
/// ```text
/// L       = (1/N) Σ_k (y_k - t_k)²
/// ∂L/∂y_k = (2/N) (y_k - t_k)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mse;

impl<T: Float, const N: usize> Loss<T, N> for Mse {
    type Target = [T; N];

    fn loss(&self, y: &[T; N], t: &[T; N]) -> T {
        let sum = y.iter().zip(t).fold(T::zero(), |s, (&y, &t)| s + (y - t) * (y - t));
        sum * inv_len::<T, N>()
    }

    fn gradient(&self, y: &[T; N], t: &[T; N]) -> [T; N] {
        let scale = cast::<T>(2.0) * inv_len::<T, N>();
        core::array::from_fn(|k| scale * (y[k] - t[k]))
    }

    fn check_target(&self, t: &[T; N]) -> Result<(), Error> {
        check_finite(t)
    }
}

/// Mean absolute error, PyTorch's `nn.L1Loss()`: regression that is robust to
/// outliers.
///
/// # Math
///
/// ```text
/// L       = (1/N) Σ_k |y_k - t_k|
/// ∂L/∂y_k = (1/N) sign(y_k - t_k)       (0 where y_k = t_k, as PyTorch)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mae;

impl<T: Float, const N: usize> Loss<T, N> for Mae {
    type Target = [T; N];

    fn loss(&self, y: &[T; N], t: &[T; N]) -> T {
        let sum = y.iter().zip(t).fold(T::zero(), |s, (&y, &t)| s + (y - t).abs());
        sum * inv_len::<T, N>()
    }

    fn gradient(&self, y: &[T; N], t: &[T; N]) -> [T; N] {
        core::array::from_fn(|k| {
            let d = y[k] - t[k];
            let sign = if d > T::zero() {
                T::one()
            } else if d < T::zero() {
                -T::one()
            } else {
                // 0, or NaN for a NaN output: no direction is invented
                if d.is_nan() {
                    d
                } else {
                    T::zero()
                }
            };
            sign * inv_len::<T, N>()
        })
    }

    fn check_target(&self, t: &[T; N]) -> Result<(), Error> {
        check_finite(t)
    }
}

/// The Huber loss, PyTorch's `nn.HuberLoss(delta)`: squared error near the
/// target, absolute error far from it.
///
/// # Math
///
/// With `d_k = y_k - t_k` and threshold `δ` (1 by default):
///
/// ```text
/// ℓ(d)    = ½ d²              if |d| < δ
///         = δ (|d| - ½ δ)     otherwise
/// L       = (1/N) Σ_k ℓ(d_k)
/// ∂L/∂y_k = (1/N) clamp(d_k, -δ, δ)
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Huber {
    delta: f64,
}

impl Huber {
    /// A Huber loss with threshold `delta`, which must be positive and
    /// finite.
    pub fn new(delta: f64) -> Result<Self, Error> {
        if delta > 0.0 && delta.is_finite() {
            Ok(Self { delta })
        } else {
            Err(Error::InvalidHyperparameter {
                name: "Huber delta",
                value: delta,
                expected: "positive and finite",
            })
        }
    }

    /// The threshold `δ`.
    pub fn delta(&self) -> f64 {
        self.delta
    }
}

impl Default for Huber {
    /// `δ = 1`, PyTorch's default.
    fn default() -> Self {
        Self { delta: 1.0 }
    }
}

impl<T: Float, const N: usize> Loss<T, N> for Huber {
    type Target = [T; N];

    fn loss(&self, y: &[T; N], t: &[T; N]) -> T {
        let delta: T = cast(self.delta);
        let half: T = cast(0.5);
        let sum = y.iter().zip(t).fold(T::zero(), |s, (&y, &t)| {
            let d = (y - t).abs();
            s + if d < delta { half * d * d } else { delta * (d - half * delta) }
        });
        sum * inv_len::<T, N>()
    }

    fn gradient(&self, y: &[T; N], t: &[T; N]) -> [T; N] {
        let delta: T = cast(self.delta);
        // A NaN difference stays NaN (`max`/`min` would make it -δ).
        core::array::from_fn(|k| {
            let d = y[k] - t[k];
            let clamped = if d.is_nan() { d } else { d.max(-delta).min(delta) };
            clamped * inv_len::<T, N>()
        })
    }

    fn check_target(&self, t: &[T; N]) -> Result<(), Error> {
        check_finite(t)
    }
}

/// Binary cross-entropy on probabilities, PyTorch's `nn.BCELoss()`: for
/// outputs that went through a [`Sigmoid`](crate::activation::Sigmoid).
///
/// Prefer [`BceWithLogits`] on a linear output layer: it is the same loss,
/// computed stably.
///
/// # Math
///
/// For outputs `y_k ∈ [0, 1]` and targets `t_k ∈ [0, 1]`:
///
/// ```text
/// L       = -(1/N) Σ_k [ t_k max(ln y_k, -100) + (1 - t_k) max(ln(1 - y_k), -100) ]
/// ∂L/∂y_k = (1/N) (y_k - t_k) / max(y_k (1 - y_k), 10⁻¹²)
/// ```
///
/// The clamps are PyTorch's: a log clamped at -100 keeps the loss finite when
/// `y_k` is exactly 0 or 1, and the gradient's denominator never reaches zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy;

impl<T: Float, const N: usize> Loss<T, N> for BinaryCrossEntropy {
    type Target = [T; N];

    fn loss(&self, y: &[T; N], t: &[T; N]) -> T {
        // Outputs must be probabilities (PyTorch raises otherwise): NaN for
        // anything else, so that a non-probability is not given a loss.
        if !probabilities(y) {
            return T::nan();
        }
        let floor: T = cast(-100.0);
        let sum = y.iter().zip(t).fold(T::zero(), |s, (&y, &t)| {
            let log_y = y.ln().max(floor);
            let log_1my = (-y).ln_1p().max(floor);
            s - (t * log_y + (T::one() - t) * log_1my)
        });
        sum * inv_len::<T, N>()
    }

    fn gradient(&self, y: &[T; N], t: &[T; N]) -> [T; N] {
        if !probabilities(y) {
            return [T::nan(); N];
        }
        let eps: T = cast(1e-12);
        core::array::from_fn(|k| (y[k] - t[k]) / (y[k] * (T::one() - y[k])).max(eps) * inv_len::<T, N>())
    }

    fn check_target(&self, t: &[T; N]) -> Result<(), Error> {
        check_probabilities(t)
    }

    /// Every output on the same side of ½ as its target (a NaN output is on
    /// neither side).
    fn is_correct(&self, y: &[T; N], t: &[T; N]) -> Option<bool> {
        let half: T = cast(0.5);
        Some(y.iter().zip(t).all(|(&y, &t)| !y.is_nan() && (y > half) == (t > half)))
    }
}

/// Checks that every element of `t` is in `[0, 1]`.
fn check_probabilities<T: Float, const N: usize>(t: &[T; N]) -> Result<(), Error> {
    match t.iter().position(|&x| !(x >= T::zero() && x <= T::one())) {
        Some(index) => Err(Error::TargetNotProbability { data: "data", sample: 0, index }),
        None => Ok(()),
    }
}

/// Binary cross-entropy on logits, PyTorch's `nn.BCEWithLogitsLoss()`: the
/// sigmoid and the cross-entropy in one stable formula, for a binary (or
/// multi-label) classifier with a linear output layer.
///
/// # Math
///
/// For logits `x_k` and targets `t_k ∈ [0, 1]`, with `σ` the sigmoid:
///
/// ```text
/// L       = (1/N) Σ_k [ max(x_k, 0) - x_k t_k + ln(1 + e^{-|x_k|}) ]
///         = -(1/N) Σ_k [ t_k ln σ(x_k) + (1 - t_k) ln(1 - σ(x_k)) ]
/// ∂L/∂x_k = (1/N) (σ(x_k) - t_k)
/// ```
///
/// The first form never overflows; the gradient is as simple as it is
/// because `σ' = σ (1 - σ)` cancels the denominators of the log terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BceWithLogits;

impl<T: Float, const N: usize> Loss<T, N> for BceWithLogits {
    type Target = [T; N];

    fn loss(&self, x: &[T; N], t: &[T; N]) -> T {
        // max(x, 0) + ln(1 + e^{-|x|}) = ln(1 + e^x)
        let sum = x.iter().zip(t).fold(T::zero(), |s, (&x, &t)| s + log1p_exp(x) - x * t);
        sum * inv_len::<T, N>()
    }

    fn gradient(&self, x: &[T; N], t: &[T; N]) -> [T; N] {
        core::array::from_fn(|k| (sigmoid(x[k]) - t[k]) * inv_len::<T, N>())
    }

    fn check_target(&self, t: &[T; N]) -> Result<(), Error> {
        check_probabilities(t)
    }

    /// Every logit on the same side of 0 as its target is of ½ (a NaN logit
    /// is on neither side).
    fn is_correct(&self, x: &[T; N], t: &[T; N]) -> Option<bool> {
        let half: T = cast(0.5);
        Some(x.iter().zip(t).all(|(&x, &t)| !x.is_nan() && (x > T::zero()) == (t > half)))
    }
}

/// Softmax followed by cross-entropy against a class index, PyTorch's
/// `nn.CrossEntropyLoss()` on logits: multi-class classification.
///
/// # Math
///
/// For logits `z ∈ ℝ^N` and the true class `c`, with
/// `p_k = softmax(z)_k = e^{z_k} / Σ_j e^{z_j}`:
///
/// ```text
/// L       = -ln p_c = ln Σ_j e^{z_j} - z_c
/// ∂L/∂z_k = p_k - [k = c]
/// ```
///
/// The log-sum-exp is computed as `m + ln Σ_j e^{z_j - m}` with
/// `m = max_j z_j`, so no exponential overflows. The gradient is this simple
/// because `ln` undoes the softmax's exponential: the network is pushed up on
/// the true class by `1 - p_c` and down on every other class by its
/// probability.
///
/// A class index `c ≥ N` gives a NaN loss and a NaN gradient;
/// [`check_target`](Loss::check_target) reports it as an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftmaxCrossEntropy;

impl<T: Float, const N: usize> Loss<T, N> for SoftmaxCrossEntropy {
    type Target = usize;

    fn loss(&self, z: &[T; N], &class: &usize) -> T {
        match z.get(class) {
            Some(&z_c) => log_sum_exp(z) - z_c,
            None => T::nan(),
        }
    }

    fn gradient(&self, z: &[T; N], &class: &usize) -> [T; N] {
        let mut p = softmax(z);
        match p.get_mut(class) {
            Some(p_c) => *p_c = *p_c - T::one(),
            None => return [T::nan(); N], // not a class: no gradient is invented
        }
        p
    }

    /// One set of exponentials `e^{z_k - m}` serves both: their sum gives
    /// the log-sum-exp `m + ln Σ_k e^{z_k - m}` of the loss, and divided by
    /// it they are the softmax of the gradient.
    fn loss_and_gradient(&self, z: &[T; N], &class: &usize) -> (T, [T; N]) {
        let (m, mut p, sum) = shifted_exponentials(z);
        for p in p.iter_mut() {
            *p = *p / sum;
        }
        let log_sum_exp = if m.is_finite() { m + sum.ln() } else { m };
        let loss = match (z.get(class), p.get_mut(class)) {
            (Some(&z_c), Some(p_c)) => {
                *p_c = *p_c - T::one();
                log_sum_exp - z_c
            }
            _ => return (T::nan(), [T::nan(); N]),
        };
        (loss, p)
    }

    fn check_target(&self, &class: &usize) -> Result<(), Error> {
        if class < N {
            Ok(())
        } else {
            Err(Error::ClassOutOfRange { data: "data", sample: 0, class, classes: N })
        }
    }

    /// The largest logit is the target class (never with a NaN logit).
    fn is_correct(&self, z: &[T; N], &class: &usize) -> Option<bool> {
        Some(!z.iter().any(|z| z.is_nan()) && argmax(z) == class)
    }
}

/// The index of the largest element (the first one if several tie; NaN is
/// never the largest). For logits or probabilities: the predicted class.
///
/// If every element is NaN there is no largest one and the result is the
/// last index: a helper for finite outputs. [`Infer::classify`](crate::Infer::classify)
/// refuses NaN outputs instead.
pub fn argmax<T: Float, const N: usize>(z: &[T; N]) -> usize {
    let (mut best, mut largest) = (0, T::nan());
    for (k, &zk) in z.iter().enumerate() {
        if zk > largest || largest.is_nan() {
            (best, largest) = (k, zk);
        }
    }
    best
}

/// The softmax `p_k = e^{z_k} / Σ_j e^{z_j}`: turns logits into class
/// probabilities that are positive and sum to one.
///
/// Computed as `e^{z_k - m} / Σ_j e^{z_j - m}` with `m = max_j z_j`, so it
/// never overflows.
///
/// ```
/// let p = backprop::loss::softmax(&[1.0_f64, 1.0, 1000.0]);
/// assert!(p[2] > 0.999_999 && p.iter().sum::<f64>() == 1.0);
/// ```
pub fn softmax<T: Float, const N: usize>(z: &[T; N]) -> [T; N] {
    let (_, mut e, sum) = shifted_exponentials(z);
    for x in e.iter_mut() {
        *x = *x / sum;
    }
    e
}

/// `m = max_k z_k`, the exponentials `e^{z_k - m}` and their sum (in index
/// order, as [`log_sum_exp`] sums them): what the softmax and the
/// log-sum-exp share.
#[inline]
fn shifted_exponentials<T: Float, const N: usize>(z: &[T; N]) -> (T, [T; N], T) {
    let m = max(z);
    let e = z.map(|zk| exp(zk - m));
    let sum = e.iter().fold(T::zero(), |s, &x| s + x);
    (m, e, sum)
}

/// Whether every output is a probability, in `[0, 1]` (NaN is not).
fn probabilities<T: Float, const N: usize>(y: &[T; N]) -> bool {
    y.iter().all(|&y| y >= T::zero() && y <= T::one())
}
