// A "valid" 3x3 convolution over 8x8 gives 6x6, not the 8x8 the type says.
// The layer's constant assertion fails when the layer is instantiated: a
// post-monomorphisation error, reported by `cargo build` (which trybuild
// runs, because tests/ui has a pass test) but not by `cargo check`.
use backprop::prelude::*;

type Net = (
    Unflatten2d<64, 1, 8, 8>,
    Conv2d<1, 8, 3, 1, 0, 8, 8, 8, 8, ReLU>,
    Flatten2d<8, 8, 8, 512>,
    Dense<512, 10, Identity>,
);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net.forward(&[0.0; 64]);
}
