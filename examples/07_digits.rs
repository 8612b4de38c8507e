//! 07 · Digits: handwritten digits 0–9 from 8×8 images.
//!
//! The data is the UCI "Optical Recognition of Handwritten Digits" set
//! (Alpaydin and Kaynak, 1998), in `data/digits.csv`, as scikit-learn ships
//! it: 1797 images, about 180 of each digit. Each image is 8×8 pixels, and a
//! pixel is the number of ink pixels (0..16) in a 4×4 block of a 32×32
//! scan, so the 64 features are small integers, row by row.
//!
//! The split is the fixed one of `data/DATA.md`: 1438 training and 359 test
//! images, read from `data/digits_{train,test}_idx.txt`. Every tenth training
//! image of each digit (139 in all) is held out as a validation set, which
//! the progress lines report on; the net trains on the other 1299. The test
//! images are looked at once, at the very end.
//!
//! Every pixel is standardised, `(x - mean) / std`, with the mean and
//! standard deviation of that pixel over the 1299 training images only. A
//! pixel that is blank in every training image (a border pixel) is only
//! centred.
//!
//! The net is `64 → 128 (ReLU) → 10`: 9610 parameters, one hidden layer. The
//! ten outputs are logits, trained with softmax cross-entropy against the
//! digit, with Adam (lr 0.003) on shuffled mini-batches of 32 for 30 epochs,
//! the learning rate annealed to zero along a cosine. No early stopping: the
//! validation loss is flat by the end. Everything is seeded, so every run
//! prints the same numbers.
//!
//! Run it with `cargo run --release --example 07_digits`. Training takes about
//! 0.1–0.2 s (per-sample forward and backward passes on one core); the
//! example prints the losses every 5 epochs, the training time, the test
//! accuracy (about 98.5–99%; the target is 97.5%, and the example exits with
//! status 1 if it misses it), the 10×10 confusion matrix and one of the
//! digits it gets wrong.
//!
//! How robust the configuration is: over seeds 0 to 9 the test accuracy was
//! 97.8% to 99.2% (mean 98.7%), all ten above the target; this example's
//! seed, 7, gives 98.9% (355/359). For comparison, `data/DATA.md` quotes scikit-learn's
//! `MLPClassifier` with 32 hidden units at 96.9–98.6% on the same split.

mod common;

use std::ops::ControlFlow;
use std::time::Instant;

use backprop::prelude::*;
use backprop::train::EpochReport;
use common::{load_split, split_validation, Standardiser};

/// 64 pixels in, ten digits' logits out.
type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);

const SEED: u64 = 7;
const EPOCHS: usize = 30;
const PRINT_EVERY: usize = 5;
/// The test accuracy the example must reach.
const TARGET: f64 = 0.975;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = load_split::<64>("digits")?;
    let (mut train, mut validation) = split_validation(&train, 10);
    let raw_test = test.clone(); // the pixels as they were, for drawing
    let mut test = test;
    let scaler = Standardiser::fit(&train.features);
    for data in [&mut train.features, &mut validation.features, &mut test.features] {
        scaler.apply(data);
    }
    println!(
        "Digits: {} training, {} validation and {} test images; a 64-128-10 net with {} parameters\n",
        train.len(),
        validation.len(),
        test.len(),
        Net::PARAMS
    );

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net: Net = Model::init(&mut rng);
    let mut adam = Adam::new(0.003);

    let start = Instant::now();
    let mut progress = |report: &EpochReport<f32>| {
        let epoch = report.epoch + 1;
        if epoch == 1 || epoch % PRINT_EVERY == 0 {
            println!(
                "epoch {epoch:>2}   train loss {:.4}   validation loss {:.4}   validation accuracy {:5.1}%   {:>5.0} ms",
                report.train_loss,
                report.validation_loss.unwrap_or(f32::NAN),
                100.0 * report.validation_accuracy.unwrap_or(f64::NAN),
                start.elapsed().as_secs_f64() * 1e3,
            );
        }
        ControlFlow::Continue(())
    };
    let options = FitOptions {
        epochs: EPOCHS,
        batch_size: 32,
        schedule: Schedule::Cosine { period: EPOCHS, min_lr: 0.0 },
        validation: Some((&validation.features, &validation.labels)),
        ..Default::default()
    };
    net.fit_with(
        &train.features,
        &train.labels,
        &SoftmaxCrossEntropy,
        &mut adam,
        options,
        &mut rng,
        &mut progress,
    )?;
    let elapsed = start.elapsed();
    println!(
        "\ntrained {EPOCHS} epochs in {:.0} ms ({:.0} samples/s, validation included)",
        elapsed.as_secs_f64() * 1e3,
        (EPOCHS * train.len()) as f64 / elapsed.as_secs_f64()
    );

    // Rows: the true digit; columns: the predicted one.
    let mut confusion = [[0usize; 10]; 10];
    let mut first_mistake = None;
    for (i, (x, &label)) in test.features.iter().zip(&test.labels).enumerate() {
        let predicted = net.classify(x)?;
        confusion[label][predicted] += 1;
        if predicted != label && first_mistake.is_none() {
            first_mistake = Some((i, predicted));
        }
    }
    let accuracy = net.accuracy(&test.features, &test.labels)?;
    let correct: usize = (0..10).map(|d| confusion[d][d]).sum();
    println!("test accuracy {:.1}% ({correct}/{})\n", 100.0 * accuracy, test.len());

    println!("confusion matrix (rows: true digit, columns: predicted digit)\n");
    print!("      ");
    (0..10).for_each(|d| print!("{d:>4}"));
    println!();
    for (digit, row) in confusion.iter().enumerate() {
        print!("  {digit:>2}  ");
        for (predicted, &count) in row.iter().enumerate() {
            match count {
                0 if predicted != digit => print!("{:>4}", "."),
                n => print!("{n:>4}"),
            }
        }
        println!();
    }

    if let Some((i, predicted)) = first_mistake {
        println!("\na test image it gets wrong: a {} taken for a {predicted}", test.labels[i]);
        for row in raw_test.features[i].chunks(8) {
            let line: String = row.iter().map(|&v| shade(v)).collect();
            println!("    {line}");
        }
    }

    if accuracy < TARGET {
        eprintln!("\nmissed the target of {:.1}% test accuracy", 100.0 * TARGET);
        std::process::exit(1);
    }
    Ok(())
}

/// Two characters for a pixel of 0..16 ink, from blank to solid.
fn shade(ink: f32) -> &'static str {
    match ink as u32 {
        0..=2 => "  ",
        3..=7 => "░░",
        8..=12 => "▒▒",
        _ => "██",
    }
}
