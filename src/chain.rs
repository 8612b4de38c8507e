//! Chains: a tuple of layers is itself a layer.
//!
//! `(L0, L1, L2)` feeds its input to `L0`, `L0`'s output to `L1`, and so on;
//! backward runs the same chain in reverse. Tuples of 1 to 12 elements are
//! supported, and elements may themselves be tuples, so
//! `((Dense<4, 8, ReLU>, Dense<8, 8, ReLU>), Dense<8, 3, Identity>)` is a
//! model too. A chain's tape is the tuple of its layers' tapes, and its
//! gradients are a chain of the same type.
//!
//! # Widths are checked by the compiler
//!
//! Every neighbouring pair must satisfy `L0::Output: Feeds<L1::Input>`, which
//! holds only when both are `[T; N]` with the same `T` and `N`. A chain such as
//! `(Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>)` is therefore not a model, and
//! using it reports the two widths:
//!
//! ```text
//! error[E0277]: layer widths do not match: a layer outputs `[f32; 3]` but the next layer takes `[f32; 4]`
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
//! All impls come from one macro. For a 3-tuple it expands to (bounds
//! abbreviated):
//!
//! ```text
//! impl<L0, L1, L2> Forward for (L0, L1, L2)
//! where L0: Forward, L1: Forward, L2: Forward,
//!       L0::Output: Feeds<L1::Input>, L1::Output: Feeds<L2::Input>,
//! {
//!     type Input = L0::Input;
//!     type Output = L2::Output;
//!     fn forward(&self, x: &L0::Input) -> L2::Output {
//!         let x = self.0.forward(x);
//!         let x = self.1.forward(Feeds::feed(&x));
//!         let x = self.2.forward(Feeds::feed(&x));
//!         x
//!     }
//! }
//!
//! impl<L0, L1, L2> Backward for (L0, L1, L2) where ... {
//!     type Tape = (L0::Tape, L1::Tape, L2::Tape);
//!     fn forward_tape(&self, x: &L0::Input) -> (L2::Output, Self::Tape) {
//!         let (x, t0) = self.0.forward_tape(x);
//!         let (x, t1) = self.1.forward_tape(Feeds::feed(&x));
//!         let (x, t2) = self.2.forward_tape(Feeds::feed(&x));
//!         (x, (t0, t1, t2))
//!     }
//!     fn backward(&self, tape: &Self::Tape, d: &L2::Output, grads: &mut Self) -> L0::Input {
//!         let d = self.2.backward(&tape.2, d, &mut grads.2);
//!         let d = self.1.backward(&tape.1, Feeds::back(&d), &mut grads.1);
//!         let d = self.0.backward(&tape.0, Feeds::back(&d), &mut grads.0);
//!         d
//!     }
//!     fn backward_params(&self, tape: &Self::Tape, d: &L2::Output, grads: &mut Self) {
//!         let d = self.2.backward(&tape.2, d, &mut grads.2);
//!         let d = self.1.backward(&tape.1, Feeds::back(&d), &mut grads.1);
//!         self.0.backward_params(&tape.0, Feeds::back(&d), &mut grads.0)
//!     }
//! }
//!
//! impl<L0, L1, L2> Params for (L0, L1, L2) where ... {
//!     type Scalar = L0::Scalar;
//!     const PARAMS: usize = L0::PARAMS + L1::PARAMS + L2::PARAMS;
//!     fn zeroed() -> Self { (L0::zeroed(), L1::zeroed(), L2::zeroed()) }
//!     fn random(rng) -> Self { (L0::random(rng), L1::random(rng), L2::random(rng)) }
//!     fn visit(mutable, shared, f) {
//!         L0::visit(mutable.each_mut().map(|m| &mut m.0), shared.map(|s| &s.0), f);
//!         L1::visit(/* the same with .1 */);
//!         L2::visit(/* the same with .2 */);
//!     }
//! }
//!
//! impl<L0, L1, L2> Architecture for (L0, L1, L2) where ... {
//!     const LAYERS: usize = L0::LAYERS + L1::LAYERS + L2::LAYERS;
//!     fn for_each_layer(f) {
//!         L0::for_each_layer(f);
//!         L1::for_each_layer(f);
//!         L2::for_each_layer(f);
//!     }
//! }
//! ```

use crate::model::{Architecture, Backward, Forward, LayerInfo, Params};
use crate::simd::{self, Isa};
use rand::Rng;

/// `Self` (a layer's output) fits `Next` (the following layer's input).
///
/// Implemented only for `[T; N]: Feeds<[T; N]>`, so a chain compiles exactly
/// when neighbouring widths (and scalar types) agree. The two methods are the
/// identity; they exist so the chain's code can pass one layer's output to the
/// next without asking the compiler to prove the types equal, which would
/// replace the message below by a generic type-mismatch error.
#[diagnostic::on_unimplemented(
    message = "layer widths do not match: a layer outputs `{Self}` but the next layer takes `{Next}`",
    label = "this chain has neighbouring layers whose widths (or scalar types) disagree",
    note = "in a chain (L0, L1, ...), each layer's input width must equal the output width of the layer before it (and all layers must use the same scalar type)"
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

/// Implements `Forward`, `Backward`, `Params` and `Architecture` for one tuple
/// arity.
///
/// Arguments: each element as `Type tape index` in forward order; each
/// neighbouring pair `Prev Next`; the last element as `Type index`, then the
/// remaining indices in reverse order.
macro_rules! chain {
    // `backward_params`: `backward` from the last layer down to the second,
    // `backward_params` on the first (the last index listed). The last layer
    // takes `d` as it is, every other one through `Feeds::back`.
    // `$r` is the `REPLACE` parameter, passed on to every layer.
    (@params $r:ident $isa:ident $s:ident $tape:ident $grads:ident; $d:ident; $only:tt) => {
        $s.$only.backward_params_with::<_, $r>($isa, &$tape.$only, $d, &mut $grads.$only)
    };
    (@params $r:ident $isa:ident $s:ident $tape:ident $grads:ident; $d:ident; $last:tt, $($rest:tt),+) => {
        let d = $s.$last.backward_with::<_, $r>($isa, &$tape.$last, $d, &mut $grads.$last);
        chain!(@params_fed $r $isa $s $tape $grads; d; $($rest),+)
    };
    (@params_fed $r:ident $isa:ident $s:ident $tape:ident $grads:ident; $d:ident; $first:tt) => {
        $s.$first.backward_params_with::<_, $r>($isa, &$tape.$first, Feeds::back(&$d), &mut $grads.$first)
    };
    (@params_fed $r:ident $isa:ident $s:ident $tape:ident $grads:ident; $d:ident; $next:tt, $($rest:tt),+) => {
        let d = $s.$next.backward_with::<_, $r>($isa, &$tape.$next, Feeds::back(&$d), &mut $grads.$next);
        chain!(@params_fed $r $isa $s $tape $grads; d; $($rest),+)
    };
    (
        layers: $L0:ident $t0:ident $i0:tt $(, $L:ident $t:ident $i:tt)*;
        pairs: $($P:ident $N:ident),*;
        backward: $Last:ident $last:tt $(, $j:tt)*
    ) => {
        impl<$L0: Forward $(, $L: Forward)*> Forward for ($L0, $($L,)*)
        where
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Input = $L0::Input;
            type Output = $Last::Output;

            #[inline]
            fn forward(&self, x: &Self::Input) -> Self::Output {
                simd::dispatch(simd::Forwards { model: self, x })
            }

            #[inline(always)]
            fn forward_with<I: Isa>(&self, isa: I, x: &Self::Input) -> Self::Output {
                let x = self.$i0.forward_with(isa, x);
                $( let x = self.$i.forward_with(isa, Feeds::feed(&x)); )*
                x
            }
        }

        impl<$L0: Backward $(, $L: Backward + Params<Scalar = $L0::Scalar>)*> Backward for ($L0, $($L,)*)
        where
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Tape = ($L0::Tape, $($L::Tape,)*);

            #[inline]
            fn forward_tape(&self, x: &Self::Input) -> (Self::Output, Self::Tape) {
                simd::dispatch(simd::ForwardsTape { model: self, x })
            }

            #[inline]
            fn backward(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) -> Self::Input {
                simd::dispatch(simd::Backwards { model: self, tape, d_output: d, grads })
            }

            #[inline]
            fn backward_params(&self, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) {
                simd::dispatch(simd::BackwardsParams { model: self, tape, d_output: d, grads })
            }

            #[inline(always)]
            fn forward_tape_with<I: Isa>(&self, isa: I, x: &Self::Input) -> (Self::Output, Self::Tape) {
                let (x, $t0) = self.$i0.forward_tape_with(isa, x);
                $( let (x, $t) = self.$i.forward_tape_with(isa, Feeds::feed(&x)); )*
                (x, ($t0, $($t,)*))
            }

            #[inline(always)]
            fn backward_with<I: Isa, const REPLACE: bool>(&self, isa: I, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) -> Self::Input {
                let d = self.$last.backward_with::<I, REPLACE>(isa, &tape.$last, d, &mut grads.$last);
                $( let d = self.$j.backward_with::<I, REPLACE>(isa, &tape.$j, Feeds::back(&d), &mut grads.$j); )*
                d
            }

            #[inline(always)]
            fn backward_params_with<I: Isa, const REPLACE: bool>(&self, isa: I, tape: &Self::Tape, d: &Self::Output, grads: &mut Self) {
                chain!(@params REPLACE isa self tape grads; d; $last $(, $j)*);
            }
        }

        impl<$L0: Params $(, $L: Params<Scalar = $L0::Scalar>)*> Params for ($L0, $($L,)*) {
            type Scalar = $L0::Scalar;
            const PARAMS: usize = $L0::PARAMS $(+ $L::PARAMS)*;

            fn zeroed() -> Self {
                ($L0::zeroed(), $($L::zeroed(),)*)
            }

            fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
                // Tuple expressions evaluate left to right: layers draw in order.
                ($L0::random(rng), $($L::random(rng),)*)
            }

            fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
                self.$i0.randomize(rng);
                $( self.$i.randomize(rng); )*
            }

            fn zero_bytes_are_zeroed(seal: crate::model::seal::Seal) -> bool
            where
                Self::Scalar: 'static,
            {
                $L0::zero_bytes_are_zeroed(seal) $(&& $L::zero_bytes_are_zeroed(seal))*
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

        impl<$L0: Architecture $(, $L: Architecture<Scalar = $L0::Scalar>)*> Architecture for ($L0, $($L,)*) {
            const LAYERS: usize = $L0::LAYERS $(+ $L::LAYERS)*;

            fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
                $L0::for_each_layer(f);
                $( $L::for_each_layer(f); )*
            }
        }
    };
}

chain!(layers: L0 t0 0; pairs: ; backward: L0 0);
chain!(layers: L0 t0 0, L1 t1 1; pairs: L0 L1; backward: L1 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2; pairs: L0 L1, L1 L2; backward: L2 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3; pairs: L0 L1, L1 L2, L2 L3; backward: L3 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4; pairs: L0 L1, L1 L2, L2 L3, L3 L4; backward: L4 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5; backward: L5 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6; backward: L6 6, 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7; backward: L7 7, 6, 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8; backward: L8 8, 7, 6, 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9; backward: L9 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9, L10 t10 10; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10; backward: L10 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
chain!(layers: L0 t0 0, L1 t1 1, L2 t2 2, L3 t3 3, L4 t4 4, L5 t5 5, L6 t6 6, L7 t7 7, L8 t8 8, L9 t9 9, L10 t10 10, L11 t11 11; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10, L10 L11; backward: L11 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
