//! Where the matrix product starts to pay: one `Dense` layer's training pass
//! over a batch (forward, then backward with the input gradient), through
//! `matrixmultiply` (`gemm`) and row by row through the per-sample kernels
//! (`rows`), for a range of layer shapes and batch sizes. The rule
//! `backprop::batch::gemm_pays` is read off these numbers.
//!
//! Each group is one shape `IN×OUT`; each benchmark id is `path/rows`, and
//! declares `Throughput::Elements(rows)`, so
//!
//! ```text
//! time  = ns per batch (one forward and one backward of `rows` rows)
//! thrpt = rows per second
//! ```
//!
//! Run: `cargo bench --bench batch --features calibration` (about four
//! minutes; the feature exposes the two paths side by side); one shape:
//! `cargo bench --bench batch --features calibration -- 64x64`.

use std::hint::black_box;

use backprop::batch::gemm_pays;
use backprop::calibration::{train_pass, Tape};
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

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_millis(800)).sample_size(30);
    targets = shapes
}
criterion_main!(benches);
