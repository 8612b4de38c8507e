// With `conv2d!` the output size is computed in the type and the kernel is
// checked there, so `cargo check` reports a kernel that does not fit, at the
// user's line (once for the height, once for the width).
use backprop::prelude::*;

type Net = (
    Unflatten2d<49, 1, 7, 7>,
    conv2d!(1, 2, 9, 1, 0, 7, 7, ReLU),
    Flatten2d<2, 1, 1, 2>,
    Dense<2, 2, Identity>,
);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
