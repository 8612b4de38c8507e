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
//! * [`Model::init`](crate::Model::init) zeroes it that way and then draws
//!   the weights in place, with exactly the draws of `M`'s own `init`;
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

use crate::exec;
use crate::layer::Layer;
use crate::params::Params;
use crate::passes::{Backward, Forward};
use crate::simd::Isa;
use crate::LayerInfo;
use alloc::alloc::Layout;
use alloc::boxed::Box;
use rand::Rng;

/// A `Box<M>` whose parameters are all zero, allocated zeroed on the heap
/// when that is a valid `M` ([`Layer::zero_bytes_are_zeroed`]), else built
/// by `M::zeroed()` and moved.
#[allow(unsafe_code)] // a zeroed allocation turned into a `Box<M>`
fn zeroed_box<M: Layer>() -> Box<M>
where
    M::Scalar: 'static,
{
    let layout = Layout::new::<M>();
    if layout.size() == 0 || !M::zero_bytes_are_zeroed() {
        return built_and_moved();
    }
    // SAFETY: the layout's size is not zero.
    let memory = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<M>();
    if memory.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `memory` is non-null and was allocated by the global allocator
    // with `M`'s layout, as `Box` requires; all its bytes are zero, and
    // `zero_bytes_are_zeroed` (a method of the sealed `Layer`, which only
    // this crate implements) says that all-zero bytes are a valid `M`: a
    // `Dense` layer over `f32` or `f64` is arrays of floats (all-zero bits
    // are +0.0) and a zero-sized, inhabited activation, and a tuple of such
    // layers is valid when each is.
    unsafe { Box::from_raw(memory) }
}

/// `Box::new(M::zeroed())`, in a function of its own: in a debug build a
/// function's stack frame holds all its temporaries, taken branch or not, so
/// this one must not be part of [`zeroed_box`]'s frame.
#[inline(never)]
fn built_and_moved<M: Params>() -> Box<M> {
    Box::new(M::zeroed())
}

// The public passes: thin entry points into the execution seam.

impl<L: Layer> Forward for Box<L>
where
    L::Scalar: 'static,
{
    type Input = L::Input;
    type Output = L::Output;

    #[inline]
    fn forward(&self, input: &L::Input) -> L::Output {
        exec::forward(self, input)
    }
}

impl<L: Layer> Backward for Box<L>
where
    L::Scalar: 'static,
{
    type Tape = L::Tape;

    #[inline]
    fn forward_tape(&self, input: &L::Input) -> (L::Output, L::Tape) {
        exec::forward_tape(self, input)
    }

    #[inline]
    fn backward(&self, tape: &L::Tape, d_output: &L::Output, grads: &mut Self) -> L::Input {
        exec::backward::<_, true>(self, tape, d_output, grads)
    }

    #[inline]
    fn backward_params(&self, tape: &L::Tape, d_output: &L::Output, grads: &mut Self) {
        exec::backward::<_, false>(self, tape, d_output, grads);
    }
}

impl<L: Layer> Params for Box<L>
where
    L::Scalar: 'static,
{
    type Scalar = L::Scalar;
    const PARAMS: usize = L::PARAMS;

    /// Zeroed memory on the heap: the model is never on the stack.
    fn zeroed() -> Self {
        zeroed_box()
    }

    #[inline]
    fn visit<const M: usize, const S: usize, F>(mut mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [L::Scalar]; M], [&[L::Scalar]; S]),
    {
        L::visit(mutable.each_mut().map(|m| &mut ***m), shared.map(|s| &**s), f)
    }
}

// The execution seam: `M`'s, through the pointer.

impl<L: Layer> Layer for Box<L>
where
    L::Scalar: 'static,
{
    #[inline(always)]
    fn forward_in<I: Isa>(&self, isa: I, input: &L::Input) -> L::Output {
        (**self).forward_in(isa, input)
    }

    #[inline(always)]
    fn forward_tape_in<I: Isa>(&self, isa: I, input: &L::Input) -> (L::Output, L::Tape) {
        (**self).forward_tape_in(isa, input)
    }

    #[inline(always)]
    fn backward_in<I: Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        isa: I,
        tape: &L::Tape,
        d_output: &L::Output,
        grads: &mut Self,
    ) -> L::Input {
        (**self).backward_in::<I, INPUT_GRADIENT, WRITE>(isa, tape, d_output, grads)
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

    const LAYER_COUNT: usize = L::LAYER_COUNT;

    fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
        L::describe(f)
    }

    type Rows = L::Rows;

    fn uses_gemm(rows: usize) -> bool {
        L::uses_gemm(rows)
    }

    #[inline(always)]
    fn forward_rows<'t, I: Isa>(&self, isa: I, input: &[L::Input], tape: &'t mut L::Rows) -> &'t [L::Output]
    where
        L::Scalar: 'static,
    {
        (**self).forward_rows(isa, input, tape)
    }

    fn freeze_rows(&self, tape: &mut L::Rows) {
        (**self).freeze_rows(tape)
    }

    fn output_rows(tape: &mut L::Rows) -> (&[L::Output], &mut [L::Output]) {
        L::output_rows(tape)
    }

    #[inline(always)]
    fn backward_rows<I: Isa, const WRITE: bool>(
        &self,
        isa: I,
        input: &[L::Input],
        tape: &mut L::Rows,
        grads: &mut Self,
        d_input: Option<&mut [L::Input]>,
    ) where
        L::Scalar: 'static,
    {
        (**self).backward_rows::<I, WRITE>(isa, input, tape, grads, d_input)
    }
}
