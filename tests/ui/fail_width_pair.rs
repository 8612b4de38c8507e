// Two layers whose widths disagree: 3 outputs into 4 inputs.
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
