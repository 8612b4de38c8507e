// `Broken::zeroed()` names the function through the type, so rustc reports
// E0599, which `#[diagnostic::on_unimplemented]` cannot reword: it lists the
// unsatisfied bound, `[f32; 3]: Feeds<[f32; 4]>`, with both widths.
use backprop::prelude::*;

type Broken = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);

fn main() {
    let grads = Broken::zeroed();
    let _ = grads;
}
