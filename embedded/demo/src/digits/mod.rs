//! The handwritten digits net of `examples/07_digits.rs` (64-128-10, ReLU,
//! logits), trained on the host, run on the device in `f32` and in int8.
//!
//! `cargo run -p backprop-embedded-host --release -- generate` trains it
//! (seed 7, Adam 0.003 with a cosine schedule, 30 epochs of batches of 32),
//! quantizes it calibrated on the standardised training split, and writes
//! what this module compiles in (`../digits/` and `tables.rs`):
//!
//! - the int8 model in the library's int8 weight format, read at start-up
//!   with [`file::read`], which checks its checksum, fingerprint and every
//!   value with integer operations only (in place, [`file::read_into`]);
//! - the `f32` model in the library's weight format, decoded at compile time
//!   into [`DIGITS_F32`], a `static` that stays in flash (its 38 KB do not
//!   fit a micro:bit's 16 KiB of RAM);
//! - the 359 test images as raw pixels (0..16) with their labels, and two
//!   per-pixel lookup tables that turn a raw pixel into the standardised
//!   `f32` input and into the int8 input code, so that the int8 path takes no
//!   floating-point operation from the pixels to the class;
//! - what the host computed: checksums of the outputs, accuracies, the `f32`
//!   model's classes.
//!
//! [`run_int8`] and [`run_f32`] print a report that the host and both cores
//! must print identically; they return `false` if the device's outputs
//! differ from the host's.

use backprop::prelude::*;
use backprop::quant::{file, Int8Model, Quantized};
use core::fmt::{self, Write};

#[rustfmt::skip] // written by the host's `generate`, as it writes it
mod tables;

/// The digits net: 64 pixels in, ten logits out.
pub type Digits = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);

/// Its int8 form.
pub type Int8Digits = Quantized<Digits>;

/// Pixels per image (8 × 8).
pub const PIXELS: usize = 64;
/// The values a pixel takes: 0..=16.
pub const PIXEL_VALUES: usize = 17;
/// Digits 0..=9.
pub const CLASSES: usize = 10;
/// Images in the test split (`data/digits_test_idx.txt`).
pub const TEST_IMAGES: usize = 359;
/// Bytes per test image in `digits/test.bin`: 64 pixels, then the label.
pub const TEST_RECORD: usize = PIXELS + 1;

/// The int8 model (`backprop::quant::file` format).
pub const INT8_FILE: &[u8] = include_bytes!("../../digits/digits_int8.bpw");
/// The `f32` model (`backprop::weights` format).
pub const F32_FILE: &[u8] = include_bytes!("../../digits/digits_f32.bpw");
/// The test split: per image 64 raw pixels and the label.
pub const TEST: &[u8] = include_bytes!("../../digits/test.bin");

/// The `f32` model, decoded from [`F32_FILE`] at compile time: a `static`
/// in flash. The build checks the file's checksum, [`run_f32`] its
/// architecture fingerprint.
pub static DIGITS_F32: Digits = decode_f32(F32_FILE);

/// Something that measures the inferences: `start` and `stop` are called
/// right before and right after each forward pass.
pub trait Meter {
    /// Called right before a forward pass.
    fn start(&mut self);
    /// Called right after it.
    fn stop(&mut self);
}

/// No measurement (the host).
impl Meter for () {
    fn start(&mut self) {}
    fn stop(&mut self) {}
}

/// FNV-1a (32 bit), over bytes fed in order.
#[derive(Clone, Copy, Debug)]
pub struct Checksum(u32);

impl Checksum {
    /// The checksum of nothing.
    pub const fn new() -> Self {
        Checksum(0x811c_9dc5)
    }

    /// Feeds `bytes`.
    pub fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u32::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }

    /// The checksum so far.
    pub const fn value(&self) -> u32 {
        self.0
    }
}

impl Default for Checksum {
    fn default() -> Self {
        Self::new()
    }
}

/// Feeds one image's int8 output codes to `sum`.
pub fn output_checksum(sum: &mut Checksum, codes: &[i8; CLASSES]) {
    sum.add(&codes.map(|c| c as u8));
}

/// The test images: `(pixels, label)`.
pub fn test_images() -> impl Iterator<Item = (&'static [u8], usize)> {
    TEST.chunks_exact(TEST_RECORD).map(|record| {
        let (pixels, label) = record.split_at(PIXELS);
        (pixels, label.first().map_or(0, |&l| usize::from(l)))
    })
}

/// The int8 input codes of an image: one table lookup per pixel.
pub fn int8_input(pixels: &[u8]) -> [i8; PIXELS] {
    let mut codes = [0; PIXELS];
    for ((code, &p), table) in codes.iter_mut().zip(pixels).zip(&tables::CODES) {
        *code = table.get(usize::from(p)).copied().unwrap_or(0);
    }
    codes
}

/// The standardised `f32` input of an image: one table lookup per pixel.
pub fn f32_input(pixels: &[u8]) -> [f32; PIXELS] {
    let mut x = [0.0; PIXELS];
    for ((x, &p), table) in x.iter_mut().zip(pixels).zip(&tables::STANDARDISED) {
        *x = f32::from_bits(table.get(usize::from(p)).copied().unwrap_or(0));
    }
    x
}

/// The index of the largest value, the first on ties.
pub(crate) fn argmax<T: PartialOrd + Copy>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if values.get(best).is_some_and(|b| v > b) {
            best = i;
        }
    }
    best
}

/// Writes `correct/total (pp.p%)` with integer arithmetic only.
pub(crate) fn write_accuracy(out: &mut impl Write, correct: usize, total: usize) -> fmt::Result {
    let permille = (correct * 1000 + total / 2) / total.max(1);
    write!(out, "{correct}/{total} ({}.{}%)", permille / 10, permille % 10)
}

/// Reads the int8 model from [`INT8_FILE`] into `model`, in place
/// ([`file::read_into`]: a micro:bit's 16 KiB of RAM hold the 12 KB model
/// once, not the copies a by-value [`file::read`] makes on the stack).
/// `model` can be a `static` initialised with
/// [`Int8Model::EMPTY`].
///
/// # Errors
///
/// Those of [`file::read_into`]: the compiled-in file is corrupt or is not
/// a 64-128-10 int8 model.
pub fn read_int8(model: &mut Int8Digits) -> Result<(), Error> {
    file::read_into(INT8_FILE, model)
}

/// Runs the int8 model on every test image, integers only (table lookup,
/// forward pass, argmax), and reports its accuracy, its agreement with the
/// `f32` model and the checksum of every output code. Returns whether the
/// outputs equal the host's.
pub fn run_int8(
    out: &mut impl Write,
    model: &Int8Digits,
    meter: &mut impl Meter,
) -> Result<bool, fmt::Error> {
    writeln!(out, "== Digits, int8: 64-128-10 (ReLU, logits), TensorFlow Lite's int8 scheme")?;
    writeln!(
        out,
        "model: {} B, backprop's int8 weight file (checksummed, fingerprinted), read by file::read_into",
        INT8_FILE.len()
    )?;
    let params = model.input_quantization();
    writeln!(out, "input: a table of 64 x 17 int8 codes (zero point {})", params.zero_point)?;
    let (mut sum, mut correct, mut agree, mut images) = (Checksum::new(), 0, 0, 0);
    for ((pixels, label), &f32_class) in test_images().zip(&tables::F32_CLASSES) {
        let codes = int8_input(pixels);
        meter.start();
        let y = model.forward(&codes);
        meter.stop();
        output_checksum(&mut sum, &y);
        let class = argmax(&y);
        correct += usize::from(class == label);
        agree += usize::from(class == usize::from(f32_class));
        images += 1;
    }
    write!(out, "test accuracy ")?;
    write_accuracy(out, correct, images)?;
    write!(out, "; same class as the f32 model: ")?;
    write_accuracy(out, agree, images)?;
    writeln!(out)?;
    let same =
        sum.value() == tables::INT8_CHECKSUM && correct == tables::INT8_CORRECT && images == TEST_IMAGES;
    writeln!(
        out,
        "output codes checksum {:08x} ({})",
        sum.value(),
        if same { "the host's" } else { "NOT the host's" }
    )?;
    Ok(same)
}

/// The architecture fingerprint in [`F32_FILE`]'s header, read at compile
/// time.
const F32_FINGERPRINT: u64 = {
    let mut bytes = [0u8; 8];
    let mut k = 0;
    while k < 8 {
        bytes[k] = F32_FILE[16 + k];
        k += 1;
    }
    u64::from_le_bytes(bytes)
};

/// Whether [`F32_FILE`] is a file of [`Digits`]: its fingerprint against
/// the architecture's (its CRC-32 is checked at compile time, by
/// [`decode_f32`]).
fn check_f32_file() -> bool {
    F32_FINGERPRINT == <Digits as Architecture>::fingerprint()
}

/// Runs the `f32` model (in flash) on every test image and reports its
/// accuracy and the checksum of every logit's bits. Returns whether the
/// logits equal the host's.
pub fn run_f32(out: &mut impl Write, meter: &mut impl Meter) -> Result<bool, fmt::Error> {
    writeln!(out, "== Digits, f32: 64-128-10 (ReLU, logits), {} parameters", Digits::PARAMS)?;
    let file_ok = check_f32_file();
    writeln!(
        out,
        "model: {} B, backprop's weight file (CRC-32 checked at compile time), decoded into a static in flash (fingerprint {})",
        F32_FILE.len(),
        if file_ok { "ok" } else { "WRONG" }
    )?;
    let (mut sum, mut correct, mut images) = (Checksum::new(), 0, 0);
    for (pixels, label) in test_images() {
        let x = f32_input(pixels);
        meter.start();
        let y = DIGITS_F32.forward(&x);
        meter.stop();
        y.iter().for_each(|v| sum.add(&v.to_bits().to_le_bytes()));
        correct += usize::from(argmax(&y) == label);
        images += 1;
    }
    write!(out, "test accuracy ")?;
    write_accuracy(out, correct, images)?;
    writeln!(out)?;
    let same = sum.value() == tables::F32_CHECKSUM && correct == tables::F32_CORRECT && images == TEST_IMAGES;
    writeln!(
        out,
        "logits checksum {:08x} ({})",
        sum.value(),
        if same { "the host's" } else { "NOT the host's" }
    )?;
    Ok(same && file_ok)
}

/// The little-endian `f32` at byte `at` of `bytes`.
const fn f32_at(bytes: &[u8], at: usize) -> f32 {
    f32::from_bits(u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]))
}

/// The CRC-32 (ISO-HDLC, as `backprop::weights::crc32`) of `bytes`, bit by
/// bit, at compile time.
const fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    let mut k = 0;
    while k < bytes.len() {
        crc ^= bytes[k] as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            bit += 1;
        }
        k += 1;
    }
    !crc
}

/// Decodes a `backprop::weights` file of [`Digits`] at compile time: the
/// header's magic, version, scalar type, the length and the CRC-32 are
/// checked (a wrong file fails the build); the values follow in the
/// format's order (per layer, the weights row by row, then the biases).
/// Only the decoded model is in the binary, not the file.
const fn decode_f32(bytes: &[u8]) -> Digits {
    const PARAMS: usize = 64 * 128 + 128 + 128 * 10 + 10;
    assert!(bytes.len() == 32 + 4 * PARAMS + 4, "digits_f32.bpw has the wrong length for Digits");
    let magic = b"BACKPROP";
    let mut k = 0;
    while k < magic.len() {
        assert!(bytes[k] == magic[k], "digits_f32.bpw is not a backprop weight file");
        k += 1;
    }
    assert!(bytes[8] == 1 && bytes[9] == 0 && bytes[10] == 1, "digits_f32.bpw: not version 1, f32");
    let body = bytes.len() - 4;
    let stored = u32::from_le_bytes([bytes[body], bytes[body + 1], bytes[body + 2], bytes[body + 3]]);
    let (checked, _) = bytes.split_at(body);
    assert!(crc32(checked) == stored, "digits_f32.bpw: checksum mismatch");
    let (hidden, at) = decode_dense::<64, 128, ReLU>(bytes, 32, ReLU);
    let (logits, _) = decode_dense::<128, 10, Identity>(bytes, at, Identity);
    (hidden, logits)
}

/// One `Dense` layer's values from a weight file at byte `at` (its weights
/// row by row, then its biases), at compile time; returns the layer and the
/// offset after it.
const fn decode_dense<const IN: usize, const OUT: usize, A: Activation>(
    bytes: &[u8],
    mut at: usize,
    activation: A,
) -> (Dense<IN, OUT, A>, usize) {
    let mut layer = Dense { weights: [[0.0; IN]; OUT], bias: [0.0; OUT], activation };
    let mut o = 0;
    while o < OUT {
        let mut i = 0;
        while i < IN {
            layer.weights[o][i] = f32_at(bytes, at);
            at += 4;
            i += 1;
        }
        o += 1;
    }
    o = 0;
    while o < OUT {
        layer.bias[o] = f32_at(bytes, at);
        at += 4;
        o += 1;
    }
    (layer, at)
}
