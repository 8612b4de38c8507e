//! The firmware's demonstrations, run on the build machine.
//!
//! `cargo run -p backprop-embedded-host --release` prints the same report as
//! the firmware under QEMU; CI compares them line by line (equal checksums
//! mean bit-identical weights).
//!
//! `cargo run -p backprop-embedded-host --release -- digits-int8` and
//! `-- digits-f32` print the reports of the firmware's `digits_int8` and
//! `digits_f32` binaries, and `-- conv-digits` the report of `conv_digits`
//! (a convolutional net trained on the digits).
//!
//! `cargo run -p backprop-embedded-host --release -- generate` trains the
//! 4-16-3 Iris net that the firmware runs from compiled-in weights and writes
//! its weights (`demo/host_iris.bpw`, the library's format) and its logits for
//! the test split (`demo/src/host_weights.rs`); and trains and quantizes the
//! digits net and writes its files (`demo/digits/`, `demo/src/digits/tables.rs`;
//! see `digits.rs`).

use backprop::prelude::*;
use backprop::train::shuffle_together;
use backprop_demo::{load_iris, HostIris, IrisSplit};
use std::fmt::Write as _;
use std::process::ExitCode;

mod digits;

fn main() -> ExitCode {
    let mut report = String::new();
    let passed = match std::env::args().nth(1).as_deref() {
        Some("generate") => return generate(),
        None => backprop_demo::run(&mut report).unwrap_or(false),
        Some("digits-int8") => digits_int8(&mut report),
        Some("digits-f32") => backprop_demo::digits::run_f32(&mut report, &mut ()).unwrap_or(false),
        Some("conv-digits") => backprop_demo::conv::run(&mut report, &mut (), |_| {}).unwrap_or(false),
        Some(other) => {
            eprintln!("unknown argument {other:?}: expected none, `generate`, `digits-int8`, `digits-f32` or `conv-digits`");
            return ExitCode::FAILURE;
        }
    };
    print!("{report}");
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The int8 digits report, as the firmware's `digits_int8` prints it; also
/// checks that the `f32` model compiled into the demonstration is the one
/// `backprop::weights::read` reads from its file (the device cannot hold it
/// in RAM to check).
fn digits_int8(report: &mut String) -> bool {
    use backprop_demo::digits::{read_int8, run_int8, Digits, DIGITS_F32, F32_FILE};
    if backprop::weights::read::<Digits>(F32_FILE).ok().as_ref() != Some(&DIGITS_F32) {
        eprintln!("DIGITS_F32 differs from what backprop::weights::read reads from digits_f32.bpw");
        return false;
    }
    let mut model = <backprop_demo::digits::Int8Digits as backprop::quant::Int8Model>::EMPTY;
    match read_int8(&mut model) {
        Ok(()) => run_int8(report, &model, &mut ()).unwrap_or(false),
        Err(e) => {
            let _ = writeln!(report, "reading the int8 model failed: {e}");
            false
        }
    }
}

/// Trains the host nets and writes what the firmware compiles in: the Iris
/// net's weights and test-split logits, and the digits files
/// (`digits::generate`).
fn generate() -> ExitCode {
    match digits::generate() {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
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
