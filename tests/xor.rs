//! The XOR net of `examples/03_xor.rs` learns XOR, in `f32` and in `f64`.

use backprop::prelude::*;

fn train_xor<T: Float>(seed: u64) -> [T; 4] {
    type Net<T> = (Dense<2, 16, Tanh, T>, Dense<16, 16, Tanh, T>, Dense<16, 1, Sigmoid, T>);
    let (o, z) = (T::one(), T::zero());
    let inputs = [[z, z], [z, o], [o, z], [o, o]];
    let targets = [[z], [o], [o], [z]];
    let mut net: Net<T> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(seed));
    let mut grads = Net::<T>::zeroed();
    let mut sgd = Sgd::new(0.5);
    for _ in 0..1000 {
        grads.fill_zero();
        for (x, t) in inputs.iter().zip(&targets) {
            let (y, tape) = net.forward_tape(x);
            net.backward(&tape, &Mse.gradient(&y, t), &mut grads);
        }
        grads.scale(T::from(0.25).unwrap());
        sgd.step(&mut net, &grads);
    }
    inputs.map(|x| net.forward(&x)[0])
}

fn check<T: Float + std::fmt::Debug>(predictions: [T; 4]) {
    let want = [0.0, 1.0, 1.0, 0.0];
    let mse: f64 =
        predictions.iter().zip(want).map(|(y, t)| (y.to_f64().unwrap() - t).powi(2)).sum::<f64>() / 4.0;
    assert!(mse < 0.01, "mean squared error {mse}, predictions {predictions:?}");
    for (y, t) in predictions.iter().zip(want) {
        assert_eq!(y.to_f64().unwrap().round(), t, "predictions {predictions:?}");
    }
}

#[test]
fn xor_f32() {
    for seed in [42, 1, 2] {
        check(train_xor::<f32>(seed));
    }
}

#[test]
fn xor_f64() {
    check(train_xor::<f64>(42));
}
