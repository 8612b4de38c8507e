//! The batched path of the convolutions (each sample's convolution lowered
//! to matrix products, `src/conv/lowered.rs`) against the per-sample path,
//! which is checked against finite differences (`tests/conv_gradients.rs`)
//! and PyTorch: forward outputs, parameter gradients written over garbage,
//! input gradients (through the layers in front of a convolution), 1-d and
//! 2-d, stride 1 and 2, "same", "valid" and wide padding, activations that
//! keep `Z` and ones that need only `A`; the W6 net's training step and
//! `fit` either way; and, by counting allocations, that the lowered path is
//! the one that ran and allocates only `matrixmultiply`'s packing buffers.
//!
//! The two paths sum in different orders, so they agree to rounding: in
//! `f64`, every value within 1e-12 of the reference, relative to the larger
//! of its own magnitude and the largest magnitude of its tensor (a sum with
//! cancellation is only as exact as its largest terms).

use backprop::prelude::*;
use rand::RngExt;

mod common;
use common::allocations_in;

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

const TOLERANCE: f64 = 1e-12;

/// Runs `f` on a thread with a stack large enough for the per-sample
/// path's tapes of the W6 net in `f64` in a debug build.
fn on_a_large_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(256 << 20).spawn(f).unwrap().join().unwrap();
}

/// `rows` inputs uniform in [-1, 1) and labels cycling through `0..classes`.
fn batch<const IN: usize>(rows: usize, classes: usize, seed: u64) -> (Vec<[f64; IN]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let x = (0..rows).map(|_| core::array::from_fn(|_| rng.random::<f64>() * 2.0 - 1.0)).collect();
    (x, (0..rows).map(|k| (k * 7 + 3) % classes).collect())
}

/// A model from `seed` with every bias non-zero (so that the bias passes are
/// checked too).
fn model<M: Model<Scalar = f64>>(seed: u64) -> Box<M> {
    let mut net: Box<M> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(seed));
    net.for_each_tensor_mut(|p| {
        if p.iter().all(|&v| v == 0.0) {
            for (k, v) in p.iter_mut().enumerate() {
                *v = 0.1 * (k as f64 + 1.0).sin();
            }
        }
    });
    net
}

/// Every parameter, in visiting order.
fn flat<M: Params<Scalar = f64>>(m: &M) -> Vec<Vec<f64>> {
    let mut v = Vec::new();
    m.for_each_tensor(|t| v.push(t.to_vec()));
    v
}

/// `got` within `TOLERANCE` of `want`, relative to the larger of `|want|`
/// and the largest `|want|` of the tensor.
fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let diff = (g - w).abs();
        assert!(
            diff <= TOLERANCE * w.abs().max(scale),
            "{what}[{k}]: {g} vs {w} (difference {diff:e}, tensor scale {scale:e})"
        );
    }
}

fn assert_params_close<M: Params<Scalar = f64>>(what: &str, got: &M, want: &M) {
    for (t, (g, w)) in flat(got).iter().zip(&flat(want)).enumerate() {
        assert_close(&format!("{what}, tensor {t}"), g, w);
    }
}

/// The mean softmax cross-entropy gradient over the batch by the
/// per-sample path: `forward_tape` and `backward` sample by sample, each
/// with `(1/B) ∂L_b/∂y_b`.
fn per_sample_gradient<M, const IN: usize, const N: usize>(
    net: &M,
    x: &[[f64; IN]],
    labels: &[usize],
) -> Box<M>
where
    M: Model<Input = [f64; IN], Output = [f64; N], Scalar = f64> + Backward,
{
    let mut grads = Box::<M>::zeroed();
    let inverse = 1.0 / x.len() as f64;
    for (x, t) in x.iter().zip(labels) {
        let (y, tape) = net.forward_tape(x);
        let d_y = SoftmaxCrossEntropy.gradient(&y, t).map(|g| g * inverse);
        net.backward(&tape, &d_y, &mut grads);
    }
    grads
}

/// The batched path's forward pass and gradient against the per-sample
/// path's, for a batch of `rows` rows; the gradient is written over NaN
/// (`WRITE`: nothing of the old contents may leak in). Returns the number
/// of allocations of a second gradient computation (the workspace sized by
/// the first): the matrix products' packing buffers.
fn check<M, const IN: usize, const N: usize>(name: &str, rows: usize, seed: u64) -> usize
where
    M: Model<Input = [f64; IN], Output = [f64; N], Scalar = f64> + Backward,
{
    let net = model::<M>(seed);
    let (x, labels) = batch::<IN>(rows, N, seed + 100);
    let mut workspace = Workspace::<M>::new();

    let batched = workspace.forward(&net, &x).to_vec();
    for (k, (x, y)) in x.iter().zip(&batched).enumerate() {
        assert_close(&format!("{name}: output of row {k}"), y, &net.forward(x));
    }

    let want = per_sample_gradient::<M, IN, N>(&net, &x, &labels);
    let mut grads = Box::<M>::zeroed();
    grads.for_each_tensor_mut(|t| t.fill(f64::NAN));
    workspace.gradient(&net, &x, &labels, &SoftmaxCrossEntropy, &mut grads).unwrap();
    assert_params_close(&format!("{name}: gradient"), &*grads, &*want);

    grads.for_each_tensor_mut(|t| t.fill(f64::NAN));
    let n = allocations_in(|| {
        workspace.gradient(&net, &x, &labels, &SoftmaxCrossEntropy, &mut grads).unwrap();
    });
    assert_params_close(&format!("{name}: gradient, second time"), &*grads, &*want);
    n
}

/// Matrix products of one convolution's training pass over `rows` rows:
/// `W · col(x_b)` and `Δ_b · col(x_b)ᵀ` per row, and `Wᵀ Δ_b` per row if
/// its input gradient is wanted (if a layer with parameters is in front of
/// it; not behind an `Unflatten` that starts the net).
fn products(rows: usize, input_gradient: bool) -> usize {
    rows * if input_gradient { 3 } else { 2 }
}

// ---------------------------------------------------------------------------
// 2-d
// ---------------------------------------------------------------------------

/// Stride 1 with "same" padding (`Tanh`, whose `f'` reads `Z`) into stride
/// 2 "valid" (`ReLU`, `f'` from `A`): the second convolution's input
/// gradient reaches the first one's parameters.
#[test]
fn conv2d_same_then_stride_2_valid() {
    type Net = (
        Unflatten2d<162, 2, 9, 9, f64>,
        Conv2d<2, 6, 3, 1, 1, 9, 9, 9, 9, Tanh, f64>,
        Conv2d<6, 8, 3, 2, 0, 9, 9, 4, 4, ReLU, f64>,
        Flatten2d<8, 4, 4, 128, f64>,
        Dense<128, 3, Identity, f64>,
    );
    let n = check::<Net, 162, 3>("2d same, stride 2 valid", 9, 1);
    assert_eq!(n, products(9, false) + products(9, true), "both lowered, one packing buffer per product");
}

/// Odd sizes, an even kernel, stride 2 with padding wider than half the
/// kernel (`SiLU`, lowered), then a small "valid" convolution (`Sigmoid`,
/// 972 multiply-adds per row: row by row) whose input gradient the lowered
/// one receives.
#[test]
fn conv2d_even_kernel_wide_padding_odd_sizes_and_a_small_one() {
    type Net = (
        Unflatten2d<144, 2, 9, 8, f64>,
        Conv2d<2, 6, 4, 2, 2, 9, 8, 5, 5, SiLU, f64>,
        Conv2d<6, 2, 3, 1, 0, 5, 5, 3, 3, Sigmoid, f64>,
        Flatten2d<2, 3, 3, 18, f64>,
        Dense<18, 4, Identity, f64>,
    );
    let n = check::<Net, 144, 4>("2d even kernel, wide padding", 6, 2);
    assert_eq!(n, products(6, false), "the first lowered, the second row by row");
}

/// A dense layer in front of a convolution: the convolution's input
/// gradient (col⁻¹ of `Wᵀ Δ`) is the dense layer's output gradient.
#[test]
fn conv2d_input_gradient_into_a_dense_layer() {
    type Net = (
        Dense<10, 128, Tanh, f64>,
        Unflatten2d<128, 2, 8, 8, f64>,
        Conv2d<2, 16, 3, 2, 1, 8, 8, 4, 4, Tanh, f64>,
        Flatten2d<16, 4, 4, 256, f64>,
        Dense<256, 2, Identity, f64>,
    );
    let n = check::<Net, 10, 2>("2d after a dense layer", 7, 3);
    assert_eq!(n, products(7, true));
}

/// One workspace through batches of 5, 2, 7 and 3 rows (more rows than
/// before, fewer, more than ever, fewer): the pools, reshapes and the small
/// convolution keep their rows from batch to batch and write them in place,
/// so every batch's outputs and gradient must still be its own (the
/// gradient written over NaN), the per-sample path's.
#[test]
fn batches_of_changing_sizes_through_one_workspace() {
    type Net = (
        Dense<6, 72, Tanh, f64>,
        Unflatten2d<72, 2, 6, 6, f64>,
        Conv2d<2, 3, 3, 1, 1, 6, 6, 6, 6, ReLU, f64>,
        MaxPool2d<3, 2, 6, 6, 3, 3, f64>,
        AvgPool2d<3, 3, 3, 3, 1, 1, f64>,
        Flatten2d<3, 1, 1, 3, f64>,
        Dense<3, 2, Identity, f64>,
    );
    let net = model::<Net>(11);
    let mut workspace = Workspace::<Net>::new();
    let mut grads = Box::<Net>::zeroed();
    for (k, rows) in [5, 2, 7, 3].into_iter().enumerate() {
        let (x, labels) = batch::<6>(rows, 2, 40 + k as u64);
        let outputs = workspace.forward(&net, &x).to_vec();
        assert_eq!(outputs.len(), rows);
        for (b, (x, y)) in x.iter().zip(&outputs).enumerate() {
            assert_close(&format!("batch {k}: output of row {b}"), y, &net.forward(x));
        }
        grads.for_each_tensor_mut(|t| t.fill(f64::NAN));
        workspace.gradient(&net, &x, &labels, &SoftmaxCrossEntropy, &mut grads).unwrap();
        let want = per_sample_gradient::<Net, 6, 2>(&net, &x, &labels);
        assert_params_close(&format!("batch {k} of {rows} rows: gradient"), &*grads, &*want);
    }
}

// ---------------------------------------------------------------------------
// 1-d
// ---------------------------------------------------------------------------

/// "Same" at stride 1 (`ReLU`) into stride 2 with padding 2 (`Tanh`),
/// behind a dense layer, whose weights see the first convolution's input
/// gradient.
#[test]
fn conv1d_same_then_stride_2_padded() {
    type Net = (
        Dense<12, 128, Tanh, f64>,
        Unflatten1d<128, 4, 32, f64>,
        Conv1d<4, 16, 3, 1, 1, 32, 32, ReLU, f64>,
        Conv1d<16, 8, 5, 2, 2, 32, 16, Tanh, f64>,
        Flatten1d<8, 16, 128, f64>,
        Dense<128, 3, Identity, f64>,
    );
    let n = check::<Net, 12, 3>("1d same, stride 2 padded", 10, 4);
    assert_eq!(n, 2 * products(10, true));
}

/// "Valid" with a kernel of one tap, then an even kernel at stride 2
/// without padding, whose last input position no window reaches.
#[test]
fn conv1d_valid_and_uncovered_inputs() {
    type Net = (
        Unflatten1d<328, 8, 41, f64>,
        Conv1d<8, 16, 1, 1, 0, 41, 41, Sigmoid, f64>,
        Conv1d<16, 8, 2, 2, 0, 41, 20, SiLU, f64>,
        Flatten1d<8, 20, 160, f64>,
        Dense<160, 2, Identity, f64>,
    );
    let n = check::<Net, 328, 2>("1d valid, uncovered", 5, 5);
    assert_eq!(n, products(5, false) + products(5, true));
}

// ---------------------------------------------------------------------------
// W6
// ---------------------------------------------------------------------------

/// The W6 net of `../shared/WORKLOADS.md`, generic in the scalar.
type W6<T> = (
    Unflatten2d<784, 1, 28, 28, T>,
    Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU, T>,
    MaxPool2d<8, 2, 28, 28, 14, 14, T>,
    Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU, T>,
    MaxPool2d<16, 2, 14, 14, 7, 7, T>,
    Flatten2d<16, 7, 7, 784, T>,
    Dense<784, 10, Identity, T>,
);

/// W6 inputs: uniform in [0, 1).
fn images(rows: usize, seed: u64) -> (Vec<[f64; 784]>, Vec<usize>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let x = (0..rows).map(|_| core::array::from_fn(|_| rng.random::<f64>())).collect();
    (x, (0..rows).map(|k| k % 10).collect())
}

/// The W6 net's gradient on a batch, both ways; and the allocations of a
/// batched training step: the packing buffers of both convolutions'
/// products (the first one's input gradient not computed: only the
/// unflatten is in front of it) and of the dense layer's three, nothing
/// else.
#[test]
fn w6_gradient_either_way() {
    on_a_large_stack(|| {
        let rows = 8;
        let n = check::<W6<f64>, 784, 10>("W6", rows, 6);
        // Dense<784, 10> at 8 rows is a product too (batch::gemm_pays).
        assert!(backprop::batch::gemm_pays(rows, 784, 10));
        assert_eq!(n, products(rows, false) + products(rows, true) + 3);
    });
}

/// One Adam step of `Workspace::train_step` (the batched path) and of
/// `Train::train_step` (the per-sample path) from the same W6 net on the
/// same batch: the same loss and the same weights after the step.
#[test]
fn w6_train_step_either_way() {
    on_a_large_stack(|| {
        let (x, labels) = images(8, 7);
        let start = model::<W6<f64>>(8);

        let mut batched = start.clone();
        let mut grads = Box::<W6<f64>>::zeroed();
        let mut adam = Adam::new(1e-3);
        let mut workspace = Workspace::new();
        let loss_batched = workspace
            .train_step(&mut batched, &x, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
            .unwrap();

        let mut per_sample = start.clone();
        let mut grads = Box::<W6<f64>>::zeroed();
        let mut adam = Adam::new(1e-3);
        let loss = per_sample
            .train_step(&x, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
            .unwrap();

        assert_close("W6 loss", &[loss_batched], &[loss]);
        assert_params_close("W6 after a batched step", &*batched, &*per_sample);
        assert!(flat(&*batched) != flat(&*start), "the step changed the weights");
    });
}

/// `fit` on two batches of W6 (it takes the batched path: some layer is a
/// product at 8 rows) against two per-sample `train_step`s.
#[test]
fn w6_fit_either_way() {
    on_a_large_stack(|| {
        let (x, labels) = images(16, 9);
        let start = model::<W6<f64>>(10);
        assert!(backprop::batch::gemm_pays(8, 784, 10), "fit takes the batched path");

        let mut fitted = start.clone();
        let options = FitOptions { epochs: 1, batch_size: 8, shuffle: false, ..FitOptions::default() };
        let mut adam = Adam::new(1e-3);
        fitted
            .fit(
                &x,
                &labels,
                &SoftmaxCrossEntropy,
                &mut adam,
                options,
                &mut Xoshiro128PlusPlus::seed_from_u64(0),
            )
            .unwrap();

        let mut stepped = start.clone();
        let mut grads = Box::<W6<f64>>::zeroed();
        let mut adam = Adam::new(1e-3);
        for (x, y) in x.chunks(8).zip(labels.chunks(8)) {
            stepped.train_step(x, y, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None).unwrap();
        }
        assert_params_close("W6 after fit", &*fitted, &*stepped);
    });
}

/// W6 in `f32`, as the bench runs it: the batched gradient within `f32`
/// rounding of the per-sample one (1e-4 of each tensor's scale).
#[test]
fn w6_f32_gradient_either_way() {
    on_a_large_stack(|| {
        let (x, labels) = images(8, 11);
        let x: Vec<[f32; 784]> = x.iter().map(|x| x.map(|v| v as f32)).collect();
        let net: Box<W6<f32>> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(12));

        let mut want = Box::<W6<f32>>::zeroed();
        for (x, t) in x.iter().zip(&labels) {
            let (y, tape) = net.forward_tape(x);
            let d_y = SoftmaxCrossEntropy.gradient(&y, t).map(|g| g / 8.0);
            net.backward(&tape, &d_y, &mut want);
        }
        let mut grads = Box::<W6<f32>>::zeroed();
        Workspace::new().gradient(&*net, &x, &labels, &SoftmaxCrossEntropy, &mut grads).unwrap();

        let (mut got, mut expected) = (Vec::new(), Vec::new());
        grads.for_each_tensor(|t| got.push(t.to_vec()));
        want.for_each_tensor(|t| expected.push(t.to_vec()));
        for (t, (g, w)) in got.iter().zip(&expected).enumerate() {
            let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (k, (g, w)) in g.iter().zip(w).enumerate() {
                assert!((g - w).abs() <= 1e-4 * scale, "tensor {t}[{k}]: {g} vs {w} (scale {scale})");
            }
        }
    });
}

/// A smaller batch after a larger one reuses the buffers: only packing
/// buffers, and the right number of rows.
#[test]
fn a_smaller_batch_reuses_the_buffers() {
    on_a_large_stack(|| {
        let (x, labels) = images(8, 13);
        let net = model::<W6<f64>>(14);
        let mut workspace = Workspace::<W6<f64>>::new();
        let mut grads = Box::<W6<f64>>::zeroed();
        workspace.gradient(&net, &x, &labels, &SoftmaxCrossEntropy, &mut grads).unwrap();
        let n = allocations_in(|| {
            workspace.gradient(&net, &x[..5], &labels[..5], &SoftmaxCrossEntropy, &mut grads).unwrap();
        });
        assert_eq!(
            n,
            products(5, false) + products(5, true) + usize::from(backprop::batch::gemm_pays(5, 784, 10)) * 3
        );
        let want = per_sample_gradient::<W6<f64>, 784, 10>(&net, &x[..5], &labels[..5]);
        assert_params_close("W6, 5 rows after 8", &*grads, &*want);
    });
}
