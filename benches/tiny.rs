//! Workloads W1 `tiny_train` and W2 `tiny_infer` (see WORKLOADS.md): the MLP
//! 2 → 16 (tanh) → 16 (tanh) → 1 (sigmoid), `f32`, batch 1, each against a
//! plain hand-written fixed-array implementation of the same net measured in
//! the same run.
//!
//! Throughput: every measured iteration processes exactly one sample, and
//! each benchmark declares `Throughput::Elements(1)`, so
//!
//! ```text
//! time per iteration     = ns per sample            (criterion's `time:` line)
//! elements/s             = 1e9 / (ns per iteration) (criterion's `thrpt:` line)
//! ratio                  = backprop time / hand_written time
//! ```
//!
//! * `tiny_train`: one iteration is one per-sample SGD step on the next XOR
//!   sample (cycling through the four): forward with a tape, MSE gradient,
//!   backward, plain SGD step with lr 0.1. `backprop` spells the step out
//!   with the library's parts (`fill_zero`, since `backward` accumulates;
//!   `forward_tape`; `Mse.gradient`; `backward`; `Sgd::step`); `train_step`
//!   is the library's one-call step, `Train::train_step` on a batch of one
//!   (which also computes the loss, and runs forward and backward in one
//!   SIMD dispatch). The figure is ns per sample-step.
//! * `tiny_infer`: one iteration is one forward pass on the next XOR input,
//!   no tape. The figure is ns per sample.
//!
//! Both implementations start from the same weights (the library's
//! Glorot-initialised net, copied field by field into the hand-written one),
//! and before anything is timed the bench asserts that they agree: outputs
//! within 1e-5 on the four XOR inputs, and every weight and bias within 1e-4
//! after a few hundred training steps.
//!
//! Run: `cargo bench --bench tiny` (add `-- tiny_train` to run one group).

// The hand-written baseline is deliberately written with plain index loops.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;

use backprop::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The library net.
type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);

const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];
const LR: f32 = 0.1;
const SEED: u64 = 42;

/// The same net written by hand: fixed arrays, straightforward loops, the
/// textbook formulas, no library. Weight layout `w[o][i]` (input `i` to
/// output `o`), as the library's.
#[derive(Clone, Copy, Debug)]
struct HandNet {
    w1: [[f32; 2]; 16],
    b1: [f32; 16],
    w2: [[f32; 16]; 16],
    b2: [f32; 16],
    w3: [[f32; 16]; 1],
    b3: [f32; 1],
}

/// The activations the backward pass needs.
struct HandTape {
    x: [f32; 2],
    h1: [f32; 16],
    h2: [f32; 16],
    y: f32,
}

/// The per-layer error signals `δ = ∂L/∂z`; the weight gradients are the
/// outer products `δ xᵀ`, applied directly by [`HandNet::sgd_update`].
struct HandDeltas {
    d1: [f32; 16],
    d2: [f32; 16],
    d3: f32,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl HandNet {
    fn from_library(net: &Net) -> Self {
        Self {
            w1: net.0.weights,
            b1: net.0.bias,
            w2: net.1.weights,
            b2: net.1.bias,
            w3: net.2.weights,
            b3: net.2.bias,
        }
    }

    /// Each hidden layer computes its 16 pre-activations first and applies
    /// `tanh` in a second loop, as the library does. (With `tanh` inside the
    /// dot-product loop, the opaque `tanhf` calls serialise the dot products;
    /// that variant measured about 15% slower on W2 and 12% on W1 here, i.e.
    /// slower than the library, so it would have been a weak baseline.)
    fn forward_tape(&self, x: &[f32; 2]) -> HandTape {
        let mut h1 = [0.0; 16];
        for o in 0..16 {
            let mut z = self.b1[o];
            for i in 0..2 {
                z += self.w1[o][i] * x[i];
            }
            h1[o] = z;
        }
        for h in h1.iter_mut() {
            *h = h.tanh();
        }
        let mut h2 = [0.0; 16];
        for o in 0..16 {
            let mut z = self.b2[o];
            for i in 0..16 {
                z += self.w2[o][i] * h1[i];
            }
            h2[o] = z;
        }
        for h in h2.iter_mut() {
            *h = h.tanh();
        }
        let mut z = self.b3[0];
        for i in 0..16 {
            z += self.w3[0][i] * h2[i];
        }
        HandTape { x: *x, h1, h2, y: sigmoid(z) }
    }

    fn forward(&self, x: &[f32; 2]) -> f32 {
        self.forward_tape(x).y
    }

    /// Backward for the loss `(y - t)²` (MSE over one output).
    fn backward(&self, tape: &HandTape, target: f32) -> HandDeltas {
        let y = tape.y;
        // ∂L/∂y = 2 (y - t); σ'(z) = y (1 - y).
        let d3 = 2.0 * (y - target) * y * (1.0 - y);
        let mut d2 = [0.0; 16];
        for i in 0..16 {
            // ∂L/∂h2_i = w3_i d3; tanh'(z) = 1 - h².
            d2[i] = self.w3[0][i] * d3 * (1.0 - tape.h2[i] * tape.h2[i]);
        }
        let mut d1 = [0.0; 16];
        for i in 0..16 {
            let mut s = 0.0;
            for o in 0..16 {
                s += self.w2[o][i] * d2[o];
            }
            d1[i] = s * (1.0 - tape.h1[i] * tape.h1[i]);
        }
        HandDeltas { d1, d2, d3 }
    }

    /// `θ ← θ - η ∂L/∂θ` with `∂L/∂W = δ xᵀ`, `∂L/∂b = δ`.
    fn sgd_update(&mut self, tape: &HandTape, d: &HandDeltas, lr: f32) {
        for o in 0..16 {
            for i in 0..2 {
                self.w1[o][i] -= lr * (d.d1[o] * tape.x[i]);
            }
            self.b1[o] -= lr * d.d1[o];
        }
        for o in 0..16 {
            for i in 0..16 {
                self.w2[o][i] -= lr * (d.d2[o] * tape.h1[i]);
            }
            self.b2[o] -= lr * d.d2[o];
        }
        for i in 0..16 {
            self.w3[0][i] -= lr * (d.d3 * tape.h2[i]);
        }
        self.b3[0] -= lr * d.d3;
    }

    fn train_step(&mut self, x: &[f32; 2], target: f32, lr: f32) {
        let tape = self.forward_tape(x);
        let deltas = self.backward(&tape, target);
        self.sgd_update(&tape, &deltas, lr);
    }
}

/// One library training step: zero the gradients, forward with a tape, MSE
/// gradient, backward, SGD.
fn library_train_step(net: &mut Net, grads: &mut Net, sgd: &mut Sgd<Net>, x: &[f32; 2], t: &[f32; 1]) {
    grads.fill_zero();
    let (y, tape) = net.forward_tape(x);
    let dy = Mse.gradient(&y, t);
    net.backward(&tape, &dy, grads);
    sgd.step(net, grads);
}

fn library_net() -> Net {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    Model::init(&mut rng)
}

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (k, (&a, &b)) in a.iter().zip(b).enumerate() {
        assert!((a - b).abs() <= tol, "{what}[{k}]: library {a} vs hand-written {b} (tolerance {tol})");
    }
}

/// Asserts that the hand-written net computes the same function and the same
/// training trajectory as the library net, so that the timings compare like
/// with like.
fn check_equivalence() {
    let mut net = library_net();
    let mut hand = HandNet::from_library(&net);
    for x in &INPUTS {
        assert_close("output", &net.forward(x), &[hand.forward(x)], 1e-5);
    }

    let mut grads = Net::zeroed();
    let mut sgd = Sgd::new(f64::from(LR));
    for step in 0..200 {
        let k = step % 4;
        library_train_step(&mut net, &mut grads, &mut sgd, &INPUTS[k], &TARGETS[k]);
        hand.train_step(&INPUTS[k], TARGETS[k][0], LR);
    }
    assert_close("w1", net.0.weights.as_flattened(), hand.w1.as_flattened(), 1e-4);
    assert_close("b1", &net.0.bias, &hand.b1, 1e-4);
    assert_close("w2", net.1.weights.as_flattened(), hand.w2.as_flattened(), 1e-4);
    assert_close("b2", &net.1.bias, &hand.b2, 1e-4);
    assert_close("w3", net.2.weights.as_flattened(), hand.w3.as_flattened(), 1e-4);
    assert_close("b3", &net.2.bias, &hand.b3, 1e-4);
    // Training actually moved the weights (the check above is not vacuous).
    assert_ne!(net.1.weights, library_net().1.weights);
    for x in &INPUTS {
        assert_close("output after training", &net.forward(x), &[hand.forward(x)], 1e-5);
    }
}

fn tiny_train(c: &mut Criterion) {
    check_equivalence();
    let mut group = c.benchmark_group("tiny_train");
    group.throughput(Throughput::Elements(1));

    group.bench_function("backprop", |b| {
        let mut net = library_net();
        let mut grads = Net::zeroed();
        let mut sgd = Sgd::new(f64::from(LR));
        let mut k = 0;
        b.iter(|| {
            library_train_step(&mut net, &mut grads, &mut sgd, black_box(&INPUTS[k]), black_box(&TARGETS[k]));
            k = (k + 1) % 4;
        });
        black_box(&net);
    });

    group.bench_function("train_step", |b| {
        let mut net = library_net();
        let mut grads = Net::zeroed();
        let mut sgd = Sgd::new(f64::from(LR));
        let mut k = 0;
        b.iter(|| {
            let (x, t) = (black_box(&INPUTS[k..k + 1]), black_box(&TARGETS[k..k + 1]));
            net.train_step(x, t, &Mse, &mut sgd, &mut grads, Clip::None).expect("finite loss");
            k = (k + 1) % 4;
        });
        black_box(&net);
    });

    group.bench_function("hand_written", |b| {
        let mut hand = HandNet::from_library(&library_net());
        let mut k = 0;
        b.iter(|| {
            hand.train_step(black_box(&INPUTS[k]), black_box(TARGETS[k][0]), LR);
            k = (k + 1) % 4;
        });
        black_box(&hand);
    });

    group.finish();
}

fn tiny_infer(c: &mut Criterion) {
    check_equivalence();
    let mut group = c.benchmark_group("tiny_infer");
    group.throughput(Throughput::Elements(1));

    group.bench_function("backprop", |b| {
        let net = library_net();
        let mut k = 0;
        b.iter(|| {
            let y = net.forward(black_box(&INPUTS[k]));
            k = (k + 1) % 4;
            y
        });
    });

    group.bench_function("hand_written", |b| {
        let hand = HandNet::from_library(&library_net());
        let mut k = 0;
        b.iter(|| {
            let y = hand.forward(black_box(&INPUTS[k]));
            k = (k + 1) % 4;
            y
        });
    });

    group.finish();
}

criterion_group!(benches, tiny_train, tiny_infer);
criterion_main!(benches);
