//! 11 · Digits CNN: the 8×8 digits of `07_digits` with a convolutional net.
//!
//! Same data, same fixed split, same held-out validation images as
//! `07_digits`: 1299 training, 139 validation and 359 test images of 8×8
//! pixels (0..16 ink). What changes is the net, and two things that go with
//! reading pixels as an image instead of a list of 64 numbers.
//!
//! **The net.** Two 3×3 convolutions with a 2×2 max pool between them, then
//! one `Dense` layer on the 32 channels of 4×4 features:
//!
//! ```text
//! 64 pixels → Unflatten2d → 1×8×8 → Conv2d 1→16, 3×3, "same" (ReLU) → 16×8×8
//!           → MaxPool2d 2 → 16×4×4 → Conv2d 16→32, 3×3, "same" (ReLU) → 32×4×4
//!           → Flatten2d → 512 → Dense 512→10 (logits)
//! ```
//!
//! 9930 parameters, about as many as the 64-128-10 MLP's 9610. Each of
//! the first layer's 16 filters has 9 weights, used at all 64 positions of
//! the image: the net looks for the same strokes everywhere.
//!
//! **Pixels are scaled as an image.** `07_digits` standardises every pixel
//! by its own mean and standard deviation; a filter that slides over the
//! image needs the same scale at every position, so here every pixel is
//! standardised with one mean and one standard deviation, those of all the
//! training pixels together.
//!
//! **Shifted copies (data augmentation).** Each training image is used as it
//! is and shifted by one pixel up, down, left and right (the pixel shifted
//! in is blank), five images for one: a digit moved by a pixel is the same
//! digit, and the net learns that from examples. 6495 training images per
//! epoch. Validation and test images are never shifted.
//!
//! Training: softmax cross-entropy, Adam (lr 0.003) on shuffled mini-batches
//! of 32 for 12 epochs, the learning rate annealed to zero along a cosine; no
//! early stopping (the validation loss is flat by the end). Everything is
//! seeded, so every run prints the same numbers.
//!
//! Run it with `cargo run --release --example 11_digits_cnn`. It prints the
//! losses after every epoch, the test accuracy (the target is 99.0%, at most
//! 3 of the 359 test images wrong, and the example exits with status 1 if
//! it misses it), the confusion matrix and the digits it gets wrong, and
//! draws the first layer's filters and their feature maps on four test
//! digits into `docs/images/digits_cnn.png`.
//!
//! Training takes about 12 s of CPU time on one core of an AMD EPYC, with
//! the per-sample convolution kernels of this build (24 s of wall time on a
//! 2-core machine shared with other jobs). This seed, 7, misreads one test
//! image: 99.7% (358/359).
//!
//! `-- --seeds 10` trains seeds 0 to 9 instead and prints a table of test
//! errors: this net as above, the same net without the shifted copies, and
//! `07_digits`' MLP (64-128-10, ReLU) with and without them, all with the
//! same scaling and the same number of optimizer steps (60 epochs without
//! the shifted copies, 12 with them). It measured (errors of 359, over the
//! ten seeds):
//!
//! | | conv net, shifted copies | conv net | MLP, shifted copies | MLP |
//! |---|---|---|---|---|
//! | errors per seed | 0–2 | 1–5 | 1–4 | 3–6 |
//! | mean test accuracy | 99.75% | 99.03% | 99.47% | 98.80% |
//!
//! The shifted copies help both nets more than the convolutions do on their
//! own; with both, every one of the ten seeds reaches the target.

mod common;

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use backprop::prelude::*;
use backprop::train::EpochReport;
use common::plot::{self, cells};
use common::{load_split, split_validation, Dataset};

/// 8×8 grey images in, ten digits' logits out.
type Net = (
    Unflatten2d<64, 1, 8, 8>,                  // [f32; 64] → [[[f32; 8]; 8]; 1]
    Conv2d<1, 16, 3, 1, 1, 8, 8, 8, 8, ReLU>,  // 16 filters of 3×3, "same": 8×8 stays 8×8
    MaxPool2d<16, 2, 8, 8, 4, 4>,              // the maximum of each 2×2 window
    Conv2d<16, 32, 3, 1, 1, 4, 4, 4, 4, ReLU>, // 32 filters of 16×3×3
    Flatten2d<32, 4, 4, 512>,                  // [[[f32; 4]; 4]; 32] → [f32; 512]
    Dense<512, 10, Identity>,
);

/// `07_digits`' net, for the table of `--seeds`.
type Mlp = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);

const SEED: u64 = 7;
const EPOCHS: usize = 12;
/// The test accuracy the example must reach: at most 3 of 359 wrong.
const TARGET: f64 = 0.99;
/// The one-pixel shifts (rows, columns) of the augmented training set.
const SHIFTS: [(i32, i32); 5] = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)];
/// The test digits whose feature maps are drawn.
const DRAWN: [usize; 4] = [0, 2, 4, 7];
/// The colour of a strong feature.
const DARK_BLUE: plot::RGBColor = plot::RGBColor(0, 60, 130);

/// The data, scaled: training (not shifted yet), validation and test
/// images, the test images as they were (0..16), and the value of a blank
/// pixel after scaling.
struct Digits {
    train: Dataset<64>,
    validation: Dataset<64>,
    test: Dataset<64>,
    raw_test: Dataset<64>,
    blank: f32,
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let data = load()?;
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next().map(|n| n.parse::<u64>())) {
        (None, _) => run(&data),
        (Some("--seeds"), Some(Ok(seeds))) if seeds > 0 => seeds_table(&data, seeds),
        _ => {
            eprintln!("usage: 11_digits_cnn [--seeds N]");
            Ok(ExitCode::from(2))
        }
    }
}

/// The example: one seed, with progress, confusion matrix, mistakes and the
/// picture.
fn run(data: &Digits) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let train = shifted(&data.train, data.blank);
    println!(
        "Digits: {} training images and their one-pixel shifts ({} in all), {} validation and {} test images",
        data.train.len(),
        train.len(),
        data.validation.len(),
        data.test.len()
    );
    println!(
        "a conv net, 3×3 convolutions of 16 and 32 channels with a 2×2 max pool, {} parameters\n",
        Net::PARAMS
    );

    let start = Instant::now();
    let net: Net = train_net(SEED, &train, &data.validation, EPOCHS, true)?;
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "\ntrained {EPOCHS} epochs in {elapsed:.1} s ({:.0} images/s, validation included)",
        (EPOCHS * train.len()) as f64 / elapsed
    );

    // Rows: the true digit; columns: the predicted one.
    let mut confusion = [[0usize; 10]; 10];
    let mut mistakes = Vec::new();
    for (i, (x, &label)) in data.test.features.iter().zip(&data.test.labels).enumerate() {
        let predicted = net.classify(x)?;
        confusion[label][predicted] += 1;
        if predicted != label {
            mistakes.push((i, predicted));
        }
    }
    let accuracy = net.accuracy(&data.test.features, &data.test.labels)?;
    let correct: usize = (0..10).map(|d| confusion[d][d]).sum();
    println!("test accuracy {:.1}% ({correct}/{})\n", 100.0 * accuracy, data.test.len());

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

    if !mistakes.is_empty() {
        println!("\nthe test images it gets wrong:\n");
        let shown = &mistakes[..mistakes.len().min(6)];
        for &(i, predicted) in shown {
            print!("    a {} taken for a {predicted}  ", data.test.labels[i]);
        }
        println!();
        for row in 0..8 {
            for &(i, _) in shown {
                let line: String =
                    data.raw_test.features[i][row * 8..][..8].iter().map(|&v| shade(v)).collect();
                print!("    {line}    ");
            }
            println!();
        }
    }
    println!();
    draw(&net, data, 100.0 * accuracy)?;

    if accuracy < TARGET {
        eprintln!("\nmissed the target of {:.1}% test accuracy", 100.0 * TARGET);
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Seeds 0 to `seeds − 1`: test errors of the conv net and the MLP, with and
/// without the shifted copies, with the same number of optimizer steps.
fn seeds_table(data: &Digits, seeds: u64) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let train = shifted(&data.train, data.blank);
    let long = EPOCHS * SHIFTS.len(); // the same number of steps on 1/5 of the images
    println!(
        "test errors of {} images, seeds 0 to {}: conv net and MLP, with shifted copies ({EPOCHS} epochs)\n\
         and without ({long} epochs)\n",
        data.test.len(),
        seeds - 1
    );
    println!("  seed   conv, shifted   conv   MLP, shifted    MLP");
    let mut totals = [0usize; 4];
    let start = Instant::now();
    for seed in 0..seeds {
        let errors = [
            errors(&train_net::<Net>(seed, &train, &data.validation, EPOCHS, false)?, &data.test)?,
            errors(&train_net::<Net>(seed, &data.train, &data.validation, long, false)?, &data.test)?,
            errors(&train_net::<Mlp>(seed, &train, &data.validation, EPOCHS, false)?, &data.test)?,
            errors(&train_net::<Mlp>(seed, &data.train, &data.validation, long, false)?, &data.test)?,
        ];
        println!("  {seed:>4}   {:>13}   {:>4}   {:>12}   {:>4}", errors[0], errors[1], errors[2], errors[3]);
        totals.iter_mut().zip(errors).for_each(|(t, e)| *t += e);
    }
    let accuracy = |total: usize| 100.0 * (1.0 - total as f64 / (seeds as f64 * data.test.len() as f64));
    println!(
        "  mean   {:>12.2}%  {:>5.2}%  {:>11.2}%  {:>5.2}%   (test accuracy; {:.0} s in all)",
        accuracy(totals[0]),
        accuracy(totals[1]),
        accuracy(totals[2]),
        accuracy(totals[3]),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The data of `07_digits`, every pixel scaled by the mean and standard
/// deviation of all training pixels together.
fn load() -> Result<Digits, Box<dyn std::error::Error>> {
    let (train, test) = load_split::<64>("digits")?;
    let (mut train, mut validation) = split_validation(&train, 10);
    let raw_test = test.clone();
    let mut test = test;

    let pixels = || train.features.iter().flatten().map(|&v| f64::from(v));
    let n = (train.len() * 64) as f64;
    let mean = pixels().sum::<f64>() / n;
    let std = (pixels().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    for data in [&mut train.features, &mut validation.features, &mut test.features] {
        for v in data.iter_mut().flatten() {
            *v = ((f64::from(*v) - mean) / std) as f32;
        }
    }
    Ok(Digits { train, validation, test, raw_test, blank: (-mean / std) as f32 })
}

/// Every image, followed by its one-pixel shifts (`SHIFTS`), with `blank`
/// shifted in at the edge.
fn shifted(data: &Dataset<64>, blank: f32) -> Dataset<64> {
    let mut out = Dataset { features: Vec::new(), labels: Vec::new() };
    for (x, &label) in data.features.iter().zip(&data.labels) {
        for (dr, dc) in SHIFTS {
            let mut y = [blank; 64];
            for r in 0..8 {
                for c in 0..8 {
                    let (from_r, from_c) = (r - dr, c - dc);
                    if (0..8).contains(&from_r) && (0..8).contains(&from_c) {
                        y[(r * 8 + c) as usize] = x[(from_r * 8 + from_c) as usize];
                    }
                }
            }
            out.features.push(y);
            out.labels.push(label);
        }
    }
    out
}

/// Trains a net from `seed`: Adam 0.003, batches of 32, a cosine schedule
/// over `epochs`, printing every epoch's losses if `verbose`.
fn train_net<M: Train<f32, 64, 10> + Send + Sync>(
    seed: u64,
    train: &Dataset<64>,
    validation: &Dataset<64>,
    epochs: usize,
    verbose: bool,
) -> Result<M, Error> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net: M = Model::init(&mut rng);
    let start = Instant::now();
    let mut progress = |report: &EpochReport<f32>| {
        if verbose {
            println!(
                "epoch {:>2}   train loss {:.4}   validation loss {:.4}   validation accuracy {:5.1}%   {:>5.1} s",
                report.epoch + 1,
                report.train_loss,
                report.validation_loss.unwrap_or(f32::NAN),
                100.0 * report.validation_accuracy.unwrap_or(f64::NAN),
                start.elapsed().as_secs_f64(),
            );
        }
        ControlFlow::Continue(())
    };
    let options = FitOptions {
        epochs,
        batch_size: 32,
        schedule: Schedule::Cosine { period: epochs, min_lr: 0.0 },
        validation: Some((&validation.features, &validation.labels)),
        ..Default::default()
    };
    let mut adam = Adam::new(0.003);
    net.fit_with(
        &train.features,
        &train.labels,
        &SoftmaxCrossEntropy,
        &mut adam,
        options,
        &mut rng,
        &mut progress,
    )?;
    Ok(net)
}

/// How many test images `net` gets wrong.
fn errors<M: Infer<f32, 64, 10>>(net: &M, test: &Dataset<64>) -> Result<usize, Error> {
    let mut wrong = 0;
    for (x, &label) in test.features.iter().zip(&test.labels) {
        wrong += usize::from(net.classify(x)? != label);
    }
    Ok(wrong)
}

/// `docs/images/digits_cnn.png`: the first layer's 16 filters, and for four
/// test digits the first layer's 16 feature maps (8×8, after ReLU), each
/// map under the filter that made it.
fn draw(net: &Net, data: &Digits, accuracy: f64) -> Result<(), Box<dyn std::error::Error>> {
    const LEFT: i32 = 130; // where the filters and maps start
    const STEP: i32 = 60; //  one filter or map per STEP pixels
    let filters: Vec<&[f32]> = net.1.weights.iter().map(|w| w[0].as_flattened()).collect();
    let weight_scale = filters.iter().copied().flatten().fold(0.0f32, |m, &w| m.max(w.abs()));

    plot::save("digits_cnn", (LEFT as u32 + 16 * STEP as u32, 460), |area| {
        let title =
            format!("What the digits CNN learned (11_digits_cnn, seed {SEED}, test accuracy {accuracy:.1}%)");
        cells::caption(area, &title, (12, 10), 22)?;
        let legend =
            "the first convolution's 16 filters of 3×3 weights (blue negative, white 0, orange positive)";
        cells::caption(area, legend, (12, 48), 16)?;
        for (k, filter) in filters.iter().enumerate() {
            let x = LEFT + k as i32 * STEP;
            cells::draw(area, (x, 76), 16, 3, filter, |w| cells::diverging(w, weight_scale))?;
            cells::caption(area, &k.to_string(), (x + 18, 128), 13)?;
        }
        let legend = "four test digits, and where each filter responds: its feature map (8×8, after ReLU; darker is stronger)";
        cells::caption(area, legend, (12, 160), 16)?;

        for (row, &digit) in DRAWN.iter().enumerate() {
            let top = 192 + row as i32 * 66;
            let Some(i) = data.test.labels.iter().position(|&l| l == digit) else { continue };
            let maps = net.1.forward(&net.0.forward(&data.test.features[i])); // 16 × 8 × 8
            let scale = maps.as_flattened().as_flattened().iter().fold(0.0f32, |m, &v| m.max(v));
            cells::draw(area, (12, top), 6, 8, &data.raw_test.features[i], |v| {
                cells::ramp(cells::BLACK, v, 16.0)
            })?;
            cells::caption(area, &format!("a {digit}"), (72, top + 16), 15)?;
            for (k, map) in maps.iter().enumerate() {
                cells::draw(area, (LEFT + k as i32 * STEP, top), 6, 8, map.as_flattened(), |v| {
                    cells::ramp(DARK_BLUE, v, scale)
                })?;
            }
        }
        Ok(())
    })?;
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
