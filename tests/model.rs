//! Layers, chains, parameters and initialisation against naive references.

use backprop::prelude::*;

/// `y = f(W x + b)` written out as the textbook loop.
fn naive_dense<A: Activation, const IN: usize, const OUT: usize>(
    w: &[[f64; IN]; OUT],
    b: &[f64; OUT],
    x: &[f64; IN],
) -> [f64; OUT] {
    let mut y = [0.0; OUT];
    for o in 0..OUT {
        let mut z = b[o];
        for i in 0..IN {
            z += w[o][i] * x[i];
        }
        y[o] = A::f(z);
    }
    y
}

#[test]
fn chain_forward_matches_the_naive_loop() {
    type Net = (Dense<3, 17, Tanh, f64>, Dense<17, 1, Sigmoid, f64>, Dense<1, 4, ReLU, f64>);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net: Net = Model::init(&mut rng);
    net.2.bias = [0.1, -0.2, 0.3, -0.4];
    let x = [0.5, -1.5, 2.0];
    let h1 = naive_dense::<Tanh, 3, 17>(&net.0.weights, &net.0.bias, &x);
    let h2 = naive_dense::<Sigmoid, 17, 1>(&net.1.weights, &net.1.bias, &h1);
    let want = naive_dense::<ReLU, 1, 4>(&net.2.weights, &net.2.bias, &h2);
    let got = net.forward(&x);
    for k in 0..4 {
        assert!((got[k] - want[k]).abs() <= 1e-15, "output {k}: {} vs {}", got[k], want[k]);
    }
    let (taped, tape) = net.forward_tape(&x);
    assert_eq!(taped, got, "forward_tape and forward agree");
    // The layers sum in their own fixed order (eight partial sums), the naive
    // loop from left to right: the same up to rounding.
    for (got, want) in tape.1.input.iter().zip(&h1) {
        assert!((got - want).abs() <= 1e-15, "hidden activation: {got} vs {want}");
    }
    assert_eq!(tape.2.output, got);
}

#[test]
fn f32_layers_agree_with_f64_layers() {
    type Net32 = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
    type Net64 = (Dense<2, 16, Tanh, f64>, Dense<16, 16, Tanh, f64>, Dense<16, 1, Sigmoid, f64>);
    let net32: Net32 = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(9));
    let net64: Net64 = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(9));
    // Uniform initialisation draws the same generator bits in both types: the
    // f32 weight uses the top 24 of the 53 bits the f64 weight uses.
    let limit = (6.0_f64 / 32.0).sqrt();
    for (w32, w64) in net32.1.weights.as_flattened().iter().zip(net64.1.weights.as_flattened()) {
        assert!((f64::from(*w32) - w64).abs() <= 4.0 * limit * f64::from(f32::EPSILON), "{w32} vs {w64}");
    }
    for x in [[0.0, 0.0], [0.3, -0.8], [1.0, 1.0]] {
        let y32 = net32.forward(&x.map(|v| v as f32))[0];
        let y64 = net64.forward(&x)[0];
        assert!((f64::from(y32) - y64).abs() < 1e-6, "{y32} vs {y64}");
    }
}

#[test]
fn backward_accumulates_into_grads() {
    type Net = (Dense<3, 5, Tanh, f64>, Dense<5, 2, Identity, f64>);
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let (x, t) = ([0.1, 0.2, -0.3], [1.0, -1.0]);
    let (y, tape) = net.forward_tape(&x);
    let dy = Mse.gradient(&y, &t);

    let mut once = Net::zeroed();
    net.backward(&tape, &dy, &mut once);
    let mut twice = Net::zeroed();
    net.backward(&tape, &dy, &mut twice);
    net.backward(&tape, &dy, &mut twice);
    for k in 0..Net::PARAMS {
        assert_eq!(twice.param(k).unwrap(), 2.0 * once.param(k).unwrap(), "parameter {k}");
    }
    assert!(once.param(0).unwrap() != 0.0);

    twice.fill_zero();
    assert!((0..Net::PARAMS).all(|k| twice.param(k) == Some(0.0)));
}

#[test]
fn nested_chains_equal_flat_chains() {
    type Flat =
        (Dense<2, 6, Tanh, f64>, Dense<6, 5, ReLU, f64>, Dense<5, 4, SiLU, f64>, Dense<4, 3, Identity, f64>);
    type Nested = (
        (Dense<2, 6, Tanh, f64>, Dense<6, 5, ReLU, f64>),
        ((Dense<5, 4, SiLU, f64>,), Dense<4, 3, Identity, f64>),
    );
    assert_eq!(Flat::PARAMS, Nested::PARAMS);
    assert_eq!(Flat::PARAMS, 2 * 6 + 6 + 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);

    // The same seed draws the same weights in the same order.
    let flat: Flat = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    let nested: Nested = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    for k in 0..Flat::PARAMS {
        assert_eq!(flat.param(k), nested.param(k));
    }

    let x = [0.7, -0.3];
    let (yf, tf) = flat.forward_tape(&x);
    let (yn, tn) = nested.forward_tape(&x);
    assert_eq!(yf, yn);
    let (mut gf, mut gn) = (Flat::zeroed(), Nested::zeroed());
    let dxf = flat.backward(&tf, &SoftmaxCrossEntropy.gradient(&yf, &2), &mut gf);
    let dxn = nested.backward(&tn, &SoftmaxCrossEntropy.gradient(&yn, &2), &mut gn);
    assert_eq!(dxf, dxn);
    for k in 0..Flat::PARAMS {
        assert_eq!(gf.param(k), gn.param(k), "gradient {k}");
    }
}

#[test]
fn twelve_layers_chain() {
    type Deep = (
        Dense<1, 2, Tanh, f64>,
        Dense<2, 3, Tanh, f64>,
        Dense<3, 4, Tanh, f64>,
        Dense<4, 5, Tanh, f64>,
        Dense<5, 6, Tanh, f64>,
        Dense<6, 7, Tanh, f64>,
        Dense<7, 8, Tanh, f64>,
        Dense<8, 9, Tanh, f64>,
        Dense<9, 10, Tanh, f64>,
        Dense<10, 11, Tanh, f64>,
        Dense<11, 12, Tanh, f64>,
        Dense<12, 2, Identity, f64>,
    );
    let net: Deep = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(2));
    let report = backprop::gradcheck::check_gradients(&net, &[0.5], &[1.0, -1.0], &Mse, 1e-3, 1e-6).unwrap();
    assert!(report.max_error < 1e-6, "{report:?}");
    assert_eq!(report.checked, Deep::PARAMS + 1);
}

#[test]
fn visit_walks_models_in_lockstep() {
    type Net = (Dense<2, 3, Tanh, f64>, Dense<3, 1, Sigmoid, f64>);
    let mut a: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let b: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(2));
    let a_before = a;
    let mut sizes = [0usize; 4];
    let mut tensors = 0;
    Net::visit([&mut a], [&b], &mut |[p], [q]| {
        assert_eq!(p.len(), q.len());
        sizes[tensors] = p.len();
        tensors += 1;
        p.iter_mut().zip(q).for_each(|(p, q)| *p += q);
    });
    assert_eq!(sizes, [6, 3, 3, 1], "weights then bias, layer by layer");
    for k in 0..Net::PARAMS {
        assert_eq!(a.param(k).unwrap(), a_before.param(k).unwrap() + b.param(k).unwrap());
    }
    assert_eq!(a.param(Net::PARAMS), None);
    assert!(!a.set_param(Net::PARAMS, 1.0));
}

#[test]
fn initialisation_follows_the_activation() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let tanh: Dense<100, 50, Tanh, f64> = Model::init(&mut rng);
    let relu: Dense<100, 50, ReLU, f64> = Model::init(&mut rng);
    let glorot = (6.0_f64 / 150.0).sqrt();
    let he = (6.0_f64 / 100.0).sqrt();
    let largest = |w: &[[f64; 100]; 50]| w.as_flattened().iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    assert!(largest(&tanh.weights) <= glorot && largest(&tanh.weights) > 0.95 * glorot);
    assert!(largest(&relu.weights) <= he && largest(&relu.weights) > 0.95 * he);
    assert_eq!(tanh.bias, [0.0; 50]);
    assert_eq!(relu.bias, [0.0; 50]);
}

#[test]
fn the_same_seed_gives_the_same_model_and_training() {
    type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
    let train = |seed: u64| {
        let mut net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(seed));
        let mut grads = Net::zeroed();
        for step in 0..100 {
            let x = [(step % 2) as f32, (step / 2 % 2) as f32];
            let t = [((step % 2) ^ (step / 2 % 2)) as f32];
            let (y, tape) = net.forward_tape(&x);
            grads.fill_zero();
            net.backward(&tape, &Mse.gradient(&y, &t), &mut grads);
            Sgd::new(0.1).step(&mut net, &grads);
        }
        let mut bits = Vec::new();
        net.for_each_tensor(|p| bits.extend(p.iter().map(|w| w.to_bits())));
        bits
    };
    assert_eq!(train(17), train(17));
    assert_ne!(train(17), train(18));
}

#[test]
fn losses_match_their_naive_definitions() {
    let y = [0.2_f64, -1.3, 2.5];
    let t = [0.0, -1.0, 0.5];
    let n = 3.0;
    let mse = ((0.2f64).powi(2) + (0.3f64).powi(2) + 4.0) / n;
    assert!((Mse.loss(&y, &t) - mse).abs() < 1e-15);
    assert!((Mae.loss(&y, &t) - (0.2 + 0.3 + 2.0) / n).abs() < 1e-15);
    let huber = (0.5 * 0.04 + 0.5 * 0.09 + (2.0 - 0.5)) / n;
    assert!((Huber::default().loss(&y, &t) - huber).abs() < 1e-15);

    // BCE with logits against -[t ln σ(x) + (1-t) ln(1-σ(x))], naively.
    let probs = [1.0, 0.0, 0.3];
    let naive: f64 = y
        .iter()
        .zip(&probs)
        .map(|(&x, &p)| {
            let s = 1.0 / (1.0 + (-x).exp());
            -(p * s.ln() + (1.0 - p) * (1.0 - s).ln())
        })
        .sum::<f64>()
        / n;
    assert!((BceWithLogits.loss(&y, &probs) - naive).abs() < 1e-14);
    let sig = y.map(|x| 1.0 / (1.0 + (-x).exp()));
    assert!((BinaryCrossEntropy.loss(&sig, &probs) - naive).abs() < 1e-14);

    // Softmax cross-entropy against -ln(e^{z_c} / Σ e^{z_j}).
    let sum: f64 = y.iter().map(|z| z.exp()).sum();
    for c in 0..3 {
        let naive = -(y[c].exp() / sum).ln();
        assert!((SoftmaxCrossEntropy.loss(&y, &c) - naive).abs() < 1e-14);
    }
    let p = softmax(&y);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
}

#[test]
fn bad_targets_and_hyperparameters_are_errors() {
    let e = Loss::<f32, 3>::check_target(&SoftmaxCrossEntropy, &3).unwrap_err();
    assert_eq!(e, Error::ClassOutOfRange { data: "data", sample: 0, class: 3, classes: 3 });
    assert_eq!(
        e.to_string(),
        "sample 0 of the data: class index 3 is out of range: the model has 3 outputs (classes 0..3)"
    );
    assert!(SoftmaxCrossEntropy.loss(&[0.0_f32, 1.0, 2.0], &3).is_nan(), "no panic, a NaN");
    assert!(Loss::<f32, 3>::check_target(&SoftmaxCrossEntropy, &2).is_ok());

    assert_eq!(
        Mse.check_target(&[0.0, f64::NAN]),
        Err(Error::NonFiniteTarget { data: "data", sample: 0, index: 1 })
    );
    assert_eq!(
        BceWithLogits.check_target(&[0.5, 1.5]),
        Err(Error::TargetNotProbability { data: "data", sample: 0, index: 1 })
    );
    assert_eq!(
        BinaryCrossEntropy.check_target(&[f32::NAN]),
        Err(Error::TargetNotProbability { data: "data", sample: 0, index: 0 })
    );
    assert!(Mae.check_target(&[1.0_f32, -3.0]).is_ok());

    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(Huber::new(bad), Err(Error::InvalidHyperparameter { .. })), "{bad}");
        assert!(Sgd::<Dense<1, 1, Identity>>::new(bad).check().is_err(), "{bad}");
    }
    assert_eq!(Huber::new(0.5).unwrap().delta(), 0.5);
    assert!(Sgd::<Dense<1, 1, Identity>>::new(0.1).check().is_ok());
    let msg = Sgd::<Dense<1, 1, Identity>>::new(-1.0).check().unwrap_err().to_string();
    assert_eq!(msg, "invalid learning rate -1: it must be positive and finite");
}
