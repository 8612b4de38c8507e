// Softmax cross-entropy takes class indices; handing it float labels (or
// handing Mse class indices) is a compile error that says which targets the
// loss takes, not a type mismatch that reads backwards.
use backprop::prelude::*;

type Net = (Dense<2, 4, Tanh>, Dense<4, 3, Identity>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let mut net: Net = Model::init(&mut rng);
    let x = [[0.0f32, 1.0]];
    let float_labels = [1.0f32];
    let _ = net.fit(&x, &float_labels, &SoftmaxCrossEntropy, &mut Sgd::new(0.1), FitOptions::default(), &mut rng);
    let class_indices = [2usize];
    let _ = net.evaluate(&x, &class_indices, &Mse);
}
