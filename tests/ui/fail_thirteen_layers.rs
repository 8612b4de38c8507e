// Tuples implement the model traits up to 12 elements; a longer chain is
// told the limit and that tuples nest.
use backprop::prelude::*;

type L = Dense<4, 4, Tanh>;
type Thirteen = (L, L, L, L, L, L, L, L, L, L, L, L, L);

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let net: Thirteen = Model::init(&mut rng);
    let _ = net;
}
