//! Workloads W3 `mnist_train`, W4 `mnist_infer_1` and W5 `mnist_infer_64`
//! (see WORKLOADS.md): the MLP 784 → 128 (ReLU) → 64 (ReLU) → 10 (logits),
//! `f32`, each against its baseline measured in the same run.
//!
//! * `mnist_train` (W3): one training step on a mini-batch of 64: forward,
//!   softmax cross-entropy, backward, Adam (lr 1e-3).
//!   - `backprop`: [`Workspace::train_step`], the batched path.
//!   - `per_sample`: [`Train::train_step`] on the same batch, the per-sample
//!     path (what the batched path is chosen over).
//!   - `sgemm`: the baseline, the step's eight matrix products alone in
//!     `matrixmultiply::sgemm`, with the shapes and strides the library uses:
//!     `Z = X Wᵀ` for the three layers, `∂L/∂W = Δᵀ X` for the three layers,
//!     `∂L/∂X = Δ W` for layers 3 and 2. No bias, activation, loss or
//!     optimizer: the practical ceiling.
//!   - `sgemm_adam`: the same eight products followed by the library's Adam
//!     step on the gradients they wrote: the floor for any implementation
//!     that uses these products and an exact Adam (nothing else of a step:
//!     no bias, activation or loss). `sgemm / sgemm_adam` is the best ratio
//!     `backprop / sgemm` could reach.
//! * `mnist_infer_1` (W4): the forward pass of one sample.
//!   - `backprop`: [`Forward::forward`].
//!   - `hand_written`: the baseline, the same net as plain fixed-array loops
//!     (`z += w[o][i] * x[i]`, `max(z, 0)`), as a careful user writes it.
//! * `mnist_infer_64` (W5): the forward pass of a batch of 64.
//!   - `backprop`: [`Workspace::forward`], the batched path.
//!   - `per_sample`: 64 calls of [`Forward::forward`].
//!   - `sgemm`: the baseline, the three forward products alone.
//!
//! Inputs are uniform in [0, 1), labels cycle through 0..9, all generated
//! from a fixed seed before anything is timed. Before timing, the bench
//! checks that the baselines compute what the library computes.
//!
//! Throughput: W3 and W5 declare `Throughput::Elements(64)`, W4
//! `Throughput::Elements(1)`, so
//!
//! ```text
//! time  = ns per step (W3), per batch (W5), per sample (W4)
//! thrpt = samples per second = 64 (or 1) / time
//! ratio = backprop samples/s ÷ sgemm samples/s   (W3, W5: higher is better)
//!       = backprop time ÷ hand_written time      (W4: lower is better)
//! ```
//!
//! GFLOP/s for the W3 baseline: 454,400 FLOP per sample (WORKLOADS.md), so
//! `GFLOP/s = 64 × 454,400 / time in ns`; for W5, 218,368 FLOP per sample.
//!
//! Run: `cargo bench --bench mnist` (one workload: `-- mnist_train`).

#![allow(clippy::needless_range_loop)] // the hand-written baseline indexes, as users do

use std::hint::black_box;

use backprop::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::Rng;

type Net = (Dense<784, 128, ReLU>, Dense<128, 64, ReLU>, Dense<64, 10, Identity>);

const BATCH: usize = 64;
const SEED: u64 = 7;

/// 64 inputs uniform in [0, 1) and their labels 0, 1, ..., 9, 0, 1, ...
fn data() -> (Vec<[f32; 784]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
    let inputs = (0..BATCH)
        .map(|_| core::array::from_fn(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32))
        .collect();
    (inputs, (0..BATCH).map(|k| k % 10).collect())
}

fn net() -> Box<Net> {
    Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(SEED))
}

/// The W4 baseline: the same net by hand, weights copied from the library's.
struct HandNet {
    w1: Box<[[f32; 784]; 128]>,
    b1: [f32; 128],
    w2: Box<[[f32; 128]; 64]>,
    b2: [f32; 64],
    w3: [[f32; 64]; 10],
    b3: [f32; 10],
}

impl HandNet {
    fn from_library(net: &Net) -> Self {
        Self {
            w1: Box::new(net.0.weights),
            b1: net.0.bias,
            w2: Box::new(net.1.weights),
            b2: net.1.bias,
            w3: net.2.weights,
            b3: net.2.bias,
        }
    }

    fn forward(&self, x: &[f32; 784]) -> [f32; 10] {
        let mut h1 = [0.0; 128];
        for o in 0..128 {
            let mut z = self.b1[o];
            for i in 0..784 {
                z += self.w1[o][i] * x[i];
            }
            h1[o] = z.max(0.0);
        }
        let mut h2 = [0.0; 64];
        for o in 0..64 {
            let mut z = self.b2[o];
            for i in 0..128 {
                z += self.w2[o][i] * h1[i];
            }
            h2[o] = z.max(0.0);
        }
        let mut y = [0.0; 10];
        for o in 0..10 {
            let mut z = self.b3[o];
            for i in 0..64 {
                z += self.w3[o][i] * h2[i];
            }
            y[o] = z;
        }
        y
    }
}

/// `C ← A B` (β = 0) with `sgemm`; `C` is `m × n` row-major.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    c: &mut [f32],
) {
    assert!(
        a.len() > (m - 1) * rsa + (k - 1) * csa
            && b.len() > (k - 1) * rsb + (n - 1) * csb
            && c.len() >= m * n
    );
    // SAFETY: the assertion above keeps every element the strides reach
    // inside its slice; `c` is a unique borrow, so it overlaps neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The matrices the baseline products read and write.
struct Buffers {
    h1: Vec<f32>,
    h2: Vec<f32>,
    y: Vec<f32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
    d3: Vec<f32>,
    /// The weight gradients, in a value of the model's type (so that an
    /// optimizer can take them).
    grads: Box<Net>,
}

impl Buffers {
    fn new() -> Self {
        let v = |n| vec![0.5f32; n];
        Buffers {
            h1: v(BATCH * 128),
            h2: v(BATCH * 64),
            y: v(BATCH * 10),
            d1: v(BATCH * 128),
            d2: v(BATCH * 64),
            d3: v(BATCH * 10),
            grads: Box::<Net>::zeroed(),
        }
    }

    /// The three forward products: `H = X Wᵀ` (`Wᵀ`: `W` with strides (1, IN)).
    fn forward(&mut self, net: &Net, x: &[f32]) {
        sgemm(BATCH, 784, 128, x, 784, 1, net.0.weights.as_flattened(), 1, 784, &mut self.h1);
        sgemm(BATCH, 128, 64, &self.h1, 128, 1, net.1.weights.as_flattened(), 1, 128, &mut self.h2);
        sgemm(BATCH, 64, 10, &self.h2, 64, 1, net.2.weights.as_flattened(), 1, 64, &mut self.y);
    }

    /// The five backward products: `∂W = Δᵀ X` (`Δᵀ`: `Δ` with strides
    /// (1, OUT)) for the three layers, `∂X = Δ W` for layers 3 and 2.
    fn backward(&mut self, net: &Net, x: &[f32]) {
        let g = &mut self.grads;
        sgemm(10, BATCH, 64, &self.d3, 1, 10, &self.h2, 64, 1, g.2.weights.as_flattened_mut());
        sgemm(BATCH, 10, 64, &self.d3, 10, 1, net.2.weights.as_flattened(), 64, 1, &mut self.d2);
        sgemm(64, BATCH, 128, &self.d2, 1, 64, &self.h1, 128, 1, g.1.weights.as_flattened_mut());
        sgemm(BATCH, 64, 128, &self.d2, 64, 1, net.1.weights.as_flattened(), 128, 1, &mut self.d1);
        sgemm(128, BATCH, 784, &self.d1, 1, 128, x, 784, 1, g.0.weights.as_flattened_mut());
    }
}

/// The baselines compute what the library computes.
fn check(net: &Net, x: &[[f32; 784]]) {
    let hand = HandNet::from_library(net);
    let mut workspace = Workspace::<Net>::new();
    let batched = workspace.forward(net, x).to_vec();
    let mut buffers = Buffers::new();
    buffers.forward(net, x.as_flattened());
    for (k, x) in x.iter().enumerate() {
        let (ours, theirs) = (net.forward(x), hand.forward(x));
        for o in 0..10 {
            assert!((ours[o] - theirs[o]).abs() <= 1e-4, "sample {k}: {ours:?} vs hand-written {theirs:?}");
            assert!(
                (batched[k][o] - ours[o]).abs() <= 1e-4,
                "sample {k}: batched {:?} vs {ours:?}",
                batched[k]
            );
        }
    }
    // Without bias and ReLU the sgemm chain computes something else; check
    // its first product, which is exactly the library's first pre-activation
    // minus the bias.
    let z = net.0.affine(&x[0]);
    for o in 0..128 {
        assert!((buffers.h1[o] + net.0.bias[o] - z[o]).abs() <= 1e-4);
    }
}

fn mnist_train(c: &mut Criterion) {
    let (x, labels) = data();
    check(&net(), &x);
    let mut group = c.benchmark_group("mnist_train");
    group.throughput(Throughput::Elements(BATCH as u64));

    group.bench_function("backprop", |b| {
        let mut net = net();
        let mut grads = Box::<Net>::zeroed();
        let mut adam = Adam::new(1e-3);
        let mut workspace = Workspace::new();
        b.iter(|| {
            workspace
                .train_step(
                    &mut net,
                    black_box(&x),
                    &labels,
                    &SoftmaxCrossEntropy,
                    &mut adam,
                    &mut grads,
                    Clip::None,
                )
                .expect("finite loss")
        });
    });

    group.bench_function("per_sample", |b| {
        let mut net = net();
        let mut grads = Box::<Net>::zeroed();
        let mut adam = Adam::new(1e-3);
        b.iter(|| {
            net.train_step(black_box(&x), &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
                .expect("finite loss")
        });
    });

    group.bench_function("sgemm", |b| {
        let net = net();
        let mut buffers = Buffers::new();
        let x = x.as_flattened();
        b.iter(|| {
            buffers.forward(&net, black_box(x));
            buffers.backward(&net, black_box(x));
        });
        black_box(&buffers.grads);
    });

    group.bench_function("sgemm_adam", |b| {
        let mut net = net();
        let mut buffers = Buffers::new();
        let mut adam = Adam::new(1e-3);
        let x = x.as_flattened();
        b.iter(|| {
            buffers.forward(&net, black_box(x));
            buffers.backward(&net, black_box(x));
            adam.step(&mut net, &buffers.grads);
        });
        black_box(&net);
    });
    group.finish();
}

fn mnist_infer_1(c: &mut Criterion) {
    let (x, _) = data();
    let mut group = c.benchmark_group("mnist_infer_1");
    group.throughput(Throughput::Elements(1));

    group.bench_function("backprop", |b| {
        let net = net();
        let mut k = 0;
        b.iter(|| {
            let y = net.forward(black_box(&x[k]));
            k = (k + 1) % BATCH;
            y
        });
    });

    group.bench_function("hand_written", |b| {
        let hand = HandNet::from_library(&net());
        let mut k = 0;
        b.iter(|| {
            let y = hand.forward(black_box(&x[k]));
            k = (k + 1) % BATCH;
            y
        });
    });
    group.finish();
}

fn mnist_infer_64(c: &mut Criterion) {
    let (x, _) = data();
    let mut group = c.benchmark_group("mnist_infer_64");
    group.throughput(Throughput::Elements(BATCH as u64));

    group.bench_function("backprop", |b| {
        let net = net();
        let mut workspace = Workspace::new();
        b.iter(|| black_box(workspace.forward(&net, black_box(&x))[0]));
    });

    group.bench_function("per_sample", |b| {
        let net = net();
        let mut outputs = vec![[0.0f32; 10]; BATCH];
        b.iter(|| net.predict_into(black_box(&x), &mut outputs));
    });

    group.bench_function("sgemm", |b| {
        let net = net();
        let mut buffers = Buffers::new();
        b.iter(|| buffers.forward(&net, black_box(x.as_flattened())));
        black_box(&buffers.y);
    });
    group.finish();
}

criterion_group!(benches, mnist_train, mnist_infer_1, mnist_infer_64);
criterion_main!(benches);
