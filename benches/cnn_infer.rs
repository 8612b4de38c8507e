//! Workload W7 `cnn_infer_1` (see WORKLOADS.md): the W6 convolutional net
//! `1×28×28 → Conv2d 1→8 3×3 p1 ReLU → MaxPool 2 → Conv2d 8→16 3×3 p1 ReLU
//! → MaxPool 2 → Flatten 784 → Dense 784→10`, `f32`, forward only, batch 1,
//! against its baseline measured in the same run.
//!
//! * `backprop`: the library, [`Forward::forward`] of the net (the
//!   per-sample path).
//! * `hand_written`: the baseline, the same net as a plain direct
//!   convolution: nested loops over output channel, row, column, input
//!   channel, kernel row, kernel column with a bounds test for the padding,
//!   then the max pool and the dense layer, as a user writes them by hand.
//!
//! Inputs are uniform in [0, 1), 16 of them, generated from a fixed seed
//! before anything is timed, and the iterations cycle through them. Before
//! timing, the bench checks that the baseline computes what the library
//! computes.
//!
//! Throughput: `Throughput::Elements(1)`, so
//!
//! ```text
//! time  = ns per sample
//! ratio = backprop time ÷ hand_written time   (lower is better; target ≤ 0.5)
//! GFLOP/s = 580,160 / time in ns              (WORKLOADS.md's forward FLOPs)
//! ```
//!
//! Run: `cargo bench --bench cnn_infer`.

#![allow(clippy::needless_range_loop)] // the hand-written baseline indexes, as users do

use std::hint::black_box;

use backprop::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::Rng;

type Net = (
    Unflatten2d<784, 1, 28, 28>,
    Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>,
    MaxPool2d<8, 2, 28, 28, 14, 14>,
    Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU>,
    MaxPool2d<16, 2, 14, 14, 7, 7>,
    Flatten2d<16, 7, 7, 784>,
    Dense<784, 10, Identity>,
);

const SAMPLES: usize = 16;
const SEED: u64 = 7;

/// Inputs uniform in [0, 1).
fn data() -> Vec<[f32; 784]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    (0..SAMPLES)
        .map(|_| core::array::from_fn(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32))
        .collect()
}

/// The net with random weights and biases (the biases drawn too, so that
/// the baseline's bias handling is checked).
fn net() -> Box<Net> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let mut net: Box<Net> = Model::init(&mut rng);
    let mut bias = || (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
    net.1.bias = core::array::from_fn(|_| 0.2 * bias());
    net.3.bias = core::array::from_fn(|_| 0.2 * bias());
    net.6.bias = core::array::from_fn(|_| 0.2 * bias());
    net
}

/// The W7 baseline: the same net by hand, weights copied from the library's.
struct HandNet {
    w1: [[[[f32; 3]; 3]; 1]; 8],
    b1: [f32; 8],
    w2: [[[[f32; 3]; 3]; 8]; 16],
    b2: [f32; 16],
    w3: Box<[[f32; 784]; 10]>,
    b3: [f32; 10],
}

impl HandNet {
    fn from_library(net: &Net) -> Self {
        Self {
            w1: net.1.weights,
            b1: net.1.bias,
            w2: net.3.weights,
            b2: net.3.bias,
            w3: Box::new(net.6.weights),
            b3: net.6.bias,
        }
    }

    fn forward(&self, x: &[f32; 784]) -> [f32; 10] {
        // Conv2d 1 → 8, 3×3, padding 1, ReLU.
        let mut a1 = [[[0.0f32; 28]; 28]; 8];
        for o in 0..8 {
            for r in 0..28 {
                for c in 0..28 {
                    let mut z = self.b1[o];
                    for i in 0..1 {
                        for kr in 0..3 {
                            for kc in 0..3 {
                                let (y, x_col) = (r + kr, c + kc); // in the padded input
                                if (1..=28).contains(&y) && (1..=28).contains(&x_col) {
                                    z += self.w1[o][i][kr][kc] * x[i * 784 + (y - 1) * 28 + (x_col - 1)];
                                }
                            }
                        }
                    }
                    a1[o][r][c] = z.max(0.0);
                }
            }
        }
        // MaxPool 2.
        let mut p1 = [[[0.0f32; 14]; 14]; 8];
        for ch in 0..8 {
            for r in 0..14 {
                for c in 0..14 {
                    let mut m = a1[ch][2 * r][2 * c];
                    for i in 0..2 {
                        for j in 0..2 {
                            let v = a1[ch][2 * r + i][2 * c + j];
                            if v > m {
                                m = v;
                            }
                        }
                    }
                    p1[ch][r][c] = m;
                }
            }
        }
        // Conv2d 8 → 16, 3×3, padding 1, ReLU.
        let mut a2 = [[[0.0f32; 14]; 14]; 16];
        for o in 0..16 {
            for r in 0..14 {
                for c in 0..14 {
                    let mut z = self.b2[o];
                    for i in 0..8 {
                        for kr in 0..3 {
                            for kc in 0..3 {
                                let (y, x_col) = (r + kr, c + kc);
                                if (1..=14).contains(&y) && (1..=14).contains(&x_col) {
                                    z += self.w2[o][i][kr][kc] * p1[i][y - 1][x_col - 1];
                                }
                            }
                        }
                    }
                    a2[o][r][c] = z.max(0.0);
                }
            }
        }
        // MaxPool 2, flattened channel-major as it goes.
        let mut p2 = [0.0f32; 784];
        for ch in 0..16 {
            for r in 0..7 {
                for c in 0..7 {
                    let mut m = a2[ch][2 * r][2 * c];
                    for i in 0..2 {
                        for j in 0..2 {
                            let v = a2[ch][2 * r + i][2 * c + j];
                            if v > m {
                                m = v;
                            }
                        }
                    }
                    p2[(ch * 7 + r) * 7 + c] = m;
                }
            }
        }
        // Dense 784 → 10.
        let mut y = [0.0f32; 10];
        for o in 0..10 {
            let mut z = self.b3[o];
            for i in 0..784 {
                z += self.w3[o][i] * p2[i];
            }
            y[o] = z;
        }
        y
    }
}

fn cnn_infer_1(c: &mut Criterion) {
    let inputs = data();
    let net = net();
    let hand = HandNet::from_library(&net);
    for x in &inputs {
        let (ours, theirs) = (net.forward(x), hand.forward(x));
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "library {ours:?} != hand-written {theirs:?}");
        }
    }

    let mut group = c.benchmark_group("cnn_infer_1");
    group.throughput(Throughput::Elements(1));
    let mut k = 0;
    group.bench_function("backprop", |b| {
        b.iter(|| {
            k = (k + 1) % SAMPLES;
            net.forward(black_box(&inputs[k]))
        })
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            k = (k + 1) % SAMPLES;
            hand.forward(black_box(&inputs[k]))
        })
    });
    group.finish();
}

criterion_group!(benches, cnn_infer_1);
criterion_main!(benches);
