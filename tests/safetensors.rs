//! safetensors: PyTorch round trip against committed fixtures, the naming
//! rules, and every malformed input as an error.
//!
//! The fixtures come from `tests/pytorch/generate_safetensors.py` (PyTorch's
//! own `safetensors.torch.save_file` and forward passes); the files backprop
//! writes (`tests/fixtures/backprop_mlp*.safetensors`) are pinned here and
//! loaded by PyTorch with the same script's `--check`.

use backprop::prelude::*;
use backprop::safetensors::{self, Names, Shape};
use backprop::weights;

/// `nn.Sequential(Linear(4, 16), Tanh(), Linear(16, 8), ReLU(), Linear(8, 3))`.
type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
type Mlp64 = (Dense<4, 16, Tanh, f64>, Dense<16, 8, ReLU, f64>, Dense<8, 3, Identity, f64>);
/// `nn.Sequential(Linear(3, 5), GELU("tanh"), Linear(5, 4), Linear(4, 2), Sigmoid())`.
type Mixed = (Dense<3, 5, Gelu>, Dense<5, 4, Identity>, Dense<4, 2, Sigmoid>);

const MLP: &[u8] = include_bytes!("fixtures/pytorch_mlp.safetensors");
const MLP_F64: &[u8] = include_bytes!("fixtures/pytorch_mlp_f64.safetensors");
const MLP_F16: &[u8] = include_bytes!("fixtures/pytorch_mlp_f16.safetensors");
const MLP_BF16: &[u8] = include_bytes!("fixtures/pytorch_mlp_bf16.safetensors");
const MIXED: &[u8] = include_bytes!("fixtures/pytorch_mixed.safetensors");
const REFERENCE: &str = include_str!("fixtures/pytorch_safetensors.txt");

/// The samples of one case: (input, PyTorch's output), as f64.
fn samples(case: &str) -> Vec<(Vec<f64>, Vec<f64>)> {
    let cases: Vec<_> = REFERENCE
        .lines()
        .filter(|line| line.split_whitespace().next() == Some(case))
        .map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let y = tokens.iter().position(|&t| t == "y").expect("a y marker");
            let parse = |t: &[&str]| t.iter().map(|v| v.parse::<f64>().expect("a float")).collect();
            (parse(&tokens[2..y]), parse(&tokens[y + 1..]))
        })
        .collect();
    assert!(!cases.is_empty(), "no samples for {case}");
    cases
}

/// Checks `forward` against PyTorch's outputs to relative error `tolerance`
/// (`|y - y_pytorch| / |y_pytorch|`; absolute for an output that is exactly
/// zero) and returns the largest error seen.
fn check_outputs<const IN: usize, const OUT: usize, T: Float + Into<f64>>(
    case: &str,
    forward: impl Fn(&[T; IN]) -> [T; OUT],
    tolerance: f64,
) -> f64 {
    let mut worst: f64 = 0.0;
    for (x, expected) in samples(case) {
        let x: [T; IN] = core::array::from_fn(|i| T::from(x[i]).unwrap());
        let y = forward(&x);
        for (o, (&got, &want)) in y.iter().zip(&expected).enumerate() {
            let got: f64 = got.into();
            let error = if want == 0.0 { got.abs() } else { (got - want).abs() / want.abs() };
            assert!(
                error <= tolerance,
                "{case}: output {o} is {got}, PyTorch says {want}: relative error {error:e} > {tolerance:e}"
            );
            worst = worst.max(error);
        }
    }
    worst
}

#[test]
fn pytorch_mlp_reproduces_pytorch_outputs_in_f32() {
    let net: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    let worst = check_outputs("mlp_f32", |x| net.forward(x), 1e-6);
    println!("f32: largest relative error {worst:e}");
    // Tight, but not bitwise: PyTorch sums the dot products in another order.
    assert!(worst < 1e-6);
}

#[test]
fn pytorch_mlp_reproduces_pytorch_outputs_in_f64() {
    let net: Mlp64 = safetensors::read(MLP_F64, Names::Sequential).unwrap();
    check_outputs("mlp_f64", |x| net.forward(x), 1e-12);
}

#[test]
fn f16_and_bf16_files_convert_exactly() {
    // PyTorch's outputs for these were computed in float64 from the rounded
    // weights: any conversion error (one f16 ulp is 1e-3 relative) would show.
    for (bytes, case) in [(MLP_F16, "mlp_f16"), (MLP_BF16, "mlp_bf16")] {
        let net: Mlp64 = safetensors::read(bytes, Names::Sequential).unwrap();
        check_outputs(case, |x| net.forward(x), 1e-12);
        // In an f32 model the weights are exact too; the arithmetic is f32's.
        let net: Mlp = safetensors::read(bytes, Names::Sequential).unwrap();
        check_outputs(case, |x| net.forward(x), 1e-5);
    }
}

#[test]
fn f64_file_into_f32_model_and_back() {
    let from_f64: Mlp = safetensors::read(MLP_F64, Names::Sequential).unwrap();
    let from_f32: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    // The f64 weights are the f32 ones widened (same seed), so rounding back is exact.
    assert_eq!(from_f64, from_f32);
    let into_f64: Mlp64 = safetensors::read(MLP, Names::Sequential).unwrap();
    assert_eq!(into_f64, safetensors::read::<Mlp64>(MLP_F64, Names::Sequential).unwrap());
}

#[test]
fn identity_takes_no_index_in_sequential_names() {
    // Linear(5, 4) has no activation module: names 0, 2, 3.
    let net: Mixed = safetensors::read(MIXED, Names::Sequential).unwrap();
    check_outputs("mixed_f32", |x| net.forward(x), 1e-6);
}

#[test]
fn explicit_names() {
    let by_layer: Mixed = safetensors::read(MIXED, Names::Layers(&["0", "2", "3"])).unwrap();
    let by_tensor: Mixed = safetensors::read(
        MIXED,
        Names::Tensors(&["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"]),
    )
    .unwrap();
    let default: Mixed = safetensors::read(MIXED, Names::Sequential).unwrap();
    assert_eq!(by_layer, default);
    assert_eq!(by_tensor, default);

    // Named attributes, written and read back.
    let names = Names::Layers(&["encoder.fc1", "encoder.fc2", "head"]);
    let bytes = safetensors::to_vec(&default, names).unwrap();
    let header = header_text(&bytes);
    assert!(header.contains("\"encoder.fc1.weight\"") && header.contains("\"head.bias\""), "{header}");
    assert_eq!(safetensors::read::<Mixed>(&bytes, names).unwrap(), default);
    assert!(matches!(
        safetensors::read::<Mixed>(&bytes, Names::Sequential),
        Err(Error::UnexpectedTensor { .. })
    ));
}

#[test]
fn wrong_name_lists_are_errors() {
    assert_eq!(
        safetensors::read::<Mixed>(MIXED, Names::Layers(&["0", "2"])),
        Err(Error::NameCount { expected: 3, found: 2 })
    );
    assert_eq!(
        safetensors::read::<Mixed>(MIXED, Names::Tensors(&["0.weight", "0.bias"])),
        Err(Error::NameCount { expected: 6, found: 2 })
    );
    let error = safetensors::read::<Mixed>(MIXED, Names::Layers(&["0", "2", "0"])).unwrap_err();
    assert!(matches!(error, Error::InvalidName { name, .. } if name.as_str() == "0"), "{error}");
    let names = Names::Tensors(&["__metadata__", "a", "b", "c", "d", "e"]);
    assert!(matches!(safetensors::to_vec(&Mixed::zeroed(), names), Err(Error::InvalidName { .. })));
}

#[test]
fn the_file_we_write_is_the_one_pytorch_loaded() {
    // tests/pytorch/generate_safetensors.py --check loads these two files in
    // PyTorch; this test pins them to what the writer produces today.
    // BACKPROP_BLESS=1 rewrites them.
    let net: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    let net64: Mlp64 = safetensors::read(MLP_F64, Names::Sequential).unwrap();
    let ours = [
        ("tests/fixtures/backprop_mlp.safetensors", safetensors::to_vec(&net, Names::Sequential).unwrap()),
        (
            "tests/fixtures/backprop_mlp_f64.safetensors",
            safetensors::to_vec(&net64, Names::Sequential).unwrap(),
        ),
    ];
    for (path, bytes) in ours {
        if std::env::var_os("BACKPROP_BLESS").is_some() {
            std::fs::write(path, &bytes).unwrap();
        }
        let committed = std::fs::read(path).unwrap();
        assert!(committed == bytes, "{path} differs from what the writer produces now");
    }
}

#[test]
fn written_files_have_the_layout_pytorch_writes() {
    let net: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    let bytes = safetensors::to_vec(&net, Names::Sequential).unwrap();
    assert_eq!(bytes.len(), safetensors::size::<Mlp>(Names::Sequential).unwrap());
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0, "data aligned to 8 bytes");
    assert_eq!(bytes.len() - 8 - header_len, <Mlp as Params>::PARAMS * 4);
    let header = header_text(&bytes);
    assert!(header.starts_with("{\"__metadata__\":{\"format\":\"pt\"},\"0.weight\":{\"dtype\":\"F32\",\"shape\":[16,4],\"data_offsets\":[0,256]},\"0.bias\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[256,320]},\"2.weight\""), "{header}");
    // The data is the parameters in visiting order, little-endian.
    let data = &bytes[8 + header_len..];
    assert_eq!(f32::from_le_bytes(data[..4].try_into().unwrap()), net.0.weights[0][0]);
    assert_eq!(f32::from_le_bytes(data[data.len() - 4..].try_into().unwrap()), net.2.bias[2]);

    // Writing into a buffer: exactly the size, and too small is an error.
    let mut buffer = vec![0u8; bytes.len()];
    assert_eq!(safetensors::write(&net, Names::Sequential, &mut buffer), Ok(bytes.len()));
    assert_eq!(buffer, bytes);
    assert_eq!(
        safetensors::write(&net, Names::Sequential, &mut buffer[..bytes.len() - 1]),
        Err(Error::BufferTooSmall { needed: bytes.len(), len: bytes.len() - 1 })
    );
}

#[test]
fn names_with_json_specials_are_escaped() {
    type One = Dense<2, 1, Identity>;
    let layer: One = Dense::new([[1.0, 2.0]], [3.0]);
    let names = Names::Tensors(&["we\"ird\\name\n", "ünï/cödé ✓"]);
    let bytes = safetensors::to_vec(&layer, names).unwrap();
    assert!(header_text(&bytes).contains(r#""we\"ird\\name\u000a""#));
    assert_eq!(safetensors::read::<One>(&bytes, names).unwrap(), layer);
}

#[test]
fn round_trip_f64_nested_tuples() {
    type Net = ((Dense<3, 4, Elu, f64>, Dense<4, 4, SiLU, f64>), Dense<4, 2, Identity, f64>);
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let bytes = safetensors::to_vec(&net, Names::Sequential).unwrap();
    let header = header_text(&bytes);
    for name in ["\"0.weight\"", "\"2.bias\"", "\"4.weight\"", "\"F64\""] {
        assert!(header.contains(name), "{name} in {header}");
    }
    assert_eq!(safetensors::read::<Net>(&bytes, Names::Sequential).unwrap(), net);
}

// ---------------------------------------------------------------------------
// Malformed files. Each builds a file by hand around a one-layer model.

type Tiny = Dense<2, 1, Identity>;

/// A safetensors file: the header text, padded to 8, then `data`.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn header_text(bytes: &[u8]) -> &str {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    std::str::from_utf8(&bytes[8..8 + n]).unwrap()
}

/// Twelve bytes of data: `0.weight` = [1, 2] and `0.bias` = [3] as F32.
fn tiny_data() -> Vec<u8> {
    [1.0f32, 2.0, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect()
}

const TINY_HEADER: &str = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;

fn read_tiny(header: &str, data: &[u8]) -> Result<Tiny, Error> {
    safetensors::read(&file(header, data), Names::Sequential)
}

#[test]
fn a_hand_written_file_reads() {
    let layer = read_tiny(TINY_HEADER, &tiny_data()).unwrap();
    assert_eq!(layer, Dense::new([[1.0, 2.0]], [3.0]));
    // Whitespace, padding, metadata, key order and escapes in names are JSON's business.
    let header = " {\n \"__metadata__\" : {\"format\":\"pt\", \"note\": \"\\u00e9\"},\t\"0.b\\u0069as\":{\"data_offsets\":[8,12],\"shape\":[1],\"dtype\":\"F32\"},\"0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}   ";
    // A header must start with '{' ...
    assert!(matches!(read_tiny(header, &tiny_data()), Err(Error::InvalidHeader { offset: 0, .. })));
    // ... but anything after it is free.
    assert_eq!(read_tiny(&header[1..], &tiny_data()).unwrap(), layer);
}

#[test]
fn truncated_files_are_errors() {
    let bytes = file(TINY_HEADER, &tiny_data());
    for len in 0..bytes.len() {
        let result = safetensors::read::<Tiny>(&bytes[..len], Names::Sequential);
        assert!(result.is_err(), "a file cut to {len} bytes was accepted");
    }
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes[..5], Names::Sequential),
        Err(Error::Truncated { needed: 8, len: 5, .. })
    ));
    // Cut inside the header: its length now points past the end.
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes[..40], Names::Sequential),
        Err(Error::HeaderLength { available: 32, .. })
    ));
    // Cut inside the data: the offsets reach past it.
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes[..bytes.len() - 1], Names::Sequential),
        Err(Error::InvalidOffsets { .. })
    ));
}

#[test]
fn header_length_past_the_end() {
    let mut bytes = file(TINY_HEADER, &tiny_data());
    for n in [bytes.len() as u64, u64::MAX, 1 << 40] {
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let error = safetensors::read::<Tiny>(&bytes, Names::Sequential).unwrap_err();
        assert!(matches!(error, Error::HeaderLength { header_len, .. } if header_len == n), "{error}");
    }
}

#[test]
fn invalid_json_is_an_error_with_its_offset() {
    let cases = [
        ("", 0),
        ("{", 1),
        ("[]", 0),
        ("{}x", 2),
        (r#"{"0.weight" {"#, 12),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},}"#, 63),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2,],"data_offsets":[0,8]}}"#, 40),
        (r#"{"0.weight":{"dtype":F32}}"#, 21),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,-2],"data_offsets":[0,8]}}"#, 38),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2.0],"data_offsets":[0,8]}}"#, 39),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,02],"data_offsets":[0,8]}}"#, 39),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8,12]}}"#, 60),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0]}}"#, 58),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,99999999999999999999],"data_offsets":[0,8]}}"#, 57),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8],"extra":1}}"#, 62),
        (r#"{"0.weight":{"dtype":"F32","dtype":"F32"}}"#, 27),
        (r#"{"0.weight":{"dtype":"F32","shape":[1,2]}}"#, 41),
        (r#"{"0.we\ight":{}}"#, 7),
        ("{\"0.we\u{1}ight\":{}}", 6),
        (r#"{"\ud800":{}}"#, 8),
        (r#"{"__metadata__":{"a":1}}"#, 21),
        (r#"{"__metadata__":{},"__metadata__":{}}"#, 19),
        (r#"{"__metadata__":[]}"#, 16),
    ];
    for (header, offset) in cases {
        match read_tiny(header, &tiny_data()) {
            Err(Error::InvalidHeader { offset: at, reason }) => {
                assert_eq!(at, offset, "{header}: {reason}");
            }
            other => panic!("{header}: expected InvalidHeader at {offset}, got {other:?}"),
        }
    }
    // Not UTF-8.
    let mut bytes = file("{\"0.weight\":{}}", &[]);
    bytes[11] = 0xFF;
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes, Names::Sequential),
        Err(Error::InvalidHeader { offset: 3, reason: "the header is not UTF-8" })
    ));
}

#[test]
fn offsets_out_of_range_or_overlapping() {
    let data = tiny_data();
    let case = |weight: &str, bias: &str| {
        let header = format!(
            r#"{{"0.weight":{{"dtype":"F32","shape":[1,2],"data_offsets":{weight}}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":{bias}}}}}"#
        );
        read_tiny(&header, &data)
    };
    let reason = |result: Result<Tiny, Error>| match result {
        Err(Error::InvalidOffsets { reason, .. }) => reason,
        other => panic!("expected InvalidOffsets, got {other:?}"),
    };
    assert_eq!(reason(case("[0,8]", "[8,16]")), "they reach past the end of the data section");
    assert_eq!(reason(case("[8,0]", "[8,12]")), "the start is after the end");
    assert_eq!(
        reason(case("[0,12]", "[8,12]")),
        "the length is not the dtype's size times the number of elements"
    );
    assert_eq!(reason(case("[4,12]", "[8,12]")), "they overlap another tensor's data");
    assert_eq!(reason(case("[0,8]", "[4,8]")), "they overlap another tensor's data");
    assert_eq!(
        reason(case("[0,8]", "[18446744073709551615,18446744073709551615]")),
        "they reach past the end of the data section"
    );
    // Unused bytes between or after the tensors.
    let mut longer = data.clone();
    longer.extend_from_slice(&[0; 4]);
    assert_eq!(read_tiny(TINY_HEADER, &longer), Err(Error::DataNotCovered { covered: 12, data_len: 16 }));
    let header = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#;
    assert_eq!(read_tiny(header, &longer), Err(Error::DataNotCovered { covered: 12, data_len: 16 }));
}

#[test]
fn wrong_dtype_or_shape() {
    let data = tiny_data();
    let with = |weight: &str| {
        let header = format!(
            r#"{{"0.weight":{weight},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}}}"#
        );
        read_tiny(&header, &data)
    };
    let error = with(r#"{"dtype":"I32","shape":[1,2],"data_offsets":[0,8]}"#).unwrap_err();
    assert!(
        matches!(error, Error::UnsupportedDtype { name, dtype } if name.as_str() == "0.weight" && dtype.as_str() == "I32"),
        "{error}"
    );
    assert!(matches!(
        with(r#"{"dtype":"Q7","shape":[1,2],"data_offsets":[0,8]}"#),
        Err(Error::UnsupportedDtype { .. })
    ));
    let error = with(r#"{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}"#).unwrap_err();
    assert_eq!(
        error,
        Error::ShapeMismatch {
            name: backprop::safetensors::TensorName::new("0.weight"),
            expected: Shape::new(&[1, 2]),
            found: Shape::new(&[2, 1]),
        }
    );
    assert_eq!(error.to_string(), "tensor `0.weight` has shape [2, 1] but the layer needs [1, 2]");
    assert!(matches!(
        with(r#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        with(r#"{"dtype":"F32","shape":[1,1,2],"data_offsets":[0,8]}"#),
        Err(Error::ShapeMismatch { .. })
    ));
    // The whole PyTorch file into a model of other widths.
    type Wider = (Dense<4, 16, Tanh>, Dense<16, 9, ReLU>, Dense<9, 3, Identity>);
    let error = safetensors::read::<Wider>(MLP, Names::Sequential).unwrap_err();
    assert!(matches!(error, Error::ShapeMismatch { .. }), "{error}");
}

#[test]
fn missing_and_unexpected_tensors() {
    let data = tiny_data();
    let only_weight = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#;
    let error = read_tiny(only_weight, &data[..8]).unwrap_err();
    assert_eq!(error.to_string(), "the file has no tensor `0.bias`");
    let extra = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"1.running_mean":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#;
    let mut longer = data.clone();
    longer.extend_from_slice(&[0; 4]);
    let error = read_tiny(extra, &longer).unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedTensor { name } if name.as_str() == "1.running_mean"),
        "{error}"
    );
    let twice = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#;
    assert!(matches!(read_tiny(twice, &longer), Err(Error::InvalidName { .. })));
    // A deeper model in a shallower file, and the other way round.
    type Deeper = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Tanh>, Dense<3, 1, Identity>);
    assert!(matches!(safetensors::read::<Deeper>(MLP, Names::Sequential), Err(Error::MissingTensor { .. })));
    type Shallower = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>);
    assert!(matches!(
        safetensors::read::<Shallower>(MLP, Names::Sequential),
        Err(Error::UnexpectedTensor { .. })
    ));
}

#[test]
fn long_names_are_shortened_in_errors() {
    let name = "model.encoder.layers.12.feed_forward.intermediate_dense.weight";
    let header = format!(r#"{{"{name}":{{"dtype":"F32","shape":[],"data_offsets":[0,4]}}}}"#);
    let error = read_tiny(&header, &[0; 4]).unwrap_err();
    let Error::UnexpectedTensor { name: kept } = error else { panic!("{error:?}") };
    assert!(kept.is_truncated() && name.starts_with(kept.as_str()) && kept.as_str().len() <= 40);
    assert!(error.to_string().contains("…"), "{error}");
}

#[test]
fn non_finite_weights_are_refused() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut data = tiny_data();
        data[4..8].copy_from_slice(&bad.to_le_bytes());
        assert_eq!(
            read_tiny(TINY_HEADER, &data),
            Err(Error::NonFiniteWeight { layer: 0, tensor: "weight", index: 1 })
        );
        let mut layer: Tiny = Dense::new([[1.0, 2.0]], [3.0]);
        layer.bias[0] = bad;
        assert_eq!(
            safetensors::to_vec(&layer, Names::Sequential),
            Err(Error::NonFiniteWeight { layer: 0, tensor: "bias", index: 0 })
        );
    }
    // An F64 value beyond f32's range is infinite in an f32 model.
    let header = r#"{"0.weight":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}"#;
    let data: Vec<u8> =
        [1e300f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).chain(3f32.to_le_bytes()).collect();
    assert_eq!(
        read_tiny(header, &data),
        Err(Error::NonFiniteWeight { layer: 0, tensor: "weight", index: 0 })
    );
    let wide: Dense<2, 1, Identity, f64> =
        safetensors::read(&file(header, &data), Names::Sequential).unwrap();
    assert_eq!(wide.weights, [[1e300, 2.0]]);
}

#[test]
fn a_failed_load_leaves_the_model_unchanged() {
    let mut net: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    let before = net;
    let mut corrupt = MLP.to_vec();
    let last = corrupt.len() - 4;
    corrupt[last..].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(safetensors::load(&mut net, &corrupt, Names::Sequential).is_err());
    assert_eq!(net, before);
}

#[test]
fn errors_say_what_was_wrong() {
    let error = safetensors::read::<Tiny>(b"{}", Names::Sequential).unwrap_err();
    assert_eq!(error.to_string(), "safetensors file is truncated: it needs 8 bytes but only 2 were given");
    let error = read_tiny("{\"0.weight\":3}", &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "safetensors header is invalid at byte 12 of the JSON: a tensor entry must be an object"
    );
}

#[test]
fn both_formats_carry_the_same_weights() {
    // The committed .bpw was written by the Python script from the same
    // PyTorch model: our own format, from an independent implementation.
    let from_safetensors: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    let from_bpw: Mlp = weights::read(include_bytes!("fixtures/pytorch_mlp.bpw")).unwrap();
    assert_eq!(from_safetensors, from_bpw);
}
