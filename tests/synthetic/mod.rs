//! Inputs and labels for the tests of the batched path, from a seed: the
//! same rows in every test file that includes this module
//! (`mod synthetic;`).

use backprop::prelude::*;
use rand::Rng;

/// `rows` inputs, each value on the grid `-1, -0.999, …, 1`, from `seed`.
pub fn data<T: Float, const IN: usize>(rows: usize, seed: u64) -> Vec<[T; IN]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..rows)
        .map(|_| core::array::from_fn(|_| T::from(f64::from(rng.next_u32() % 2001) / 1000.0 - 1.0).unwrap()))
        .collect()
}

/// `rows` class labels, `(7k + 3) mod classes` for row `k`.
#[allow(dead_code)] // not every file that includes this module trains
pub fn labels(rows: usize, classes: usize) -> Vec<usize> {
    (0..rows).map(|k| (k * 7 + 3) % classes).collect()
}
