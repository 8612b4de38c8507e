//! The training API (`train_step`, `train_epoch`, `fit`, `predict`,
//! `classify`, `accuracy`, `evaluate`, `shuffle_together`) against naive
//! references written out here: per-sample forward/backward loops, a
//! hand-written SGD update on flat parameter vectors, the textbook formulas
//! of gradient clipping and learning-rate schedules, and properties that a
//! wrong implementation would break (bit-identical reruns, uniform shuffles,
//! untouched models on error).

mod common;
use backprop::error::Divergence;
use backprop::prelude::*;
use backprop::train::{shuffle_together, EpochReport};
use rand::Rng;
use std::ops::ControlFlow;

/// A small regression net: 3 inputs, 2 linear outputs.
type Reg = (Dense<3, 6, Tanh, f64>, Dense<6, 2, Identity, f64>);
/// A small classifier: 2 inputs, 3 logits.
type Cls = (Dense<2, 5, Tanh, f64>, Dense<5, 3, Identity, f64>);
/// A single linear neuron `y = w x + b`.
type Lin = Dense<1, 1, Identity, f64>;
/// A binary classifier on probabilities.
type Bin = (Dense<2, 4, Tanh, f64>, Dense<4, 1, Sigmoid, f64>);

fn rng(seed: u64) -> Xoshiro128PlusPlus {
    Xoshiro128PlusPlus::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------
// Data and flat parameter vectors
// ---------------------------------------------------------------------------

/// `n` deterministic regression samples: smooth functions of three features.
fn reg_data(n: usize) -> (Vec<[f64; 3]>, Vec<[f64; 2]>) {
    let inputs: Vec<[f64; 3]> = (0..n)
        .map(|i| {
            let i = i as f64;
            [(0.7 * i).sin(), (1.3 * i + 0.4).cos(), ((0.37 * i) % 1.0) - 0.5]
        })
        .collect();
    let targets = inputs.iter().map(|x| [x[0] * x[1] + 0.3, x[2] - 0.5 * x[0]]).collect();
    (inputs, targets)
}

/// `n` deterministic 3-class samples: the class is the sector of the angle.
fn cls_data(n: usize) -> (Vec<[f64; 2]>, Vec<usize>) {
    let inputs: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = 2.399_963 * i as f64; // the golden angle: well spread
            let r = 0.3 + 0.7 * ((0.61 * i as f64) % 1.0);
            [r * a.cos(), r * a.sin()]
        })
        .collect();
    let labels = inputs
        .iter()
        .map(|x| {
            let angle = x[1].atan2(x[0]) + std::f64::consts::PI; // in [0, 2π]
            ((angle / (2.0 * std::f64::consts::PI / 3.0)) as usize).min(2)
        })
        .collect();
    (inputs, labels)
}

/// Every parameter in visiting order, as `f64`.
fn flat<M: Params<Scalar = f64>>(m: &M) -> Vec<f64> {
    let mut out = Vec::with_capacity(M::PARAMS);
    m.for_each_tensor(|p| out.extend_from_slice(p));
    assert_eq!(out.len(), M::PARAMS);
    out
}

/// Every parameter's bit pattern, for bit-identity checks.
fn bits<M: Params<Scalar = f64>>(m: &M) -> Vec<u64> {
    flat(m).into_iter().map(f64::to_bits).collect()
}

/// Overwrites every parameter of `m` from a flat vector.
fn set_flat<M: Params<Scalar = f64>>(m: &mut M, values: &[f64]) {
    assert_eq!(values.len(), M::PARAMS);
    let mut offset = 0;
    m.for_each_tensor_mut(|p| {
        p.copy_from_slice(&values[offset..offset + p.len()]);
        offset += p.len();
    });
}

fn all_finite<M: Params<Scalar = f64>>(m: &M) -> bool {
    flat(m).iter().all(|p| p.is_finite())
}

/// `|a - b| ≤ tol · max(1, |b|)` element by element.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{k}]: got {g:e}, want {w:e} (tolerance {tol:e})"
        );
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

// ---------------------------------------------------------------------------
// Naive references
// ---------------------------------------------------------------------------

/// The mean gradient and mean loss of a batch, one fresh zeroed gradient per
/// sample, summed in `f64` here and divided by the batch size.
fn naive_batch<M, L, const IN: usize, const N: usize>(
    net: &M,
    inputs: &[[f64; IN]],
    targets: &[L::Target],
    loss: &L,
) -> (Vec<f64>, f64)
where
    M: Model<Input = [f64; IN], Output = [f64; N]> + Params<Scalar = f64>,
    L: Loss<f64, N>,
{
    assert_eq!(inputs.len(), targets.len());
    let mut sum = vec![0.0; M::PARAMS];
    let mut loss_sum = 0.0;
    for (x, t) in inputs.iter().zip(targets) {
        let mut g = M::zeroed();
        let (y, tape) = net.forward_tape(x);
        loss_sum += loss.loss(&y, t);
        net.backward(&tape, &loss.gradient(&y, t), &mut g);
        for (s, v) in sum.iter_mut().zip(flat(&g)) {
            *s += v;
        }
    }
    let b = inputs.len() as f64;
    (sum.into_iter().map(|s| s / b).collect(), loss_sum / b)
}

/// `θ ← θ - η g` on the flat parameter vector.
fn naive_sgd<M: Params<Scalar = f64>>(net: &mut M, g: &[f64], lr: f64) {
    let theta: Vec<f64> = flat(net).iter().zip(g).map(|(&p, &g)| p - lr * g).collect();
    set_flat(net, &theta);
}

/// Plain SGD over consecutive batches, in order, for `epochs` epochs with
/// learning rate `lr(epoch)`. Returns the mean per-sample training loss of
/// every epoch (each sample's loss measured before its batch's update).
fn naive_fit<M, L, const IN: usize, const N: usize>(
    net: &mut M,
    inputs: &[[f64; IN]],
    targets: &[L::Target],
    loss: &L,
    batch_size: usize,
    epochs: usize,
    lr: impl Fn(usize) -> f64,
) -> Vec<f64>
where
    M: Model<Input = [f64; IN], Output = [f64; N]> + Params<Scalar = f64>,
    L: Loss<f64, N>,
{
    let mut losses = Vec::new();
    for epoch in 0..epochs {
        let mut total = 0.0;
        for (x, t) in inputs.chunks(batch_size).zip(targets.chunks(batch_size)) {
            for (x, t) in x.iter().zip(t) {
                total += loss.loss(&net.forward(x), t);
            }
            let (g, _) = naive_batch(net, x, t, loss);
            naive_sgd(net, &g, lr(epoch));
        }
        losses.push(total / inputs.len() as f64);
    }
    losses
}

/// `y = f(W x + b)` as the textbook loop.
#[allow(clippy::needless_range_loop)] // indexed to read like the formula
fn naive_dense<A: Activation, const IN: usize, const OUT: usize>(
    layer: &Dense<IN, OUT, A, f64>,
    x: &[f64; IN],
) -> [f64; OUT] {
    let mut y = [0.0; OUT];
    for o in 0..OUT {
        let mut z = layer.bias[o];
        for i in 0..IN {
            z += layer.weights[o][i] * x[i];
        }
        y[o] = A::f(z);
    }
    y
}

/// The index of the first largest element.
fn naive_argmax(y: &[f64]) -> usize {
    let mut best = 0;
    for k in 1..y.len() {
        if y[k] > y[best] {
            best = k;
        }
    }
    best
}

/// `-ln softmax(z)_c`, written out.
fn naive_cross_entropy(z: &[f64], c: usize) -> f64 {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = z.iter().map(|&zk| (zk - m).exp()).sum();
    m + sum.ln() - z[c]
}

// ---------------------------------------------------------------------------
// Error helpers
// ---------------------------------------------------------------------------

/// Asserts that `err`'s message contains every one of `parts`.
fn says(err: &Error, parts: &[&str]) {
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "the message {message:?} does not mention {part:?}");
    }
}

/// Runs `fit` on a copy of `net`, expects an error, and checks that the model
/// was not modified at all (bit for bit).
fn fit_err<M, L, O, const IN: usize, const N: usize>(
    net: &M,
    inputs: &[[f64; IN]],
    targets: &[L::Target],
    loss: L,
    optimizer: &mut O,
    options: FitOptions<'_, f64, IN, L::Target>,
) -> Error
where
    M: Model<Input = [f64; IN], Output = [f64; N]> + Params<Scalar = f64> + Clone + Send + Sync,
    L: Loss<f64, N> + Targets<L::Target, f64, N> + Sync,
    L::Target: Send + Sync,
    O: Optimizer<M>,
{
    let mut model = net.clone();
    let before = bits(&model);
    let lr = optimizer.learning_rate();
    let err = match model.fit(inputs, targets, &loss, optimizer, options, &mut rng(0)) {
        Ok(history) => panic!("fit should have failed, but trained {} epochs", history.epochs.len()),
        Err(failed) => {
            assert!(failed.history.epochs.is_empty(), "a check failed after training had started");
            assert_eq!(failed.history.stopped, StopReason::Failed);
            failed.error
        }
    };
    assert_eq!(bits(&model), before, "fit failed with `{err}` but modified the model first");
    assert_eq!(
        optimizer.learning_rate().to_bits(),
        lr.to_bits(),
        "fit failed with `{err}` but changed the learning rate"
    );
    err
}

fn reg_net(seed: u64) -> Reg {
    Model::init(&mut rng(seed))
}

fn cls_net(seed: u64) -> Cls {
    Model::init(&mut rng(seed))
}

fn quick<'a>() -> FitOptions<'a, f64, 3, [f64; 2]> {
    FitOptions { epochs: 2, batch_size: 4, ..Default::default() }
}

// ---------------------------------------------------------------------------
// 1. Errors
// ---------------------------------------------------------------------------

#[test]
fn length_mismatch_in_fit() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    let err = fit_err(&net, &x, &t[..3], Mse, &mut Sgd::new(0.1), quick());
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 5, other: "targets", other_len: 3 });
    says(&err, &["5 inputs", "3 targets"]);
}

#[test]
fn length_mismatch_in_fit_validation() {
    let (x, t) = reg_data(6);
    let net = reg_net(1);
    let options = FitOptions { validation: Some((&x[..4], &t[..2])), ..quick() };
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), options);
    assert_eq!(
        err,
        Error::LengthMismatch {
            what: "validation inputs",
            len: 4,
            other: "validation targets",
            other_len: 2
        }
    );
    says(&err, &["4 validation inputs", "2 validation targets"]);
}

#[test]
fn length_mismatch_in_train_step_and_train_epoch() {
    let (x, t) = reg_data(5);
    let mut net = reg_net(1);
    let before = bits(&net);
    let mut grads = Reg::zeroed();
    let mut sgd = Sgd::new(0.1);
    let err = net.train_step(&x[..2], &t, &Mse, &mut sgd, &mut grads, Clip::None).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 2, other: "targets", other_len: 5 });
    says(&err, &["2 inputs", "5 targets"]);
    let err = net.train_epoch(&x, &t[..4], &Mse, &mut sgd, &mut grads, 2, Clip::None).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 5, other: "targets", other_len: 4 });
    says(&err, &["5 inputs", "4 targets"]);
    assert_eq!(bits(&net), before, "a rejected step must not touch the model");
}

#[test]
fn length_mismatch_in_evaluate() {
    let (x, t) = reg_data(5);
    let err = reg_net(1).evaluate(&x[..1], &t, &Mse).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 1, other: "targets", other_len: 5 });
    says(&err, &["1 input but 5 targets"]);
}

#[test]
fn length_mismatch_in_accuracy() {
    let (x, labels) = cls_data(7);
    let err = cls_net(1).accuracy(&x, &labels[..6]).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 7, other: "labels", other_len: 6 });
    says(&err, &["7 inputs", "6 labels"]);
}

#[test]
fn length_mismatch_in_predict_into() {
    let (x, _) = reg_data(4);
    let mut outputs = [[7.0; 2]; 3];
    let err = reg_net(1).predict_into(&x, &mut outputs).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 4, other: "outputs", other_len: 3 });
    says(&err, &["4 inputs", "3 outputs"]);
    assert_eq!(outputs, [[7.0; 2]; 3], "nothing is written on error");
}

#[test]
fn empty_training_data() {
    let net = reg_net(1);
    let err = fit_err(&net, &[], &[], Mse, &mut Sgd::new(0.1), quick());
    assert_eq!(err, Error::EmptyData { what: "training data" });
    says(&err, &["training data", "no samples"]);
}

#[test]
fn empty_validation_data() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    let options = FitOptions { validation: Some((&[], &[])), ..quick() };
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), options);
    assert_eq!(err, Error::EmptyData { what: "validation data" });
    says(&err, &["validation data", "no samples"]);
}

#[test]
fn empty_data_elsewhere() {
    let net = reg_net(1);
    let empty_x: [[f64; 3]; 0] = [];
    let empty_t: [[f64; 2]; 0] = [];
    assert!(matches!(net.evaluate(&empty_x, &empty_t, &Mse), Err(Error::EmptyData { .. })));
    assert!(matches!(cls_net(1).accuracy(&[], &[]), Err(Error::EmptyData { .. })));
    let mut m = net;
    let (mut g, mut sgd) = (Reg::zeroed(), Sgd::new(0.1));
    assert!(matches!(
        m.train_step(&empty_x, &empty_t, &Mse, &mut sgd, &mut g, Clip::None),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        m.train_epoch(&empty_x, &empty_t, &Mse, &mut sgd, &mut g, 1, Clip::None),
        Err(Error::EmptyData { .. })
    ));
    assert_eq!(m.check_data(&empty_x, &empty_t, &Mse), Err(Error::EmptyData { what: "data set" }));
}

#[test]
fn check_data_names_the_first_offending_sample() {
    let (mut x, mut t) = reg_data(6);
    let net = reg_net(1);
    assert_eq!(net.check_data(&x, &t, &Mse), Ok(()));
    assert_eq!(
        net.check_data(&x, &t[..5], &Mse),
        Err(Error::LengthMismatch { what: "inputs", len: 6, other: "targets", other_len: 5 })
    );
    t[5][0] = f64::NAN;
    assert_eq!(
        net.check_data(&x, &t, &Mse),
        Err(Error::NonFiniteTarget { data: "data set", sample: 5, index: 0 })
    );
    x[2][1] = f64::INFINITY;
    assert_eq!(
        net.check_data(&x, &t, &Mse),
        Err(Error::NonFiniteInput { data: "data set", sample: 2, index: 1 }),
        "inputs first"
    );
    let (cx, mut labels) = cls_data(5);
    labels[3] = 3;
    assert_eq!(
        cls_net(1).check_data(&cx, &labels, &SoftmaxCrossEntropy),
        Err(Error::ClassOutOfRange { data: "data set", sample: 3, class: 3, classes: 3 })
    );
}

#[test]
fn batch_size_zero_in_fit() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    let options = FitOptions { batch_size: 0, ..quick() };
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), options);
    assert_eq!(err, Error::InvalidHyperparameter { name: "batch size", value: 0.0, expected: "at least 1" });
    says(&err, &["batch size", "0", "at least 1"]);
}

#[test]
fn batch_size_zero_in_train_epoch() {
    let (x, t) = reg_data(5);
    let mut net = reg_net(1);
    let before = bits(&net);
    let err =
        net.train_epoch(&x, &t, &Mse, &mut Sgd::new(0.1), &mut Reg::zeroed(), 0, Clip::None).unwrap_err();
    assert_eq!(err, Error::InvalidHyperparameter { name: "batch size", value: 0.0, expected: "at least 1" });
    says(&err, &["batch size", "0", "at least 1"]);
    assert_eq!(bits(&net), before);
}

/// `err` is `InvalidHyperparameter { name, value, expected }`, with `value`
/// the same float as `want` (NaN included), and the message names them.
fn assert_invalid(err: &Error, name: &str, want: f64, expected: &str) {
    match *err {
        Error::InvalidHyperparameter { name: n, value, expected: e } => {
            assert_eq!(n, name, "{err}");
            assert_eq!(e, expected, "{err}");
            assert!(
                value.to_bits() == want.to_bits() || (value.is_nan() && want.is_nan()),
                "value {value} vs {want}"
            );
        }
        ref other => panic!("expected an invalid {name}, got {other:?}"),
    }
    says(err, &[name, &format!("{want}"), expected]);
}

#[test]
fn learning_rate_not_positive_or_not_finite() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let errors = [
            fit_err(&net, &x, &t, Mse, &mut Sgd::new(lr), quick()),
            fit_err(&net, &x, &t, Mse, &mut Sgd::new(lr).momentum(0.9), quick()),
            fit_err(&net, &x, &t, Mse, &mut Adam::new(lr), quick()),
            fit_err(&net, &x, &t, Mse, &mut AdamW::new(lr), quick()),
            fit_err(&net, &x, &t, Mse, &mut RmsProp::new(lr), quick()),
        ];
        for err in &errors {
            assert_invalid(err, "learning rate", lr, "positive and finite");
        }
    }
}

#[test]
fn adam_betas_outside_the_unit_interval() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    for (b1, b2, name, bad) in [
        (1.0, 0.999, "beta1", 1.0),
        (-0.1, 0.999, "beta1", -0.1),
        (1.5, 0.999, "beta1", 1.5),
        (0.9, 1.0, "beta2", 1.0),
        (0.9, -0.1, "beta2", -0.1),
        (0.9, f64::NAN, "beta2", f64::NAN),
    ] {
        let mut adam = Adam::new(0.01).betas(b1, b2);
        let err = fit_err(&net, &x, &t, Mse, &mut adam, quick());
        assert_invalid(&err, name, bad, "in [0, 1)");
        assert_eq!(adam.steps(), 0, "no step was taken");
        let mut adamw = AdamW::new(0.01).betas(b1, b2);
        let err = fit_err(&net, &x, &t, Mse, &mut adamw, quick());
        assert_invalid(&err, name, bad, "in [0, 1)");
        assert_eq!(adamw.steps(), 0, "no step was taken");
    }
    // The closed end of [0, 1) is allowed.
    let mut m = net;
    m.fit(&x, &t, &Mse, &mut Adam::new(0.01).betas(0.0, 0.0), quick(), &mut rng(0))
        .expect("betas (0, 0) are valid");
}

#[test]
fn nesterov_without_momentum() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    // Plain `Sgd` has no `nesterov` at all; with zero momentum it is an error.
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1).momentum(0.0).nesterov(true), quick());
    assert_invalid(&err, "momentum", 0.0, "positive with Nesterov momentum");
    says(&err, &["Nesterov"]);
    let err =
        fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1).momentum(0.9).dampening(0.5).nesterov(true), quick());
    assert_invalid(&err, "dampening", 0.5, "zero with Nesterov momentum");
    // With momentum and no dampening, Nesterov is fine.
    let mut m = net;
    m.fit(&x, &t, &Mse, &mut Sgd::new(0.1).momentum(0.9).nesterov(true), quick(), &mut rng(0)).unwrap();
}

#[test]
fn class_index_out_of_range_in_fit() {
    let (x, mut labels) = cls_data(8);
    labels[5] = 3;
    labels[6] = 9;
    let net = cls_net(1);
    let options = FitOptions { epochs: 2, batch_size: 4, ..Default::default() };
    let err = fit_err(&net, &x, &labels, SoftmaxCrossEntropy, &mut Sgd::new(0.1), options);
    assert_eq!(err, Error::ClassOutOfRange { data: "training data", sample: 5, class: 3, classes: 3 });
    says(&err, &["sample 5", "class index 3", "3 outputs"]);
}

#[test]
fn class_index_out_of_range_in_fit_validation() {
    let (x, labels) = cls_data(8);
    let mut bad = labels.clone();
    bad[2] = 4;
    let net = cls_net(1);
    let options = FitOptions { epochs: 2, batch_size: 4, validation: Some((&x, &bad)), ..Default::default() };
    let err = fit_err(&net, &x, &labels, SoftmaxCrossEntropy, &mut Sgd::new(0.1), options);
    assert_eq!(err, Error::ClassOutOfRange { data: "validation data", sample: 2, class: 4, classes: 3 });
    says(&err, &["sample 2 of the validation data", "class index 4", "3 outputs"]);
}

#[test]
fn class_index_out_of_range_in_accuracy_and_evaluate() {
    let (x, mut labels) = cls_data(8);
    labels[7] = 3;
    let net = cls_net(1);
    let err = net.accuracy(&x, &labels).unwrap_err();
    assert_eq!(err, Error::ClassOutOfRange { data: "data", sample: 7, class: 3, classes: 3 });
    says(&err, &["sample 7", "class index 3", "3 outputs"]);
    labels[4] = usize::MAX;
    let err = net.accuracy(&x, &labels).unwrap_err();
    assert_eq!(err, Error::ClassOutOfRange { data: "data", sample: 4, class: usize::MAX, classes: 3 });
    let err = net.evaluate(&x, &labels, &SoftmaxCrossEntropy).unwrap_err();
    assert_eq!(err, Error::ClassOutOfRange { data: "data", sample: 4, class: usize::MAX, classes: 3 });
}

#[test]
fn non_finite_input() {
    let (mut x, t) = reg_data(6);
    let net = reg_net(1);
    x[3][2] = f64::NAN;
    x[4][0] = f64::INFINITY;
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), quick());
    assert_eq!(err, Error::NonFiniteInput { data: "training data", sample: 3, index: 2 });
    says(&err, &["sample 3 of the training data", "input element 2", "not finite"]);

    // In the validation inputs too.
    let (clean, _) = reg_data(6);
    let options = FitOptions { validation: Some((&x[4..], &t[4..])), ..quick() };
    let err = fit_err(&net, &clean, &t, Mse, &mut Sgd::new(0.1), options);
    assert_eq!(err, Error::NonFiniteInput { data: "validation data", sample: 0, index: 0 });
    says(&err, &["sample 0 of the validation data", "input element 0"]);
}

#[test]
fn non_finite_target() {
    let (x, mut t) = reg_data(6);
    let net = reg_net(1);
    t[4][1] = f64::NEG_INFINITY;
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), quick());
    assert_eq!(err, Error::NonFiniteTarget { data: "training data", sample: 4, index: 1 });
    says(&err, &["sample 4", "target element 1", "not finite"]);
    t[1][0] = f64::NAN;
    let err = fit_err(&net, &x, &t, Huber::default(), &mut Sgd::new(0.1), quick());
    assert_eq!(err, Error::NonFiniteTarget { data: "training data", sample: 1, index: 0 });
    says(&err, &["sample 1", "target element 0"]);
    assert_eq!(net.evaluate(&x, &t, &Mae), Err(Error::NonFiniteTarget { data: "data", sample: 1, index: 0 }));
}

#[test]
fn bce_targets_outside_the_unit_interval() {
    let x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let net: Bin = Model::init(&mut rng(2));
    let options = || FitOptions { epochs: 2, batch_size: 2, ..Default::default() };
    for (bad, sample) in [(1.5, 2), (-0.1, 1), (f64::NAN, 3), (1.0 + 1e-12, 0)] {
        let mut t = [[0.0], [1.0], [1.0], [0.0]];
        t[sample][0] = bad;
        let err = fit_err(&net, &x, &t, BinaryCrossEntropy, &mut Sgd::new(0.1), options());
        assert_eq!(err, Error::TargetNotProbability { data: "training data", sample, index: 0 });
        says(&err, &[&format!("sample {sample}"), "target element 0", "probability"]);
        let err = fit_err(&net, &x, &t, BceWithLogits, &mut Sgd::new(0.1), options());
        assert_eq!(err, Error::TargetNotProbability { data: "training data", sample, index: 0 });
    }
    // The bounds themselves are probabilities.
    let mut m = net;
    m.fit(&x, &[[0.0], [1.0], [1.0], [0.0]], &BinaryCrossEntropy, &mut Sgd::new(0.1), options(), &mut rng(0))
        .unwrap();
}

#[test]
fn invalid_clip_schedule_and_early_stopping_options() {
    let (x, t) = reg_data(5);
    let net = reg_net(1);
    for clip in [Clip::Norm(0.0), Clip::Value(-1.0), Clip::Norm(f64::INFINITY)] {
        let c = match clip {
            Clip::Norm(c) | Clip::Value(c) => c,
            Clip::None => unreachable!(),
        };
        let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), FitOptions { clip, ..quick() });
        assert_invalid(&err, "clipping threshold", c, "positive and finite");
    }
    let err = fit_err(
        &net,
        &x,
        &t,
        Mse,
        &mut Sgd::new(0.1),
        FitOptions { schedule: Schedule::Step { every: 0, gamma: 0.5 }, ..quick() },
    );
    assert_invalid(&err, "step schedule period", 0.0, "at least 1");
    let err = fit_err(
        &net,
        &x,
        &t,
        Mse,
        &mut Sgd::new(0.1),
        FitOptions { schedule: Schedule::Step { every: 2, gamma: 0.0 }, ..quick() },
    );
    assert_invalid(&err, "step schedule gamma", 0.0, "positive and finite");
    let schedule = Schedule::Cosine { period: 0, min_lr: 0.0 };
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), FitOptions { schedule, ..quick() });
    assert_invalid(&err, "cosine schedule period", 0.0, "at least 1");
    let schedule = Schedule::Cosine { period: 5, min_lr: -1.0 };
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), FitOptions { schedule, ..quick() });
    assert_invalid(&err, "cosine schedule minimum", -1.0, "non-negative and finite");
    let early_stopping = Some(EarlyStopping { min_delta: -0.5, ..Default::default() });
    let err = fit_err(&net, &x, &t, Mse, &mut Sgd::new(0.1), FitOptions { early_stopping, ..quick() });
    assert_invalid(&err, "early-stopping minimum improvement", -0.5, "non-negative and finite");
}

/// Full-batch SGD on a linear neuron, step by step, until the loss or an
/// update stops being finite: `(epoch, loss, last finite parameters)`.
fn naive_divergence(
    net: &Lin,
    x: &[[f64; 1]],
    t: &[[f64; 1]],
    lr: f64,
    epochs: usize,
) -> Option<(usize, f64, Vec<f64>)> {
    let mut net = *net;
    for epoch in 0..epochs {
        let (g, mean) = naive_batch(&net, x, t, &Mse);
        if !mean.is_finite() {
            return Some((epoch, mean, flat(&net)));
        }
        let mut next = net;
        naive_sgd(&mut next, &g, lr);
        if !all_finite(&next) {
            return Some((epoch, mean, flat(&net)));
        }
        net = next;
    }
    None
}

#[test]
fn divergence_is_reported_and_the_last_finite_weights_are_kept() {
    let x = [[1.0], [2.0], [3.0], [-1.5]];
    let t = x.map(|[x]| [1e3 * x]);
    let net: Lin = Dense::new([[0.5]], [0.0]);
    let lr = 1.0;
    let (want_epoch, want_loss, want_params) =
        naive_divergence(&net, &x, &t, lr, 1000).expect("the reference diverges");
    assert!(want_epoch > 10, "the reference diverges only after a while ({want_epoch})");

    let mut model = net;
    let options = FitOptions { epochs: 1000, batch_size: 4, shuffle: false, ..Default::default() };
    let failed = model.fit(&x, &t, &Mse, &mut Sgd::new(lr), options, &mut rng(0)).unwrap_err();
    let err = failed.error;
    let Error::Diverged { epoch, batch, loss, cause } = err else {
        panic!("expected divergence, got {err:?}")
    };
    assert_eq!((epoch, batch), (want_epoch, 0), "{err}");
    assert_eq!(loss.is_finite(), want_loss.is_finite(), "loss {loss} vs the reference's {want_loss}");
    let want_cause = if loss.is_finite() { Divergence::Update } else { Divergence::Loss };
    assert_eq!(cause, want_cause, "{err}");
    // The epochs before the divergence are not lost.
    assert_eq!(failed.history.epochs.len(), epoch, "{failed}");
    assert_eq!(failed.history.stopped, StopReason::Failed);
    assert!(failed.to_string().contains(&format!("after {epoch} complete epochs")), "{failed}");
    says(&err, &[&format!("epoch {epoch}"), &format!("batch {batch}"), "diverged"]);
    assert!(all_finite(&model), "the model keeps finite weights: {:?}", flat(&model));
    assert_close("last finite weights", &flat(&model), &want_params, 1e-9);
}

#[test]
fn divergence_with_mini_batches_and_shuffling() {
    let x = [[1.0], [2.0], [3.0], [-1.5], [0.5]];
    let t = x.map(|[x]| [1e3 * x]);
    let mut model: Lin = Dense::new([[0.5]], [0.0]);
    let options = FitOptions { epochs: 1000, batch_size: 2, ..Default::default() };
    let err = model.fit(&x, &t, &Mse, &mut Sgd::new(1.0), options, &mut rng(3)).unwrap_err().error;
    let Error::Diverged { epoch, batch, .. } = err else { panic!("expected divergence, got {err:?}") };
    assert!(epoch < 1000 && batch < 3, "{err}");
    assert!(all_finite(&model), "the model keeps finite weights: {:?}", flat(&model));

    // The same through train_epoch: the epoch is always 0 there, the batch
    // is the batch within the call.
    let mut model: Lin = Dense::new([[0.5]], [0.0]);
    let (mut grads, mut sgd) = (Lin::zeroed(), Sgd::new(1.0));
    let err = (0..1000)
        .find_map(|_| model.train_epoch(&x, &t, &Mse, &mut sgd, &mut grads, 2, Clip::None).err())
        .expect("diverges");
    let Error::Diverged { epoch, batch, loss, cause } = err else {
        panic!("expected divergence, got {err:?}")
    };
    assert!(epoch == 0 && batch < 3 && !loss.is_finite(), "{err}");
    assert_eq!(cause, Divergence::Loss, "train_epoch cannot tell whether earlier calls updated the model");
    assert!(all_finite(&model), "a loss-detected divergence leaves finite weights");
}

#[test]
fn an_update_that_overflows_is_undone() {
    // The loss is finite (1), but θ - η g with η = 10³⁰⁸ overflows.
    let x = [[1.0], [1.0]];
    let t = [[0.0], [0.0]];
    let net: Lin = Dense::new([[0.5]], [0.5]);
    let mut model = net;
    let options = FitOptions { epochs: 3, batch_size: 2, ..Default::default() };
    let err = model.fit(&x, &t, &Mse, &mut Sgd::new(1e308), options, &mut rng(0)).unwrap_err().error;
    let (_, want_loss) = naive_batch(&net, &x, &t, &Mse);
    assert_eq!(err, Error::Diverged { epoch: 0, batch: 0, loss: want_loss, cause: Divergence::Update });
    says(&err, &["the update made a parameter non-finite", "smaller learning rate"]);
    assert_eq!(bits(&model), bits(&net), "the overflowing update is undone");
}

#[test]
fn divergence_restores_the_learning_rate() {
    // After an error, `fit` should leave the optimizer's learning rate as it
    // found it, as it does after a successful run: otherwise the next `fit`
    // with the same optimizer starts its schedule from a decayed rate.
    let x = [[1.0], [2.0], [3.0], [-1.5]];
    let t = x.map(|[x]| [1e3 * x]);
    let mut model: Lin = Dense::new([[0.5]], [0.0]);
    let mut sgd = Sgd::new(1.0);
    let schedule = Schedule::Step { every: 50, gamma: 0.9 };
    let options = FitOptions { epochs: 1000, batch_size: 4, shuffle: false, schedule, ..Default::default() };
    let err = model.fit(&x, &t, &Mse, &mut sgd, options, &mut rng(0)).unwrap_err().error;
    let Error::Diverged { epoch, .. } = err else { panic!("expected divergence, got {err:?}") };
    assert!(epoch >= 50, "diverged after the first decay ({err})");
    assert_eq!(sgd.learning_rate(), 1.0, "fit returned {err:?} and left the scheduled learning rate behind");
}

#[test]
fn train_step_refuses_a_non_finite_loss_without_updating() {
    let x = [[1.0]];
    let t = [[f64::MAX]];
    let mut net: Lin = Dense::new([[-f64::MAX]], [0.0]);
    let before = bits(&net);
    let err = net.train_step(&x, &t, &Mse, &mut Sgd::new(0.1), &mut Lin::zeroed(), Clip::None).unwrap_err();
    assert!(
        matches!(err, Error::Diverged { epoch: 0, batch: 0, loss, cause: Divergence::Loss } if loss.is_infinite()),
        "{err:?}"
    );
    assert_eq!(bits(&net), before);
}

#[test]
fn a_non_finite_first_loss_blames_the_data_not_the_learning_rate() {
    // A finite input whose loss overflows before any update: fit's first
    // batch. The message must not advise a smaller learning rate.
    let x = [[1.0], [2.0]];
    let t = [[f64::MAX], [0.0]];
    let net: Lin = Dense::new([[-f64::MAX]], [0.0]);
    let mut model = net;
    let options = FitOptions { epochs: 5, batch_size: 2, shuffle: false, ..Default::default() };
    let failed = model.fit(&x, &t, &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).unwrap_err();
    assert!(
        matches!(failed.error, Error::Diverged { epoch: 0, batch: 0, cause: Divergence::InitialLoss, .. }),
        "{failed:?}"
    );
    says(&failed.error, &["before any update", "inputs", "not the cause", "nothing was changed"]);
    assert!(!failed.error.to_string().contains("smaller learning rate"), "{}", failed.error);
    assert!(failed.history.epochs.is_empty());
    assert_eq!(bits(&model), bits(&net));
}

// ---------------------------------------------------------------------------
// 2. Batch semantics
// ---------------------------------------------------------------------------

#[test]
fn batch_size_one_is_per_sample_sgd() {
    let (x, t) = reg_data(9);
    let net = reg_net(4);
    let (lr, epochs) = (0.05, 3);

    let mut want = net;
    let mut want_losses = Vec::new();
    for _ in 0..epochs {
        let mut total = 0.0;
        for (x, t) in x.iter().zip(&t) {
            let mut grads = Reg::zeroed();
            let (y, tape) = want.forward_tape(x);
            total += Mse.loss(&y, t);
            want.backward(&tape, &Mse.gradient(&y, t), &mut grads);
            naive_sgd(&mut want, &flat(&grads), lr);
        }
        want_losses.push(total / x.len() as f64);
    }

    let mut got = net;
    let options = FitOptions { epochs, batch_size: 1, shuffle: false, ..Default::default() };
    let history = got.fit(&x, &t, &Mse, &mut Sgd::new(lr), options, &mut rng(0)).unwrap();
    assert_eq!(bits(&got), bits(&want), "fit(batch_size = 1) is per-sample SGD, bit for bit");
    assert_close("training losses", &history.train_loss(), &want_losses, 1e-12);
    assert_eq!(history.stopped, StopReason::Completed);
    assert_eq!(history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), (0..epochs).collect::<Vec<_>>());
}

#[test]
fn full_batch_is_one_step_per_epoch_on_the_mean_gradient() {
    let (x, t) = reg_data(10);
    let net = reg_net(5);
    let (lr, epochs) = (0.1, 5);
    let mut want = net;
    let want_losses = naive_fit(&mut want, &x, &t, &Mse, x.len(), epochs, |_| lr);

    for shuffle in [false, true] {
        let mut got = net;
        let options = FitOptions { epochs, batch_size: x.len(), shuffle, ..Default::default() };
        let history = got.fit(&x, &t, &Mse, &mut Sgd::new(lr), options, &mut rng(9)).unwrap();
        // Shuffling changes only the summation order of a full batch.
        assert_close(&format!("weights (shuffle {shuffle})"), &flat(&got), &flat(&want), 1e-12);
        assert_close(&format!("losses (shuffle {shuffle})"), &history.train_loss(), &want_losses, 1e-12);
    }
    // A batch larger than the data set is the full batch too.
    let mut got = net;
    let options = FitOptions { epochs, batch_size: 1000, shuffle: false, ..Default::default() };
    got.fit(&x, &t, &Mse, &mut Sgd::new(lr), options, &mut rng(9)).unwrap();
    assert_close("weights (batch 1000)", &flat(&got), &flat(&want), 1e-12);
}

#[test]
fn mini_batches_that_do_not_divide_the_data_set() {
    // n = 10, batch 4: batches of 4, 4 and 2, the last one averaged over 2.
    let (x, t) = reg_data(10);
    let net = reg_net(6);
    let (lr, epochs) = (0.1, 4);
    let mut want = net;
    let want_losses = naive_fit(&mut want, &x, &t, &Mse, 4, epochs, |_| lr);

    let mut got = net;
    let options = FitOptions { epochs, batch_size: 4, shuffle: false, ..Default::default() };
    let history = got.fit(&x, &t, &Mse, &mut Sgd::new(lr), options, &mut rng(0)).unwrap();
    assert_close("fit weights", &flat(&got), &flat(&want), 1e-12);
    assert_close("fit losses", &history.train_loss(), &want_losses, 1e-12);

    // train_epoch, in the order given, is the same.
    let mut by_epoch = net;
    let (mut grads, mut sgd) = (Reg::zeroed(), Sgd::new(lr));
    let losses: Vec<f64> = (0..epochs)
        .map(|_| by_epoch.train_epoch(&x, &t, &Mse, &mut sgd, &mut grads, 4, Clip::None).unwrap())
        .collect();
    assert_close("train_epoch weights", &flat(&by_epoch), &flat(&want), 1e-12);
    assert_close("train_epoch losses", &losses, &want_losses, 1e-12);

    // The "average the last batch over the full batch size" mistake would
    // differ from this reference: make sure the test can tell.
    let mut wrong = net;
    for _ in 0..epochs {
        for (x, t) in x.chunks(4).zip(t.chunks(4)) {
            let (g, _) = naive_batch(&wrong, x, t, &Mse);
            let scale = x.len() as f64 / 4.0;
            naive_sgd(&mut wrong, &g.iter().map(|g| g * scale).collect::<Vec<_>>(), lr);
        }
    }
    assert!(flat(&wrong).iter().zip(flat(&want)).any(|(a, b)| !close(*a, b, 1e-9)));
}

#[test]
fn mini_batches_with_a_classification_loss() {
    let (x, labels) = cls_data(11);
    let net = cls_net(7);
    let (lr, epochs) = (0.3, 3);
    let mut want = net;
    let want_losses = naive_fit(&mut want, &x, &labels, &SoftmaxCrossEntropy, 3, epochs, |_| lr);
    let mut got = net;
    let options = FitOptions { epochs, batch_size: 3, shuffle: false, ..Default::default() };
    let history =
        got.fit(&x, &labels, &SoftmaxCrossEntropy, &mut Sgd::new(lr), options, &mut rng(0)).unwrap();
    assert_close("weights", &flat(&got), &flat(&want), 1e-12);
    assert_close("losses", &history.train_loss(), &want_losses, 1e-12);
}

#[test]
fn train_step_returns_the_mean_loss_before_the_update() {
    let (x, t) = reg_data(7);
    let mut net = reg_net(8);
    let want_loss = x.iter().zip(&t).map(|(x, t)| Mse.loss(&net.forward(x), t)).sum::<f64>() / 7.0;
    let (want_grad, _) = naive_batch(&net, &x, &t, &Mse);
    let mut want = net;
    naive_sgd(&mut want, &want_grad, 0.2);

    let mut grads = Reg::zeroed();
    assert!(grads.set_param(0, 123.0)); // stale gradients must be reset, not added to
    let loss = net.train_step(&x, &t, &Mse, &mut Sgd::new(0.2), &mut grads, Clip::None).unwrap();
    assert!(close(loss, want_loss, 1e-14), "loss {loss} vs {want_loss}");
    assert_close("grads left in the buffer", &flat(&grads), &want_grad, 1e-12);
    assert_close("weights", &flat(&net), &flat(&want), 1e-12);
    let after = net.evaluate(&x, &t, &Mse).unwrap();
    assert!(after < loss, "one small step downhill lowers the loss ({loss} -> {after})");
}

#[test]
fn f32_batch_size_one_is_per_sample_sgd() {
    type Net32 = (Dense<3, 6, Tanh>, Dense<6, 2, Identity>);
    let (x, t) = reg_data(7);
    let x: Vec<[f32; 3]> = x.iter().map(|x| x.map(|v| v as f32)).collect();
    let t: Vec<[f32; 2]> = t.iter().map(|t| t.map(|v| v as f32)).collect();
    let net: Net32 = Model::init(&mut rng(30));
    let lr = 0.05_f32;
    let mut want = net;
    for _ in 0..2 {
        for (x, t) in x.iter().zip(&t) {
            let mut g = Net32::zeroed();
            let (y, tape) = want.forward_tape(x);
            want.backward(&tape, &Mse.gradient(&y, t), &mut g);
            let mut grads = Vec::new();
            g.for_each_tensor(|p| grads.extend_from_slice(p));
            let mut k = 0;
            want.for_each_tensor_mut(|p| {
                for v in p.iter_mut() {
                    *v -= lr * grads[k];
                    k += 1;
                }
            });
        }
    }
    let mut got = net;
    let options = FitOptions { epochs: 2, batch_size: 1, shuffle: false, ..Default::default() };
    got.fit(&x, &t, &Mse, &mut Sgd::new(f64::from(lr)), options, &mut rng(0)).unwrap();
    assert_eq!(got, want, "f32: fit(batch_size = 1) is per-sample SGD, bit for bit");
}

// ---------------------------------------------------------------------------
// 3. Determinism
// ---------------------------------------------------------------------------

#[test]
fn the_same_seed_gives_bit_identical_runs() {
    let (x, labels) = cls_data(23);
    let (vx, vl) = cls_data(9);
    let net = cls_net(10);
    let run = |seed: u64| {
        let mut m = net;
        let mut adam = Adam::new(0.02);
        let options = FitOptions {
            epochs: 15,
            batch_size: 4,
            shuffle: true,
            clip: Clip::Norm(1.0),
            validation: Some((&vx, &vl)),
            schedule: Schedule::Cosine { period: 15, min_lr: 0.001 },
            ..Default::default()
        };
        let history = m.fit(&x, &labels, &SoftmaxCrossEntropy, &mut adam, options, &mut rng(seed)).unwrap();
        (bits(&m), history)
    };
    let (w1, h1) = run(11);
    let (w2, h2) = run(11);
    assert_eq!(w1, w2, "same seed, same weights to the bit");
    assert_eq!(h1, h2, "same seed, same history");
    let loss_bits = |h: &History<f64>| h.epochs.iter().map(|e| e.train_loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(loss_bits(&h1), loss_bits(&h2));
    assert_eq!(h1.validation_accuracy().len(), 15, "a classification loss reports validation accuracy");

    let (w3, h3) = run(12);
    assert_ne!(w1, w3, "another seed shuffles differently");
    assert_ne!(h1.train_loss(), h3.train_loss());
}

// ---------------------------------------------------------------------------
// 4. Shuffling
// ---------------------------------------------------------------------------

#[test]
fn shuffle_together_keeps_pairs_and_permutes() {
    let mut r = rng(21);
    let mut a: Vec<u32> = (0..50).collect();
    let mut b: Vec<String> = a.iter().map(|i| format!("#{i}")).collect();
    let mut moved = 0;
    for _ in 0..20 {
        let before = a.clone();
        shuffle_together(&mut a, &mut b, &mut r).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(*y, format!("#{x}"), "pairs stay together");
        }
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>(), "a permutation: nothing lost or duplicated");
        moved += usize::from(a != before);
    }
    assert_eq!(moved, 20, "50 elements never come back unshuffled");

    // Different lengths do not pair up: an error, and nothing moves.
    let mut long: Vec<u32> = (0..10).collect();
    let mut short: Vec<u32> = (100..104).collect();
    let err = shuffle_together(&mut long, &mut short, &mut r).unwrap_err();
    assert_eq!(err, Error::LengthMismatch { what: "inputs", len: 10, other: "targets", other_len: 4 });
    assert_eq!(long, (0..10).collect::<Vec<_>>());
    assert_eq!(short, (100..104).collect::<Vec<_>>());
    // Nothing to do for 0 or 1 elements.
    let (mut e, mut f): ([u8; 0], [u8; 0]) = ([], []);
    shuffle_together(&mut e, &mut f, &mut r).unwrap();
    let (mut one, mut other) = ([7], [8]);
    shuffle_together(&mut one, &mut other, &mut r).unwrap();
    assert_eq!((one, other), ([7], [8]));
}

/// The permutations of three elements, in order.
const PERMUTATIONS: [[u8; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

/// Counts how often each permutation of `[0, 1, 2]` comes out of `shuffle`
/// in `trials` shuffles, and returns the chi-square statistic against the
/// uniform distribution (5 degrees of freedom).
fn chi_square(trials: usize, mut shuffle: impl FnMut(&mut [u8; 3])) -> (f64, [usize; 6]) {
    let mut counts = [0usize; 6];
    for _ in 0..trials {
        let mut p = [0u8, 1, 2];
        shuffle(&mut p);
        counts[PERMUTATIONS.iter().position(|q| *q == p).expect("a permutation")] += 1;
    }
    let expected = trials as f64 / 6.0;
    let chi2 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    (chi2, counts)
}

#[test]
fn shuffles_of_three_are_uniform() {
    const TRIALS: usize = 60_000;
    // The 99.99th percentile of chi-square with 5 degrees of freedom is
    // about 25.7; a fair shuffle stays far below it for this seed, while the
    // classic biased shuffle (swap with any j in 0..n) scores in the
    // hundreds (its probabilities are 4/27 and 5/27, not 1/6).
    const BOUND: f64 = 25.0;
    let mut r = rng(2024);
    let (chi2, counts) = chi_square(TRIALS, |p| {
        let mut q = [0u8; 3];
        shuffle_together(p, &mut q, &mut r).unwrap();
    });
    assert!(chi2 < BOUND, "chi-square {chi2:.1} for counts {counts:?}");
    for c in counts {
        assert!((c as f64 / TRIALS as f64 - 1.0 / 6.0).abs() < 0.01, "counts {counts:?}");
    }

    // The same statistic catches the biased shuffle, so the bound has teeth.
    let mut r = rng(2024);
    let (biased, counts) = chi_square(TRIALS, |p| {
        for i in 0..3 {
            let j = (r.next_u64() % 3) as usize;
            p.swap(i, j);
        }
    });
    assert!(biased > 10.0 * BOUND, "the biased shuffle scores {biased:.1} ({counts:?})");
}

// ---------------------------------------------------------------------------
// 5. Clipping
// ---------------------------------------------------------------------------

fn norm(g: &[f64]) -> f64 {
    g.iter().map(|g| g * g).sum::<f64>().sqrt()
}

#[test]
fn clip_norm_against_the_reference() {
    let (x, t) = reg_data(6);
    let net = reg_net(12);
    let lr = 0.5;
    let (g, _) = naive_batch(&net, &x, &t, &Mse);
    let g_norm = norm(&g);
    assert!(g_norm > 0.01, "a gradient worth clipping ({g_norm})");

    for max_norm in [0.1 * g_norm, 0.5 * g_norm, 10.0 * g_norm] {
        let coefficient = (max_norm / (g_norm + 1e-6)).min(1.0);
        let clipped: Vec<f64> = g.iter().map(|g| g * coefficient).collect();
        let mut want = net;
        naive_sgd(&mut want, &clipped, lr);

        let mut got = net;
        let mut grads = Reg::zeroed();
        got.train_step(&x, &t, &Mse, &mut Sgd::new(lr), &mut grads, Clip::Norm(max_norm)).unwrap();
        assert_close(&format!("clipped grads, c = {max_norm}"), &flat(&grads), &clipped, 1e-12);
        assert_close(&format!("weights, c = {max_norm}"), &flat(&got), &flat(&want), 1e-12);
        if max_norm < g_norm {
            assert!(close(norm(&flat(&grads)), max_norm, 1e-5), "the clipped norm is c");
        } else {
            let mut unclipped = net;
            unclipped.train_step(&x, &t, &Mse, &mut Sgd::new(lr), &mut Reg::zeroed(), Clip::None).unwrap();
            assert_eq!(bits(&got), bits(&unclipped), "a norm below c is left alone");
        }
    }

    // Clip::apply directly, on a gradient with a known norm: 3-4-12-... = 13.
    let mut grads = Lin::zeroed();
    grads.weights = [[5.0]];
    grads.bias = [-12.0];
    Clip::Norm(1.3).apply(&mut grads);
    let c = 1.3 / (13.0 + 1e-6);
    assert_close("apply", &flat(&grads), &[5.0 * c, -12.0 * c], 1e-15);
}

#[test]
fn clip_norm_is_global_over_all_layers() {
    // The norm is over all parameters together, not per tensor or per layer.
    let mut grads = Reg::zeroed();
    let n = Reg::PARAMS;
    let values: Vec<f64> = (0..n).map(|k| ((k * 7 % 11) as f64 - 5.0) / 3.0).collect();
    set_flat(&mut grads, &values);
    let max_norm = 0.25 * norm(&values);
    Clip::Norm(max_norm).apply(&mut grads);
    let c = max_norm / (norm(&values) + 1e-6);
    assert_close("globally clipped", &flat(&grads), &values.iter().map(|v| v * c).collect::<Vec<_>>(), 1e-14);
}

#[test]
fn clip_value_clamps_every_element() {
    let (x, t) = reg_data(6);
    let net = reg_net(13);
    let lr = 0.5;
    let (g, _) = naive_batch(&net, &x, &t, &Mse);
    let mut magnitudes: Vec<f64> = g.iter().map(|g| g.abs()).collect();
    magnitudes.sort_by(f64::total_cmp);
    let c = magnitudes[magnitudes.len() / 2]; // half the elements get clamped
    let clamped: Vec<f64> = g.iter().map(|&g| g.clamp(-c, c)).collect();
    assert!(g.iter().filter(|g| g.abs() > c).count() >= 5, "some elements are clamped");

    let mut want = net;
    naive_sgd(&mut want, &clamped, lr);
    let mut got = net;
    let mut grads = Reg::zeroed();
    got.train_step(&x, &t, &Mse, &mut Sgd::new(lr), &mut grads, Clip::Value(c)).unwrap();
    assert_close("clamped grads", &flat(&grads), &clamped, 1e-12);
    assert_close("weights", &flat(&got), &flat(&want), 1e-12);

    // Clip::apply directly: exact.
    let mut direct = Reg::zeroed();
    set_flat(&mut direct, &g);
    Clip::Value(c).apply(&mut direct);
    assert_eq!(bits(&direct), clamped.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    // And no clipping is no clipping.
    let mut none = Reg::zeroed();
    set_flat(&mut none, &g);
    Clip::None.apply(&mut none);
    assert_eq!(flat(&none), g);
}

// ---------------------------------------------------------------------------
// 6. Schedules
// ---------------------------------------------------------------------------

fn step_lr(lr0: f64, every: usize, gamma: f64, e: usize) -> f64 {
    lr0 * gamma.powi((e / every) as i32)
}

fn cosine_lr(lr0: f64, period: usize, min_lr: f64, e: usize) -> f64 {
    let e = e.min(period) as f64;
    min_lr + (lr0 - min_lr) * (1.0 + (std::f64::consts::PI * e / period as f64).cos()) / 2.0
}

/// `step_with_rate(lr, ..)` is a step at learning rate `lr`: the bits of
/// setting the rate and stepping, for every optimizer and option, over
/// several steps with changing rates; and the optimizer's own rate is left
/// as it was (what lets `fit` schedule without restoring anything).
#[test]
fn a_step_with_a_rate_is_a_step_at_that_rate() {
    fn check<O: Optimizer<Reg> + Clone>(name: &str, optimizer: O) {
        let mut net = reg_net(4);
        let (x, t) = reg_data(6);
        let own = optimizer.learning_rate();
        let (mut scheduled, mut reference) = (optimizer.clone(), optimizer);
        let (mut a, mut b) = (net, net);
        for (step, lr) in [0.05, 0.02, 0.02, 0.007, 0.1].into_iter().enumerate() {
            let mut grads = Reg::zeroed();
            for (x, t) in x.iter().zip(&t) {
                let (y, tape) = net.forward_tape(x);
                net.backward(&tape, &Mse.gradient(&y, t), &mut grads);
            }
            scheduled.step_with_rate(lr, &mut a, &grads);
            reference.set_learning_rate(lr);
            reference.step(&mut b, &grads);
            assert_eq!(bits(&a), bits(&b), "{name}, step {step} at rate {lr}");
            assert_eq!(scheduled.learning_rate(), own, "{name}: its own rate changed");
            net = a;
        }
        assert_ne!(bits(&a), bits(&reg_net(4)), "{name} moved nothing");
    }
    check("SGD", Sgd::new(0.3).weight_decay(0.01));
    check("SGD with momentum", Sgd::new(0.3).momentum(0.9).dampening(0.1));
    check("SGD with Nesterov momentum", Sgd::new(0.3).momentum(0.9).nesterov(true));
    check("Adam", Adam::new(0.3).weight_decay(0.01));
    check("Adam with AMSGrad", Adam::new(0.3).amsgrad());
    check("AdamW", AdamW::new(0.3).weight_decay(0.1));
    check("RMSprop", RmsProp::new(0.3));
    check("RMSprop centred with momentum", RmsProp::new(0.3).centered().momentum(0.5));
}

#[test]
fn schedule_formulas() {
    for e in 0..40 {
        let got = Schedule::Step { every: 3, gamma: 0.5 }.learning_rate(0.8, e);
        assert!(close(got, step_lr(0.8, 3, 0.5, e), 1e-12), "step, epoch {e}: {got}");
        let got = Schedule::Step { every: 1, gamma: 0.9 }.learning_rate(0.1, e);
        assert!(close(got, step_lr(0.1, 1, 0.9, e), 1e-12), "step every 1, epoch {e}: {got}");
        let got = Schedule::Cosine { period: 10, min_lr: 0.001 }.learning_rate(0.1, e);
        assert!(close(got, cosine_lr(0.1, 10, 0.001, e), 1e-12), "cosine, epoch {e}: {got}");
        assert_eq!(Schedule::Constant.learning_rate(0.3, e), 0.3);
    }
    let cosine = Schedule::Cosine { period: 10, min_lr: 0.001 };
    assert_eq!(cosine.learning_rate(0.1, 0), 0.1, "starts at η₀");
    assert!(close(cosine.learning_rate(0.1, 5), 0.0505, 1e-12), "halfway is the midpoint");
    assert!(close(cosine.learning_rate(0.1, 10), 0.001, 1e-15), "ends at η_min");
    assert!(close(cosine.learning_rate(0.1, 25), 0.001, 1e-15), "and stays there");
    let step = Schedule::Step { every: 3, gamma: 0.5 };
    assert_eq!([0, 2, 3, 5, 6].map(|e| step.learning_rate(0.8, e)), [0.8, 0.8, 0.4, 0.4, 0.2]);
}

#[test]
fn fit_follows_the_schedule_and_restores_the_learning_rate() {
    let (x, t) = reg_data(8);
    let net = reg_net(14);
    let lr0 = 0.2;
    let epochs = 12;
    type Formula = Box<dyn Fn(usize) -> f64>;
    let schedules: [(Schedule, Formula); 2] = [
        (Schedule::Step { every: 4, gamma: 0.3 }, Box::new(move |e| step_lr(lr0, 4, 0.3, e))),
        (Schedule::Cosine { period: 8, min_lr: 0.01 }, Box::new(move |e| cosine_lr(lr0, 8, 0.01, e))),
    ];
    for (schedule, formula) in schedules {
        let mut want = net;
        let want_losses = naive_fit(&mut want, &x, &t, &Mse, 3, epochs, &formula);

        let mut got = net;
        let mut sgd = Sgd::new(lr0);
        let mut seen = Vec::new();
        let mut callback = |report: &EpochReport<f64>| {
            seen.push(report.learning_rate);
            ControlFlow::Continue(())
        };
        let options = FitOptions { epochs, batch_size: 3, shuffle: false, schedule, ..Default::default() };
        let history = got.fit_with(&x, &t, &Mse, &mut sgd, options, &mut rng(0), &mut callback).unwrap();
        let reported: Vec<f64> = history.epochs.iter().map(|e| e.learning_rate).collect();
        let wanted: Vec<f64> = (0..epochs).map(&formula).collect();
        assert_close(&format!("{schedule:?}: reported learning rates"), &reported, &wanted, 1e-12);
        assert_eq!(seen, reported, "the callback sees the same reports");
        assert_eq!(sgd.learning_rate(), lr0, "{schedule:?}: fit restores the optimizer's learning rate");
        // The scheduled rate is the one the steps used.
        assert_close(&format!("{schedule:?}: weights"), &flat(&got), &flat(&want), 1e-12);
        assert_close(&format!("{schedule:?}: losses"), &history.train_loss(), &want_losses, 1e-12);
    }
}

// ---------------------------------------------------------------------------
// 7. Early stopping and the callback
// ---------------------------------------------------------------------------

/// `K` one-dimensional inputs or targets.
type Samples<const K: usize> = [[f64; 1]; K];

/// Training pulls `w` from 0 towards 2 (targets `2x`); the validation set
/// wants `w = 1` (targets `x`). The validation loss falls until `w` passes
/// 1, then rises: the model "overfits".
fn overfitting_data() -> (Samples<4>, Samples<4>, Samples<3>, Samples<3>) {
    let x = [[1.0], [2.0], [-1.0], [-2.0]];
    let t = x.map(|[x]| [2.0 * x]);
    let vx = [[0.5], [1.5], [-1.0]];
    let vt = vx;
    (x, t, vx, vt)
}

/// The first index of the smallest value.
fn first_argmin(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |best, k| if v[k] < v[best] { k } else { best })
}

#[test]
fn early_stopping_on_a_rising_validation_loss() {
    let (x, t, vx, vt) = overfitting_data();
    let net: Lin = Dense::new([[0.0]], [0.0]);
    let patience = 5;
    for restore_best in [true, false] {
        let mut model = net;
        let options = FitOptions {
            epochs: 1000,
            batch_size: 4,
            shuffle: false,
            validation: Some((&vx, &vt)),
            early_stopping: Some(EarlyStopping { patience, min_delta: 0.0, restore_best }),
            ..Default::default()
        };
        let history = model.fit(&x, &t, &Mse, &mut Sgd::new(0.01), options, &mut rng(0)).unwrap();
        let validation = history.validation_loss();
        assert_eq!(validation.len(), history.epochs.len());
        assert_eq!(history.stopped, StopReason::EarlyStopping);
        let best = first_argmin(&validation);
        assert!(best > 3, "the validation loss falls for a while first (best epoch {best})");
        assert_eq!(history.best_epoch, best, "best_epoch is the lowest validation loss");
        assert_eq!(history.epochs.len(), best + patience + 1, "stops `patience` epochs after the best one");
        assert!(validation[best..].windows(2).all(|w| w[1] >= w[0]), "it only rose afterwards");
        assert!(history.validation_accuracy().is_empty(), "no accuracy for a regression loss");

        let after = model.evaluate(&vx, &vt, &Mse).unwrap();
        if restore_best {
            assert_eq!(after, validation[best], "restore_best puts the best epoch's weights back");
        } else {
            assert_eq!(after, *validation.last().unwrap(), "without restore_best the last weights stay");
        }
        // The reported validation losses are what `evaluate` says along the way.
        let mut replay = net;
        for (e, report) in history.epochs.iter().enumerate().take(best + 2) {
            naive_fit(&mut replay, &x, &t, &Mse, 4, 1, |_| 0.01);
            let v = replay.evaluate(&vx, &vt, &Mse).unwrap();
            assert!(close(report.validation_loss.unwrap(), v, 1e-12), "epoch {e}: {report:?} vs {v}");
        }
    }
}

#[test]
fn restore_best_also_applies_when_all_epochs_run() {
    let (x, t, vx, vt) = overfitting_data();
    let mut model: Lin = Dense::new([[0.0]], [0.0]);
    let options = FitOptions {
        epochs: 40,
        batch_size: 4,
        shuffle: false,
        validation: Some((&vx, &vt)),
        early_stopping: Some(EarlyStopping { patience: 1000, min_delta: 0.0, restore_best: true }),
        ..Default::default()
    };
    let history = model.fit(&x, &t, &Mse, &mut Sgd::new(0.01), options, &mut rng(0)).unwrap();
    assert_eq!((history.stopped, history.epochs.len()), (StopReason::Completed, 40));
    let validation = history.validation_loss();
    let best = first_argmin(&validation);
    assert!(best < 39, "the best epoch is not the last one ({best})");
    assert_eq!(history.best_epoch, best);
    assert_eq!(model.evaluate(&vx, &vt, &Mse).unwrap(), validation[best]);
}

#[test]
fn zero_epochs_change_nothing() {
    let (x, t) = reg_data(5);
    let mut model = reg_net(20);
    let before = bits(&model);
    let mut sgd = Sgd::new(0.1);
    let options = FitOptions {
        epochs: 0,
        schedule: Schedule::Step { every: 1, gamma: 0.5 },
        early_stopping: Some(EarlyStopping::default()),
        ..quick()
    };
    let history = model.fit(&x, &t, &Mse, &mut sgd, options, &mut rng(0)).unwrap();
    assert!(history.epochs.is_empty());
    assert_eq!(history.stopped, StopReason::Completed);
    assert_eq!(bits(&model), before);
    assert_eq!(sgd.learning_rate(), 0.1);
}

#[test]
fn early_stopping_on_a_stalled_training_loss() {
    // Already at the optimum: the gradient is exactly zero and the training
    // loss (monitored without validation data) never improves.
    let x = [[1.0], [2.0], [-1.0]];
    let t = x.map(|[x]| [2.0 * x]);
    let mut model: Lin = Dense::new([[2.0]], [0.0]);
    let options = FitOptions {
        epochs: 100,
        batch_size: 2,
        early_stopping: Some(EarlyStopping { patience: 3, ..Default::default() }),
        ..Default::default()
    };
    let history = model.fit(&x, &t, &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).unwrap();
    assert_eq!(history.stopped, StopReason::EarlyStopping);
    assert_eq!(history.best_epoch, 0);
    assert_eq!(history.epochs.len(), 4);
    assert!(history.train_loss().iter().all(|&l| l == 0.0));

    // min_delta: improvements smaller than it do not count.
    let (x, t, _, _) = overfitting_data();
    let mut model: Lin = Dense::new([[0.0]], [0.0]);
    let options = FitOptions {
        epochs: 1000,
        batch_size: 4,
        early_stopping: Some(EarlyStopping { patience: 2, min_delta: 1e9, restore_best: true }),
        ..Default::default()
    };
    let history = model.fit(&x, &t, &Mse, &mut Sgd::new(0.01), options, &mut rng(0)).unwrap();
    assert_eq!(
        (history.stopped, history.best_epoch, history.epochs.len()),
        (StopReason::EarlyStopping, 0, 3)
    );
    let first = history.epochs[0].train_loss;
    assert!(history.epochs[1].train_loss < first, "the loss did fall, by less than min_delta");
}

#[test]
fn the_callback_can_stop_training() {
    let (x, t) = reg_data(8);
    let mut model = reg_net(15);
    let mut calls = Vec::new();
    let mut callback = |report: &EpochReport<f64>| {
        calls.push(*report);
        if report.epoch == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = FitOptions { epochs: 50, batch_size: 3, ..Default::default() };
    let history =
        model.fit_with(&x, &t, &Mse, &mut Adam::new(0.01), options, &mut rng(1), &mut callback).unwrap();
    assert_eq!(history.stopped, StopReason::Callback);
    assert_eq!(history.epochs.len(), 4);
    assert_eq!(calls, history.epochs, "the callback saw every report, once");
    assert_eq!(history.best_epoch, first_argmin(&history.train_loss()));
}

// ---------------------------------------------------------------------------
// 8. predict, predict_into, classify, accuracy, evaluate
// ---------------------------------------------------------------------------

#[test]
fn predict_and_predict_into_match_the_naive_forward_pass() {
    let (x, _) = reg_data(13);
    let net = reg_net(16);
    let want: Vec<[f64; 2]> = x.iter().map(|x| naive_dense(&net.1, &naive_dense(&net.0, x))).collect();
    let got = net.predict(&x);
    assert_eq!(got.len(), x.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(&format!("predict[{k}]"), g, w, 1e-14);
    }
    let mut into = vec![[f64::NAN; 2]; x.len()];
    net.predict_into(&x, &mut into).unwrap();
    assert_eq!(into, got, "predict_into writes what predict returns");
    assert!(net.predict(&[]).is_empty());
}

#[test]
fn classify_accuracy_and_evaluate_match_naive_loops() {
    let (x, labels) = cls_data(40);
    let net = cls_net(17);
    let outputs: Vec<[f64; 3]> = x.iter().map(|x| naive_dense(&net.1, &naive_dense(&net.0, x))).collect();
    let predicted: Vec<usize> = outputs.iter().map(|y| naive_argmax(y)).collect();
    for (x, &p) in x.iter().zip(&predicted) {
        assert_eq!(net.classify(x), Ok(p));
    }

    // Accuracy on the true labels and on labels made right or wrong on purpose.
    let count = |labels: &[usize]| predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / 40.0;
    assert_eq!(net.accuracy(&x, &labels).unwrap(), count(&labels));
    let mixed: Vec<usize> =
        predicted.iter().enumerate().map(|(i, &p)| if i % 4 == 0 { (p + 1) % 3 } else { p }).collect();
    assert_eq!(net.accuracy(&x, &mixed).unwrap(), 0.75);
    assert_eq!(net.accuracy(&x, &predicted).unwrap(), 1.0);

    let want: f64 = outputs.iter().zip(&labels).map(|(z, &c)| naive_cross_entropy(z, c)).sum::<f64>() / 40.0;
    let got = net.evaluate(&x, &labels, &SoftmaxCrossEntropy).unwrap();
    assert!(close(got, want, 1e-13), "cross-entropy {got} vs {want}");

    // Mse on a regression net: the mean over samples of the mean over outputs.
    let (rx, rt) = reg_data(17);
    let rnet = reg_net(18);
    let want: f64 = rx
        .iter()
        .zip(&rt)
        .map(|(x, t)| {
            let y = naive_dense(&rnet.1, &naive_dense(&rnet.0, x));
            ((y[0] - t[0]).powi(2) + (y[1] - t[1]).powi(2)) / 2.0
        })
        .sum::<f64>()
        / 17.0;
    let got = rnet.evaluate(&rx, &rt, &Mse).unwrap();
    assert!(close(got, want, 1e-13), "mse {got} vs {want}");
}

#[test]
fn classify_breaks_ties_towards_the_first_class() {
    let net: Dense<2, 4, Identity, f64> = Dense::new([[0.0; 2]; 4], [1.0, 3.0, 3.0, -2.0]);
    assert_eq!(net.classify(&[0.5, 0.5]), Ok(1));
    let net: Dense<2, 3, Identity, f64> = Dense::new([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [0.0; 3]);
    assert_eq!(net.classify(&[0.2, 0.7]), Ok(1));
    assert_eq!(net.classify(&[-0.2, -0.7]), Ok(2));
}

#[test]
fn validation_accuracy_in_the_history_is_the_accuracy_after_each_epoch() {
    let (x, labels) = cls_data(30);
    let (vx, vl) = cls_data(12);
    let net = cls_net(19);
    let mut replay = net;
    let mut model = net;
    let options = FitOptions {
        epochs: 6,
        batch_size: 5,
        shuffle: false,
        validation: Some((&vx, &vl)),
        ..Default::default()
    };
    let history =
        model.fit(&x, &labels, &SoftmaxCrossEntropy, &mut Sgd::new(0.5), options, &mut rng(0)).unwrap();
    for report in &history.epochs {
        naive_fit(&mut replay, &x, &labels, &SoftmaxCrossEntropy, 5, 1, |_| 0.5);
        assert_eq!(report.validation_accuracy, Some(replay.accuracy(&vx, &vl).unwrap()), "{report:?}");
        let v = replay.evaluate(&vx, &vl, &SoftmaxCrossEntropy).unwrap();
        assert!(close(report.validation_loss.unwrap(), v, 1e-12), "{report:?} vs {v}");
    }
}

// ---------------------------------------------------------------------------
// 9. A training loop without an allocator
// ---------------------------------------------------------------------------

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

#[test]
fn train_epoch_and_shuffle_together_learn_xor_without_allocating() {
    type Net = (Dense<2, 8, Tanh, f64>, Dense<8, 1, Sigmoid, f64>);
    // XOR-like data: the four corners, each four times with a little jitter.
    let mut inputs = [[0.0; 2]; 16];
    let mut targets = [[0.0; 1]; 16];
    for (k, (x, t)) in inputs.iter_mut().zip(targets.iter_mut()).enumerate() {
        let (a, b) = ((k & 1) as f64, ((k >> 1) & 1) as f64);
        let jitter = 0.05 * ((k >> 2) as f64 - 1.5);
        *x = [a + jitter, b - jitter];
        *t = [f64::from((a != b) as u8)];
    }
    let mut r = rng(3);
    let mut net: Net = Model::init(&mut r);
    let mut grads = Net::zeroed();
    let mut adam = Adam::new(0.05);
    let initial = net.evaluate(&inputs, &targets, &BinaryCrossEntropy).unwrap();

    let mut last = f64::NAN;
    let (mut final_loss, mut correct) = (f64::NAN, 0);
    let allocations = common::allocations_in(|| {
        for _ in 0..300 {
            shuffle_together(&mut inputs, &mut targets, &mut r).unwrap();
            last = net
                .train_epoch(
                    &inputs,
                    &targets,
                    &BinaryCrossEntropy,
                    &mut adam,
                    &mut grads,
                    4,
                    Clip::Norm(5.0),
                )
                .expect("trains");
        }
        final_loss = net.evaluate(&inputs, &targets, &BinaryCrossEntropy).unwrap();
        correct =
            inputs.iter().zip(&targets).filter(|(x, t)| (net.forward(x)[0] > 0.5) == (t[0] > 0.5)).count();
    });

    assert_eq!(allocations, 0, "train_epoch, shuffle_together and evaluate allocate nothing");
    assert!(last.is_finite());
    assert!(final_loss < 0.05, "XOR learnt: loss {initial} -> {final_loss}");
    assert_eq!(correct, 16);
    for (x, t) in inputs.iter().zip(&targets) {
        assert_eq!(t[0], f64::from(((x[0] > 0.5) != (x[1] > 0.5)) as u8), "pairs stayed together");
    }
}

/// An optimizer buffer that is kept but not in use changes nothing:
/// RMSprop with momentum 0 (a momentum buffer kept, as PyTorch uses it only
/// while μ > 0) steps exactly as plain RMSprop; `set_momentum` turns it on,
/// after which the two differ; `reset` forgets every kept buffer.
#[test]
fn kept_buffers_follow_their_option() {
    let (x, t) = reg_data(16);
    let start: Reg = Model::init(&mut rng(3));
    let run = |optimizer: &mut dyn FnMut(&mut Reg, &mut Reg)| {
        let mut net = start;
        let mut grads = Reg::zeroed();
        for _ in 0..5 {
            grads.fill_zero();
            for (x, t) in x.iter().zip(&t) {
                let (y, tape) = net.forward_tape(x);
                net.backward(&tape, &Mse.gradient(&y, t), &mut grads);
            }
            optimizer(&mut net, &mut grads);
        }
        bits(&net)
    };
    let mut plain = RmsProp::new(0.01);
    let mut zero_momentum = RmsProp::new(0.01).momentum(0.0);
    let reference = run(&mut |net, grads| plain.step(net, grads));
    assert_eq!(run(&mut |net, grads| zero_momentum.step(net, grads)), reference);
    let mut with_momentum = zero_momentum.clone().set_momentum(0.5);
    assert_ne!(run(&mut |net, grads| with_momentum.step(net, grads)), reference);

    // After reset, a centred RMSprop with momentum repeats its first run.
    let mut centred = RmsProp::new(0.01).centered().momentum(0.5);
    let first = run(&mut |net, grads| centred.step(net, grads));
    centred.reset();
    assert_eq!(run(&mut |net, grads| centred.step(net, grads)), first);
    let mut amsgrad = Adam::new(0.01).amsgrad();
    let first = run(&mut |net, grads| amsgrad.step(net, grads));
    amsgrad.reset();
    assert_eq!(run(&mut |net, grads| amsgrad.step(net, grads)), first);
}

// ---------------------------------------------------------------------------
// 10. Every entry point as careful as fit
// ---------------------------------------------------------------------------

/// A class net over `f32` whose weights hold a NaN: every output is NaN.
fn nan_net() -> (Dense<2, 3, Tanh>, Dense<3, 3, Identity>) {
    let mut net: (Dense<2, 3, Tanh>, Dense<3, 3, Identity>) = Model::init(&mut rng(2));
    net.1.bias[1] = f32::NAN;
    net.1.weights = [[f32::NAN; 3]; 3];
    net
}

#[test]
fn inference_invents_no_class_and_no_loss() {
    let net: Cls = cls_net(1);
    let (mut x, labels) = cls_data(6);
    // A NaN input: classify, accuracy and evaluate name the sample and the
    // element (accuracy used to count the invented class as correct).
    x[4][1] = f64::NAN;
    let err = net.classify(&x[4]).unwrap_err();
    assert_eq!(err, Error::NonFiniteInput { data: "data", sample: 0, index: 1 });
    let err = net.accuracy(&x, &labels).unwrap_err();
    assert_eq!(err, Error::NonFiniteInput { data: "data", sample: 4, index: 1 });
    let err = net.evaluate(&x, &labels, &SoftmaxCrossEntropy).unwrap_err();
    assert_eq!(err, Error::NonFiniteInput { data: "data", sample: 4, index: 1 });
    x[4][1] = f64::INFINITY;
    assert_eq!(
        net.accuracy(&x, &labels).unwrap_err(),
        Error::NonFiniteInput { data: "data", sample: 4, index: 1 }
    );

    // Finite inputs, NaN outputs (NaN weights): refused too.
    let net = nan_net();
    let inputs = [[0.5f32, -0.5], [1.0, 2.0]];
    let err = net.classify(&inputs[0]).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteOutput { data: "data", sample: 0, index: 0, value } if value.is_nan()),
        "{err:?}"
    );
    says(&err, &["output 0 is NaN", "no class"]);
    let err = net.accuracy(&inputs, &[2, 2]).unwrap_err();
    assert!(matches!(err, Error::NonFiniteOutput { data: "data", sample: 0, index: 0, .. }), "{err:?}");
    let err = net.evaluate(&inputs, &[2, 2], &SoftmaxCrossEntropy).unwrap_err();
    assert!(matches!(err, Error::NonFiniteOutput { sample: 0, .. }), "{err}");
    // The raw outputs are still there for whoever wants them.
    assert!(net.forward(&inputs[0]).iter().all(|y| y.is_nan()));
}

/// What `fit` refuses, the per-step entry points refuse too, before they
/// change anything: the model and the optimizer stay as they were.
#[test]
fn the_per_step_api_checks_what_fit_checks() {
    type Net = (Dense<3, 6, Tanh>, Dense<6, 2, Identity>);
    let net: Net = Model::init(&mut rng(5));
    let x = [[0.5f32, -0.25, 1.0], [0.0, 1.0, -1.0]];
    let t = [[0.5f32, 1.0], [-1.0, 0.0]];
    let bits32 = |m: &Net| {
        let mut v = Vec::new();
        m.for_each_tensor(|p| v.extend(p.iter().map(|x| x.to_bits())));
        v
    };
    let bad_rates = [f64::NAN, -0.1, 0.0, f64::INFINITY, 1e-50, 1e300];
    for lr in bad_rates {
        let mut model = net;
        let mut grads = Net::zeroed();
        let err = model.train_step(&x, &t, &Mse, &mut Sgd::new(lr), &mut grads, Clip::None).unwrap_err();
        assert!(matches!(err, Error::InvalidHyperparameter { name: "learning rate", .. }), "{lr}: {err}");
        let err = model.train_epoch(&x, &t, &Mse, &mut Adam::new(lr), &mut grads, 1, Clip::None).unwrap_err();
        assert!(matches!(err, Error::InvalidHyperparameter { name: "learning rate", .. }), "{lr}: {err}");
        let mut workspace = Workspace::new();
        let err = workspace
            .train_step(&mut model, &x, &t, &Mse, &mut RmsProp::new(lr), &mut grads, Clip::None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidHyperparameter { name: "learning rate", .. }), "{lr}: {err}");
        assert_eq!(bits32(&model), bits32(&net), "learning rate {lr} changed the model");
    }
    for clip in [Clip::Norm(f64::NAN), Clip::Value(-1.0), Clip::Norm(1e-50), Clip::Value(1e300)] {
        let mut model = net;
        let err = model.train_step(&x, &t, &Mse, &mut Sgd::new(0.1), &mut Net::zeroed(), clip).unwrap_err();
        assert!(
            matches!(err, Error::InvalidHyperparameter { name: "clipping threshold", .. }),
            "{clip:?}: {err}"
        );
        assert_eq!(bits32(&model), bits32(&net), "{clip:?} changed the model");
    }
}

/// A setting valid in `f64` that is 0 or infinite in the model's `f32` is
/// refused, and the error reports the value the user gave.
#[test]
fn settings_that_vanish_in_f32_are_refused_with_the_value_given() {
    type Net = Dense<2, 1, Identity>;
    let err = Optimizer::<Net>::check(&Sgd::<Net>::new(1e-50)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidHyperparameter { name: "learning rate", value, .. } if value == 1e-50),
        "{err:?}"
    );
    says(&err, &["1e-50", "f32"]);
    let err = Optimizer::<Net>::check(&Adam::<Net>::new(1e300)).unwrap_err();
    assert!(matches!(err, Error::InvalidHyperparameter { value, .. } if value == 1e300), "{err:?}");
    // The same rates are fine for an f64 model.
    type Net64 = Dense<2, 1, Identity, f64>;
    assert!(Optimizer::<Net64>::check(&Sgd::<Net64>::new(1e-50)).is_ok());
    // A clipping threshold that rounds to 0 in f32 would stop all training.
    let mut net: Net = Model::init(&mut rng(1));
    let options = FitOptions { epochs: 2, batch_size: 1, clip: Clip::Norm(1e-50), ..Default::default() };
    let failed =
        net.fit(&[[1.0, 2.0]], &[[0.5]], &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).unwrap_err();
    assert!(
        matches!(failed.error, Error::InvalidHyperparameter { name: "clipping threshold", value, .. } if value == 1e-50),
        "{failed}"
    );
}

/// A schedule whose rate underflows to 0 or overflows in the model's scalar
/// type is refused before the first step, naming the first such epoch.
#[test]
fn schedules_that_vanish_or_explode_are_refused() {
    type Net = Dense<2, 1, Identity>;
    let x = [[1.0f32, 2.0], [0.5, -1.0]];
    let t = [[0.5f32], [0.0]];
    let net: Net = Model::init(&mut rng(3));
    let bits32 = |m: &Net| m.weights[0].map(f32::to_bits);
    // 0.1 · 10⁻⁵ᵉ: below f32's smallest subnormal (1.4e-45) from epoch 9 on.
    let schedule = Schedule::Step { every: 1, gamma: 1e-5 };
    let options = FitOptions { epochs: 20, batch_size: 2, schedule, ..Default::default() };
    let mut model = net;
    let failed = model.fit(&x, &t, &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).unwrap_err();
    let want_epoch = (0..20).find(|&e| (0.1 * 1e-5f64.powi(e as i32)) as f32 == 0.0).unwrap();
    assert!(matches!(failed.error, Error::InvalidSchedule { epoch, .. } if epoch == want_epoch), "{failed}");
    says(&failed.error, &[&format!("epoch {want_epoch}"), "schedule"]);
    assert_eq!(bits32(&model), bits32(&net));
    // Growth past f32's largest value.
    let schedule = Schedule::Step { every: 2, gamma: 1e10 };
    let options = FitOptions { epochs: 20, batch_size: 2, schedule, ..Default::default() };
    let failed = model.fit(&x, &t, &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).unwrap_err();
    assert!(matches!(failed.error, Error::InvalidSchedule { epoch: 8, .. }), "{failed}");
    // The same schedule over fewer epochs is fine.
    let schedule = Schedule::Step { every: 2, gamma: 1e10 };
    let options = FitOptions { epochs: 2, batch_size: 2, schedule, ..Default::default() };
    assert!(model.fit(&x, &t, &Mse, &mut Sgd::new(0.1), options, &mut rng(0)).is_ok());
}

/// The per-step entry points check the batch as `fit` checks a data set,
/// before anything changes; `train_epoch` checks its whole data set before
/// the first step.
#[test]
fn the_per_step_api_checks_the_data() {
    type Net = (Dense<2, 4, ReLU>, Dense<4, 3, Identity>);
    let net: Net = Model::init(&mut rng(8));
    let bits32 = |m: &Net| {
        let mut v = Vec::new();
        m.for_each_tensor(|p| v.extend(p.iter().map(|x| x.to_bits())));
        v
    };
    let mut model = net;
    let mut grads = Net::zeroed();
    // A NaN input (ReLU would turn it into a finite loss and NaN weights).
    let x = [[0.5f32, 1.0], [f32::NAN, 1.0]];
    let err = model.train_step(&x, &[0, 1], &SoftmaxCrossEntropy, &mut Sgd::new(0.1), &mut grads, Clip::None);
    assert_eq!(err.unwrap_err(), Error::NonFiniteInput { data: "batch", sample: 1, index: 0 });
    // A class that does not exist (it used to be reported as a divergence).
    let x = [[0.5f32, 1.0], [0.0, 1.0]];
    let err = model.train_step(&x, &[0, 9], &SoftmaxCrossEntropy, &mut Sgd::new(0.1), &mut grads, Clip::None);
    assert_eq!(err.unwrap_err(), Error::ClassOutOfRange { data: "batch", sample: 1, class: 9, classes: 3 });
    // The batched path: the same errors.
    let mut workspace = Workspace::new();
    let err = workspace.gradient(&model, &x, &[7, 0], &SoftmaxCrossEntropy, &mut grads).unwrap_err();
    assert_eq!(err, Error::ClassOutOfRange { data: "batch", sample: 0, class: 7, classes: 3 });
    let err = workspace
        .train_step(
            &mut model,
            &[[1.0, f32::INFINITY]],
            &[0],
            &SoftmaxCrossEntropy,
            &mut Adam::new(0.1),
            &mut grads,
            Clip::None,
        )
        .unwrap_err();
    assert_eq!(err, Error::NonFiniteInput { data: "batch", sample: 0, index: 1 });
    // train_epoch: a bad sample in the last batch is found before the first
    // batch's update.
    let x = [[0.5f32, 1.0], [0.0, 1.0], [1.0, 1.0], [0.25, -1.0]];
    let err = model.train_epoch(
        &x,
        &[0, 1, 2, 3],
        &SoftmaxCrossEntropy,
        &mut Sgd::new(0.1),
        &mut grads,
        2,
        Clip::None,
    );
    assert_eq!(
        err.unwrap_err(),
        Error::ClassOutOfRange { data: "data set", sample: 3, class: 3, classes: 3 }
    );
    assert_eq!(bits32(&model), bits32(&net), "nothing was updated");
    // Binary cross-entropy targets are probabilities.
    type Bin32 = (Dense<2, 3, Tanh>, Dense<3, 1, Sigmoid>);
    let mut bin: Bin32 = Model::init(&mut rng(2));
    let err = bin.train_step(
        &[[1.0, 0.0]],
        &[[2.0]],
        &BinaryCrossEntropy,
        &mut Sgd::new(0.1),
        &mut Bin32::zeroed(),
        Clip::None,
    );
    assert_eq!(err.unwrap_err(), Error::TargetNotProbability { data: "batch", sample: 0, index: 0 });
}

/// `evaluate` and `fit`'s validation give no loss that is not one: an
/// infinite output or an overflowing loss is an error naming the sample.
#[test]
fn no_loss_is_made_of_infinities() {
    // Logits 1e38 · 10 overflow to +inf in f32.
    let net: Dense<1, 2, Identity> = Dense::new([[1e38], [0.0]], [0.0, 0.0]);
    let err = net.evaluate(&[[1.0], [10.0]], &[0, 0], &SoftmaxCrossEntropy).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteOutput { sample: 1, index: 0, value, .. } if value == f64::INFINITY),
        "{err:?}"
    );
    // Finite outputs, but the squared error overflows.
    let net: Dense<1, 1, Identity> = Dense::new([[1e30]], [0.0]);
    let err = net.evaluate(&[[1.0]], &[[-1e30]], &Mse).unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { sample: 0, loss, .. } if loss == f64::INFINITY), "{err:?}");
    says(&err, &["sample 0", "the loss is inf"]);
    // fit's validation: the same, with the epochs that ran.
    let mut net: Dense<1, 2, Identity> = Dense::new([[10.0], [0.0]], [0.0, 0.0]);
    let options = FitOptions {
        epochs: 3,
        batch_size: 1,
        validation: Some((&[[1e38]], &[0])),
        early_stopping: Some(EarlyStopping { patience: 1, ..Default::default() }),
        ..Default::default()
    };
    let failed =
        net.fit(&[[1.0]], &[0], &SoftmaxCrossEntropy, &mut Sgd::new(1e-3), options, &mut rng(0)).unwrap_err();
    assert!(
        matches!(failed.error, Error::NonFiniteOutput { data: "validation data", sample: 0, .. }),
        "{failed}"
    );
    assert_eq!(failed.history.stopped, StopReason::Failed);
}

/// The losses and clipping invent nothing either: an output that is not a
/// probability has no binary cross-entropy, a class that does not exist no
/// gradient, a NaN no direction, and clipping leaves a NaN gradient NaN.
#[test]
fn losses_and_clipping_keep_nan_as_nan() {
    assert!(Loss::<f64, 1>::loss(&BinaryCrossEntropy, &[1.5], &[1.0]).is_nan());
    assert!(Loss::<f64, 1>::loss(&BinaryCrossEntropy, &[f64::NAN], &[1.0]).is_nan());
    assert!(Loss::<f64, 1>::gradient(&BinaryCrossEntropy, &[-0.5], &[1.0])[0].is_nan());
    assert_eq!(Loss::<f64, 1>::is_correct(&BinaryCrossEntropy, &[f64::NAN], &[0.0]), Some(false));
    assert_eq!(Loss::<f64, 1>::is_correct(&BceWithLogits, &[f64::NAN], &[0.0]), Some(false));
    assert_eq!(Loss::<f64, 2>::is_correct(&SoftmaxCrossEntropy, &[f64::NAN, 0.0], &1), Some(false));
    let g = Loss::<f64, 3>::gradient(&SoftmaxCrossEntropy, &[0.1, 0.2, 0.3], &5);
    assert!(g.iter().all(|g| g.is_nan()), "{g:?}");
    let (l, g) = Loss::<f64, 3>::loss_and_gradient(&SoftmaxCrossEntropy, &[0.1, 0.2, 0.3], &5);
    assert!(l.is_nan() && g.iter().all(|g| g.is_nan()), "{l} {g:?}");
    assert!(Loss::<f64, 1>::gradient(&Huber::new(1.0).unwrap(), &[f64::NAN], &[0.0])[0].is_nan());
    assert!(Loss::<f64, 1>::gradient(&Mae, &[f64::NAN], &[0.0])[0].is_nan());
    assert_eq!(Loss::<f64, 1>::gradient(&Mae, &[1.0], &[1.0])[0].to_bits(), 0.0f64.to_bits());

    let mut grads: Lin = Dense::new([[f64::NAN]], [5.0]);
    Clip::Value(1.0).apply(&mut grads);
    assert!(grads.weights[0][0].is_nan(), "a NaN gradient is not clamped into a number");
    assert_eq!(grads.bias, [1.0]);
}

#[test]
fn a_zero_epsilon_is_refused() {
    type Net = Dense<2, 1, Identity>;
    let err = Optimizer::<Net>::check(&Adam::<Net>::new(0.01).eps(0.0)).unwrap_err();
    assert!(matches!(err, Error::InvalidHyperparameter { name: "eps", .. }), "{err}");
    let err = Optimizer::<Net>::check(&RmsProp::<Net>::new(0.01).eps(1e-50)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidHyperparameter { name: "eps", value, .. } if value == 1e-50),
        "{err}"
    );
    assert!(Optimizer::<Net>::check(&Adam::<Net>::new(0.01)).is_ok());
}

#[test]
fn helpers_take_any_size() {
    assert!(backprop::batch::gemm_pays(usize::MAX, 2, 2), "no overflow");
    let w: f64 = backprop::init::Init::HeUniform.sample(0, 0, &mut rng(1));
    assert!(w.is_finite());
}

/// ReLU keeps a NaN (as PyTorch), so a NaN input is not turned into a
/// finite prediction; and a broken generator cannot hang the shuffle.
#[test]
fn relu_keeps_nan_and_a_broken_generator_does_not_hang() {
    assert!(ReLU::f(f64::NAN).is_nan());
    assert_eq!(ReLU::f(-0.0f32).to_bits(), 0.0f32.to_bits());
    assert_eq!((ReLU::f(-2.0f32), ReLU::f(3.0f32)), (0.0, 3.0));
    let net: (Dense<2, 3, ReLU>, Dense<3, 1, Identity>) = Model::init(&mut rng(1));
    assert!(net.forward(&[f32::NAN, 1.0])[0].is_nan(), "NaN in, NaN out");

    /// A generator that always returns `u64::MAX`.
    struct Stuck;
    impl rand::TryRng for Stuck {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::MAX)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::MAX)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
            dest.fill(0xff);
            Ok(())
        }
    }
    let (mut a, mut b) = ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]);
    shuffle_together(&mut a, &mut b, &mut Stuck).unwrap();
    assert_eq!(a, b, "still shuffled together");
}
