// The macros name the same types as the spelled-out sizes, and a W6 net
// written with them trains and runs.
use backprop::prelude::*;

type Spelled = (
    Unflatten2d<784, 1, 28, 28>,
    Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>,
    MaxPool2d<8, 2, 28, 28, 14, 14>,
    Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU>,
    MaxPool2d<16, 2, 14, 14, 7, 7>,
    Flatten2d<16, 7, 7, 784>,
    Dense<784, 10, Identity>,
);

type WithMacros = (
    Unflatten2d<{ 28 * 28 }, 1, 28, 28>,
    conv2d!(1, 8, 3, 1, 1, 28, 28, ReLU),
    max_pool2d!(8, 2, 28, 28),
    conv2d!(8, 16, 3, 1, 1, 14, 14, ReLU),
    max_pool2d!(16, 2, 14, 14),
    Flatten2d<16, 7, 7, { 16 * 7 * 7 }>,
    Dense<{ 16 * 7 * 7 }, 10, Identity>,
);

fn same(net: Box<Spelled>) -> Box<WithMacros> {
    net
}

fn main() {
    // Strides, "valid" padding, 1-d layers and another scalar type.
    let _: Conv2d<3, 4, 5, 2, 0, 32, 30, 14, 13, Tanh, f64> =
        <conv2d!(3, 4, 5, 2, 0, 32, 30, Tanh, f64)>::zeroed();
    let _: Conv1d<2, 4, 5, 2, 2, 17, 9, ReLU> = <conv1d!(2, 4, 5, 2, 2, 17, ReLU)>::zeroed();
    let _: MaxPool1d<4, 3, 18, 6> = <max_pool1d!(4, 3, 18)>::zeroed();
    let _: AvgPool1d<4, 3, 18, 6, f64> = <avg_pool1d!(4, 3, 18, f64)>::zeroed();
    let _: AvgPool2d<2, 3, 9, 6, 3, 2> = <avg_pool2d!(2, 3, 9, 6)>::zeroed();

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(6);
    let mut net = same(Model::init(&mut rng));
    let inputs: Vec<[f32; 784]> =
        (0..8).map(|k| core::array::from_fn(|i| ((i * 7 + k * 13) % 17) as f32 / 17.0)).collect();
    let labels: Vec<usize> = (0..8).collect();
    let mut sgd = Sgd::<Box<WithMacros>>::new(0.01);
    let options = FitOptions { epochs: 1, batch_size: 4, ..Default::default() };
    net.fit(&inputs, &labels, &SoftmaxCrossEntropy, &mut sgd, options, &mut rng).unwrap();
    assert!(net.forward(&inputs[0]).iter().all(|v| v.is_finite()));
}
