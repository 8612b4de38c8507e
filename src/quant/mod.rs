//! Integer inference: int8 models made from trained `f32` models, in the
//! scheme of TensorFlow Lite's int8 specification, run with integer
//! arithmetic only.
//!
//! On a microcontroller without a floating-point unit every `f32` multiply
//! is a library call; an int8 model does its work in 8-bit multiplies and
//! 32-bit sums, with weights four times smaller. The path:
//!
//! ```
//! use backprop::prelude::*;
//! use backprop::quant::{Int8Model, Quantize, Quantized};
//!
//! type Net = (Dense<4, 16, ReLU>, Dense<16, 3, Identity>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
//! // ... train it ...
//! let calibration = [[0.1, 0.5, -0.3, 1.0], [0.9, -0.2, 0.0, 0.4], [-1.0, 0.3, 0.7, 0.2]];
//! let int8: Quantized<Net> = net.quantize(&calibration)?; // (QuantizedDense<4, 16, ReLU>, QuantizedDense<16, 3, Identity>)
//!
//! let x = int8.quantize_input(&[0.2, 0.1, -0.5, 0.8])?; // f32 → i8, at the edge
//! let logits: [i8; 3] = int8.forward(&x); //              integers only
//! let class = int8.classify(&[0.2, 0.1, -0.5, 0.8])?; //  both, and the argmax
//! # let _ = (logits, class);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! The int8 model's type follows the float model's: `Dense<IN, OUT, A>`
//! becomes [`QuantizedDense<IN, OUT, A>`], a tuple becomes the tuple of its
//! layers' int8 forms, so every shape is still checked by the compiler. Its
//! integer parameters are readable ([`QuantizedDense::weights`],
//! [`bias`](QuantizedDense::bias), [`multipliers`](QuantizedDense::multipliers),
//! ...), and [`file`](mod@file) stores it in the library's weight format, checksummed,
//! for `include_bytes!` into firmware.
//!
//! # Math
//!
//! **Affine maps.** A real tensor `r` is stored as int8 `q` with a scale `s`
//! and a zero point `z`: `r = s · (q − z)`. Activations (the model's input
//! and every layer's output) get one `(s, z)` per tensor, *asymmetric*: the
//! observed range `[min, max]` (widened to contain 0) is spread over the 256
//! codes, `s = (max − min) / 255`, `z = −128 − min / s`, so a ReLU output
//! (min 0) uses all 256 codes for its positive half, and the real 0 is
//! exactly a code (zero padding and ReLU's clamp are exact). Weights get one
//! scale per output channel and no zero point, *symmetric*:
//! `s_w[o] = max_i |W_oi| / 127`, `q ∈ [−127, 127]`. Per channel, because
//! the rows of a trained layer differ in size: one scale for all would be
//! set by the largest row and leave the smaller rows fewer codes.
//! Biases are int32 in units of `s_in · s_w[o]`, so they add straight into
//! the accumulator.
//!
//! **A layer in integers.** Substituting the affine maps into
//! `z_o = b_o + Σ_i W_oi x_i`:
//!
//! ```text
//! s_out (y_o − z_out) = s_in s_w[o] · ( q_b[o] + Σ_i q_w[o][i] (x_i − z_in) )
//!                                      └──────────── acc_o (int32) ─────────┘
//! y_o = z_out + M_o · acc_o,    M_o = s_in s_w[o] / s_out
//! ```
//!
//! `acc_o` is exact integer arithmetic (8-bit products, 32-bit sums); only
//! the real multiplier `M_o` is left, and [`fixed`](mod@fixed) turns it into a 31-bit
//! integer multiplier and a shift, computed once when the model is
//! quantized. ReLU is the clamp of `y_o` to `[z_out, 127]` (the code of the
//! real 0 upwards), identity the clamp to `[−128, 127]`.
//!
//! **Calibration** chooses the activation ranges: [`Calibration::observe`]
//! runs the float model on representative inputs (the training set is the
//! usual choice) and records each tensor's minimum and maximum. A wider range
//! than the data needs wastes codes; a narrower one clips. Where accuracy
//! goes: the rounding of each weight (at most half a step, `s_w/2`), of each
//! activation (`s/2`), and of the multiplier (31 bits: negligible);
//! `examples/10_int8.rs` measures what it costs on real data.
//!
//! The exact rules (rounding, ties, clamps) are those of TensorFlow Lite's
//! int8 scheme with TensorFlow Lite Micro's requantization; they are written
//! out step by step on [`Quantize`], [`QuantizedDense`] and in [`fixed`], and
//! checked bit for bit against an independent reference
//! (`tests/int8/reference.py`, fixtures in `tests/fixtures/`).

mod bytes;
mod chain;
mod dense;
pub mod file;
pub mod fixed;
mod layer;

pub use dense::QuantizedDense;
pub(crate) use layer::{Array, Int8Layer, QuantizeLayer};

use crate::activation::{Activation, Identity, ReLU};
use crate::error::Error;
use crate::model::{LayerInfo, Model};
use crate::simd::{self, Isa, Kernel};
use fixed::round_half_away;

/// The range `[min, max]` of the real values a tensor takes, as calibration
/// observes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// The smallest value.
    pub min: f32,
    /// The largest value.
    pub max: f32,
}

impl Default for Range {
    /// The empty range (`min = +∞`, `max = −∞`), which every observation
    /// widens.
    fn default() -> Self {
        Range { min: f32::INFINITY, max: f32::NEG_INFINITY }
    }
}

impl Range {
    /// Widens the range to contain `v`.
    #[inline]
    pub fn observe(&mut self, v: f32) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// The int8 parameters of a tensor with this range (asymmetric, per
    /// tensor).
    ///
    /// # Math
    ///
    /// ```text
    /// rmin = min(min, 0), rmax = max(max, 0)               (f32: the range holds 0)
    /// scale = (rmax − rmin) / 255                          (in f64, rounded to f32)
    /// zero_point = clamp(round(−128 − rmin / scale), −128, 127)   (ties away from 0)
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::CollapsedRange`] if the range is not finite, inverted
    /// (`min > max`), or has zero
    /// width (after widening to 0: every observation was 0), or so narrow
    /// that its scale underflows `f32`. `tensor` names the tensor in the
    /// error (0: the model's input, `k + 1`: layer `k`'s output).
    ///
    /// ```
    /// use backprop::quant::{QuantParams, Range};
    /// let relu_output = Range { min: 0.0, max: 2.55 };
    /// let p = relu_output.params(1)?;
    /// assert_eq!(p.zero_point, -128);
    /// assert!((p.scale - 0.01).abs() < 1e-9);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn params(&self, tensor: usize) -> Result<QuantParams, Error> {
        let collapsed = Error::CollapsedRange { tensor, min: f64::from(self.min), max: f64::from(self.max) };
        // Checked before widening: `f32::min` would turn a NaN into 0, and an
        // inverted range such as [5, 3] into [0, 3].
        if !(self.min.is_finite() && self.max.is_finite() && self.min <= self.max) {
            return Err(collapsed);
        }
        let rmin = self.min.min(0.0);
        let rmax = self.max.max(0.0);
        if rmax <= rmin {
            return Err(collapsed);
        }
        let scale = ((f64::from(rmax) - f64::from(rmin)) / 255.0) as f32;
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(collapsed);
        }
        let zero_point =
            round_half_away(-128.0 - f64::from(rmin) / f64::from(scale)).clamp(-128.0, 127.0) as i32;
        Ok(QuantParams { scale, zero_point })
    }
}

/// How an int8 tensor encodes real values: `r = scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    /// The real value of one step, `> 0`.
    pub scale: f32,
    /// The code of the real 0, in `-128..=127`.
    pub zero_point: i32,
}

impl QuantParams {
    /// `x` as an int8 code: `clamp(round(x / scale) + zero_point, −128, 127)`
    /// (the division in `f32`, ties away from zero). NaN is not a value:
    /// callers check for it first.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        // round(v), ties away from zero, without a call to `roundf`: the
        // integer part (a saturating cast) and the fractional part `v − t`,
        // which is exact below 2²⁴ (above, `v` is a whole number, or far
        // outside the int8 range that the clamp leaves).
        let v = x / self.scale;
        let t = v as i32;
        let frac = v - t as f32;
        let q = if frac >= 0.5 {
            t.saturating_add(1)
        } else if frac <= -0.5 {
            t.saturating_sub(1)
        } else {
            t
        };
        q.saturating_add(self.zero_point).clamp(-128, 127) as i8
    }

    /// The real value of the code `q`: `scale · (q − zero_point)`.
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        (i64::from(q) - i64::from(self.zero_point)) as f32 * self.scale
    }
}

/// The int8 model of the float model `M`: `QuantizedDense<IN, OUT, A>` for
/// a `Dense<IN, OUT, A>`, the tuple of its layers' for a tuple.
///
/// ```
/// use backprop::prelude::*;
/// use backprop::quant::{Quantized, QuantizedDense};
/// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
/// let same: Option<(QuantizedDense<64, 128, ReLU>, QuantizedDense<128, 10, Identity>)> = None::<Quantized<Net>>;
/// # let _ = same;
/// ```
pub type Quantized<M> = <M as QuantizeLayer>::Quantized;

/// The shape of a model's calibration ranges ([`Calibration::outputs`]):
/// [`Range`] for a `Dense` layer, the tuple of its layers' for a tuple.
pub type Ranges<M> = <M as QuantizeLayer>::Ranges;

/// The ranges calibration observed for a model `M`: its input's, and each
/// layer's output's (after the activation).
///
/// `outputs` has the model's shape: a [`Range`] for one `Dense` layer, a
/// tuple of the layers' for a tuple (`(Range, Range)` for two layers). Build
/// it with [`observe`](Calibration::observe), or by hand to quantize with
/// ranges chosen elsewhere.
pub struct Calibration<M: Quantize> {
    /// The range of the model's input.
    pub input: Range,
    /// The range of each layer's output, in the model's shape.
    pub outputs: M::Ranges,
}

impl<M: Quantize> Clone for Calibration<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: Quantize> Copy for Calibration<M> {}
impl<M: Quantize> core::fmt::Debug for Calibration<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Calibration").field("input", &self.input).field("outputs", &self.outputs).finish()
    }
}

impl<M: Quantize> Calibration<M> {
    /// The ranges of every tensor of `model` over `samples`: the model's own
    /// `f32` forward pass on each sample, minimum and maximum over every
    /// sample and element.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyData`] for no samples, [`Error::NonFiniteInput`] for a
    /// sample holding NaN or an infinity, [`Error::NonFiniteOutput`] if a
    /// layer's output is not finite (the model's weights hold a NaN, or its
    /// values overflow), each naming the sample; a range of zero width is
    /// found later, by [`Quantize::quantize_with`].
    pub fn observe(model: &M, samples: &[M::Input]) -> Result<Self, Error> {
        if samples.is_empty() {
            return Err(Error::EmptyData { what: "calibration data" });
        }
        let mut calibration = Calibration { input: Range::default(), outputs: M::Ranges::default() };
        for (sample, x) in samples.iter().enumerate() {
            let values: &[f32] = x.as_ref();
            if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFiniteInput { data: "calibration data", sample, index });
            }
            values.iter().for_each(|&v| calibration.input.observe(v));
            model.observe(sample, x, &mut calibration.outputs)?;
        }
        Ok(calibration)
    }
}

/// A float model that has an int8 form: a chain of `Dense<IN, OUT, A, f32>`
/// layers whose activations are [`Int8Activation`]s (`ReLU`, `Identity`).
///
/// [`Quantized<M>`] is the int8 model's type (`QuantizedDense<IN, OUT, A>`
/// for a `Dense` layer, the tuple of its layers' for a tuple) and
/// [`Ranges<M>`] the shape of its [`Calibration`] (a [`Range`] per layer,
/// in the model's tuple shape).
///
/// # Math
///
/// For each layer, with `s_in` its input's scale (the previous layer's output
/// scale; the model input's for the first) and `s_out` its output's, from
/// the calibration ranges ([`Range::params`]):
///
/// ```text
/// weights, per output row o:  s_w[o] = max_i |W_oi| / 127     (1 if that is 0 in f32)
///                             q_w[o][i] = clamp(round(W_oi / s_w[o]), −127, 127)
/// bias:                       q_b[o] = round(b_o / (s_in · s_w[o]))   (int32, saturated)
/// requantization:             M_o = s_in · s_w[o] / s_out → (multiplier, shift)   (fixed::quantize_multiplier)
/// ```
///
/// Scales are `f32`; the divisions and products above are in `f64` from
/// them; every rounding is to nearest, ties away from zero.
///
/// A model with another activation is a compile error. Called as a function,
/// `Quantize::quantize(&net, &samples)`, the error names the activation
/// ("`Sigmoid` has no int8 form: int8 layers fold `ReLU` or `Identity` into
/// the clamp of their output"); called as a method, `net.quantize(..)`,
/// rustc reports only that the tuple does not implement `QuantizeLayer`
/// (both pinned in `tests/ui/`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no int8 form: quantization takes a chain of `Dense<IN, OUT, ReLU | Identity, f32>` layers",
    label = "not quantizable",
    note = "int8 layers fold `ReLU` or `Identity` into the clamp of their output; other activations have no int8 form here"
)]
pub trait Quantize: Model + QuantizeLayer {
    /// The int8 model of `self` for inputs like `samples`: the ranges of
    /// [`Calibration::observe`], then [`quantize_with`](Quantize::quantize_with).
    ///
    /// # Errors
    ///
    /// Those of [`Calibration::observe`] and of
    /// [`quantize_with`](Quantize::quantize_with).
    fn quantize(&self, samples: &[Self::Input]) -> Result<Self::Quantized, Error> {
        self.quantize_with(&Calibration::observe(self, samples)?)
    }

    /// The int8 model of `self` with the given ranges.
    ///
    /// # Errors
    ///
    /// [`Error::CollapsedRange`] for a range with no width (see
    /// [`Range::params`]); [`Error::NonFiniteWeight`] for a NaN or infinite
    /// weight or bias; [`Error::MultiplierOutOfRange`] for a requantization
    /// multiplier of `2³⁰` or more (an output range more than a billion
    /// times narrower than the input's); [`Error::BiasOutOfRange`] for a
    /// bias whose int32 accumulator could overflow.
    fn quantize_with(&self, calibration: &Calibration<Self>) -> Result<Self::Quantized, Error> {
        crate::weights::check_finite(self)?;
        let input = calibration.input.params(0)?;
        Ok(self.quantize_layers(input, &calibration.outputs, 0)?.0)
    }
}

impl<M: Model + QuantizeLayer> Quantize for M {}

/// The activations an int8 layer can have: folded into the clamp of its
/// output, as TensorFlow Lite fuses them.
///
/// Sealed: implemented for [`ReLU`] (clamp to `[zero_point, 127]`) and
/// [`Identity`] (clamp to `[−128, 127]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no int8 form: int8 layers fold `ReLU` or `Identity` into the clamp of their output",
    label = "not an int8 activation"
)]
pub trait Int8Activation: Activation + PartialEq + sealed::Sealed {
    /// The lowest output code, given the output's zero point.
    fn clamp_low(zero_point: i32) -> i8;
}

impl Int8Activation for ReLU {
    #[inline(always)]
    fn clamp_low(zero_point: i32) -> i8 {
        zero_point.clamp(-128, 127) as i8 // the code of the real 0
    }
}

impl Int8Activation for Identity {
    #[inline(always)]
    fn clamp_low(_zero_point: i32) -> i8 {
        -128
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::activation::ReLU {}
    impl Sealed for crate::activation::Identity {}
}

/// An int8 model: a [`QuantizedDense`] layer or a tuple of int8 models, made
/// by [`Quantize`] or read by [`file::read`].
///
/// Its input codes (`Q::Input`) are `[i8; IN]`, its output codes
/// (`Q::Output`) `[i8; OUT]`; `Q::FloatInput` and `Q::FloatOutput` are the
/// float model's `[f32; IN]` and `[f32; OUT]`.
pub trait Int8Model: Int8Layer {
    /// The forward pass in integers only: int8 input codes to int8 output
    /// codes (logits, for a classifier). On x86 with `std`, compiled for
    /// AVX2 when the CPU has it; the same bits everywhere.
    fn forward(&self, input: &Self::Input) -> Self::Output {
        struct Pass<'a, Q: Int8Layer>(&'a Q, &'a Q::Input);
        impl<Q: Int8Layer> Kernel for Pass<'_, Q> {
            type Output = Q::Output;
            #[inline(always)]
            fn run<I: Isa>(self, isa: I) -> Q::Output {
                self.0.forward_in(isa, self.1)
            }
        }
        simd::dispatch(Pass(self, input))
    }

    /// The float input `x` as int8 codes with the model input's
    /// [`QuantParams`] (see [`QuantParams::quantize`]).
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteInput`] if `x` holds NaN or an infinity.
    fn quantize_input(&self, x: &Self::FloatInput) -> Result<Self::Input, Error> {
        let params = self.input_quantization();
        let mut codes = <Self::Input as Array<i8>>::ZEROS;
        for (index, (q, &v)) in codes.as_mut().iter_mut().zip(x.as_ref()).enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFiniteInput { data: "input", sample: 0, index });
            }
            *q = params.quantize(v);
        }
        Ok(codes)
    }

    /// The real values of output codes, with the last layer's
    /// [`QuantParams`].
    fn dequantize_output(&self, y: &Self::Output) -> Self::FloatOutput {
        let params = self.output_quantization();
        let mut out = <Self::FloatOutput as Array<f32>>::ZEROS;
        for (r, &q) in out.as_mut().iter_mut().zip(y.as_ref()) {
            *r = params.dequantize(q);
        }
        out
    }

    /// Quantize, integer forward pass, dequantize: the int8 model's
    /// approximation of the float model's output.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteInput`] if `x` holds NaN or an infinity.
    fn predict(&self, x: &Self::FloatInput) -> Result<Self::FloatOutput, Error> {
        Ok(self.dequantize_output(&self.forward(&self.quantize_input(x)?)))
    }

    /// The class of `x`: the index of the largest output code (the first on
    /// ties).
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteInput`] if `x` holds NaN or an infinity.
    fn classify(&self, x: &Self::FloatInput) -> Result<usize, Error> {
        Ok(argmax(self.forward(&self.quantize_input(x)?).as_ref()))
    }

    /// The class of input codes, in integers only: the index of the largest
    /// output code (the first on ties).
    fn classify_codes(&self, input: &Self::Input) -> usize {
        argmax(self.forward(input).as_ref())
    }

    /// The model input's [`QuantParams`].
    fn input_quantization(&self) -> QuantParams {
        self.input_params()
    }

    /// The last layer's output [`QuantParams`].
    fn output_quantization(&self) -> QuantParams {
        self.output_params()
    }

    /// Storage for [`file::read_into`]: every layer's
    /// [`QuantizedDense::EMPTY`] (all values 0, so a `static` holding it
    /// takes no flash). Not a model until `read_into` has filled it.
    ///
    /// ```
    /// use backprop::prelude::*;
    /// use backprop::quant::{Int8Model, Quantized};
    /// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
    /// static mut MODEL: Quantized<Net> = <Quantized<Net> as Int8Model>::EMPTY;
    /// ```
    const EMPTY: Self = Self::EMPTY_LAYERS;

    /// The number of layers.
    const LAYERS: usize = Self::LAYER_COUNT;

    /// Calls `f` with each layer's description (the float layer's widths and
    /// activation), in forward order.
    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
        Self::describe(f)
    }

    /// The architecture fingerprint [`file`](mod@file) stores: FNV-1a 64 of
    /// `Int8Dense(<in>,<out>,<activation>);` per layer, so an int8 file is
    /// never taken for a float one of the same widths.
    fn fingerprint() -> u64 {
        crate::model::fingerprint_of("Int8", |f| Self::describe(&mut |layer| f(layer)))
    }
}

impl<Q: Int8Layer> Int8Model for Q {}

/// The index of the largest code, the first on ties (0 for none).
fn argmax(codes: &[i8]) -> usize {
    let mut best = (0, i8::MIN);
    for (i, &c) in codes.iter().enumerate() {
        if i == 0 || c > best.1 {
            best = (i, c);
        }
    }
    best.0
}
