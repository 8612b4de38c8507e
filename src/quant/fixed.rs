//! Fixed-point arithmetic: how a real multiplier `M` becomes an integer
//! multiply and a shift, as TensorFlow Lite Micro and CMSIS-NN compute it.
//!
//! # Math
//!
//! A layer's accumulator `acc` counts in units of `s_in · s_w` (the input's
//! scale times the weight's); its output counts in units of `s_out`. So the
//! output is `acc · M` with the real multiplier `M = s_in · s_w / s_out`,
//! which is small (about 0.007 in the hidden layer of `examples/10_int8.rs`'s
//! digits net). Integer hardware cannot multiply
//! by it directly, so [`quantize_multiplier`] writes it as
//!
//! ```text
//! M = q · 2^e,  q ∈ [0.5, 1)        (frexp)
//! multiplier = round(q · 2³¹) ∈ [2³⁰, 2³¹)    (q as a Q0.31 fixed-point number)
//! shift = e
//! ```
//!
//! and [`multiply_by_quantized_multiplier`] computes `acc · M` as
//!
//! ```text
//! acc · M ≈ RoundingDivideByPOT(SRDHM(acc · 2^max(e, 0), multiplier), max(-e, 0))
//! ```
//!
//! [`srdhm`] (gemmlowp's `SaturatingRoundingDoublingHighMul`) is the high 32
//! bits of the doubled 64-bit product `2 · a · b`, rounded to nearest (ties
//! upward): in Q0.31 terms, `a · (b / 2³¹)`. [`rounding_divide_by_pot`] divides by `2^e`,
//! rounding to nearest with ties away from zero. Two roundings happen, one in
//! each step ("double rounding"); on some accumulators (those landing on a
//! tie of the second step after the first rounded) this differs by one
//! from rounding `acc · M` once. This is the default arithmetic of
//! TensorFlow Lite Micro's reference kernels and of CMSIS-NN, and the one
//! a model quantized here must reproduce on a microcontroller; desktop
//! interpreters that round once are one step off on such outputs.
//!
//! Everything here is integer arithmetic, total (no input panics), and the
//! same on every target.

pub use crate::math::fixed::{multiply_by_quantized_multiplier, rounding_divide_by_pot, srdhm};

use crate::error::Error;

/// The fixed-point form `(multiplier, shift)` of a real multiplier `m ≥ 0`:
/// `m ≈ multiplier · 2^(shift − 31)` with `multiplier ∈ [2³⁰, 2³¹)`
/// (TensorFlow Lite's `QuantizeMultiplier`).
///
/// # Math
///
/// ```text
/// m = q · 2^e, q ∈ [0.5, 1)            (frexp; m = 0 gives (0, 0))
/// multiplier = round(q · 2³¹)          (ties away from zero)
/// if multiplier = 2³¹: multiplier = 2³⁰, e = e + 1
/// if e < −31: (0, 0)                   (m < 2⁻³², too small to matter)
/// shift = e
/// ```
///
/// # Errors
///
/// [`Error::InvalidHyperparameter`] if `m` is negative, NaN or infinite, or
/// so large that `shift` would exceed 30 (`m ≥ 2³⁰`): no int8 layer has such
/// a multiplier unless its output range is far narrower than its input's.
///
/// ```
/// use backprop::quant::fixed::quantize_multiplier;
/// assert_eq!(quantize_multiplier(0.0)?, (0, 0));
/// assert_eq!(quantize_multiplier(1.0)?, (1 << 30, 1));
/// assert_eq!(quantize_multiplier(0.75)?, (3 << 29, 0));
/// assert!(quantize_multiplier(-1.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn quantize_multiplier(m: f64) -> Result<(i32, i32), Error> {
    let invalid =
        |expected| Error::InvalidHyperparameter { name: "requantization multiplier", value: m, expected };
    if !m.is_finite() || m < 0.0 {
        return Err(invalid("a finite number ≥ 0"));
    }
    if m == 0.0 {
        return Ok((0, 0));
    }
    let (q, mut e) = frexp(m);
    // q ∈ [0.5, 1), so q · 2³¹ ∈ [2³⁰, 2³¹] is exact and its rounding fits.
    let mut fixed = round_half_away(q * 2_147_483_648.0) as i64;
    if fixed == 1 << 31 {
        fixed /= 2;
        e += 1;
    }
    if e < -31 {
        return Ok((0, 0));
    }
    if e > 30 {
        return Err(invalid("below 2^30 (the output's range is far narrower than the input's)"));
    }
    Ok((fixed as i32, e))
}

/// `x = q · 2^e` with `q ∈ [0.5, 1)`, for finite `x > 0` (C's `frexp`),
/// read off the bits: exact for normal and subnormal numbers alike.
pub(crate) fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first (exact).
        let (q, e) = frexp(x * 18_446_744_073_709_551_616.0); // 2⁶⁴
        return (q, e - 64);
    }
    // Replace the exponent by the one of [0.5, 1): biased 1022.
    let q = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (q, biased - 1022)
}

/// Rounds to the nearest integer, ties away from zero (C's `round`), in any
/// build (`f64::round` needs `std`).
pub(crate) fn round_half_away(x: f64) -> f64 {
    num_traits::Float::round(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_reads_the_exponent_exactly() {
        for &(x, q, e) in &[(1.0, 0.5, 1), (0.75, 0.75, 0), (3.0, 0.75, 2), (0.1, 0.8, -3)] {
            let (got_q, got_e) = frexp(x);
            assert_eq!((got_q, got_e), (q, e), "{x}");
            assert_eq!(got_q * 2f64.powi(got_e), x);
        }
        let tiny = f64::from_bits(1); // 2⁻¹⁰⁷⁴
        assert_eq!(frexp(tiny), (0.5, -1073));
    }

    #[test]
    fn a_multiplier_that_rounds_up_to_one_moves_to_the_next_power() {
        // q = 1 − 2⁻⁴⁰ rounds to 2³¹ in Q0.31.
        let m = (1.0 - 2f64.powi(-40)) * 0.25;
        assert_eq!(quantize_multiplier(m).unwrap(), (1 << 30, -1));
    }

    #[test]
    fn rounding_divide_matches_exact_rounding() {
        for x in -1000..=1000 {
            for e in 0..6 {
                let exact = f64::from(x) / f64::from(1 << e);
                assert_eq!(f64::from(rounding_divide_by_pot(x, e)), round_half_away(exact), "{x} / 2^{e}");
            }
        }
    }
}
