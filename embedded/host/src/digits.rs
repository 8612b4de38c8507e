//! `generate` for the digits demonstrations: trains the 64-128-10 digits net
//! of `examples/07_digits.rs` on the repository's `data/`, quantizes it to
//! int8, and writes what the firmware compiles in (`demo/digits/`):
//!
//! - `digits_f32.bpw`: the float model (`backprop::weights` format);
//! - `digits_int8.bpw`: the int8 model (`backprop::quant::file` format);
//! - `test.bin`: the 359 test images, 64 raw pixels (0..16) and the label
//!   per image, 65 bytes each;
//! - `train.bin`: the 1438 training images in the same form, in the order
//!   the firmware's convolutional net trains on them (`backprop_demo::conv`):
//!   shuffled once with `shuffle_together` from `conv::TRAIN_ORDER_SEED`;
//! - `../src/digits/tables.rs`: the per-pixel lookup tables that turn a raw
//!   pixel into the standardised `f32` input and into the int8 input code,
//!   and what the host computed (checksums, accuracies, classes), which the
//!   firmware checks itself against.

use backprop::prelude::*;
use backprop::quant::{file, Int8Model, Quantize, Quantized};
use backprop::train::shuffle_together;
use backprop_demo::conv::{TRAIN_IMAGES, TRAIN_ORDER_SEED};
use backprop_demo::digits::{
    output_checksum, Checksum, Digits, CLASSES, PIXELS, PIXEL_VALUES, TEST_IMAGES, TEST_RECORD,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The seed of `examples/07_digits.rs`.
const SEED: u64 = 7;
/// Epochs of training, as in `examples/07_digits.rs`.
const EPOCHS: usize = 30;

/// One sample: 64 pixels (0..16) and its digit.
type Sample = ([u8; PIXELS], u8);

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// Every row of `digits.csv`.
fn load_rows() -> Result<Vec<Sample>, String> {
    let path = data_dir().join("digits.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (row, line) in text.lines().skip(1).filter(|l| !l.trim().is_empty()).enumerate() {
        let bad = |what: &str| format!("{}: row {row}: {what}", path.display());
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != PIXELS + 1 {
            return Err(bad("expected 65 columns"));
        }
        let mut pixels = [0u8; PIXELS];
        for (p, field) in pixels.iter_mut().zip(&fields) {
            *p = field
                .parse()
                .ok()
                .filter(|&v: &u8| v < PIXEL_VALUES as u8)
                .ok_or_else(|| bad("pixel not in 0..=16"))?;
        }
        let label = fields[PIXELS]
            .parse()
            .ok()
            .filter(|&v: &u8| v < CLASSES as u8)
            .ok_or_else(|| bad("label not in 0..=9"))?;
        rows.push((pixels, label));
    }
    Ok(rows)
}

/// The rows listed in `data/digits_{split}_idx.txt`, in that order.
fn split(rows: &[Sample], name: &str) -> Result<Vec<Sample>, String> {
    let path = data_dir().join(format!("digits_{name}_idx.txt"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let i: usize = l.trim().parse().map_err(|e| format!("{}: {l:?}: {e}", path.display()))?;
            rows.get(i).copied().ok_or_else(|| format!("{}: row {i} out of range", path.display()))
        })
        .collect()
}

/// Per-pixel mean and population standard deviation (1 where it is 0), in
/// `f64`, rounded to `f32`: `examples/common`'s `Standardiser`.
fn standardiser(samples: &[Sample]) -> ([f32; PIXELS], [f32; PIXELS]) {
    let n = samples.len().max(1) as f64;
    let mut mean = [0.0_f64; PIXELS];
    for (x, _) in samples {
        for (m, &v) in mean.iter_mut().zip(x) {
            *m += f64::from(v) / n;
        }
    }
    let mut variance = [0.0_f64; PIXELS];
    for (x, _) in samples {
        for ((s, &m), &v) in variance.iter_mut().zip(&mean).zip(x) {
            *s += (f64::from(v) - m).powi(2) / n;
        }
    }
    (mean.map(|m| m as f32), variance.map(|s| if s > 0.0 { s.sqrt() as f32 } else { 1.0 }))
}

/// The training split as `train.bin` holds it: shuffled from
/// [`TRAIN_ORDER_SEED`], then per image its 64 raw pixels and its label.
fn train_records(train: &[Sample]) -> Result<Vec<u8>, String> {
    if train.len() != TRAIN_IMAGES {
        return Err(format!(
            "the training split has {} images, the firmware expects {TRAIN_IMAGES}",
            train.len()
        ));
    }
    let (mut pixels, mut labels): (Vec<[u8; PIXELS]>, Vec<u8>) = train.iter().copied().unzip();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(TRAIN_ORDER_SEED);
    shuffle_together(&mut pixels, &mut labels, &mut rng).map_err(|e| format!("shuffling: {e}"))?;
    let mut records = Vec::with_capacity(TRAIN_IMAGES * TEST_RECORD);
    for (x, label) in pixels.iter().zip(&labels) {
        records.extend_from_slice(x);
        records.push(*label);
    }
    Ok(records)
}

/// Trains, quantizes and writes the digits files; returns a summary line.
pub fn generate() -> Result<String, String> {
    let rows = load_rows()?;
    let (train, test) = (split(&rows, "train")?, split(&rows, "test")?);
    if test.len() != TEST_IMAGES {
        return Err(format!("the test split has {} images, the firmware expects {TEST_IMAGES}", test.len()));
    }
    // As examples/07_digits.rs: every tenth training image of each digit is
    // held out (validation there); the net trains on the other 1299, whose
    // statistics standardise every pixel.
    let mut seen = [0usize; CLASSES];
    let fitting: Vec<Sample> = train
        .iter()
        .filter(|(_, label)| {
            seen[usize::from(*label)] += 1;
            seen[usize::from(*label)] % 10 != 0
        })
        .copied()
        .collect();
    let (mean, std) = standardiser(&fitting);
    // standardised[j][p]: pixel j with raw value p, as the net sees it.
    let mut standardised = [[0.0f32; PIXEL_VALUES]; PIXELS];
    for (j, row) in standardised.iter_mut().enumerate() {
        for (p, v) in row.iter_mut().enumerate() {
            *v = (p as f32 - mean[j]) / std[j];
        }
    }
    let input = |pixels: &[u8; PIXELS]| -> [f32; PIXELS] {
        core::array::from_fn(|j| standardised[j][usize::from(pixels[j])])
    };

    let mut inputs: Vec<[f32; PIXELS]> = fitting.iter().map(|(x, _)| input(x)).collect();
    let mut labels: Vec<usize> = fitting.iter().map(|&(_, l)| usize::from(l)).collect();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net: Digits = Model::init(&mut rng);
    let mut grads = Digits::zeroed();
    let mut adam = Adam::new(0.003);
    let schedule = Schedule::Cosine { period: EPOCHS, min_lr: 0.0 };
    for epoch in 0..EPOCHS {
        adam.set_learning_rate(schedule.learning_rate(0.003, epoch));
        shuffle_together(&mut inputs, &mut labels, &mut rng).map_err(|e| format!("shuffling: {e}"))?;
        net.train_epoch(&inputs, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, 32, Clip::None)
            .map_err(|e| format!("training, epoch {epoch}: {e}"))?;
    }

    // Calibrated on the whole (standardised) training split.
    let calibration: Vec<[f32; PIXELS]> = train.iter().map(|(x, _)| input(x)).collect();
    let int8: Quantized<Digits> = net.quantize(&calibration).map_err(|e| format!("quantizing: {e}"))?;
    let params = int8.input_quantization();
    let codes: [[i8; PIXEL_VALUES]; PIXELS] = standardised.map(|row| row.map(|v| params.quantize(v)));

    // What the host computes on the test split, with the library's own
    // float-to-int8 conversion of the inputs (quantize_input).
    let (mut f32_sum, mut int8_sum) = (Checksum::new(), Checksum::new());
    let (mut f32_correct, mut int8_correct, mut agree) = (0, 0, 0);
    let mut f32_classes = Vec::new();
    for (x, label) in &test {
        let x = input(x);
        let logits = net.forward(&x);
        logits.iter().for_each(|v| f32_sum.add(&v.to_bits().to_le_bytes()));
        let f32_class = net.classify(&x).map_err(|e| format!("f32 inference: {e}"))?;
        let q = int8.quantize_input(&x).map_err(|e| format!("quantizing a test image: {e}"))?;
        let y = int8.forward(&q);
        output_checksum(&mut int8_sum, &y);
        let int8_class = int8.classify_codes(&q);
        f32_correct += usize::from(f32_class == usize::from(*label));
        int8_correct += usize::from(int8_class == usize::from(*label));
        agree += usize::from(int8_class == f32_class);
        f32_classes.push(f32_class as u8);
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/digits");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let mut f32_file = vec![0u8; backprop::weights::size::<Digits>()];
    backprop::weights::write(&net, &mut f32_file).map_err(|e| format!("encoding the f32 model: {e}"))?;
    write("digits_f32.bpw", &f32_file)?;
    let mut int8_file = vec![0u8; file::size::<Quantized<Digits>>()];
    file::write(&int8, &mut int8_file).map_err(|e| format!("encoding the int8 model: {e}"))?;
    write("digits_int8.bpw", &int8_file)?;
    let mut records = Vec::with_capacity(TEST_IMAGES * TEST_RECORD);
    for (x, label) in &test {
        records.extend_from_slice(x);
        records.push(*label);
    }
    write("test.bin", &records)?;
    write("train.bin", &train_records(&train)?)?;

    let mut s = String::new();
    let _ = writeln!(s, "//! Written by `cargo run -p backprop-embedded-host --release -- generate`");
    let _ = writeln!(s, "//! (`host/src/digits.rs`). Do not edit.\n");
    let _ = writeln!(s, "/// `STANDARDISED[j][p]`: pixel `j` with raw value `p`, standardised with the");
    let _ = writeln!(s, "/// training images' statistics (`(p - mean_j) / std_j` in `f32`), as bits.");
    let _ = writeln!(s, "pub const STANDARDISED: [[u32; {PIXEL_VALUES}]; {PIXELS}] = [");
    for row in &standardised {
        let values: Vec<String> = row.iter().map(|v| format!("0x{:08x}", v.to_bits())).collect();
        let _ = writeln!(s, "    [{}],", values.join(", "));
    }
    let _ = writeln!(s, "];\n");
    let _ = writeln!(s, "/// `CODES[j][p]`: the int8 input code of pixel `j` with raw value `p`, the");
    let _ = writeln!(s, "/// standardised value quantized with the int8 model's input parameters");
    let _ = writeln!(s, "/// (scale {:e}, zero point {}).", params.scale, params.zero_point);
    let _ = writeln!(s, "pub const CODES: [[i8; {PIXEL_VALUES}]; {PIXELS}] = [");
    for row in &codes {
        let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "    [{}],", values.join(", "));
    }
    let _ = writeln!(s, "];\n");
    let _ = writeln!(s, "/// The f32 model's class for every test image, as the host computed it.");
    let _ = writeln!(s, "pub const F32_CLASSES: [u8; {TEST_IMAGES}] = {f32_classes:?};\n");
    let _ = writeln!(s, "/// FNV-1a of the host's int8 output codes for the test split.");
    let _ = writeln!(s, "pub const INT8_CHECKSUM: u32 = 0x{:08x};", int8_sum.value());
    let _ = writeln!(s, "/// FNV-1a of the host's f32 logits (their bits) for the test split.");
    let _ = writeln!(s, "pub const F32_CHECKSUM: u32 = 0x{:08x};", f32_sum.value());
    let _ = writeln!(s, "/// Test images the host's int8 model classifies correctly.");
    let _ = writeln!(s, "pub const INT8_CORRECT: usize = {int8_correct};");
    let _ = writeln!(s, "/// Test images the host's f32 model classifies correctly.");
    let _ = writeln!(s, "pub const F32_CORRECT: usize = {f32_correct};");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/src/digits/tables.rs");
    std::fs::write(&path, s).map_err(|e| format!("cannot write {}: {e}", path.display()))?;

    Ok(format!(
        "trained the digits net (test accuracy f32 {f32_correct}/{TEST_IMAGES}, int8 {int8_correct}/{TEST_IMAGES}, \
         classes agree on {agree}/{TEST_IMAGES}) and wrote {} and {}",
        dir.display(),
        path.display()
    ))
}
