//! The pools: [`MaxPool1d`], [`AvgPool1d`], [`MaxPool2d`], [`AvgPool2d`]
//! (windows of `K` or `K × K` values with stride `K`, PyTorch's
//! `nn.MaxPool2d(K)` and `nn.AvgPool2d(K)`) and the global averages
//! [`GlobalAvgPool1d`], [`GlobalAvgPool2d`] (`nn.AdaptiveAvgPool2d(1)`).
//!
//! # Math
//!
//! A pool reduces each window `R` of a channel to one value:
//!
//! ```text
//! max:      y = max_{j ∈ R} x_j          ∂L/∂x_j = ∂L/∂y if j is the window's argmax, else 0
//! average:  y = (1/|R|) Σ_{j ∈ R} x_j    ∂L/∂x_j = (1/|R|) ∂L/∂y for every j in R
//! ```
//!
//! The backward pass is routing: a max pool sends each output's gradient to
//! the one input that won (its tape records which, the first maximum in
//! window order, as PyTorch's CPU kernels pick it), an average pool spreads
//! it evenly over its window. Windows do not overlap (stride `K`), so every
//! input belongs to exactly one window and receives exactly one term.

use super::{parameter_free, shape, Image};
use crate::model::{LayerInfo, LayerKind};
use core::marker::PhantomData;
use num_traits::Float;

/// `T` from a small count.
fn count<T: Float>(n: usize) -> T {
    crate::math::count::<T>(n)
}

/// Max pooling over a sequence: each output is the maximum of `K`
/// consecutive inputs (stride `K`), per channel. `[[T; L]; C]` to
/// `[[T; LO]; C]`, `LO = L / K`; PyTorch's `nn.MaxPool1d(K)`.
///
/// # Math
///
/// `y_{c,t} = max_{0 ≤ j < K} x_{c, tK + j}`; backward, the gradient goes to
/// the first maximum of each window: `∂L/∂x_{c, tK + j*} = ∂L/∂y_{c,t}`.
///
/// A pool whose `K` does not divide `L`, or whose `LO` is not `L / K`, does
/// not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaxPool1d<const C: usize, const K: usize, const L: usize, const LO: usize, T = f32>(
    PhantomData<T>,
);

/// Average pooling over a sequence: each output is the mean of `K`
/// consecutive inputs (stride `K`), per channel. `[[T; L]; C]` to
/// `[[T; LO]; C]`, `LO = L / K`; PyTorch's `nn.AvgPool1d(K)`.
///
/// # Math
///
/// `y_{c,t} = (1/K) Σ_{0 ≤ j < K} x_{c, tK + j}`; backward,
/// `∂L/∂x_{c, tK + j} = (1/K) ∂L/∂y_{c,t}`.
///
/// A pool whose `K` does not divide `L`, or whose `LO` is not `L / K`, does
/// not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AvgPool1d<const C: usize, const K: usize, const L: usize, const LO: usize, T = f32>(
    PhantomData<T>,
);

/// Max pooling over an image: each output is the maximum of a `K × K`
/// window (stride `K`), per channel. `[[[T; W]; H]; C]` to
/// `[[[T; WO]; HO]; C]`, `HO = H / K`, `WO = W / K`; PyTorch's
/// `nn.MaxPool2d(K)`.
///
/// # Math
///
/// `y_{c,r,q} = max_{0 ≤ i, j < K} x_{c, rK + i, qK + j}`; backward, the
/// gradient goes to the first maximum of each window in row-major order.
///
/// A pool whose `K` does not divide `H` and `W`, or whose output sizes are
/// not `H / K` and `W / K`, does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaxPool2d<
    const C: usize,
    const K: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    T = f32,
>(PhantomData<T>);

/// Average pooling over an image: each output is the mean of a `K × K`
/// window (stride `K`), per channel. `[[[T; W]; H]; C]` to
/// `[[[T; WO]; HO]; C]`, `HO = H / K`, `WO = W / K`; PyTorch's
/// `nn.AvgPool2d(K)`.
///
/// # Math
///
/// `y_{c,r,q} = (1/K²) Σ_{0 ≤ i, j < K} x_{c, rK + i, qK + j}`; backward,
/// `∂L/∂x_{c, rK + i, qK + j} = (1/K²) ∂L/∂y_{c,r,q}`.
///
/// A pool whose `K` does not divide `H` and `W`, or whose output sizes are
/// not `H / K` and `W / K`, does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AvgPool2d<
    const C: usize,
    const K: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    T = f32,
>(PhantomData<T>);

/// The mean of each channel of a sequence: `[[T; L]; C]` to `[[T; 1]; C]`;
/// PyTorch's `nn.AdaptiveAvgPool1d(1)`.
///
/// # Math
///
/// `y_c = (1/L) Σ_t x_{c,t}`; backward, `∂L/∂x_{c,t} = (1/L) ∂L/∂y_c`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GlobalAvgPool1d<const C: usize, const L: usize, T = f32>(PhantomData<T>);

/// The mean of each channel of an image: `[[[T; W]; H]; C]` to
/// `[[[T; 1]; 1]; C]`; PyTorch's `nn.AdaptiveAvgPool2d(1)`.
///
/// # Math
///
/// `y_c = (1/(H·W)) Σ_{h,w} x_{c,h,w}`; backward,
/// `∂L/∂x_{c,h,w} = (1/(H·W)) ∂L/∂y_c`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GlobalAvgPool2d<const C: usize, const H: usize, const W: usize, T = f32>(PhantomData<T>);

/// One step of a max pool's running argmax over a row of windows: where
/// the window's next value `v` (offset `j` in the window) is greater than
/// the best so far or NaN, it becomes the best (PyTorch's rule, which
/// keeps the first maximum, or the last NaN). `best` starts at `-∞`, `at`
/// at 0. Without branches, so that the compiler runs it over many windows
/// at once (the windows of a row are independent).
#[inline(always)]
fn take_if_greater<T: Float>(best: &mut T, at: &mut u32, v: T, j: u32) {
    let take = v > *best || v.is_nan();
    *best = if take { v } else { *best };
    *at = if take { j } else { *at };
}

/// [`take_if_greater`]'s maximum alone, for the forward pass without a
/// tape.
#[inline(always)]
fn running_max<T: Float>(best: T, v: T) -> T {
    if v > best || v.is_nan() {
        v
    } else {
        best
    }
}

impl<const C: usize, const K: usize, const L: usize, const LO: usize, T: Float> MaxPool1d<C, K, L, LO, T> {
    const SHAPE: () = shape::pool("MaxPool1d", &[C, K, L, LO], K, &[L], &[LO]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    /// The forward pass without a tape: the maxima alone, by the rule of
    /// [`take_if_greater`] (so the bits of `run`'s).
    #[inline(always)]
    fn run_forward(&self, x: &[[T; L]; C]) -> [[T; LO]; C] {
        let () = Self::SHAPE;
        let mut y = [[T::neg_infinity(); LO]; C];
        for (y, x) in y.iter_mut().zip(x) {
            for j in 0..K {
                for (t, best) in y.iter_mut().enumerate() {
                    *best = running_max(*best, x[t * K + j]);
                }
            }
        }
        y
    }

    #[inline(always)]
    fn run(&self, x: &[[T; L]; C], y: &mut [[T; LO]; C], won: &mut [[u32; LO]; C]) {
        let () = Self::SHAPE;
        for ((y, won), x) in y.iter_mut().zip(won.iter_mut()).zip(x) {
            // In local arrays, stored once (as `MaxPool2d::run` does).
            let mut best = [T::neg_infinity(); LO];
            let mut at = [0u32; LO];
            // The j-th value of every window of the channel, j in window order.
            for j in 0..K {
                for (t, (best, at)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                    take_if_greater(best, at, x[t * K + j], j as u32);
                }
            }
            (*y, *won) = (best, at);
        }
    }

    #[inline(always)]
    fn run_back(&self, won: &[[u32; LO]; C], d_y: &[[T; LO]; C], d_x: &mut [[T; L]; C]) {
        for ((d_x, won), d_y) in d_x.iter_mut().zip(won).zip(d_y) {
            d_x.fill(T::zero());
            for ((window, &j), &d) in d_x.chunks_exact_mut(K).zip(won).zip(d_y) {
                if let Some(slot) = window.get_mut(j as usize) {
                    *slot = d; // ∂L/∂x = ∂L/∂y at the argmax
                }
            }
        }
    }
}

impl<const C: usize, const K: usize, const L: usize, const LO: usize, T: Float> AvgPool1d<C, K, L, LO, T> {
    const SHAPE: () = shape::pool("AvgPool1d", &[C, K, L, LO], K, &[L], &[LO]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[[T; L]; C], y: &mut [[T; LO]; C], _tape: &mut ()) {
        let () = Self::SHAPE;
        let size = count::<T>(K);
        for (y, x) in y.iter_mut().zip(x) {
            for (y, window) in y.iter_mut().zip(x.chunks_exact(K)) {
                *y = window.iter().fold(T::zero(), |s, &v| s + v) / size;
            }
        }
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[T; LO]; C], d_x: &mut [[T; L]; C]) {
        let size = count::<T>(K);
        for (d_x, d_y) in d_x.iter_mut().zip(d_y) {
            for (window, &d) in d_x.chunks_exact_mut(K).zip(d_y) {
                window.fill(d / size);
            }
        }
    }
}

impl<
        const C: usize,
        const K: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        T: Float,
    > MaxPool2d<C, K, H, W, HO, WO, T>
{
    const SHAPE: () = shape::pool("MaxPool2d", &[C, K, H, W, HO, WO], K, &[H, W], &[HO, WO]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    /// The forward pass without a tape: the maxima alone, by the rule of
    /// [`take_if_greater`] (so the bits of `run`'s).
    #[inline(always)]
    fn run_forward(&self, x: &Image<C, H, W, T>) -> Image<C, HO, WO, T> {
        let () = Self::SHAPE;
        let mut y = [[[T::neg_infinity(); WO]; HO]; C];
        for (y, x) in y.iter_mut().zip(x) {
            for (y, rows) in y.iter_mut().zip(x.chunks_exact(K)) {
                for row in rows {
                    for j in 0..K {
                        for (q, best) in y.iter_mut().enumerate() {
                            *best = running_max(*best, row[q * K + j]);
                        }
                    }
                }
            }
        }
        y
    }

    #[inline(always)]
    fn run(&self, x: &Image<C, H, W, T>, y: &mut Image<C, HO, WO, T>, won: &mut Image<C, HO, WO, u32>) {
        let () = Self::SHAPE;
        for ((y, won), x) in y.iter_mut().zip(won.iter_mut()).zip(x) {
            for ((y, won), rows) in y.iter_mut().zip(won.iter_mut()).zip(x.chunks_exact(K)) {
                // The output row in local arrays, stored once at the end
                // (kept in registers; through `y` and `won`, which may be a
                // batch's buffers, each step went to memory).
                let mut best = [T::neg_infinity(); WO];
                let mut at = [0u32; WO];
                // The window's values in row-major order (i, j), each step
                // over every window of the output row.
                for (i, row) in rows.iter().enumerate() {
                    for j in 0..K {
                        for (q, (best, at)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                            take_if_greater(best, at, row[q * K + j], (i * K + j) as u32);
                        }
                    }
                }
                (*y, *won) = (best, at);
            }
        }
    }

    #[inline(always)]
    fn run_back(&self, won: &Image<C, HO, WO, u32>, d_y: &Image<C, HO, WO, T>, d_x: &mut Image<C, H, W, T>) {
        for ((d_x, won), d_y) in d_x.iter_mut().zip(won).zip(d_y) {
            d_x.as_flattened_mut().fill(T::zero());
            for ((rows, won), d_y) in d_x.chunks_exact_mut(K).zip(won).zip(d_y) {
                for (q, (&j, &d)) in won.iter().zip(d_y).enumerate() {
                    let (i, j) = (j as usize / K, j as usize % K);
                    if let Some(slot) = rows.get_mut(i).and_then(|row| row.get_mut(q * K + j)) {
                        *slot = d; // ∂L/∂x = ∂L/∂y at the argmax
                    }
                }
            }
        }
    }
}

impl<
        const C: usize,
        const K: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        T: Float,
    > AvgPool2d<C, K, H, W, HO, WO, T>
{
    const SHAPE: () = shape::pool("AvgPool2d", &[C, K, H, W, HO, WO], K, &[H, W], &[HO, WO]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &Image<C, H, W, T>, y: &mut Image<C, HO, WO, T>, _tape: &mut ()) {
        let () = Self::SHAPE;
        let size = count::<T>(K * K);
        for (y, x) in y.iter_mut().zip(x) {
            for (y, rows) in y.iter_mut().zip(x.chunks_exact(K)) {
                y.fill(T::zero());
                // Each window's sum in row-major order, 0 + x_0 + x_1 + ...,
                // each step over every window of the output row.
                for row in rows {
                    for j in 0..K {
                        for (q, y) in y.iter_mut().enumerate() {
                            *y = *y + row[q * K + j];
                        }
                    }
                }
                for y in y.iter_mut() {
                    *y = *y / size;
                }
            }
        }
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &Image<C, HO, WO, T>, d_x: &mut Image<C, H, W, T>) {
        let size = count::<T>(K * K);
        for (d_x, d_y) in d_x.iter_mut().zip(d_y) {
            for (rows, d_y) in d_x.chunks_exact_mut(K).zip(d_y) {
                for row in rows {
                    for (window, &d) in row.chunks_exact_mut(K).zip(d_y) {
                        window.fill(d / size);
                    }
                }
            }
        }
    }
}

impl<const C: usize, const L: usize, T: Float> GlobalAvgPool1d<C, L, T> {
    const SHAPE: () = shape::not_empty("GlobalAvgPool1d", &[C, L], &[L]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[[T; L]; C], y: &mut [[T; 1]; C], _tape: &mut ()) {
        let () = Self::SHAPE;
        let size = count::<T>(L);
        for (y, x) in y.iter_mut().zip(x) {
            y[0] = x.iter().fold(T::zero(), |s, &v| s + v) / size;
        }
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[T; 1]; C], d_x: &mut [[T; L]; C]) {
        let size = count::<T>(L);
        for (d_x, d_y) in d_x.iter_mut().zip(d_y) {
            d_x.fill(d_y[0] / size);
        }
    }
}

impl<const C: usize, const H: usize, const W: usize, T: Float> GlobalAvgPool2d<C, H, W, T> {
    const SHAPE: () = shape::not_empty("GlobalAvgPool2d", &[C, H, W], &[H, W]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &Image<C, H, W, T>, y: &mut Image<C, 1, 1, T>, _tape: &mut ()) {
        let () = Self::SHAPE;
        let size = count::<T>(H * W);
        for (y, x) in y.iter_mut().zip(x) {
            y[0][0] = x.as_flattened().iter().fold(T::zero(), |s, &v| s + v) / size;
        }
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &Image<C, 1, 1, T>, d_x: &mut Image<C, H, W, T>) {
        let size = count::<T>(H * W);
        for (d_x, d_y) in d_x.iter_mut().zip(d_y) {
            d_x.as_flattened_mut().fill(d_y[0][0] / size);
        }
    }
}

parameter_free!(
    MaxPool1d<C, K, L, LO>: [[T; L]; C] => [[T; LO]; C], tape [[u32; LO]; C],
    LayerInfo { kind: LayerKind::MaxPool1d { channels: C, kernel: K, length: L }, inputs: C * L, outputs: C * LO, activation: "Identity" },
    forward: run_forward
);
parameter_free!(
    AvgPool1d<C, K, L, LO>: [[T; L]; C] => [[T; LO]; C], tape (),
    LayerInfo { kind: LayerKind::AvgPool1d { channels: C, kernel: K, length: L }, inputs: C * L, outputs: C * LO, activation: "Identity" }
);
parameter_free!(
    MaxPool2d<C, K, H, W, HO, WO>: [[[T; W]; H]; C] => [[[T; WO]; HO]; C], tape [[[u32; WO]; HO]; C],
    LayerInfo {
        kind: LayerKind::MaxPool2d { channels: C, kernel: K, height: H, width: W },
        inputs: C * H * W,
        outputs: C * HO * WO,
        activation: "Identity"
    },
    forward: run_forward
);
parameter_free!(
    AvgPool2d<C, K, H, W, HO, WO>: [[[T; W]; H]; C] => [[[T; WO]; HO]; C], tape (),
    LayerInfo {
        kind: LayerKind::AvgPool2d { channels: C, kernel: K, height: H, width: W },
        inputs: C * H * W,
        outputs: C * HO * WO,
        activation: "Identity"
    }
);
parameter_free!(
    GlobalAvgPool1d<C, L>: [[T; L]; C] => [[T; 1]; C], tape (),
    LayerInfo { kind: LayerKind::GlobalAvgPool1d { channels: C, length: L }, inputs: C * L, outputs: C, activation: "Identity" }
);
parameter_free!(
    GlobalAvgPool2d<C, H, W>: [[[T; W]; H]; C] => [[[T; 1]; 1]; C], tape (),
    LayerInfo {
        kind: LayerKind::GlobalAvgPool2d { channels: C, height: H, width: W },
        inputs: C * H * W,
        outputs: C,
        activation: "Identity"
    }
);

#[cfg(test)]
mod tests {
    use super::{running_max, take_if_greater};
    extern crate alloc;
    use alloc::{vec, vec::Vec};

    /// The rule as PyTorch's CPU kernel writes it, one window at a time.
    fn reference(window: &[f32]) -> (f32, u32) {
        let (mut best, mut at) = (f32::NEG_INFINITY, 0u32);
        for (j, &v) in window.iter().enumerate() {
            if v > best || v.is_nan() {
                best = v;
                at = j as u32;
            }
        }
        (best, at)
    }

    /// The branch-free step against the rule, on every window of length 1
    /// to 4 over values with ties, signed zeros, infinities and NaNs of
    /// different payloads: the same maximum (bits) and the same offset; and
    /// the maximum alone (the forward pass without a tape) the same bits.
    #[test]
    fn branch_free_step_is_the_running_argmax() {
        let nan_a = f32::from_bits(0x7fc0_0001);
        let nan_b = f32::from_bits(0xffc0_0002);
        let values = [0.0, -0.0, 1.0, -1.0, 2.5, f32::INFINITY, f32::NEG_INFINITY, nan_a, nan_b];
        let mut windows: Vec<Vec<f32>> = vec![vec![]];
        for _ in 0..4 {
            windows = windows
                .iter()
                .flat_map(|w| values.iter().map(move |&v| w.iter().copied().chain([v]).collect::<Vec<_>>()))
                .collect();
            for window in &windows {
                let (mut best, mut at) = (f32::NEG_INFINITY, 0u32);
                for (j, &v) in window.iter().enumerate() {
                    take_if_greater(&mut best, &mut at, v, j as u32);
                }
                let (expected_best, expected_at) = reference(window);
                assert_eq!((best.to_bits(), at), (expected_best.to_bits(), expected_at), "{window:?}");
                // The forward pass without a tape: the same maximum.
                let alone = window.iter().fold(f32::NEG_INFINITY, |best, &v| running_max(best, v));
                assert_eq!(alone.to_bits(), expected_best.to_bits(), "{window:?}");
            }
        }
    }
}
