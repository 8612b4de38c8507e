//! The forward pass, every loss, every gradient and every optimizer against
//! PyTorch, in `f64`.
//!
//! `tests/pytorch/generate_parity.py` builds each case's network as a
//! `torch.nn.Sequential` in float64 and records, for one batch: the outputs,
//! the mean loss, the gradient of every parameter and every input, and the
//! parameters (and loss) after 1, 2 and 3 optimizer steps. Its output is
//! committed as `tests/fixtures/pytorch_parity.txt`; this test only reads it.
//!
//! Every value must agree to a relative error of 1e-9, with an absolute floor
//! of 1e-12 for values near zero: `|ours - torch| ≤ 1e-9 · |torch| + 1e-12`.

use backprop::prelude::*;

mod parity;
use parity::{assert_close, flat_params, Case};

fn fixture(name: &'static str) -> Case {
    parity::fixture(include_str!("fixtures/pytorch_parity.txt"), name)
}

/// Runs one case: `targets` turns the fixture's `y` record into typed targets.
fn check<M, L, O, const IN: usize, const N: usize>(
    name: &'static str,
    loss: L,
    mut optimizer: O,
    targets: impl Fn(&[f64]) -> Vec<L::Target>,
) where
    M: Train<f64, IN, N> + Clone,
    L: Loss<f64, N> + Targets<L::Target, f64, N>,
    O: Optimizer<M>,
{
    let case = fixture(name);
    let mut net = M::zeroed();
    let params = case.get("params");
    assert_eq!(params.len(), M::PARAMS, "{name}: parameter count");
    for (k, &p) in params.iter().enumerate() {
        assert!(net.set_param(k, p));
    }
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

    // Three optimizer steps on the same batch.
    for step in 1..=3 {
        let before =
            net.train_step(&inputs, &targets, &loss, &mut optimizer, &mut grads, Clip::None).unwrap();
        assert_close(
            &format!("{name}: loss before step {step}"),
            &[before],
            case.get(&format!("step{step}_loss")),
        );
        assert_close(
            &format!("{name}: parameters after step {step}"),
            &flat_params(&net),
            case.get(&format!("step{step}")),
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

type D<const I: usize, const O: usize, A> = Dense<I, O, A, f64>;

#[test]
fn sgd_plain() {
    type Net = (D<3, 5, Tanh>, D<5, 2, Identity>);
    check::<Net, _, _, 3, 2>("sgd_plain", Mse, Sgd::new(0.1), rows::<2>);
}

#[test]
fn sgd_momentum_dampening() {
    type Net = (D<3, 5, Sigmoid>, D<5, 2, Identity>);
    let sgd = Sgd::new(0.1).momentum(0.9).dampening(0.25);
    check::<Net, _, _, 3, 2>("sgd_momentum_dampening", Huber::default(), sgd, rows::<2>);
}

#[test]
fn sgd_nesterov_weight_decay() {
    type Net = (D<4, 6, ReLU>, D<6, 3, Identity>);
    let sgd = Sgd::new(0.05).momentum(0.8).nesterov(true).weight_decay(0.01);
    check::<Net, _, _, 4, 3>("sgd_nesterov_weight_decay", SoftmaxCrossEntropy, sgd, classes);
}

#[test]
fn adam_default() {
    type Net = (D<3, 6, Gelu>, D<6, 2, Identity>);
    check::<Net, _, _, 3, 2>("adam_default", Mae, Adam::new(0.01), rows::<2>);
}

#[test]
fn adam_amsgrad_weight_decay() {
    type Net = (D<3, 6, SiLU>, D<6, 2, Identity>);
    let adam = Adam::new(0.01).betas(0.8, 0.99).eps(1e-6).weight_decay(0.05).amsgrad();
    check::<Net, _, _, 3, 2>("adam_amsgrad_weight_decay", BceWithLogits, adam, rows::<2>);
}

#[test]
fn adamw_default() {
    type Net = (D<3, 6, Elu>, D<6, 2, Identity>);
    check::<Net, _, _, 3, 2>("adamw_default", Mse, AdamW::new(0.01), rows::<2>);
}

#[test]
fn adamw_amsgrad() {
    type Net = (D<3, 5, Softplus>, D<5, 1, Sigmoid>);
    let adamw = AdamW::new(0.02).weight_decay(0.1).amsgrad();
    check::<Net, _, _, 3, 1>("adamw_amsgrad", BinaryCrossEntropy, adamw, rows::<1>);
}

#[test]
fn rmsprop_default() {
    type Net = (D<3, 5, LeakyReLU>, D<5, 2, Identity>);
    check::<Net, _, _, 3, 2>("rmsprop_default", Mse, RmsProp::new(0.01), rows::<2>);
}

#[test]
fn rmsprop_centered_momentum_weight_decay() {
    type Net = (D<3, 5, GeluErf>, D<5, 3, Identity>);
    let rmsprop = RmsProp::new(0.01).alpha(0.9).eps(1e-6).momentum(0.5).centered().weight_decay(0.01);
    check::<Net, _, _, 3, 3>("rmsprop_centered_momentum_weight_decay", SoftmaxCrossEntropy, rmsprop, classes);
}

#[test]
fn five_layers() {
    type Net = (D<4, 8, Tanh>, D<8, 7, ReLU>, D<7, 6, Sigmoid>, D<6, 5, SiLU>, D<5, 3, Identity>);
    check::<Net, _, _, 4, 3>("five_layers", SoftmaxCrossEntropy, Adam::new(0.005), classes);
}

#[test]
fn batch_one() {
    type Net = (D<2, 4, Tanh>, D<4, 1, Sigmoid>);
    check::<Net, _, _, 2, 1>("batch_one", BinaryCrossEntropy, Sgd::new(0.5).momentum(0.9), rows::<1>);
}

#[test]
fn linear_huber_half() {
    type Net = (D<3, 4, Identity>, D<4, 2, Identity>);
    let sgd = Sgd::new(0.1).weight_decay(0.1);
    check::<Net, _, _, 3, 2>("linear_huber_half", Huber::new(0.5).unwrap(), sgd, rows::<2>);
}
