//! 01 · A forward pass, by hand and by the library.
//!
//! A network is a chain of layers, and a layer computes `z = W x + b`, then
//! `a = f(z)`. This example takes a tiny net with weights written out, a
//! 2-3-1 net with a tanh hidden layer and a sigmoid output,
//!
//! ```text
//! type Net = (Dense<2, 3, Tanh, f64>, Dense<3, 1, Sigmoid, f64>);
//! ```
//!
//! computes its output for one input with nothing but loops over the
//! weights, printing every multiplication, and then asks the library for the
//! same output with `forward` and with `forward_tape` (which also records
//! the `x`, `z` and `a` of every layer for the backward pass of example 02).
//!
//! The shapes are in the type: `W⁽¹⁾` is `[[f64; 2]; 3]` (3 rows, one per
//! hidden unit, of 2 input weights, PyTorch's `nn.Linear` layout), `W⁽²⁾` is
//! `[[f64; 3]; 1]`, the input is a `[f64; 2]` and the output a `[f64; 1]`.
//!
//! Run it with `cargo run --release --example 01_forward_by_hand`. It exits
//! with status 1 if the hand computation and the library disagree.

use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh, f64>, Dense<3, 1, Sigmoid, f64>);

// Indexed by `o` and `i` so that the loops read like the formulas.
#[allow(clippy::needless_range_loop)]
fn main() {
    let net: Net = (
        Dense::new([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8]], [0.1, -0.2, 0.0]),
        Dense::new([[1.0, -2.0, 0.5]], [0.3]),
    );
    let x = [1.0, 2.0];
    println!("A 2-3-1 network (tanh, sigmoid) with {} parameters, input x = {x:?}\n", Net::PARAMS);

    // Layer 1, by hand: z = W x + b, a = tanh(z).
    println!("layer 1: z⁽¹⁾ = W⁽¹⁾ x + b⁽¹⁾, a⁽¹⁾ = tanh(z⁽¹⁾)   (W⁽¹⁾ is 3×2)");
    let (w1, b1) = (&net.0.weights, &net.0.bias);
    let mut z1 = [0.0; 3];
    let mut a1 = [0.0; 3];
    for o in 0..3 {
        z1[o] = b1[o];
        let mut terms = format!("{:+.2}", b1[o]);
        for i in 0..2 {
            z1[o] += w1[o][i] * x[i];
            terms += &format!(" + ({:+.2})({:.1})", w1[o][i], x[i]);
        }
        a1[o] = z1[o].tanh();
        println!("  z{} = {terms} = {:+.4}   a{} = tanh({:+.4}) = {:+.4}", o + 1, z1[o], o + 1, z1[o], a1[o]);
    }

    // Layer 2, by hand: z = W a⁽¹⁾ + b, y = σ(z).
    println!("\nlayer 2: z⁽²⁾ = W⁽²⁾ a⁽¹⁾ + b⁽²⁾, y = σ(z⁽²⁾)   (W⁽²⁾ is 1×3)");
    let (w2, b2) = (&net.1.weights, &net.1.bias);
    let mut z2 = b2[0];
    let mut terms = format!("{:+.2}", b2[0]);
    for i in 0..3 {
        z2 += w2[0][i] * a1[i];
        terms += &format!(" + ({:+.2})({:+.4})", w2[0][i], a1[i]);
    }
    let y_by_hand = 1.0 / (1.0 + (-z2).exp());
    println!("  z = {terms} = {z2:+.4}");
    println!("  y = σ({z2:+.4}) = 1 / (1 + e^{:+.4}) = {y_by_hand:.6}", -z2);

    // The library: the same arithmetic, monomorphised for these widths.
    let y = net.forward(&x); // y: [f64; 1]
    let (y_taped, tape) = net.forward_tape(&x);
    println!("\nnet.forward(&x)          = {:.6?}", y);
    println!("net.forward_tape(&x).0   = {:.6?}", y_taped);
    println!(
        "tape.0.pre_activation    = {:+.4?}   (z⁽¹⁾, kept for the backward pass)",
        tape.0.pre_activation
    );
    println!("tape.0.output            = {:+.4?}   (a⁽¹⁾)", tape.0.output);
    println!("tape.1.input             = {:+.4?}   (a⁽¹⁾ again: layer 2's input)", tape.1.input);

    let difference = (y[0] - y_by_hand).abs().max((y_taped[0] - y_by_hand).abs());
    let hidden_difference = tape.0.output.iter().zip(&a1).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!(
        "\nlargest difference between the hand computation and the library: {:.1e}",
        difference.max(hidden_difference)
    );
    if difference.max(hidden_difference) > 1e-12 {
        eprintln!("the hand computation and the library disagree");
        std::process::exit(1);
    }
}
