//! Shuffling without an allocator, the same on every platform.

use crate::error::Error;

/// Shuffles two slices with the same permutation (Fisher–Yates), so that
/// inputs and their targets stay paired. Needs no allocator.
///
/// Draws are made so that the same generator state gives the same
/// permutation on every platform. Slices of different lengths do not pair
/// up: that is [`Error::LengthMismatch`], and nothing is moved.
pub fn shuffle_together<A, B, R: rand::Rng + ?Sized>(
    a: &mut [A],
    b: &mut [B],
    rng: &mut R,
) -> Result<(), Error> {
    if a.len() != b.len() {
        return Err(Error::LengthMismatch {
            what: "inputs",
            len: a.len(),
            other: "targets",
            other_len: b.len(),
        });
    }
    fisher_yates(a.len(), rng, |i, j| {
        a.swap(i, j);
        b.swap(i, j);
    });
    Ok(())
}

/// The Fisher–Yates shuffle of `n` items: for `i = n-1, ..., 1`, swap item
/// `i` with a uniformly chosen item `j ≤ i`.
pub(crate) fn fisher_yates<R: rand::Rng + ?Sized>(n: usize, rng: &mut R, mut swap: impl FnMut(usize, usize)) {
    for i in (1..n).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        // Always true; the test lets the compiler see that `swap` stays in
        // bounds, so no panic path is compiled in.
        if j <= i {
            swap(i, j);
        }
    }
}

/// A uniform integer in `0..n` (`n ≥ 1`), by rejection: no modulo bias, and
/// the same result for the same generator state on every platform.
fn below<R: rand::Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    let n = n.max(1); // never 0, and the compiler knows it: no division-by-zero panic
    let zone = u64::MAX - u64::MAX % n;
    // A draw is rejected with probability below 1/2, so 64 rejections in a
    // row never happen with a real generator; a broken one (always
    // `u64::MAX`) then gets the plain remainder instead of an endless loop.
    let mut x = rng.next_u64();
    for _ in 0..64 {
        if x < zone {
            break;
        }
        x = rng.next_u64();
    }
    x % n
}
