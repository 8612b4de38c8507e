// An int8 model's input codes have the float model's input width.
use backprop::prelude::*;
use backprop::quant::{Int8Model, Quantize};

type Net = (Dense<4, 8, ReLU>, Dense<8, 3, Identity>);

fn main() {
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let int8 = net.quantize(&[[0.0, 1.0, 2.0, 3.0]]).unwrap();
    let _ = int8.forward(&[0i8; 5]);
}
