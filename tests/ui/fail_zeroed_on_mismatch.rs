// A chain whose widths disagree has no all-zero value: no gradients and no
// optimizer state.
use backprop::prelude::*;

type Broken = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let grads: Broken = Params::zeroed();
    let _ = grads;
}
