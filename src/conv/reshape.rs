//! The reshapes between vectors and tensors: [`Flatten1d`], [`Flatten2d`]
//! (a tensor into the vector a `Dense` layer takes) and [`Unflatten1d`],
//! [`Unflatten2d`] (a model's flat input row into a tensor).
//!
//! # Math
//!
//! A reshape moves values and computes nothing: `y_k = x_{c,h,w}` with
//! `k = (c·H + h)·W + w` (row-major, PyTorch's `nn.Flatten`), and its
//! backward pass moves the gradient back, `∂L/∂x_{c,h,w} = ∂L/∂y_k`.

use super::{parameter_free, shape};
use crate::model::{LayerInfo, LayerKind};
use core::marker::PhantomData;
use num_traits::Float;

/// A `[[T; L]; C]` tensor as a vector `[T; N]`, `N = C·L`: PyTorch's
/// `nn.Flatten()` after a 1-d layer.
///
/// # Math
///
/// `y_{c·L + t} = x_{c,t}`; backward, `∂L/∂x_{c,t} = ∂L/∂y_{c·L + t}`.
///
/// A `Flatten1d` whose `N` is not `C × L` does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flatten1d<const C: usize, const L: usize, const N: usize, T = f32>(PhantomData<T>);

/// A `[[[T; W]; H]; C]` tensor as a vector `[T; N]`, `N = C·H·W`: PyTorch's
/// `nn.Flatten()` after a 2-d layer.
///
/// # Math
///
/// `y_{(c·H + h)·W + w} = x_{c,h,w}`; backward, `∂L/∂x_{c,h,w} = ∂L/∂y_{(c·H + h)·W + w}`.
///
/// A `Flatten2d` whose `N` is not `C × H × W` does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flatten2d<const C: usize, const H: usize, const W: usize, const N: usize, T = f32>(PhantomData<T>);

/// A vector `[T; N]` as a `[[T; L]; C]` tensor, `N = C·L`: PyTorch's
/// `nn.Unflatten(1, (C, L))`, the first layer of a 1-d convolutional model
/// (which takes flat rows).
///
/// # Math
///
/// `y_{c,t} = x_{c·L + t}`; backward, `∂L/∂x_{c·L + t} = ∂L/∂y_{c,t}`.
///
/// An `Unflatten1d` whose `N` is not `C × L` does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Unflatten1d<const N: usize, const C: usize, const L: usize, T = f32>(PhantomData<T>);

/// A vector `[T; N]` as a `[[[T; W]; H]; C]` tensor, `N = C·H·W`: PyTorch's
/// `nn.Unflatten(1, (C, H, W))`, the first layer of a 2-d convolutional
/// model (which takes flat rows).
///
/// # Math
///
/// `y_{c,h,w} = x_{(c·H + h)·W + w}`; backward, `∂L/∂x_{(c·H + h)·W + w} = ∂L/∂y_{c,h,w}`.
///
/// An `Unflatten2d` whose `N` is not `C × H × W` does not build.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Unflatten2d<const N: usize, const C: usize, const H: usize, const W: usize, T = f32>(
    PhantomData<T>,
);

/// Copies `from` into `to` in order (equal lengths by construction).
#[inline(always)]
fn copy<T: Copy>(to: &mut [T], from: &[T]) {
    for (t, f) in to.iter_mut().zip(from) {
        *t = *f;
    }
}

impl<const C: usize, const L: usize, const N: usize, T: Float> Flatten1d<C, L, N, T> {
    const SHAPE: () = shape::reshape("Flatten1d", &[C, L, N], N, C, &[L]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[[T; L]; C], y: &mut [T; N], _tape: &mut ()) {
        let () = Self::SHAPE;
        copy(y, x.as_flattened());
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[T; N], d_x: &mut [[T; L]; C]) {
        copy(d_x.as_flattened_mut(), d_y);
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, T: Float> Flatten2d<C, H, W, N, T> {
    const SHAPE: () = shape::reshape("Flatten2d", &[C, H, W, N], N, C, &[H, W]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[[[T; W]; H]; C], y: &mut [T; N], _tape: &mut ()) {
        let () = Self::SHAPE;
        copy(y, x.as_flattened().as_flattened());
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[T; N], d_x: &mut [[[T; W]; H]; C]) {
        copy(d_x.as_flattened_mut().as_flattened_mut(), d_y);
    }
}

impl<const N: usize, const C: usize, const L: usize, T: Float> Unflatten1d<N, C, L, T> {
    const SHAPE: () = shape::reshape("Unflatten1d", &[N, C, L], N, C, &[L]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[T; N], y: &mut [[T; L]; C], _tape: &mut ()) {
        let () = Self::SHAPE;
        copy(y.as_flattened_mut(), x);
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[T; L]; C], d_x: &mut [T; N]) {
        copy(d_x, d_y.as_flattened());
    }
}

impl<const N: usize, const C: usize, const H: usize, const W: usize, T: Float> Unflatten2d<N, C, H, W, T> {
    const SHAPE: () = shape::reshape("Unflatten2d", &[N, C, H, W], N, C, &[H, W]);

    /// The layer (it has no parameters).
    pub fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }

    #[inline(always)]
    fn run(&self, x: &[T; N], y: &mut [[[T; W]; H]; C], _tape: &mut ()) {
        let () = Self::SHAPE;
        copy(y.as_flattened_mut().as_flattened_mut(), x);
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[[T; W]; H]; C], d_x: &mut [T; N]) {
        copy(d_x, d_y.as_flattened().as_flattened());
    }
}

parameter_free!(
    Flatten1d<C, L, N>: [[T; L]; C] => [T; N], tape (),
    LayerInfo { kind: LayerKind::Flatten1d { channels: C, length: L }, inputs: C * L, outputs: N, activation: "Identity" }
);
parameter_free!(
    Flatten2d<C, H, W, N>: [[[T; W]; H]; C] => [T; N], tape (),
    LayerInfo {
        kind: LayerKind::Flatten2d { channels: C, height: H, width: W },
        inputs: C * H * W,
        outputs: N,
        activation: "Identity"
    }
);
parameter_free!(
    Unflatten1d<N, C, L>: [T; N] => [[T; L]; C], tape (),
    LayerInfo { kind: LayerKind::Unflatten1d { channels: C, length: L }, inputs: N, outputs: C * L, activation: "Identity" }
);
parameter_free!(
    Unflatten2d<N, C, H, W>: [T; N] => [[[T; W]; H]; C], tape (),
    LayerInfo {
        kind: LayerKind::Unflatten2d { channels: C, height: H, width: W },
        inputs: N,
        outputs: C * H * W,
        activation: "Identity"
    }
);
