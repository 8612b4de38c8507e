//! 04 · Regression: a noisy sine.
//!
//! The data are 256 points `(x, sin x + ε)` with `x` uniform in `[-π, π]` and
//! Gaussian noise `ε` of standard deviation 0.1, and 128 more drawn the same
//! way as a validation set. A 1-32-32-1 net (tanh, tanh, identity) learns the
//! curve with the mean squared error and Adam, through `fit`: shuffled
//! mini-batches of 16, 300 epochs, the learning rate annealed along a cosine.
//! A regression net ends in `Identity`: its output can be any real number.
//!
//! The noise sets a floor. Even the true curve has a mean squared error of
//! `E[ε²] = 0.01` on noisy data, so a validation loss near 0.01 means the net
//! has learnt the sine and not the noise; the example also measures the
//! error against the noise-free sine itself.
//!
//! `fit` calls back after every epoch; the callback prints progress and
//! keeps the losses, which end up in two pictures: `docs/images/sine_fit.png`
//! (the data, the true curve and the net's) and `docs/images/sine_loss.png`
//! (training and validation loss per epoch).
//!
//! Run it with `cargo run --release --example 04_sine_regression`. It exits
//! with status 1 if the validation loss is not below 0.015 or the error
//! against the true sine not below 0.003.

mod common;

use std::f64::consts::PI;
use std::ops::ControlFlow;
use std::time::Instant;

use backprop::prelude::*;
use common::plot::{self, LineChart, Series, COLORS};
use common::{normal, uniform};

/// One number in, one number out.
type Net = (Dense<1, 32, Tanh>, Dense<32, 32, Tanh>, Dense<32, 1, Identity>);

const SEED: u64 = 4;
const EPOCHS: usize = 300;
const NOISE: f64 = 0.1;

/// `n` noisy samples of the sine.
fn samples(n: usize, rng: &mut Xoshiro128PlusPlus) -> (Vec<[f32; 1]>, Vec<[f32; 1]>) {
    (0..n)
        .map(|_| {
            let x = PI * (2.0 * uniform(rng) - 1.0);
            ([x as f32], [(x.sin() + NOISE * normal(rng)) as f32])
        })
        .unzip()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let (inputs, targets) = samples(256, &mut rng);
    let (validation_inputs, validation_targets) = samples(128, &mut rng);
    println!(
        "sin x + noise (σ = {NOISE}): {} training and {} validation points; a 1-32-32-1 net with {} parameters\n",
        inputs.len(),
        validation_inputs.len(),
        Net::PARAMS
    );

    let mut net: Net = Model::init(&mut rng);
    let mut adam = Adam::new(0.01);
    let (mut train_loss, mut validation_loss) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut progress = |report: &EpochReport<f32>| {
        let epoch = report.epoch + 1;
        let validation = report.validation_loss.unwrap_or(f32::NAN);
        train_loss.push(f64::from(report.train_loss));
        validation_loss.push(f64::from(validation));
        if epoch == 1 || epoch % 50 == 0 {
            println!(
                "epoch {epoch:>3}   train loss {:.5}   validation loss {validation:.5}   {:>6.1} ms",
                report.train_loss,
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        ControlFlow::Continue(())
    };
    let options = FitOptions {
        epochs: EPOCHS,
        batch_size: 16,
        schedule: Schedule::Cosine { period: EPOCHS, min_lr: 0.0 },
        validation: Some((&validation_inputs, &validation_targets)),
        ..Default::default()
    };
    net.fit_with(&inputs, &targets, &Mse, &mut adam, options, &mut rng, &mut progress)?;

    // How far the net is from the sine itself, on a fine grid.
    let grid: Vec<f64> = (0..=400).map(|k| -PI + 2.0 * PI * k as f64 / 400.0).collect();
    let curve: Vec<f64> = grid.iter().map(|&x| f64::from(net.forward(&[x as f32])[0])).collect();
    let true_error =
        grid.iter().zip(&curve).map(|(x, y)| (y - x.sin()).powi(2)).sum::<f64>() / grid.len() as f64;
    let final_validation = validation_loss.last().copied().unwrap_or(f64::NAN);
    println!(
        "\nafter {EPOCHS} epochs ({:.0} ms): validation loss {final_validation:.5} (the noise alone gives {:.3}), \
         mean squared distance to the true sine {true_error:.5}",
        start.elapsed().as_secs_f64() * 1e3,
        NOISE * NOISE
    );

    plot::save("sine_fit", (720, 440), |area| {
        let mut chart = LineChart::new("A 1-32-32-1 tanh net fitted to a noisy sine", "x", "y");
        chart.y_range = Some(-1.5..1.5);
        let data = inputs.iter().zip(&targets).map(|(x, t)| (f64::from(x[0]), f64::from(t[0]))).collect();
        chart.series.push(Series::points("training data", COLORS[4], data));
        chart.series.push(Series::line(
            "the net",
            COLORS[5],
            grid.iter().copied().zip(curve.iter().copied()).collect(),
        ));
        chart.series.push(Series::dashed("sin x", COLORS[6], grid.iter().map(|&x| (x, x.sin())).collect()));
        chart.draw(area)
    })?;
    plot::save("sine_loss", (720, 440), |area| {
        let mut chart = LineChart::new("Sine regression: loss per epoch", "epoch", "mean squared error");
        chart.log_y = true;
        chart.series.push(Series::line("training", COLORS[0], Series::per_epoch(&train_loss)));
        chart.series.push(Series::line("validation", COLORS[1], Series::per_epoch(&validation_loss)));
        chart.series.push(Series::dashed(
            "noise floor σ²",
            COLORS[6],
            vec![(1.0, NOISE * NOISE), (EPOCHS as f64, NOISE * NOISE)],
        ));
        chart.draw(area)
    })?;

    if final_validation.is_nan() || final_validation >= 0.015 || true_error >= 0.003 {
        eprintln!("missed the target: validation loss below 0.015 and distance to the sine below 0.003");
        std::process::exit(1);
    }
    Ok(())
}
