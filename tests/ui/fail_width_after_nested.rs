// The inner tuple is fine on its own (2 -> 8 -> 5), but the layer after it
// takes 8 values.
use backprop::prelude::*;

type Net = ((Dense<2, 8, ReLU>, Dense<8, 5, ReLU>), Dense<8, 1, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
