//! XOR: the smallest problem a single layer cannot solve.
//!
//! The four points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0 are not separable by
//! one straight line, so a network needs a hidden layer to bend the input
//! space. This example trains a 2-16-16-1 net (tanh, tanh, sigmoid) with
//! mean squared error and plain gradient descent, written out step by step:
//! forward with a tape, loss gradient, backward, update.
//!
//! Run it with `cargo run --release --example xor`.

use backprop::prelude::*;

type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);

const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn main() {
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
    if mse >= 0.01 {
        println!("did not converge");
        std::process::exit(1);
    }
}
