//! int8 models: the integer forward pass against a naive reference loop
//! written here from the arithmetic's definition, the float model it comes
//! from, the weight file (round trip and every corruption), and every bad
//! input to quantization. (The bit-exact check against the independent
//! numpy reference is `tests/int8_reference.rs`.)

use backprop::prelude::*;
use backprop::quant::{
    file, Calibration, Int8Model, QuantParams, Quantize, Quantized, QuantizedDense, Range,
};
use backprop::weights::crc32;
use rand::Rng;

/// Odd widths: the AVX2 kernel's row blocks of 8 and input chunks of 16
/// both have remainders.
type Net = (Dense<21, 13, ReLU>, Dense<13, 9, ReLU>, Dense<9, 5, Identity>);

fn net(seed: u64) -> Net {
    let mut net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(seed));
    // Non-zero biases, of both signs.
    net.0.bias = core::array::from_fn(|o| (o as f32 - 6.0) * 0.05);
    net.1.bias = core::array::from_fn(|o| (o as f32 - 4.0) * 0.1);
    net.2.bias = core::array::from_fn(|o| o as f32 * 0.2 - 0.4);
    net
}

fn inputs(n: usize, seed: u64) -> Vec<[f32; 21]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..n).map(|_| core::array::from_fn(|_| (rng.next_u32() % 5001) as f32 / 1000.0 - 2.0)).collect()
}

/// `x · M` rounded as TensorFlow Lite Micro does, from the definition:
/// round(x · m / 2³¹) with ties upward, then round(· / 2^right) with ties
/// away from zero, in 128-bit integers.
fn requantize(acc: i32, multiplier: i32, shift: i32) -> i32 {
    let x = i128::from(acc) << shift.max(0);
    let x = i128::from(x as i32); // the 32-bit left shift wraps
    let p = x * i128::from(multiplier);
    let high = (2 * p + (1i128 << 31)).div_euclid(1i128 << 32); // floor(2p/2³² + 1/2): ties upward
    let high = high.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    let right = (-shift).max(0) as u32;
    if right == 0 {
        return high as i32;
    }
    let d = 1i128 << right;
    let q = high.abs() / d;
    let r = high.abs() % d;
    let rounded = if 2 * r >= d { q + 1 } else { q };
    (if high < 0 { -rounded } else { rounded }) as i32
}

/// One int8 layer, from the definition: `acc = q_b + Σ q_w (x − z_in)`
/// in 64 bits, requantized, shifted by `z_out`, clamped.
fn reference_layer<const IN: usize, const OUT: usize, A: backprop::quant::Int8Activation>(
    layer: &QuantizedDense<IN, OUT, A>,
    x: &[i8; IN],
) -> [i8; OUT] {
    let z_in = i64::from(layer.input().zero_point);
    let (lo, hi) = layer.output_clamp();
    core::array::from_fn(|o| {
        let mut acc = i64::from(layer.bias()[o]);
        for (&w, &x) in layer.weights()[o].iter().zip(x) {
            acc += i64::from(w) * (i64::from(x) - z_in);
        }
        let acc = i32::try_from(acc).expect("the accumulator fits in 32 bits");
        let v = requantize(acc, layer.multipliers()[o], layer.shifts()[o]);
        (v + layer.output().zero_point).clamp(i32::from(lo), i32::from(hi)) as i8
    })
}

#[test]
fn forward_equals_the_reference_loop_bit_for_bit() {
    let net = net(1);
    let data = inputs(300, 2);
    let int8 = net.quantize(&data).unwrap();
    for x in &inputs(200, 3) {
        let codes = int8.quantize_input(x).unwrap();
        let h1 = reference_layer(&int8.0, &codes);
        let h2 = reference_layer(&int8.1, &h1);
        let y = reference_layer(&int8.2, &h2);
        assert_eq!(int8.forward(&codes), y);
        assert_eq!(int8.0.forward(&codes), h1);
        assert_eq!(int8.1.forward(&h1), h2);
    }
}

#[test]
fn the_int8_model_approximates_the_float_model() {
    let net = net(4);
    let data = inputs(500, 5);
    let int8 = net.quantize(&data).unwrap();
    let step = int8.output_quantization().scale;
    let (mut worst, mut agree) = (0.0f32, 0);
    let test = inputs(200, 6);
    for x in &test {
        let exact = net.forward(x);
        let approx = int8.predict(x).unwrap();
        for (a, b) in exact.iter().zip(&approx) {
            worst = worst.max((a - b).abs());
        }
        agree += usize::from(int8.classify(x).unwrap() == net.classify(x).unwrap());
    }
    // Each layer adds at most a few rounding steps; 8 output steps is far
    // below the outputs' spread (255 steps).
    assert!(worst < 8.0 * step, "worst error {worst} with output step {step}");
    assert!(agree >= 190, "argmax agreement {agree}/200");
}

#[test]
fn calibration_observes_every_tensor() {
    let net = net(7);
    let data = inputs(50, 8);
    let calibration = Calibration::observe(&net, &data).unwrap();
    let mut expected = (Range::default(), Range::default(), Range::default());
    let mut input = Range::default();
    for x in &data {
        x.iter().for_each(|&v| input.observe(v));
        let h1 = net.0.forward(x);
        let h2 = net.1.forward(&h1);
        let y = net.2.forward(&h2);
        h1.iter().for_each(|&v| expected.0.observe(v));
        h2.iter().for_each(|&v| expected.1.observe(v));
        y.iter().for_each(|&v| expected.2.observe(v));
    }
    assert_eq!(calibration.input, input);
    assert_eq!(calibration.outputs.0, expected.0);
    assert_eq!(calibration.outputs.1, expected.1);
    assert_eq!(calibration.outputs.2, expected.2);
    assert_eq!(calibration.outputs.0.min, 0.0, "a ReLU layer's output starts at 0");
    // The layers' parameters come from these ranges, chained.
    let int8 = net.quantize_with(&calibration).unwrap();
    assert_eq!(int8.0.input(), input.params(0).unwrap());
    assert_eq!(int8.0.output(), expected.0.params(1).unwrap());
    assert_eq!(int8.1.input(), int8.0.output());
    assert_eq!(int8.2.input(), int8.1.output());
    assert_eq!(int8.0.output_clamp(), (-128, 127), "ReLU from the code of 0, which is -128 here");
}

#[test]
fn relu_is_the_clamp_at_the_zero_point() {
    let layer: Dense<2, 2, ReLU> = Dense::new([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0]);
    // An output range reaching below 0 gives a zero point above -128.
    let calibration = Calibration::<Dense<2, 2, ReLU>> {
        input: Range { min: -1.0, max: 1.0 },
        outputs: Range { min: -0.5, max: 1.0 },
    };
    let q = layer.quantize_with(&calibration).unwrap();
    let zero = q.output().zero_point;
    assert!(zero > -128);
    assert_eq!(q.output_clamp(), (zero as i8, 127));
    let codes = q.quantize_input(&[0.8, 0.0]).unwrap();
    let y = q.forward(&codes);
    assert_eq!(y[1], zero as i8, "a negative pre-activation is clamped to the code of 0");
    assert!(y[0] > zero as i8);
}

#[test]
fn weight_file_round_trips() {
    let int8 = net(9).quantize(&inputs(40, 10)).unwrap();
    let mut bytes = vec![0u8; file::size::<Quantized<Net>>()];
    assert_eq!(file::write(&int8, &mut bytes).unwrap(), bytes.len());
    assert_eq!(bytes, file::to_vec(&int8));
    let copy: Quantized<Net> = file::read(&bytes).unwrap();
    assert_eq!(copy, int8);
    let x = [7i8; 21];
    assert_eq!(copy.forward(&x), int8.forward(&x));
    assert!(matches!(file::write(&int8, &mut bytes[..10]), Err(Error::BufferTooSmall { .. })));
}

/// Rewrites the checksum after a deliberate change, so that the reader gets
/// past it to the field checks.
fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 4;
    let crc = crc32(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn every_corrupted_byte_is_an_error() {
    let int8 = net(11).quantize(&inputs(40, 12)).unwrap();
    let bytes = file::to_vec(&int8);
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5a;
        assert!(file::read::<Quantized<Net>>(&bad).is_err(), "a flipped byte at {at} went unnoticed");
    }
    for len in 0..bytes.len() {
        assert!(file::read::<Quantized<Net>>(&bytes[..len]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(file::read::<Quantized<Net>>(&longer), Err(Error::TrailingBytes { .. })));
}

#[test]
fn values_no_int8_model_holds_are_named() {
    let int8 = net(13).quantize(&inputs(40, 14)).unwrap();
    let bytes = file::to_vec(&int8);
    let first_layer = 32 + 8 + 8; // header, model input params, layer 0's output params
                                  // Weight 0 of layer 0 set to -128.
    let mut bad = bytes.clone();
    bad[first_layer] = 0x80;
    reseal(&mut bad);
    assert_eq!(
        file::read::<Quantized<Net>>(&bad),
        Err(Error::InvalidQuantized { layer: 0, field: "weight", index: 0, value: -128 })
    );
    // The model input's zero point set to 200.
    let mut bad = bytes.clone();
    bad[36..40].copy_from_slice(&200i32.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(
        file::read::<Quantized<Net>>(&bad),
        Err(Error::InvalidQuantized { layer: 0, field: "input zero point", index: 0, value: 200 })
    );
    // Layer 0's output scale set to NaN.
    let mut bad = bytes.clone();
    bad[40..44].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
    reseal(&mut bad);
    assert!(matches!(
        file::read::<Quantized<Net>>(&bad),
        Err(Error::InvalidQuantized { layer: 0, field: "output scale", .. })
    ));
    // Channel 0 of layer 0: bias, weight scale, multiplier, shift after its 21 weights.
    let multiplier_at = first_layer + 21 + 4 + 4;
    let mut bad = bytes.clone();
    bad[multiplier_at..multiplier_at + 4].copy_from_slice(&5i32.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(
        file::read::<Quantized<Net>>(&bad),
        Err(Error::InvalidQuantized { layer: 0, field: "multiplier", index: 0, value: 5 })
    );
    let mut bad = bytes.clone();
    bad[multiplier_at + 4] = 40;
    reseal(&mut bad);
    assert_eq!(
        file::read::<Quantized<Net>>(&bad),
        Err(Error::InvalidQuantized { layer: 0, field: "shift", index: 0, value: 40 })
    );
    let message = Error::InvalidQuantized { layer: 2, field: "weight", index: 7, value: -128 }.to_string();
    assert!(message.contains("layer 2") && message.contains("weight 7"), "{message}");
}

#[test]
fn files_of_other_models_are_refused() {
    let int8 = net(15).quantize(&inputs(40, 16)).unwrap();
    let bytes = file::to_vec(&int8);
    type Other = (QuantizedDense<21, 13, ReLU>, QuantizedDense<13, 9, ReLU>, QuantizedDense<9, 5, ReLU>);
    assert!(matches!(file::read::<Other>(&bytes), Err(Error::ArchitectureMismatch { .. })));
    // A float weight file is not an int8 file, and the reverse.
    let float = backprop::weights::to_vec(&net(15)).unwrap();
    assert!(matches!(file::read::<Quantized<Net>>(&float), Err(Error::UnknownScalarType { tag: 1 })));
    assert!(matches!(backprop::weights::read::<Net>(&bytes), Err(Error::UnknownScalarType { tag: 3 })));
}

#[test]
fn bad_calibration_data_is_an_error_that_says_where() {
    let net = net(17);
    assert_eq!(Calibration::observe(&net, &[]).unwrap_err(), Error::EmptyData { what: "calibration data" });
    let mut data = inputs(5, 18);
    data[3][4] = f32::NAN;
    assert_eq!(
        net.quantize(&data).unwrap_err(),
        Error::NonFiniteInput { data: "calibration data", sample: 3, index: 4 }
    );
    let mut broken = net;
    broken.1.weights[2][3] = f32::INFINITY;
    let err = Calibration::observe(&broken, &inputs(5, 19)).unwrap_err();
    assert!(matches!(err, Error::NonFiniteOutput { data: "calibration data", sample: 0, .. }), "{err:?}");
    // Given ranges, a non-finite weight is refused before anything is computed.
    let calibration = Calibration::observe(&net, &inputs(5, 19)).unwrap();
    assert!(matches!(broken.quantize_with(&calibration), Err(Error::NonFiniteWeight { layer: 1, .. })));
}

#[test]
fn collapsed_ranges_are_errors_naming_the_tensor() {
    let net = net(20);
    // Every input 0: the input range [0, 0] has no width.
    let err = net.quantize(&[[0.0; 21]; 3]).unwrap_err();
    assert!(matches!(err, Error::CollapsedRange { tensor: 0, .. }), "{err:?}");
    // A ReLU layer whose outputs are all 0: layer 0's output.
    let mut dead = net;
    dead.0.weights = [[0.0; 21]; 13];
    dead.0.bias = [-1.0; 13];
    let err = dead.quantize(&inputs(10, 21)).unwrap_err();
    assert_eq!(err, Error::CollapsedRange { tensor: 1, min: 0.0, max: 0.0 });
    assert!(err.to_string().contains("layer 0's output"), "{err}");
    assert!(matches!(Range { min: 1.0, max: f32::INFINITY }.params(0), Err(Error::CollapsedRange { .. })));
    assert!(matches!(Range { min: 0.0, max: 1e-44 }.params(0), Err(Error::CollapsedRange { .. })));
}

#[test]
fn an_unencodable_multiplier_is_an_error() {
    let layer: Dense<2, 1, Identity> = Dense::new([[1.0, 1.0]], [0.0]);
    // Output range 2⁻³⁰ times narrower than the input: M ≈ 2³⁰·(1/127)… ≥ 2³⁰ needs more; use 1e-12.
    let calibration = Calibration::<Dense<2, 1, Identity>> {
        input: Range { min: -1e6, max: 1e6 },
        outputs: Range { min: -1e-12, max: 1e-12 },
    };
    let err = layer.quantize_with(&calibration).unwrap_err();
    assert!(matches!(err, Error::MultiplierOutOfRange { layer: 0, channel: 0, .. }), "{err:?}");
}

#[test]
fn input_quantization_rounds_and_saturates() {
    let p = QuantParams { scale: 0.5, zero_point: -10 };
    assert_eq!(p.quantize(0.0), -10);
    assert_eq!(p.quantize(0.25), -9); // 0.5 rounds away from zero
    assert_eq!(p.quantize(-0.25), -11);
    assert_eq!(p.quantize(1000.0), 127);
    assert_eq!(p.quantize(-1000.0), -128);
    assert_eq!(p.dequantize(-9), 0.5);
    let int8 = net(22).quantize(&inputs(10, 23)).unwrap();
    let mut x = [0.5f32; 21];
    x[20] = f32::NEG_INFINITY;
    assert_eq!(int8.quantize_input(&x), Err(Error::NonFiniteInput { data: "input", sample: 0, index: 20 }));
    assert_eq!(int8.classify(&x), Err(Error::NonFiniteInput { data: "input", sample: 0, index: 20 }));
}

#[test]
fn degenerate_ranges_and_rows() {
    // A NaN bound is refused, not widened away.
    assert!(matches!(Range { min: f32::NAN, max: 1.0 }.params(0), Err(Error::CollapsedRange { .. })));
    assert!(matches!(Range { min: -1.0, max: f32::NAN }.params(0), Err(Error::CollapsedRange { .. })));
    // A row of weights too small for an f32 scale quantizes to zeros, like an all-zero row.
    let layer: Dense<2, 2, Identity> = Dense::new([[1e-44, -1e-44], [0.0, 0.0]], [0.0, 0.0]);
    let calibration = Calibration::<Dense<2, 2, Identity>> {
        input: Range { min: -1.0, max: 1.0 },
        outputs: Range { min: -1.0, max: 1.0 },
    };
    let q = layer.quantize_with(&calibration).unwrap();
    assert_eq!(q.weights(), &[[0, 0], [0, 0]]);
    assert_eq!(q.weight_scales(), &[1.0, 1.0]);
}

#[test]
fn a_bad_file_leaves_the_model_as_it_was() {
    let int8 = net(24).quantize(&inputs(40, 25)).unwrap();
    let other = net(26).quantize(&inputs(40, 27)).unwrap();
    let mut bytes = file::to_vec(&other);
    // The last channel of the last layer gets a bad shift: every value
    // before it is valid and would have been stored by a one-pass reader.
    let shift_at = bytes.len() - 4 - 1;
    bytes[shift_at] = 99;
    reseal(&mut bytes);
    let mut model = int8;
    assert!(matches!(
        file::read_into(&bytes, &mut model),
        Err(Error::InvalidQuantized { layer: 2, field: "shift", .. })
    ));
    assert_eq!(model, int8);
    // And a good file replaces it whole.
    file::read_into(&file::to_vec(&other), &mut model).unwrap();
    assert_eq!(model, other);
    // The first of equal largest codes wins, in integers.
    assert_eq!(other.classify_codes(&[0; 21]), {
        let y = other.forward(&[0; 21]);
        let best = *y.iter().max().unwrap();
        y.iter().position(|&c| c == best).unwrap()
    });
}

#[test]
fn input_quantization_equals_rounding_half_away_from_zero() {
    // Against `f32::round` (ties away from zero) on many values, ties and
    // near-ties included, for several scales and zero points.
    let mut state = 0x9e37_79b9_u32;
    for &(scale, zero_point) in &[(1.0f32, 0), (0.5, -10), (0.037, 17), (3.0e-3, -128), (7.5, 127)] {
        let p = QuantParams { scale, zero_point };
        for k in -2000..2000 {
            for x in [k as f32 * scale * 0.5, k as f32 * 0.25, f32::from_bits(state) % 1e3] {
                let expected = ((x / scale).round() as i32).saturating_add(zero_point).clamp(-128, 127) as i8;
                assert_eq!(p.quantize(x), expected, "x = {x}, scale {scale}");
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            }
        }
        for x in [
            0.49999997f32,
            -0.49999997,
            0.5,
            -0.5,
            1.5,
            -2.5,
            1e9,
            -1e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
        ] {
            let expected = ((x * 1.0 / 1.0).round() as i32).saturating_add(0).clamp(-128, 127) as i8;
            assert_eq!(QuantParams { scale: 1.0, zero_point: 0 }.quantize(x), expected, "{x}");
        }
    }
}

#[test]
fn a_bias_whose_accumulator_could_wrap_is_refused() {
    // Row 1: tiny weights (so a tiny weight scale) and a bias of 1: in units
    // of s_in · s_w the bias saturates, and the sum would wrap.
    let layer: Dense<2, 2, Identity> = Dense::new([[1.0, 0.5], [1e-7, 0.0]], [0.0, 1.0]);
    let calibration = Calibration::<Dense<2, 2, Identity>> {
        input: Range { min: 0.0, max: 1.0 },
        outputs: Range { min: -2.0, max: 2.0 },
    };
    let err = layer.quantize_with(&calibration).unwrap_err();
    assert_eq!(err, Error::BiasOutOfRange { layer: 0, channel: 1, bias: 1.0 });
    assert!(err.to_string().contains("output channel 1"), "{err}");
    // The same in a file: a bias that would wrap is refused by the reader.
    let ok: Dense<2, 2, Identity> = Dense::new([[1.0, 0.5], [0.25, -1.0]], [0.0, 1.0]);
    let q = ok.quantize_with(&calibration).unwrap();
    let mut bytes = file::to_vec(&q);
    let bias_at = 32 + 8 + 8 + 2; // header, input params, output params, row 0's two weights
    bytes[bias_at..bias_at + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        file::read::<QuantizedDense<2, 2, Identity>>(&bytes),
        Err(Error::InvalidQuantized { layer: 0, field: "bias", index: 0, value: i64::from(i32::MAX) })
    );
}

#[test]
fn hand_made_parameters_cannot_panic() {
    let p = QuantParams { scale: 1.0, zero_point: i32::MIN };
    assert_eq!(p.dequantize(127), (127.0 + 2_147_483_648.0) as f32);
    // A zero scale: x / 0 is ±∞, saturated to i32::MAX or i32::MIN, plus
    // the zero point with saturation, clamped: the definition, no panic.
    let p = QuantParams { scale: 0.0, zero_point: i32::MAX };
    for x in [1.0f32, -1.0, 0.0] {
        let expected = ((x / 0.0).round() as i32).saturating_add(i32::MAX).clamp(-128, 127) as i8;
        assert_eq!(p.quantize(x), expected, "{x}");
    }
    // An inverted range is refused, not read as another range.
    assert!(matches!(Range { min: 5.0, max: 3.0 }.params(0), Err(Error::CollapsedRange { .. })));
}
