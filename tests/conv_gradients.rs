//! Every convolutional layer's backward pass against finite differences,
//! in `f64`: every weight, bias and input gradient of small nets covering
//! each layer kind, stride 1 and 2, "same" and "valid" padding, even and
//! odd kernels and sizes, must agree with the fourth-order central
//! difference to a relative error below 1e-6 (measured against 1e-6 for
//! gradients smaller than that, as in `tests/gradients.rs`).

use backprop::gradcheck::check_gradients;
use backprop::prelude::*;

const STEP: f64 = 1e-3;
const FLOOR: f64 = 1e-6;
const TOLERANCE: f64 = 1e-6;

/// A model from `seed` with non-zero biases and an input whose values are
/// spread over [-1, 1], checked against finite differences with a
/// cross-entropy loss on class 1.
fn check<M, const IN: usize, const N: usize>(name: &str, seed: u64)
where
    M: Model<Input = [f64; IN], Output = [f64; N], Scalar = f64> + Clone,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = M::init(&mut rng);
    // Non-zero biases, so that their gradients are checked through every layer.
    net.for_each_tensor_mut(|p| {
        if p.iter().all(|&v| v == 0.0) {
            for (k, v) in p.iter_mut().enumerate() {
                *v = 0.05 * (k as f64 + 1.0).sin();
            }
        }
    });
    // Distinct values (a max pool's windows have clear winners).
    let x: [f64; IN] =
        core::array::from_fn(|i| ((i * 37 % IN) as f64 / IN as f64) * 2.0 - 1.0 + 0.001 * i as f64);
    let report = check_gradients(&net, &x, &1, &SoftmaxCrossEntropy, STEP, FLOOR).unwrap();
    assert_eq!(report.checked, M::PARAMS + IN, "{name}");
    assert!(report.max_error < TOLERANCE, "{name}: {report:?}");
}

#[test]
fn conv2d_valid_stride_1_odd_sizes() {
    type Net = (
        Unflatten2d<84, 2, 7, 6, f64>,
        Conv2d<2, 3, 3, 1, 0, 7, 6, 5, 4, Tanh, f64>,
        Flatten2d<3, 5, 4, 60, f64>,
        Dense<60, 3, Identity, f64>,
    );
    check::<Net, 84, 3>("conv2d valid", 1);
}

#[test]
fn conv2d_same_stride_2() {
    type Net = (
        Unflatten2d<81, 1, 9, 9, f64>,
        Conv2d<1, 4, 3, 2, 1, 9, 9, 5, 5, SiLU, f64>,
        Flatten2d<4, 5, 5, 100, f64>,
        Dense<100, 3, Identity, f64>,
    );
    check::<Net, 81, 3>("conv2d same stride 2", 2);
}

#[test]
fn conv2d_even_kernel_stride_2_and_wide_padding() {
    type Net = (
        Unflatten2d<64, 1, 8, 8, f64>,
        Conv2d<1, 2, 2, 2, 0, 8, 8, 4, 4, Sigmoid, f64>,
        Conv2d<2, 3, 5, 1, 2, 4, 4, 4, 4, Tanh, f64>,
        Flatten2d<3, 4, 4, 48, f64>,
        Dense<48, 2, Identity, f64>,
    );
    check::<Net, 64, 2>("conv2d even kernel", 3);
}

#[test]
fn conv1d_valid_and_same_stride_2() {
    type Net = (
        Unflatten1d<22, 2, 11, f64>,
        Conv1d<2, 3, 3, 1, 0, 11, 9, Tanh, f64>,
        Conv1d<3, 4, 5, 2, 2, 9, 5, SiLU, f64>,
        Flatten1d<4, 5, 20, f64>,
        Dense<20, 3, Identity, f64>,
    );
    check::<Net, 22, 3>("conv1d", 4);
}

#[test]
fn pools_2d() {
    type Net = (
        Unflatten2d<72, 2, 6, 6, f64>,
        MaxPool2d<2, 2, 6, 6, 3, 3, f64>,
        Conv2d<2, 3, 2, 1, 1, 3, 3, 4, 4, Tanh, f64>,
        AvgPool2d<3, 2, 4, 4, 2, 2, f64>,
        Conv2d<3, 4, 1, 1, 0, 2, 2, 2, 2, Tanh, f64>,
        GlobalAvgPool2d<4, 2, 2, f64>,
        Flatten2d<4, 1, 1, 4, f64>,
        Dense<4, 3, Identity, f64>,
    );
    check::<Net, 72, 3>("pools 2d", 5);
}

#[test]
fn max_pool_2d_after_a_convolution_3x3_windows() {
    type Net = (
        Unflatten2d<81, 1, 9, 9, f64>,
        Conv2d<1, 2, 3, 1, 1, 9, 9, 9, 9, Tanh, f64>,
        MaxPool2d<2, 3, 9, 9, 3, 3, f64>,
        Flatten2d<2, 3, 3, 18, f64>,
        Dense<18, 2, Identity, f64>,
    );
    check::<Net, 81, 2>("max pool 3x3", 6);
}

#[test]
fn pools_1d() {
    type Net = (
        Unflatten1d<24, 2, 12, f64>,
        MaxPool1d<2, 2, 12, 6, f64>,
        Conv1d<2, 3, 3, 1, 1, 6, 6, Tanh, f64>,
        AvgPool1d<3, 3, 6, 2, f64>,
        Conv1d<3, 2, 1, 1, 0, 2, 2, Tanh, f64>,
        GlobalAvgPool1d<2, 2, f64>,
        Flatten1d<2, 1, 2, f64>,
        Dense<2, 3, Identity, f64>,
    );
    check::<Net, 24, 3>("pools 1d", 7);
}
