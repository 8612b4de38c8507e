//! 06 · Iris: three species of iris from four flower measurements.
//!
//! The data is Fisher's Iris (1936), in `data/iris.csv`: 150 flowers, 50 of
//! each species (setosa, versicolour, virginica), each measured four ways
//! (sepal length and width, petal length and width, in cm). Setosa is
//! separable from the other two by a straight line; versicolour and
//! virginica overlap a little, and the few flowers in that overlap are what
//! a classifier gets wrong.
//!
//! The split is the fixed one of `data/DATA.md`: 120 training rows and 30
//! test rows (10 per species), read from `data/iris_{train,test}_idx.txt`.
//! Every fifth training flower of each species (24 in all) is held out as a
//! validation set, so the progress lines show how the net does on flowers it
//! does not train on; the test rows are looked at once, at the very end.
//!
//! The features are standardised, `(x - mean) / std` per feature, with the
//! mean and standard deviation of the 96 training flowers only (the
//! validation and test flowers get the same transformation, never their own
//! statistics).
//!
//! The net is `4 → 16 (tanh) → 3`: 131 parameters. The three outputs are
//! logits, trained with softmax cross-entropy against the class index, with
//! Adam (lr 0.01) on shuffled mini-batches of 16 for 150 epochs and a
//! cosine-annealed learning rate. Everything is seeded, so every run prints
//! the same numbers.
//!
//! Run it with `cargo run --release --example 06_iris`. It takes a fraction of
//! a second, prints the losses every 25 epochs and ends with the test
//! accuracy, which should be 29/30 or 30/30 (the target is 29/30 = 96.7%; the
//! example exits with status 1 if it misses it). Over seeds 0 to 29 the same
//! configuration got 30/30 twenty-nine times and 29/30 once; this example's
//! seed, 2024, gets 30/30.

mod common;

use std::ops::ControlFlow;
use std::time::Instant;

use backprop::prelude::*;
use backprop::train::EpochReport;
use common::{load_split, split_validation, Standardiser};

/// Four measurements in, three species' logits out.
type Net = (Dense<4, 16, Tanh>, Dense<16, 3, Identity>);

const SEED: u64 = 2024;
const EPOCHS: usize = 150;
const PRINT_EVERY: usize = 25;
/// The test accuracy the example must reach: 29 of the 30 test flowers.
const TARGET: f64 = 29.0 / 30.0;
const SPECIES: [&str; 3] = ["setosa", "versicolour", "virginica"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, mut test) = load_split::<4>("iris")?;
    let (mut train, mut validation) = split_validation(&train, 5);
    let scaler = Standardiser::fit(&train.features);
    for data in [&mut train.features, &mut validation.features, &mut test.features] {
        scaler.apply(data);
    }
    println!(
        "Iris: {} training, {} validation and {} test flowers; a 4-16-3 net with {} parameters\n",
        train.len(),
        validation.len(),
        test.len(),
        Net::PARAMS
    );

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net: Net = Model::init(&mut rng);
    let mut adam = Adam::new(0.01);

    let start = Instant::now();
    let mut progress = |report: &EpochReport<f32>| {
        let epoch = report.epoch + 1;
        if epoch == 1 || epoch % PRINT_EVERY == 0 {
            println!(
                "epoch {epoch:>3}   train loss {:.4}   validation loss {:.4}   validation accuracy {:5.1}%   {:>6.1} ms",
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
        batch_size: 16,
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

    println!("\ntest flowers the net gets wrong:");
    let mut wrong = 0;
    for (x, &label) in test.features.iter().zip(&test.labels) {
        let predicted = net.classify(x)?;
        if predicted != label {
            wrong += 1;
            println!("  a {} taken for a {}", SPECIES[label], SPECIES[predicted]);
        }
    }
    if wrong == 0 {
        println!("  none");
    }

    let accuracy = net.accuracy(&test.features, &test.labels)?;
    let correct = test.len() - wrong;
    println!(
        "\ntest accuracy {:.1}% ({correct}/{}) after {EPOCHS} epochs in {:.1} ms",
        100.0 * accuracy,
        test.len(),
        elapsed.as_secs_f64() * 1e3
    );
    if accuracy < TARGET {
        eprintln!("missed the target of {:.1}% test accuracy", 100.0 * TARGET);
        std::process::exit(1);
    }
    Ok(())
}
