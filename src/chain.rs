//! Chains: a tuple of layers is itself a layer.
//!
//! `(L0, L1, L2)` feeds its input to `L0`, `L0`'s output to `L1`, and so on;
//! backward runs the same chain in reverse. Tuples of 1 to 12 elements are
//! supported, and elements may themselves be tuples, so
//! `((Dense<4, 8, ReLU>, Dense<8, 8, ReLU>), Dense<8, 3, Identity>)` is a
//! model too. A chain's tape is the tuple of its layers' tapes, and its
//! gradients are a chain of the same type.
//!
//! # Shapes are checked by the compiler
//!
//! Every neighbouring pair must satisfy `L0::Output: Feeds<L1::Input>`, which
//! holds only when both are the same array type: `[T; N]` with the same `T`
//! and `N` for vectors, and so, nested, the same channels and sizes for the
//! tensors of convolutional layers (`[[[T; W]; H]; C]` is `[X; C]` with
//! `X = [[T; W]; H]`). A chain such as `(Dense<2, 3, Tanh>, Dense<4, 1,
//! Sigmoid>)` is therefore not a model, and using it reports the two types:
//!
//! ```text
//! error[E0277]: layer shapes do not match: a layer outputs `[f32; 3]` but the next layer takes `[f32; 4]`
//! ```
//!
//! and a convolution to 8 channels followed by one that takes 4:
//!
//! ```text
//! error[E0277]: layer shapes do not match: a layer outputs `[[[f32; 8]; 8]; 8]` but the next layer takes `[[[f32; 8]; 8]; 4]`
//! ```
//!
//! ```compile_fail
//! use backprop::prelude::*;
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
//! let net: (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>) = Model::init(&mut rng);
//! ```
//!
//! # The macro
//!
//! Every arity comes from one macro, `chain!`, which implements the public
//! traits ([`Forward`], [`Backward`], [`Params`]) and the crate-internal
//! execution seam (`Layer`, in `src/layer.rs`) for one tuple size. For a 3-tuple it
//! emits exactly this (the `impl` headers, which all carry the same bounds,
//! written once; `alloc` items marked):
//!
//! ```text
//! impl<L0, L1, L2> Forward for (L0, L1, L2)
//! where
//!     L0: Layer,
//!     L1: Layer + Params<Scalar = L0::Scalar>,
//!     L2: Layer + Params<Scalar = L0::Scalar>,
//!     L0::Output: Feeds<L1::Input>,
//!     L1::Output: Feeds<L2::Input>,
//! {
//!     type Input = L0::Input;
//!     type Output = L2::Output;
//!     fn forward(&self, x: &Self::Input) -> Self::Output {
//!         exec::forward(self, x)
//!     }
//! }
//!
//! impl<L0, L1, L2> Backward for (L0, L1, L2) where /* the same */ {
//!     type Tape = (L0::Tape, L1::Tape, L2::Tape);
//!     fn forward_tape(&self, x: &Self::Input) -> (Self::Output, Self::Tape) {
//!         exec::forward_tape(self, x)
//!     }
//!     fn backward(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) -> Self::Input {
//!         exec::backward::<_, true>(self, tape, d, grads)
//!     }
//!     fn backward_params(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) {
//!         exec::backward::<_, false>(self, tape, d, grads);
//!     }
//! }
//!
//! impl<L0, L1, L2> Params for (L0, L1, L2) where /* the same */ {
//!     type Scalar = L0::Scalar;
//!     const PARAMS: usize = L0::PARAMS + L1::PARAMS + L2::PARAMS;
//!     fn zeroed() -> Self {
//!         (L0::zeroed(), L1::zeroed(), L2::zeroed())
//!     }
//!     fn visit<const M: usize, const S: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
//!     where
//!         F: FnMut([&mut [Self::Scalar]; M], [&[Self::Scalar]; S]),
//!     {
//!         L0::visit(mutable.each_mut().map(|m| &mut m.0), shared.map(|s| &s.0), f);
//!         L1::visit(mutable.each_mut().map(|m| &mut m.1), shared.map(|s| &s.1), f);
//!         L2::visit(mutable.each_mut().map(|m| &mut m.2), shared.map(|s| &s.2), f);
//!     }
//! }
//!
//! impl<L0, L1, L2> Layer for (L0, L1, L2) where /* the same */ {
//!     fn forward_in<I: Isa>(&self, isa: I, x: &Self::Input) -> Self::Output {
//!         let x = self.0.forward_in(isa, x);
//!         let x = self.1.forward_in(isa, Feeds::feed(&x));
//!         let x = self.2.forward_in(isa, Feeds::feed(&x));
//!         x
//!     }
//!     fn forward_tape_in<I: Isa>(&self, isa: I, x: &Self::Input) -> (Self::Output, Self::Tape) {
//!         let (x, t0) = self.0.forward_tape_in(isa, x);
//!         let (x, t1) = self.1.forward_tape_in(isa, Feeds::feed(&x));
//!         let (x, t2) = self.2.forward_tape_in(isa, Feeds::feed(&x));
//!         (x, (t0, t1, t2))
//!     }
//!     // The chain rule: δ from the last layer down to the first; every
//!     // layer but the first hands ∂L/∂input to the one before it, unless
//!     // nothing below it has parameters and the caller does not want
//!     // ∂L/∂input (a constant condition: the branch folds away).
//!     fn backward_in<I: Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
//!         &self, isa: I, tape: &Self::Tape, d: &Self::Output, grads: &mut Self,
//!     ) -> Self::Input {
//!         let d = if INPUT_GRADIENT || L0::PARAMS + L1::PARAMS > 0 {
//!             self.2.backward_in::<I, true, WRITE>(isa, &tape.2, d, &mut grads.2)
//!         } else {
//!             self.2.backward_in::<I, false, WRITE>(isa, &tape.2, d, &mut grads.2)
//!         };
//!         let d = <L1::Output as Feeds<L2::Input>>::back(&d);
//!         let d = if INPUT_GRADIENT || L0::PARAMS > 0 {
//!             self.1.backward_in::<I, true, WRITE>(isa, &tape.1, d, &mut grads.1)
//!         } else {
//!             self.1.backward_in::<I, false, WRITE>(isa, &tape.1, d, &mut grads.1)
//!         };
//!         let d = <L0::Output as Feeds<L1::Input>>::back(&d);
//!         self.0.backward_in::<I, INPUT_GRADIENT, WRITE>(isa, &tape.0, d, &mut grads.0)
//!     }
//!     fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
//!         // Tuple expressions evaluate left to right: layers draw in order.
//!         (L0::random(rng), L1::random(rng), L2::random(rng))
//!     }
//!     fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
//!         self.0.randomize(rng);
//!         self.1.randomize(rng);
//!         self.2.randomize(rng);
//!     }
//!     fn zero_bytes_are_zeroed() -> bool {
//!         L0::zero_bytes_are_zeroed() && L1::zero_bytes_are_zeroed() && L2::zero_bytes_are_zeroed()
//!     }
//!     const LAYER_COUNT: usize = L0::LAYER_COUNT + L1::LAYER_COUNT + L2::LAYER_COUNT;
//!     fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
//!         L0::describe(f);
//!         L1::describe(f);
//!         L2::describe(f);
//!     }
//!     type Rows = (L0::Rows, L1::Rows, L2::Rows); //                        alloc
//!     fn uses_gemm(rows: usize) -> bool { //                                  alloc
//!         L0::uses_gemm(rows) || L1::uses_gemm(rows) || L2::uses_gemm(rows)
//!     }
//!     fn forward_rows<'t, I: Isa>(&self, isa: I, x: &[Self::Input], tape: &'t mut Self::Rows) -> &'t [Self::Output] {
//!         let x = self.0.forward_rows(isa, x, &mut tape.0); //                alloc
//!         let x = self.1.forward_rows(isa, Feeds::feed_rows(x), &mut tape.1);
//!         let x = self.2.forward_rows(isa, Feeds::feed_rows(x), &mut tape.2);
//!         x
//!     }
//!     fn output_rows(tape: &mut Self::Rows) -> (&[Self::Output], &mut [Self::Output]) {
//!         L2::output_rows(&mut tape.2) //                                      alloc
//!     }
//!     // The same recursion on rows: each layer writes ∂L/∂input into the
//!     // gradient buffer of the layer before it, under the same condition.
//!     fn backward_rows<I: Isa, const WRITE: bool>(
//!         &self, isa: I, x: &[Self::Input], tape: &mut Self::Rows, grads: &mut Self,
//!         d_input: Option<&mut [Self::Input]>,
//!     ) { //                                                                   alloc
//!         let (y, d_y) = L1::output_rows(&mut tape.1);
//!         let wanted = d_input.is_some() || L0::PARAMS + L1::PARAMS > 0;
//!         self.2.backward_rows::<I, WRITE>(isa, Feeds::feed_rows(y), &mut tape.2, &mut grads.2, wanted.then(|| Feeds::feed_rows_mut(d_y)));
//!         let (y, d_y) = L0::output_rows(&mut tape.0);
//!         let wanted = d_input.is_some() || L0::PARAMS > 0;
//!         self.1.backward_rows::<I, WRITE>(isa, Feeds::feed_rows(y), &mut tape.1, &mut grads.1, wanted.then(|| Feeds::feed_rows_mut(d_y)));
//!         self.0.backward_rows::<I, WRITE>(isa, x, &mut tape.0, &mut grads.0, d_input)
//!     }
//! }
//! ```
//!
//! [`Architecture`](crate::Architecture) and [`Model`](crate::Model) then
//! hold for the tuple because it is a `Layer`. Every one of these needs the
//! shapes to fit, so a chain whose shapes disagree has no `zeroed`, no
//! `PARAMS`, no initialisation, no weight files and no passes: each use is
//! a compile error naming the two types.

use crate::exec;
use crate::layer::Layer;
use crate::params::Params;
use crate::passes::{Backward, Forward};
use crate::simd::Isa;

use crate::LayerInfo;
use rand::Rng;

/// `Self` (a layer's output) fits `Next` (the following layer's input).
///
/// Implemented only for `[T; N]: Feeds<[T; N]>` (`T` itself an array for a
/// tensor), so a chain compiles exactly when neighbouring shapes (and scalar
/// types) agree. The methods are the identity; they exist so the chain's
/// code can pass one layer's output to the next without asking the compiler
/// to prove the types equal, which would replace the message below by a
/// generic type-mismatch error.
#[diagnostic::on_unimplemented(
    message = "layer shapes do not match: a layer outputs `{Self}` but the next layer takes `{Next}`",
    label = "this chain has neighbouring layers whose shapes (or scalar types) disagree",
    note = "in a chain (L0, L1, ...), each layer takes what the layer before it outputs: a vector `[T; N]` of the same length N, or a tensor of the same shape, `[[T; L]; C]` (C channels of length L) or `[[[T; W]; H]; C]` (C channels of H rows and W columns), and every layer has the same scalar type T"
)]
pub trait Feeds<Next> {
    /// This layer's output as the next layer's input.
    fn feed(&self) -> &Next;
    /// The gradient with respect to the next layer's input, as the gradient
    /// with respect to this layer's output.
    fn back(d_next: &Next) -> &Self;
    /// A batch of this layer's outputs as a batch of the next layer's inputs
    /// (the [batched path](crate::batch)).
    fn feed_rows(rows: &[Self]) -> &[Next]
    where
        Self: Sized,
        Next: Sized;
    /// A buffer for this layer's output gradients, as the next layer's
    /// buffer for its input gradients.
    fn feed_rows_mut(rows: &mut [Self]) -> &mut [Next]
    where
        Self: Sized,
        Next: Sized;
}

impl<T, const N: usize> Feeds<[T; N]> for [T; N] {
    #[inline(always)]
    fn feed(&self) -> &[T; N] {
        self
    }
    #[inline(always)]
    fn back(d_next: &[T; N]) -> &[T; N] {
        d_next
    }
    #[inline(always)]
    fn feed_rows(rows: &[[T; N]]) -> &[[T; N]] {
        rows
    }
    #[inline(always)]
    fn feed_rows_mut(rows: &mut [[T; N]]) -> &mut [[T; N]] {
        rows
    }
}

/// Implements `Forward`, `Backward`, `Params` and `Layer` for one tuple arity
/// (see the [module documentation](self) for what it emits).
///
/// Arguments: each element as `Type tape index` in forward order; each
/// neighbouring pair `Previous Next`; the last element as `Type index`; then,
/// from the last layer down to the second, `Layer index Previous index`.
macro_rules! chain {
    (
        layers: $L0:ident $t0:ident $i0:tt $(, $L:ident $t:ident $i:tt)*;
        pairs: $($P:ident $N:ident),*;
        last: $Last:ident $last:tt;
        down: $($B:ident $b:tt $BP:ident $bp:tt),*
    ) => {
        impl<$L0 $(, $L)*> Forward for ($L0, $($L,)*)
        where
            $L0: Layer,
            $( $L: Layer + Params<Scalar = $L0::Scalar>, )*
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Input = $L0::Input;
            type Output = $Last::Output;

            #[inline]
            fn forward(&self, x: &Self::Input) -> Self::Output {
                exec::forward(self, x)
            }
        }

        impl<$L0 $(, $L)*> Backward for ($L0, $($L,)*)
        where
            $L0: Layer,
            $( $L: Layer + Params<Scalar = $L0::Scalar>, )*
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Tape = ($L0::Tape, $($L::Tape,)*);

            #[inline]
            fn forward_tape(&self, x: &Self::Input) -> (Self::Output, Self::Tape) {
                exec::forward_tape(self, x)
            }

            #[inline]
            fn backward(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) -> Self::Input {
                exec::backward::<_, true>(self, tape, d, grads)
            }

            #[inline]
            fn backward_params(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) {
                exec::backward::<_, false>(self, tape, d, grads);
            }
        }

        impl<$L0 $(, $L)*> Params for ($L0, $($L,)*)
        where
            $L0: Layer,
            $( $L: Layer + Params<Scalar = $L0::Scalar>, )*
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Scalar = $L0::Scalar;
            const PARAMS: usize = $L0::PARAMS $(+ $L::PARAMS)*;

            fn zeroed() -> Self {
                ($L0::zeroed(), $($L::zeroed(),)*)
            }

            #[cfg_attr(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"), inline)]
            fn visit<const M: usize, const S: usize, F>(
                mut mutable: [&mut Self; M],
                shared: [&Self; S],
                f: &mut F,
            ) where
                F: FnMut([&mut [Self::Scalar]; M], [&[Self::Scalar]; S]),
            {
                $L0::visit(mutable.each_mut().map(|m| &mut m.$i0), shared.map(|s| &s.$i0), f);
                $( $L::visit(mutable.each_mut().map(|m| &mut m.$i), shared.map(|s| &s.$i), f); )*
            }
        }

        impl<$L0 $(, $L)*> Layer for ($L0, $($L,)*)
        where
            $L0: Layer,
            $( $L: Layer + Params<Scalar = $L0::Scalar>, )*
            $( $P::Output: Feeds<$N::Input>, )*
        {
            #[inline(always)]
            fn forward_in<I: Isa>(&self, isa: I, x: &Self::Input) -> Self::Output {
                let x = self.$i0.forward_in(isa, x);
                $( let x = self.$i.forward_in(isa, Feeds::feed(&x)); )*
                x
            }

            #[inline(always)]
            fn forward_tape_in<I: Isa>(&self, isa: I, x: &Self::Input) -> (Self::Output, Self::Tape) {
                let (x, $t0) = self.$i0.forward_tape_in(isa, x);
                $( let (x, $t) = self.$i.forward_tape_in(isa, Feeds::feed(&x)); )*
                (x, ($t0, $($t,)*))
            }

            #[inline(always)]
            fn backward_in<I: Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
                &self,
                isa: I,
                tape: &Self::Tape,
                d: &Self::Output,
                grads: &mut Self,
            ) -> Self::Input {
                // A layer's input gradient is needed when a layer below it
                // has parameters or the caller wants ∂L/∂input (so a conv
                // net's first convolution, after an `Unflatten2d`, skips it).
                // `before` is the parameter count below the layer, a
                // constant: the branch folds away.
                #[allow(unused_variables)] // a chain of one layer has nothing below
                let before = $L0::PARAMS $(+ $L::PARAMS)*;
                $(
                    let before = before - $B::PARAMS;
                    let d = if INPUT_GRADIENT || before > 0 {
                        self.$b.backward_in::<I, true, WRITE>(isa, &tape.$b, d, &mut grads.$b)
                    } else {
                        self.$b.backward_in::<I, false, WRITE>(isa, &tape.$b, d, &mut grads.$b)
                    };
                    let d = <$BP::Output as Feeds<$B::Input>>::back(&d);
                )*
                self.$i0.backward_in::<I, INPUT_GRADIENT, WRITE>(isa, &tape.$i0, d, &mut grads.$i0)
            }

            fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
                // Tuple expressions evaluate left to right: layers draw in order.
                ($L0::random(rng), $($L::random(rng),)*)
            }

            fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
                self.$i0.randomize(rng);
                $( self.$i.randomize(rng); )*
            }

            fn zero_bytes_are_zeroed() -> bool
            where
                Self::Scalar: 'static,
            {
                $L0::zero_bytes_are_zeroed() $(&& $L::zero_bytes_are_zeroed())*
            }

            const LAYER_COUNT: usize = $L0::LAYER_COUNT $(+ $L::LAYER_COUNT)*;

            fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
                $L0::describe(f);
                $( $L::describe(f); )*
            }

            #[cfg(feature = "alloc")]
            type Rows = ($L0::Rows, $($L::Rows,)*);

            #[cfg(feature = "alloc")]
            fn uses_gemm(rows: usize) -> bool {
                $L0::uses_gemm(rows) $(|| $L::uses_gemm(rows))*
            }

            #[cfg(feature = "alloc")]
            #[inline(always)]
            fn forward_rows<'t, I: Isa>(
                &self,
                isa: I,
                x: &[Self::Input],
                tape: &'t mut Self::Rows,
            ) -> &'t [Self::Output]
            where
                Self::Scalar: 'static,
            {
                let x = self.$i0.forward_rows(isa, x, &mut tape.$i0);
                $( let x = self.$i.forward_rows(isa, Feeds::feed_rows(x), &mut tape.$i); )*
                x
            }

            #[cfg(feature = "alloc")]
            fn freeze_rows(&self, tape: &mut Self::Rows) {
                self.$i0.freeze_rows(&mut tape.$i0);
                $( self.$i.freeze_rows(&mut tape.$i); )*
            }

            #[cfg(feature = "alloc")]
            fn output_rows(tape: &mut Self::Rows) -> (&[Self::Output], &mut [Self::Output]) {
                $Last::output_rows(&mut tape.$last)
            }

            #[cfg(feature = "alloc")]
            #[inline(always)]
            fn backward_rows<I: Isa, const WRITE: bool>(
                &self,
                isa: I,
                x: &[Self::Input],
                tape: &mut Self::Rows,
                grads: &mut Self,
                d_input: Option<&mut [Self::Input]>,
            ) where
                Self::Scalar: 'static,
            {
                // As in `backward_in`: a layer's input gradient only when a
                // layer below it has parameters or the caller wants ∂L/∂input.
                #[allow(unused_variables)] // a chain of one layer has nothing below
                let before = $L0::PARAMS $(+ $L::PARAMS)*;
                $(
                    let before = before - $B::PARAMS;
                    let (y, d_y) = $BP::output_rows(&mut tape.$bp);
                    self.$b.backward_rows::<I, WRITE>(
                        isa,
                        Feeds::feed_rows(y),
                        &mut tape.$b,
                        &mut grads.$b,
                        (d_input.is_some() || before > 0).then(|| Feeds::feed_rows_mut(d_y)),
                    );
                )*
                self.$i0.backward_rows::<I, WRITE>(isa, x, &mut tape.$i0, &mut grads.$i0, d_input)
            }
        }
    };
}

chain!(layers: L0 t0 0; pairs: ; last: L0 0; down: );
chain!(layers: L0 t0 0, L1 t1 1; pairs: L0 L1; last: L1 1; down: L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2; pairs: L0 L1, L1 L2; last: L2 2; down: L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3; pairs: L0 L1, L1 L2, L2 L3; last: L3 3; down: L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4; pairs: L0 L1, L1 L2, L2 L3, L3 L4; last: L4 4; down: L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5; last: L5 5; down: L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6; last: L6 6; down: L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7; last: L7 7; down: L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8; last: L8 8; down: L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9; last: L9 9; down: L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9, L10 t10 10; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10; last: L10 10; down: L10 10 L9 9, L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9, L10 t10 10, L11 t11 11; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10, L10 L11; last: L11 11; down: L11 11 L10 10, L10 10 L9 9, L9 9 L8 8, L8 8 L7 7, L7 7 L6 6, L6 6 L5 5, L5 5 L4 4, L4 4 L3 3, L3 3 L2 2, L2 2 L1 1, L1 1 L0 0);
