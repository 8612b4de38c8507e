//! 02 · A backward pass, by hand, by the library and by finite differences.
//!
//! The net and input of example 01, now with a target `t = 1` and the mean
//! squared error `L = (y - t)²` (one output, so the mean is over one term).
//! Backpropagation computes the gradient of `L` with respect to all 13
//! parameters in one sweep from the output back to the input:
//!
//! ```text
//! ∂L/∂y  = 2 (y - t)                                   the loss gradient
//! δ⁽²⁾   = ∂L/∂y · σ'(z⁽²⁾) = ∂L/∂y · y (1 - y)         the output layer's error signal
//! ∂L/∂W⁽²⁾ = δ⁽²⁾ a⁽¹⁾ᵀ,   ∂L/∂b⁽²⁾ = δ⁽²⁾
//! δ⁽¹⁾   = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ tanh'(z⁽¹⁾) = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ (1 - a⁽¹⁾²)
//! ∂L/∂W⁽¹⁾ = δ⁽¹⁾ xᵀ,      ∂L/∂b⁽¹⁾ = δ⁽¹⁾
//! ```
//!
//! This example does exactly that with loops, then runs the library's
//! `forward_tape`, `Mse.gradient` and `backward`, and then checks both
//! against the slow, obvious way: nudge one parameter by `±h` and watch the
//! loss move, `(L(θ + h) - L(θ - h)) / 2h`. It prints the three numbers side
//! by side for every parameter, runs the library's own gradient check
//! (`gradcheck::check_gradients`, a fourth-order difference), shows that the
//! check catches a wrong derivative, and takes one gradient-descent step to
//! show the loss fall.
//!
//! Run it with `cargo run --release --example 02_backward_and_gradcheck`.
//! It exits with status 1 if any of the checks fails.

use backprop::gradcheck::check_gradients;
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh, f64>, Dense<3, 1, Sigmoid, f64>);

/// Tanh with a wrong derivative, `1 - a` instead of `1 - a²`: the kind of
/// bug a gradient check is for.
#[derive(Clone, Copy, Debug, Default)]
struct BuggyTanh;

impl Activation for BuggyTanh {
    const NAME: &'static str = "BuggyTanh";
    const INIT: Init = Init::GlorotUniform;
    fn f<T: Float>(z: T) -> T {
        z.tanh()
    }
    fn df<T: Float>(_z: T, a: T) -> T {
        T::one() - a // wrong: tanh' = 1 - a²
    }
}

// Indexed by `o` and `i` so that the loops read like the formulas.
#[allow(clippy::needless_range_loop)]
fn main() {
    let weights1 = [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8]];
    let (bias1, weights2, bias2) = ([0.1, -0.2, 0.0], [[1.0, -2.0, 0.5]], [0.3]);
    let net: Net = (Dense::new(weights1, bias1), Dense::new(weights2, bias2));
    let (x, t) = ([1.0, 2.0], [1.0]);
    let mut failed = false;

    // Forward, keeping what the backward pass needs.
    let z1: [f64; 3] = std::array::from_fn(|o| bias1[o] + weights1[o][0] * x[0] + weights1[o][1] * x[1]);
    let a1 = z1.map(f64::tanh);
    let z2 = bias2[0] + (0..3).map(|i| weights2[0][i] * a1[i]).sum::<f64>();
    let y = 1.0 / (1.0 + (-z2).exp());
    let loss = (y - t[0]).powi(2);
    println!("forward: y = {y:.6}, target t = 1, loss L = (y - t)² = {loss:.6}\n");

    // Backward, by hand: the error signals δ, from the output back.
    let dl_dy = 2.0 * (y - t[0]);
    let delta2 = dl_dy * y * (1.0 - y);
    println!("backward by hand:");
    println!("  ∂L/∂y = 2 (y - t)            = {dl_dy:+.6}");
    println!("  δ⁽²⁾  = ∂L/∂y · y (1 - y)     = {delta2:+.6}");
    let mut delta1 = [0.0; 3];
    for i in 0..3 {
        delta1[i] = weights2[0][i] * delta2 * (1.0 - a1[i] * a1[i]);
    }
    println!("  δ⁽¹⁾  = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ (1 - a⁽¹⁾²) = {delta1:+.6?}");
    let mut by_hand = Net::zeroed();
    for i in 0..3 {
        by_hand.1.weights[0][i] = delta2 * a1[i]; // ∂L/∂W⁽²⁾ = δ⁽²⁾ a⁽¹⁾ᵀ
    }
    by_hand.1.bias[0] = delta2; //                     ∂L/∂b⁽²⁾ = δ⁽²⁾
    for o in 0..3 {
        for i in 0..2 {
            by_hand.0.weights[o][i] = delta1[o] * x[i]; // ∂L/∂W⁽¹⁾ = δ⁽¹⁾ xᵀ
        }
        by_hand.0.bias[o] = delta1[o]; //                 ∂L/∂b⁽¹⁾ = δ⁽¹⁾
    }

    // Backward, by the library.
    let mut grads = Net::zeroed(); // gradients have the model's type
    let (y_lib, tape) = net.forward_tape(&x);
    let dy = Mse.gradient(&y_lib, &t); // ∂L/∂y
    let d_input = net.backward(&tape, &dy, &mut grads); // accumulates ∂L/∂θ, returns ∂L/∂x
    println!("\nnet.backward also returns ∂L/∂x = {d_input:+.6?} (what a layer below would receive)\n");

    // Finite differences: nudge each parameter, watch the loss.
    let h = 1e-5;
    let names = ["W⁽¹⁾₁₁", "W⁽¹⁾₁₂", "W⁽¹⁾₂₁", "W⁽¹⁾₂₂", "W⁽¹⁾₃₁", "W⁽¹⁾₃₂", "b⁽¹⁾₁", "b⁽¹⁾₂", "b⁽¹⁾₃"]
        .into_iter()
        .chain(["W⁽²⁾₁₁", "W⁽²⁾₁₂", "W⁽²⁾₁₃", "b⁽²⁾₁"]);
    println!("parameter   by hand       backward      (L(θ+h) - L(θ-h)) / 2h, h = 1e-5");
    let mut worst: f64 = 0.0;
    let mut probe = net;
    for (k, name) in names.enumerate() {
        let theta = net.param(k).unwrap_or(f64::NAN);
        let mut loss_at = |value: f64| {
            assert!(probe.set_param(k, value), "parameter {k} exists");
            Mse.loss(&probe.forward(&x), &t)
        };
        let numeric = (loss_at(theta + h) - loss_at(theta - h)) / (2.0 * h);
        assert!(probe.set_param(k, theta), "parameter {k} exists");
        let (hand, library) = (by_hand.param(k).unwrap_or(f64::NAN), grads.param(k).unwrap_or(f64::NAN));
        worst = worst.max((hand - library).abs()).max((library - numeric).abs());
        println!("{name:<11} {hand:+.8}   {library:+.8}   {numeric:+.8}");
    }
    println!("largest absolute difference: {worst:.1e}");
    if worst.is_nan() || worst > 1e-8 {
        eprintln!("backward pass and finite differences disagree");
        failed = true;
    }

    // The library's check: a fourth-order difference for every parameter and
    // every input, relative errors.
    let report = check_gradients(&net, &x, &t, &Mse, 1e-3, 1e-8).expect("a valid check");
    println!(
        "\ngradcheck::check_gradients: {} gradients, largest relative error {:.1e}",
        report.checked, report.max_error
    );
    if report.max_error.is_nan() || report.max_error > 1e-7 {
        eprintln!("the gradient check failed: {report:?}");
        failed = true;
    }

    // The same check on a net whose tanh has a wrong derivative.
    let buggy: (Dense<2, 3, BuggyTanh, f64>, Dense<3, 1, Sigmoid, f64>) =
        (Dense::new(weights1, bias1), Dense::new(weights2, bias2));
    let report = check_gradients(&buggy, &x, &t, &Mse, 1e-3, 1e-8).expect("a valid check");
    println!(
        "with tanh' = 1 - a instead of 1 - a²: largest relative error {:.2} at {:?} \
         (backward says {:+.6}, finite differences {:+.6}): caught",
        report.max_error,
        report.worst.unwrap_or(backprop::gradcheck::Location::Param(0)),
        report.analytic,
        report.numeric
    );
    if report.max_error.is_nan() || report.max_error <= 1e-2 {
        eprintln!("the gradient check missed a wrong derivative");
        failed = true;
    }

    // What the gradient is for: one step downhill.
    let mut stepped = net;
    let mut sgd = Sgd::new(0.5);
    sgd.step(&mut stepped, &grads); // θ ← θ - η ∂L/∂θ
    let after = Mse.loss(&stepped.forward(&x), &t);
    println!("\none gradient-descent step, θ ← θ - 0.5 ∂L/∂θ: loss {loss:.6} → {after:.6}");
    if after.is_nan() || after >= loss {
        eprintln!("the step did not lower the loss");
        failed = true;
    }

    if failed {
        std::process::exit(1);
    }
}
