// A 1-d convolution of 5 taps at stride 2 over 16 gives (16 - 5) / 2 + 1 = 6,
// not 7. Reported by `cargo build` (post-monomorphisation).
use backprop::prelude::*;

type Net =
    (Unflatten1d<32, 2, 16>, Conv1d<2, 4, 5, 2, 0, 16, 7, Tanh>, Flatten1d<4, 7, 28>, Dense<28, 1, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 32]);
}
