//! Workload W6 `cnn_train` (see WORKLOADS.md): one training step of the
//! small CNN on a mini-batch of 32 images, against its baseline measured in
//! the same run.
//!
//! The net: 1 × 28 × 28 → Conv2d 1 → 8, 3 × 3, padding 1, ReLU → MaxPool 2
//! → Conv2d 8 → 16, 3 × 3, padding 1, ReLU → MaxPool 2 → Flatten (784) →
//! Dense 784 → 10 logits; softmax cross-entropy; Adam (lr 1e-3); `f32`.
//!
//! * `backprop`: [`Workspace::train_step`], the batched path (each
//!   convolution lowered to matrix products per sample, `src/conv/lowered.rs`;
//!   the dense layer one product per pass).
//! * `per_sample`: [`Train::train_step`] on the same batch, the per-sample
//!   path, for comparison.
//! * `sgemm`: the baseline, the step's lowered matrix products alone in
//!   `matrixmultiply::sgemm`, with the shapes and strides the library uses,
//!   on buffers that stay the same from one iteration to the next (so in
//!   cache as far as they fit; one column matrix per convolution, as the
//!   library holds it): per image, `Z = W · col(x)` and `∂W += Δ · col(x)ᵀ`
//!   of both convolutions and `Wᵀ · Δ` of the second (nothing needs the
//!   first one's input gradient); for the batch, the dense layer's `X Wᵀ`,
//!   `Δᵀ X` and `Δ W`: 5 × 32 + 3 = 163 products. No im2col or col2im,
//!   bias, activation, pooling, loss or optimizer.
//!
//! Inputs are uniform in [0, 1), labels cycle through 0..9, all from a
//! fixed seed. Before timing, the bench checks that the baseline's forward
//! products, given the column matrices of the first image, are the
//! library's pre-activations less the bias.
//!
//! Throughput: `Throughput::Elements(32)`, so
//!
//! ```text
//! time  = ns per step
//! thrpt = samples per second = 32 / time
//! ratio = backprop samples/s ÷ sgemm samples/s    (higher is better; target ≥ 0.6)
//! ```
//!
//! GFLOP/s of the baseline: its products are WORKLOADS.md's 1,627,584 FLOP
//! per sample, so `GFLOP/s = 32 × 1,627,584 / time in ns`.
//!
//! Run: `cargo bench --bench cnn_train`.

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

const BATCH: usize = 32;
const SEED: u64 = 6;

/// 32 images uniform in [0, 1) and their labels 0, 1, ..., 9, 0, 1, ...
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

/// `C ← A B + β C` with `sgemm`; `C` is `m × n` row-major.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    assert!(
        a.len() > (m - 1) * rsa + (k - 1) * csa
            && b.len() > (k - 1) * rsb + (n - 1) * csb
            && c.len() == m * n
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
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// One convolution's matrices, as the library holds them: one `col(x)`
/// (`CK × N`), reused by every image (the library builds it again for each
/// image, in the forward and in the backward pass), `Z_b` = `Δ_b`
/// (`CO × N`) of every image, one `Wᵀ Δ_b` (`CK × N`), and `∂W`.
struct Conv {
    taps: usize,
    outputs: usize,
    positions: usize,
    columns: Vec<f32>,
    z: Vec<f32>,
    d_columns: Vec<f32>,
    d_weights: Vec<f32>,
}

impl Conv {
    fn new(taps: usize, outputs: usize, positions: usize) -> Self {
        Conv {
            taps,
            outputs,
            positions,
            columns: vec![0.5; taps * positions],
            z: vec![0.5; BATCH * outputs * positions],
            d_columns: vec![0.0; taps * positions],
            d_weights: vec![0.0; outputs * taps],
        }
    }

    /// `Z_b = W · col(x_b)` for every image.
    fn forward(&mut self, weights: &[f32]) {
        let (ck, co, n) = (self.taps, self.outputs, self.positions);
        for z in self.z.chunks_exact_mut(co * n) {
            sgemm((co, ck, n), weights, (ck, 1), &self.columns, (n, 1), 0.0, z);
        }
    }

    /// `∂W += Δ_b · col(x_b)ᵀ` and, if `input_gradient`, `Wᵀ · Δ_b` for
    /// every image (`Δ_b` is in `Z_b`'s buffer).
    fn backward(&mut self, weights: &[f32], input_gradient: bool) {
        let (ck, co, n) = (self.taps, self.outputs, self.positions);
        for (b, delta) in self.z.chunks_exact(co * n).enumerate() {
            let beta = if b == 0 { 0.0 } else { 1.0 };
            sgemm((co, n, ck), delta, (n, 1), &self.columns, (1, n), beta, &mut self.d_weights);
            if input_gradient {
                sgemm((ck, co, n), weights, (1, ck), delta, (n, 1), 0.0, &mut self.d_columns);
            }
        }
    }
}

/// The baseline's matrices.
struct Baseline {
    conv1: Conv,
    conv2: Conv,
    /// The dense layer's input (= output gradient buffer of the flatten), `Y`, `Δ`, `∂W`.
    flat: Vec<f32>,
    y: Vec<f32>,
    d_flat: Vec<f32>,
    d_dense: Vec<f32>,
}

impl Baseline {
    fn new() -> Self {
        Baseline {
            conv1: Conv::new(9, 8, 784),
            conv2: Conv::new(72, 16, 196),
            flat: vec![0.5; BATCH * 784],
            y: vec![0.5; BATCH * 10],
            d_flat: vec![0.0; BATCH * 784],
            d_dense: vec![0.0; 10 * 784],
        }
    }

    fn step(&mut self, net: &Net) {
        let w1 = net.1.weights.as_flattened().as_flattened().as_flattened();
        let w2 = net.3.weights.as_flattened().as_flattened().as_flattened();
        let w3 = net.6.weights.as_flattened();
        self.conv1.forward(w1);
        self.conv2.forward(w2);
        // Y = X Wᵀ
        sgemm((BATCH, 784, 10), &self.flat, (784, 1), w3, (1, 784), 0.0, &mut self.y);
        // ∂W = Δᵀ X, ∂X = Δ W (Δ in Y's buffer)
        sgemm((10, BATCH, 784), &self.y, (1, 10), &self.flat, (784, 1), 0.0, &mut self.d_dense);
        sgemm((BATCH, 10, 784), &self.y, (10, 1), w3, (784, 1), 0.0, &mut self.d_flat);
        self.conv2.backward(w2, true);
        self.conv1.backward(w1, false);
    }
}

/// `col(x)` of one image by its definition, for the check.
fn im2col(x: &[f32], channels: usize, size: usize) -> Vec<f32> {
    let mut col = Vec::new();
    for i in 0..channels {
        for kr in 0..3 {
            for kc in 0..3 {
                for r in 0..size {
                    for c in 0..size {
                        let (y, x_) = ((r + kr) as isize - 1, (c + kc) as isize - 1);
                        let inside = (0..size as isize).contains(&y) && (0..size as isize).contains(&x_);
                        col.push(if inside {
                            x[i * size * size + (y as usize) * size + x_ as usize]
                        } else {
                            0.0
                        });
                    }
                }
            }
        }
    }
    col
}

/// The baseline's convolution products, fed the library's tensors, give
/// the library's pre-activations less the bias.
fn check(net: &Net, x: &[[f32; 784]]) {
    let mut baseline = Baseline::new();
    let image = net.0.forward(&x[0]);
    let a1 = net.1.forward(&image);
    let hidden = net.2.forward(&a1);
    let a2 = net.3.forward(&hidden);
    baseline.conv1.columns = im2col(image.as_flattened().as_flattened(), 1, 28);
    baseline.conv2.columns = im2col(hidden.as_flattened().as_flattened(), 8, 14);
    baseline.step(net);
    for (conv, a, bias) in [
        (&baseline.conv1, a1.as_flattened().as_flattened(), &net.1.bias[..]),
        (&baseline.conv2, a2.as_flattened().as_flattened(), &net.3.bias[..]),
    ] {
        for (k, (&z, &a)) in conv.z.iter().zip(a).enumerate() {
            let relu = (z + bias[k / conv.positions]).max(0.0);
            assert!((relu - a).abs() <= 1e-4, "entry {k}: {relu} vs the library's {a}");
        }
    }
}

fn cnn_train(c: &mut Criterion) {
    let (x, labels) = data();
    check(&net(), &x);
    let mut group = c.benchmark_group("cnn_train");
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

    group.bench_function("sgemm", |b| {
        let net = net();
        let mut baseline = Baseline::new();
        b.iter(|| baseline.step(black_box(&net)));
        black_box(&baseline.conv1.d_weights);
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
    group.finish();
}

criterion_group!(benches, cnn_train);
criterion_main!(benches);
