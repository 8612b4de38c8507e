// A chain whose widths disagree has no parameter count.
use backprop::prelude::*;

type Broken = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let count = <Broken as Params>::PARAMS;
    let _ = count;
}
