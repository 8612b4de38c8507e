// A 2-input network given a 3-element sample.
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh>, Dense<3, 1, Sigmoid>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let y = net.forward(&[1.0, 2.0, 3.0]);
    let _ = y;
}
