// Widths agree (3 -> 3) but the first layer computes in f32 and the second
// in f64.
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh, f32>, Dense<3, 1, Sigmoid, f64>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
