// A 5-layer chain whose third layer outputs 6 values but whose fourth takes 7.
use backprop::prelude::*;

type Net = (Dense<2, 8, ReLU>, Dense<8, 8, ReLU>, Dense<8, 6, ReLU>, Dense<7, 4, ReLU>, Dense<4, 1, Sigmoid>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
