// `conv2d!` computes the output size (a "valid" 3x3 kernel at stride 2 over
// 7x7 gives 3x3); a next layer that expects another size is the chain's
// error, which names both tensors, at `cargo check` already.
use backprop::prelude::*;

type Net = (
    Unflatten2d<49, 1, 7, 7>,
    conv2d!(1, 4, 3, 2, 0, 7, 7, ReLU),
    max_pool2d!(4, 2, 4, 4),
    Flatten2d<4, 2, 2, 16>,
    Dense<16, 2, Identity>,
);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let _ = net;
}
