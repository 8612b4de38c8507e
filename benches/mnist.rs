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
//!   - `sgemm_best`, `sgemm_best_adam`: the same, with every product in the
//!     layout `matrixmultiply` runs fastest (`BEST`, read off
//!     `mnist_layout`): the baseline of the ratio.
//!   - `backprop_stream`, `sgemm_best_stream`: streaming, a new batch every
//!     step, cycling through 256 distinct pre-generated batches (51 MB of
//!     inputs), as a data set is read.
//! * `mnist_layout`: each of the eight products of a W3 step alone, in four
//!   layouts: `W` (or `∂W`) stored `[out][in]` (the library's) or `[in][out]`
//!   (a transposed copy), each as `C = A B` or as `Cᵀ = Bᵀ Aᵀ` (`_swapped`:
//!   the operands' roles in `matrixmultiply` exchanged, the same memory).
//! * `mnist_train_256`: W3 at a batch of 256 rows. `step` is
//!   [`Workspace::train_step`] (unsharded, one thread); `fit_{1,2,3}_threads`
//!   one `fit` call (2 epochs over 16 distinct unshuffled batches, 8192
//!   samples) with `FitOptions::threads` = 1, 2, 3: the scaling.
//! * `mnist_freeze`: what making a [`Frozen`] of the W3 net costs, and one
//!   block of [`PREDICT_BATCH`] rows through [`Workspace::forward`] and
//!   through [`Frozen::forward`].
//! * `mnist_infer_1` (W4): the forward pass of one sample.
//!   - `backprop`: [`Forward::forward`].
//!   - `hand_written`: the baseline, the same net as plain fixed-array loops
//!     (`z += w[o][i] * x[i]`, `max(z, 0)`), as a careful user writes it.
//! * `mnist_infer_64` (W5): the forward pass of a batch of 64.
//!   - `backprop`: [`Workspace::forward`], the batched path.
//!   - `frozen`: [`Frozen::forward`], the batched path with the weights
//!     fixed (the dense layers' forward products from a transposed copy).
//!   - `per_sample`: 64 calls of [`Forward::forward`].
//!   - `sgemm`: the three forward products alone; `sgemm_best` in their
//!     fastest layouts (the baseline).
//!   - `backprop_stream`, `frozen_stream`, `sgemm_best_stream`: streaming,
//!     as for W3.
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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use backprop::prelude::*;
use backprop::PREDICT_BATCH;
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

/// The library's W3 training step, its state made once: the net, its
/// gradient buffer, Adam (lr 1e-3) and the batched path's workspace.
struct Trainer {
    net: Box<Net>,
    grads: Box<Net>,
    adam: Adam<Box<Net>>,
    workspace: Workspace<Box<Net>>,
}

impl Trainer {
    fn new() -> Self {
        Trainer {
            net: net(),
            grads: Box::<Net>::zeroed(),
            adam: Adam::new(1e-3),
            workspace: Workspace::new(),
        }
    }

    /// One `Workspace::train_step` on the batch `x` (softmax cross-entropy).
    fn step(&mut self, x: &[[f32; 784]], labels: &[usize]) -> f32 {
        let Trainer { net, grads, adam, workspace } = self;
        workspace
            .train_step(net, black_box(x), labels, &SoftmaxCrossEntropy, adam, grads, Clip::None)
            .expect("finite loss")
    }
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

/// `C ← A B` (β = 0) with `sgemm`, every operand a slice with its row and
/// column strides (`C` `m × n`); if `swapped`, computed as `Cᵀ = Bᵀ Aᵀ`
/// (the same numbers in the same memory, with the roles of the two operands
/// in `matrixmultiply`'s packing and kernel exchanged).
#[allow(clippy::type_complexity)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    (a, rsa, csa): (&[f32], usize, usize),
    (b, rsb, csb): (&[f32], usize, usize),
    (c, rsc, csc): (&mut [f32], usize, usize),
    swapped: bool,
) {
    assert!(
        a.len() > (m - 1) * rsa + (k - 1) * csa
            && b.len() > (k - 1) * rsb + (n - 1) * csb
            && c.len() > (m - 1) * rsc + (n - 1) * csc
    );
    let s = |v: usize| v as isize;
    // SAFETY: the assertion above keeps every element the strides reach
    // inside its slice; `c` is a unique borrow, so it overlaps neither input,
    // and its strides reach distinct elements for distinct (i, j).
    unsafe {
        if swapped {
            matrixmultiply::sgemm(
                n,
                k,
                m,
                1.0,
                b.as_ptr(),
                s(csb),
                s(rsb),
                a.as_ptr(),
                s(csa),
                s(rsa),
                0.0,
                c.as_mut_ptr(),
                s(csc),
                s(rsc),
            );
        } else {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                s(rsa),
                s(csa),
                b.as_ptr(),
                s(rsb),
                s(csb),
                0.0,
                c.as_mut_ptr(),
                s(rsc),
                s(csc),
            );
        }
    }
}

/// How one product of the step sees its weights: `W` (or, for a weight
/// gradient, `∂W`) stored `[out][in]` (the library's, PyTorch's layout) or
/// `[in][out]` (a transposed copy), and whether `matrixmultiply` computes
/// `C = A B` or `Cᵀ = Bᵀ Aᵀ` (`swapped`).
#[derive(Clone, Copy, Debug)]
struct Layout {
    in_out: bool,
    swapped: bool,
}

/// The library's layout: `[out][in]`, `C = A B`.
const LIBRARY: Layout = Layout { in_out: false, swapped: false };

/// The four layouts measured for every product (`mnist_layout`).
const LAYOUTS: [(&str, Layout); 4] = [
    ("out_in", LIBRARY),
    ("out_in_swapped", Layout { in_out: false, swapped: true }),
    ("in_out", Layout { in_out: true, swapped: false }),
    ("in_out_swapped", Layout { in_out: true, swapped: true }),
];

/// The eight products of a W3 step, in the order they run: the forward
/// products `Z = X Wᵀ` of layers 1-3, then per layer from the last the
/// weight gradient `∂W = Δᵀ X` and (layers 3 and 2) the input gradient
/// `∂X = Δ W`.
const PRODUCTS: [&str; 8] = [
    "forward_1",
    "forward_2",
    "forward_3",
    "weight_gradient_3",
    "input_gradient_3",
    "weight_gradient_2",
    "input_gradient_2",
    "weight_gradient_1",
];

/// The fastest layout of each product on the machine at hand, read off the
/// `mnist_layout` group (benches/README.md has the table): the baseline
/// `sgemm_best` runs every product in its fastest layout. On the AMD EPYC
/// (AVX2 + FMA) of benches/README.md, with the other core idle: the forward
/// products and the weight gradient of layer 3 from a transposed copy of `W`
/// (`[in][out]`, which `matrixmultiply` packs from contiguous rows), the
/// input gradient of layer 3 from the copy and swapped, that of layer 2
/// swapped, the two larger weight gradients in the library's layout. (Where
/// the winner led by less than 3%, the library's layout is kept.)
const BEST: [Layout; 8] = {
    let in_out = Layout { in_out: true, swapped: false };
    let in_out_swapped = Layout { in_out: true, swapped: true };
    let swapped = Layout { in_out: false, swapped: true };
    [in_out, in_out, in_out, in_out, in_out_swapped, LIBRARY, swapped, LIBRARY]
};

/// The matrices the baseline products read and write.
struct Buffers {
    /// The rows of the batch the products run on.
    rows: usize,
    h1: Vec<f32>,
    h2: Vec<f32>,
    y: Vec<f32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
    d3: Vec<f32>,
    /// The weights stored `[in][out]`, for the layouts that want them so.
    w1t: Vec<f32>,
    w2t: Vec<f32>,
    w3t: Vec<f32>,
    /// The weight gradients, in a value of the model's type (so that an
    /// optimizer can take them).
    grads: Box<Net>,
}

impl Buffers {
    fn new(net: &Net) -> Self {
        Self::with_rows(net, BATCH)
    }

    /// The buffers of a batch of `rows` rows.
    fn with_rows(net: &Net, rows: usize) -> Self {
        let v = |n| vec![0.5f32; n];
        fn transposed<const IN: usize, const OUT: usize>(w: &[[f32; IN]; OUT]) -> Vec<f32> {
            (0..IN * OUT).map(|k| w[k % OUT][k / OUT]).collect()
        }
        Buffers {
            rows,
            h1: v(rows * 128),
            h2: v(rows * 64),
            y: v(rows * 10),
            d1: v(rows * 128),
            d2: v(rows * 64),
            d3: v(rows * 10),
            w1t: transposed(&net.0.weights),
            w2t: transposed(&net.1.weights),
            w3t: transposed(&net.2.weights),
            grads: Box::<Net>::zeroed(),
        }
    }

    /// Product `p` of [`PRODUCTS`] in layout `l`, on the input batch `x`.
    fn product(&mut self, p: usize, l: Layout, net: &Net, x: &[f32]) {
        let Buffers { rows, h1, h2, y, d1, d2, d3, w1t, w2t, w3t, grads } = self;
        let rows = *rows;
        let (w1, w2, w3) =
            (net.0.weights.as_flattened(), net.1.weights.as_flattened(), net.2.weights.as_flattened());
        // `W` as the operand of `X Wᵀ` (`Wᵀ`, IN × OUT) and of `Δ W` (OUT × IN).
        let wt = |w: &'static str| -> (&[f32], usize, usize) {
            match (w, l.in_out) {
                ("1", false) => (w1, 1, 784),
                ("1", true) => (&w1t[..], 128, 1),
                ("2", false) => (w2, 1, 128),
                ("2", true) => (&w2t[..], 64, 1),
                ("3", false) => (w3, 1, 64),
                (_, _) => (&w3t[..], 10, 1),
            }
        };
        let w = |w: &'static str| -> (&[f32], usize, usize) {
            match (w, l.in_out) {
                ("2", false) => (w2, 128, 1),
                ("2", true) => (&w2t[..], 1, 64),
                ("3", false) => (w3, 64, 1),
                (_, _) => (&w3t[..], 1, 10),
            }
        };
        // `∂W` (OUT × IN) stored `[out][in]` or `[in][out]`.
        let strides = |inputs: usize, outputs: usize| if l.in_out { (1, outputs) } else { (inputs, 1) };
        let s = l.swapped;
        match p {
            0 => gemm(rows, 784, 128, (x, 784, 1), wt("1"), (h1, 128, 1), s),
            1 => gemm(rows, 128, 64, (h1, 128, 1), wt("2"), (h2, 64, 1), s),
            2 => gemm(rows, 64, 10, (h2, 64, 1), wt("3"), (y, 10, 1), s),
            3 => {
                let (r, c) = strides(64, 10);
                gemm(10, rows, 64, (d3, 1, 10), (h2, 64, 1), (grads.2.weights.as_flattened_mut(), r, c), s)
            }
            4 => gemm(rows, 10, 64, (d3, 10, 1), w("3"), (d2, 64, 1), s),
            5 => {
                let (r, c) = strides(128, 64);
                gemm(64, rows, 128, (d2, 1, 64), (h1, 128, 1), (grads.1.weights.as_flattened_mut(), r, c), s)
            }
            6 => gemm(rows, 64, 128, (d2, 64, 1), w("2"), (d1, 128, 1), s),
            _ => {
                let (r, c) = strides(784, 128);
                gemm(128, rows, 784, (d1, 1, 128), (x, 784, 1), (grads.0.weights.as_flattened_mut(), r, c), s)
            }
        }
    }

    /// The three forward products `H = X Wᵀ`, each in its layout.
    fn forward_in(&mut self, net: &Net, x: &[f32], layouts: &[Layout; 8]) {
        for p in 0..3 {
            self.product(p, layouts[p], net, x);
        }
    }

    /// The five backward products, each in its layout.
    fn backward_in(&mut self, net: &Net, x: &[f32], layouts: &[Layout; 8]) {
        for p in 3..8 {
            self.product(p, layouts[p], net, x);
        }
    }

    /// The three forward products in the library's layout and strides.
    fn forward(&mut self, net: &Net, x: &[f32]) {
        self.forward_in(net, x, &[LIBRARY; 8]);
    }

    /// The five backward products in the library's layout and strides.
    fn backward(&mut self, net: &Net, x: &[f32]) {
        self.backward_in(net, x, &[LIBRARY; 8]);
    }
}

/// The baselines compute what the library computes.
fn check(net: &Net, x: &[[f32; 784]]) {
    let hand = HandNet::from_library(net);
    let mut workspace = Workspace::<Net>::new();
    let batched = workspace.forward(net, x).to_vec();
    let mut buffers = Buffers::new(net);
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
    // Every layout computes the same products (weight gradients stored
    // `[in][out]` read back transposed).
    let results = |layout: Layout| {
        let mut b = Buffers::new(net);
        b.forward_in(net, x.as_flattened(), &[layout; 8]);
        b.backward_in(net, x.as_flattened(), &[layout; 8]);
        let mut all = [&b.h1, &b.h2, &b.y, &b.d1, &b.d2].map(|v| v.to_vec()).concat();
        let g = &b.grads;
        for (w, rows, cols) in [
            (g.0.weights.as_flattened(), 128, 784),
            (g.1.weights.as_flattened(), 64, 128),
            (g.2.weights.as_flattened(), 10, 64),
        ] {
            let at = |o: usize, i: usize| if layout.in_out { w[i * rows + o] } else { w[o * cols + i] };
            all.extend((0..rows * cols).map(|k| at(k / cols, k % cols)));
        }
        all
    };
    let want = results(LIBRARY);
    for (name, layout) in LAYOUTS {
        for (k, (g, w)) in results(layout).iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "layout {name}, element {k}: {g} vs {w}");
        }
    }
}

/// 256 distinct batches of 64 inputs (and their labels), as a data set is
/// read: the streaming forms of W3 and W5.
const STREAM: usize = 256;

fn stream() -> (Vec<Vec<[f32; 784]>>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED + 1);
    let batches = (0..STREAM)
        .map(|_| {
            (0..BATCH)
                .map(|_| core::array::from_fn(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32))
                .collect()
        })
        .collect();
    (batches, (0..BATCH).map(|k| k % 10).collect())
}

fn mnist_train(c: &mut Criterion) {
    let (x, labels) = data();
    check(&net(), &x);
    let mut group = c.benchmark_group("mnist_train");
    group.throughput(Throughput::Elements(BATCH as u64));

    group.bench_function("backprop", |b| {
        let mut trainer = Trainer::new();
        b.iter(|| trainer.step(&x, &labels));
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

    // The products alone, in the library's layout and in the fastest
    // ones, and each followed by the library's Adam step.
    for (name, layouts, with_adam) in [
        ("sgemm", &[LIBRARY; 8], false),
        ("sgemm_adam", &[LIBRARY; 8], true),
        ("sgemm_best", &BEST, false),
        ("sgemm_best_adam", &BEST, true),
    ] {
        group.bench_function(name, |b| {
            let mut net = net();
            let mut buffers = Buffers::new(&net);
            let mut adam = Adam::new(1e-3);
            let x = x.as_flattened();
            b.iter(|| {
                buffers.forward_in(&net, black_box(x), layouts);
                buffers.backward_in(&net, black_box(x), layouts);
                if with_adam {
                    adam.step(&mut net, &buffers.grads);
                }
            });
            black_box((&net, &buffers.grads));
        });
    }

    // Streaming: a new batch every step, cycling through 256.
    let (batches, labels) = stream();
    group.bench_function("backprop_stream", |b| {
        let mut trainer = Trainer::new();
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % STREAM;
            trainer.step(&batches[k], &labels)
        });
    });

    group.bench_function("sgemm_best_stream", |b| {
        let net = net();
        let mut buffers = Buffers::new(&net);
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % STREAM;
            let x = batches[k].as_flattened();
            buffers.forward_in(&net, black_box(x), &BEST);
            buffers.backward_in(&net, black_box(x), &BEST);
        });
        black_box(&buffers.grads);
    });
    group.finish();
}

/// Each of the eight products of a W3 step alone, in each of the four
/// layouts ([`LAYOUTS`]): which one `matrixmultiply` runs fastest.
fn mnist_layout(c: &mut Criterion) {
    let (x, _) = data();
    let net = net();
    let mut group = c.benchmark_group("mnist_layout");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut buffers = Buffers::new(&net);
    let x = x.as_flattened();
    for (p, product) in PRODUCTS.iter().enumerate() {
        for (name, layout) in LAYOUTS {
            group.bench_function(format!("{product}/{name}"), |b| {
                b.iter(|| buffers.product(p, layout, &net, black_box(x)));
            });
        }
    }
    group.finish();
}

/// W3 at a batch of 256 through `fit` on 1, 2 and 3 threads: one iteration
/// is one `fit` call of 2 epochs over 16 distinct, unshuffled batches
/// (4096 samples), Adam lr 1e-3; `step` is the unsharded
/// `Workspace::train_step` on the same batches, one after the other.
/// The products of one `fit` call of `mnist_train_256` (`steps` steps of
/// the batches of 256 rows in `x`), each step's batch as two shards of 128
/// rows in the library's layout, shard 1 on a second thread when `threads`
/// is 2; after each step, if `adam` is given, the library's Adam on the
/// calling thread with shard 0's gradients (the serial part any exact
/// implementation has). The ceiling of threaded `fit` on the machine at
/// hand: what the products alone gain from a second core.
fn sharded_products(
    net: &RwLock<Box<Net>>,
    x: &[[f32; 784]],
    buffers: &mut [Buffers; 2],
    mut adam: Option<&mut Adam<Net>>,
    threads: usize,
    steps: usize,
) {
    let batches = x.len() / 256;
    let shard = |step: usize, s: usize| {
        let first = (step % batches) * 256 + s * 128;
        x[first..first + 128].as_flattened()
    };
    let [b0, b1] = buffers;
    let products = |b: &mut Buffers, x: &[f32]| {
        let net = net.read().expect("no panic while held");
        b.forward(&net, black_box(x));
        b.backward(&net, black_box(x));
    };
    if threads == 1 {
        for step in 0..steps {
            products(b0, shard(step, 0));
            products(b1, shard(step, 1));
            if let Some(adam) = adam.as_deref_mut() {
                adam.step(&mut net.write().expect("no panic while held"), &b0.grads);
            }
        }
        return;
    }
    let barrier = SpinBarrier::default();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for step in 0..steps {
                products(b1, shard(step, 1));
                barrier.wait();
                barrier.wait();
            }
        });
        for step in 0..steps {
            products(b0, shard(step, 0));
            barrier.wait();
            if let Some(adam) = adam.as_deref_mut() {
                adam.step(&mut net.write().expect("no panic while held"), &b0.grads);
            }
            barrier.wait();
        }
    });
}

/// A barrier for two threads that spins instead of sleeping: the waits of
/// `sharded_products` last about one shard's products at most, and a
/// sleeping barrier (`std::sync::Barrier`) would add the wake-up of a
/// sleeping thread, on a VM of a halted virtual CPU, to every step of the
/// baseline (`fit`'s threads spin before they sleep for the same reason).
#[derive(Default)]
struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) == 1 {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        } else {
            while self.generation.load(Ordering::Acquire) == generation {
                std::hint::spin_loop();
            }
        }
    }
}

fn mnist_train_256(c: &mut Criterion) {
    const ROWS: usize = 256;
    const BATCHES: usize = 16;
    const EPOCHS: usize = 2;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED + 2);
    let x: Vec<[f32; 784]> = (0..ROWS * BATCHES)
        .map(|_| core::array::from_fn(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32))
        .collect();
    let labels: Vec<usize> = (0..x.len()).map(|k| k % 10).collect();
    let mut group = c.benchmark_group("mnist_train_256");
    group.sample_size(10);

    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("step", |b| {
        let mut trainer = Trainer::new();
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % BATCHES;
            let rows = k * ROWS..(k + 1) * ROWS;
            trainer.step(&x[rows.clone()], &labels[rows])
        });
    });

    group.throughput(Throughput::Elements((ROWS * BATCHES * EPOCHS) as u64));
    for (name, threads, with_adam) in [
        ("sgemm_1_thread", 1, false),
        ("sgemm_2_threads", 2, false),
        ("sgemm_adam_1_thread", 1, true),
        ("sgemm_adam_2_threads", 2, true),
    ] {
        group.bench_function(name, |b| {
            let net = RwLock::new(net());
            let mut buffers = [0, 1].map(|_| Buffers::with_rows(&net.read().expect("fresh"), 128));
            let mut adam = Adam::new(1e-3);
            b.iter(|| {
                let adam = if with_adam { Some(&mut adam) } else { None };
                sharded_products(&net, &x, &mut buffers, adam, threads, BATCHES * EPOCHS)
            });
            black_box(&buffers[1].grads);
        });
    }
    for threads in [1, 2, 3] {
        group.bench_function(format!("fit_{threads}_threads"), |b| {
            let mut net = net();
            let mut adam = Adam::new(1e-3);
            let options = FitOptions {
                epochs: EPOCHS,
                batch_size: ROWS,
                shuffle: false,
                threads,
                ..Default::default()
            };
            let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
            b.iter(|| {
                net.fit(black_box(&x), &labels, &SoftmaxCrossEntropy, &mut adam, options, &mut rng)
                    .expect("finite loss")
            });
        });
    }
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

/// The batch `x` through `Workspace::forward` and through `Frozen::forward`,
/// as the functions `names`.
fn batch_forward(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    names: [&str; 2],
    x: &[[f32; 784]],
) {
    group.bench_function(names[0], |b| {
        let net = net();
        let mut workspace = Workspace::new();
        b.iter(|| black_box(workspace.forward(&net, black_box(x))[0]));
    });
    group.bench_function(names[1], |b| {
        let mut frozen = Frozen::new(net());
        b.iter(|| black_box(frozen.forward(black_box(x))[0]));
    });
}

fn mnist_infer_64(c: &mut Criterion) {
    let (x, _) = data();
    let mut group = c.benchmark_group("mnist_infer_64");
    group.throughput(Throughput::Elements(BATCH as u64));

    batch_forward(&mut group, ["backprop", "frozen"], &x);

    group.bench_function("per_sample", |b| {
        let net = net();
        let mut outputs = vec![[0.0f32; 10]; BATCH];
        b.iter(|| net.predict_into(black_box(&x), &mut outputs));
    });

    group.bench_function("sgemm", |b| {
        let net = net();
        let mut buffers = Buffers::new(&net);
        b.iter(|| buffers.forward(&net, black_box(x.as_flattened())));
        black_box(&buffers.y);
    });

    group.bench_function("sgemm_best", |b| {
        let net = net();
        let mut buffers = Buffers::new(&net);
        b.iter(|| buffers.forward_in(&net, black_box(x.as_flattened()), &BEST));
        black_box(&buffers.y);
    });

    let (batches, _) = stream();
    group.bench_function("backprop_stream", |b| {
        let net = net();
        let mut workspace = Workspace::new();
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % STREAM;
            black_box(workspace.forward(&net, black_box(&batches[k]))[0])
        });
    });

    group.bench_function("frozen_stream", |b| {
        let mut frozen = Frozen::new(net());
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % STREAM;
            black_box(frozen.forward(black_box(&batches[k]))[0])
        });
    });

    group.bench_function("sgemm_best_stream", |b| {
        let net = net();
        let mut buffers = Buffers::new(&net);
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % STREAM;
            buffers.forward_in(&net, black_box(batches[k].as_flattened()), &BEST)
        });
        black_box(&buffers.y);
    });
    group.finish();
}

/// What freezing costs and what it saves `predict`: making a `Frozen` of
/// the W3 net (the transposed copies; the model's clone is outside the
/// timed routine), and one block of `PREDICT_BATCH` rows through
/// `Workspace::forward` and through `Frozen::forward`.
fn mnist_freeze(c: &mut Criterion) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED + 3);
    let x: Vec<[f32; 784]> = (0..PREDICT_BATCH)
        .map(|_| core::array::from_fn(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32))
        .collect();
    let mut group = c.benchmark_group("mnist_freeze");
    group.bench_function("frozen_new", |b| {
        let net = net();
        b.iter_batched(|| net.clone(), Frozen::new, criterion::BatchSize::LargeInput);
    });
    batch_forward(&mut group, ["block_workspace", "block_frozen"], &x);
    group.finish();
}

criterion_group!(
    benches,
    mnist_train,
    mnist_infer_1,
    mnist_infer_64,
    mnist_layout,
    mnist_train_256,
    mnist_freeze
);
criterion_main!(benches);
