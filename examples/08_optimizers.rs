//! 08 · Learning rates and optimizers, compared on one problem.
//!
//! Gradient descent walks downhill, `θ ← θ - η ∇L(θ)`, and the learning
//! rate `η` sets the stride. This example first shows what the stride does
//! where everything can be seen: on the parabola `L(θ) = θ²`, whose gradient
//! is `2θ`, one step multiplies `θ` by `1 - 2η`. A small `η` crawls, a good
//! one gets there in a few steps, past `η = ½` every step overshoots the
//! minimum to the other side, and past `η = 1` each overshoot is longer than
//! the last: gradient descent diverges.
//!
//! Then it trains the two-spiral net of example 05 (2-32-32-2, tanh, softmax
//! cross-entropy, mini-batches of 32) from the same initial weights and with
//! the same batch order, once per setting:
//!
//! * plain SGD with a learning rate too small, about right, and too large;
//! * SGD, SGD with momentum, SGD with Nesterov momentum, RMSprop, Adam and
//!   AdamW. The momentum methods take plain SGD's `η = 0.1`; RMSprop, Adam
//!   and AdamW take the best of 3 or 4 learning rates a factor of about 3
//!   apart (RMSprop 0.001–0.03, Adam 0.003–0.1), tried on this problem.
//!
//! `fit`'s epoch callback records the training loss of every epoch; a run
//! that diverges stops with `Error::Diverged`, and its curve ends there.
//! Pictures: `docs/images/learning_rate.png` (the parabola and the three SGD
//! runs) and `docs/images/optimizers.png` (the six optimizers on one chart).
//!
//! The loss of this problem has a long plateau before the net finds the
//! spirals, and where a run leaves it is sensitive to every detail, so take
//! the curves as an illustration, not a ranking: with other seeds or
//! learning rates the order among the fast optimizers changes.
//!
//! Run it with `cargo run --release --example 08_optimizers`. It exits with
//! status 1 unless the small and the large learning rate both end above the
//! good one, and momentum, Nesterov, RMSprop, Adam and AdamW all end below
//! plain SGD with `η = 0.1`.

mod common;

use std::f64::consts::PI;
use std::ops::ControlFlow;
use std::time::Instant;

use backprop::prelude::*;
use common::plot::{self, Legend, LineChart, Series, COLORS, GREY};
use common::{normal, uniform};

type Net = (Dense<2, 32, Tanh>, Dense<32, 32, Tanh>, Dense<32, 2, Identity>);

const SEED: u64 = 8;
const EPOCHS: usize = 150;

/// The spirals of example 05.
fn spirals(n: usize, rng: &mut Xoshiro128PlusPlus) -> (Vec<[f32; 2]>, Vec<usize>) {
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        for class in 0..2 {
            let t = 0.5 + (3.0 * PI - 0.5) * uniform(rng).sqrt();
            let sign = if class == 0 { 1.0 } else { -1.0 };
            let r = t / PI;
            inputs.push([
                (sign * r * t.cos() + 0.09 * normal(rng)) as f32,
                (sign * r * t.sin() + 0.09 * normal(rng)) as f32,
            ]);
            labels.push(class);
        }
    }
    (inputs, labels)
}

/// One training run: what it is called, and its training loss per epoch.
struct Run {
    name: String,
    losses: Vec<f64>,
    diverged: bool,
}

impl Run {
    fn last(&self) -> f64 {
        if self.diverged {
            f64::INFINITY
        } else {
            self.losses.last().copied().unwrap_or(f64::NAN)
        }
    }
}

/// Trains a copy of `initial` with `optimizer`, the same batches every time.
fn train<O: Optimizer<Net>>(
    name: &str,
    initial: &Net,
    data: &(Vec<[f32; 2]>, Vec<usize>),
    mut optimizer: O,
) -> Run {
    let mut net = *initial;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED + 1); // the batch order
    let mut losses = Vec::with_capacity(EPOCHS);
    let start = Instant::now();
    let mut record = |report: &EpochReport<f32>| {
        losses.push(f64::from(report.train_loss));
        ControlFlow::Continue(())
    };
    let options = FitOptions { epochs: EPOCHS, batch_size: 32, ..Default::default() };
    let result =
        net.fit_with(&data.0, &data.1, &SoftmaxCrossEntropy, &mut optimizer, options, &mut rng, &mut record);
    let diverged = matches!(&result, Err(failed) if matches!(failed.error, Error::Diverged { .. }));
    let at = |epoch: usize| losses.get(epoch - 1).map_or("-".to_string(), |l| format!("{l:.4}"));
    let ending = match &result {
        Ok(_) => format!("{:.0} ms", start.elapsed().as_secs_f64() * 1e3),
        Err(error) => format!("{error}"),
    };
    println!("{name:<34} {:>8} {:>8} {:>8} {:>8}   {ending}", at(1), at(10), at(50), at(EPOCHS));
    Run { name: name.to_string(), losses, diverged }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Gradient descent on L(θ) = θ², from θ = 1.
    println!("gradient descent on L(θ) = θ² from θ₀ = 1: θ after each of 6 steps");
    let parabola_rates = [0.05, 0.3, 0.8, 1.05];
    let behaviour = ["crawls", "converges", "overshoots", "diverges"];
    let mut paths = Vec::new();
    for &eta in &parabola_rates {
        let path: Vec<f64> =
            std::iter::successors(Some(1.0_f64), |&theta| Some(theta - eta * 2.0 * theta)).take(7).collect();
        let shown: Vec<String> = path[1..].iter().map(|theta| format!("{theta:+.3}")).collect();
        println!("  η = {eta:<4}  θ × {:+.2} per step: {}", 1.0 - 2.0 * eta, shown.join(" "));
        paths.push(path);
    }

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let data = spirals(200, &mut rng);
    let initial: Net = Model::init(&mut rng);
    println!(
        "\nthe two-spiral net of example 05 ({} parameters), {} points, batches of 32, {EPOCHS} epochs, same start\n",
        Net::PARAMS,
        data.0.len()
    );
    println!("{:<34} {:>8} {:>8} {:>8} {:>8}", "training loss after epoch", 1, 10, 50, EPOCHS);

    let rates = [(0.01, "too small"), (0.3, "about right"), (3.0, "too large")];
    let sgd_runs: Vec<Run> = rates
        .iter()
        .map(|&(lr, what)| train(&format!("SGD, η = {lr} ({what})"), &initial, &data, Sgd::new(lr)))
        .collect();
    println!();
    let runs = [
        train("SGD, η = 0.1", &initial, &data, Sgd::new(0.1)),
        train("SGD + momentum 0.9, η = 0.1", &initial, &data, Sgd::new(0.1).momentum(0.9)),
        train("SGD + Nesterov 0.9, η = 0.1", &initial, &data, Sgd::new(0.1).momentum(0.9).nesterov(true)),
        train("RMSprop, η = 0.01", &initial, &data, RmsProp::new(0.01)),
        train("Adam, η = 0.03", &initial, &data, Adam::new(0.03)),
        train("AdamW, η = 0.03, λ = 0.01", &initial, &data, AdamW::new(0.03)),
    ];

    plot::save("learning_rate", (1100, 440), |area| {
        let (left, right) = area.split_horizontally(500);
        let mut parabola = LineChart::new("Gradient descent on L(θ) = θ²", "θ", "L(θ)");
        parabola.y_range = Some(-0.05..2.7);
        parabola.legend = Legend::UpperMiddle;
        let curve = (0..=200).map(|k| -1.4 + 2.8 * k as f64 / 200.0).map(|t| (t, t * t)).collect();
        parabola.series.push(Series::line("", GREY, curve));
        for (k, (path, eta)) in paths.iter().zip(parabola_rates).enumerate() {
            let steps: Vec<(f64, f64)> =
                path.iter().map(|&t| (t, t * t)).filter(|(t, _)| t.abs() <= 1.4).collect();
            parabola.series.push(Series::line(
                format!("η = {eta}: {}", behaviour[k]),
                COLORS[k],
                steps.clone(),
            ));
            parabola.series.push(Series::points("", COLORS[k], steps));
        }
        parabola.draw(&left)?;
        let mut losses = LineChart::new("SGD on the spirals: three learning rates", "epoch", "training loss");
        losses.log_y = true;
        losses.legend = Legend::LowerLeft;
        for (k, run) in sgd_runs.iter().enumerate() {
            losses.series.push(Series::line(&run.name, COLORS[[0, 2, 5][k]], Series::per_epoch(&run.losses)));
        }
        losses.draw(&right)
    })?;
    plot::save("optimizers", (800, 480), |area| {
        let mut chart =
            LineChart::new("Six optimizers, the same net, start and batches", "epoch", "training loss");
        chart.log_y = true;
        chart.legend = Legend::LowerLeft;
        for (run, color) in runs.iter().zip([0, 1, 2, 3, 4, 6]) {
            chart.series.push(Series::line(&run.name, COLORS[color], Series::per_epoch(&run.losses)));
        }
        chart.draw(area)
    })?;

    let good = sgd_runs[1].last();
    let mut failed = false;
    for run in [&sgd_runs[0], &sgd_runs[2]] {
        if run.last().partial_cmp(&good) != Some(std::cmp::Ordering::Greater) {
            eprintln!("{} did not end above the good learning rate", run.name);
            failed = true;
        }
    }
    for run in &runs[1..] {
        if run.last().partial_cmp(&runs[0].last()) != Some(std::cmp::Ordering::Less) {
            eprintln!("{} did not end below plain SGD", run.name);
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
