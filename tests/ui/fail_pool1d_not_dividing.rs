// An average pool of 3 over a sequence of 10: 3 does not divide 10.
// Reported by `cargo build` (post-monomorphisation).
use backprop::prelude::*;

type Net = (Unflatten1d<20, 2, 10>, AvgPool1d<2, 3, 10, 3>, Flatten1d<2, 3, 6>, Dense<6, 2, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 20]);
}
