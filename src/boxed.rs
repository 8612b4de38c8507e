//! Big models on the heap: `Box<M>` is a model too, and is built in place
//! (`alloc` feature).
//!
//! A 784-512-256-10 net in `f32` has 535,818 parameters, 2.1 MB; Adam keeps
//! three more values of the same size. `Box::new(Net::zeroed())` builds the
//! value on the stack first and then moves it (always in debug builds,
//! often in release builds), and a test thread's stack is 2 MiB, a
//! microcontroller's a few kilobytes. So `Box<M>` implements every model
//! trait by delegating to `M`, and its constructors never build an `M` on the
//! stack:
//!
//! * [`Params::zeroed`] for `Box<M>` allocates zeroed memory on the heap, which
//!   for `Dense` layers over `f32` or `f64` (and chains of them) already is
//!   the model with every parameter zero;
//! * [`Params::random`] (and so [`Model::init`](crate::Model::init)) zeroes
//!   it that way and then draws the weights in place
//!   ([`Params::randomize`]), with exactly the draws of `M::random`;
//! * the optimizers' state has the model's type, so `Adam<Box<M>>` keeps its
//!   moments in three more boxes, made the same way.
//!
//! ```
//! use backprop::prelude::*;
//!
//! type Big = (Dense<784, 512, ReLU>, Dense<512, 256, ReLU>, Dense<256, 10, Identity>);
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
//! let mut net: Box<Big> = Model::init(&mut rng);   // 2.1 MB, on the heap only
//! let mut grads = Box::<Big>::zeroed();
//! let mut adam: Adam<Box<Big>> = Adam::new(1e-3);    // 3 × 2.1 MB, on the heap
//! let (x, label) = ([0.5f32; 784], 3usize);
//! net.train_step(&[x], &[label], &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)?;
//! assert_eq!(Big::PARAMS, 535_818);
//! assert_eq!(Big::BYTES, 4 * 535_818);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! The forward and backward passes of a `Box<M>` are `M`'s: the tape, which
//! holds a few activations per layer (13 KB for the net above), stays on the
//! stack.

extern crate alloc;

use crate::batch::{Batched, Gradients};
use crate::model::{seal::Seal, Architecture, Backward, Forward, LayerInfo, Params};
use crate::simd::Isa;
use alloc::alloc::Layout;
use alloc::boxed::Box;
use rand::Rng;

/// A `Box<M>` whose parameters are all zero, allocated zeroed on the heap
/// when that is a valid `M` ([`Params::zero_bytes_are_zeroed`]), else built
/// by `M::zeroed()` and moved.
#[allow(unsafe_code)] // a zeroed allocation turned into a `Box<M>`
fn zeroed_box<M: Params>() -> Box<M>
where
    M::Scalar: 'static,
{
    let layout = Layout::new::<M>();
    if layout.size() == 0 || !M::zero_bytes_are_zeroed(Seal(())) {
        return built_and_moved();
    }
    // SAFETY: the layout's size is not zero.
    let memory = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<M>();
    if memory.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `memory` is non-null and was allocated by the global allocator
    // with `M`'s layout, as `Box` requires; all its bytes are zero, and
    // `zero_bytes_are_zeroed` (which only this crate can make answer `true`)
    // says that all-zero bytes are a valid `M`: a `Dense` layer over `f32` or
    // `f64` is arrays of floats (all-zero bits are +0.0) and a zero-sized,
    // inhabited activation, and a tuple of such layers is valid when each is.
    unsafe { Box::from_raw(memory) }
}

/// `Box::new(M::zeroed())`, in a function of its own: in a debug build a
/// function's stack frame holds all its temporaries, taken branch or not, so
/// this one must not be part of [`zeroed_box`]'s frame.
#[inline(never)]
fn built_and_moved<M: Params>() -> Box<M> {
    Box::new(M::zeroed())
}

impl<L: Forward> Forward for Box<L> {
    type Input = L::Input;
    type Output = L::Output;

    #[inline]
    fn forward(&self, input: &L::Input) -> L::Output {
        (**self).forward(input)
    }

    #[inline(always)]
    fn forward_with<I: Isa>(&self, isa: I, input: &L::Input) -> L::Output {
        (**self).forward_with(isa, input)
    }
}

impl<L: Backward> Backward for Box<L>
where
    L::Scalar: 'static,
{
    type Tape = L::Tape;

    #[inline]
    fn forward_tape(&self, input: &L::Input) -> (L::Output, L::Tape) {
        (**self).forward_tape(input)
    }

    #[inline]
    fn backward(&self, tape: &L::Tape, d_output: &L::Output, grads: &mut Self) -> L::Input {
        (**self).backward(tape, d_output, grads)
    }

    #[inline]
    fn backward_params(&self, tape: &L::Tape, d_output: &L::Output, grads: &mut Self) {
        (**self).backward_params(tape, d_output, grads)
    }

    #[inline(always)]
    fn forward_tape_with<I: Isa>(&self, isa: I, input: &L::Input) -> (L::Output, L::Tape) {
        (**self).forward_tape_with(isa, input)
    }

    #[inline(always)]
    fn backward_with<I: Isa, const REPLACE: bool>(
        &self,
        isa: I,
        tape: &L::Tape,
        d_output: &L::Output,
        grads: &mut Self,
    ) -> L::Input {
        (**self).backward_with::<I, REPLACE>(isa, tape, d_output, grads)
    }

    #[inline(always)]
    fn backward_params_with<I: Isa, const REPLACE: bool>(
        &self,
        isa: I,
        tape: &L::Tape,
        d_output: &L::Output,
        grads: &mut Self,
    ) {
        (**self).backward_params_with::<I, REPLACE>(isa, tape, d_output, grads)
    }
}

impl<L: Params> Params for Box<L>
where
    L::Scalar: 'static,
{
    type Scalar = L::Scalar;
    const PARAMS: usize = L::PARAMS;

    /// Zeroed memory on the heap: the model is never on the stack.
    fn zeroed() -> Self {
        zeroed_box()
    }

    /// Zeroed on the heap, then initialised in place with the draws of
    /// `L::random`.
    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut model = zeroed_box::<L>();
        model.randomize(rng);
        model
    }

    fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        (**self).randomize(rng)
    }

    #[inline]
    fn visit<const M: usize, const S: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [L::Scalar]; M], [&[L::Scalar]; S]),
    {
        L::visit(mutable.each_mut().map(|m| &mut ***m), shared.map(|s| &**s), f)
    }
}

impl<L: Architecture> Architecture for Box<L>
where
    L::Scalar: 'static,
{
    const LAYERS: usize = L::LAYERS;

    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
        L::for_each_layer(f)
    }
}

impl<L: Batched> Batched for Box<L>
where
    L::Scalar: 'static,
{
    type BatchTape = L::BatchTape;

    fn uses_gemm(rows: usize) -> bool {
        L::uses_gemm(rows)
    }

    fn forward_batch<'t>(&self, input: &[L::Input], tape: &'t mut L::BatchTape) -> &'t [L::Output] {
        (**self).forward_batch(input, tape)
    }

    fn output_and_gradient(tape: &mut L::BatchTape) -> (&[L::Output], &mut [L::Output]) {
        L::output_and_gradient(tape)
    }

    fn backward_batch(
        &self,
        input: &[L::Input],
        tape: &mut L::BatchTape,
        grads: &mut Self,
        mode: Gradients,
        d_input: Option<&mut [L::Input]>,
    ) {
        (**self).backward_batch(input, tape, grads, mode, d_input)
    }
}
