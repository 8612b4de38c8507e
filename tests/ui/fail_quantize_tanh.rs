// Int8 layers fold only ReLU or the identity into their output clamp: a net
// with a tanh layer has no int8 form.
use backprop::prelude::*;
use backprop::quant::Quantize;

type Net = (Dense<4, 8, Tanh>, Dense<8, 3, Identity>);

fn main() {
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let _ = net.quantize(&[[0.0, 1.0, 2.0, 3.0]]);
}
