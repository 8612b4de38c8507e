//! Conv nets in weight files: safetensors files written by PyTorch for
//! `nn.Sequential` conv nets (with `nn.Unflatten`, pools and `nn.Flatten`),
//! the files backprop writes for them, and backprop's own format, whose
//! fingerprint must tell apart every size, stride, padding and pool.
//!
//! The references are independent of the crate: the fixtures and outputs
//! come from `tests/pytorch/generate_conv_safetensors.py` (PyTorch's own
//! `save_file` and forward passes; its `--check` loads the files backprop
//! writes into PyTorch); the safetensors headers are read here by a scanner
//! of their own; the fingerprints are FNV-1a hashes, computed here, of the
//! descriptions `Architecture::fingerprint` documents, spelled out by hand.

use backprop::prelude::*;
use backprop::safetensors::{self, Names, Shape, TensorName};
use backprop::{weights, LayerInfo};
use std::collections::BTreeMap;

/// `nn.Sequential(Unflatten(1, (2, 14, 14)), Conv2d(2, 4, 3, padding=1), ReLU(), MaxPool2d(2),
/// Conv2d(4, 6, 3, stride=2, padding=1), AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten(),
/// Linear(6, 3), Sigmoid())`: tensors `1.*`, `4.*`, `8.*`.
type Net2d<T = f32> = (
    Unflatten2d<392, 2, 14, 14, T>,
    Conv2d<2, 4, 3, 1, 1, 14, 14, 14, 14, ReLU, T>,
    MaxPool2d<4, 2, 14, 14, 7, 7, T>,
    Conv2d<4, 6, 3, 2, 1, 7, 7, 4, 4, Identity, T>,
    AvgPool2d<6, 2, 4, 4, 2, 2, T>,
    GlobalAvgPool2d<6, 2, 2, T>,
    Flatten2d<6, 1, 1, 6, T>,
    Dense<6, 3, Sigmoid, T>,
);

/// `nn.Sequential(Unflatten(1, (3, 17)), Conv1d(3, 5, 4, padding=1), Tanh(), AvgPool1d(2),
/// Conv1d(5, 4, 3, stride=2, padding=1), ReLU(), MaxPool1d(2), AdaptiveAvgPool1d(1), Flatten(),
/// Linear(4, 2))`: tensors `1.*`, `4.*`, `9.*`.
type Net1d<T = f32> = (
    Unflatten1d<51, 3, 17, T>,
    Conv1d<3, 5, 4, 1, 1, 17, 16, Tanh, T>,
    AvgPool1d<5, 2, 16, 8, T>,
    Conv1d<5, 4, 3, 2, 1, 8, 4, ReLU, T>,
    MaxPool1d<4, 2, 4, 2, T>,
    GlobalAvgPool1d<4, 2, T>,
    Flatten1d<4, 1, 4, T>,
    Dense<4, 2, Identity, T>,
);

const CONV2D: &[u8] = include_bytes!("fixtures/pytorch_conv2d.safetensors");
const CONV2D_F64: &[u8] = include_bytes!("fixtures/pytorch_conv2d_f64.safetensors");
const CONV2D_F16: &[u8] = include_bytes!("fixtures/pytorch_conv2d_f16.safetensors");
const CONV2D_BF16: &[u8] = include_bytes!("fixtures/pytorch_conv2d_bf16.safetensors");
const CONV2D_BPW: &[u8] = include_bytes!("fixtures/pytorch_conv2d.bpw");
const CONV1D: &[u8] = include_bytes!("fixtures/pytorch_conv1d.safetensors");
const REFERENCE: &str = include_str!("fixtures/pytorch_conv_safetensors.txt");

/// The generator's five inputs, exact in `f32`: sample 0 is zero, sample
/// `k > 0` has `x[i] = ((7 i + 13 k) mod 23 − 11) / 8`.
fn input<const N: usize, T: Float>(k: usize) -> [T; N] {
    core::array::from_fn(|i| {
        let v = if k == 0 { 0.0 } else { ((7 * i + 13 * k) % 23) as f64 - 11.0 };
        T::from(v / 8.0).unwrap()
    })
}

/// A value of the reference file: the words after `key` on its line.
fn reference(key: &str, name: &str) -> &'static str {
    REFERENCE
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{key} {name}` in the reference"))
}

/// Checks `forward` on the generator's inputs against PyTorch's outputs to
/// relative error `tolerance`, and returns the largest error seen.
fn check_outputs<const IN: usize, const OUT: usize, T: Float + Into<f64>>(
    case: &str,
    forward: impl Fn(&[T; IN]) -> [T; OUT],
    tolerance: f64,
) -> f64 {
    let mut worst: f64 = 0.0;
    for k in 0..5 {
        let expected: Vec<f64> =
            reference(case, &k.to_string()).split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert_eq!(expected.len(), OUT, "{case} sample {k}");
        let y = forward(&input(k));
        for (o, (&got, &want)) in y.iter().zip(&expected).enumerate() {
            let got: f64 = got.into();
            let error = (got - want).abs() / want.abs();
            assert!(
                error <= tolerance,
                "{case} sample {k}: output {o} is {got}, PyTorch says {want}: relative error {error:e} > {tolerance:e}"
            );
            worst = worst.max(error);
        }
    }
    worst
}

#[test]
fn pytorch_conv_files_reproduce_pytorch_outputs_in_f32() {
    let net: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    let worst = check_outputs("conv2d_f32", |x| net.forward(x), 1e-6);
    println!("conv2d f32: largest relative error {worst:e}");
    let net: Net1d = safetensors::read(CONV1D, Names::Sequential).unwrap();
    let worst = check_outputs("conv1d_f32", |x| net.forward(x), 1e-6);
    println!("conv1d f32: largest relative error {worst:e}");
}

#[test]
fn pytorch_conv_files_reproduce_pytorch_outputs_in_f64() {
    let net: Net2d<f64> = safetensors::read(CONV2D_F64, Names::Sequential).unwrap();
    let worst = check_outputs("conv2d_f64", |x| net.forward(x), 1e-12);
    println!("conv2d f64: largest relative error {worst:e}");
    // PyTorch's float64 conv1d net has the float32 one's weights, widened.
    let net: Net1d<f64> = safetensors::read(CONV1D, Names::Sequential).unwrap();
    check_outputs("conv1d_f64", |x| net.forward(x), 1e-12);
    // And the f64 file into an f32 model is the f32 file.
    let narrowed: Net2d = safetensors::read(CONV2D_F64, Names::Sequential).unwrap();
    assert_eq!(narrowed, safetensors::read::<Net2d>(CONV2D, Names::Sequential).unwrap());
}

#[test]
fn f16_and_bf16_conv_files_convert_exactly() {
    // PyTorch's outputs for these were computed in float64 from the rounded
    // weights: a conversion error (an f16 ulp is 1e-3 relative) would show.
    for (bytes, case) in [(CONV2D_F16, "conv2d_f16"), (CONV2D_BF16, "conv2d_bf16")] {
        let net: Net2d<f64> = safetensors::read(bytes, Names::Sequential).unwrap();
        check_outputs(case, |x| net.forward(x), 1e-12);
        let net: Net2d = safetensors::read(bytes, Names::Sequential).unwrap();
        check_outputs(case, |x| net.forward(x), 1e-6);
    }
}

// ---------------------------------------------------------------------------
// The files backprop writes.

/// A safetensors file's tensors, by name: (dtype, shape, data bytes). A
/// scanner of its own, for the compact headers the writers here produce
/// (names without escapes).
fn scan(bytes: &[u8]) -> BTreeMap<String, (String, Vec<u64>, Vec<u8>)> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap().trim_end();
    let data = &bytes[8 + n..];
    let numbers = |s: &str| -> Vec<u64> {
        s.split(',').filter(|t| !t.is_empty()).map(|t| t.trim().parse().unwrap()).collect()
    };
    let between = |s: &'static str, text: &str, open: &str, close: char| -> String {
        let start = text.find(open).unwrap_or_else(|| panic!("{open} in {s}: {text}")) + open.len();
        text[start..start + text[start..].find(close).unwrap()].to_string()
    };
    let mut tensors = BTreeMap::new();
    // Entries are `"name":{...}` with no braces inside but the metadata's.
    let mut rest = &header[1..header.len() - 1];
    while let Some(start) = rest.find('"') {
        let end = start + 1 + rest[start + 1..].find('"').unwrap();
        let name = &rest[start + 1..end];
        let close = end + rest[end..].find('}').unwrap();
        let entry = &rest[end..=close];
        rest = &rest[close + 1..];
        if name == "__metadata__" {
            continue;
        }
        let dtype = between("dtype", entry, "\"dtype\":\"", '"');
        let shape = numbers(&between("shape", entry, "\"shape\":[", ']'));
        let offsets = numbers(&between("offsets", entry, "\"data_offsets\":[", ']'));
        let values = data[offsets[0] as usize..offsets[1] as usize].to_vec();
        assert!(tensors.insert(name.to_string(), (dtype, shape, values)).is_none(), "{name} twice");
    }
    tensors
}

#[test]
fn written_conv_files_have_pytorchs_names_shapes_and_values() {
    let net: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    let ours = scan(&safetensors::to_vec(&net, Names::Sequential).unwrap());
    let pytorch = scan(CONV2D);
    let shapes: Vec<(&str, &[u64])> = ours.iter().map(|(k, v)| (k.as_str(), &v.1[..])).collect();
    assert_eq!(
        shapes,
        [
            ("1.bias", &[4][..]),
            ("1.weight", &[4, 2, 3, 3]),
            ("4.bias", &[6]),
            ("4.weight", &[6, 4, 3, 3]),
            ("8.bias", &[3]),
            ("8.weight", &[3, 6]),
        ]
    );
    // PyTorch's file, tensor for tensor: same names, dtype, shapes and bytes.
    assert_eq!(ours, pytorch);

    let net: Net1d = safetensors::read(CONV1D, Names::Sequential).unwrap();
    let ours = scan(&safetensors::to_vec(&net, Names::Sequential).unwrap());
    assert_eq!(ours["4.weight"].1, [4, 5, 3]);
    assert_eq!(ours["9.weight"].1, [2, 4]);
    assert_eq!(ours, scan(CONV1D));

    // In f64, the same names and shapes, F64 data.
    let net: Net1d<f64> = safetensors::read(CONV1D, Names::Sequential).unwrap();
    let ours = scan(&safetensors::to_vec(&net, Names::Sequential).unwrap());
    for (name, (dtype, shape, values)) in scan(CONV1D) {
        let (our_dtype, our_shape, our_values) = &ours[&name];
        assert_eq!((our_dtype.as_str(), our_shape), ("F64", &shape), "{name} is {dtype} in PyTorch's file");
        let widened: Vec<u8> = values
            .chunks(4)
            .flat_map(|v| f64::from(f32::from_le_bytes(v.try_into().unwrap())).to_le_bytes())
            .collect();
        assert_eq!(our_values, &widened, "{name}");
    }
}

#[test]
fn the_conv_files_we_write_are_the_ones_pytorch_loaded() {
    // tests/pytorch/generate_conv_safetensors.py --check loads these files
    // in PyTorch (load_state_dict(strict=True)); this test pins them to what
    // the writer produces today. BACKPROP_BLESS=1 rewrites them.
    let net: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    let net1: Net1d<f64> = safetensors::read(CONV1D, Names::Sequential).unwrap();
    let ours = [
        ("tests/fixtures/backprop_conv2d.safetensors", safetensors::to_vec(&net, Names::Sequential).unwrap()),
        (
            "tests/fixtures/backprop_conv1d_f64.safetensors",
            safetensors::to_vec(&net1, Names::Sequential).unwrap(),
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
fn w6_sequential_names() {
    // The W6 net: every layer one module, each ReLU one more.
    type W6 = (
        Unflatten2d<784, 1, 28, 28>,
        Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>,
        MaxPool2d<8, 2, 28, 28, 14, 14>,
        Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU>,
        MaxPool2d<16, 2, 14, 14, 7, 7>,
        Flatten2d<16, 7, 7, 784>,
        Dense<784, 10, Identity>,
    );
    let net: Box<W6> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(6));
    let bytes = safetensors::to_vec(&*net, Names::Sequential).unwrap();
    let names: Vec<(String, Vec<u64>)> = scan(&bytes).into_iter().map(|(k, v)| (k, v.1)).collect();
    let expected = [
        ("1.bias", &[8][..]),
        ("1.weight", &[8, 1, 3, 3]),
        ("4.bias", &[16]),
        ("4.weight", &[16, 8, 3, 3]),
        ("8.bias", &[10]),
        ("8.weight", &[10, 784]),
    ];
    assert_eq!(names, expected.map(|(k, s)| (k.to_string(), s.to_vec())));
    assert_eq!(bytes.len(), safetensors::size::<W6>(Names::Sequential).unwrap());
    assert_eq!(*safetensors::read::<Box<W6>>(&bytes, Names::Sequential).unwrap(), *net);
}

// ---------------------------------------------------------------------------
// Explicit names and errors.

#[test]
fn explicit_names_are_per_layer_with_parameters() {
    let sequential: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    let layers: Net2d = safetensors::read(CONV2D, Names::Layers(&["1", "4", "8"])).unwrap();
    let tensors: Net2d = safetensors::read(
        CONV2D,
        Names::Tensors(&["1.weight", "1.bias", "4.weight", "4.bias", "8.weight", "8.bias"]),
    )
    .unwrap();
    assert_eq!(layers, sequential);
    assert_eq!(tensors, sequential);

    // Attribute names, written and read back.
    let names = Names::Layers(&["features.conv1", "features.conv2", "classifier"]);
    let file = scan(&safetensors::to_vec(&sequential, names).unwrap());
    assert_eq!(file["features.conv2.weight"].1, [6, 4, 3, 3]);
    assert_eq!(file["classifier.bias"].1, [3]);

    // One name per layer is one too many: pools and reshapes take none.
    let eight = Names::Layers(&["0", "1", "3", "4", "5", "6", "7", "8"]);
    let error = safetensors::read::<Net2d>(CONV2D, eight).unwrap_err();
    assert_eq!(error, Error::NameCount { naming: "Names::Layers", expected: 3, found: 8 });
    assert_eq!(
        error.to_string(),
        "Names::Layers: 8 layer names were given but the model has 3 layers with parameters (Dense, Conv1d, Conv2d)"
    );
    let error = safetensors::size::<Net1d>(Names::Tensors(&["a", "b"])).unwrap_err();
    assert_eq!(error, Error::NameCount { naming: "Names::Tensors", expected: 6, found: 2 });
    assert_eq!(
        error.to_string(),
        "Names::Tensors: 2 tensor names were given but the model has 6 tensors \
         (a weight and a bias per layer with parameters)"
    );
}

#[test]
fn another_conv_architecture_is_refused_by_its_shapes_or_names() {
    // A 5×5 kernel (padding 2 keeps the sizes).
    type Kernel5 = (
        Unflatten2d<392, 2, 14, 14>,
        Conv2d<2, 4, 5, 1, 2, 14, 14, 14, 14, ReLU>,
        MaxPool2d<4, 2, 14, 14, 7, 7>,
        Conv2d<4, 6, 3, 2, 1, 7, 7, 4, 4, Identity>,
        AvgPool2d<6, 2, 4, 4, 2, 2>,
        GlobalAvgPool2d<6, 2, 2>,
        Flatten2d<6, 1, 1, 6>,
        Dense<6, 3, Sigmoid>,
    );
    let error = safetensors::read::<Kernel5>(CONV2D, Names::Sequential).unwrap_err();
    assert_eq!(
        error,
        Error::ShapeMismatch {
            name: TensorName::new("1.weight"),
            expected: Shape::new(&[4, 2, 5, 5]),
            found: Shape::new(&[4, 2, 3, 3]),
        }
    );
    assert_eq!(
        error.to_string(),
        "tensor `1.weight` has shape [4, 2, 3, 3] but the layer needs [4, 2, 5, 5] \
         (a Conv2d weight: out channels, in channels, kernel height, kernel width)"
    );

    // Five channels out of the first convolution: its bias is checked first
    // when the file lists it first, either way a shape error naming it.
    type Channels5 = (
        Unflatten2d<392, 2, 14, 14>,
        Conv2d<2, 5, 3, 1, 1, 14, 14, 14, 14, ReLU>,
        MaxPool2d<5, 2, 14, 14, 7, 7>,
        Conv2d<5, 6, 3, 2, 1, 7, 7, 4, 4, Identity>,
        AvgPool2d<6, 2, 4, 4, 2, 2>,
        GlobalAvgPool2d<6, 2, 2>,
        Flatten2d<6, 1, 1, 6>,
        Dense<6, 3, Sigmoid>,
    );
    let error = safetensors::read::<Channels5>(CONV2D, Names::Sequential).unwrap_err();
    assert_eq!(
        error,
        Error::ShapeMismatch {
            name: TensorName::new("1.weight"),
            expected: Shape::new(&[5, 2, 3, 3]),
            found: Shape::new(&[4, 2, 3, 3]),
        }
    );

    // A Conv1d kernel of another length: the message says which kind.
    type Kernel3 = (
        Unflatten1d<51, 3, 17>,
        Conv1d<3, 5, 3, 1, 1, 17, 17, Tanh>,
        Flatten1d<5, 17, 85>,
        Dense<85, 2, Identity>,
    );
    let file = safetensors::to_vec(
        &safetensors::read::<Net1d>(CONV1D, Names::Sequential).unwrap(),
        Names::Layers(&["conv", "c2", "fc"]),
    )
    .unwrap();
    let error =
        safetensors::read_skipping_extra::<Kernel3>(&file, Names::Layers(&["conv", "fc"])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "tensor `conv.weight` has shape [5, 3, 4] but the layer needs [5, 3, 3] \
         (a Conv1d weight: out channels, in channels, kernel)"
    );

    // Without the max pool, the modules after it move up by one: the names differ.
    type NoPool = (
        Unflatten2d<392, 2, 14, 14>,
        Conv2d<2, 4, 3, 1, 1, 14, 14, 14, 14, ReLU>,
        Conv2d<4, 6, 3, 2, 1, 14, 14, 7, 7, Identity>,
        AvgPool2d<6, 7, 7, 7, 1, 1>,
        GlobalAvgPool2d<6, 1, 1>,
        Flatten2d<6, 1, 1, 6>,
        Dense<6, 3, Sigmoid>,
    );
    let error = safetensors::read::<NoPool>(CONV2D, Names::Sequential).unwrap_err();
    assert_eq!(
        error,
        Error::UnexpectedTensor {
            name: TensorName::new("4.bias"),
            missing: Some(TensorName::new("3.weight")),
            naming: "Names::Sequential",
        }
    );

    // A stride, a padding or a pool kind that keeps every tensor's shape and
    // index: safetensors holds no architecture, and the file reads. Only
    // backprop's own format refuses it (below).
    type AvgFirst = (
        Unflatten2d<392, 2, 14, 14>,
        Conv2d<2, 4, 3, 1, 1, 14, 14, 14, 14, ReLU>,
        AvgPool2d<4, 2, 14, 14, 7, 7>,
        Conv2d<4, 6, 3, 1, 0, 7, 7, 5, 5, Identity>,
        AvgPool2d<6, 5, 5, 5, 1, 1>,
        GlobalAvgPool2d<6, 1, 1>,
        Flatten2d<6, 1, 1, 6>,
        Dense<6, 3, Sigmoid>,
    );
    assert!(safetensors::read::<AvgFirst>(CONV2D, Names::Sequential).is_ok());
}

#[test]
fn non_finite_conv_weights_name_the_layer_among_all_layers() {
    let mut net: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    // Layer 3 (Unflatten2d, Conv2d, MaxPool2d, Conv2d): weights[o][i][r][c].
    let (o, i, r, c) = (2, 3, 1, 2);
    net.3.weights[o][i][r][c] = f32::NAN;
    let index = ((o * 4 + i) * 3 + r) * 3 + c;
    let expected = Error::NonFiniteWeight { layer: 3, tensor: "weight", index };
    assert_eq!(safetensors::to_vec(&net, Names::Sequential), Err(expected));
    assert_eq!(weights::to_vec(&net), Err(expected));

    // In a file: the same value made NaN in PyTorch's own bytes.
    let mut file = CONV2D.to_vec();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let entry = scan(CONV2D);
    let good = &entry["4.weight"].2;
    let at = 8 + n + find(&file[8 + n..], good) + 4 * index;
    file[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(safetensors::read::<Net2d>(&file, Names::Sequential), Err(expected));
    net.3.weights[o][i][r][c] = 0.5;
    net.7.bias[2] = f32::INFINITY;
    assert_eq!(weights::to_vec(&net), Err(Error::NonFiniteWeight { layer: 7, tensor: "bias", index: 2 }));
}

/// Where `needle` starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).unwrap()
}

// ---------------------------------------------------------------------------
// backprop's own format.

/// FNV-1a 64, written out here from its definition.
fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn the_conv_fingerprints_are_the_generators() {
    // The generator derives each description from PyTorch's modules and
    // hashes it; here the description is spelled out by hand.
    let conv2d = "Unflatten2d(2,14,14);Conv2d(2,4,3,1,1,14,14,ReLU);MaxPool2d(4,2,14,14);\
                  Conv2d(4,6,3,2,1,7,7,Identity);AvgPool2d(6,2,4,4);GlobalAvgPool2d(6,2,2);\
                  Flatten2d(6,1,1);Dense(6,3,Sigmoid);";
    let conv1d = "Unflatten1d(3,17);Conv1d(3,5,4,1,1,17,Tanh);AvgPool1d(5,2,16);Conv1d(5,4,3,2,1,8,ReLU);\
                  MaxPool1d(4,2,4);GlobalAvgPool1d(4,2);Flatten1d(4,1);Dense(4,2,Identity);";
    assert_eq!(reference("architecture", "conv2d"), conv2d);
    assert_eq!(reference("architecture", "conv1d"), conv1d);
    for (name, description, fingerprint) in
        [("conv2d", conv2d, Net2d::<f32>::fingerprint()), ("conv1d", conv1d, Net1d::<f64>::fingerprint())]
    {
        let generated =
            u64::from_str_radix(reference("fingerprint", name).trim_start_matches("0x"), 16).unwrap();
        assert_eq!(fnv1a64(description), generated, "{name}");
        assert_eq!(fingerprint, generated, "{name}: {fingerprint:#018x}");
    }
    assert_eq!(Net2d::<f32>::LAYERS, 8);
}

#[test]
fn the_generators_weight_file_is_ours() {
    // pytorch_conv2d.bpw was written by the generator from the format's
    // specification: we read it, and write the same bytes.
    let from_safetensors: Net2d = safetensors::read(CONV2D, Names::Sequential).unwrap();
    let net: Net2d = weights::read(CONV2D_BPW).unwrap();
    assert_eq!(net, from_safetensors);
    assert_eq!(weights::to_vec(&net).unwrap(), CONV2D_BPW);
    assert_eq!(CONV2D_BPW.len(), weights::size::<Net2d>());
}

#[test]
fn conv_models_round_trip_in_both_formats() {
    fn round_trip<M: Model + PartialEq + core::fmt::Debug>(seed: u64)
    where
        M::Scalar: weights::Storable,
    {
        let net: M = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(seed));
        let bytes = weights::to_vec(&net).unwrap();
        assert_eq!(bytes.len(), weights::size::<M>());
        assert_eq!(weights::read::<M>(&bytes).unwrap(), net);
        let file = safetensors::to_vec(&net, Names::Sequential).unwrap();
        assert_eq!(safetensors::read::<M>(&file, Names::Sequential).unwrap(), net);
        // Every byte counts: a change anywhere is refused.
        let mut broken = bytes.clone();
        broken[40] ^= 1;
        assert!(matches!(weights::read::<M>(&broken), Err(Error::ChecksumMismatch { .. })));
    }
    round_trip::<Net2d>(1);
    round_trip::<Net2d<f64>>(2);
    round_trip::<Net1d>(3);
    round_trip::<Net1d<f64>>(4);
    // Nested tuples are the same network.
    type Nested = ((Unflatten1d<16, 1, 16>, Conv1d<1, 2, 3, 1, 1, 16, 16, ReLU>), (Flatten1d<2, 16, 32>,));
    type Flat = (Unflatten1d<16, 1, 16>, Conv1d<1, 2, 3, 1, 1, 16, 16, ReLU>, Flatten1d<2, 16, 32>);
    round_trip::<Nested>(5);
    let nested: Nested = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
    let flat: Flat = weights::read(&weights::to_vec(&nested).unwrap()).unwrap();
    assert_eq!(flat.1, nested.0 .1);
}

/// A small conv net, and variants of it that differ in one thing each (and
/// the sizes that follow from it). A `GlobalAvgPool2d` before the `Dense`
/// keeps the parameter count of most variants equal to the base's, so that
/// only the fingerprint can tell them apart.
type Base = (
    Unflatten2d<64, 1, 8, 8>,
    Conv2d<1, 2, 3, 1, 1, 8, 8, 8, 8, ReLU>,
    MaxPool2d<2, 2, 8, 8, 4, 4>,
    GlobalAvgPool2d<2, 4, 4>,
    Flatten2d<2, 1, 1, 2>,
    Dense<2, 2, Identity>,
);
const BASE: &str = "Unflatten2d(1,8,8);Conv2d(1,2,3,1,1,8,8,ReLU);MaxPool2d(2,2,8,8);\
                    GlobalAvgPool2d(2,4,4);Flatten2d(2,1,1);Dense(2,2,Identity);";

/// Writes the base net's weight file and reads it as `M`, whose description
/// is `description`: the error must say exactly why.
fn refused_as<M: Architecture>(description: &str)
where
    M::Scalar: weights::Storable,
{
    let base: Base = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(9));
    let bytes = weights::to_vec(&base).unwrap();
    assert_eq!(Base::fingerprint(), fnv1a64(BASE));
    assert_eq!(M::fingerprint(), fnv1a64(description), "{description}");
    assert_eq!(
        weights::read::<M>(&bytes).map(|_| ()),
        Err(Error::ArchitectureMismatch {
            file_layers: 6,
            file_params: Base::PARAMS as u64,
            file_fingerprint: fnv1a64(BASE),
            model_layers: M::LAYERS as u64,
            model_params: M::PARAMS as u64,
            model_fingerprint: fnv1a64(description),
        }),
        "{description}"
    );
}

#[test]
fn the_weight_format_refuses_another_conv_architecture() {
    // Same parameters, same number of layers: the fingerprint alone.
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 2, 1, 8, 8, 4, 4, ReLU>,
        MaxPool2d<2, 2, 4, 4, 2, 2>,
        GlobalAvgPool2d<2, 2, 2>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,3,2,1,8,8,ReLU);MaxPool2d(2,2,4,4);\
         GlobalAvgPool2d(2,2,2);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 1, 0, 8, 8, 6, 6, ReLU>,
        MaxPool2d<2, 2, 6, 6, 3, 3>,
        GlobalAvgPool2d<2, 3, 3>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,3,1,0,8,8,ReLU);MaxPool2d(2,2,6,6);\
         GlobalAvgPool2d(2,3,3);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 1, 1, 8, 8, 8, 8, ReLU>,
        AvgPool2d<2, 2, 8, 8, 4, 4>,
        GlobalAvgPool2d<2, 4, 4>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,3,1,1,8,8,ReLU);AvgPool2d(2,2,8,8);\
         GlobalAvgPool2d(2,4,4);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 1, 1, 8, 8, 8, 8, ReLU>,
        MaxPool2d<2, 4, 8, 8, 2, 2>,
        GlobalAvgPool2d<2, 2, 2>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,3,1,1,8,8,ReLU);MaxPool2d(2,4,8,8);\
         GlobalAvgPool2d(2,2,2);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 4, 16>,
        Conv2d<1, 2, 3, 1, 1, 4, 16, 4, 16, ReLU>,
        MaxPool2d<2, 2, 4, 16, 2, 8>,
        GlobalAvgPool2d<2, 2, 8>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,4,16);Conv2d(1,2,3,1,1,4,16,ReLU);MaxPool2d(2,2,4,16);\
         GlobalAvgPool2d(2,2,8);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 1, 1, 8, 8, 8, 8, Tanh>,
        MaxPool2d<2, 2, 8, 8, 4, 4>,
        GlobalAvgPool2d<2, 4, 4>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,3,1,1,8,8,Tanh);MaxPool2d(2,2,8,8);\
         GlobalAvgPool2d(2,4,4);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    // Another kernel, or channel count: the parameters differ too.
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 5, 1, 2, 8, 8, 8, 8, ReLU>,
        MaxPool2d<2, 2, 8, 8, 4, 4>,
        GlobalAvgPool2d<2, 4, 4>,
        Flatten2d<2, 1, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,2,5,1,2,8,8,ReLU);MaxPool2d(2,2,8,8);\
         GlobalAvgPool2d(2,4,4);Flatten2d(2,1,1);Dense(2,2,Identity);",
    );
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 3, 3, 1, 1, 8, 8, 8, 8, ReLU>,
        MaxPool2d<3, 2, 8, 8, 4, 4>,
        GlobalAvgPool2d<3, 4, 4>,
        Flatten2d<3, 1, 1, 3>,
        Dense<3, 2, Identity>,
    )>(
        "Unflatten2d(1,8,8);Conv2d(1,3,3,1,1,8,8,ReLU);MaxPool2d(3,2,8,8);\
         GlobalAvgPool2d(3,4,4);Flatten2d(3,1,1);Dense(3,2,Identity);",
    );
    // The same net in 1-d (same parameter count: 2·1·3 + 2 + 2·2 + 2).
    refused_as::<(
        Unflatten1d<64, 1, 64>,
        Conv1d<1, 2, 3, 1, 1, 64, 64, ReLU>,
        MaxPool1d<2, 2, 64, 32>,
        GlobalAvgPool1d<2, 32>,
        Flatten1d<2, 1, 2>,
        Dense<2, 2, Identity>,
    )>(
        "Unflatten1d(1,64);Conv1d(1,2,3,1,1,64,ReLU);MaxPool1d(2,2,64);\
         GlobalAvgPool1d(2,32);Flatten1d(2,1);Dense(2,2,Identity);",
    );
    // Without the global pool: one layer fewer (and the Dense wider).
    refused_as::<(
        Unflatten2d<64, 1, 8, 8>,
        Conv2d<1, 2, 3, 1, 1, 8, 8, 8, 8, ReLU>,
        MaxPool2d<2, 2, 8, 8, 4, 4>,
        Flatten2d<2, 4, 4, 32>,
        Dense<32, 2, Identity>,
    )>("Unflatten2d(1,8,8);Conv2d(1,2,3,1,1,8,8,ReLU);MaxPool2d(2,2,8,8);Flatten2d(2,4,4);Dense(32,2,Identity);");
}

// ---------------------------------------------------------------------------
// LayerInfo: Display and the fingerprint strings, for each kind.

/// The single layer `M` describes.
fn info<M: Architecture>() -> LayerInfo {
    let mut layers = Vec::new();
    M::for_each_layer(&mut |layer| layers.push(layer));
    assert_eq!(layers.len(), 1);
    layers[0]
}

/// Each kind: its description, its type's spelling, its fingerprint string,
/// its weight shape and bias count.
fn kinds() -> Vec<(LayerInfo, &'static str, &'static str, Vec<usize>, usize)> {
    vec![
        (info::<Dense<2, 16, Tanh>>(), "Dense<2, 16, Tanh>", "Dense(2,16,Tanh);", vec![16, 2], 16),
        (
            info::<Conv1d<3, 5, 4, 2, 1, 17, 8, Gelu>>(),
            "Conv1d<3, 5, 4, 2, 1, 17, 8, GELU(tanh)>",
            "Conv1d(3,5,4,2,1,17,GELU(tanh));",
            vec![5, 3, 4],
            5,
        ),
        (
            info::<Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>>(),
            "Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>",
            "Conv2d(1,8,3,1,1,28,28,ReLU);",
            vec![8, 1, 3, 3],
            8,
        ),
        (
            info::<Conv2d<2, 3, 2, 2, 0, 7, 9, 3, 4, Identity>>(),
            "Conv2d<2, 3, 2, 2, 0, 7, 9, 3, 4, Identity>",
            "Conv2d(2,3,2,2,0,7,9,Identity);",
            vec![3, 2, 2, 2],
            3,
        ),
        (info::<MaxPool1d<4, 3, 12, 4>>(), "MaxPool1d<4, 3, 12, 4>", "MaxPool1d(4,3,12);", vec![], 0),
        (info::<AvgPool1d<4, 2, 12, 6>>(), "AvgPool1d<4, 2, 12, 6>", "AvgPool1d(4,2,12);", vec![], 0),
        (
            info::<MaxPool2d<8, 2, 28, 28, 14, 14>>(),
            "MaxPool2d<8, 2, 28, 28, 14, 14>",
            "MaxPool2d(8,2,28,28);",
            vec![],
            0,
        ),
        (
            info::<AvgPool2d<3, 3, 6, 9, 2, 3>>(),
            "AvgPool2d<3, 3, 6, 9, 2, 3>",
            "AvgPool2d(3,3,6,9);",
            vec![],
            0,
        ),
        (info::<GlobalAvgPool1d<6, 10>>(), "GlobalAvgPool1d<6, 10>", "GlobalAvgPool1d(6,10);", vec![], 0),
        (
            info::<GlobalAvgPool2d<6, 5, 7>>(),
            "GlobalAvgPool2d<6, 5, 7>",
            "GlobalAvgPool2d(6,5,7);",
            vec![],
            0,
        ),
        (info::<Flatten1d<4, 5, 20>>(), "Flatten1d<4, 5, 20>", "Flatten1d(4,5);", vec![], 0),
        (info::<Flatten2d<16, 7, 7, 784>>(), "Flatten2d<16, 7, 7, 784>", "Flatten2d(16,7,7);", vec![], 0),
        (info::<Unflatten1d<20, 4, 5>>(), "Unflatten1d<20, 4, 5>", "Unflatten1d(4,5);", vec![], 0),
        (
            info::<Unflatten2d<784, 1, 28, 28>>(),
            "Unflatten2d<784, 1, 28, 28>",
            "Unflatten2d(1,28,28);",
            vec![],
            0,
        ),
    ]
}

#[test]
fn layer_info_display_spells_each_type() {
    for (info, spelling, _, weight_shape, biases) in kinds() {
        assert_eq!(info.to_string(), spelling);
        assert_eq!(info.kind.name(), &spelling[..spelling.find('<').unwrap()]);
        let (dims, rank) = info.weight_shape();
        assert_eq!(&dims[..rank], &weight_shape[..], "{spelling}");
        assert_eq!(
            info.weights(),
            weight_shape.iter().product::<usize>() * usize::from(rank > 0),
            "{spelling}"
        );
        assert_eq!((info.biases(), info.has_params()), (biases, biases > 0), "{spelling}");
    }
}

#[test]
fn fingerprints_hash_the_documented_strings() {
    // Each kind alone, by a one-layer model's fingerprint: the same
    // descriptions as `kinds()`, hashed by the crate and here.
    fn one<M: Architecture>() -> u64 {
        M::fingerprint()
    }
    let crate_hashes = [
        one::<Dense<2, 16, Tanh>>(),
        one::<Conv1d<3, 5, 4, 2, 1, 17, 8, Gelu>>(),
        one::<Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>>(),
        one::<Conv2d<2, 3, 2, 2, 0, 7, 9, 3, 4, Identity>>(),
        one::<MaxPool1d<4, 3, 12, 4>>(),
        one::<AvgPool1d<4, 2, 12, 6>>(),
        one::<MaxPool2d<8, 2, 28, 28, 14, 14>>(),
        one::<AvgPool2d<3, 3, 6, 9, 2, 3>>(),
        one::<GlobalAvgPool1d<6, 10>>(),
        one::<GlobalAvgPool2d<6, 5, 7>>(),
        one::<Flatten1d<4, 5, 20>>(),
        one::<Flatten2d<16, 7, 7, 784>>(),
        one::<Unflatten1d<20, 4, 5>>(),
        one::<Unflatten2d<784, 1, 28, 28>>(),
    ];
    let kinds = kinds();
    assert_eq!(kinds.len(), crate_hashes.len());
    for ((_, spelling, description, _, _), hash) in kinds.into_iter().zip(crate_hashes) {
        assert_eq!(hash, fnv1a64(description), "{spelling}: {description}");
    }
    // Dense-only nets keep the fingerprints of the format's first version
    // (the generator of tests/safetensors.rs hashed this one).
    type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
    assert_eq!(Mlp::fingerprint(), fnv1a64("Dense(4,16,Tanh);Dense(16,8,ReLU);Dense(8,3,Identity);"));
    let mlp = include_str!("fixtures/pytorch_safetensors.txt")
        .lines()
        .find_map(|line| line.strip_prefix("fingerprint mlp 0x"))
        .unwrap();
    assert_eq!(Mlp::fingerprint(), u64::from_str_radix(mlp, 16).unwrap());
}
