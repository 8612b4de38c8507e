//! The one place that knows where float maths comes from.
//!
//! Every transcendental function the crate uses goes through
//! [`num_traits::Float`], which calls `std` when the `std` feature is on and
//! the pure-Rust `libm` crate when only `libm` is. This module adds the few
//! numerically careful compositions that several files need (a sigmoid that
//! never overflows, a `log(1 + e^x)` that never overflows) and the conversion
//! of literal constants into the scalar type. For `f32`, [`exp`],
//! [`exp_m1`], [`tanh`] and [`sigmoid`] use the crate's own functions
//! instead ([`fast_f32`]), which give the same bits on every platform.
//!
//! The module is private: it is how the crate computes, not something a
//! user names.

mod fast_f32;
pub(crate) mod fixed;

use fast_f32::{exp_f32, exp_m1_f32, sigmoid_f32, tanh_f32};
use num_traits::Float;

/// Converts an `f64` constant into `T`.
///
/// For `f32` and `f64` this never fails; for an exotic `Float` type whose
/// conversion does fail, the result is NaN (so the failure shows up in the
/// numbers instead of as a panic).
#[inline(always)]
pub(crate) fn cast<T: Float>(x: f64) -> T {
    T::from(x).unwrap_or_else(T::nan)
}

/// The count `n` in `T` (exact below 2²⁴ for `f32`), converted directly
/// rather than through `f64`, which a single-precision microcontroller would
/// have to emulate.
#[inline(always)]
pub(crate) fn count<T: Float>(n: usize) -> T {
    T::from(n).unwrap_or_else(T::nan)
}

/// Whether `T` has exactly `f32`'s precision and range, so that computing in
/// `f32` and converting back loses nothing: true for `f32`, false for `f64`.
///
/// After monomorphisation this is a constant, so the functions below that
/// pick [`exp_f32`] or [`tanh_f32`] for `f32` cost no branch.
#[inline(always)]
pub(crate) fn is_f32<T: Float>() -> bool {
    T::epsilon().to_f32() == Some(f32::EPSILON)
        && T::max_value().to_f32() == Some(f32::MAX)
        && T::min_positive_value().to_f32() == Some(f32::MIN_POSITIVE)
}

/// Applies `fast` to `x` in `f32` if `T` is `f32` ([`is_f32`]), else `accurate`.
#[inline(always)]
fn f32_or<T: Float>(x: T, fast: impl FnOnce(f32) -> f32, accurate: impl FnOnce(T) -> T) -> T {
    match x.to_f32() {
        Some(x32) if is_f32::<T>() => T::from(fast(x32)).unwrap_or_else(T::nan),
        _ => accurate(x),
    }
}

/// `e^x`: [`exp_f32`] for `f32`, `std`/`libm`'s `exp` otherwise.
#[inline(always)]
pub(crate) fn exp<T: Float>(x: T) -> T {
    f32_or(x, exp_f32, T::exp)
}

/// `e^x - 1`: [`exp_m1_f32`] for `f32`, `std`/`libm`'s `exp_m1` otherwise.
#[inline(always)]
pub(crate) fn exp_m1<T: Float>(x: T) -> T {
    f32_or(x, exp_m1_f32, T::exp_m1)
}

/// `tanh x`: [`tanh_f32`] for `f32`, `std`/`libm`'s `tanh` otherwise.
#[inline(always)]
pub(crate) fn tanh<T: Float>(x: T) -> T {
    f32_or(x, tanh_f32, T::tanh)
}

/// The logistic sigmoid `σ(z) = 1 / (1 + e^{-z})`, without overflow:
/// [`sigmoid_f32`] for `f32`.
///
/// For `z ≥ 0`, `e^{-z} ≤ 1`, so the textbook form is safe. For `z < 0` the
/// same value is written as `e^{z} / (1 + e^{z})`, where `e^{z} < 1`. Either
/// way no intermediate exceeds 2, and `σ(±∞)` come out as exactly 1 and 0.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(z: T) -> T {
    f32_or(z, sigmoid_f32, |z| {
        if z >= T::zero() {
            T::one() / (T::one() + (-z).exp())
        } else {
            let e = z.exp();
            e / (T::one() + e)
        }
    })
}

/// `x`, or 0 if `x` is subnormal (nonzero and below the smallest normal
/// number in magnitude).
///
/// The optimizers pass their state (momentum buffers, moment estimates)
/// through this. A parameter whose gradient stays zero (a dead ReLU unit)
/// has its state decay geometrically, through the subnormal numbers and on
/// to zero; on x86 every operation with a subnormal operand or result takes
/// a microcode assist, a hundred times the usual cost, and a long Adam run
/// was measured three times slower for it. A state value that small
/// (below 1.2·10⁻³⁸ in `f32`) changes no parameter by a representable
/// amount, so setting it to zero changes no result that matters; it is the
/// one place where the optimizers differ from `torch.optim` (which keeps
/// subnormals unless `torch.set_flush_denormal(True)`).
#[inline(always)]
pub(crate) fn flush_subnormal<T: Float>(x: T) -> T {
    if x.abs() < T::min_positive_value() {
        T::zero()
    } else {
        x
    }
}

/// `log(1 + e^z)` for any finite `z`, without overflow:
/// `max(z, 0) + log1p(e^{-|z|})`.
#[inline(always)]
pub(crate) fn log1p_exp<T: Float>(z: T) -> T {
    z.max(T::zero()) + exp(-z.abs()).ln_1p()
}

/// `log Σ_k e^{z_k}`, computed as `m + log Σ_k e^{z_k - m}` with `m = max_k z_k`
/// so that no exponential overflows.
#[inline]
pub(crate) fn log_sum_exp<T: Float, const N: usize>(z: &[T; N]) -> T {
    let m = max(z);
    if !m.is_finite() {
        return m;
    }
    let sum = z.iter().fold(T::zero(), |s, &zk| s + exp(zk - m));
    m + sum.ln()
}

/// The largest element (`-∞` for an empty array; NaN if any element is NaN).
#[inline]
pub(crate) fn max<T: Float, const N: usize>(z: &[T; N]) -> T {
    z.iter().fold(T::neg_infinity(), |m, &zk| if zk > m || zk.is_nan() { zk } else { m })
}

/// The standard normal distribution function `Φ(z) = ½ (1 + erf(z / √2))`.
///
/// For `z < -3√2` it is evaluated as `½ erfc(-z / √2)`, so that its relative
/// accuracy holds in the far left tail where `Φ(z)` is tiny.
pub(crate) fn normal_cdf<T: Float>(z: T) -> T {
    let half: T = cast(0.5);
    let x = z * cast(core::f64::consts::FRAC_1_SQRT_2);
    if x < -cast::<T>(ERF_SWITCH) {
        half * erfc_continued_fraction(-x)
    } else {
        half * (T::one() + erf(x))
    }
}

/// Where [`erf`] switches from its power series to the continued fraction of
/// `erfc`.
const ERF_SWITCH: f64 = 3.0;

/// The Gauss error function `erf(x) = 2/√π ∫₀ˣ e^{-t²} dt`.
///
/// For `|x| < 3` it sums the series
/// `erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} (2x²)ⁿ x / (1·3·5···(2n+1))`,
/// whose terms are all positive (no cancellation); beyond that it uses
/// `1 - erfc(x)` with the continued fraction
/// `erfc(x) = e^{-x²}/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + ...))))`.
/// Both are evaluated with basic arithmetic and `exp` only, to a relative
/// error of a few units in the last place.
pub(crate) fn erf<T: Float>(x: T) -> T {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < cast(ERF_SWITCH) {
        let two_x2 = cast::<T>(2.0) * ax * ax;
        let mut term = ax;
        let mut sum = ax;
        let mut n = 0;
        while n < 200 && term > sum * T::epsilon() {
            n += 1;
            term = term * two_x2 / cast(f64::from(2 * n + 1));
            sum = sum + term;
        }
        cast::<T>(core::f64::consts::FRAC_2_SQRT_PI) * (-ax * ax).exp() * sum
    } else {
        T::one() - erfc_continued_fraction(ax)
    };
    if x < T::zero() {
        -r
    } else {
        r
    }
}

/// `erfc(x) = 1 - erf(x)` for `x ≥ 3`, by the modified Lentz evaluation of
/// its continued fraction (see [`erf`]).
fn erfc_continued_fraction<T: Float>(x: T) -> T {
    if x == T::infinity() {
        return T::zero();
    }
    let tiny = T::min_positive_value();
    let mut f = x;
    let mut c = x;
    let mut d = T::zero();
    let mut n = 1u32;
    while n < 500 {
        let a: T = cast(f64::from(n) * 0.5);
        d = x + a * d;
        if d == T::zero() {
            d = tiny;
        }
        d = d.recip();
        c = x + a / c;
        if c == T::zero() {
            c = tiny;
        }
        let delta = c * d;
        f = f * delta;
        if (delta - T::one()).abs() <= T::epsilon() {
            break;
        }
        n += 1;
    }
    (-x * x).exp() / (f * cast(1.772_453_850_905_516)) // √π
}

/// The natural logarithm of a positive `f64`, from basic arithmetic only.
///
/// `std`'s `ln` and `libm`'s may differ in the last bit; weight
/// initialisation uses this one so that the same seed gives bit-identical
/// weights on every platform. With `x = 2ᵏ m`, `m ∈ [√½, √2)` and
/// `s = (m - 1)/(m + 1)`: `ln x = k ln 2 + 2 (s + s³/3 + s⁵/5 + ...)`.
/// Accurate to a few units in the last place for normal positive inputs;
/// returns NaN for negative inputs or NaN, `-∞` for zero.
pub(crate) fn portable_ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return x;
    }
    // Bring subnormals into the normal range first.
    let (x, k_extra) = if x < f64::MIN_POSITIVE { (x * 2f64.powi(54), -54) } else { (x, 0) };
    let bits = x.to_bits();
    let mut k = ((bits >> 52) & 0x7ff) as i32 - 1023 + k_extra;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // Horner on 2 Σ_{n=0}^{13} s^{2n+1} / (2n+1); |s| ≤ 0.1716, so 14 terms
    // reach below f64's epsilon.
    let mut sum = 0.0;
    let mut n = 13;
    while n >= 0 {
        sum = sum * s2 + 1.0 / f64::from(2 * n + 1);
        n -= 1;
    }
    f64::from(k) * core::f64::consts::LN_2 + 2.0 * s * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_reference_values() {
        // Reference values from Python's `math.erf` and `math.erfc`.
        let cases = [
            (0.0, 0.0),
            (1e-10, 1.1283791670955126e-10),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (2.9, 0.9999589021219005),
            (3.5, 0.9999992569016276),
            (-1.0, -0.8427007929497149),
        ];
        for (x, want) in cases {
            let got = erf(x);
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1e-300),
                "erf({x}) = {got}, want {want}"
            );
        }
        // The far tail, through Φ: Φ(-z) = ½ erfc(z/√2).
        let tail = normal_cdf(-10.0_f64);
        let want = 7.619853024160593e-24;
        assert!(((tail - want) / want).abs() < 1e-13, "Φ(-10) = {tail}");
    }

    #[test]
    fn portable_ln_matches_std() {
        let mut x = 1e-310;
        while x < 1e300 {
            let (got, want) = (portable_ln(x), x.ln());
            assert!(
                (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1.0),
                "ln({x}) = {got}, std says {want}"
            );
            x *= 1.37;
        }
    }
}
