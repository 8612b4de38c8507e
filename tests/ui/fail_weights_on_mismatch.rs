// The library's weight writer does not take a chain whose widths disagree,
// even though the value itself can be written down as a tuple of layers.
use backprop::prelude::*;
use backprop::weights;

type Broken = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let net: Broken = (Dense::new([[0.0; 2]; 3], [0.0; 3]), Dense::new([[0.0; 4]], [0.0]));
    let mut bytes = [0u8; 256];
    let _ = weights::write(&net, &mut bytes);
}
