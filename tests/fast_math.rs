//! The fast `f32` functions of `backprop::math` against the `f64` functions
//! of `std`, over the whole `f32` range.
//!
//! The error of a result is measured in units in the last place (ulp) of the
//! correctly rounded `f32` result, with the `f64` function (whose own error,
//! below 10⁻¹⁶ relative, is negligible here) as the exact value:
//!
//! ```text
//! error(x) = |fast(x) - exact(x)| / ulp(round_f32(exact(x)))
//! ```
//!
//! A correctly rounded function has errors up to 0.5. Where the exact result
//! is subnormal, the ulp is the smallest subnormal, 2⁻¹⁴⁹.
//!
//! `every_2039th_f32` (run by `cargo test`) checks a dense sweep: every
//! 2039th bit pattern, about 2.1 million inputs spread evenly over every
//! binade of both signs, plus the special values, against the bounds the
//! functions document. `every_f32` checks all 2³² inputs and prints the
//! maximum errors; it takes about five minutes on two cores in release mode,
//! and `.ci/run` runs it:
//!
//! ```sh
//! cargo test --release --test fast_math -- --ignored --nocapture
//! ```

use backprop::math::{exp_f32, exp_m1_f32, sigmoid_f32, tanh_f32};

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
        println!("{:<12} max error {max:.4} ulp at x = {at:e} ({:#010x})", case.name, at.to_bits());
        assert!(
            max <= case.bound,
            "{}: {max} ulp at {at:e} exceeds the documented {}",
            case.name,
            case.bound
        );
    }
}
