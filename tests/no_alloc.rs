//! The per-sample path never touches the heap.
//!
//! A counting global allocator records every allocation made on the test's
//! own thread while a flag is up; forward, forward-with-tape, loss value and
//! gradient, backward, every optimizer's step, and the batch step, epoch,
//! evaluation and accuracy of `Train` run under the flag for a 3-layer net in
//! `f32` and in `f64`, and for a convolutional net with every kind of
//! convolution, pool and reshape, and the count must stay at zero.

mod common;
use backprop::prelude::*;

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

fn train_steps<T: Float>() -> usize {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let mut net: Net<T> = Model::init(&mut rng);
    let mut grads = Net::<T>::zeroed();
    let mut sgd = Sgd::new(0.05);
    let x = [T::one(), T::zero(), -T::one(), T::one()];
    let target = [T::zero(), T::one(), T::zero()];
    let mut checks = T::zero();

    let count = common::allocations_in(|| {
        for class in 0..3 {
            let y = net.forward(&x);
            let (y_tape, tape) = net.forward_tape(&x);
            let loss = Mse.loss(&y_tape, &target) + SoftmaxCrossEntropy.loss(&y, &class);
            let dy = SoftmaxCrossEntropy.gradient(&y_tape, &class);
            grads.fill_zero();
            let dx = net.backward(&tape, &dy, &mut grads);
            let dy = Mse.gradient(&y_tape, &target);
            net.backward(&tape, &dy, &mut grads);
            grads.scale(T::one() / (T::one() + T::one()));
            sgd.step(&mut net, &grads);
            checks = checks + loss + dx[0];
        }
    });
    assert!(checks.is_finite());
    count
}

/// Every optimizer's step, and the batch step and epoch of `Train`.
fn optimizer_steps<T: Float, O: Optimizer<Net<T>>>(mut optimizer: O) -> usize {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let mut net: Net<T> = Model::init(&mut rng);
    let mut grads = Net::<T>::zeroed();
    let (o, z) = (T::one(), T::zero());
    let mut inputs = [[o, z, -o, o], [z, o, o, -o], [o, o, z, z], [-o, z, z, o], [z, z, o, o]];
    let mut labels = [0usize, 1, 2, 1, 0];
    let mut total = T::zero();
    let count = common::allocations_in(|| {
        for _ in 0..3 {
            let (y, tape) = net.forward_tape(&inputs[0]);
            grads.fill_zero();
            net.backward(&tape, &SoftmaxCrossEntropy.gradient(&y, &labels[0]), &mut grads);
            optimizer.step(&mut net, &grads);
            let loss = net.train_step(
                &inputs,
                &labels,
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                Clip::Norm(1.0),
            );
            total = total + loss.unwrap_or(T::nan());
            backprop::train::shuffle_together(&mut inputs, &mut labels, &mut rng).unwrap();
            let epoch = net.train_epoch(
                &inputs,
                &labels,
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                2,
                Clip::Value(0.5),
            );
            total = total + epoch.unwrap_or(T::nan());
            total = total + net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy).unwrap_or(T::nan());
            total = total + T::from(net.accuracy(&inputs, &labels).unwrap_or(f64::NAN)).unwrap();
        }
    });
    assert!(total.is_finite());
    count
}

type Net<T> = (Dense<4, 32, Tanh, T>, Dense<32, 16, ReLU, T>, Dense<16, 3, Identity, T>);

#[test]
fn optimizers_and_batch_training_allocate_nothing() {
    assert_eq!(optimizer_steps::<f32, _>(Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(1e-3)), 0);
    assert_eq!(optimizer_steps::<f64, _>(Sgd::new(0.1).momentum(0.9).dampening(0.1)), 0);
    assert_eq!(optimizer_steps::<f32, _>(Adam::new(1e-3).amsgrad().weight_decay(1e-2)), 0);
    assert_eq!(optimizer_steps::<f64, _>(Adam::new(1e-3)), 0);
    assert_eq!(optimizer_steps::<f32, _>(AdamW::new(1e-3).amsgrad()), 0);
    assert_eq!(optimizer_steps::<f64, _>(RmsProp::new(1e-3).centered().momentum(0.5).weight_decay(1e-2)), 0);
}

#[test]
fn per_sample_training_allocates_nothing() {
    // The counter works: a Vec on this thread is seen.
    assert_eq!(common::allocations_in(|| drop(std::hint::black_box(vec![1u8; 16]))), 1);

    assert_eq!(train_steps::<f32>(), 0, "f32 forward/backward/loss/SGD allocated");
    assert_eq!(train_steps::<f64>(), 0, "f64 forward/backward/loss/SGD allocated");
}

/// Every convolutional layer kind, 2-d and then 1-d, with nested tuples.
type ConvNet<T> = (
    Unflatten2d<72, 2, 6, 6, T>,
    (Conv2d<2, 4, 3, 1, 1, 6, 6, 6, 6, ReLU, T>, MaxPool2d<4, 2, 6, 6, 3, 3, T>),
    (Conv2d<4, 4, 2, 1, 1, 3, 3, 4, 4, Tanh, T>, AvgPool2d<4, 2, 4, 4, 2, 2, T>),
    GlobalAvgPool2d<4, 2, 2, T>,
    Flatten2d<4, 1, 1, 4, T>,
    Unflatten1d<4, 1, 4, T>,
    (Conv1d<1, 3, 3, 1, 1, 4, 4, Tanh, T>, MaxPool1d<3, 2, 4, 2, T>),
    (Conv1d<3, 3, 1, 1, 0, 2, 2, ReLU, T>, AvgPool1d<3, 2, 2, 1, T>),
    GlobalAvgPool1d<3, 1, T>,
    Flatten1d<3, 1, 3, T>,
    Dense<3, 3, Identity, T>,
);

/// The per-sample passes, an optimizer's step and the `Train` entry points
/// on the convolutional net.
fn conv_steps<T: Float, O: Optimizer<ConvNet<T>>>(mut optimizer: O) -> usize {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let mut net: ConvNet<T> = Model::init(&mut rng);
    let mut grads = ConvNet::<T>::zeroed();
    let sample = |k: usize| -> [T; 72] {
        core::array::from_fn(|i| T::from(((i * 7 + k * 5) % 13) as f64 / 6.5 - 1.0).unwrap())
    };
    let mut inputs = [sample(0), sample(1), sample(2), sample(3)];
    let mut labels = [0usize, 1, 2, 1];
    let mut total = T::zero();
    let count = common::allocations_in(|| {
        for _ in 0..2 {
            let y = net.forward(&inputs[0]);
            let (y_tape, tape) = net.forward_tape(&inputs[0]);
            let loss = SoftmaxCrossEntropy.loss(&y, &labels[0]) + Mse.loss(&y_tape, &[T::zero(); 3]);
            grads.fill_zero();
            let dx = net.backward(&tape, &SoftmaxCrossEntropy.gradient(&y_tape, &labels[0]), &mut grads);
            optimizer.step(&mut net, &grads);
            total = total + loss + dx[0];
            let step = net.train_step(
                &inputs,
                &labels,
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                Clip::Norm(1.0),
            );
            total = total + step.unwrap_or(T::nan());
            backprop::train::shuffle_together(&mut inputs, &mut labels, &mut rng).unwrap();
            let epoch = net.train_epoch(
                &inputs,
                &labels,
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                2,
                Clip::None,
            );
            total = total + epoch.unwrap_or(T::nan());
            total = total + net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy).unwrap_or(T::nan());
            total = total + T::from(net.accuracy(&inputs, &labels).unwrap_or(f64::NAN)).unwrap();
        }
    });
    assert!(total.is_finite());
    count
}

#[test]
fn convolutional_nets_train_without_allocating() {
    assert_eq!(conv_steps::<f32, _>(Sgd::new(0.05).momentum(0.9)), 0);
    assert_eq!(conv_steps::<f64, _>(Sgd::new(0.05)), 0);
    assert_eq!(conv_steps::<f32, _>(Adam::new(1e-3).amsgrad()), 0);
    assert_eq!(conv_steps::<f64, _>(RmsProp::new(1e-3).centered()), 0);
}
