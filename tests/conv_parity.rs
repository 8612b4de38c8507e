//! Convolutional nets against PyTorch, in `f64`: every layer of
//! `backprop::conv` (`Conv1d`, `Conv2d` at stride 1 and 2, valid and same
//! padding, odd sizes; every pool; the reshapes) in the forward pass, every
//! gradient and three optimizer steps.
//!
//! `tests/pytorch/generate_conv_parity.py` builds each case's network as a
//! `torch.nn.Sequential` in float64 (starting with `nn.Unflatten`, since
//! models take flat rows) and records, for one batch: the outputs, the mean
//! loss, the gradient of every parameter and every input, and the parameters
//! (and loss) after 1, 2 and 3 optimizer steps. Its output is committed as
//! `tests/fixtures/pytorch_conv_parity.txt`; this test only reads it. Each
//! case's `layers` record names the backprop types of the net; the test's
//! type must have the same kinds of layer in the same order.
//!
//! Both paths are checked: the per-sample one (`forward`, `forward_tape`
//! and `backward`, `Train::train_step`) and the batched one (`Workspace`'s
//! `forward`, `gradient` and `train_step`).
//!
//! Every value must agree to a relative error of 1e-9, with an absolute floor
//! of 1e-12 for values near zero: `|ours - torch| ≤ 1e-9 · |torch| + 1e-12`.

use backprop::prelude::*;

mod parity;
use parity::{assert_close, flat_params, Case};

fn fixture(name: &'static str) -> Case {
    let case = parity::fixture(include_str!("fixtures/pytorch_conv_parity.txt"), name);
    assert!(!case.layers.is_empty(), "{name}: no `layers` record");
    case
}

/// The kind of each of the model's layers (`"Conv2d"`, `"MaxPool1d"`, ...).
fn layer_kinds<M: Architecture>() -> Vec<&'static str> {
    let mut kinds = Vec::new();
    M::for_each_layer(&mut |layer| kinds.push(layer.kind.name()));
    kinds
}

/// Runs one case through the per-sample and the batched path: `targets`
/// turns the fixture's `y` record into typed targets, `optimizer` makes the
/// case's optimizer (once for each path).
fn check<M, L, O, const IN: usize, const N: usize>(
    name: &'static str,
    loss: L,
    optimizer: impl Fn() -> O,
    targets: impl Fn(&[f64]) -> Vec<L::Target>,
) where
    M: Train<f64, IN, N> + Clone,
    L: Loss<f64, N> + Targets<L::Target, f64, N>,
    O: Optimizer<M>,
{
    let case = fixture(name);
    let kinds: Vec<&str> = case.layers.iter().map(|t| t.split('<').next().unwrap()).collect();
    assert_eq!(layer_kinds::<M>(), kinds, "{name}: the test's layers are not the fixture's");
    let mut net = M::zeroed();
    let params = case.get("params");
    assert_eq!(params.len(), M::PARAMS, "{name}: parameter count");
    for (k, &p) in params.iter().enumerate() {
        assert!(net.set_param(k, p));
    }
    assert_eq!(flat_params(&net), params, "{name}: parameters as set");
    let inputs: Vec<[f64; IN]> = case.get("x").chunks(IN).map(|c| c.try_into().unwrap()).collect();
    let targets = targets(case.get("y"));
    assert_eq!(inputs.len(), targets.len());
    let batch = inputs.len() as f64;

    // Forward and loss.
    let outputs: Vec<f64> = inputs.iter().flat_map(|x| net.forward(x)).collect();
    assert_close(&format!("{name}: outputs"), &outputs, case.get("output"));
    let loss_value = net.evaluate(&inputs, &targets, &loss).unwrap();
    assert_close(&format!("{name}: loss"), &[loss_value], case.get("loss"));

    // Gradients of the mean loss: parameters and inputs.
    let mut grads = M::zeroed();
    let mut input_grads = Vec::new();
    for (x, t) in inputs.iter().zip(&targets) {
        let (y, tape) = net.forward_tape(x);
        let d_input = net.backward(&tape, &loss.gradient(&y, t), &mut grads);
        input_grads.extend(d_input.map(|g| g / batch));
    }
    grads.scale(1.0 / batch);
    assert_close(&format!("{name}: parameter gradients"), &flat_params(&grads), case.get("grads"));
    assert_close(&format!("{name}: input gradients"), &input_grads, case.get("input_grads"));

    // The batched path from the same parameters: outputs and gradients.
    let mut workspace = Workspace::<M>::new();
    let batched: Vec<f64> = workspace.forward(&net, &inputs).iter().flatten().copied().collect();
    assert_close(&format!("{name}: batched outputs"), &batched, case.get("output"));
    let mut batched_grads = M::zeroed();
    let batched_loss = workspace.gradient(&net, &inputs, &targets, &loss, &mut batched_grads).unwrap();
    assert_close(&format!("{name}: batched loss"), &[batched_loss], case.get("loss"));
    assert_close(
        &format!("{name}: batched parameter gradients"),
        &flat_params(&batched_grads),
        case.get("grads"),
    );

    // Three optimizer steps on the same batch, through each path.
    let mut batched_net = net.clone();
    let mut per_sample = optimizer();
    let mut batched_optimizer = optimizer();
    for step in 1..=3 {
        let want_loss = case.get(&format!("step{step}_loss"));
        let want_params = case.get(&format!("step{step}"));
        let before =
            net.train_step(&inputs, &targets, &loss, &mut per_sample, &mut grads, Clip::None).unwrap();
        assert_close(&format!("{name}: loss before step {step}"), &[before], want_loss);
        assert_close(&format!("{name}: parameters after step {step}"), &flat_params(&net), want_params);

        let before = workspace
            .train_step(
                &mut batched_net,
                &inputs,
                &targets,
                &loss,
                &mut batched_optimizer,
                &mut batched_grads,
                Clip::None,
            )
            .unwrap();
        assert_close(&format!("{name}: batched loss before step {step}"), &[before], want_loss);
        assert_close(
            &format!("{name}: batched parameters after step {step}"),
            &flat_params(&batched_net),
            want_params,
        );
    }
}

/// Regression or probability targets: rows of `N`.
fn rows<const N: usize>(y: &[f64]) -> Vec<[f64; N]> {
    y.chunks(N).map(|c| c.try_into().unwrap()).collect()
}

/// Class-index targets.
fn classes(y: &[f64]) -> Vec<usize> {
    y.iter().map(|&c| c as usize).collect()
}

#[test]
fn conv2d_valid_stride1() {
    type Net = (
        Unflatten2d<84, 2, 7, 6, f64>,
        Conv2d<2, 3, 3, 1, 0, 7, 6, 5, 4, Tanh, f64>,
        Flatten2d<3, 5, 4, 60, f64>,
        Dense<60, 2, Identity, f64>,
    );
    check::<Net, _, _, 84, 2>("conv2d_valid_stride1", Mse, || Sgd::new(0.05).momentum(0.9), rows::<2>);
}

#[test]
fn conv2d_same_stride2() {
    type Net = (
        Unflatten2d<81, 1, 9, 9, f64>,
        Conv2d<1, 4, 3, 2, 1, 9, 9, 5, 5, ReLU, f64>,
        Flatten2d<4, 5, 5, 100, f64>,
        Dense<100, 3, Identity, f64>,
    );
    check::<Net, _, _, 81, 3>("conv2d_same_stride2", SoftmaxCrossEntropy, || Adam::new(0.01), classes);
}

#[test]
fn conv2d_k5_pad2() {
    type Net = (
        Unflatten2d<60, 2, 6, 5, f64>,
        Conv2d<2, 2, 5, 1, 2, 6, 5, 6, 5, SiLU, f64>,
        Flatten2d<2, 6, 5, 60, f64>,
        Dense<60, 2, Identity, f64>,
    );
    let sgd = || Sgd::new(0.05).momentum(0.8).nesterov(true).weight_decay(0.01);
    check::<Net, _, _, 60, 2>("conv2d_k5_pad2", Huber::default(), sgd, rows::<2>);
}

#[test]
fn conv2d_k2_stride2() {
    type Net = (
        Unflatten2d<144, 3, 8, 6, f64>,
        Conv2d<3, 2, 2, 2, 0, 8, 6, 4, 3, Identity, f64>,
        Flatten2d<2, 4, 3, 24, f64>,
        Dense<24, 2, Sigmoid, f64>,
    );
    check::<Net, _, _, 144, 2>("conv2d_k2_stride2", BinaryCrossEntropy, || RmsProp::new(0.01), rows::<2>);
}

#[test]
fn conv2d_valid_stride2_odd() {
    type Net = (
        Unflatten2d<112, 2, 8, 7, f64>,
        Conv2d<2, 3, 3, 2, 0, 8, 7, 3, 3, GeluErf, f64>,
        Flatten2d<3, 3, 3, 27, f64>,
        Dense<27, 2, Identity, f64>,
    );
    let adamw = || AdamW::new(0.01).weight_decay(0.05);
    check::<Net, _, _, 112, 2>("conv2d_valid_stride2_odd", Mae, adamw, rows::<2>);
}

#[test]
fn conv2d_k1() {
    type Net = (
        Unflatten2d<60, 3, 4, 5, f64>,
        Conv2d<3, 2, 1, 1, 0, 4, 5, 4, 5, Softplus, f64>,
        Flatten2d<2, 4, 5, 40, f64>,
        Dense<40, 2, Identity, f64>,
    );
    check::<Net, _, _, 60, 2>("conv2d_k1", BceWithLogits, || Sgd::new(0.1), rows::<2>);
}

#[test]
fn conv1d_valid() {
    type Net = (
        Unflatten1d<20, 2, 10, f64>,
        Conv1d<2, 3, 3, 1, 0, 10, 8, Sigmoid, f64>,
        Flatten1d<3, 8, 24, f64>,
        Dense<24, 2, Identity, f64>,
    );
    check::<Net, _, _, 20, 2>("conv1d_valid", Mse, || Sgd::new(0.1), rows::<2>);
}

#[test]
fn conv1d_same_stride2() {
    type Net = (
        Unflatten1d<11, 1, 11, f64>,
        Conv1d<1, 4, 5, 2, 2, 11, 6, SiLU, f64>,
        Flatten1d<4, 6, 24, f64>,
        Dense<24, 3, Identity, f64>,
    );
    let adam = || Adam::new(0.01).betas(0.8, 0.99).eps(1e-6).weight_decay(0.05).amsgrad();
    check::<Net, _, _, 11, 3>("conv1d_same_stride2", SoftmaxCrossEntropy, adam, classes);
}

#[test]
fn conv1d_k4_stride2_valid() {
    type Net = (
        Unflatten1d<26, 2, 13, f64>,
        Conv1d<2, 3, 4, 2, 0, 13, 5, Elu, f64>,
        Flatten1d<3, 5, 15, f64>,
        Dense<15, 2, Identity, f64>,
    );
    let rmsprop = || RmsProp::new(0.01).alpha(0.9).eps(1e-6).momentum(0.5).centered().weight_decay(0.01);
    check::<Net, _, _, 26, 2>("conv1d_k4_stride2_valid", BceWithLogits, rmsprop, rows::<2>);
}

#[test]
fn maxpool2d_k2() {
    type Net = (
        Unflatten2d<98, 2, 7, 7, f64>,
        Conv2d<2, 3, 2, 1, 0, 7, 7, 6, 6, Tanh, f64>,
        MaxPool2d<3, 2, 6, 6, 3, 3, f64>,
        Flatten2d<3, 3, 3, 27, f64>,
        Dense<27, 2, Identity, f64>,
    );
    check::<Net, _, _, 98, 2>("maxpool2d_k2", Mse, || Adam::new(0.01), rows::<2>);
}

#[test]
fn maxpool2d_k3() {
    type Net = (
        Unflatten2d<81, 1, 9, 9, f64>,
        Conv2d<1, 2, 3, 1, 1, 9, 9, 9, 9, Identity, f64>,
        MaxPool2d<2, 3, 9, 9, 3, 3, f64>,
        Flatten2d<2, 3, 3, 18, f64>,
        Dense<18, 3, Identity, f64>,
    );
    let sgd = || Sgd::new(0.1).momentum(0.9).dampening(0.25);
    check::<Net, _, _, 81, 3>("maxpool2d_k3", SoftmaxCrossEntropy, sgd, classes);
}

#[test]
fn avgpool2d() {
    type Net = (
        Unflatten2d<48, 1, 8, 6, f64>,
        Conv2d<1, 3, 3, 1, 1, 8, 6, 8, 6, Softplus, f64>,
        AvgPool2d<3, 2, 8, 6, 4, 3, f64>,
        Flatten2d<3, 4, 3, 36, f64>,
        Dense<36, 2, Identity, f64>,
    );
    let adamw = || AdamW::new(0.02).weight_decay(0.1).amsgrad();
    check::<Net, _, _, 48, 2>("avgpool2d", Huber::new(0.5).unwrap(), adamw, rows::<2>);
}

#[test]
fn avgpool2d_k3_stride2_conv() {
    type Net = (
        Unflatten2d<242, 2, 11, 11, f64>,
        Conv2d<2, 3, 3, 2, 1, 11, 11, 6, 6, LeakyReLU, f64>,
        AvgPool2d<3, 3, 6, 6, 2, 2, f64>,
        Flatten2d<3, 2, 2, 12, f64>,
        Dense<12, 2, Identity, f64>,
    );
    check::<Net, _, _, 242, 2>("avgpool2d_k3_stride2_conv", Mse, || RmsProp::new(0.01), rows::<2>);
}

#[test]
fn maxpool1d() {
    type Net = (
        Unflatten1d<24, 2, 12, f64>,
        Conv1d<2, 3, 3, 1, 1, 12, 12, Elu, f64>,
        MaxPool1d<3, 3, 12, 4, f64>,
        Flatten1d<3, 4, 12, f64>,
        Dense<12, 2, Identity, f64>,
    );
    check::<Net, _, _, 24, 2>("maxpool1d", Mse, || Sgd::new(0.1).momentum(0.9), rows::<2>);
}

#[test]
fn avgpool1d() {
    type Net = (
        Unflatten1d<14, 1, 14, f64>,
        Conv1d<1, 2, 3, 1, 0, 14, 12, LeakyReLU, f64>,
        AvgPool1d<2, 4, 12, 3, f64>,
        Flatten1d<2, 3, 6, f64>,
        Dense<6, 2, Identity, f64>,
    );
    check::<Net, _, _, 14, 2>("avgpool1d", Mae, || Adam::new(0.01), rows::<2>);
}

#[test]
fn globalavgpool1d() {
    type Net = (
        Unflatten1d<18, 2, 9, f64>,
        Conv1d<2, 4, 3, 2, 1, 9, 5, Tanh, f64>,
        GlobalAvgPool1d<4, 5, f64>,
        Flatten1d<4, 1, 4, f64>,
        Dense<4, 3, Identity, f64>,
    );
    let sgd = || Sgd::new(0.1).momentum(0.9);
    check::<Net, _, _, 18, 3>("globalavgpool1d", SoftmaxCrossEntropy, sgd, classes);
}

#[test]
fn globalavgpool2d() {
    type Net = (
        Unflatten2d<105, 3, 5, 7, f64>,
        Conv2d<3, 5, 3, 1, 1, 5, 7, 5, 7, ReLU, f64>,
        GlobalAvgPool2d<5, 5, 7, f64>,
        Flatten2d<5, 1, 1, 5, f64>,
        Dense<5, 2, Identity, f64>,
    );
    check::<Net, _, _, 105, 2>("globalavgpool2d", Mse, || Adam::new(0.01), rows::<2>);
}

#[test]
fn deep_mixed_2d() {
    type Net = (
        Unflatten2d<256, 1, 16, 16, f64>,
        Conv2d<1, 4, 3, 1, 1, 16, 16, 16, 16, ReLU, f64>,
        MaxPool2d<4, 2, 16, 16, 8, 8, f64>,
        Conv2d<4, 6, 3, 1, 1, 8, 8, 8, 8, Tanh, f64>,
        AvgPool2d<6, 2, 8, 8, 4, 4, f64>,
        Conv2d<6, 8, 3, 2, 1, 4, 4, 2, 2, Gelu, f64>,
        Flatten2d<8, 2, 2, 32, f64>,
        Dense<32, 10, ReLU, f64>,
        Dense<10, 4, Identity, f64>,
    );
    check::<Net, _, _, 256, 4>("deep_mixed_2d", SoftmaxCrossEntropy, || Adam::new(0.005), classes);
}

#[test]
fn deep_mixed_2d_global() {
    type Net = (
        Unflatten2d<200, 2, 10, 10, f64>,
        Conv2d<2, 4, 3, 2, 1, 10, 10, 5, 5, SiLU, f64>,
        MaxPool2d<4, 5, 5, 5, 1, 1, f64>,
        Conv2d<4, 5, 1, 1, 0, 1, 1, 1, 1, Identity, f64>,
        GlobalAvgPool2d<5, 1, 1, f64>,
        Flatten2d<5, 1, 1, 5, f64>,
        Dense<5, 3, Tanh, f64>,
        Dense<3, 2, Sigmoid, f64>,
    );
    check::<Net, _, _, 200, 2>("deep_mixed_2d_global", BinaryCrossEntropy, || AdamW::new(0.01), rows::<2>);
}

#[test]
fn deep_mixed_1d() {
    type Net = (
        Unflatten1d<64, 2, 32, f64>,
        Conv1d<2, 4, 5, 1, 2, 32, 32, ReLU, f64>,
        MaxPool1d<4, 2, 32, 16, f64>,
        Conv1d<4, 6, 3, 2, 1, 16, 8, Tanh, f64>,
        AvgPool1d<6, 2, 8, 4, f64>,
        Conv1d<6, 8, 3, 1, 0, 4, 2, SiLU, f64>,
        GlobalAvgPool1d<8, 2, f64>,
        Flatten1d<8, 1, 8, f64>,
        Dense<8, 6, Tanh, f64>,
        Dense<6, 3, Identity, f64>,
    );
    let rmsprop = || RmsProp::new(0.01).alpha(0.9).momentum(0.5).weight_decay(0.01);
    check::<Net, _, _, 64, 3>("deep_mixed_1d", SoftmaxCrossEntropy, rmsprop, classes);
}
