// 16 channels of 7x7 are 784 values, not 700. Reported by `cargo build`
// (post-monomorphisation).
use backprop::prelude::*;

type Net = (Unflatten2d<784, 16, 7, 7>, Flatten2d<16, 7, 7, 700>, Dense<700, 10, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 784]);
}
