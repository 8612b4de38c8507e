//! The int8 fully connected layer, and how a float `Dense` layer becomes one.

use super::bytes::{Reader, Writer};
use super::fixed::{quantize_multiplier, round_half_away};
use super::layer::{Int8Layer, QuantizeLayer};
use super::{Int8Activation, QuantParams, Range};
use crate::error::Error;
use crate::model::LayerInfo;
use crate::passes::Forward;
use crate::simd::{Isa, Wide};
use crate::Dense;
use core::marker::PhantomData;
use num_traits::Float;

/// The int8 form of [`Dense<IN, OUT, A>`](crate::Dense): int8 weights with a
/// scale per output channel, int32 biases, and the fixed-point multipliers
/// that take its int32 accumulators to int8 outputs.
///
/// Made by [`Quantize`](super::Quantize) or read by
/// [`file::read`](super::file::read); every parameter is readable. The
/// fields are private so that the invariants the integer arithmetic relies
/// on (codes in range, multipliers normalised) always hold.
///
/// # Math
///
/// For input codes `x` (zero point `z_in`), output zero point `z_out`:
///
/// ```text
/// acc_o = q_b[o] + Σ_i q_w[o][i] · (x_i − z_in)                     (int32)
/// y_o   = clamp(z_out + MultiplyByQuantizedMultiplier(acc_o, multiplier_o, shift_o), lo, hi)
///         lo = z_out for ReLU, −128 for Identity; hi = 127
/// ```
///
/// (see [`fixed::multiply_by_quantized_multiplier`](super::fixed::multiply_by_quantized_multiplier)).
/// The sum is computed as `(q_b[o] − z_in Σ_i q_w[o][i]) + Σ_i q_w[o][i] x_i`,
/// the constant part folded once when the layer is made: the same integers,
/// and the inner loop is a plain 8-bit dot product. The sum of products
/// fits in 32 bits for `IN ≤ 66 311` (`66 311 · 127 · 255 < 2³¹`), which the
/// compiler checks; with the bias, each row's accumulator is checked when
/// the layer is made (or read from a file) to stay within 32 bits for every
/// possible input, so it never wraps. A bias beyond `±(2³¹ − 1)` units of
/// `s_in s_w[o]` is clamped to that, as TensorFlow Lite's converter does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantizedDense<const IN: usize, const OUT: usize, A: Int8Activation> {
    weights: [[i8; IN]; OUT],
    bias: [i32; OUT],
    folded_bias: [i32; OUT],
    weight_scales: [f32; OUT],
    multipliers: [i32; OUT],
    shifts: [i32; OUT],
    input: QuantParams,
    output: QuantParams,
    activation: PhantomData<A>,
    wide: Wide<IN, OUT>,
}

impl<const IN: usize, const OUT: usize, A: Int8Activation> QuantizedDense<IN, OUT, A> {
    /// Storage for [`file::read_into`](super::file::read_into): every value
    /// 0, scales included, so that a `static` holding it takes no flash
    /// (`.bss`). Not a model until `read_into` has filled it: its outputs
    /// are the clamped zero point.
    pub const EMPTY: Self = QuantizedDense {
        weights: [[0; IN]; OUT],
        bias: [0; OUT],
        folded_bias: [0; OUT],
        weight_scales: [0.0; OUT],
        multipliers: [0; OUT],
        shifts: [0; OUT],
        input: QuantParams { scale: 0.0, zero_point: 0 },
        output: QuantParams { scale: 0.0, zero_point: 0 },
        activation: PhantomData,
        wide: Wide::EMPTY,
    };

    /// A compile-time check that the accumulator cannot overflow.
    const FITS: () = assert!(
        IN <= 66_311,
        "an int8 Dense layer takes at most 66 311 inputs (its int32 sums overflow beyond)"
    );

    /// The weight codes, `weights()[o][i]` from input `i` to output `o`
    /// (PyTorch's layout), each in `-127..=127`.
    pub fn weights(&self) -> &[[i8; IN]; OUT] {
        &self.weights
    }

    /// The int32 biases, in units of `input().scale · weight_scales()[o]`.
    pub fn bias(&self) -> &[i32; OUT] {
        &self.bias
    }

    /// The real value of one weight step, per output channel.
    pub fn weight_scales(&self) -> &[f32; OUT] {
        &self.weight_scales
    }

    /// The fixed-point requantization multipliers, in `[2³⁰, 2³¹)` (or 0).
    pub fn multipliers(&self) -> &[i32; OUT] {
        &self.multipliers
    }

    /// The requantization shifts, in `-31..=30`: the real multiplier is
    /// `multipliers()[o] · 2^(shifts()[o] − 31)`.
    pub fn shifts(&self) -> &[i32; OUT] {
        &self.shifts
    }

    /// How the layer's input codes encode real values.
    pub fn input(&self) -> QuantParams {
        self.input
    }

    /// How the layer's output codes encode real values.
    pub fn output(&self) -> QuantParams {
        self.output
    }

    /// The output clamp `(lo, hi)`: the activation folded in (`ReLU`: from
    /// the code of the real 0; `Identity`: the whole int8 range).
    pub fn output_clamp(&self) -> (i8, i8) {
        (A::clamp_low(self.output.zero_point), 127)
    }

    /// Stores row `o`'s bias, weight scale, multiplier and shift (its
    /// weights are already in place) and folds the constant part of its sum
    /// into the bias once: `q_b[o] − z_in Σ_i q_w[o][i]`. Quantization and the
    /// reader both fill a layer this way, row by row, in place.
    fn set_row(&mut self, o: usize, bias: i32, weight_scale: f32, multiplier: i32, shift: i32) {
        let row_sum: i32 = self.weights[o].iter().map(|&w| i32::from(w)).sum();
        self.bias[o] = bias;
        self.folded_bias[o] = bias.wrapping_sub(self.input.zero_point.wrapping_mul(row_sum));
        self.weight_scales[o] = weight_scale;
        self.multipliers[o] = multiplier;
        self.shifts[o] = shift;
    }
}

/// The smallest and largest value of a row's `Σ_i w_i (x_i − z_in)` over
/// every input `x ∈ [−128, 127]^IN`, built weight by weight (each term at
/// its extreme). Each term is at most `127 · 255` in size and there are at
/// most 66 311 (the layer's compile-time bound), so the sums fit in 32 bits;
/// only the bias is added in 64.
struct Extremes {
    /// `−128 − z_in` and `127 − z_in`, the extremes of `x_i − z_in`
    /// (`z_in ∈ [−128, 127]`, so both fit in 9 bits).
    low: i32,
    high: i32,
    lo: i32,
    hi: i32,
}

impl Extremes {
    fn new(z_in: i32) -> Self {
        let z = z_in.clamp(-128, 127);
        Extremes { low: -128 - z, high: 127 - z, lo: 0, hi: 0 }
    }

    fn add(&mut self, w: i8) {
        let (a, b) = (i32::from(w) * self.low, i32::from(w) * self.high);
        self.lo = self.lo.wrapping_add(a.min(b));
        self.hi = self.hi.wrapping_add(a.max(b));
    }

    /// Whether `bias` plus the sum stays within 32 bits for every input: the
    /// accumulator never wraps.
    fn fits(&self, bias: i32) -> bool {
        let b = i64::from(bias);
        b + i64::from(self.lo) >= i64::from(i32::MIN) && b + i64::from(self.hi) <= i64::from(i32::MAX)
    }
}

impl<const IN: usize, const OUT: usize, A: Int8Activation> Int8Layer for QuantizedDense<IN, OUT, A> {
    type Input = [i8; IN];
    type Output = [i8; OUT];
    type FloatInput = [f32; IN];
    type FloatOutput = [f32; OUT];

    const EMPTY_LAYERS: Self = Self::EMPTY;
    const LAYER_COUNT: usize = 1;

    // Output parameters (scale, zero point), then per output channel its
    // weights, bias, weight scale, multiplier and shift.
    const FILE_BYTES: usize = 8 + OUT * (IN + 4 + 4 + 4 + 1);

    #[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline(always))]
    fn forward_in<I: Isa>(&self, isa: I, x: &[i8; IN]) -> [i8; OUT] {
        // acc_o = q_b[o] + Σ_i q_w[o][i] (x_i − z_in), with the constant part folded
        let acc = isa.int8_affine(&self.weights, &self.wide, &self.folded_bias, x);
        // y_o = clamp(z_out + M_o · acc_o, lo, hi)
        isa.requantize(&acc, &self.multipliers, &self.shifts, self.output.zero_point, self.output_clamp())
    }

    fn input_params(&self) -> QuantParams {
        self.input
    }

    fn output_params(&self) -> QuantParams {
        self.output
    }

    fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
        f(LayerInfo::dense(IN, OUT, A::NAME));
    }

    fn write_to(&self, out: &mut Writer<'_>) {
        out.f32(self.output.scale);
        out.i32(self.output.zero_point);
        for o in 0..OUT {
            for &w in &self.weights[o] {
                out.i8(w);
            }
            out.i32(self.bias[o]);
            out.f32(self.weight_scales[o]);
            out.i32(self.multipliers[o]);
            out.i8(self.shifts[o] as i8);
        }
    }

    fn read_into<const STORE: bool>(
        &mut self,
        reader: &mut Reader<'_>,
        input: QuantParams,
        first: usize,
    ) -> Result<QuantParams, Error> {
        let () = Self::FITS;
        let layer = first;
        let output = reader.params(layer, "output")?;
        if STORE {
            (self.input, self.output) = (input, output);
        }
        for o in 0..OUT {
            let mut range = Extremes::new(input.zero_point);
            for i in 0..IN {
                let w = reader.i8();
                range.add(w);
                if w == -128 {
                    return Err(reader.invalid(layer, "weight", o * IN + i, -128));
                }
                if STORE {
                    if let Some(slot) = self.weights.get_mut(o).and_then(|row| row.get_mut(i)) {
                        *slot = w;
                    }
                }
            }
            let bias = reader.i32();
            if !range.fits(bias) {
                return Err(reader.invalid(layer, "bias", o, i64::from(bias)));
            }
            let weight_scale = reader.scale(layer, "weight scale", o)?;
            let (multiplier, shift) = (reader.i32(), i32::from(reader.i8()));
            // A multiplier in [2³⁰, 2³¹) with a shift in -31..=30, or (0, 0).
            let normalised = (1 << 30..=i32::MAX).contains(&multiplier);
            if !normalised && multiplier != 0 {
                return Err(reader.invalid(layer, "multiplier", o, i64::from(multiplier)));
            }
            if !(-31..=30).contains(&shift) || (multiplier == 0 && shift != 0) {
                return Err(reader.invalid(layer, "shift", o, i64::from(shift)));
            }
            if STORE {
                self.set_row(o, bias, weight_scale, multiplier, shift);
            }
        }
        if STORE {
            self.wide = Wide::new(&self.weights);
        }
        Ok(output)
    }
}

impl<const IN: usize, const OUT: usize, A: Int8Activation> QuantizeLayer for Dense<IN, OUT, A, f32> {
    type Quantized = QuantizedDense<IN, OUT, A>;
    type Ranges = Range;

    fn observe(&self, sample: usize, x: &[f32; IN], range: &mut Range) -> Result<[f32; OUT], Error> {
        let y = self.forward(x);
        if let Some(index) = y.iter().position(|v| !v.is_finite()) {
            let value = f64::from(y[index]);
            return Err(Error::NonFiniteOutput { data: "calibration data", sample, index, value });
        }
        y.iter().for_each(|&v| range.observe(v));
        Ok(y)
    }

    fn quantize_layers(
        &self,
        input: QuantParams,
        range: &Range,
        first: usize,
    ) -> Result<(Self::Quantized, QuantParams), Error> {
        let () = QuantizedDense::<IN, OUT, A>::FITS;
        let output = range.params(first + 1)?;
        let mut q = QuantizedDense::EMPTY;
        (q.input, q.output) = (input, output);
        for o in 0..OUT {
            // s_w[o] = max_i |W_oi| / 127  (1 for an all-zero row, and for a row
            // so small, below 127 · 2⁻¹⁴⁹, that its scale underflows to 0: its
            // codes are all 0 either way)
            let max = self.weights[o].iter().fold(0.0f32, |m, w| m.max(Float::abs(*w)));
            let scale = match (f64::from(max) / 127.0) as f32 {
                s if s > 0.0 => s,
                _ => 1.0,
            };
            // q_w[o][i] = clamp(round(W_oi / s_w[o]), −127, 127)
            for (code, &w) in q.weights[o].iter_mut().zip(&self.weights[o]) {
                *code = round_half_away(f64::from(w) / f64::from(scale)).clamp(-127.0, 127.0) as i8;
            }
            // q_b[o] = round(b_o / (s_in s_w[o])), saturated to ±(2³¹ − 1)
            let bias_scale = f64::from(input.scale) * f64::from(scale);
            let q_bias = round_half_away(f64::from(self.bias[o]) / bias_scale);
            let bias = q_bias.clamp(-f64::from(i32::MAX), f64::from(i32::MAX)) as i32;
            let mut range = Extremes::new(input.zero_point);
            q.weights[o].iter().for_each(|&w| range.add(w));
            if !range.fits(bias) {
                return Err(Error::BiasOutOfRange {
                    layer: first,
                    channel: o,
                    bias: f64::from(self.bias[o]),
                });
            }
            // M_o = s_in s_w[o] / s_out → (multiplier, shift)
            let m = bias_scale / f64::from(output.scale);
            let (multiplier, shift) = quantize_multiplier(m).map_err(|_| Error::MultiplierOutOfRange {
                layer: first,
                channel: o,
                multiplier: m,
            })?;
            q.set_row(o, bias, scale, multiplier, shift);
        }
        q.wide = Wide::new(&q.weights);
        Ok((q, output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{Int8Model, Quantize};
    use crate::simd::Portable;

    /// The portable loop (what a microcontroller runs) and the dispatched
    /// kernel (AVX2 on x86 CPUs that have it) compute the same codes, for
    /// widths with and without remainders.
    #[test]
    fn portable_and_dispatched_kernels_agree() {
        fn check<const IN: usize, const OUT: usize>(seed: u32) {
            let w: [[f32; IN]; OUT] = core::array::from_fn(|o| {
                core::array::from_fn(|i| ((o * 31 + i * 7 + seed as usize) % 23) as f32 - 11.0)
            });
            let b: [f32; OUT] = core::array::from_fn(|o| o as f32 - 3.0);
            let layer: Dense<IN, OUT, crate::activation::ReLU> = Dense::new(w, b);
            let samples: [[f32; IN]; 3] =
                core::array::from_fn(|s| core::array::from_fn(|i| ((s * 5 + i) % 9) as f32 - 4.0));
            let q = layer.quantize(&samples).unwrap();
            for s in 0..200u32 {
                let x: [i8; IN] = core::array::from_fn(|i| {
                    (s.wrapping_mul(2_654_435_761).rotate_left(i as u32) >> 24) as i8
                });
                assert_eq!(q.forward_in(Portable, &x), q.forward(&x));
            }
        }
        check::<64, 128>(1);
        check::<21, 13>(2);
        check::<16, 8>(3);
        check::<3, 2>(4);
        check::<100, 17>(5);
    }

    /// The requantization of every instruction set equals the portable one
    /// on edge values: extreme accumulators, every shift, the extreme
    /// multipliers, zero points at both ends, and clamps.
    #[test]
    fn requantization_agrees_on_every_instruction_set() {
        use crate::simd::{self, Kernel};
        struct Requantize<'a>(&'a [i32; 16], &'a [i32; 16], &'a [i32; 16], i32, (i8, i8));
        impl Kernel for Requantize<'_> {
            type Output = [i8; 16];
            fn run<I: Isa>(self, isa: I) -> [i8; 16] {
                isa.requantize(self.0, self.1, self.2, self.3, self.4)
            }
        }
        let accs =
            [i32::MIN, i32::MIN + 1, -65_537, -3, -2, -1, 0, 1, 2, 3, 1000, 65_535, i32::MAX - 1, i32::MAX];
        let multipliers = [0, 1 << 30, (1 << 30) + 1, 1_518_500_250, i32::MAX, i32::MIN];
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for round in 0..20_000 {
            let acc: [i32; 16] = core::array::from_fn(|_| {
                let r = next();
                if r % 3 == 0 {
                    accs[(r / 3) as usize % accs.len()]
                } else {
                    next() as i32 >> (r % 24)
                }
            });
            let m: [i32; 16] = core::array::from_fn(|_| {
                let r = next();
                if r % 2 == 0 {
                    multipliers[(r / 2) as usize % multipliers.len()]
                } else {
                    (1 << 30) | (next() >> 2) as i32
                }
            });
            let s: [i32; 16] = core::array::from_fn(|_| (next() % 64) as i32 - 32);
            let zero_point = [-128, 0, 127, i32::MAX, i32::MIN][round % 5];
            let clamp = [(-128, 127), (-5, 9), (127, 127)][round % 3];
            let portable = simd::requantize(&acc, &m, &s, zero_point, clamp);
            assert_eq!(
                simd::dispatch(Requantize(&acc, &m, &s, zero_point, clamp)),
                portable,
                "{acc:?} {m:?} {s:?}"
            );
        }
    }
}
