//! A convolutional net learns the handwritten digits on the device: 8 × 8
//! images, a 3 × 3 convolution to 4 channels (ReLU), a 2 × 2 max pool, a
//! dense layer to ten logits, trained with plain SGD for two epochs over the
//! 1438 images of the training split, then tested on the 359 of the test
//! split.
//!
//! The images stay in flash as raw pixels (0..16), one byte each
//! (`../digits/train.bin`, `../digits/test.bin`); each step turns its batch
//! into `f32` inputs (`pixel / 16`, exact) in a buffer on the stack. The
//! model, its gradients, the optimizer, one sample's tape and that buffer
//! are what training keeps, all sized at compile time, and the report prints
//! them ([`Sizes`]); the passes' stack frames hold more (the firmware
//! measures the peak of the stack).
//!
//! [`run`] prints a report that the host and both cores must print
//! identically: the loss during training, the test accuracy, a checksum of
//! the trained weights' bits and one of every test logit's bits.

use crate::checksum;
use crate::digits::{argmax, test_images, write_accuracy, Checksum, Meter, CLASSES, PIXELS};
use backprop::prelude::*;
use core::fmt::{self, Write};
use core::mem::size_of;

/// The net, PyTorch's `nn.Sequential(nn.Unflatten(1, (1, 8, 8)),
/// nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
/// nn.Linear(36, 10))`: 64 pixels in, ten logits out.
pub type ConvDigits = (
    Unflatten2d<64, 1, 8, 8>,
    Conv2d<1, 4, 3, 1, 0, 8, 8, 6, 6, ReLU>, // "valid": 8 × 8 becomes 6 × 6
    MaxPool2d<4, 2, 6, 6, 3, 3>,
    Flatten2d<4, 3, 3, 36>,
    Dense<36, 10, Identity>,
);

/// Its optimizer: SGD without momentum keeps no per-parameter state.
pub type ConvOptimizer = Sgd<ConvDigits>;

/// Images in the training split (`data/digits_train_idx.txt`).
pub const TRAIN_IMAGES: usize = 1438;
/// The training split in the order the net sees it, shuffled once on the
/// host (`generate`): per image 64 raw pixels and the label.
pub const TRAIN: &[u8] = include_bytes!("../digits/train.bin");
const _: () =
    assert!(TRAIN.len() == TRAIN_IMAGES * (PIXELS + 1), "train.bin must hold 1438 images of 65 bytes");
/// The seed of the shuffle that ordered [`TRAIN`] (`generate`, with
/// `backprop::train::shuffle_together`).
pub const TRAIN_ORDER_SEED: u64 = 12;

/// The seed of the initial weights.
pub const SEED: u64 = 0;
/// Samples per SGD step.
pub const BATCH: usize = 4;
/// SGD's learning rate.
pub const LEARNING_RATE: f64 = 0.15;
/// Passes over the training images, each in [`TRAIN`]'s order.
pub const EPOCHS: usize = 2;
/// The steps of an epoch: ⌈1438 / 4⌉ (the last batch has 2 images).
pub const STEPS_PER_EPOCH: usize = TRAIN_IMAGES.div_ceil(BATCH);
/// The loss is reported as its mean over this many steps.
pub const REPORT_EVERY: usize = 72;
/// The number of such means over the whole training.
pub const REPORTS: usize = (EPOCHS * STEPS_PER_EPOCH).div_ceil(REPORT_EVERY);

/// What training reports: the loss during training, kept until training is
/// over and its stack frame released, then printed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// `losses[k]`: the mean of the batch losses of steps
    /// `k·REPORT_EVERY + 1 ..= (k + 1)·REPORT_EVERY`.
    pub losses: [f32; REPORTS],
    /// The mean loss over the last epoch's images.
    pub last_epoch: f32,
}

/// The RAM that training needs, from the types alone (`size_of`, known at
/// compile time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// The model, [`Model::BYTES`].
    pub model: usize,
    /// The tape of one sample's forward pass, [`Model::TAPE_BYTES`]: per
    /// layer what its backward pass reads (a convolution's input,
    /// pre-activation and output; a max pool's winners).
    pub tape: usize,
    /// The gradients, a second value of the model's type.
    pub gradients: usize,
    /// The optimizer, [`Sgd::STATE_BYTES`].
    pub optimizer: usize,
    /// One batch of `f32` inputs and its labels.
    pub batch: usize,
}

impl Sizes {
    /// The sizes of [`ConvDigits`] trained with [`ConvOptimizer`] on
    /// batches of [`BATCH`].
    pub const OF_DEMO: Sizes = Sizes {
        model: ConvDigits::BYTES,
        tape: ConvDigits::TAPE_BYTES,
        gradients: size_of::<ConvDigits>(),
        optimizer: ConvOptimizer::STATE_BYTES,
        batch: size_of::<[[f32; PIXELS]; BATCH]>() + size_of::<[u8; BATCH]>(),
    };

    /// Their sum.
    pub const fn total(&self) -> usize {
        self.model + self.tape + self.gradients + self.optimizer + self.batch
    }
}

/// The net's input for an image: each raw pixel (0..16) divided by 16,
/// which is exact in `f32`.
pub fn input(pixels: &[u8]) -> [f32; PIXELS] {
    let mut x = [0.0; PIXELS];
    for (x, &p) in x.iter_mut().zip(pixels) {
        *x = f32::from(p) / 16.0;
    }
    x
}

/// The training images in [`TRAIN`]'s order: `(pixels, label)`.
pub fn train_images() -> impl Iterator<Item = (&'static [u8], usize)> {
    TRAIN.chunks_exact(PIXELS + 1).map(|record| {
        let (pixels, label) = record.split_at(PIXELS);
        (pixels, label.first().map_or(0, |&l| usize::from(l)))
    })
}

/// Trains `net` (overwritten with fresh weights from [`SEED`]) for
/// [`EPOCHS`] epochs of [`STEPS_PER_EPOCH`] SGD steps. `meter` measures each
/// step (the batch's forward and backward passes and the update), the
/// conversion of its pixels not included.
#[inline(never)] // its stack frame (gradients, batch, tape) is released before anything is printed
pub fn train(net: &mut ConvDigits, meter: &mut impl Meter) -> Result<Progress, Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    *net = Model::init(&mut rng);
    let mut grads = ConvDigits::zeroed();
    let mut sgd = ConvOptimizer::new(LEARNING_RATE);
    let (mut inputs, mut labels) = ([[0.0; PIXELS]; BATCH], [0usize; BATCH]);
    let mut progress = Progress { losses: [0.0; REPORTS], last_epoch: 0.0 };
    let (mut steps, mut window_sum, mut window_steps) = (0, 0.0f32, 0);
    for _ in 0..EPOCHS {
        let (mut images, mut epoch_sum, mut seen) = (train_images(), 0.0f32, 0);
        loop {
            let mut n = 0;
            for ((x, label), (pixels, l)) in inputs.iter_mut().zip(labels.iter_mut()).zip(images.by_ref()) {
                (*x, *label) = (input(pixels), l);
                n += 1;
            }
            if n == 0 {
                break;
            }
            let (Some(batch), Some(batch_labels)) = (inputs.get(..n), labels.get(..n)) else { break };
            meter.start();
            let loss =
                net.train_step(batch, batch_labels, &SoftmaxCrossEntropy, &mut sgd, &mut grads, Clip::None);
            meter.stop();
            let loss = loss?;
            steps += 1;
            seen += n;
            epoch_sum += loss * n as f32;
            window_sum += loss;
            window_steps += 1;
            if steps % REPORT_EVERY == 0 || steps == EPOCHS * STEPS_PER_EPOCH {
                if let Some(slot) = progress.losses.get_mut((steps - 1) / REPORT_EVERY) {
                    *slot = window_sum / window_steps as f32;
                }
                (window_sum, window_steps) = (0.0, 0);
            }
        }
        progress.last_epoch = epoch_sum / seen.max(1) as f32;
    }
    Ok(progress)
}

/// Classifies the test images with `net`; `meter` measures each forward
/// pass. Returns the number classified correctly, the number of images and
/// the checksum of every logit's bits.
#[inline(never)] // its stack frame is released before reporting
pub fn test(net: &ConvDigits, meter: &mut impl Meter) -> (usize, usize, u32) {
    let (mut sum, mut correct, mut images) = (Checksum::new(), 0, 0);
    for (pixels, label) in test_images() {
        let x = input(pixels);
        meter.start();
        let y: [f32; CLASSES] = net.forward(&x);
        meter.stop();
        y.iter().for_each(|v| sum.add(&v.to_bits().to_le_bytes()));
        correct += usize::from(argmax(&y) == label);
        images += 1;
    }
    (correct, images, sum.value())
}

/// Trains the net and tests it, writing the report to `out`; `between` is
/// called with `meter` after training and before testing (the firmware
/// reads the training's instruction count there). Returns whether the
/// demonstration passed: training finished and the test accuracy is at least
/// 90%.
pub fn run<M: Meter>(
    out: &mut impl Write,
    meter: &mut M,
    between: impl FnOnce(&mut M),
) -> Result<bool, fmt::Error> {
    writeln!(
        out,
        "== Digits, conv net: 8x8 -> conv 3x3, 4 channels (ReLU) -> max pool 2x2 -> 36 -> 10 logits, {} parameters",
        ConvDigits::PARAMS
    )?;
    writeln!(
        out,
        "training: softmax cross-entropy, SGD lr {LEARNING_RATE}, batches of {BATCH}, {EPOCHS} epochs of {STEPS_PER_EPOCH} steps over {TRAIN_IMAGES} images, seed {SEED}"
    )?;
    let sizes = Sizes::OF_DEMO;
    writeln!(
        out,
        "RAM from compile-time sizes: model {} B, tape {} B, gradients {} B, optimizer {} B, batch {} B; total {} B",
        sizes.model,
        sizes.tape,
        sizes.gradients,
        sizes.optimizer,
        sizes.batch,
        sizes.total()
    )?;
    let mut net = ConvDigits::zeroed();
    let progress = match train(&mut net, meter) {
        Ok(progress) => progress,
        Err(e) => {
            writeln!(out, "training failed: {e}")?;
            return Ok(false);
        }
    };
    for (k, loss) in progress.losses.iter().enumerate() {
        let step = ((k + 1) * REPORT_EVERY).min(EPOCHS * STEPS_PER_EPOCH);
        let epoch = (step - 1) / STEPS_PER_EPOCH + 1;
        writeln!(out, "epoch {epoch}  step {step:>3}  mean loss of the last {REPORT_EVERY} steps {loss:.7}")?;
    }
    writeln!(out, "mean loss over the last epoch {:.7}", progress.last_epoch)?;
    writeln!(out, "weights checksum {:08x}", checksum(&net))?;
    between(meter);
    let (correct, images, logits) = test(&net, meter);
    write!(out, "test accuracy ")?;
    write_accuracy(out, correct, images)?;
    writeln!(out)?;
    writeln!(out, "test logits checksum {logits:08x}")?;
    let passed = images > 0 && correct * 10 >= images * 9;
    writeln!(out, "{}", if passed { "PASSED" } else { "FAILED: below 90%" })?;
    Ok(passed)
}
