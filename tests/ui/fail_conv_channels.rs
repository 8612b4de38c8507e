// A convolution to 8 channels feeding one that takes 4: the chain's error
// names both tensor types, `[[[f32; W]; H]; C]`, at `cargo check` already.
use backprop::prelude::*;

type Net = (
    Unflatten2d<64, 1, 8, 8>,
    Conv2d<1, 8, 3, 1, 1, 8, 8, 8, 8, ReLU>,
    Conv2d<4, 16, 3, 1, 1, 8, 8, 8, 8, ReLU>,
    Flatten2d<16, 8, 8, 1024>,
    Dense<1024, 10, Identity>,
);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
