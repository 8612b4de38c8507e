//! 03 · XOR: the smallest problem a single layer cannot solve.
//!
//! The four points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0 are not separable by
//! one straight line, so a network needs a hidden layer to bend the input
//! space. This example trains a 2-16-16-1 net (tanh, tanh, sigmoid) with
//! mean squared error and plain gradient descent, written out step by step:
//! forward with a tape, loss gradient, backward, update. It is the README's
//! quick start, and what the two examples before it did by hand, in a loop.
//!
//! At the end it draws the net's decision boundary, the curve where its
//! output crosses ½, into `docs/images/xor_boundary.png`: two bends that no
//! single neuron could make.
//!
//! Run it with `cargo run --release --example 03_xor`. It exits with status 1
//! if the mean squared error does not fall below 0.01.

mod common;

use backprop::prelude::*;
use common::plot::{self, Boundary};

type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);

const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(42);
    let mut net: Net = Model::init(&mut rng);
    let mut grads = Net::zeroed();
    let mut sgd = Sgd::new(0.5);
    println!("XOR with a {}-parameter 2-16-16-1 network, full-batch gradient descent, lr 0.5\n", Net::PARAMS);

    const EPOCHS: usize = 1000;
    for epoch in 1..=EPOCHS {
        // One full-batch step: the mean of the four per-sample gradients.
        grads.fill_zero();
        let mut loss = 0.0;
        for (x, t) in INPUTS.iter().zip(&TARGETS) {
            let (y, tape) = net.forward_tape(x); //    forward, recording what backward needs
            loss += Mse.loss(&y, t) / 4.0; //          how wrong the net is on this sample
            let dy = Mse.gradient(&y, t); //           ∂L/∂y: where the error signal starts
            net.backward(&tape, &dy, &mut grads); //   the chain rule, layer by layer
        }
        grads.scale(0.25);
        sgd.step(&mut net, &grads); //                 θ ← θ - η ∂L/∂θ

        if epoch == 1 || epoch % 100 == 0 {
            println!("epoch {epoch:>4}   mean squared error {loss:.6}");
        }
    }

    println!("\n  x1   x2   target   prediction");
    let mut mse = 0.0;
    for (x, t) in INPUTS.iter().zip(&TARGETS) {
        let y = net.forward(x);
        mse += Mse.loss(&y, t) / 4.0;
        println!("  {:.0}    {:.0}    {:.0}        {:.4}", x[0], x[1], t[0], y[0]);
    }
    println!("\nmean squared error {mse:.6} after {EPOCHS} epochs");

    let points: Vec<(f64, f64, usize)> =
        INPUTS.iter().zip(&TARGETS).map(|(x, t)| (f64::from(x[0]), f64::from(x[1]), t[0] as usize)).collect();
    let probability = |x: f64, y: f64| f64::from(net.forward(&[x as f32, y as f32])[0]);
    plot::save("xor_boundary", (560, 520), |area| {
        Boundary {
            title: "XOR: where the 2-16-16-1 net's output crosses ½".into(),
            x: -0.5..1.5,
            y: -0.5..1.5,
            probability: &probability,
            points: &points,
            axes: ["x₁", "x₂"],
            classes: ["target 0", "target 1"],
        }
        .draw(area)
    })?;

    if mse >= 0.01 {
        println!("did not converge");
        std::process::exit(1);
    }
    Ok(())
}
