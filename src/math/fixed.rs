//! The integer primitives of fixed-point requantization (gemmlowp's, as
//! TensorFlow Lite Micro and CMSIS-NN use them), public as
//! [`quant::fixed`](crate::quant::fixed), where their mathematics is
//! explained. They live here, with the arithmetic, so that the instruction
//! sets (`simd`) can use them too.

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `2 · a · b / 2³²`,
/// rounded to nearest with ties upward (toward +∞), the one overflowing case
/// (`a = b = i32::MIN`, whose exact result is `2³¹`) saturated to `i32::MAX`.
///
/// # Math
///
/// ```text
/// ab     = a · b                      (exact, in 64 bits)
/// nudge  = 2³⁰ if ab ≥ 0, else 1 − 2³⁰
/// result = (ab + nudge) / 2³¹         (division truncating toward zero)
/// ```
///
/// ```
/// use backprop::quant::fixed::srdhm;
/// assert_eq!(srdhm(1000, 1 << 30), 500); // 1000 · 0.5
/// assert_eq!(srdhm(3, 1 << 30), 2); //      1.5 rounds up
/// assert_eq!(srdhm(-3, 1 << 30), -1); //   -1.5 rounds up too
/// assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
/// ```
#[inline(always)]
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab + nudge| < 2⁶², and the quotient fits in i32 once the saturated
    // case is excluded.
    ((ab + nudge) / (1 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent`, rounded to nearest,
/// ties away from zero. An `exponent` above 31 is taken as 31.
///
/// # Math
///
/// ```text
/// mask      = 2^e − 1
/// remainder = x & mask
/// threshold = (mask >> 1) + [x < 0]
/// result    = (x >> e) + [remainder > threshold]     (>> arithmetic)
/// ```
///
/// ```
/// use backprop::quant::fixed::rounding_divide_by_pot;
/// assert_eq!(rounding_divide_by_pot(5, 1), 3); //   2.5 → 3
/// assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5 → -3
/// assert_eq!(rounding_divide_by_pot(-7, 2), -2); // -1.75 → -2
/// ```
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let e = exponent.min(31);
    let mask = ((1_i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e) + i32::from(remainder > threshold)
}

/// `x · M` for the real multiplier `M = multiplier · 2^(shift − 31)` that
/// [`quantize_multiplier`](crate::quant::fixed::quantize_multiplier) encoded, with TensorFlow Lite Micro's double
/// rounding (see [`quant::fixed`](crate::quant::fixed)). A positive `shift` multiplies `x`
/// by `2^shift` first (wrapping, as the 32-bit C code does); shifts outside
/// `-31..=30` are taken as the nearest end of that range.
///
/// ```
/// use backprop::quant::fixed::{multiply_by_quantized_multiplier, quantize_multiplier};
/// let (m, shift) = quantize_multiplier(0.125)?; // 0.5 · 2⁻²
/// assert_eq!((m, shift), (1 << 30, -2));
/// assert_eq!(multiply_by_quantized_multiplier(80, m, shift), 10);
/// // 3 · 0.125 = 0.375 rounds to 0 once, but to 1 twice: 1.5 → 2, then 2 / 4 = 0.5 → 1.
/// assert_eq!(multiply_by_quantized_multiplier(3, m, shift), 1);
/// # Ok::<(), backprop::Error>(())
/// ```
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = shift.clamp(-31, 30);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    rounding_divide_by_pot(srdhm(x.wrapping_mul(1 << left), multiplier), right)
}
