//! Every backward pass against finite differences, in `f64`.
//!
//! For every activation and every loss, a three-layer chain whose widths
//! include 1, 3 and 17 is checked with [`check_gradients`]: every weight,
//! bias and input gradient must agree with the fourth-order central
//! difference to a relative error below 1e-6. For gradients smaller than
//! 1e-6 the error is measured against 1e-6 instead (so an absolute error below
//! 1e-12): their relative error is dominated by rounding noise in the loss,
//! about 1e-16 · L / h ≈ 1e-13 absolute with the step h = 1e-3.

use backprop::gradcheck::{check_gradients, GradCheck};
use backprop::prelude::*;
use backprop::DenseTape;

const STEP: f64 = 1e-3;
const FLOOR: f64 = 1e-6;
const TOLERANCE: f64 = 1e-6;

type Chain<A, B, C> = (Dense<3, 17, A, f64>, Dense<17, 1, B, f64>, Dense<1, 3, C, f64>);
type Tape<A, B, C> = <Chain<A, B, C> as Backward>::Tape;

/// The smallest `|z|` over all pre-activations of the chain's tape: how far
/// the sample sits from the kinks of ReLU-like activations at `z = 0`.
fn min_abs_pre_activation(
    tape: &(DenseTape<3, 17, f64>, DenseTape<17, 1, f64>, DenseTape<1, 3, f64>),
) -> f64 {
    let zs = tape.0.pre_activation.iter().chain(&tape.1.pre_activation).chain(&tape.2.pre_activation);
    zs.fold(f64::INFINITY, |m, z| m.min(z.abs()))
}

/// A net and an input from the first seed whose pre-activations all keep a
/// distance `margin` from zero, so that finite differences never straddle a
/// kink, and whose bottleneck and output units are active. Deterministic: the same seed is
/// found every run.
fn sample<A: Activation, B: Activation, C: Activation>(margin: f64) -> (Chain<A, B, C>, [f64; 3]) {
    for seed in 0..1000 {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let net: Chain<A, B, C> = Model::init(&mut rng);
        let mut other: Dense<1, 3, Identity, f64> = Dense::random_with(Init::GlorotUniform, &mut rng);
        // Non-zero biases, so that bias gradients flow through the check too.
        other.for_each_tensor_mut(|p| p.iter_mut().for_each(|x| *x *= 0.5));
        let mut net = net;
        net.1.bias[0] = other.weights[0][0];
        net.2.bias = [other.weights[1][0], other.weights[2][0], -other.weights[0][0]];
        let x = [0.9 * other.weights[0][0] + 0.3, -0.7, 0.45 + other.weights[2][0]];
        let (_, tape): (_, Tape<A, B, C>) = net.forward_tape(&x);
        // The width-1 bottleneck and the outputs must be on the live side of
        // ReLU-like units, or nothing flows back and the check proves little.
        let live = tape.1.pre_activation[0] > 0.1 && tape.2.pre_activation.iter().all(|&z| z > 0.1);
        if min_abs_pre_activation(&tape) > margin && live {
            return (net, x);
        }
    }
    panic!("no seed in 0..1000 keeps every pre-activation {margin} away from 0");
}

fn assert_passes(what: &str, report: GradCheck) {
    println!("{what}: max error {:.2e} over {} gradients ({report:?})", report.max_error, report.checked);
    assert!(
        report.max_error < TOLERANCE,
        "{what}: gradient check failed at {:?}: backward gives {}, finite differences give {} (error {:.3e})",
        report.worst,
        report.analytic,
        report.numeric,
        report.max_error
    );
    assert_eq!(
        report.checked,
        17 * 3 + 17 + 17 + 1 + 3 + 3 + 3,
        "{what}: every parameter and input is checked"
    );
}

/// The gradients must not all be (nearly) zero, or the check proves nothing.
fn assert_gradients_flow<A: Activation, B: Activation, C: Activation, L: Loss<f64, 3>>(
    what: &str,
    net: &Chain<A, B, C>,
    x: &[f64; 3],
    target: &L::Target,
    loss: &L,
) {
    let mut grads = Chain::<A, B, C>::zeroed();
    let (y, tape) = net.forward_tape(x);
    let d_input = net.backward(&tape, &loss.gradient(&y, target), &mut grads);
    let mut largest = [0.0_f64; 3];
    for (k, g) in
        [grads.0.weights.as_flattened(), grads.1.weights.as_flattened(), grads.2.weights.as_flattened()]
            .iter()
            .enumerate()
    {
        largest[k] = g.iter().fold(0.0, |m, g| m.max(g.abs()));
    }
    assert!(largest.iter().all(|&g| g > 1e-4), "{what}: some layer has vanishing gradients {largest:?}");
    assert!(d_input.iter().any(|g| g.abs() > 1e-4), "{what}: vanishing input gradient {d_input:?}");
}

fn check_activation<A: Activation>() {
    let (net, x) = sample::<A, A, A>(0.05);
    let target = [0.3, -0.2, 0.8];
    assert_gradients_flow(A::NAME, &net, &x, &target, &Mse);
    assert_passes(A::NAME, check_gradients(&net, &x, &target, &Mse, STEP, FLOOR).unwrap());
}

#[test]
fn identity() {
    check_activation::<Identity>();
}
#[test]
fn relu() {
    check_activation::<ReLU>();
}
#[test]
fn leaky_relu() {
    check_activation::<LeakyReLU>();
}
#[test]
fn sigmoid() {
    check_activation::<Sigmoid>();
}
#[test]
fn tanh() {
    check_activation::<Tanh>();
}
#[test]
fn softplus() {
    check_activation::<Softplus>();
}
#[test]
fn gelu_tanh() {
    check_activation::<Gelu>();
}
#[test]
fn gelu_erf() {
    check_activation::<GeluErf>();
}
#[test]
fn silu() {
    check_activation::<SiLU>();
}
#[test]
fn elu() {
    check_activation::<Elu>();
}

/// A loss on the output of a tanh-tanh-`C` chain.
fn check_loss<C: Activation, L: Loss<f64, 3>>(what: &str, loss: L, target: L::Target) {
    let (net, x) = sample::<Tanh, Tanh, C>(0.0);
    assert_gradients_flow(what, &net, &x, &target, &loss);
    assert_passes(what, check_gradients(&net, &x, &target, &loss, STEP, FLOOR).unwrap());
}

#[test]
fn mse() {
    check_loss::<Identity, _>("Mse", Mse, [0.3, -0.2, 0.8]);
}
#[test]
fn mae() {
    // Targets far from the outputs: |y - t| has its kink at y = t.
    check_loss::<Identity, _>("Mae", Mae, [5.0, -5.0, 5.0]);
}
#[test]
fn huber_quadratic_and_linear_parts() {
    // |y - t| < 1 on the first output, > 1 on the others.
    let (net, x) = sample::<Tanh, Tanh, Identity>(0.0);
    let y = net.forward(&x);
    let target = [y[0] + 0.4, y[1] - 3.0, y[2] + 2.5];
    check_loss::<Identity, _>("Huber", Huber::default(), target);
    check_loss::<Identity, _>("Huber(0.25)", Huber::new(0.25).unwrap(), target);
}
#[test]
fn binary_cross_entropy() {
    check_loss::<Sigmoid, _>("BinaryCrossEntropy", BinaryCrossEntropy, [1.0, 0.0, 0.3]);
}
#[test]
fn bce_with_logits() {
    check_loss::<Identity, _>("BceWithLogits", BceWithLogits, [1.0, 0.0, 0.3]);
}
#[test]
fn softmax_cross_entropy() {
    for class in 0..3 {
        check_loss::<Identity, _>("SoftmaxCrossEntropy", SoftmaxCrossEntropy, class);
    }
}

/// A deeper, nested chain with mixed activations: 5 layers, two levels.
#[test]
fn nested_five_layer_chain() {
    type Net = (
        (Dense<4, 17, SiLU, f64>, Dense<17, 3, Tanh, f64>),
        (Dense<3, 1, Softplus, f64>,),
        Dense<1, 5, Elu, f64>,
        Dense<5, 2, Identity, f64>,
    );
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let net: Net = Model::init(&mut rng);
    let x = [0.2, -1.0, 0.5, 0.1];
    let report = check_gradients(&net, &x, &1, &SoftmaxCrossEntropy, STEP, FLOOR).unwrap();
    println!("nested: max error {:.2e} over {} gradients", report.max_error, report.checked);
    assert!(report.max_error < TOLERANCE, "{report:?}");
    assert_eq!(report.checked, Net::PARAMS + 4);
}

/// The check itself must catch a wrong derivative.
#[test]
fn a_wrong_derivative_is_caught() {
    #[derive(Clone, Copy, Debug, Default)]
    struct WrongTanh;
    impl Activation for WrongTanh {
        const NAME: &'static str = "WrongTanh";
        const INIT: Init = Init::GlorotUniform;
        fn f<T: Float>(z: T) -> T {
            z.tanh()
        }
        fn df<T: Float>(_z: T, a: T) -> T {
            T::one() - a // should be 1 - a²
        }
    }
    let (net, x) = sample::<Tanh, WrongTanh, Tanh>(0.0);
    let report = check_gradients(&net, &x, &[0.3, -0.2, 0.8], &Mse, STEP, FLOOR).unwrap();
    assert!(report.max_error > 1e-2, "{report:?}");
}

/// `loss_and_gradient`, which a training step calls, gives exactly what
/// `loss` and `gradient` give one at a time: for every loss, `f32` and
/// `f64`, ordinary and extreme outputs (where one exponential underflows or
/// the output is a probability at 0 or 1), and a class index out of range.
#[test]
fn loss_and_gradient_has_the_bits_of_loss_and_gradient() {
    fn same<T: Float + std::fmt::Debug, const N: usize, L: Loss<T, N>>(
        name: &str,
        loss: L,
        outputs: &[[T; N]],
        target: L::Target,
    ) {
        for y in outputs {
            let (value, gradient) = loss.loss_and_gradient(y, &target);
            let want = (loss.loss(y, &target), loss.gradient(y, &target));
            let bits = |v: T| v.to_f64().unwrap().to_bits();
            let nan_or_bits = |v: T| if v.is_nan() { None } else { Some(bits(v)) };
            assert_eq!(nan_or_bits(value), nan_or_bits(want.0), "{name} loss at {y:?}");
            for (got, want) in gradient.iter().zip(&want.1) {
                assert_eq!(nan_or_bits(*got), nan_or_bits(*want), "{name} gradient at {y:?}");
            }
        }
    }
    fn all<T: Float + std::fmt::Debug>(big: T) {
        let c = |x: f64| T::from(x).unwrap();
        let logits =
            [[c(0.3), c(-1.2), c(2.5)], [big, -big, c(0.0)], [c(-0.0), c(0.0), c(0.0)], [-big, -big, big]];
        let probabilities = [[c(0.3), c(0.999), c(1e-3)], [c(0.0), c(1.0), c(0.5)]];
        let target = [c(1.0), c(0.0), c(0.25)];
        for class in [0, 2, 3] {
            same("SoftmaxCrossEntropy", SoftmaxCrossEntropy, &logits, class);
        }
        same("Mse", Mse, &logits, target);
        same("Mae", Mae, &logits, target);
        same("Huber", Huber::default(), &logits, target);
        same("BceWithLogits", BceWithLogits, &logits, target);
        same("BinaryCrossEntropy", BinaryCrossEntropy, &probabilities, target);
    }
    all::<f32>(100.0);
    all::<f64>(1000.0);
}

/// An activation that says its derivative needs only the output
/// (`DERIVATIVE_FROM_OUTPUT`, which lets the batched path drop `Z`) gives the
/// same derivative when handed the output in place of `z`, at every input
/// of a sweep through zero, both signed zeros, the infinities and NaN.
#[test]
fn derivative_from_output_means_the_derivative_ignores_z() {
    fn check<A: Activation>(name: &str) {
        let sweep = (-400..=400).map(|k| f64::from(k) * 0.0625);
        let special = [0.0, -0.0, 1e-300, -1e-300, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
        for z in sweep.chain(special) {
            let a = A::f(z);
            let (from_z, from_a) = (A::df(z, a), A::df(a, a));
            assert!(
                from_z == from_a || (from_z.is_nan() && from_a.is_nan()),
                "{name}: f'({z}) = {from_z} from z, {from_a} from a"
            );
            let (z32, a32) = (z as f32, A::f(z as f32));
            assert_eq!(A::df(z32, a32).to_bits(), A::df(a32, a32).to_bits(), "{name} (f32) at {z}");
        }
    }
    const { assert!(Identity::DERIVATIVE_FROM_OUTPUT && ReLU::DERIVATIVE_FROM_OUTPUT) };
    const { assert!(Sigmoid::DERIVATIVE_FROM_OUTPUT && Tanh::DERIVATIVE_FROM_OUTPUT) };
    check::<Identity>("Identity");
    check::<ReLU>("ReLU");
    check::<Sigmoid>("Sigmoid");
    check::<Tanh>("Tanh");
    // The others read z: the flag stays off.
    const { assert!(!Gelu::DERIVATIVE_FROM_OUTPUT && !Softplus::DERIVATIVE_FROM_OUTPUT) };
    const { assert!(!LeakyReLU::DERIVATIVE_FROM_OUTPUT) };
}

/// A check that cannot mean anything is an error, not a NaN report that a
/// `max_error > tol` test would let pass.
#[test]
fn a_meaningless_check_is_an_error() {
    type Net = (Dense<2, 3, Tanh, f64>, Dense<3, 2, Identity, f64>);
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    let x = [0.5, -0.25];
    for step in [0.0, -1e-3, f64::NAN, 1e-20] {
        let err = check_gradients(&net, &x, &1, &SoftmaxCrossEntropy, step, 1e-8).unwrap_err();
        assert!(
            matches!(err, Error::InvalidHyperparameter { name: "finite-difference step", .. }),
            "{step}: {err}"
        );
    }
    let err = check_gradients(&net, &x, &1, &SoftmaxCrossEntropy, 1e-3, 0.0).unwrap_err();
    assert!(matches!(err, Error::InvalidHyperparameter { name: "error floor", .. }), "{err}");
    let err = check_gradients(&net, &[0.5, f64::NAN], &1, &SoftmaxCrossEntropy, 1e-3, 1e-8).unwrap_err();
    assert_eq!(err, Error::NonFiniteInput { data: "data", sample: 0, index: 1 });
    let err = check_gradients(&net, &x, &5, &SoftmaxCrossEntropy, 1e-3, 1e-8).unwrap_err();
    assert!(matches!(err, Error::ClassOutOfRange { class: 5, .. }), "{err}");
}
