// `max_pool2d!` checks in the type that the window divides the input, so
// `cargo check` reports it at the user's line.
use backprop::prelude::*;

type Net =
    (Unflatten2d<98, 2, 7, 7>, max_pool2d!(2, 2, 7, 7), Flatten2d<2, 3, 3, 18>, Dense<18, 2, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
