//! Workload W8 `int8_infer_1`: the digits MLP `64 → 128 (ReLU) → 10`,
//! quantized to int8, forward pass of one sample to its logits, against the
//! same net's `f32` forward pass in the same run.
//!
//! * `f32`: [`Forward::forward`] of the float net, `[f32; 64]` → `[f32; 10]`.
//! * `int8`: [`Int8Model::forward`] of its int8 form, `[i8; 64]` → `[i8; 10]`
//!   (integer arithmetic only; the input is quantized once, outside the
//!   loop, as a sensor pipeline would hand the codes over).
//! * `int8_from_f32`: quantize the `f32` input, integer forward pass,
//!   argmax: what [`Int8Model::classify`] does per sample.
//!
//! The inputs cycle through 64 distinct images so that the branch predictor
//! cannot learn one. The ratio that matters, int8 ÷ f32, is read from one
//! run (the machines are shared and noisy).
//!
//! Run: `cargo bench --bench int8`.

use backprop::prelude::*;
use backprop::quant::{Int8Model, Quantize, Quantized};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);

/// A net with trained-like weights (He initialisation) and 64 inputs shaped
/// like standardised digit images (values in about [-2, 3]).
fn setup() -> (Net, Quantized<Net>, Vec<[f32; 64]>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(8);
    let net: Net = Model::init(&mut rng);
    let inputs: Vec<[f32; 64]> = (0..64u32)
        .map(|s| core::array::from_fn(|i| ((s * 31 + i as u32 * 17) % 50) as f32 / 10.0 - 2.0))
        .collect();
    let int8 = match net.quantize(&inputs) {
        Ok(q) => q,
        Err(e) => panic!("quantizing the W8 net: {e}"),
    };
    (net, int8, inputs)
}

fn int8_infer_1(c: &mut Criterion) {
    let (net, int8, inputs) = setup();
    let codes: Vec<[i8; 64]> = inputs.iter().map(|x| int8.quantize_input(x).expect("finite input")).collect();
    let mut group = c.benchmark_group("int8_infer_1");
    group.throughput(Throughput::Elements(1));
    group.bench_function("f32", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % inputs.len();
            black_box(net.forward(black_box(&inputs[k])))
        })
    });
    group.bench_function("int8", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % codes.len();
            black_box(int8.forward(black_box(&codes[k])))
        })
    });
    group.bench_function("int8_from_f32", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % inputs.len();
            black_box(int8.classify(black_box(&inputs[k])))
        })
    });
    group.finish();
}

criterion_group!(benches, int8_infer_1);
criterion_main!(benches);
