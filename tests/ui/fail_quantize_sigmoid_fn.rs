// The same through the trait's function: the message names the rule.
use backprop::prelude::*;
use backprop::quant::Quantize;

type Net = (Dense<4, 8, ReLU>, Dense<8, 1, Sigmoid>);

fn main() {
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
    let _ = Quantize::quantize(&net, &[[0.0, 1.0, 2.0, 3.0]]);
}
