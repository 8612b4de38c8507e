//! Where the matrix product starts to pay: one `Dense` layer's training pass
//! over a batch (forward, then backward with the input gradient), through
//! `matrixmultiply` (`gemm`) and row by row through the per-sample kernels
//! (`rows`), for a range of layer shapes and batch sizes. The rule
//! `backprop::batch::gemm_pays` is read off these numbers.
//!
//! The same for the convolutions: one `Conv2d` or `Conv1d` training pass,
//! each sample's convolution lowered to matrix products (`lowered`) or row
//! by row through the per-sample kernels (`rows`), with the input gradient
//! (`…/dx`) and without (`…/no_dx`, a first convolution's pass), at 2 and
//! 32 rows, for sixteen shapes. The rule of `src/conv/lowered.rs`
//! (`lowering_pays`) is read off these numbers. A group is named for its
//! shape: `conv2d CI×H×W→CO kK sS pP`.
//!
//! Each group is one shape `IN×OUT`; each benchmark id is `path/rows`, and
//! declares `Throughput::Elements(rows)`, so
//!
//! ```text
//! time  = ns per batch (one forward and one backward of `rows` rows)
//! thrpt = rows per second
//! ```
//!
//! Run: `cargo bench --bench batch --features calibration` (about seven
//! minutes; the feature exposes the two paths side by side); one shape:
//! `cargo bench --bench batch --features calibration -- 64x64`; the
//! convolutions: `-- conv`.

use std::hint::black_box;

use backprop::batch::gemm_pays;
use backprop::calibration::{
    conv1d_train_pass, conv2d_train_pass, conv_lowering_pays, train_pass, ConvTape, Tape,
};
use backprop::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const ROWS: [usize; 6] = [2, 4, 8, 16, 32, 64];

fn shape<const IN: usize, const OUT: usize>(c: &mut Criterion) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let layer: Box<Dense<IN, OUT, ReLU>> = Model::init(&mut rng);
    let mut grads = Box::<Dense<IN, OUT, ReLU>>::zeroed();
    let input: Vec<[f32; IN]> =
        (0..64).map(|r| core::array::from_fn(|i| ((r * 31 + i * 7) % 13) as f32 / 13.0)).collect();
    let mut d_input = [[0.0f32; IN]; 64];
    let mut tape = Tape::default();

    let mut group = c.benchmark_group(format!("{IN}x{OUT}"));
    for rows in ROWS {
        group.throughput(Throughput::Elements(rows as u64));
        for (path, gemm) in [("gemm", true), ("rows", false)] {
            group.bench_with_input(BenchmarkId::new(path, rows), &rows, |b, &rows| {
                b.iter(|| {
                    train_pass(
                        &layer,
                        black_box(&input[..rows]),
                        &mut tape,
                        &mut grads,
                        &mut d_input[..rows],
                        gemm,
                    )
                });
            });
        }
        // What the library chooses for this shape and batch size.
        black_box(gemm_pays(rows, IN, OUT));
    }
    group.finish();
}

fn shapes(c: &mut Criterion) {
    shape::<16, 16>(c);
    shape::<32, 32>(c);
    shape::<64, 10>(c);
    shape::<64, 32>(c);
    shape::<64, 64>(c);
    shape::<128, 64>(c);
    shape::<128, 128>(c);
    shape::<256, 32>(c);
    shape::<784, 16>(c);
    shape::<784, 128>(c);
}

const CONV_ROWS: [usize; 2] = [2, 32];

/// Inputs in [0, 1), distinct per row and position.
fn value(row: usize, at: usize) -> f32 {
    ((row * 31 + at * 7) % 13) as f32 / 13.0
}

fn conv2d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    c: &mut Criterion,
) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let layer: Box<Conv2d<CI, CO, K, S, P, H, W, HO, WO, ReLU>> = Model::init(&mut rng);
    let mut grads = layer.clone();
    let input: Vec<[[[f32; W]; H]; CI]> = (0..32)
        .map(|r| {
            core::array::from_fn(|i| {
                core::array::from_fn(|y| core::array::from_fn(|x| value(r, (i * H + y) * W + x)))
            })
        })
        .collect();
    let mut tape = ConvTape::default();
    let name = format!("conv2d {CI}x{H}x{W}->{CO} k{K} s{S} p{P}");
    conv_group(c, &name, input, (CI * K * K, CO, HO * WO), |x, d_x, lowered| {
        conv2d_train_pass(&layer, x, &mut tape, &mut grads, d_x, lowered)
    });
}

/// The bench group of one convolution shape: its training pass (`pass`:
/// the rows, the input gradient's buffer if wanted, lowered or not) on 2 and
/// 32 rows, lowered and row by row, with and without the input gradient.
fn conv_group<X: Clone>(
    c: &mut Criterion,
    name: &str,
    input: Vec<X>,
    (taps, outputs, positions): (usize, usize, usize),
    mut pass: impl FnMut(&[X], Option<&mut [X]>, bool),
) {
    let mut d_input = input.clone();
    let mut group = c.benchmark_group(name);
    for rows in CONV_ROWS {
        group.throughput(Throughput::Elements(rows as u64));
        for (path, lowered) in [("lowered", true), ("rows", false)] {
            for dx in [true, false] {
                let id = BenchmarkId::new(format!("{path}/{}", if dx { "dx" } else { "no_dx" }), rows);
                group.bench_with_input(id, &rows, |b, &rows| {
                    b.iter(|| {
                        let d_input = if dx { Some(&mut d_input[..rows]) } else { None };
                        pass(black_box(&input[..rows]), d_input, lowered)
                    });
                });
            }
        }
        // What the library chooses for this shape and batch size.
        black_box(conv_lowering_pays(rows, taps, outputs, positions));
    }
    group.finish();
}

fn conv1d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const L: usize,
    const LO: usize,
>(
    c: &mut Criterion,
) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let layer: Box<Conv1d<CI, CO, K, S, P, L, LO, ReLU>> = Model::init(&mut rng);
    let mut grads = layer.clone();
    let input: Vec<[[f32; L]; CI]> =
        (0..32).map(|r| core::array::from_fn(|i| core::array::from_fn(|t| value(r, i * L + t)))).collect();
    let mut tape = ConvTape::default();
    let name = format!("conv1d {CI}x{L}->{CO} k{K} s{S} p{P}");
    conv_group(c, &name, input, (CI * K, CO, LO), |x, d_x, lowered| {
        conv1d_train_pass(&layer, x, &mut tape, &mut grads, d_x, lowered)
    });
}

fn conv_shapes(c: &mut Criterion) {
    // Multiply-adds per row, CO·CI·K·K·HO·WO, from 162 to 307,200.
    conv2d::<1, 8, 3, 1, 1, 28, 28, 28, 28>(c); // W6's first
    conv2d::<8, 16, 3, 1, 1, 14, 14, 14, 14>(c); // W6's second
    conv2d::<1, 8, 3, 1, 1, 8, 8, 8, 8>(c);
    conv2d::<8, 16, 3, 1, 1, 4, 4, 4, 4>(c);
    conv2d::<8, 16, 3, 1, 0, 4, 4, 2, 2>(c);
    conv2d::<1, 2, 3, 1, 0, 6, 6, 4, 4>(c);
    conv2d::<16, 32, 3, 2, 1, 14, 14, 7, 7>(c);
    conv2d::<3, 16, 5, 1, 2, 16, 16, 16, 16>(c);
    conv2d::<2, 4, 3, 1, 1, 7, 7, 7, 7>(c);
    conv2d::<4, 8, 3, 1, 1, 8, 8, 8, 8>(c);
    conv1d::<1, 8, 5, 1, 2, 64, 64>(c);
    conv1d::<8, 16, 3, 1, 1, 32, 32>(c);
    conv1d::<16, 16, 3, 2, 1, 32, 16>(c);
    conv1d::<2, 3, 3, 1, 0, 11, 9>(c);
    conv1d::<4, 8, 3, 1, 1, 16, 16>(c);
    conv1d::<13, 32, 3, 1, 1, 49, 49>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(800)).sample_size(30);
    targets = shapes, conv_shapes
}
criterion_main!(benches);
