// A 784-long row cannot be one channel of 28x27 (756 values). Reported by
// `cargo build` (post-monomorphisation).
use backprop::prelude::*;

type Net = (Unflatten2d<784, 1, 28, 27>, Flatten2d<1, 28, 27, 756>, Dense<756, 10, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 784]);
}
