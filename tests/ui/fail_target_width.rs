// A 1-wide output compared with a 2-wide target.
use backprop::prelude::*;

type Net = (Dense<2, 3, Tanh>, Dense<3, 1, Sigmoid>);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Net = Model::init(&mut rng);
    let y: [f32; 1] = net.forward(&[1.0, 2.0]);
    let loss = Mse.loss(&y, &[1.0, 2.0]);
    let _ = loss;
}
