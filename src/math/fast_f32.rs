//! The crate's own `f32` `exp`, `exp_m1`, `tanh` and sigmoid, which
//! [`exp`](super::exp), [`exp_m1`](super::exp_m1), [`tanh`](super::tanh) and
//! [`sigmoid`](super::sigmoid) pick for `f32`.
//!
//! Written with `+ - × ÷`, comparisons and bit operations only: IEEE 754
//! rounds each of these correctly on every platform, so these functions give
//! the same bits on x86-64 (any SIMD width), a Cortex-M4F's FPU and a
//! Cortex-M0's soft float. No fused multiply-add anywhere (Rust never fuses
//! `a * b + c` by itself). No branches either, only selects, so that a loop
//! applying them to an array vectorises.

/// `log₂ e`.
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// `ln 2` in two parts (Cody and Waite): `LN2_HI` has 9 significant bits, so
/// `k · LN2_HI` is exact for `|k| < 2¹⁵`, and `LN2_HI + LN2_LO = ln 2` to
/// about 2⁻³³.
const LN2_HI: f32 = 355.0 / 512.0; // 0.693359375
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5 · 2²³`: adding it to a float of magnitude below 2²² rounds that
/// float to an integer (to nearest, ties to even) and leaves the integer in
/// the low bits of the sum.
const ROUND: f32 = 12_582_912.0;

/// Splits `x` into `k ln 2 + r` with `k` an integer and `|r| ≤ ½ ln 2`
/// (plus a rounding error), for `|x| < 2²¹`. Returns `(r, k)`.
#[inline(always)]
fn reduce(x: f32) -> (f32, i32) {
    let shifted = x * LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    (r, shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32)
}

/// `e^r - 1` for `|r| ≤ ½ ln 2`, as `r + r² P(r)` with `P` of degree 5
/// (a Chebyshev fit of `(e^r - 1 - r) / r²`, error below 1.4·10⁻⁹).
///
/// `P` is evaluated in Estrin's scheme, `(c₀ + c₁r) + r²((c₂ + c₃r) +
/// r²(c₄ + c₅r))`, not Horner's: the three pairs are independent, so the chain
/// of dependent operations is half as long. A network's activations sit on
/// the critical path from one layer to the next, so their latency, more
/// than their operation count, is what a small net's forward pass waits for.
#[inline(always)]
fn exp_m1_reduced(r: f32) -> f32 {
    let r2 = r * r;
    let p01 = 0.5 + 1.666_666_7e-1 * r;
    let p23 = 4.166_646_7e-2 + 8.333_311e-3 * r;
    let p45 = 1.393_364e-3 + 1.989_098_1e-4 * r;
    let p = p01 + r2 * (p23 + r2 * p45);
    r + r2 * p
}

/// `2^k` for `-126 ≤ k ≤ 127`, from its bits.
#[inline(always)]
fn pow2(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// The absolute value, by clearing the sign bit (one `and`, in `core` on
/// every target).
#[inline(always)]
fn abs(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

/// `if x < lo { lo } else if x > hi { hi } else { x }`: NaN passes through.
#[inline(always)]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// `e^x` in `f32`, branch-free and the same bits on every platform.
///
/// # Math
///
/// `x = k ln 2 + r` with `k = round(x log₂ e)` and `|r| ≤ ½ ln 2`
/// (Cody–Waite reduction with `ln 2` in two parts), then
/// `e^x = 2^k (1 + (e^r - 1))` with `e^r - 1 = r + r² P(r)`, `P` a degree-5
/// polynomial. `2^k` is applied as two exact powers of two, so results in
/// the subnormal range are rounded once, correctly.
///
/// # Accuracy
///
/// At most **1 ulp** from the exact `e^x` over every `f32` (0.966 ulp
/// measured against the `f64` exponential for all 2³² inputs, see
/// `every_f32` in the tests below; where the result is subnormal, an ulp is
/// the smallest subnormal).
/// `e^x` is `+∞` above 88.72 (as it must be), 0 below -103.97, NaN for NaN,
/// `exp(-∞) = 0`, `exp(+∞) = +∞`.
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")), inline(never))]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // Beyond these the result is ∞ or 0 anyway; k stays in [-150, 129].
    let x = clamp(x, -104.0, 89.0);
    let (r, k) = reduce(x);
    let e_r = 1.0 + exp_m1_reduced(r);
    // 2^k = 2^(k/2) · 2^(k - k/2): both factors are normal numbers.
    let half = k >> 1;
    e_r * pow2(half) * pow2(k - half)
}

/// `e^x - 1` in `f32`, accurate near 0, branch-free and the same bits on
/// every platform.
///
/// # Math
///
/// With `x = k ln 2 + r` as in [`exp_f32`]:
/// `e^x - 1 = 2^k (e^r - 1) + (2^k - 1)`, where `2^k - 1` is exact for the
/// `k ≤ 24` that matter; `e^x - 1 = -1` in `f32` below `-17.4`, and above 20
/// `e^x - 1` is [`exp_f32`]`(x) - 1`.
///
/// # Accuracy
///
/// At most **1.6 ulp** from the exact `e^x - 1` over every `f32` (1.545 ulp
/// measured for all 2³² inputs, `every_f32` in the tests below).
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")), inline(never))]
pub(crate) fn exp_m1_f32(x: f32) -> f32 {
    let near = clamp(x, -20.0, 20.0);
    let (r, k) = reduce(near);
    let scale = pow2(k);
    let small = scale * exp_m1_reduced(r) + (scale - 1.0);
    if x > 20.0 {
        exp_f32(x) - 1.0
    } else {
        small
    }
}

/// `tanh x` in `f32`, branch-free and the same bits on every platform.
///
/// # Math
///
/// `tanh |x| = (1 - e) / (1 + e)` with `e = e^{-2|x|} = 2^k (1 + q)` from the
/// same reduction and polynomial as [`exp_m1_f32`], evaluated as
/// `((1 - 2^k) - 2^k q) / ((1 + 2^k) + 2^k q)`; the sign of `x` is copied onto
/// the result. No cancellation near 0 (where `k = 0` and the quotient is
/// `-q / (2 + q)` with `q ≈ -2|x|`), and for
/// `|x| > 10` the result is `±1` exactly, as the correctly rounded `tanh` is
/// from 9.01 on. Odd: `tanh(-x) = -tanh(x)`, including `±0`.
///
/// # Accuracy
///
/// At most **2 ulp** from the exact `tanh x` over every `f32` (1.941 ulp
/// measured for all 2³² inputs, `every_f32` in the tests below);
/// `tanh(±∞) = ±1`, NaN for NaN.
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")), inline(never))]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    // e^{-2|x|} - 1 for -2|x| ≥ -20 (beyond, it is -1 in f32): k ∈ [-29, 0].
    let y = clamp(-2.0 * abs(x), -20.0, 0.0);
    let (r, k) = reduce(y);
    // e = e^{-2|x|} = 2^k (1 + q), and tanh |x| = (1 - e) / (1 + e). Both
    // 1 - 2^k and 1 + 2^k are exact here, so numerator and denominator are
    // each rounded once.
    let scale = pow2(k);
    let scaled_q = scale * exp_m1_reduced(r);
    let magnitude = ((1.0 - scale) - scaled_q) / ((1.0 + scale) + scaled_q);
    f32::from_bits((magnitude.to_bits() & 0x7fff_ffff) | (x.to_bits() & 0x8000_0000))
}

/// The logistic sigmoid `σ(z) = 1 / (1 + e^{-z})` in `f32`, branch-free and
/// the same bits on every platform.
///
/// # Math
///
/// With `e = e^{-|z|} ∈ (0, 1]` ([`exp_f32`]): `σ(z) = 1 / (1 + e)` for
/// `z ≥ 0` and `e / (1 + e)` for `z < 0`, so nothing overflows; `σ(+∞) = 1`,
/// `σ(-∞) = 0`, and subnormal results (below `z ≈ -87.3`) are kept.
///
/// # Accuracy
///
/// At most **2.5 ulp** from the exact `σ(z)` over every `f32` (2.402 ulp
/// measured for all 2³² inputs, `every_f32` in the tests below).
#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
#[cfg_attr(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")), inline(never))]
pub(crate) fn sigmoid_f32(z: f32) -> f32 {
    let e = exp_f32(-abs(z));
    let numerator = if z >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// The fast `f32` functions against the `f64` functions of `std`, over the
/// whole `f32` range.
///
/// The error of a result is measured in units in the last place (ulp) of the
/// correctly rounded `f32` result, with the `f64` function (whose own error,
/// below 10⁻¹⁶ relative, is negligible here) as the exact value:
///
/// ```text
/// error(x) = |fast(x) - exact(x)| / ulp(round_f32(exact(x)))
/// ```
///
/// A correctly rounded function has errors up to 0.5. Where the exact result
/// is subnormal, the ulp is the smallest subnormal, 2⁻¹⁴⁹.
///
/// `every_2039th_f32` (run by `cargo test`) checks a dense sweep: every
/// 2039th bit pattern, about 2.1 million inputs spread evenly over every
/// binade of both signs, plus the special values, against the bounds the
/// functions document. `every_f32` checks all 2³² inputs and prints the
/// maximum errors; it takes about five minutes on two cores in release mode,
/// and `.ci/run` runs it:
///
/// ```sh
/// cargo test --release --lib math::fast_f32 -- --ignored --nocapture
/// ```
#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    /// One function under test: its name, the fast version, the exact
    /// reference and the documented bound in ulp.
    struct Case {
        name: &'static str,
        fast: fn(f32) -> f32,
        exact: fn(f64) -> f64,
        bound: f64,
    }

    fn sigmoid_f64(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    const CASES: [Case; 4] = [
        Case { name: "exp_f32", fast: exp_f32, exact: f64::exp, bound: 1.0 },
        Case { name: "exp_m1_f32", fast: exp_m1_f32, exact: f64::exp_m1, bound: 1.6 },
        Case { name: "tanh_f32", fast: tanh_f32, exact: f64::tanh, bound: 2.0 },
        Case { name: "sigmoid_f32", fast: sigmoid_f32, exact: sigmoid_f64, bound: 2.5 },
    ];

    /// The spacing of `f32` values at `y` (a finite `f32`).
    fn ulp(y: f32) -> f64 {
        let y = y.abs();
        if y < f32::MIN_POSITIVE {
            2f64.powi(-149)
        } else {
            let exponent = ((y.to_bits() >> 23) as i32) - 127;
            2f64.powi(exponent - 23)
        }
    }

    /// The error of `case` at `x` in ulp (`f64::INFINITY` for a wrong
    /// infinity, NaN or sign of infinity).
    fn error(case: &Case, x: f32) -> f64 {
        let got = (case.fast)(x);
        let exact = (case.exact)(f64::from(x));
        if x.is_nan() {
            return if got.is_nan() { 0.0 } else { f64::INFINITY };
        }
        let rounded = exact as f32;
        if rounded.is_infinite() || got.is_infinite() || got.is_nan() {
            return if got == rounded { 0.0 } else { f64::INFINITY };
        }
        (f64::from(got) - exact).abs() / ulp(rounded)
    }

    /// The largest error over `inputs`, and where.
    fn worst(case: &Case, inputs: impl Iterator<Item = u32>) -> (f64, f32) {
        let mut max = (0.0, 0.0);
        for bits in inputs {
            let x = f32::from_bits(bits);
            let e = error(case, x);
            if e > max.0 || e.is_nan() {
                max = (e, x);
            }
        }
        max
    }

    const SPECIALS: [f32; 16] = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45, // the smallest subnormal
        -1e-45,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        88.722_83, // the largest x with a finite e^x
        88.722_84,
        -87.336_55, // around where e^x becomes subnormal
        -103.972_08,
        9.010_913, // where tanh rounds to 1
    ];

    #[test]
    fn every_2039th_f32() {
        for case in &CASES {
            let sweep = (0..=u32::MAX / 2039).map(|k| k * 2039);
            let specials = SPECIALS.iter().map(|x| x.to_bits());
            let (max, at) = worst(case, sweep.chain(specials));
            assert!(
                max <= case.bound,
                "{}: {max:.3} ulp at x = {at:e} (bits {:#010x}), documented bound {} ulp: fast {:e}, exact {:e}",
                case.name,
                at.to_bits(),
                case.bound,
                (case.fast)(at),
                (case.exact)(f64::from(at)),
            );
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert!(exp_f32(88.72).is_finite());
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_m1_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(exp_m1_f32(1e-30), 1e-30);
        for x in [0.0f32, -0.0, 1e-45, -1e-45, 1e-30, -1e-30] {
            assert_eq!(tanh_f32(x).to_bits(), x.to_bits(), "tanh({x:e}) keeps its argument, sign included");
        }
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(10.0), 1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid_f32(0.0), 0.5);
        assert!(sigmoid_f32(-100.0) > 0.0, "subnormal results are kept");
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn odd_and_symmetric() {
        for k in 0..=(u32::MAX >> 1) / 65_521 {
            let x = f32::from_bits(k * 65_521);
            assert_eq!(tanh_f32(-x).to_bits(), (-tanh_f32(x)).to_bits(), "tanh is odd at {x:e}");
            let (a, b) = (sigmoid_f32(x), sigmoid_f32(-x));
            if x.is_finite() && x < 15.0 {
                assert!(((a + b) - 1.0).abs() <= 2.0 * f32::EPSILON, "σ({x:e}) + σ(-x) = {}", a + b);
            }
        }
    }

    /// All 2³² inputs, on two threads; prints each function's maximum error.
    #[test]
    #[ignore = "takes about five minutes in release mode; run with --release -- --ignored (CI does)"]
    fn every_f32() {
        let only = std::env::var("FAST_MATH_ONLY").ok();
        for case in CASES.iter().filter(|c| only.as_deref().is_none_or(|name| name == c.name)) {
            let halves = [(0u32, u32::MAX / 2), (u32::MAX / 2 + 1, u32::MAX)];
            let results: Vec<(f64, f32)> = std::thread::scope(|scope| {
                let handles: Vec<_> =
                    halves.iter().map(|&(lo, hi)| scope.spawn(move || worst(case, lo..=hi))).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let (max, at) = results.into_iter().fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
            std::println!("{:<12} max error {max:.4} ulp at x = {at:e} ({:#010x})", case.name, at.to_bits());
            assert!(
                max <= case.bound,
                "{}: {max} ulp at {at:e} exceeds the documented {}",
                case.name,
                case.bound
            );
        }
    }
}
