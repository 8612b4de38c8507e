//! Activation functions: the non-linearity `a = f(z)` applied elementwise
//! after a layer's affine map, each with its derivative `f'(z)` beside it.
//!
//! Every activation is a zero-sized marker type, so `Dense<16, 16, Tanh>`
//! costs nothing at run time for knowing its activation: the call to
//! [`Activation::f`] is resolved at compile time and inlined.
//!
//! The derivative takes both the pre-activation `z` and the output `a = f(z)`
//! (both are on the layer's tape), so each activation uses whichever is cheaper
//! and stabler: `σ'(z) = a (1 - a)` needs no second exponential, ReLU only looks
//! at the sign of `z`.
//!
//! Formulas and edge cases follow PyTorch's `torch.nn` modules of the same
//! name, including where PyTorch takes a shortcut (`Softplus` returns `z`
//! itself above 20).
//!
//! # `f32` and `f64`
//!
//! In `f64`, `tanh`, `exp` and `exp_m1` come from `std` or `libm`, accurate to
//! the last bit or so. In `f32`, `Tanh`, `Sigmoid`, `Gelu`, `SiLU` and `Elu`
//! use the crate's own `f32` `tanh`, sigmoid, `exp` and `exp_m1`: within
//! 2.5 ulp of the exact result, branch-free so that a layer's activations
//! are computed eight at a time, and built from `+ - × ÷` only, so that they
//! give the same bits on every platform (`std` or `libm`, x86-64 or
//! Cortex-M).
//!
//! Softmax is not here: it couples all outputs of a layer, so it lives in
//! [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy) (on logits) and in
//! the inference helper [`softmax`](crate::loss::softmax).

use crate::init::Init;
use crate::math::{cast, exp, exp_m1, log1p_exp, sigmoid, tanh};
use num_traits::Float;

/// An elementwise non-linearity `a = f(z)` and its derivative.
///
/// Implementors are zero-sized marker types. To write your own, implement
/// `f` and `df` and check `df` against finite differences with
/// [`gradcheck`](crate::gradcheck).
///
/// ```
/// use backprop::activation::{Activation, Tanh};
/// let z = 0.5_f64;
/// let a = Tanh::f(z);
/// assert_eq!(Tanh::df(z, a), 1.0 - a * a);
/// ```
pub trait Activation: Copy + Default + core::fmt::Debug + 'static {
    /// A short, stable name (PyTorch's module name), used in architecture
    /// descriptions and weight-file fingerprints.
    const NAME: &'static str;

    /// The default weight initialisation for a layer followed by this
    /// activation: Glorot/Xavier for activations that are linear around zero
    /// (identity, sigmoid, tanh), He/Kaiming for the ReLU family.
    const INIT: Init;

    /// The forward rule `a = f(z)`.
    fn f<T: Float>(z: T) -> T;

    /// The derivative `f'(z)`, given the pre-activation `z` and the output
    /// `a = f(z)` that the forward pass already computed.
    fn df<T: Float>(z: T, a: T) -> T;

    /// Whether [`df`](Activation::df) reads only the output `a` (sigmoid:
    /// `a (1 - a)`, tanh: `1 - a²`, ReLU: `[a > 0]`, identity: 1). The
    /// batched path then keeps no copy of the pre-activations `Z`: each
    /// layer's matrix product is written straight into its output buffer and
    /// activated in place, and `df` is given `a` for `z`. Default `false`.
    const DERIVATIVE_FROM_OUTPUT: bool = false;
}

/// The identity `f(z) = z`: a purely linear layer (regression outputs,
/// logits for [`SoftmaxCrossEntropy`](crate::loss::SoftmaxCrossEntropy) and
/// [`BceWithLogits`](crate::loss::BceWithLogits)).
///
/// # Math
///
/// ```text
/// f(z)  = z
/// f'(z) = 1
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity;

impl Activation for Identity {
    const NAME: &'static str = "Identity";
    const INIT: Init = Init::GlorotUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        z
    }
    #[inline(always)]
    fn df<T: Float>(_z: T, _a: T) -> T {
        T::one()
    }
    const DERIVATIVE_FROM_OUTPUT: bool = true;
}

/// The rectified linear unit `f(z) = max(0, z)`.
///
/// # Math
///
/// ```text
/// f(z)  = max(0, z)                 (NaN for NaN, as PyTorch)
/// f'(z) = 1 if z > 0, else 0        (0 at z = 0, as PyTorch)
///       = 1 if a > 0, else 0        (a > 0 exactly when z > 0)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReLU;

impl Activation for ReLU {
    const NAME: &'static str = "ReLU";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        // A NaN stays NaN, as in PyTorch (`max(0, NaN)` would be a made-up 0).
        if z > T::zero() || z.is_nan() {
            z
        } else {
            T::zero()
        }
    }
    #[inline(always)]
    fn df<T: Float>(_z: T, a: T) -> T {
        if a > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
    const DERIVATIVE_FROM_OUTPUT: bool = true;
}

/// The leaky ReLU with PyTorch's default negative slope `0.01`.
///
/// # Math
///
/// ```text
/// f(z)  = z if z > 0, else 0.01 z
/// f'(z) = 1 if z > 0, else 0.01     (0.01 at z = 0, as PyTorch)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeakyReLU;

impl LeakyReLU {
    /// The slope for negative inputs (PyTorch's `negative_slope` default).
    pub const NEGATIVE_SLOPE: f64 = 0.01;
}

impl Activation for LeakyReLU {
    const NAME: &'static str = "LeakyReLU";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        if z > T::zero() {
            z
        } else {
            z * cast(Self::NEGATIVE_SLOPE)
        }
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        if z > T::zero() {
            T::one()
        } else {
            cast(Self::NEGATIVE_SLOPE)
        }
    }
}

/// The logistic sigmoid, squashing any real number into `(0, 1)`: the
/// output layer of a binary classifier trained with
/// [`BinaryCrossEntropy`](crate::loss::BinaryCrossEntropy).
///
/// # Math
///
/// ```text
/// f(z)  = σ(z) = 1 / (1 + e^{-z})
/// f'(z) = σ(z) (1 - σ(z)) = a (1 - a)
/// ```
///
/// Evaluated as `e^{z} / (1 + e^{z})` for negative `z`, so no exponential
/// overflows: every finite input gives a finite output and derivative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    const NAME: &'static str = "Sigmoid";
    const INIT: Init = Init::GlorotUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        sigmoid(z)
    }
    #[inline(always)]
    fn df<T: Float>(_z: T, a: T) -> T {
        a * (T::one() - a)
    }
    const DERIVATIVE_FROM_OUTPUT: bool = true;
}

/// The hyperbolic tangent, squashing any real number into `(-1, 1)`.
///
/// # Math
///
/// ```text
/// f(z)  = tanh z = (e^{z} - e^{-z}) / (e^{z} + e^{-z})
/// f'(z) = 1 - tanh² z = 1 - a²
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

impl Activation for Tanh {
    const NAME: &'static str = "Tanh";
    const INIT: Init = Init::GlorotUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        tanh(z)
    }
    #[inline(always)]
    fn df<T: Float>(_z: T, a: T) -> T {
        T::one() - a * a
    }
    const DERIVATIVE_FROM_OUTPUT: bool = true;
}

/// Softplus, a smooth ReLU, with PyTorch's defaults `beta = 1`,
/// `threshold = 20`.
///
/// # Math
///
/// ```text
/// f(z)  = log(1 + e^{z})             (z itself for z > 20, as PyTorch)
/// f'(z) = e^{z} / (1 + e^{z}) = σ(z) (1 for z > 20)
/// ```
///
/// Evaluated as `max(z, 0) + log(1 + e^{-|z|})`, which never overflows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softplus;

impl Softplus {
    /// Above this input PyTorch's softplus is the identity.
    pub const THRESHOLD: f64 = 20.0;
}

impl Activation for Softplus {
    const NAME: &'static str = "Softplus";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        if z > cast(Self::THRESHOLD) {
            z
        } else {
            log1p_exp(z)
        }
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        if z > cast(Self::THRESHOLD) {
            T::one()
        } else {
            sigmoid(z)
        }
    }
}

/// The Gaussian error linear unit in PyTorch's `approximate="tanh"` form.
///
/// # Math
///
/// With `u(z) = √(2/π) (z + 0.044715 z³)`:
///
/// ```text
/// f(z)  = ½ z (1 + tanh u)
/// f'(z) = ½ (1 + tanh u) + ½ z (1 - tanh² u) √(2/π) (1 + 3 · 0.044715 z²)
/// ```
///
/// For large `|z|`, `1 - tanh² u` is exactly zero and the second term is
/// dropped before `z²` can overflow, so the derivative is finite everywhere.
/// See [`GeluErf`] for the exact form with the Gauss error function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gelu;

impl Gelu {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    const KAPPA: f64 = 0.044_715;
}

impl Activation for Gelu {
    const NAME: &'static str = "GELU(tanh)";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        let half: T = cast(0.5);
        let u = cast::<T>(Self::SQRT_2_OVER_PI) * (z + cast::<T>(Self::KAPPA) * z * z * z);
        half * z * (T::one() + tanh(u))
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        let half: T = cast(0.5);
        let beta: T = cast(Self::SQRT_2_OVER_PI);
        let kappa: T = cast(Self::KAPPA);
        let z2 = z * z;
        let t = tanh(beta * (z + kappa * z2 * z));
        let sech2 = T::one() - t * t;
        let left = half * (T::one() + t);
        if sech2 == T::zero() {
            return left;
        }
        left + half * z * sech2 * beta * (T::one() + cast::<T>(3.0) * kappa * z2)
    }
}

/// The Gaussian error linear unit in its exact form, PyTorch's default
/// `nn.GELU()` (`approximate="none"`).
///
/// # Math
///
/// With `Φ` the standard normal distribution function and `φ` its density:
///
/// ```text
/// f(z)  = z Φ(z) = ½ z (1 + erf(z / √2))
/// f'(z) = Φ(z) + z φ(z),      φ(z) = e^{-z²/2} / √(2π)
/// ```
///
/// `erf` is computed by the crate itself (a rational approximation after
/// W. J. Cody, accurate to about `1e-16` relative), because neither `core` nor
/// `num-traits` provides it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeluErf;

impl Activation for GeluErf {
    const NAME: &'static str = "GELU";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        z * crate::math::normal_cdf(z)
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        let pdf = (-cast::<T>(0.5) * z * z).exp() * cast(0.398_942_280_401_432_7);
        crate::math::normal_cdf(z) + z * pdf
    }
}

/// The sigmoid linear unit, also called swish: `z σ(z)`.
///
/// # Math
///
/// ```text
/// f(z)  = z σ(z)
/// f'(z) = σ(z) (1 + z (1 - σ(z)))
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiLU;

impl Activation for SiLU {
    const NAME: &'static str = "SiLU";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        z * sigmoid(z)
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        let s = sigmoid(z);
        s * (T::one() + z * (T::one() - s))
    }
}

/// The exponential linear unit with PyTorch's default `alpha = 1`.
///
/// # Math
///
/// ```text
/// f(z)  = z if z > 0, else e^{z} - 1
/// f'(z) = 1 if z > 0, else e^{z}
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elu;

impl Activation for Elu {
    const NAME: &'static str = "ELU";
    const INIT: Init = Init::HeUniform;

    #[inline(always)]
    fn f<T: Float>(z: T) -> T {
        if z > T::zero() {
            z
        } else {
            exp_m1(z)
        }
    }
    #[inline(always)]
    fn df<T: Float>(z: T, _a: T) -> T {
        if z > T::zero() {
            T::one()
        } else {
            exp(z)
        }
    }
}
