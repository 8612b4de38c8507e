//! The int8 arithmetic, bit for bit, against an independent reference.
//!
//! `tests/int8/reference.py` implements the int8 specification (the TFLite
//! int8 scheme with TensorFlow Lite Micro's double rounding) separately, in
//! Python integers and numpy `float32`, and writes its results to
//! `tests/fixtures/int8_reference.txt`; this test only reads that file. Every
//! value must be equal: integers exactly, `f32` scales and ranges bit for
//! bit. The cases:
//!
//! * `primitives`: SRDHM, RoundingDivideByPOT and MultiplyByQuantizedMultiplier
//!   on edge, random and tie values; QuantizeMultiplier on powers of two, ties,
//!   round-ups to 2^31, flushes to zero and refusals.
//! * `three_layer`: a 3-layer net quantized with given ranges: every integer
//!   parameter, then 200 inputs quantized and run layer by layer.
//! * `ties_identity`, `ties_relu`: single layers with power-of-two scales and
//!   int8 inputs built so that many accumulators land on rounding ties, where
//!   double and single rounding differ (the fixture's header counts how often).
//! * `pipeline`: calibration from samples (`Calibration::observe` and
//!   `quantize`) on a dyadic net whose f32 forward is exact.
//! * `errors`: ranges and multipliers the specification refuses.
//! * `conversions`: the float-to-integer conversions (weights, scales, zero
//!   points, biases, multipliers) of one layer under 60 pairs of random
//!   ranges, with weights on rounding ties of `W / scale_w`.

use backprop::prelude::{Activation, Dense, Identity, ReLU};
use backprop::quant::fixed::{
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot, srdhm,
};
use backprop::quant::{Calibration, Int8Activation, Int8Model, QuantParams, Quantize, QuantizedDense, Range};
use std::fmt::Debug;
use std::str::FromStr;

// ---------------------------------------------------------------------------
// Reading the fixture: `case NAME` ... `end` blocks of `key value ...` lines.
// ---------------------------------------------------------------------------

/// One case of the fixture file: its lines, in order, as (key, fields).
struct Case {
    name: &'static str,
    lines: Vec<(&'static str, Vec<&'static str>)>,
}

impl Case {
    /// Every line with this key, in file order.
    fn all(&self, key: &str) -> Vec<&[&'static str]> {
        self.lines.iter().filter(|(k, _)| *k == key).map(|(_, fields)| fields.as_slice()).collect()
    }

    /// The one line with this key.
    fn one(&self, key: &str) -> &[&'static str] {
        match self.all(key)[..] {
            [line] => line,
            ref lines => panic!("{}: {} `{key}` lines, expected one", self.name, lines.len()),
        }
    }
}

fn fixture(name: &'static str) -> Case {
    let text: &'static str = include_str!("fixtures/int8_reference.txt");
    let start = format!("case {name}");
    let lines = text
        .lines()
        .skip_while(|l| *l != start)
        .skip(1)
        .take_while(|l| *l != "end")
        .map(|l| {
            let mut fields = l.split(' ');
            (fields.next().unwrap(), fields.collect())
        })
        .collect::<Vec<_>>();
    assert!(!lines.is_empty(), "no case `{name}` in the fixture file");
    Case { name, lines }
}

/// A decimal integer.
fn int<T: FromStr>(field: &str) -> T
where
    T::Err: Debug,
{
    field.parse().unwrap_or_else(|e| panic!("`{field}`: {e:?}"))
}

fn ints<T: FromStr>(fields: &[&str]) -> Vec<T>
where
    T::Err: Debug,
{
    fields.iter().map(|f| int(f)).collect()
}

/// An `f32` written as the 8 hex digits of its bit pattern.
fn float(field: &str) -> f32 {
    f32::from_bits(u32::from_str_radix(field, 16).unwrap_or_else(|e| panic!("`{field}`: {e}")))
}

fn floats(fields: &[&str]) -> Vec<f32> {
    fields.iter().map(|f| float(f)).collect()
}

fn array<T: Copy + Debug, const N: usize>(values: &[T]) -> [T; N] {
    values.try_into().unwrap_or_else(|_| panic!("{} values, expected {N}", values.len()))
}

/// `[[T; IN]; OUT]` from `OUT * IN` values, row-major.
fn matrix<T: Copy + Debug, const IN: usize, const OUT: usize>(values: &[T]) -> [[T; IN]; OUT] {
    assert_eq!(values.len(), IN * OUT, "matrix of {OUT}x{IN}");
    core::array::from_fn(|o| array(&values[o * IN..(o + 1) * IN]))
}

/// `min max`, two `f32`.
fn range(fields: &[&str]) -> Range {
    let [min, max] = array(&floats(fields));
    Range { min, max }
}

/// `scale zero_point`: an `f32` and an integer.
fn params(fields: &[&str]) -> (f32, i32) {
    assert_eq!(fields.len(), 2);
    (float(fields[0]), int(fields[1]))
}

/// Layer `k` of the float model, from `float{k}.weights` and `float{k}.bias`.
fn dense<const IN: usize, const OUT: usize, A: Activation>(case: &Case, k: usize) -> Dense<IN, OUT, A> {
    let weights = matrix(&floats(case.one(&format!("float{k}.weights"))));
    let bias = array(&floats(case.one(&format!("float{k}.bias"))));
    Dense::new(weights, bias)
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

/// `f32` values bit for bit; the message shows both as numbers and bits.
fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, the reference has {}", got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}[{k}]: ours {g:e} ({:08x}), reference {w:e} ({:08x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

fn assert_params(what: &str, got: QuantParams, want: (f32, i32)) {
    assert_bits(&format!("{what} scale"), &[got.scale], &[want.0]);
    assert_eq!(got.zero_point, want.1, "{what} zero point");
}

fn assert_range(what: &str, got: &Range, want: &[&str]) {
    let want = range(want);
    assert_bits(what, &[got.min, got.max], &[want.min, want.max]);
}

/// Every integer parameter of quantized layer `k` against `layer{k}.*`.
fn check_layer<const IN: usize, const OUT: usize, A: Int8Activation>(
    case: &Case,
    k: usize,
    q: &QuantizedDense<IN, OUT, A>,
) {
    let what = |field: &str| format!("{}: layer {k} {field}", case.name);
    let want = |field: &str| case.one(&format!("layer{k}.{field}"));
    let weights: Vec<i8> = q.weights().iter().flatten().copied().collect();
    assert_eq!(weights, ints::<i8>(want("weights")), "{}", what("weights"));
    assert_eq!(q.bias().to_vec(), ints::<i32>(want("bias")), "{}", what("bias"));
    assert_bits(&what("weight scales"), q.weight_scales(), &floats(want("weight_scales")));
    assert_eq!(q.multipliers().to_vec(), ints::<i32>(want("multipliers")), "{}", what("multipliers"));
    assert_eq!(q.shifts().to_vec(), ints::<i32>(want("shifts")), "{}", what("shifts"));
    assert_params(&what("input"), q.input(), params(want("input")));
    assert_params(&what("output"), q.output(), params(want("output")));
    let [lo, hi] = array(&ints::<i8>(want("clamp")));
    assert_eq!(q.output_clamp(), (lo, hi), "{}", what("clamp (lo, hi)"));
}

/// The k-th line of `key`, for every sample, as integers.
fn rows<T: FromStr>(case: &Case, key: &str) -> Vec<Vec<T>>
where
    T::Err: Debug,
{
    case.all(key).into_iter().map(ints).collect()
}

// ---------------------------------------------------------------------------
// (a) primitives
// ---------------------------------------------------------------------------

#[test]
fn srdhm_matches_reference() {
    let case = fixture("primitives");
    let mut n = 0;
    for f in case.all("srdhm") {
        let [a, b, want] = array(&ints::<i32>(f));
        assert_eq!(srdhm(a, b), want, "srdhm({a}, {b})");
        n += 1;
    }
    assert!(n > 2000, "{n} srdhm lines");
}

#[test]
fn rounding_divide_by_pot_matches_reference() {
    let case = fixture("primitives");
    let mut n = 0;
    for f in case.all("rdbp") {
        let (x, exponent, want) = (int::<i32>(f[0]), int::<u32>(f[1]), int::<i32>(f[2]));
        assert_eq!(rounding_divide_by_pot(x, exponent), want, "rounding_divide_by_pot({x}, {exponent})");
        n += 1;
    }
    assert!(n > 2000, "{n} rdbp lines");
}

#[test]
fn multiply_by_quantized_multiplier_matches_reference() {
    let case = fixture("primitives");
    let mut n = 0;
    for f in case.all("mbqm") {
        let [x, multiplier, shift, want] = array(&ints::<i32>(f));
        assert_eq!(
            multiply_by_quantized_multiplier(x, multiplier, shift),
            want,
            "multiply_by_quantized_multiplier({x}, {multiplier}, {shift})"
        );
        n += 1;
    }
    assert!(n > 4000, "{n} mbqm lines");
}

#[test]
fn quantize_multiplier_matches_reference() {
    let case = fixture("primitives");
    let (mut accepted, mut refused) = (0, 0);
    for f in case.all("qm") {
        let m = f64::from_bits(u64::from_str_radix(f[0], 16).unwrap());
        let got = quantize_multiplier(m);
        if f[1] == "refused" {
            assert!(got.is_err(), "quantize_multiplier({m:e}) = {got:?}, the reference refuses it");
            refused += 1;
        } else {
            let want = (int(f[1]), int(f[2]));
            assert_eq!(got.ok(), Some(want), "quantize_multiplier({m:e}) ({})", f[0]);
            accepted += 1;
        }
    }
    assert!(accepted > 500 && refused > 10, "{accepted} accepted, {refused} refused");
}

// ---------------------------------------------------------------------------
// (b) a 3-layer net with given ranges
// ---------------------------------------------------------------------------

#[test]
fn three_layer_net_matches_reference() {
    type Net = (Dense<5, 7, ReLU>, Dense<7, 4, ReLU>, Dense<4, 3, Identity>);
    let case = fixture("three_layer");
    let net: Net = (dense(&case, 0), dense(&case, 1), dense(&case, 2));
    let calibration = Calibration {
        input: range(case.one("range.input")),
        outputs: (
            range(case.one("range.layer0")),
            range(case.one("range.layer1")),
            range(case.one("range.layer2")),
        ),
    };
    let qm = net.quantize_with(&calibration).unwrap();
    check_layer(&case, 0, &qm.0);
    check_layer(&case, 1, &qm.1);
    check_layer(&case, 2, &qm.2);

    let xs: Vec<Vec<f32>> = case.all("x").into_iter().map(floats).collect();
    let (xq, y0) = (rows::<i8>(&case, "xq"), rows::<i8>(&case, "y0"));
    let (y1, y2) = (rows::<i8>(&case, "y1"), rows::<i8>(&case, "y2"));
    assert_eq!(xs.len(), 200);
    for n in 0..xs.len() {
        let input = qm.quantize_input(&array(&xs[n])).unwrap();
        assert_eq!(input.to_vec(), xq[n], "sample {n}: quantized input of {:?}", xs[n]);
        let a0 = qm.0.forward(&input);
        assert_eq!(a0.to_vec(), y0[n], "sample {n}: layer 0");
        let a1 = qm.1.forward(&a0);
        assert_eq!(a1.to_vec(), y1[n], "sample {n}: layer 1");
        let a2 = qm.2.forward(&a1);
        assert_eq!(a2.to_vec(), y2[n], "sample {n}: layer 2");
        assert_eq!(qm.forward(&input), a2, "sample {n}: the model's forward against its layers'");
    }
}

// ---------------------------------------------------------------------------
// (c) rounding ties
// ---------------------------------------------------------------------------

fn check_ties<A: Int8Activation>(name: &'static str) {
    let case = fixture(name);
    let layer: Dense<8, 6, A> = dense(&case, 0);
    let calibration =
        Calibration { input: range(case.one("range.input")), outputs: range(case.one("range.layer0")) };
    let q = layer.quantize_with(&calibration).unwrap();
    check_layer(&case, 0, &q);
    let (xq, y0) = (rows::<i8>(&case, "xq"), rows::<i8>(&case, "y0"));
    assert_eq!(xq.len(), 64);
    for (n, (x, want)) in xq.iter().zip(&y0).enumerate() {
        assert_eq!(q.forward(&array(x)).to_vec(), *want, "{name}: sample {n}, input {x:?}");
    }
    // `stats outputs differ ...`: the share of outputs where single rounding
    // would have given another value, so this case tells the two apart.
    let stats = ints::<usize>(case.one("stats"));
    assert!(
        stats[1] * 5 > stats[0],
        "{name}: only {} of {} outputs tell the roundings apart",
        stats[1],
        stats[0]
    );
}

#[test]
fn rounding_ties_identity_match_reference() {
    check_ties::<Identity>("ties_identity");
}

#[test]
fn rounding_ties_relu_match_reference() {
    check_ties::<ReLU>("ties_relu");
}

// ---------------------------------------------------------------------------
// (d) calibration from samples
// ---------------------------------------------------------------------------

#[test]
fn pipeline_from_calibration_samples_matches_reference() {
    type Net = (Dense<4, 6, ReLU>, Dense<6, 3, Identity>);
    let case = fixture("pipeline");
    let net: Net = (dense(&case, 0), dense(&case, 1));
    let samples: Vec<[f32; 4]> = case.all("calibration").into_iter().map(|f| array(&floats(f))).collect();
    assert_eq!(samples.len(), 24);

    let calibration = Calibration::observe(&net, &samples).unwrap();
    assert_range("pipeline: input range", &calibration.input, case.one("range.input"));
    assert_range("pipeline: layer 0 range", &calibration.outputs.0, case.one("range.layer0"));
    assert_range("pipeline: layer 1 range", &calibration.outputs.1, case.one("range.layer1"));

    // `quantize` (observe, then quantize_with) and `quantize_with` on the
    // observed ranges: the same model.
    let from_samples = net.quantize(&samples).unwrap();
    let from_ranges = net.quantize_with(&calibration).unwrap();
    for qm in [&from_samples, &from_ranges] {
        check_layer(&case, 0, &qm.0);
        check_layer(&case, 1, &qm.1);
    }

    let xs: Vec<Vec<f32>> = case.all("x").into_iter().map(floats).collect();
    let (xq, y0, y1) = (rows::<i8>(&case, "xq"), rows::<i8>(&case, "y0"), rows::<i8>(&case, "y1"));
    assert_eq!(xs.len(), 40);
    for n in 0..xs.len() {
        let input = from_samples.quantize_input(&array(&xs[n])).unwrap();
        assert_eq!(input.to_vec(), xq[n], "sample {n}: quantized input of {:?}", xs[n]);
        let a0 = from_samples.0.forward(&input);
        assert_eq!(a0.to_vec(), y0[n], "sample {n}: layer 0");
        assert_eq!(from_samples.forward(&input).to_vec(), y1[n], "sample {n}: output");
    }
}

// ---------------------------------------------------------------------------
// (e) what the specification refuses
// ---------------------------------------------------------------------------

/// `NAME w(4) b(2) input_range(2) output_range(2) ...`: the layer and its
/// calibration.
fn error_case(
    f: &[&'static str],
) -> (&'static str, Dense<2, 2, Identity>, Calibration<Dense<2, 2, Identity>>) {
    let values = floats(&f[1..11]);
    let layer = Dense::new(matrix(&values[..4]), array(&values[4..6]));
    let calibration = Calibration {
        input: Range { min: values[6], max: values[7] },
        outputs: Range { min: values[8], max: values[9] },
    };
    (f[0], layer, calibration)
}

#[test]
fn refuses_what_the_reference_refuses() {
    let case = fixture("errors");
    let mut refused = 0;
    for f in case.all("refuse") {
        let (name, layer, calibration) = error_case(f);
        let reason = f[11];
        assert!(
            layer.quantize_with(&calibration).is_err(),
            "{name}: quantized, the reference refuses it ({reason})"
        );
        refused += 1;
    }
    assert_eq!(refused, 7);
    let mut accepted = 0;
    for f in case.all("accept") {
        let (name, layer, calibration) = error_case(f);
        let q = layer.quantize_with(&calibration).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_params(&format!("{name}: input"), q.input(), params(&f[11..13]));
        assert_params(&format!("{name}: output"), q.output(), params(&f[13..15]));
        assert_eq!(q.multipliers().to_vec(), ints::<i32>(&f[15..17]), "{name}: multipliers");
        assert_eq!(q.shifts().to_vec(), ints::<i32>(&f[17..19]), "{name}: shifts");
        accepted += 1;
    }
    assert_eq!(accepted, 2);
}

/// Calibration sets the issue requires refused (the specification leaves
/// `observe` on them open): every range collapsed to zero, no samples, a
/// non-finite sample.
#[test]
fn refuses_degenerate_calibration_sets() {
    let zeros: Dense<2, 2, Identity> = Dense::new([[0.0; 2]; 2], [0.0; 2]);
    assert!(zeros.quantize(&[[0.0; 2]; 3]).is_err(), "every range collapsed to zero");
    let layer: Dense<2, 2, Identity> = Dense::new([[0.5, -0.25], [1.0, 0.75]], [0.1, -0.2]);
    assert!(layer.quantize(&[]).is_err(), "no calibration samples");
    assert!(layer.quantize(&[[0.5, 1.0], [f32::NAN, 0.0]]).is_err(), "a NaN calibration sample");
    assert!(layer.quantize(&[[0.5, 1.0], [f32::INFINITY, 0.0]]).is_err(), "an infinite calibration sample");
}

// ---------------------------------------------------------------------------
// (f) the float-to-integer conversions
// ---------------------------------------------------------------------------

#[test]
fn conversions_match_reference() {
    let case = fixture("conversions");
    let weights: [[f32; 8]; 32] = matrix(&floats(case.one("float0.weights")));
    let ranges = case.all("pair.ranges");
    let (biases, inputs, outputs) =
        (case.all("pair.bias_float"), case.all("pair.input"), case.all("pair.output"));
    let (bias, multipliers, shifts) =
        (case.all("pair.bias"), case.all("pair.multipliers"), case.all("pair.shifts"));
    assert_eq!(ranges.len(), 60);
    for n in 0..ranges.len() {
        let layer: Dense<8, 32, Identity> = Dense::new(weights, array(&floats(biases[n])));
        let calibration = Calibration { input: range(&ranges[n][..2]), outputs: range(&ranges[n][2..]) };
        let q = layer.quantize_with(&calibration).unwrap_or_else(|e| panic!("pair {n}: {e}"));
        let weights: Vec<i8> = q.weights().iter().flatten().copied().collect();
        assert_eq!(weights, ints::<i8>(case.one("layer0.weights")), "pair {n}: weights");
        assert_bits(
            &format!("pair {n}: weight scales"),
            q.weight_scales(),
            &floats(case.one("layer0.weight_scales")),
        );
        assert_params(&format!("pair {n}: input"), q.input(), params(inputs[n]));
        assert_params(&format!("pair {n}: output"), q.output(), params(outputs[n]));
        assert_eq!(q.bias().to_vec(), ints::<i32>(bias[n]), "pair {n}: bias");
        assert_eq!(q.multipliers().to_vec(), ints::<i32>(multipliers[n]), "pair {n}: multipliers");
        assert_eq!(q.shifts().to_vec(), ints::<i32>(shifts[n]), "pair {n}: shifts");
    }
}
