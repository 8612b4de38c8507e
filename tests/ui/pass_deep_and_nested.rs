// Chains at the limits that must compile and run: a 12-layer tuple (the
// largest arity) and a tuple nested two levels deep.
use backprop::prelude::*;

type Twelve = (
    Dense<2, 5, Tanh>,
    Dense<5, 6, ReLU>,
    Dense<6, 7, Sigmoid>,
    Dense<7, 8, Tanh>,
    Dense<8, 9, LeakyReLU>,
    Dense<9, 8, Softplus>,
    Dense<8, 7, Gelu>,
    Dense<7, 6, SiLU>,
    Dense<6, 5, Elu>,
    Dense<5, 4, Tanh>,
    Dense<4, 3, Identity>,
    Dense<3, 2, Sigmoid>,
);

// Two levels of nesting: ((A, (B, C)), D), widths 3 -> 4 -> 5 -> 6 -> 1.
type Nested = ((Dense<3, 4, Tanh>, (Dense<4, 5, ReLU>, Dense<5, 6, Tanh>)), Dense<6, 1, Sigmoid>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);

    let mut deep: Twelve = Model::init(&mut rng);
    let x = [0.25_f32, -0.5];
    let y: [f32; 2] = deep.forward(&x);
    assert!(y.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 1.0), "sigmoid outputs: {y:?}");
    let (y_tape, tape) = deep.forward_tape(&x);
    assert_eq!(y, y_tape);
    let mut grads = Twelve::zeroed();
    let dx: [f32; 2] = deep.backward(&tape, &Mse.gradient(&y, &[1.0, 0.0]), &mut grads);
    assert!(dx.iter().all(|v| v.is_finite()));
    let widths = [2, 5, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3, 2];
    let expected: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    assert_eq!(Twelve::PARAMS, expected);
    let before = Mse.loss(&y, &[1.0, 0.0]);
    Sgd::new(0.1).step(&mut deep, &grads);
    assert!(Mse.loss(&deep.forward(&x), &[1.0, 0.0]) < before);

    let mut nested: Nested = Model::init(&mut rng);
    let x = [1.0_f32, -1.0, 0.5];
    let (y, tape): ([f32; 1], _) = nested.forward_tape(&x);
    assert!(y[0].is_finite() && y[0] > 0.0 && y[0] < 1.0, "sigmoid output: {y:?}");
    assert_eq!(Nested::PARAMS, (3 * 4 + 4) + (4 * 5 + 5) + (5 * 6 + 6) + (6 + 1));
    let mut grads = Nested::zeroed();
    let before = Mse.loss(&y, &[1.0]);
    let dx: [f32; 3] = nested.backward(&tape, &Mse.gradient(&y, &[1.0]), &mut grads);
    assert!(dx.iter().all(|v| v.is_finite()));
    Sgd::new(0.5).step(&mut nested, &grads);
    assert!(Mse.loss(&nested.forward(&x), &[1.0]) < before);
}
