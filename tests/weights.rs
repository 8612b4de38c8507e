//! backprop's own weight format: round trips, the byte layout, every
//! malformed input as an error, `include_bytes!`, files, and no allocation
//! in either format's readers and writers.
//!
//! `fixtures/pytorch_mlp.bpw` was written by `tests/pytorch/generate_safetensors.py`
//! from the format's specification (Python's `struct`, `zlib.crc32` and its
//! own FNV-1a), so the reader is checked against a second implementation.

mod common;
use backprop::prelude::*;
use backprop::safetensors::{self, Names};
use backprop::weights::{self, crc32, ScalarType, Storable};

type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
type Net = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
type Net64 = (Dense<2, 8, Tanh, f64>, Dense<8, 1, Sigmoid, f64>);

/// Baked into the test binary, checked when read.
static MLP_BPW: &[u8] = include_bytes!("fixtures/pytorch_mlp.bpw");

fn net() -> Net {
    Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(11))
}

fn bytes_of<M: Architecture>(model: &M) -> Vec<u8>
where
    M::Scalar: Storable,
{
    weights::to_vec(model).unwrap()
}

/// Rewrites the checksum after a deliberate change, so that the check
/// behind it is reached.
fn fix_checksum(bytes: &mut [u8]) {
    let body = bytes.len() - 4;
    let crc = crc32(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn round_trips_are_bit_exact() {
    let mut model = net();
    // Values that text formats lose: -0, subnormals, extremes.
    model.0.weights[0][0] = -0.0;
    model.0.weights[0][1] = f32::from_bits(1);
    model.0.bias[0] = f32::MAX;
    model.1.bias[0] = f32::MIN_POSITIVE;
    let copy: Net = weights::read(&bytes_of(&model)).unwrap();
    let bits = |m: &Net| {
        let mut all = Vec::new();
        m.for_each_tensor(|t| all.extend(t.iter().map(|x| x.to_bits())));
        all
    };
    assert_eq!(bits(&copy), bits(&model));

    let model64: Net64 = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(12));
    assert_eq!(weights::read::<Net64>(&bytes_of(&model64)).unwrap(), model64);

    type Nested = ((Dense<3, 5, Elu>, (Dense<5, 5, SiLU>,)), Dense<5, 2, Identity>);
    let nested: Nested = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(13));
    assert_eq!(weights::read::<Nested>(&bytes_of(&nested)).unwrap(), nested);
}

#[test]
fn size_is_a_compile_time_constant() {
    const SIZE: usize = weights::size::<Net>();
    assert_eq!(SIZE, 32 + (2 * 8 + 8 + 8 + 1) * 4 + 4);
    assert_eq!(weights::size::<Net64>(), 32 + 33 * 8 + 4);
    let mut buffer = [0u8; SIZE];
    assert_eq!(weights::write(&net(), &mut buffer), Ok(SIZE));
    // A larger buffer is fine: the file is its start.
    let mut larger = [0xAAu8; SIZE + 10];
    assert_eq!(weights::write(&net(), &mut larger), Ok(SIZE));
    assert_eq!(larger[..SIZE], buffer);
    assert_eq!(weights::read::<Net>(&larger[..SIZE]).unwrap(), net());
    assert_eq!(
        weights::write(&net(), &mut buffer[..SIZE - 1]),
        Err(Error::BufferTooSmall { needed: SIZE, len: SIZE - 1 })
    );
}

#[test]
fn byte_layout() {
    let model = net();
    let bytes = bytes_of(&model);
    assert_eq!(&bytes[0..8], b"BACKPROP");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 1, "version");
    assert_eq!(bytes[10], 1, "f32");
    assert_eq!(bytes[11], 0, "reserved");
    assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), 2, "layers");
    assert_eq!(u64::from_le_bytes(bytes[16..24].try_into().unwrap()), Net::fingerprint());
    assert_eq!(u64::from_le_bytes(bytes[24..32].try_into().unwrap()), 33, "parameters");
    // Parameters in visiting order: layer 0's weights row by row, its bias, layer 1 ...
    let at = |k: usize| f32::from_le_bytes(bytes[32 + 4 * k..36 + 4 * k].try_into().unwrap());
    assert_eq!(at(0), model.0.weights[0][0]);
    assert_eq!(at(1), model.0.weights[0][1]);
    assert_eq!(at(2), model.0.weights[1][0]);
    assert_eq!(at(16), model.0.bias[0]);
    assert_eq!(at(24), model.1.weights[0][0]);
    assert_eq!(at(32), model.1.bias[0]);
    let stored = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(stored, crc32(&bytes[..bytes.len() - 4]));
    assert_eq!(<f64 as Storable>::TYPE, ScalarType::F64);
    assert_eq!(ScalarType::from_tag(2), Some(ScalarType::F64));
}

#[test]
fn fingerprints_follow_the_canonical_description() {
    // Independent FNV-1a: the Python generator's value for the MLP.
    let line = include_str!("fixtures/pytorch_safetensors.txt")
        .lines()
        .find(|l| l.starts_with("fingerprint mlp "))
        .unwrap();
    let python = u64::from_str_radix(line.trim_start_matches("fingerprint mlp 0x"), 16).unwrap();
    assert_eq!(Mlp::fingerprint(), python);

    // Nesting does not matter; scalar type is not part of it; anything else is.
    type Flat = (Dense<2, 3, Tanh>, Dense<3, 3, ReLU>, Dense<3, 1, Sigmoid>);
    type Nested = ((Dense<2, 3, Tanh>, Dense<3, 3, ReLU>), Dense<3, 1, Sigmoid>);
    type Flat64 = (Dense<2, 3, Tanh, f64>, Dense<3, 3, ReLU, f64>, Dense<3, 1, Sigmoid, f64>);
    assert_eq!(Flat::fingerprint(), Nested::fingerprint());
    assert_eq!(Flat::fingerprint(), Flat64::fingerprint());
    let others = [
        <(Dense<2, 3, Tanh>, Dense<3, 3, ReLU>, Dense<3, 1, Tanh>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 4, ReLU>, Dense<4, 1, Sigmoid>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 3, ReLU>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 3, ReLU>, Dense<3, 1, Sigmoid>, Dense<1, 1, Identity>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 3, LeakyReLU>, Dense<3, 1, Sigmoid>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 3, Gelu>, Dense<3, 1, Sigmoid>)>::fingerprint(),
        <(Dense<2, 3, Tanh>, Dense<3, 3, GeluErf>, Dense<3, 1, Sigmoid>)>::fingerprint(),
    ];
    for (k, other) in others.iter().enumerate() {
        assert_ne!(*other, Flat::fingerprint(), "architecture {k}");
    }
    let mut layers = Vec::new();
    Nested::for_each_layer(&mut |l| layers.push(l));
    assert_eq!(Nested::LAYERS, 3);
    assert_eq!(
        layers[1],
        backprop::LayerInfo { kind: backprop::LayerKind::Dense, inputs: 3, outputs: 3, activation: "ReLU" }
    );
    assert_eq!(layers[2].to_string(), "Dense<3, 1, Sigmoid>");
}

#[test]
fn include_bytes_weights_from_an_independent_writer() {
    let from_bpw: Mlp = weights::read(MLP_BPW).unwrap();
    let pytorch: Mlp =
        safetensors::read(include_bytes!("fixtures/pytorch_mlp.safetensors"), Names::Sequential).unwrap();
    assert_eq!(from_bpw, pytorch);
    // Our writer produces the Python writer's bytes exactly.
    assert_eq!(bytes_of(&from_bpw), MLP_BPW);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = bytes_of(&net());
    for len in 0..bytes.len() {
        let error = weights::read::<Net>(&bytes[..len]).unwrap_err();
        let expected = if len < 32 { 36 } else { bytes.len() as u64 };
        assert_eq!(error, Error::Truncated { format: "backprop weights", needed: expected, len }, "{len}");
    }
    assert_eq!(
        weights::read::<Net>(&[]).unwrap_err().to_string(),
        "backprop weights file is truncated: it needs 36 bytes but only 0 were given"
    );
}

#[test]
fn every_single_byte_change_is_an_error() {
    let bytes = bytes_of(&net());
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut corrupt = bytes.clone();
            corrupt[at] ^= flip;
            assert!(weights::read::<Net>(&corrupt).is_err(), "byte {at} ^ {flip:#04x} accepted");
        }
    }
}

#[test]
fn header_errors() {
    let bytes = bytes_of(&net());
    let read = |b: &[u8]| weights::read::<Net>(b).unwrap_err();

    let mut wrong = bytes.clone();
    wrong[0] = b'X';
    assert_eq!(read(&wrong), Error::BadMagic { format: "backprop weights" });
    assert_eq!(read(b"PK\x03\x04"), Error::BadMagic { format: "backprop weights" });
    assert_eq!(
        read(&include_bytes!("fixtures/pytorch_mlp.safetensors")[..]),
        Error::BadMagic { format: "backprop weights" }
    );

    let mut wrong = bytes.clone();
    wrong[8] = 2;
    assert_eq!(read(&wrong), Error::UnsupportedVersion { version: 2, supported: 1 });
    assert_eq!(
        read(&wrong).to_string(),
        "backprop weights file of format version 2; this build reads version 1"
    );

    let mut wrong = bytes.clone();
    wrong[10] = 7;
    assert_eq!(read(&wrong), Error::UnknownScalarType { tag: 7 });

    let mut wrong = bytes.clone();
    wrong[11] = 1;
    fix_checksum(&mut wrong);
    assert_eq!(read(&wrong), Error::InvalidField { field: "the reserved byte 11", value: 1 });

    let mut wrong = bytes.clone();
    wrong[40] ^= 0x10;
    let computed = crc32(&wrong[..wrong.len() - 4]);
    let stored = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(read(&wrong), Error::ChecksumMismatch { stored, computed });

    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(read(&longer), Error::TrailingBytes { expected: bytes.len() as u64, len: bytes.len() + 1 });

    // A parameter count so large the length overflows: truncated, not a panic.
    let mut huge = bytes.clone();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(read(&huge), Error::Truncated { needed: u64::MAX, .. }));
}

#[test]
fn weights_of_another_model_are_refused() {
    let bytes = bytes_of(&net());
    assert_eq!(weights::read::<Net64>(&bytes), Err(Error::ScalarTypeMismatch { file: "f32", model: "f64" }));
    let error = weights::read::<(Dense<2, 8, ReLU>, Dense<8, 1, Sigmoid>)>(&bytes).unwrap_err();
    assert!(matches!(
        error,
        Error::ArchitectureMismatch {
            file_layers: 2,
            model_layers: 2,
            file_params: 33,
            model_params: 33,
            ..
        }
    ));
    assert!(
        error.to_string().starts_with("the weights were written for a different architecture"),
        "{error}"
    );
    // Two layers and 33 parameters as well, but other widths: only the fingerprint differs.
    type SameCount = (Dense<2, 3, Tanh>, Dense<3, 6, Sigmoid>);
    assert_eq!(<SameCount as Params>::PARAMS, 33);
    let error = weights::read::<SameCount>(&bytes).unwrap_err();
    assert!(
        matches!(error, Error::ArchitectureMismatch { file_fingerprint, model_fingerprint, .. }
            if file_fingerprint == Net::fingerprint() && model_fingerprint == SameCount::fingerprint()),
        "{error}"
    );
    assert!(matches!(weights::read::<Mlp>(&bytes), Err(Error::ArchitectureMismatch { .. })));
    // A nested tuple of the same layers is the same architecture.
    type Nested = ((Dense<2, 8, Tanh>,), Dense<8, 1, Sigmoid>);
    let nested: Nested = weights::read(&bytes).unwrap();
    assert_eq!(nested.1, net().1);
}

#[test]
fn non_finite_weights_are_refused() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut model = net();
        model.1.weights[0][5] = bad;
        assert_eq!(
            weights::to_vec(&model),
            Err(Error::NonFiniteWeight { layer: 1, tensor: "weight", index: 5 })
        );
        // Written by hand (with a correct checksum), refused when read.
        let mut bytes = bytes_of(&net());
        let k = 2 * 8 + 8 + 5;
        bytes[32 + 4 * k..36 + 4 * k].copy_from_slice(&bad.to_le_bytes());
        fix_checksum(&mut bytes);
        let error = weights::read::<Net>(&bytes).unwrap_err();
        assert_eq!(error, Error::NonFiniteWeight { layer: 1, tensor: "weight", index: 5 });
        assert_eq!(
            error.to_string(),
            "layer 1 weight, element 5: the value is not finite (NaN or infinite); such weights are refused"
        );
    }
    let mut model = net();
    model.0.bias[3] = f32::NAN;
    assert_eq!(weights::to_vec(&model), Err(Error::NonFiniteWeight { layer: 0, tensor: "bias", index: 3 }));
}

#[test]
fn a_failed_load_leaves_the_model_unchanged() {
    let mut model = net();
    let other: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(99));
    let mut bytes = bytes_of(&other);
    let last = bytes.len() - 8;
    bytes[last..last + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    fix_checksum(&mut bytes);
    assert!(weights::load(&mut model, &bytes).is_err());
    assert_eq!(model, net());
    weights::load(&mut model, &bytes_of(&other)).unwrap();
    assert_eq!(model, other);
}

#[test]
fn files() {
    let dir = std::env::temp_dir().join(format!("backprop-weights-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.bpw");
    weights::save_file(&net(), &path).unwrap();
    assert_eq!(weights::read_file::<Net>(&path).unwrap(), net());
    // A file of the wrong model is the reader's error itself.
    assert_eq!(
        weights::read_file::<Net64>(&path),
        Err(Error::ScalarTypeMismatch { file: "f32", model: "f64" })
    );

    let path = dir.join("net.safetensors");
    safetensors::save_file(&net(), Names::Sequential, &path).unwrap();
    assert_eq!(safetensors::read_file::<Net>(&path, Names::Sequential).unwrap(), net());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_system_errors_are_errors_too() {
    use std::io::ErrorKind;
    // Reading: the path, what was being done, and what the file system said.
    let error = weights::read_file::<Net>("no-such-dir/net.bpw").unwrap_err();
    assert!(
        matches!(error, Error::Io { action: "reading", path: Some(path), kind: ErrorKind::NotFound, .. } if path.as_str() == "no-such-dir/net.bpw"),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("reading `no-such-dir/net.bpw`: no such file or directory"),
        "{error}"
    );
    let error = safetensors::read_file::<Net>("no-such-dir/net.safetensors", Names::Sequential).unwrap_err();
    assert!(matches!(error, Error::Io { action: "reading", kind: ErrorKind::NotFound, .. }), "{error:?}");
    // Writing.
    let error = weights::save_file(&net(), "no-such-dir/net.bpw").unwrap_err();
    assert!(matches!(error, Error::Io { action: "writing", kind: ErrorKind::NotFound, .. }), "{error:?}");
    let error = safetensors::save_file(&net(), Names::Sequential, "no-such-dir/net.safetensors").unwrap_err();
    assert!(
        error.to_string().starts_with("writing `no-such-dir/net.safetensors`: no such file or directory"),
        "{error}"
    );
    // A long path keeps its end.
    let long = format!("{}/net.bpw", "a-directory-that-is-not-there".repeat(3));
    let error = weights::read_file::<Net>(&long).unwrap_err();
    let Error::Io { path: Some(path), .. } = error else { panic!("{error:?}") };
    assert!(path.is_truncated() && long.ends_with(path.as_str()));
    assert!(error.to_string().starts_with("reading `…"), "{error}");

    // One error type for `?`: the crate's file helpers and std's I/O alike.
    fn load(path: &str) -> Result<Net, Error> {
        let bytes = std::fs::read(path)?;
        let net = weights::read(&bytes)?;
        weights::save_file(&net, path)?;
        Ok(net)
    }
    let error = load("no-such-dir/net.bpw").unwrap_err();
    assert!(
        matches!(error, Error::Io { action: "I/O", path: None, kind: ErrorKind::NotFound, .. }),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("I/O error: no such file or directory"), "{error}");
    let error: Error = std::io::Error::from(ErrorKind::PermissionDenied).into();
    assert_eq!(error.to_string(), "I/O error: permission denied");
}

// ---------------------------------------------------------------------------
// No allocation: a counting global allocator, counting on this thread only.

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

#[test]
fn readers_and_writers_do_not_allocate() {
    let pytorch = include_bytes!("fixtures/pytorch_mlp.safetensors");
    let f16 = include_bytes!("fixtures/pytorch_mlp_f16.safetensors");
    let mut model = Mlp::zeroed();
    let mut buffer = [0u8; 4096];
    let mut corrupt = *pytorch;
    corrupt[100] = b'#';
    let count = common::allocations_in(|| {
        weights::load(&mut model, MLP_BPW).unwrap();
        assert!(weights::load(&mut model, &MLP_BPW[..100]).is_err());
        let len = weights::write(&model, &mut buffer).unwrap();
        assert_eq!(weights::read::<Mlp>(&buffer[..len]), Ok(model));

        safetensors::load(&mut model, pytorch, Names::Sequential).unwrap();
        safetensors::load(&mut model, f16, Names::Layers(&["0", "2", "4"])).unwrap();
        assert!(safetensors::load(&mut model, &corrupt, Names::Sequential).is_err());
        let len = safetensors::write(&model, Names::Sequential, &mut buffer).unwrap();
        assert_eq!(safetensors::size::<Mlp>(Names::Sequential), Ok(len));
        assert!(safetensors::read::<Mlp>(&buffer[..len], Names::Sequential).is_ok());

        // Skipping extra tensors, listing them, and the naming errors.
        type Features = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>);
        let mut features = Features::zeroed();
        let skipped = safetensors::load_skipping_extra(&mut features, pytorch, Names::Sequential).unwrap();
        assert_eq!((skipped.len(), skipped.names().count()), (2, 2));
        assert!(skipped.names().eq(["4.bias", "4.weight"]));
        assert!(matches!(
            safetensors::load(&mut features, pytorch, Names::Sequential),
            Err(Error::UnexpectedTensor { missing: None, .. })
        ));
        assert!(matches!(
            safetensors::load(&mut model, pytorch, Names::Layers(&["a", "b", "c"])),
            Err(Error::UnexpectedTensor { missing: Some(_), .. })
        ));
        assert!(matches!(
            safetensors::load_skipping_extra(&mut model, pytorch, Names::Layers(&["a", "b", "c"])),
            Err(Error::MissingTensor { unexpected: Some(_), .. })
        ));
    });
    assert_eq!(count, 0, "weight files allocated {count} times");
}

#[test]
fn errors_stay_small() {
    // `Error` is returned by value everywhere (and is `Copy`): names and
    // shapes in it are bounded so that it stays under clippy's
    // `result_large_err` limit for the crate's users (which warns from 128
    // bytes on). 112 bytes today.
    assert!(std::mem::size_of::<Error>() < 128, "{} bytes", std::mem::size_of::<Error>());
    fn copy<T: Copy>() {}
    copy::<Error>();
}
