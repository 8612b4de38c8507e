//! The batched path against the per-sample path, in `f32` and `f64`; and
//! the allocations of a batched training step, counted.
//!
//! The per-sample path is the reference: its forward pass and its gradients
//! (summed sample by sample, then divided by the batch size) are what the
//! batched path must reproduce, up to the rounding of a different summation
//! order. The nets mix layers wide enough for a matrix product
//! ([`gemm_pays`]) with narrow ones that run row by row, so both kinds of
//! layer, and the hand-over between them, are checked.

use backprop::batch::gemm_pays;
use backprop::prelude::*;
use num_traits::ToPrimitive;

/// 96 → 64 (matrix product from 8 rows on) → 48 (product) → 5 (rows).
type Wide<T> = (Dense<96, 64, Tanh, T>, Dense<64, 48, ReLU, T>, Dense<48, 5, Identity, T>);
/// A narrow first layer, then a wide one: the product's input comes from
/// row-by-row code and its input gradient goes back to it.
type NarrowWide<T> = (Dense<3, 80, Sigmoid, T>, Dense<80, 60, Gelu, T>, Dense<60, 2, Identity, T>);

mod synthetic;
use synthetic::{data, labels};

fn flat<M: Params>(model: &M) -> Vec<f64> {
    let mut all = Vec::new();
    model.for_each_tensor(|p| all.extend(p.iter().map(|v| v.to_f64().unwrap())));
    all
}

/// `|got - want| ≤ tol · (|want| + 1)` everywhere, with a readable failure.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let error = (g - w).abs();
        assert!(
            error <= tol * (w.abs() + 1.0),
            "{what}[{k}]: batched {g:e}, per-sample {w:e}, difference {error:e}"
        );
    }
}

/// Forward and gradient of the batched path against the per-sample path,
/// for batches of several sizes.
fn agrees<M, T, const IN: usize, const N: usize>(tol: f64)
where
    M: Model<Input = [T; IN], Output = [T; N]> + Train<T, IN, N> + Clone,
    T: Float + 'static,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let net: M = Model::init(&mut rng);
    let mut workspace = Workspace::<M>::new();
    for rows in [1, 3, 8, 17, 64] {
        let x = data::<T, IN>(rows, rows as u64);
        let y = labels(rows, N);

        let batched: Vec<f64> =
            workspace.forward(&net, &x).iter().flatten().map(|v| v.to_f64().unwrap()).collect();
        let single: Vec<f64> = x.iter().flat_map(|x| net.forward(x)).map(|v| v.to_f64().unwrap()).collect();
        assert_close(&format!("outputs, {rows} rows"), &batched, &single, tol);

        let mut grads = M::zeroed();
        assert!(grads.set_param(0, T::from(123.0).unwrap())); // replaced, not added to
        let loss = workspace.gradient(&net, &x, &y, &SoftmaxCrossEntropy, &mut grads).unwrap();
        let (mut reference, mut want) = (net.clone(), M::zeroed());
        let mut sgd = Sgd::new(1.0);
        let want_loss =
            reference.train_step(&x, &y, &SoftmaxCrossEntropy, &mut sgd, &mut want, Clip::None).unwrap();
        assert_close(
            &format!("loss, {rows} rows"),
            &[loss.to_f64().unwrap()],
            &[want_loss.to_f64().unwrap()],
            tol,
        );
        assert_close(&format!("gradients, {rows} rows"), &flat(&grads), &flat(&want), tol);
    }
}

#[test]
fn batched_path_agrees_with_the_per_sample_path() {
    assert!(gemm_pays(8, 96, 64) && gemm_pays(8, 64, 48) && !gemm_pays(64, 48, 5) && !gemm_pays(7, 96, 64));
    assert!(!gemm_pays(64, 3, 80) && gemm_pays(8, 80, 60));
    agrees::<Wide<f64>, f64, 96, 5>(1e-12);
    agrees::<Wide<f32>, f32, 96, 5>(2e-5);
    agrees::<NarrowWide<f64>, f64, 3, 2>(1e-12);
    agrees::<NarrowWide<f32>, f32, 3, 2>(2e-5);
}

/// A training step of the batched path is a training step of the
/// per-sample path, and `fit` with mini-batches wide enough for the
/// batched path trains like a loop of per-sample steps.
#[test]
fn train_step_and_fit() {
    // Boxed: an f64 net of this size, its gradients and Adam's three moments
    // would crowd a debug-mode test thread's stack.
    type Net = Box<Wide<f64>>;
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(8);
    let net: Net = Model::init(&mut rng);
    let x = data::<f64, 96>(48, 1);
    let y = labels(48, 5);

    let (mut batched, mut single) = (net.clone(), net.clone());
    let (mut adam_b, mut adam_s) = (Adam::<Net>::new(1e-2), Adam::<Net>::new(1e-2));
    let (mut g_b, mut g_s) = (Net::zeroed(), Net::zeroed());
    let mut workspace = Workspace::new();
    for _ in 0..3 {
        let lb = workspace.train_step(
            &mut batched,
            &x,
            &y,
            &SoftmaxCrossEntropy,
            &mut adam_b,
            &mut g_b,
            Clip::Norm(1.0),
        );
        let ls = single.train_step(&x, &y, &SoftmaxCrossEntropy, &mut adam_s, &mut g_s, Clip::Norm(1.0));
        assert_close("step loss", &[lb.unwrap()], &[ls.unwrap()], 1e-12);
    }
    // Adam divides by √v, which is tiny for gradients near zero: compare
    // the weights with an absolute tolerance of a few rounding errors of
    // the step size.
    assert_close("weights after 3 Adam steps", &flat(&batched), &flat(&single), 1e-9);

    // fit, unshuffled, batches of 16: three matrix-product steps per epoch.
    assert!(gemm_pays(16, 96, 64));
    let mut fitted = net.clone();
    let options = FitOptions { epochs: 2, batch_size: 16, shuffle: false, ..Default::default() };
    fitted.fit(&x, &y, &SoftmaxCrossEntropy, &mut Sgd::new(0.1), options, &mut rng).unwrap();
    let mut by_hand = net.clone();
    let (mut sgd, mut grads) = (Sgd::new(0.1), Net::zeroed());
    for _ in 0..2 {
        for (x, y) in x.chunks(16).zip(y.chunks(16)) {
            by_hand.train_step(x, y, &SoftmaxCrossEntropy, &mut sgd, &mut grads, Clip::None).unwrap();
        }
    }
    assert_close("fit weights", &flat(&fitted), &flat(&by_hand), 1e-12);

    // Shuffled: the same with the rows gathered in the generator's order.
    let options = FitOptions { epochs: 1, batch_size: 16, ..Default::default() };
    let (mut a, mut b) = (net.clone(), net.clone());
    a.fit(
        &x,
        &y,
        &SoftmaxCrossEntropy,
        &mut Sgd::new(0.1),
        options,
        &mut Xoshiro128PlusPlus::seed_from_u64(3),
    )
    .unwrap();
    let mut order: Vec<usize> = (0..48).collect();
    let (mut xs, mut ys) = (x.clone(), y.clone());
    let mut shuffler = Xoshiro128PlusPlus::seed_from_u64(3);
    backprop::train::shuffle_together(&mut order, &mut [(); 48], &mut shuffler).unwrap();
    for (k, &i) in order.iter().enumerate() {
        xs[k] = x[i];
        ys[k] = y[i];
    }
    for (x, y) in xs.chunks(16).zip(ys.chunks(16)) {
        b.train_step(x, y, &SoftmaxCrossEntropy, &mut Sgd::new(0.1), &mut grads, Clip::None).unwrap();
    }
    assert_close("shuffled fit weights", &flat(&a), &flat(&b), 1e-12);

    // predict goes through the batched path too.
    let predicted = net.predict(&x);
    let one_by_one: Vec<[f64; 5]> = x.iter().map(|x| net.forward(x)).collect();
    assert_close("predict", predicted.as_flattened(), one_by_one.as_flattened(), 1e-12);
}

#[test]
fn errors_instead_of_panics() {
    type Net = Wide<f32>;
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let mut workspace = Workspace::new();
    let mut grads = Net::zeroed();
    let x = data::<f32, 96>(4, 1);
    let err = workspace.gradient(&net, &x, &labels(3, 5), &SoftmaxCrossEntropy, &mut grads).unwrap_err();
    assert!(matches!(err, Error::LengthMismatch { .. }), "{err}");
    let err = workspace.gradient(&net, &[], &[], &SoftmaxCrossEntropy, &mut grads).unwrap_err();
    assert!(matches!(err, Error::EmptyData { .. }), "{err}");
    let mut diverging = net;
    diverging.2.bias[0] = f32::INFINITY;
    let err = workspace
        .train_step(
            &mut diverging,
            &x,
            &labels(4, 5),
            &SoftmaxCrossEntropy,
            &mut Sgd::new(0.1),
            &mut grads,
            Clip::None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
}

// ---------------------------------------------------------------------------
// Allocation accounting
// ---------------------------------------------------------------------------

mod common;
use common::allocations_in;

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

/// The W3 net of `benches/mnist.rs`: 784 → 128 (ReLU) → 64 (ReLU) → 10.
type Mnist = (Dense<784, 128, ReLU>, Dense<128, 64, ReLU>, Dense<64, 10, Identity>);

/// A batched training step of the W3 net (batch 64, Adam) allocates only
/// `matrixmultiply`'s packing buffers, one per matrix product, once the
/// workspace has been through one step: 8 per step.
///
/// At 64 rows all three layers are products ([`gemm_pays`]). Forward: one
/// product per layer (3). Backward: the weight gradient of every layer (3)
/// and the input gradient of layers 3 and 2 (2); layer 1's input gradient is
/// not computed. 3 + 3 + 2 = 8.
#[test]
fn a_batched_training_step_allocates_eight_packing_buffers() {
    assert!(gemm_pays(64, 784, 128) && gemm_pays(64, 128, 64) && gemm_pays(64, 64, 10));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    let mut net: Box<Mnist> = Model::init(&mut rng);
    let mut grads = Box::<Mnist>::zeroed();
    let mut adam = Adam::new(1e-3);
    let x = data::<f32, 784>(64, 4);
    let y = labels(64, 10);
    let mut workspace = Workspace::new();

    let first = allocations_in(|| {
        workspace
            .train_step(&mut net, &x, &y, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
            .unwrap();
    });
    assert!(first > 8, "the first step sizes the workspace ({first} allocations)");
    for step in 0..3 {
        let n = allocations_in(|| {
            workspace
                .train_step(&mut net, &x, &y, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
                .unwrap();
        });
        assert_eq!(n, 8, "step {step}: one packing buffer per matrix product, nothing else");
    }
    // A smaller last batch reuses the workspace: 8 again, nothing resized.
    let n = allocations_in(|| {
        workspace
            .train_step(&mut net, &x[..40], &y[..40], &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
            .unwrap();
    });
    assert_eq!(n, 8);
    // Batch inference: the three forward products.
    let n = allocations_in(|| {
        std::hint::black_box(workspace.forward(&net, &x));
    });
    assert_eq!(n, 3);
}
