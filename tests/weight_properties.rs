//! Property tests of both weight-file readers: random bytes and mutated
//! valid files give an `Err` or a model, never a panic; a changed backprop
//! weight file is always refused; whatever is written reads back bit for bit.
//!
//! The fuzz targets in `fuzz/` run the same readers for much longer; these
//! run in every `cargo test`.

use backprop::prelude::*;
use backprop::safetensors::{self, Names};
use backprop::weights;
use proptest::prelude::*;

type Net = (Dense<3, 4, Tanh>, Dense<4, 2, Identity>);
type Net64 = (Dense<3, 4, Tanh, f64>, Dense<4, 2, Identity, f64>);
type Tiny = Dense<2, 1, Identity>;

const MLP_SAFETENSORS: &[u8] = include_bytes!("fixtures/pytorch_mlp.safetensors");
type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);

/// A model of type `Net` with these parameters (non-finite ones replaced).
fn model_from(values: &[f32]) -> Net {
    let mut net = Net::zeroed();
    let mut k = 0;
    net.for_each_tensor_mut(|tensor| {
        for x in tensor {
            let v = values[k % values.len()];
            *x = if v.is_finite() { v } else { 0.5 };
            k += 1;
        }
    });
    net
}

fn bits<M: Params<Scalar = f32>>(model: &M) -> Vec<u32> {
    let mut all = Vec::new();
    model.for_each_tensor(|t| all.extend(t.iter().map(|x| x.to_bits())));
    all
}

/// One change to a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Xor(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(at, b)| Mutation::Xor(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1..16usize).prop_map(|(at, n)| Mutation::Remove(at, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Set(at, b) => {
            if let Some(x) = bytes.get_mut(at % len) {
                *x = *b;
            }
        }
        Mutation::Xor(at, b) => {
            if let Some(x) = bytes.get_mut(at % len) {
                *x ^= *b;
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % len),
        Mutation::Insert(at, more) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, more.iter().copied());
        }
        Mutation::Remove(at, n) => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
    }
}

/// Every reader on `bytes`: none may panic; a model that reads writes back.
fn read_everything(bytes: &[u8]) {
    if let Ok(net) = weights::read::<Net>(bytes) {
        assert_eq!(weights::to_vec(&net).unwrap(), bytes);
    }
    let _ = weights::read::<Net64>(bytes);
    let _ = weights::read::<Tiny>(bytes);
    for names in [Names::Sequential, Names::Layers(&["a", "b"]), Names::Tensors(&["w", "x", "y", "z"])] {
        let strict = safetensors::read::<Net>(bytes, names);
        if let Ok(net) = strict {
            let again = safetensors::to_vec(&net, names).unwrap();
            assert_eq!(safetensors::read::<Net>(&again, names), Ok(net));
        }
        // Skipping extra tensors accepts what the strict reader accepts (with
        // nothing skipped), and more only when it skipped something.
        match safetensors::read_skipping_extra::<Net>(bytes, names) {
            Ok((net, skipped)) => {
                assert_eq!(skipped.names().count(), skipped.len());
                if skipped.is_empty() {
                    assert_eq!(strict, Ok(net));
                } else {
                    assert!(matches!(strict, Err(Error::UnexpectedTensor { .. })), "{strict:?}");
                }
            }
            Err(error) => {
                assert!(strict.is_err(), "the strict reader accepted what skipping refused: {error}")
            }
        }
        let _ = safetensors::read::<Net64>(bytes, names);
    }
    let _ = safetensors::read::<Tiny>(bytes, Names::Sequential);
    let _ = safetensors::read::<Mlp>(bytes, Names::Sequential);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        read_everything(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_prefix_never_panic(
        prefix_len in 0..64usize,
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        // Valid magic and header fields (or a valid safetensors length), then noise.
        let valid = weights::to_vec(&Net::zeroed()).unwrap();
        let mut bytes = valid[..prefix_len.min(valid.len())].to_vec();
        bytes.extend_from_slice(&tail);
        read_everything(&bytes);
        let mut st = (tail.len() as u64 / 2).to_le_bytes().to_vec();
        st.extend_from_slice(&tail);
        read_everything(&st);
    }

    #[test]
    fn any_single_change_to_a_weight_file_is_refused(
        values in proptest::collection::vec(-10.0f32..10.0, 1..30),
        change in mutation(),
    ) {
        let original = weights::to_vec(&model_from(&values)).unwrap();
        let mut bytes = original.clone();
        apply(&mut bytes, &change);
        let result = weights::read::<Net>(&bytes);
        if bytes == original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "{:?} was accepted", change);
        }
    }

    #[test]
    fn mutated_files_never_panic(
        values in proptest::collection::vec(any::<f32>(), 1..30),
        changes in proptest::collection::vec(mutation(), 1..6),
    ) {
        let net = model_from(&values);
        for original in [
            weights::to_vec(&net).unwrap(),
            safetensors::to_vec(&net, Names::Sequential).unwrap(),
            MLP_SAFETENSORS.to_vec(),
        ] {
            let mut bytes = original;
            for change in &changes {
                apply(&mut bytes, change);
            }
            read_everything(&bytes);
        }
    }

    #[test]
    fn mutated_safetensors_headers_never_panic(
        changes in proptest::collection::vec(
            (any::<usize>(), prop::sample::select(&b"{}[]:,\"\\u0123456789-.eE aF_"[..])),
            1..8,
        ),
        data_len in 0..40usize,
    ) {
        // Changes inside the JSON only, with the length kept right, so the
        // parser rather than the length check sees them.
        let net = model_from(&[0.25, -1.5, 3.0]);
        let written = safetensors::to_vec(&net, Names::Sequential).unwrap();
        let n = u64::from_le_bytes(written[..8].try_into().unwrap()) as usize;
        let mut header = written[8..8 + n].to_vec();
        for (at, b) in &changes {
            let at = at % header.len();
            header[at] = *b;
        }
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&written[8 + n..]);
        read_everything(&bytes);
        bytes.truncate(8 + header.len() + data_len.min(written.len() - 8 - n));
        read_everything(&bytes);
    }

    #[test]
    fn written_weights_read_back_bit_for_bit(values in proptest::collection::vec(any::<f32>(), 1..30)) {
        let net = model_from(&values);
        let back: Net = weights::read(&weights::to_vec(&net).unwrap()).unwrap();
        prop_assert_eq!(bits(&back), bits(&net));
        let back: Net = safetensors::read(&safetensors::to_vec(&net, Names::Sequential).unwrap(), Names::Sequential).unwrap();
        prop_assert_eq!(bits(&back), bits(&net));
        // Into f64 and back to f32 is exact too.
        let wide: Net64 = safetensors::read(&safetensors::to_vec(&net, Names::Sequential).unwrap(), Names::Sequential).unwrap();
        let narrow: Net = safetensors::read(&safetensors::to_vec(&wide, Names::Sequential).unwrap(), Names::Sequential).unwrap();
        prop_assert_eq!(bits(&narrow), bits(&net));
    }

    #[test]
    fn any_names_round_trip(names in proptest::collection::vec("\\PC{0,12}|[\"\\\\\\n\\t\\u{0}-\\u{1f}]{1,4}", 4)) {
        // Any text (quotes, backslashes, control characters, any script) is a
        // valid tensor name once escaped, unless two are equal.
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let net = model_from(&[0.5, -2.0, 1.0, 0.125]);
        let names = Names::Tensors(&refs);
        let distinct = (0..4).all(|i| (0..i).all(|j| refs[i] != refs[j])) && !refs.contains(&"__metadata__");
        match safetensors::to_vec(&net, names) {
            Ok(bytes) => {
                prop_assert!(distinct);
                prop_assert_eq!(safetensors::read::<Net>(&bytes, names), Ok(net));
            }
            Err(error) => {
                prop_assert!(!distinct);
                let is_invalid_name = matches!(error, Error::InvalidName { .. });
                prop_assert!(is_invalid_name);
            }
        }
    }
}
