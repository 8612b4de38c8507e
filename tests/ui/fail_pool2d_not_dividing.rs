// A 2x2 max pool over a 7x7 image: 2 does not divide 7. Reported by
// `cargo build` (post-monomorphisation).
use backprop::prelude::*;

type Net =
    (Unflatten2d<49, 1, 7, 7>, MaxPool2d<1, 2, 7, 7, 3, 3>, Flatten2d<1, 3, 3, 9>, Dense<9, 2, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 49]);
}
