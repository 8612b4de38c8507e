//! Any bytes into `safetensors::read` and `read_skipping_extra`: an `Err` or
//! a model, never a panic; a model that reads writes and reads back to
//! itself; and skipping extra tensors accepts what the strict reader does.
#![no_main]

use backprop::prelude::*;
use backprop::safetensors::{self, Names};
use libfuzzer_sys::fuzz_target;

type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
type Tiny = Dense<2, 1, Identity>;
type Tiny64 = (Dense<2, 1, Identity, f64>,);
type Two = (Dense<1, 1, Tanh>, Dense<1, 1, Identity>);

fn check<M: Architecture + PartialEq + core::fmt::Debug>(bytes: &[u8], names: Names<'_>)
where
    M::Scalar: backprop::weights::Storable,
{
    let strict = safetensors::read::<M>(bytes, names);
    if let Ok(model) = &strict {
        let written = safetensors::to_vec(model, names).expect("a model that was read can be written");
        assert_eq!(
            safetensors::read::<M>(&written, names).as_ref(),
            Ok(model),
            "write then read changed the model"
        );
    }
    // Skipping extra tensors: what the strict reader accepts, with nothing
    // skipped; more only when it skipped something.
    if let Ok((model, skipped)) = safetensors::read_skipping_extra::<M>(bytes, names) {
        assert_eq!(skipped.names().count(), skipped.len(), "the skipped names are not as many as counted");
        if skipped.is_empty() {
            assert_eq!(strict, Ok(model), "skipping nothing read another model");
        } else {
            assert!(matches!(strict, Err(backprop::Error::UnexpectedTensor { .. })), "{strict:?}");
        }
    } else {
        assert!(strict.is_err(), "the strict reader accepted what skipping refused");
    }
}

fn all(bytes: &[u8]) {
    check::<Tiny>(bytes, Names::Sequential);
    check::<Tiny64>(bytes, Names::Tensors(&["w", "b"]));
    check::<Two>(bytes, Names::Sequential);
    check::<Two>(bytes, Names::Layers(&["a", "b"]));
    check::<Mlp>(bytes, Names::Sequential);
}

fuzz_target!(|data: &[u8]| {
    // The bytes as they are.
    all(data);
    // The first byte as a data length (0 to 24), the rest as a header, with
    // a correct length in front and that much data behind, so that the
    // fuzzer spends its time in the JSON and the offsets.
    if let Some((&n, header)) = data.split_first() {
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        let values = [0.5f32, -1.0, 2.0, 0.25, 1.5, 3.0];
        file.extend(values.iter().flat_map(|x| x.to_le_bytes()).take(usize::from(n) % 25));
        all(&file);
    }
});
