//! 10 · int8: the digits and Iris classifiers as 8-bit integer models, for
//! microcontrollers without a floating-point unit.
//!
//! A trained `f32` net becomes an int8 net in one call,
//! `net.quantize(&calibration)`: int8 weights with a scale per output
//! channel, int32 biases, int8 activations with a scale and zero point per
//! tensor chosen from the ranges the float net produces on the calibration
//! inputs (here its own training images), and requantization by a
//! fixed-point multiply and shift, all as in TensorFlow Lite's int8
//! specification. From the quantized input to the output logits the int8
//! net computes with integers only.
//!
//! What it costs in accuracy is measured, not assumed: the digits net of
//! `07_digits` (64 → 128 ReLU → 10, same data, training and split) is trained
//! with ten seeds, and for each the example prints the test accuracy of the
//! `f32` net and of its int8 form, the images lost (or gained), and on how
//! many test images the two pick the same class. The same for Iris, with a
//! `4 → 16 (ReLU) → 3` net (int8 layers fold ReLU or the identity into their
//! output clamp; `06_iris`'s tanh has no int8 form here). The example exits
//! with status 1 unless the int8 digits nets lose on average at most 0.3
//! percentage points and no seed more than 2 of the 359 test images, and no
//! Iris net more than 1 of its 30 test flowers.
//!
//! It draws `docs/images/int8_digits.png`: for seed 7, the int8 net's
//! logits (dequantized) against the `f32` net's on every test image, and the
//! histogram of the hidden layer's 8192 weight codes.
//!
//! Run it with `cargo run --release --example 10_int8` (about a second of
//! training per seed).

mod common;

use std::process::ExitCode;

use backprop::prelude::*;
use backprop::quant::{Int8Model, Quantize, Quantized};
use common::plot::{self, LineChart, Series, COLORS, GREY};
use common::{load_split, split_validation, Dataset, Standardiser};

/// The digits net of `07_digits`.
type Digits = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
/// An Iris net with ReLU (which int8 layers fold into their clamp).
type Iris = (Dense<4, 16, ReLU>, Dense<16, 3, Identity>);

const SEEDS: u64 = 10;
/// The seed of `07_digits`, whose int8 net is drawn.
const DRAWN_SEED: u64 = 7;

/// One seed's comparison of a float net and its int8 form on the test set.
struct Comparison {
    f32_correct: usize,
    int8_correct: usize,
    agree: usize,
    test: usize,
}

impl Comparison {
    fn of<M, const F: usize, const N: usize>(
        net: &M,
        int8: &Quantized<M>,
        test: &Dataset<F>,
    ) -> Result<Self, Error>
    where
        M: Quantize + Infer<f32, F, N>,
        Quantized<M>: Int8Model<FloatInput = [f32; F]>,
    {
        let mut comparison = Comparison { f32_correct: 0, int8_correct: 0, agree: 0, test: test.len() };
        for (x, &label) in test.features.iter().zip(&test.labels) {
            let (exact, integer) = (net.classify(x)?, int8.classify(x)?);
            comparison.f32_correct += usize::from(exact == label);
            comparison.int8_correct += usize::from(integer == label);
            comparison.agree += usize::from(exact == integer);
        }
        Ok(comparison)
    }

    fn lost(&self) -> i64 {
        self.f32_correct as i64 - self.int8_correct as i64
    }

    fn print(&self, seed: u64) {
        let pct = |n: usize| 100.0 * n as f64 / self.test as f64;
        println!(
            "  {seed:>4}   {:>6.2}%   {:>6.2}%   {:>+5}   {:>4}/{}",
            pct(self.f32_correct),
            pct(self.int8_correct),
            -self.lost(),
            self.agree,
            self.test
        );
    }
}

fn header(what: &str) {
    println!("{what}");
    println!("  seed   f32 test   int8 test   gain   same class");
}

/// `07_digits`' training: Adam 0.003, batches of 32, 30 epochs, cosine
/// schedule, a tenth of the training images held out for validation.
fn train_digits(seed: u64, train: &Dataset<64>, validation: &Dataset<64>) -> Result<Digits, Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net: Digits = Model::init(&mut rng);
    let options = FitOptions {
        epochs: 30,
        batch_size: 32,
        schedule: Schedule::Cosine { period: 30, min_lr: 0.0 },
        validation: Some((&validation.features, &validation.labels)),
        ..Default::default()
    };
    net.fit(&train.features, &train.labels, &SoftmaxCrossEntropy, &mut Adam::new(0.003), options, &mut rng)?;
    Ok(net)
}

/// `06_iris`' training with a ReLU hidden layer: Adam 0.01, batches of 16,
/// 150 epochs, cosine schedule.
fn train_iris(seed: u64, train: &Dataset<4>) -> Result<Iris, Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net: Iris = Model::init(&mut rng);
    let options = FitOptions {
        epochs: 150,
        batch_size: 16,
        schedule: Schedule::Cosine { period: 150, min_lr: 0.0 },
        ..Default::default()
    };
    net.fit(&train.features, &train.labels, &SoftmaxCrossEntropy, &mut Adam::new(0.01), options, &mut rng)?;
    Ok(net)
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Digits, standardised with the training images' statistics (as 07_digits).
    let (train, mut test) = load_split::<64>("digits")?;
    let (mut train, mut validation) = split_validation(&train, 10);
    let scaler = Standardiser::fit(&train.features);
    for data in [&mut train.features, &mut validation.features, &mut test.features] {
        scaler.apply(data);
    }
    println!(
        "Digits: a 64-128-10 net trained on {} images, quantized to int8 with those images as calibration,\n\
         tested on {} images\n",
        train.len(),
        test.len()
    );
    header("digits");
    let mut digits = Vec::new();
    let mut drawn = None;
    for seed in 0..SEEDS {
        let net = train_digits(seed, &train, &validation)?;
        let int8 = net.quantize(&train.features)?;
        let comparison = Comparison::of(&net, &int8, &test)?;
        comparison.print(seed);
        if seed == DRAWN_SEED {
            drawn = Some((net, int8));
        }
        digits.push(comparison);
    }
    let mean_loss_pp =
        digits.iter().map(|c| c.lost() as f64 / c.test as f64 * 100.0).sum::<f64>() / SEEDS as f64;
    let worst_digits = digits.iter().map(Comparison::lost).max().unwrap_or(0);
    println!(
        "  mean change {:+.2} percentage points; at worst {} test image{} lost\n",
        -mean_loss_pp,
        worst_digits.max(0),
        if worst_digits.max(0) == 1 { "" } else { "s" }
    );

    // Iris.
    let (iris_train, mut iris_test) = load_split::<4>("iris")?;
    let mut iris_train = iris_train;
    let iris_scaler = Standardiser::fit(&iris_train.features);
    for data in [&mut iris_train.features, &mut iris_test.features] {
        iris_scaler.apply(data);
    }
    header("Iris (a 4-16-3 ReLU net, calibrated on its 120 training flowers)");
    let mut worst_iris = 0;
    for seed in 0..SEEDS {
        let net = train_iris(seed, &iris_train)?;
        let int8 = net.quantize(&iris_train.features)?;
        let comparison = Comparison::of(&net, &int8, &iris_test)?;
        comparison.print(seed);
        worst_iris = worst_iris.max(comparison.lost());
    }
    println!();

    if let Some((net, int8)) = drawn {
        draw(&net, &int8, &test)?;
        let layer = &int8.0;
        println!(
            "seed {DRAWN_SEED}: input scale {:.4} (zero point {}), hidden layer: weight scales {:.4}..{:.4}, \
             multipliers as (m, shift) e.g. ({}, {}); the int8 model is {} bytes, the f32 model {}",
            layer.input().scale,
            layer.input().zero_point,
            layer.weight_scales().iter().cloned().fold(f32::INFINITY, f32::min),
            layer.weight_scales().iter().cloned().fold(0.0, f32::max),
            layer.multipliers()[0],
            layer.shifts()[0],
            backprop::quant::file::size::<Quantized<Digits>>(),
            backprop::weights::size::<Digits>(),
        );
    }

    let passed = mean_loss_pp <= 0.3 && worst_digits <= 2 && worst_iris <= 1;
    println!(
        "\n{}: digits mean loss {mean_loss_pp:.2} pp (at most 0.3), worst seed {worst_digits} images (at most 2); \
         Iris worst seed {worst_iris} flowers (at most 1)",
        if passed { "passed" } else { "FAILED" }
    );
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The int8 logits against the f32 logits on every test image, and the
/// hidden layer's weight codes.
fn draw(
    net: &Digits,
    int8: &Quantized<Digits>,
    test: &Dataset<64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut pairs = Vec::new();
    let mut bounds = (f64::INFINITY, f64::NEG_INFINITY);
    for x in &test.features {
        let exact = net.forward(x);
        let approx = int8.predict(x)?;
        for (&a, &b) in exact.iter().zip(&approx) {
            pairs.push((f64::from(a), f64::from(b)));
            bounds = (bounds.0.min(f64::from(a)), bounds.1.max(f64::from(a)));
        }
    }
    let mut logits = LineChart::new(
        "int8 against f32: the logits of 359 test digits",
        "f32 logit",
        "int8 logit (dequantized)",
    );
    logits.series.push(Series::line("int8 = f32", GREY, vec![(bounds.0, bounds.0), (bounds.1, bounds.1)]));
    logits.series.push(Series::points("one logit", COLORS[0], pairs));

    let mut counts = [0usize; 255];
    for row in int8.0.weights() {
        for &w in row {
            counts[(i32::from(w) + 127) as usize] += 1;
        }
    }
    let mut histogram = LineChart::new("hidden layer: its 8192 int8 weight codes", "weight code", "how many");
    let bars = counts.iter().enumerate().map(|(k, &n)| (k as f64 - 127.0, n as f64)).collect();
    histogram.series.push(Series::line("weights per code", COLORS[1], bars));

    plot::save("int8_digits", (1200, 460), |area| {
        let (left, right) = area.split_horizontally(600);
        logits.draw(&left)?;
        histogram.draw(&right)
    })?;
    Ok(())
}
