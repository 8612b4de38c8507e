//! The reshapes between vectors and tensors: [`Flatten1d`], [`Flatten2d`]
//! (a tensor into the vector a `Dense` layer takes) and [`Unflatten1d`],
//! [`Unflatten2d`] (a model's flat input row into a tensor).
//!
//! # Math
//!
//! A reshape moves values and computes nothing: `y_k = x_{c,h,w}` with
//! `k = (c·H + h)·W + w` (row-major, PyTorch's `nn.Flatten`), and its
//! backward pass moves the gradient back, `∂L/∂x_{c,h,w} = ∂L/∂y_k`.

use super::{entry_points, parameter_free, shape};
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
    fn run(&self, x: &[[T; L]; C]) -> ([T; N], ()) {
        let () = Self::SHAPE;
        let mut y = [T::zero(); N];
        copy(&mut y, x.as_flattened());
        (y, ())
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[T; N]) -> [[T; L]; C] {
        let mut d_x = [[T::zero(); L]; C];
        copy(d_x.as_flattened_mut(), d_y);
        d_x
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
    fn run(&self, x: &[[[T; W]; H]; C]) -> ([T; N], ()) {
        let () = Self::SHAPE;
        let mut y = [T::zero(); N];
        copy(&mut y, x.as_flattened().as_flattened());
        (y, ())
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[T; N]) -> [[[T; W]; H]; C] {
        let mut d_x = [[[T::zero(); W]; H]; C];
        copy(d_x.as_flattened_mut().as_flattened_mut(), d_y);
        d_x
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
    fn run(&self, x: &[T; N]) -> ([[T; L]; C], ()) {
        let () = Self::SHAPE;
        let mut y = [[T::zero(); L]; C];
        copy(y.as_flattened_mut(), x);
        (y, ())
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[T; L]; C]) -> [T; N] {
        let mut d_x = [T::zero(); N];
        copy(&mut d_x, d_y.as_flattened());
        d_x
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
    fn run(&self, x: &[T; N]) -> ([[[T; W]; H]; C], ()) {
        let () = Self::SHAPE;
        let mut y = [[[T::zero(); W]; H]; C];
        copy(y.as_flattened_mut().as_flattened_mut(), x);
        (y, ())
    }

    #[inline(always)]
    fn run_back(&self, _tape: &(), d_y: &[[[T; W]; H]; C]) -> [T; N] {
        let mut d_x = [T::zero(); N];
        copy(&mut d_x, d_y.as_flattened().as_flattened());
        d_x
    }
}

entry_points!(Flatten1d<C, L, N; T: Float>, [[T; L]; C], [T; N], ());
entry_points!(Flatten2d<C, H, W, N; T: Float>, [[[T; W]; H]; C], [T; N], ());
entry_points!(Unflatten1d<N, C, L; T: Float>, [T; N], [[T; L]; C], ());
entry_points!(Unflatten2d<N, C, H, W; T: Float>, [T; N], [[[T; W]; H]; C], ());

parameter_free!(
    Flatten1d<C, L, N>,
    LayerInfo { kind: LayerKind::Flatten1d { channels: C, length: L }, inputs: C * L, outputs: N, activation: "Identity" }
);
parameter_free!(
    Flatten2d<C, H, W, N>,
    LayerInfo {
        kind: LayerKind::Flatten2d { channels: C, height: H, width: W },
        inputs: C * H * W,
        outputs: N,
        activation: "Identity"
    }
);
parameter_free!(
    Unflatten1d<N, C, L>,
    LayerInfo { kind: LayerKind::Unflatten1d { channels: C, length: L }, inputs: N, outputs: C * L, activation: "Identity" }
);
parameter_free!(
    Unflatten2d<N, C, H, W>,
    LayerInfo {
        kind: LayerKind::Unflatten2d { channels: C, height: H, width: W },
        inputs: N,
        outputs: C * H * W,
        activation: "Identity"
    }
);
