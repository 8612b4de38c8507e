//! The XOR training of `embedded/demo` (2-16-16-1, tanh, tanh, sigmoid,
//! full-batch SGD at 0.5, seed 7, 1000 epochs), run here with `std` and, on
//! an x86 CPU with AVX2, the AVX2 kernels, must end with the weights that a
//! Cortex-M4F and a Cortex-M0 under QEMU, and the host without `std`, end
//! with: `embedded/ci.sh` prints their checksum in every report
//! (`XOR weights checksum ...`), and this test pins the same number.
//!
//! Everything on this path is bit-portable: dot products in a fixed order
//! whatever the SIMD width, no fused multiply-add, and the crate's own `f32`
//! `tanh` and `sigmoid` made of correctly rounded operations. If a change to
//! the arithmetic moves the checksum, regenerate the embedded weights
//! (`cd embedded && cargo run -p backprop-embedded-host --release --
//! generate`), run `bash embedded/ci.sh`, and update the number here from
//! its report.

use backprop::prelude::*;

type Xor = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);

/// The embedded demo's checksum: FNV-1a (32 bit) over the little-endian
/// bytes of every parameter.
fn checksum<M: Params<Scalar = f32>>(model: &M) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    model.for_each_tensor(|tensor| {
        for value in tensor {
            for byte in value.to_bits().to_le_bytes() {
                hash ^= u32::from(byte);
                hash = hash.wrapping_mul(0x0100_0193);
            }
        }
    });
    hash
}

#[test]
fn xor_training_gives_the_microcontrollers_weights() {
    let inputs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let targets = [[0.0f32], [1.0], [1.0], [0.0]];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut net: Xor = Model::init(&mut rng);
    let mut grads = Xor::zeroed();
    let mut sgd = Sgd::new(0.5);
    let mut last = 0.0;
    for _ in 0..1000 {
        last = net.train_epoch(&inputs, &targets, &Mse, &mut sgd, &mut grads, 4, Clip::None).unwrap();
    }
    assert_eq!(format!("{last:.7}"), "0.0004228", "the last epoch's loss, as the reports print it");
    assert_eq!(checksum(&net), 0xaea0_d38f, "the weights differ from the microcontrollers'");
}
