//! What the firmware does, as a `no_std`, allocation-free library.
//!
//! The firmware (`../firmware`) runs these functions on an emulated
//! Cortex-M4F and Cortex-M0 and prints what they report; the host program
//! (`../host`) runs the very same functions on the build machine. Both use
//! `backprop` without `std` (maths from `libm`) and the portable
//! `Xoshiro128PlusPlus` generator, so the trained weights, and their
//! checksums, must agree to the bit.
//!
//! Three demonstrations:
//! 1. [`train_xor`]: a 2-16-16-1 net learns XOR with full-batch SGD.
//! 2. [`train_iris`]: a 4-8-3 classifier learns Fisher's Iris data (compiled
//!    into the binary) with Adam and shuffled mini-batches, and is tested on
//!    the fixed test split.
//! 3. [`check_host_weights`]: a net trained on the host, compiled in as
//!    weights, is run on the device and compared with the host's outputs.
//!
//! [`run`] runs these three. Apart, in [`digits`]: the handwritten digits
//! net, trained and quantized on the host, run in int8 with integer
//! arithmetic only ([`digits::run_int8`]) and in `f32`
//! ([`digits::run_f32`]), each in its own firmware binary; and in [`conv`]:
//! a convolutional net trained on the digits on the device ([`conv::run`]).

#![no_std]
#![deny(missing_docs)]

use backprop::prelude::*;
use backprop::train::shuffle_together;
use core::fmt::{self, Write};

pub mod conv;
pub mod digits;
mod host_weights;

/// The host-trained net's weights in the library's format (`host_iris.bpw`,
/// written by `cargo run -p backprop-embedded-host --release -- generate`).
pub const HOST_WEIGHTS: &[u8] = include_bytes!("../host_iris.bpw");

/// The net that the host trains (`cargo run -p backprop-embedded-host --
/// generate`) and the device runs from compiled-in weights.
pub type HostIris = (Dense<4, 16, ReLU>, Dense<16, 3, Identity>);

/// The XOR network.
pub type Xor = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);

/// The Iris network: 4 measurements in, 3 class scores (logits) out.
pub type Iris = (Dense<4, 8, Tanh>, Dense<8, 3, Identity>);

/// The four XOR inputs.
pub const XOR_INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// The four XOR targets.
pub const XOR_TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

/// Epochs of XOR training.
pub const XOR_EPOCHS: usize = 1000;

/// FNV-1a (32 bit) over the little-endian bytes of every parameter: equal
/// checksums mean bit-identical weights.
pub fn checksum<M: Params<Scalar = f32>>(model: &M) -> u32 {
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

/// Trains the XOR net from seed 7 with full-batch SGD (learning rate 0.5),
/// calling `progress(epoch, mean squared error)` every 100 epochs. The net
/// is trained in place (`net`'s initial value is overwritten), which saves
/// the stack a copy of it.
#[inline(never)] // its stack frame is released before the next demonstration
pub fn train_xor(net: &mut Xor, mut progress: impl FnMut(usize, f32)) -> Result<(), Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    *net = Model::init(&mut rng);
    let mut grads = Xor::zeroed();
    let mut sgd = Sgd::new(0.5);
    for epoch in 0..XOR_EPOCHS {
        let loss = net.train_epoch(&XOR_INPUTS, &XOR_TARGETS, &Mse, &mut sgd, &mut grads, 4, Clip::None)?;
        if epoch % 100 == 0 || epoch + 1 == XOR_EPOCHS {
            progress(epoch, loss);
        }
    }
    Ok(())
}

/// The number of Iris samples in the training split.
pub const IRIS_TRAIN: usize = 120;
/// The number of Iris samples in the test split.
pub const IRIS_TEST: usize = 30;

/// A split of the Iris data: standardised measurements and class labels.
pub struct IrisSplit<const N: usize> {
    /// Measurements, standardised with the training split's mean and
    /// standard deviation.
    pub inputs: [[f32; 4]; N],
    /// Classes 0 (setosa), 1 (versicolour), 2 (virginica).
    pub labels: [usize; N],
}

/// The repository's copy of the data, compiled into the binary.
const IRIS_CSV: &str = include_str!("../../../data/iris.csv");
const IRIS_TRAIN_IDX: &str = include_str!("../../../data/iris_train_idx.txt");
const IRIS_TEST_IDX: &str = include_str!("../../../data/iris_test_idx.txt");

/// Parses row `row` (from 0, after the header) of the Iris CSV.
fn iris_row(row: usize) -> Option<([f32; 4], usize)> {
    let line = IRIS_CSV.lines().nth(row + 1)?;
    let mut fields = line.split(',');
    let mut x = [0.0; 4];
    for v in x.iter_mut() {
        *v = fields.next()?.trim().parse().ok()?;
    }
    let class = fields.next()?.trim().parse().ok()?;
    Some((x, class))
}

impl<const N: usize> IrisSplit<N> {
    /// An empty split, to be filled by [`load_iris`].
    pub const EMPTY: Self = Self { inputs: [[0.0; 4]; N], labels: [0; N] };
}

/// Reads the rows listed in `index_file` into `split` (not yet standardised).
fn read_split<const N: usize>(index_file: &str, split: &mut IrisSplit<N>) -> Option<()> {
    let mut rows = index_file.lines().filter(|l| !l.trim().is_empty());
    for k in 0..N {
        let (x, class) = iris_row(rows.next()?.trim().parse().ok()?)?;
        split.inputs[k] = x;
        split.labels[k] = class;
    }
    Some(())
}

/// Fills the fixed train and test splits, standardised with the training
/// split's statistics. `None` only if the compiled-in files are malformed.
#[inline(never)] // its stack frame is released before the next demonstration
pub fn load_iris(train: &mut IrisSplit<IRIS_TRAIN>, test: &mut IrisSplit<IRIS_TEST>) -> Option<()> {
    read_split(IRIS_TRAIN_IDX, train)?;
    read_split(IRIS_TEST_IDX, test)?;
    for feature in 0..4 {
        let n = IRIS_TRAIN as f32;
        let mean = train.inputs.iter().map(|x| x[feature]).sum::<f32>() / n;
        let variance =
            train.inputs.iter().map(|x| (x[feature] - mean) * (x[feature] - mean)).sum::<f32>() / n;
        let std = variance.sqrt();
        for x in train.inputs.iter_mut().chain(test.inputs.iter_mut()) {
            x[feature] = (x[feature] - mean) / std;
        }
    }
    Some(())
}

/// Epochs of Iris training.
pub const IRIS_EPOCHS: usize = 60;

/// Trains the Iris net from seed 11 with Adam (learning rate 0.01) on
/// shuffled mini-batches of 8, calling `progress(epoch, mean loss)` every 10
/// epochs. Returns the net and its accuracy on the test split.
#[inline(never)] // its stack frame is released before the next demonstration
pub fn train_iris(
    train: &mut IrisSplit<IRIS_TRAIN>,
    test: &IrisSplit<IRIS_TEST>,
    mut progress: impl FnMut(usize, f32),
) -> Result<(Iris, f64), Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let mut net: Iris = Model::init(&mut rng);
    let mut grads = Iris::zeroed();
    let mut adam = Adam::new(0.01);
    net.check_data(&train.inputs, &train.labels, &SoftmaxCrossEntropy)?;
    for epoch in 0..IRIS_EPOCHS {
        shuffle_together(&mut train.inputs, &mut train.labels, &mut rng)?;
        let loss = net.train_epoch(
            &train.inputs,
            &train.labels,
            &SoftmaxCrossEntropy,
            &mut adam,
            &mut grads,
            8,
            Clip::None,
        )?;
        if epoch % 10 == 0 || epoch + 1 == IRIS_EPOCHS {
            progress(epoch, loss);
        }
    }
    let accuracy = net.accuracy(&test.inputs, &test.labels)?;
    Ok((net, accuracy))
}

/// Runs the host-trained Iris net on the test split and compares every
/// logit with the host's, bit for bit. Returns the number of logits that
/// differ, the largest difference and the test accuracy.
#[inline(never)] // its stack frame is released before the next demonstration
pub fn check_host_weights(test: &IrisSplit<IRIS_TEST>) -> Result<(usize, f32, f64), Error> {
    let mut net = HostIris::zeroed();
    // The library's weight format, checked (magic, version, scalar type,
    // architecture fingerprint, CRC-32) as it is loaded.
    backprop::weights::load(&mut net, HOST_WEIGHTS)?;
    let (mut differ, mut largest) = (0, 0.0_f32);
    for (x, expected) in test.inputs.iter().zip(&host_weights::LOGITS) {
        for (y, &bits) in net.forward(x).iter().zip(expected) {
            let want = f32::from_bits(bits);
            if y.to_bits() != bits {
                differ += 1;
                largest = largest.max((y - want).abs());
            }
        }
    }
    Ok((differ, largest, net.accuracy(&test.inputs, &test.labels)?))
}

/// Runs the three demonstrations, writing a report to `out`, and returns
/// whether all of them passed. The host and the devices print the same
/// report, character for character.
pub fn run(out: &mut impl Write) -> Result<bool, fmt::Error> {
    let mut passed = xor_section(out)?;
    let (mut train, mut test) = (IrisSplit::EMPTY, IrisSplit::EMPTY);
    if load_iris(&mut train, &mut test).is_none() {
        writeln!(out, "the compiled-in Iris data is malformed")?;
        return Ok(false);
    }
    passed &= iris_section(out, &mut train, &test)?;
    passed &= host_weights_section(out, &test)?;
    writeln!(out, "{}", if passed { "ALL PASSED" } else { "FAILED" })?;
    Ok(passed)
}

#[inline(never)] // its stack frame is released before the next demonstration
fn xor_section(out: &mut impl Write) -> Result<bool, fmt::Error> {
    writeln!(out, "== XOR: 2-16-16-1 (tanh, tanh, sigmoid), full-batch SGD, lr 0.5, seed 7")?;
    let mut xor = Xor::zeroed();
    let trained = train_xor(&mut xor, |epoch, loss| {
        let _ = writeln!(out, "epoch {epoch:>4}  mse {loss:.7}");
    });
    if let Err(e) = trained {
        writeln!(out, "XOR training failed: {e}")?;
        return Ok(false);
    }
    let mut passed = true;
    for (x, t) in XOR_INPUTS.iter().zip(&XOR_TARGETS) {
        let y = xor.forward(x)[0];
        let right = (y > 0.5) == (t[0] > 0.5);
        passed &= right;
        writeln!(
            out,
            "{} xor {} = {:.5}  (target {}) {}",
            x[0],
            x[1],
            y,
            t[0],
            if right { "ok" } else { "WRONG" }
        )?;
    }
    writeln!(out, "XOR weights checksum {:08x}", checksum(&xor))?;
    Ok(passed)
}

#[inline(never)] // its stack frame is released before the next demonstration
fn iris_section(
    out: &mut impl Write,
    train: &mut IrisSplit<IRIS_TRAIN>,
    test: &IrisSplit<IRIS_TEST>,
) -> Result<bool, fmt::Error> {
    writeln!(
        out,
        "== Iris: 4-8-3 (tanh, logits), softmax cross-entropy, Adam lr 0.01, batches of 8, seed 11"
    )?;
    match train_iris(train, test, |epoch, loss| {
        let _ = writeln!(out, "epoch {epoch:>4}  loss {loss:.7}");
    }) {
        Ok((net, accuracy)) => {
            let correct = (accuracy * IRIS_TEST as f64).round();
            writeln!(out, "test accuracy {correct}/{IRIS_TEST} = {accuracy:.3}")?;
            writeln!(out, "Iris weights checksum {:08x}", checksum(&net))?;
            Ok(accuracy >= 0.9)
        }
        Err(e) => {
            writeln!(out, "Iris training failed: {e}")?;
            Ok(false)
        }
    }
}

#[inline(never)] // its stack frame is released before the next demonstration
fn host_weights_section(out: &mut impl Write, test: &IrisSplit<IRIS_TEST>) -> Result<bool, fmt::Error> {
    writeln!(
        out,
        "== Host-trained weights: 4-16-3 (ReLU, logits), {} parameters compiled in",
        HostIris::PARAMS
    )?;
    match check_host_weights(test) {
        Ok((differ, largest, accuracy)) => {
            writeln!(
                out,
                "logits that differ from the host's: {differ} of {} (largest difference {largest:e})",
                3 * IRIS_TEST
            )?;
            writeln!(out, "test accuracy {accuracy:.3}")?;
            Ok(differ == 0 && accuracy >= 0.9)
        }
        Err(e) => {
            writeln!(out, "inference failed: {e}")?;
            Ok(false)
        }
    }
}
