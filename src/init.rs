//! Weight initialisation: Glorot/Xavier and He/Kaiming, uniform and normal.
//!
//! A layer's weights start as independent random draws whose spread is set by
//! the layer's fan-in `n_in` and fan-out `n_out`, so that the variance of the
//! signal stays roughly constant from layer to layer, forwards and backwards.
//! Biases start at zero.
//!
//! Every draw is made in `f64` from the generator's raw 64-bit output with
//! arithmetic that is exact or correctly rounded on every IEEE 754 platform
//! (and a logarithm written out in basic arithmetic for the normal variants),
//! then rounded once to the layer's scalar type. So the same generator state
//! gives bit-identical weights on a 64-bit host and on a 32-bit
//! microcontroller, provided the generator itself is portable (use
//! [`Xoshiro128PlusPlus`](rand::rngs::Xoshiro128PlusPlus), not `SmallRng`,
//! whose algorithm differs between 32- and 64-bit targets).

use crate::math::{cast, count};
use num_traits::Float;
use rand::Rng;

/// How a layer's weights are drawn.
///
/// # Math
///
/// | variant | distribution | spread |
/// |---|---|---|
/// | `GlorotUniform` | `U(-l, l)` | `l = √(6 / (n_in + n_out))` |
/// | `GlorotNormal` | `N(0, s²)` | `s = √(2 / (n_in + n_out))` |
/// | `HeUniform` | `U(-l, l)` | `l = √(6 / n_in)` |
/// | `HeNormal` | `N(0, s²)` | `s = √(2 / n_in)` |
///
/// These are PyTorch's `xavier_uniform_`, `xavier_normal_` (gain 1) and
/// `kaiming_uniform_`, `kaiming_normal_` (mode `fan_in`, ReLU gain `√2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform: for tanh, sigmoid and linear layers.
    GlorotUniform,
    /// Glorot/Xavier normal.
    GlorotNormal,
    /// He/Kaiming uniform: for the ReLU family.
    HeUniform,
    /// He/Kaiming normal.
    HeNormal,
}

impl Init {
    /// Draws one weight for a layer with the given fan-in and fan-out.
    ///
    /// Uniform draws are made in `T` itself (from the generator's top 24 bits
    /// for `f32`, 53 bits for `f64`), so an `f32` model needs no
    /// double-precision arithmetic, which a Cortex-M4F would have to emulate.
    /// Normal draws are made in `f64` and rounded once to `T`.
    pub fn sample<T: Float, R: Rng + ?Sized>(self, fan_in: usize, fan_out: usize, rng: &mut R) -> T {
        // A fan of 0 (a layer without weights, where nothing is drawn) counts
        // as 1, so that a direct call still gives a finite weight.
        let (n_in, n_out): (T, T) = (count(fan_in.max(1)), count(fan_out.max(1)));
        let (two, six): (T, T) = (cast(2.0), cast(6.0));
        match self {
            Init::GlorotUniform => uniform_symmetric::<T, R>(rng) * (six / (n_in + n_out)).sqrt(),
            Init::HeUniform => uniform_symmetric::<T, R>(rng) * (six / n_in).sqrt(),
            Init::GlorotNormal => cast::<T>(standard_normal(rng)) * (two / (n_in + n_out)).sqrt(),
            Init::HeNormal => cast::<T>(standard_normal(rng)) * (two / n_in).sqrt(),
        }
    }
}

/// How many random bits make a uniform draw in `T`: the width of its
/// significand (24 for `f32`, 53 for `f64`), so that every draw is an exact
/// multiple of `2^-bits` below 1.
fn significand_bits<T>() -> u32 {
    if core::mem::size_of::<T>() <= 4 {
        24
    } else {
        53
    }
}

/// A uniform draw from `[0, 1)` in `T`: the generator's top bits as an
/// integer, scaled by a power of two. Exact on every platform.
fn uniform01<T: Float, R: Rng + ?Sized>(rng: &mut R) -> T {
    let bits = significand_bits::<T>();
    let integer = T::from(rng.next_u64() >> (64 - bits)).unwrap_or_else(T::nan);
    integer * cast::<T>(1.0 / (1u64 << bits) as f64)
}

/// A uniform draw from `[-1, 1)`.
fn uniform_symmetric<T: Float, R: Rng + ?Sized>(rng: &mut R) -> T {
    cast::<T>(2.0) * uniform01::<T, R>(rng) - T::one()
}

/// A standard normal draw in `f64` by Marsaglia's polar method:
/// pick `(u, v)` uniform in the unit disc, `s = u² + v²`, return
/// `u √(-2 ln s / s)`.
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let u = uniform_symmetric::<f64, R>(rng);
        let v = uniform_symmetric::<f64, R>(rng);
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * sqrt(-2.0 * crate::math::portable_ln(s) / s);
        }
    }
}

/// IEEE 754 requires square roots to be correctly rounded, so `std`'s and
/// `libm`'s agree to the bit.
fn sqrt(x: f64) -> f64 {
    num_traits::Float::sqrt(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::Xoshiro128PlusPlus, SeedableRng};

    #[test]
    fn draws_have_the_documented_spread() {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        let n = 200_000;
        for (init, fan_in, fan_out, var) in [
            (Init::GlorotUniform, 30, 10, 6.0_f64 / 40.0 / 3.0),
            (Init::GlorotNormal, 30, 10, 2.0 / 40.0),
            (Init::HeUniform, 30, 10, 6.0 / 30.0 / 3.0),
            (Init::HeNormal, 30, 10, 2.0 / 30.0),
        ] {
            let (mut sum, mut sum2) = (0.0, 0.0);
            for _ in 0..n {
                let w: f64 = init.sample(fan_in, fan_out, &mut rng);
                sum += w;
                sum2 += w * w;
            }
            let mean = sum / n as f64;
            let got = sum2 / n as f64 - mean * mean;
            assert!(mean.abs() < 0.01 * var.sqrt() * 5.0, "{init:?}: mean {mean}");
            assert!((got / var - 1.0).abs() < 0.02, "{init:?}: variance {got}, want {var}");
        }
    }
}
