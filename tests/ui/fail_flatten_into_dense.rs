// 4 channels of 4x4 flatten to 64 values, but the Dense layer takes 256.
// The chain's error names both vectors, at `cargo check` already.
use backprop::prelude::*;

type Net = (
    Unflatten2d<64, 1, 8, 8>,
    Conv2d<1, 4, 3, 1, 1, 8, 8, 8, 8, ReLU>,
    MaxPool2d<4, 2, 8, 8, 4, 4>,
    Flatten2d<4, 4, 4, 64>,
    Dense<256, 10, Identity>,
);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
