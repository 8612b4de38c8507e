//! `fit` on the digits data: the training of `examples/07_digits.rs`, timed.
//!
//! The net is the example's, `64 → 128 (ReLU) → 10`, `f32`, softmax
//! cross-entropy on class indices, Adam (lr 0.003), mini-batches of 32,
//! shuffled every epoch. The data is the whole fixed digits training split
//! (`data/digits.csv` rows listed in `data/digits_train_idx.txt`, 1438
//! images), standardised with its own mean and standard deviation. No
//! validation set and a constant learning rate, so one iteration is pure
//! training.
//!
//! * `digits_fit/fit`: one iteration is one call of `net.fit(..)` with
//!   `epochs: EPOCHS` (1): shuffling, 45 mini-batch steps (44 of 32 samples,
//!   one of 30), the divergence checks and the history. The net, the
//!   optimizer and the generator carry over from one iteration to the next,
//!   so the net keeps training (the cost of a step does not depend on the
//!   weights).
//! * `digits_fit/train_epoch`: the same epoch through `train_epoch`, the
//!   allocation-free loop without shuffling, per-step divergence checks or
//!   history: what `fit` costs over the bare steps.
//!
//! Throughput: each group declares `Throughput::Elements(n × EPOCHS)` with
//! `n` = 1438 training samples, so
//!
//! ```text
//! time per iteration = time for EPOCHS epochs over the n samples   (criterion's `time:`)
//! samples/s          = n × EPOCHS / (time per iteration)            (criterion's `thrpt:`, "elem/s")
//! ```
//!
//! where one sample is one forward pass with a tape, one loss gradient and
//! one backward pass, plus its 1/32 share of an Adam step.
//!
//! Run: `cargo bench --bench fit` (quicker:
//! `cargo bench --bench fit -- --warm-up-time 1 --measurement-time 3`).

use std::hint::black_box;

use backprop::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../examples/common/mod.rs"]
mod common;

/// The net of `examples/07_digits.rs`.
type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);

const SEED: u64 = 7;
const EPOCHS: usize = 1;
const BATCH: usize = 32;
const LR: f64 = 0.003;

fn fit(c: &mut Criterion) {
    let (mut train, _test) = common::load_split::<64>("digits").expect("the digits data in data/");
    common::Standardiser::fit(&train.features).apply(&mut train.features);
    let n = train.len();

    let mut group = c.benchmark_group("digits_fit");
    group.throughput(Throughput::Elements((n * EPOCHS) as u64));

    group.bench_function("fit", |b| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
        let mut net: Net = Model::init(&mut rng);
        let mut adam = Adam::new(LR);
        b.iter(|| {
            let options = FitOptions { epochs: EPOCHS, batch_size: BATCH, ..Default::default() };
            net.fit(
                black_box(&train.features),
                &train.labels,
                &SoftmaxCrossEntropy,
                &mut adam,
                options,
                &mut rng,
            )
            .expect("training does not diverge")
        });
        black_box(&net);
    });

    group.bench_function("train_epoch", |b| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(SEED);
        let mut net: Net = Model::init(&mut rng);
        let mut grads = Net::zeroed();
        let mut adam = Adam::new(LR);
        b.iter(|| {
            for _ in 0..EPOCHS {
                net.train_epoch(
                    black_box(&train.features),
                    &train.labels,
                    &SoftmaxCrossEntropy,
                    &mut adam,
                    &mut grads,
                    BATCH,
                    Clip::None,
                )
                .expect("training does not diverge");
            }
        });
        black_box(&net);
    });

    group.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
