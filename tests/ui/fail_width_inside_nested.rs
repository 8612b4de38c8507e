// The mismatch is inside the inner tuple: 8 outputs into 9 inputs.
use backprop::prelude::*;

type Net = ((Dense<2, 8, ReLU>, Dense<9, 8, ReLU>), Dense<8, 1, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
