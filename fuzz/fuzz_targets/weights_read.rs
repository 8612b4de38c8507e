//! Any bytes into `weights::read`: an `Err` or a model, never a panic; and a
//! file that reads writes back to the same bytes.
#![no_main]

use backprop::prelude::*;
use backprop::weights;
use libfuzzer_sys::fuzz_target;

type Mlp = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
type Tiny = Dense<2, 1, Identity>;
type Tiny64 = Dense<2, 1, Identity, f64>;

/// Reads `bytes` as a `M`; if that works, writing the model gives `bytes` back.
fn check<M: Architecture + PartialEq + core::fmt::Debug>(bytes: &[u8])
where
    M::Scalar: weights::Storable,
{
    if let Ok(model) = weights::read::<M>(bytes) {
        let mut out = vec![0u8; weights::size::<M>()];
        assert_eq!(weights::write(&model, &mut out), Ok(bytes.len()));
        assert_eq!(out, bytes, "an accepted file does not write back to the same bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    // The bytes as they are: everything up to the checksum.
    check::<Mlp>(data);
    check::<Tiny>(data);
    check::<Tiny64>(data);
    // With a correct checksum appended, so that the fuzzer also reaches the
    // checks behind it (fields, architecture, finiteness).
    let mut fixed = data.to_vec();
    fixed.extend_from_slice(&weights::crc32(data).to_le_bytes());
    check::<Mlp>(&fixed);
    check::<Tiny>(&fixed);
    check::<Tiny64>(&fixed);
});
