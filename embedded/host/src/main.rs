//! The firmware's demonstrations, run on the build machine.
//!
//! `cargo run -p backprop-embedded-host --release` prints the same report as
//! the firmware under QEMU; CI compares them line by line (equal checksums
//! mean bit-identical weights).
//!
//! `cargo run -p backprop-embedded-host --release -- generate` trains the
//! 4-16-3 Iris net that the firmware runs from compiled-in weights and writes
//! its weights (`demo/host_iris.bpw`, the library's format) and its logits for
//! the test split (`demo/src/host_weights.rs`).

use backprop::prelude::*;
use backprop::train::shuffle_together;
use backprop_demo::{load_iris, HostIris, IrisSplit};
use std::fmt::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("generate") {
        return generate();
    }
    let mut report = String::new();
    let passed = backprop_demo::run(&mut report).unwrap_or(false);
    print!("{report}");
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Trains the host net and writes its weights and its test-split logits as
/// Rust source.
fn generate() -> ExitCode {
    let (mut train, mut test) = (IrisSplit::EMPTY, IrisSplit::EMPTY);
    if load_iris(&mut train, &mut test).is_none() {
        eprintln!("the Iris data is malformed");
        return ExitCode::FAILURE;
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2024);
    let mut net: HostIris = Model::init(&mut rng);
    let mut grads = HostIris::zeroed();
    let mut adam = Adam::new(0.005);
    for _ in 0..300 {
        if let Err(e) = shuffle_together(&mut train.inputs, &mut train.labels, &mut rng) {
            eprintln!("shuffling the Iris data: {e}");
            return ExitCode::FAILURE;
        }
        if let Err(e) = net.train_epoch(
            &train.inputs,
            &train.labels,
            &SoftmaxCrossEntropy,
            &mut adam,
            &mut grads,
            16,
            Clip::None,
        ) {
            eprintln!("training failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    let accuracy = net.accuracy(&test.inputs, &test.labels).unwrap_or(0.0);

    let mut weights = [0u8; backprop::weights::size::<HostIris>()];
    if let Err(e) = backprop::weights::write(&net, &mut weights) {
        eprintln!("cannot encode the weights: {e}");
        return ExitCode::FAILURE;
    }
    let weights_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/host_iris.bpw");
    if let Err(e) = std::fs::write(weights_path, weights) {
        eprintln!("cannot write {weights_path}: {e}");
        return ExitCode::FAILURE;
    }

    let mut source = String::new();
    let _ = writeln!(source, "//! Written by `cargo run -p backprop-embedded-host --release -- generate`:");
    let _ = writeln!(source, "//! the logits of the 4-16-3 Iris net in `host_iris.bpw` (trained on the");
    let _ = writeln!(source, "//! host, test accuracy {accuracy:.3}) for the test split. Do not edit.\n");
    let _ = writeln!(source, "/// The host's logits for the Iris test split, as `f32` bit patterns.");
    let _ = writeln!(source, "pub const LOGITS: [[u32; 3]; {}] = [", test.inputs.len());
    for x in &test.inputs {
        let y = net.forward(x);
        let _ = writeln!(
            source,
            "    [0x{:08x}, 0x{:08x}, 0x{:08x}],",
            y[0].to_bits(),
            y[1].to_bits(),
            y[2].to_bits()
        );
    }
    let _ = writeln!(source, "];");

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/src/host_weights.rs");
    if let Err(e) = std::fs::write(path, source) {
        eprintln!("cannot write {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("trained the host net (test accuracy {accuracy:.3}) and wrote {weights_path} and {path}");
    ExitCode::SUCCESS
}
