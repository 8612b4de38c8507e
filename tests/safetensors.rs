//! safetensors: PyTorch round trip against committed fixtures, the naming
//! rules, and every malformed input as an error.
//!
//! The fixtures come from `tests/pytorch/generate_safetensors.py` (PyTorch's
//! own `safetensors.torch.save_file` and forward passes); the files backprop
//! writes (`tests/fixtures/backprop_mlp*.safetensors`) are pinned here and
//! loaded by PyTorch with the same script's `--check`.

use backprop::prelude::*;
use backprop::safetensors::{self, Names, Shape, TensorName};
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
        Err(Error::NameCount { naming: "Names::Layers", expected: 3, found: 2 })
    );
    assert_eq!(
        safetensors::read::<Mixed>(MIXED, Names::Tensors(&["0.weight", "0.bias"])),
        Err(Error::NameCount { naming: "Names::Tensors", expected: 6, found: 2 })
    );
    let error = safetensors::read::<Mixed>(MIXED, Names::Layers(&["0", "2", "0"])).unwrap_err();
    assert!(matches!(error, Error::InvalidName { name, .. } if name.as_str() == "0"), "{error}");
    assert_eq!(error.to_string(), "name `0` appears twice in Names::Layers");
    let names = Names::Tensors(&["__metadata__", "a", "b", "c", "d", "e"]);
    assert!(matches!(safetensors::to_vec(&Mixed::zeroed(), names), Err(Error::InvalidName { .. })));
}

#[test]
fn name_counts_say_what_was_counted() {
    // Names::Layers counts layers with parameters (one name each),
    // Names::Tensors tensors (two per such layer), each with its singular
    // and plural. (Conv nets, whose pools take no names: tests/conv_files.rs.)
    type Two = (Dense<2, 3, Tanh>, Dense<3, 1, Identity>);
    let count = |names| safetensors::size::<Two>(names).unwrap_err().to_string();
    assert_eq!(
        count(Names::Layers(&["fc1"])),
        "Names::Layers: 1 layer name was given but the model has 2 layers with parameters (Dense, Conv1d, Conv2d)"
    );
    assert_eq!(
        count(Names::Layers(&["a", "b", "c"])),
        "Names::Layers: 3 layer names were given but the model has 2 layers with parameters (Dense, Conv1d, Conv2d)"
    );
    assert_eq!(
        count(Names::Tensors(&["w"])),
        "Names::Tensors: 1 tensor name was given but the model has 4 tensors (a weight and a bias per layer with parameters)"
    );
    let error = safetensors::size::<Tiny>(Names::Layers(&["a", "b"])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Names::Layers: 2 layer names were given but the model has 1 layer with parameters (Dense, Conv1d, Conv2d)"
    );
}

#[test]
fn names_default_to_sequential() {
    assert_eq!(Names::default(), Names::Sequential);
    let net: Mixed = safetensors::read(MIXED, Names::default()).unwrap();
    assert_eq!(net, safetensors::read::<Mixed>(MIXED, Names::Sequential).unwrap());
}

#[test]
fn a_naming_mismatch_says_what_the_model_looked_for() {
    // A model with attributes fc1 and fc2, read with the nn.Sequential
    // names: the error names a tensor of each side, and the way out.
    type Two = (Dense<2, 3, Tanh>, Dense<3, 1, Identity>);
    let net: Two = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let file = safetensors::to_vec(&net, Names::Layers(&["fc1", "fc2"])).unwrap();
    let error = safetensors::read::<Two>(&file, Names::Sequential).unwrap_err();
    assert_eq!(
        error,
        Error::UnexpectedTensor {
            name: TensorName::new("fc1.weight"),
            missing: Some(TensorName::new("0.weight")),
            naming: "Names::Sequential",
        }
    );
    assert_eq!(
        error.to_string(),
        "the file holds tensor `fc1.weight`, which the model has no place for, and no tensor `0.weight`, \
         which the model looks for: the model's names are those of a PyTorch nn.Sequential (Names::Sequential); \
         for other names (such as attributes `fc1`, `fc2`) give Names::Layers or Names::Tensors"
    );
    // Skipping extra tensors cannot hide it: the model's tensors are missing.
    let error = safetensors::read_skipping_extra::<Two>(&file, Names::Sequential).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the file has no tensor `0.weight`, which the model looks for, but holds tensor `fc1.weight`, \
         which the model has no place for: the model's names are those of a PyTorch nn.Sequential \
         (Names::Sequential); for other names (such as attributes `fc1`, `fc2`) give Names::Layers or Names::Tensors"
    );
    // Explicit names that are not the file's.
    let error = safetensors::read::<Two>(&file, Names::Layers(&["fc1", "fc3"])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the file holds tensor `fc2.weight`, which the model has no place for, and no tensor `fc3.weight`, \
         which the model looks for: the model's names are the ones given in Names::Layers"
    );
    assert_eq!(safetensors::read::<Two>(&file, Names::Layers(&["fc1", "fc2"])), Ok(net));
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
    for n in [bytes.len() as u64, 1 << 20, safetensors::MAX_HEADER_LEN as u64] {
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let error = safetensors::read::<Tiny>(&bytes, Names::Sequential).unwrap_err();
        assert!(matches!(error, Error::HeaderLength { header_len, .. } if header_len == n), "{error}");
    }
}

#[test]
fn headers_over_100_mb_are_refused() {
    // The reference implementation's limit (`MAX_HEADER_SIZE` in the
    // `safetensors` crate), checked before the length is believed.
    assert_eq!(safetensors::MAX_HEADER_LEN, 100_000_000);
    let mut bytes = file(TINY_HEADER, &tiny_data());
    for n in [100_000_001, 1 << 40, u64::MAX] {
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let error = safetensors::read::<Tiny>(&bytes, Names::Sequential).unwrap_err();
        assert_eq!(error, Error::HeaderTooLarge { header_len: n, limit: 100_000_000 });
    }
    assert_eq!(
        safetensors::read::<Tiny>(&bytes, Names::Sequential).unwrap_err().to_string(),
        "safetensors header length 18446744073709551615 is over the format's limit of 100000000 bytes"
    );
    // At the limit, the length is believed (and here points past the end).
    bytes[..8].copy_from_slice(&100_000_000u64.to_le_bytes());
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes, Names::Sequential),
        Err(Error::HeaderLength { header_len: 100_000_000, .. })
    ));
}

#[test]
fn duplicate_keys() {
    // `__metadata__` twice is refused, as the reference does (serde's
    // duplicate field), at the second one.
    let header = r#"{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    let second = header.rfind("\"__metadata__\"").unwrap();
    assert_eq!(second, 94);
    assert_eq!(
        read_tiny(header, &tiny_data()),
        Err(Error::InvalidHeader { offset: second, reason: "__metadata__ appears twice" })
    );
    // A key repeated inside `__metadata__` is not: the reference reads
    // `__metadata__` into a map, the last value winning, and so does
    // Python's json module. The reader does not use the metadata.
    let header = r#"{"__metadata__":{"format":"pt","format":"np"},"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    assert_eq!(read_tiny(header, &tiny_data()), Ok(Dense::new([[1.0, 2.0]], [3.0])));
    // A tensor name twice: the second one's offset.
    let header = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}"#;
    let mut data = tiny_data();
    data.extend_from_slice(&[0; 8]);
    let second = header.rfind("\"0.weight\"").unwrap();
    assert_eq!(
        read_tiny(header, &data),
        Err(Error::DuplicateTensor { name: TensorName::new("0.weight"), offset: second })
    );
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
    assert_eq!(
        error.to_string(),
        "tensor `0.weight` has shape [2, 1] but the layer needs [1, 2] (a Dense weight, PyTorch's nn.Linear: outputs, inputs)"
    );
    let bias = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}"#;
    assert_eq!(
        read_tiny(bias, &tiny_data()).unwrap_err().to_string(),
        "tensor `0.bias` has shape [1, 1] but the layer needs [1] (a bias: one per output or output channel)"
    );
    // Shapes of rank 5 and more keep their first four dimensions.
    let error = with(r#"{"dtype":"F32","shape":[1,2,1,1,1],"data_offsets":[0,8]}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "tensor `0.weight` has shape [1, 2, 1, 1, …] (rank 5) but the layer needs [1, 2] \
         (a Dense weight, PyTorch's nn.Linear: outputs, inputs)"
    );
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
    assert_eq!(
        error.to_string(),
        "the file has no tensor `0.bias`, which the model looks for (Names::Sequential)"
    );
    let extra = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"1.running_mean":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#;
    let mut longer = data.clone();
    longer.extend_from_slice(&[0; 4]);
    let error = read_tiny(extra, &longer).unwrap_err();
    assert_eq!(
        error,
        Error::UnexpectedTensor {
            name: TensorName::new("1.running_mean"),
            missing: None,
            naming: "Names::Sequential"
        }
    );
    assert_eq!(
        error.to_string(),
        "the file holds tensor `1.running_mean`, which the model has no place for (and every tensor the model \
         needs): safetensors::read_skipping_extra and load_skipping_extra skip such tensors"
    );
    let twice = r#"{"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#;
    let error = read_tiny(twice, &longer).unwrap_err();
    let second = twice.rfind("\"0.bias\"").unwrap();
    assert_eq!(second, 122);
    assert_eq!(error, Error::DuplicateTensor { name: TensorName::new("0.bias"), offset: second });
    assert_eq!(
        error.to_string(),
        "safetensors header names tensor `0.bias` twice (again at byte 122 of the JSON)"
    );
    // A deeper model in a shallower file, and the other way round.
    type Deeper = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Tanh>, Dense<3, 1, Identity>);
    assert!(matches!(safetensors::read::<Deeper>(MLP, Names::Sequential), Err(Error::MissingTensor { .. })));
    type Shallower = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>);
    assert!(matches!(
        safetensors::read::<Shallower>(MLP, Names::Sequential),
        Err(Error::UnexpectedTensor { .. })
    ));
}

/// A `state_dict` with buffers next to the model's tensors: the running
/// statistics of an `nn.BatchNorm1d(1, affine=False)` at index 1, the last
/// one an I64 of shape `[]`, as PyTorch saves them.
const WITH_BUFFERS: &str = r#"{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"1.running_mean":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"1.running_var":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},"1.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[20,28]}}"#;

fn with_buffers_data() -> Vec<u8> {
    let mut data = tiny_data();
    data.extend([0.5f32, 2.0].iter().flat_map(|x| x.to_le_bytes()));
    data.extend(7i64.to_le_bytes());
    data
}

#[test]
fn extra_tensors_are_refused_or_skipped_on_request() {
    let bytes = file(WITH_BUFFERS, &with_buffers_data());
    // Strict by default.
    assert!(matches!(
        safetensors::read::<Tiny>(&bytes, Names::Sequential),
        Err(Error::UnexpectedTensor { name, missing: None, .. }) if name.as_str() == "1.running_mean"
    ));
    // Skipped on request, and reported.
    let (layer, skipped) = safetensors::read_skipping_extra::<Tiny>(&bytes, Names::Sequential).unwrap();
    assert_eq!(layer, Dense::new([[1.0, 2.0]], [3.0]));
    assert_eq!((skipped.len(), skipped.is_empty()), (3, false));
    assert!(skipped.names().eq(["1.running_mean", "1.running_var", "1.num_batches_tracked"]));
    let listed: Vec<String> = skipped.into_iter().map(|name| name.to_string()).collect();
    assert_eq!(listed, ["1.running_mean", "1.running_var", "1.num_batches_tracked"]);
    assert_eq!(format!("{skipped:?}"), r#"["1.running_mean", "1.running_var", "1.num_batches_tracked"]"#);
    assert_eq!(skipped.names().next().unwrap().to_name(), TensorName::new("1.running_mean"));

    // load_skipping_extra: the same, into an existing model.
    let mut layer = Tiny::zeroed();
    let skipped = safetensors::load_skipping_extra(&mut layer, &bytes, Names::Sequential).unwrap();
    assert_eq!((layer, skipped.len()), (Dense::new([[1.0, 2.0]], [3.0]), 3));

    // Nothing to skip.
    let bytes = file(TINY_HEADER, &tiny_data());
    let (_, skipped) = safetensors::read_skipping_extra::<Tiny>(&bytes, Names::Sequential).unwrap();
    assert!(skipped.is_empty() && skipped.names().next().is_none());

    // Escaped names are decoded.
    let escaped = WITH_BUFFERS.replace("1.running_var", "1.running\\u005fvar");
    let bytes = file(&escaped, &with_buffers_data());
    let (_, skipped) = safetensors::read_skipping_extra::<Tiny>(&bytes, Names::Sequential).unwrap();
    assert!(skipped.names().any(|name| name == "1.running_var"));

    // The PyTorch MLP's first two layers, its last layer skipped.
    type Features = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>);
    let (features, skipped) = safetensors::read_skipping_extra::<Features>(MLP, Names::Sequential).unwrap();
    let full: Mlp = safetensors::read(MLP, Names::Sequential).unwrap();
    assert_eq!((features.0, features.1), (full.0, full.1));
    assert!(skipped.names().eq(["4.bias", "4.weight"]), "{skipped:?}");
}

#[test]
fn skipped_tensors_are_checked_like_the_models() {
    let read = |header: &str, data: &[u8]| {
        safetensors::read_skipping_extra::<Tiny>(&file(header, data), Names::Sequential)
            .map(|(layer, _)| layer)
    };
    let data = with_buffers_data();
    // Two skipped tensors overlapping each other (the sum of the lengths is
    // the data's, so only the overlap is wrong).
    let overlapping = WITH_BUFFERS
        .replace(r#""shape":[1],"data_offsets":[12,16]"#, r#""shape":[2],"data_offsets":[12,20]"#)
        .replace(r#""shape":[1],"data_offsets":[16,20]"#, r#""shape":[2],"data_offsets":[16,24]"#)
        .replace(r#""data_offsets":[20,28]"#, r#""data_offsets":[24,32]"#);
    let mut longer = data.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(matches!(
        read(&overlapping, &longer),
        Err(Error::InvalidOffsets { name, reason: "they overlap another tensor's data", .. }) if name.as_str() == "1.running_mean"
    ));
    // A skipped name twice.
    let twice = WITH_BUFFERS.replace("1.running_var", "1.running_mean");
    assert!(matches!(
        read(&twice, &data),
        Err(Error::DuplicateTensor { name, offset }) if name.as_str() == "1.running_mean" && offset == twice.rfind("\"1.running_mean\"").unwrap()
    ));
    // An unknown dtype, offsets past the data, bytes no tensor covers.
    assert!(matches!(read(&WITH_BUFFERS.replace("I64", "Q7"), &data), Err(Error::UnsupportedDtype { .. })));
    assert!(matches!(read(WITH_BUFFERS, &data[..24]), Err(Error::InvalidOffsets { .. })));
    assert!(matches!(read(WITH_BUFFERS, &longer), Err(Error::DataNotCovered { covered: 28, data_len: 32 })));
    // The model's tensors are still needed, and a failed load changes nothing.
    let mut layer: Tiny = Dense::new([[9.0, 9.0]], [9.0]);
    let no_bias = WITH_BUFFERS.replace("0.bias", "0.offset");
    let bytes = file(&no_bias, &data);
    let result = safetensors::load_skipping_extra(&mut layer, &bytes, Names::Sequential);
    assert!(
        matches!(result, Err(Error::MissingTensor { name, unexpected: Some(u), .. }) if name.as_str() == "0.bias" && u.as_str() == "0.offset")
    );
    assert_eq!(layer, Dense::new([[9.0, 9.0]], [9.0]));
}

#[test]
fn long_names_are_shortened_in_errors() {
    let name = "model.encoder.layers.12.feed_forward.intermediate_dense.weight";
    let header = format!(r#"{{"{name}":{{"dtype":"F32","shape":[],"data_offsets":[0,4]}}}}"#);
    let error = read_tiny(&header, &[0; 4]).unwrap_err();
    let Error::UnexpectedTensor { name: kept, .. } = error else { panic!("{error:?}") };
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
