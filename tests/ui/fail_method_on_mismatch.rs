// Calling a method on a chain whose widths disagree: the value exists (it is
// just a tuple), but the tuple has no `forward`.
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let net: Net = (Dense::zeroed(), Dense::zeroed());
    let x = [1.0_f32, 2.0];
    let y = net.forward(&x);
    let _ = y;
}
