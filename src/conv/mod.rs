//! Convolutional layers: [`Conv1d`] and [`Conv2d`], the pools
//! ([`MaxPool1d`], [`AvgPool1d`], [`MaxPool2d`], [`AvgPool2d`],
//! [`GlobalAvgPool1d`], [`GlobalAvgPool2d`]) and the reshapes between
//! tensors and vectors ([`Flatten1d`], [`Flatten2d`], [`Unflatten1d`],
//! [`Unflatten2d`]).
//!
//! # Tensors are nested arrays
//!
//! A sample's tensor has PyTorch's layout, channels first: a sequence of
//! `C` channels and length `L` is `[[T; L]; C]` (`x[c][t]`), an image of `C`
//! channels, `H` rows and `W` columns is `[[[T; W]; H]; C]` (`x[c][row][col]`).
//! Models take and return flat rows `[T; N]` (what [`fit`](crate::Train::fit),
//! [`samples`](crate::samples) and the losses work with), so a
//! convolutional model starts with an [`Unflatten2d`] (PyTorch's
//! `nn.Unflatten(1, (C, H, W))`) and ends with a [`Flatten2d`] into a
//! [`Dense`](crate::Dense):
//!
//! ```
//! use backprop::prelude::*;
//!
//! // 8x8 grey images: two 3x3 convolutions, a 2x2 max pool, 10 logits.
//! type Net = (
//!     Unflatten2d<64, 1, 8, 8>,
//!     Conv2d<1, 8, 3, 1, 1, 8, 8, 8, 8, ReLU>,   // "same": 8x8 stays 8x8
//!     MaxPool2d<8, 2, 8, 8, 4, 4>,
//!     Conv2d<8, 16, 3, 1, 0, 4, 4, 2, 2, ReLU>,  // "valid": 4x4 becomes 2x2
//!     Flatten2d<16, 2, 2, 64>,
//!     Dense<64, 10, Identity>,
//! );
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
//! let net: Net = Model::init(&mut rng);
//! let logits: [f32; 10] = net.forward(&[0.5; 64]);
//! assert!(logits.iter().all(|v| v.is_finite()));
//! assert_eq!(Net::PARAMS, (8 * 9 + 8) + (16 * 8 * 9 + 16) + (64 * 10 + 10));
//! ```
//!
//! # Shapes are types, checked on stable Rust
//!
//! Every size is a const parameter, output sizes included:
//! `Conv2d<CI, CO, K, S, P, H, W, HO, WO, A>` is a convolution from `CI`
//! channels of `H × W` to `CO` channels of `HO × WO`, with a `K × K`
//! kernel, stride `S` and zero padding `P` (PyTorch's `nn.Conv2d(CI, CO, K,
//! stride=S, padding=P)`). Stable Rust cannot compute `HO` from the others in
//! a type, so the type states it and a constant assertion checks it against
//! PyTorch's formula [`out_len`]: a wrong output size, a pool that does not
//! divide its input or a flatten of the wrong length does not build. A
//! channel count or size that does not match the next layer's is the
//! chain's error, which names both tensor types. [`out_len`] is a `const fn`
//! and may be written in a type: `Conv2d<1, 8, 5, 2, 2, 28, 28, { out_len(28, 5, 2, 2) }, { out_len(28, 5, 2, 2) }, ReLU>`.
//!
//! ```compile_fail
//! use backprop::prelude::*;
//! // (8 + 2·1 − 3) / 1 + 1 = 8, not 6: does not build.
//! type Net = (Unflatten2d<64, 1, 8, 8>, Conv2d<1, 2, 3, 1, 1, 8, 8, 6, 6, ReLU>, Flatten2d<2, 6, 6, 72>, Dense<72, 1, Identity>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
//! let _ = net.forward(&[0.0; 64]);
//! ```
//!
//! That assertion is evaluated when the layer is compiled into a program
//! (`cargo build`, not `cargo check`). The macros [`conv1d!`](crate::conv1d),
//! [`conv2d!`](crate::conv2d), [`max_pool1d!`](crate::max_pool1d),
//! [`avg_pool1d!`](crate::avg_pool1d), [`max_pool2d!`](crate::max_pool2d)
//! and [`avg_pool2d!`](crate::avg_pool2d) are the types without their output
//! sizes: they compute them in the type and check the kernel or window there,
//! so that `cargo check` reports a size that does not fit, at the macro.
//! `conv2d!(1, 8, 3, 1, 1, 28, 28, ReLU)` is
//! `Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>`.
//!
//! `ARCHITECTURE.md` says why explicit sizes and what they cost.

mod conv1d;
mod conv2d;
mod kernels;
#[cfg(feature = "alloc")]
pub(crate) mod lowered;
mod pool;
mod reshape;
#[cfg(feature = "alloc")]
pub(crate) mod rows;
mod shape;

pub use conv1d::Conv1d;
pub use conv2d::Conv2d;
pub use pool::{AvgPool1d, AvgPool2d, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d};
pub use reshape::{Flatten1d, Flatten2d, Unflatten1d, Unflatten2d};

/// A sequence of `C` channels and length `L`, `x[c][t]`: the tensor 1-d
/// layers take and give.
pub type Sequence<const C: usize, const L: usize, T = f32> = [[T; L]; C];

/// An image of `C` channels, `H` rows and `W` columns, `x[c][row][col]`:
/// the tensor 2-d layers take and give.
pub type Image<const C: usize, const H: usize, const W: usize, T = f32> = [[[T; W]; H]; C];

/// The output length of a convolution or pool along one dimension, as
/// PyTorch computes it: `⌊(n + 2·padding − kernel) / stride⌋ + 1`, for an
/// input of length `n`. Zero when the kernel does not fit (or the stride is
/// zero), which no layer accepts.
///
/// ```
/// use backprop::conv::out_len;
/// assert_eq!(out_len(28, 3, 1, 1), 28); // "same"
/// assert_eq!(out_len(28, 3, 1, 0), 26); // "valid"
/// assert_eq!(out_len(9, 3, 2, 1), 5);   // stride 2
/// ```
pub const fn out_len(n: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    if stride == 0 || kernel == 0 || n + 2 * padding < kernel {
        0
    } else {
        (n + 2 * padding - kernel) / stride + 1
    }
}

/// What a convolution's backward pass needs from its forward pass, for an
/// input tensor `X` and an output tensor `Y`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvTape<X, Y> {
    /// The layer's input `x`.
    pub input: X,
    /// The pre-activation `z` (the correlation plus the bias).
    pub pre_activation: Y,
    /// The output `a = f(z)`.
    pub output: Y,
}

/// Implements the public passes (`Forward`, `Backward`) of a layer as thin
/// entry points into the execution seam, as `Dense` has them.
macro_rules! entry_points {
    ($name:ident < $($c:ident),* ; $($g:ident : $bound:path),* >, $input:ty, $output:ty, $tape:ty) => {
        impl<$(const $c: usize,)* $($g: $bound,)*> $crate::passes::Forward for $name<$($c,)* $($g,)*> {
            type Input = $input;
            type Output = $output;

            #[inline]
            fn forward(&self, x: &$input) -> $output {
                $crate::exec::forward(self, x)
            }
        }

        impl<$(const $c: usize,)* $($g: $bound,)*> $crate::passes::Backward for $name<$($c,)* $($g,)*> {
            type Tape = $tape;

            #[inline]
            fn forward_tape(&self, x: &$input) -> ($output, $tape) {
                $crate::exec::forward_tape(self, x)
            }

            #[inline]
            fn backward(&self, tape: &$tape, d_output: &$output, grads: &mut Self) -> $input {
                $crate::exec::backward::<_, true>(self, tape, d_output, grads)
            }

            #[inline]
            fn backward_params(&self, tape: &$tape, d_output: &$output, grads: &mut Self) {
                $crate::exec::backward::<_, false>(self, tape, d_output, grads);
            }
        }
    };
}
pub(crate) use entry_points;

/// A tensor of zeros of a nested array type spelled as tokens (`[[T; L]; C]`,
/// `[[[u32; WO]; HO]; C]`, `()`), for the per-sample passes of
/// [`parameter_free!`] to write into.
macro_rules! zeros {
    (()) => {
        ()
    };
    (u32) => {
        0u32
    };
    (T) => {
        T::zero()
    };
    ([$element:tt; $n:tt]) => {
        [$crate::conv::zeros!($element); $n]
    };
}
pub(crate) use zeros;

/// Implements the entry points, `Params` (no parameters) and the execution
/// seam for a layer without parameters, given its types (input, output,
/// tape), its inherent `run` (the forward pass with the tape, written into
/// an output and a tape) and `run_back` (the input gradient, written into
/// the input's shape), each writing every value of what it is given, and
/// its description; optionally (`forward: method`) an inherent method for
/// the forward pass without a tape. The per-sample passes write into fresh
/// zeros; the batched path runs them row by row on the batch's buffers in
/// place ([`rows::SampleRows`]).
macro_rules! parameter_free {
    // The forward pass without a tape: the output of `run`, or, where the
    // layer names one (`forward: method`), a method that computes only the
    // output (a max pool then finds no argmax).
    (@forward $layer:ident, $x:ident, $output:tt, $tape:tt) => {{
        let (mut y, mut tape) = ($crate::conv::zeros!($output), $crate::conv::zeros!($tape));
        $layer.run($x, &mut y, &mut tape);
        y
    }};
    (@forward $layer:ident, $x:ident, $output:tt, $tape:tt, $forward:ident) => {
        $layer.$forward($x)
    };
    (
        $name:ident < $($c:ident),* >: $input:tt => $output:tt, tape $tape:tt,
        $info:expr $(, forward: $forward:ident)?
    ) => {
        $crate::conv::entry_points!($name<$($c),*; T: Float>, $input, $output, $tape);

        impl<$(const $c: usize,)* T: Float> $crate::params::Params for $name<$($c,)* T> {
            type Scalar = T;
            const PARAMS: usize = 0;

            fn zeroed() -> Self {
                Self::new()
            }

            fn visit<const M: usize, const S: usize, F>(_: [&mut Self; M], _: [&Self; S], _: &mut F)
            where
                F: FnMut([&mut [T]; M], [&[T]; S]),
            {
            }
        }

        impl<$(const $c: usize,)* T: Float> $crate::layer::Layer for $name<$($c,)* T> {
            #[inline(always)]
            fn forward_in<I: $crate::simd::Isa>(&self, _isa: I, x: &Self::Input) -> Self::Output {
                $crate::conv::parameter_free!(@forward self, x, $output, $tape $(, $forward)?)
            }

            #[inline(always)]
            fn forward_tape_in<I: $crate::simd::Isa>(&self, _isa: I, x: &Self::Input) -> (Self::Output, Self::Tape) {
                let (mut y, mut tape) = ($crate::conv::zeros!($output), $crate::conv::zeros!($tape));
                self.run(x, &mut y, &mut tape);
                (y, tape)
            }

            #[inline(always)]
            fn backward_in<I: $crate::simd::Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
                &self,
                _isa: I,
                tape: &Self::Tape,
                d_output: &Self::Output,
                _grads: &mut Self,
            ) -> Self::Input {
                // Without parameters there is nothing else to compute; the
                // input gradient is cheap, and a caller that does not want it
                // drops it.
                let mut d_x = $crate::conv::zeros!($input);
                self.run_back(tape, d_output, &mut d_x);
                d_x
            }

            #[inline(always)]
            fn forward_tape_into<I: $crate::simd::Isa>(
                &self,
                _isa: I,
                x: &Self::Input,
                y: &mut Self::Output,
                tape: &mut Self::Tape,
            ) {
                self.run(x, y, tape);
            }

            #[inline(always)]
            fn backward_into<I: $crate::simd::Isa, const WRITE: bool>(
                &self,
                _isa: I,
                tape: &Self::Tape,
                d_output: &Self::Output,
                _grads: &mut Self,
                d_input: &mut Self::Input,
            ) {
                self.run_back(tape, d_output, d_input);
            }

            fn random<R: rand::Rng + ?Sized>(_rng: &mut R) -> Self {
                Self::new()
            }

            fn randomize<R: rand::Rng + ?Sized>(&mut self, _rng: &mut R) {}

            fn zero_bytes_are_zeroed() -> bool
            where
                T: 'static,
            {
                true
            }

            const LAYER_COUNT: usize = 1;

            fn describe<F: FnMut($crate::LayerInfo)>(f: &mut F) {
                f($info);
            }

            #[cfg(feature = "alloc")]
            type Rows = $crate::conv::rows::SampleRows<Self::Output, Self::Tape>;

            #[cfg(feature = "alloc")]
            fn uses_gemm(_rows: usize) -> bool {
                false
            }

            #[cfg(feature = "alloc")]
            #[inline(always)]
            fn forward_rows<'t, I: $crate::simd::Isa>(
                &self,
                isa: I,
                input: &[Self::Input],
                tape: &'t mut Self::Rows,
            ) -> &'t [Self::Output]
            where
                T: 'static,
            {
                tape.forward(self, isa, input)
            }

            #[cfg(feature = "alloc")]
            fn output_rows(tape: &mut Self::Rows) -> (&[Self::Output], &mut [Self::Output]) {
                tape.output_and_gradient()
            }

            #[cfg(feature = "alloc")]
            #[inline(always)]
            fn backward_rows<I: $crate::simd::Isa, const WRITE: bool>(
                &self,
                isa: I,
                _input: &[Self::Input],
                tape: &mut Self::Rows,
                grads: &mut Self,
                d_input: Option<&mut [Self::Input]>,
            ) where
                T: 'static,
            {
                tape.backward::<Self, I, WRITE>(self, isa, grads, d_input)
            }
        }
    };
}
pub(crate) use parameter_free;
