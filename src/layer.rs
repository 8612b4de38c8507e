//! The execution seam: how a layer runs.
//!
//! A layer is a description: its parameters and its mathematics
//! ([`Dense`](crate::Dense), the layers of [`conv`](crate::conv)). How it runs is one trait, [`Layer`], which
//! holds every way a layer can be executed:
//!
//! * **per sample**, compiled for an instruction set chosen once for the
//!   whole model ([`Isa`]: the portable code, or AVX2 on x86 CPUs that have
//!   it): the forward pass, the forward pass with a tape, and the backward
//!   pass, which writes or adds the parameter gradients and computes the
//!   input gradient only when something needs it;
//! * **rows of a batch** (`alloc`), each layer through a matrix product where
//!   that pays ([`gemm_pays`](crate::batch::gemm_pays)), row by row otherwise;
//! * **made** (random initialisation, zeroed on the heap) and **described**
//!   (its widths and activation, for weight files).
//!
//! It is implemented once for `Dense`, once for each layer of
//! [`conv`](crate::conv), once for tuples (one macro, in
//! `chain.rs`) and once for `Box`. Everything else is built on it: the public
//! traits [`Forward`] and [`Backward`] are thin entry points into
//! [`exec`](crate::exec), which dispatches once and then runs the model's
//! `Layer` methods; [`Model`](crate::Model) and
//! [`Architecture`](crate::Architecture) hold for every `Layer`; training and
//! the batched path call it through the same entry points. A new layer kind
//! implements `Layer` (and the thin `Forward`, `Backward` and `Params`) and
//! gets all of that.
//!
//! The trait is sealed: it is public inside a private module, so the crate's
//! signatures can name it and nothing outside can implement it.
//!
//! # Writing or adding gradients
//!
//! Parameter gradients are either written, `grads ← ∂L/∂θ` (`WRITE = true`:
//! the first sample of a batch, or a whole batch at once), or added,
//! `grads ← grads + ∂L/∂θ` (`WRITE = false`). Writing computes `0 + g`, the
//! bits that zeroing `grads` and adding give, without reading `grads`. The
//! same `WRITE` parameter serves both the per-sample and the batched
//! methods.

use crate::params::Params;
use crate::passes::Backward;
use crate::simd::Isa;
use rand::Rng;

/// How a layer runs: the execution seam (see the [module documentation](self)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model: a model is a layer (`Dense`, `Conv2d`, `MaxPool2d`, ...), a `Box` of a model, or a tuple of 1 to 12 models whose shapes fit",
    label = "not a model",
    note = "a chain of more than 12 layers nests tuples: `((L0, ..., L11), L12, ...)` is a model when its parts are"
)]
pub trait Layer: Backward + Params {
    // ---- per sample ------------------------------------------------------

    /// [`Forward::forward`](crate::Forward::forward) with the instruction
    /// set `isa`.
    fn forward_in<I: Isa>(&self, isa: I, input: &Self::Input) -> Self::Output;

    /// [`Backward::forward_tape`] with the instruction set `isa`.
    fn forward_tape_in<I: Isa>(&self, isa: I, input: &Self::Input) -> (Self::Output, Self::Tape);

    /// The backward pass of one sample with the instruction set `isa`:
    /// writes (`WRITE`) or adds the parameter gradients into `grads`, and
    /// returns `∂L/∂input` if `INPUT_GRADIENT` (zeros otherwise, which the
    /// caller drops).
    fn backward_in<I: Isa, const INPUT_GRADIENT: bool, const WRITE: bool>(
        &self,
        isa: I,
        tape: &Self::Tape,
        d_output: &Self::Output,
        grads: &mut Self,
    ) -> Self::Input;

    /// [`forward_tape_in`](Layer::forward_tape_in) writing the output and
    /// the tape into `output` and `tape` (the rows of a batch, kept from one
    /// batch to the next). A layer that can write them in place overrides
    /// it (the pools and reshapes); the default moves the returned values.
    #[inline(always)]
    fn forward_tape_into<I: Isa>(
        &self,
        isa: I,
        input: &Self::Input,
        output: &mut Self::Output,
        tape: &mut Self::Tape,
    ) {
        (*output, *tape) = self.forward_tape_in(isa, input);
    }

    /// [`backward_in`](Layer::backward_in) with the input gradient, written
    /// into `d_input` (see [`forward_tape_into`](Layer::forward_tape_into)).
    #[inline(always)]
    fn backward_into<I: Isa, const WRITE: bool>(
        &self,
        isa: I,
        tape: &Self::Tape,
        d_output: &Self::Output,
        grads: &mut Self,
        d_input: &mut Self::Input,
    ) {
        *d_input = self.backward_in::<I, true, WRITE>(isa, tape, d_output, grads);
    }

    // ---- made and described ----------------------------------------------

    /// A freshly initialised model: weights from each layer's default
    /// [`Init`](crate::init::Init) (by activation), biases zero. Layers draw
    /// from `rng` in order, so the same seed gives the same model.
    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Re-initialises the model in place with the draws of
    /// [`random`](Layer::random) (a boxed model is made this way, so that no
    /// copy of it is ever on the stack).
    fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R);

    /// Whether memory whose bytes are all zero holds a valid value of this
    /// type with every parameter zero: true for `Dense` and convolution
    /// layers over `f32`, for layers without parameters
    /// and `f64` and for tuples of such, which lets `Box<M>` be made zeroed
    /// on the heap. Unsafe code relies on the answer; the trait is sealed.
    fn zero_bytes_are_zeroed() -> bool
    where
        Self::Scalar: 'static,
    {
        false
    }

    /// The number of layers (of every kind), counting inside nested tuples.
    const LAYER_COUNT: usize;

    /// Calls `f` with each layer's description, in forward order.
    fn describe<F: FnMut(crate::LayerInfo)>(f: &mut F);

    // ---- rows of a batch (`alloc`) ---------------------------------------
    // (`'static` scalars: the product picks `sgemm` or `dgemm` by `TypeId`.)

    /// The matrices of a batch's forward pass and the buffers of its
    /// backward pass, one row per sample.
    #[cfg(feature = "alloc")]
    type Rows: Default;

    /// Whether any layer uses a matrix product for a batch of `rows` rows.
    #[cfg(feature = "alloc")]
    fn uses_gemm(rows: usize) -> bool;

    /// The forward pass of every row of `input`, recorded in `tape`; returns
    /// the outputs, one row per input row.
    #[cfg(feature = "alloc")]
    fn forward_rows<'t, I: Isa>(
        &self,
        isa: I,
        input: &[Self::Input],
        tape: &'t mut Self::Rows,
    ) -> &'t [Self::Output]
    where
        Self::Scalar: 'static;

    /// Prepares `tape` for [`forward_rows`](Layer::forward_rows) with these
    /// parameters and no others, as a [`Frozen`](crate::batch::Frozen)
    /// model's tape: a [`Dense`](crate::Dense) layer keeps a transposed copy
    /// of its weights there, the layout its product reads fastest. The
    /// default does nothing. A tape prepared so must never see another
    /// model's parameters, nor these after they change: only `Frozen`, which
    /// owns its model, calls this.
    #[cfg(feature = "alloc")]
    fn freeze_rows(&self, tape: &mut Self::Rows) {
        let _ = tape;
    }

    /// The outputs of the last [`forward_rows`](Layer::forward_rows) and,
    /// beside them, the buffer where the caller writes `∂L/∂output` before
    /// [`backward_rows`](Layer::backward_rows).
    #[cfg(feature = "alloc")]
    fn output_rows(tape: &mut Self::Rows) -> (&[Self::Output], &mut [Self::Output]);

    /// The backward pass of the batch recorded in `tape` (for the same
    /// `input`), given `∂L/∂output` in the buffer of
    /// [`output_rows`](Layer::output_rows): writes (`WRITE`) or adds the
    /// parameter gradients summed over the rows into `grads`, and
    /// `∂L/∂input` into `d_input` if one is given. The tape's gradient
    /// buffers are overwritten.
    #[cfg(feature = "alloc")]
    fn backward_rows<I: Isa, const WRITE: bool>(
        &self,
        isa: I,
        input: &[Self::Input],
        tape: &mut Self::Rows,
        grads: &mut Self,
        d_input: Option<&mut [Self::Input]>,
    ) where
        Self::Scalar: 'static;
}

/// [`Layer::zero_bytes_are_zeroed`] for a layer of `T` parameters and a
/// zero-sized activation `A` (`Dense` and the convolutions): all-zero bytes
/// are zero parameters when `T` is `f32` or `f64`.
pub(crate) fn zero_bytes_are_zeroed<T: 'static, A: crate::activation::Activation>() -> bool {
    use core::any::TypeId;
    let float = TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    // A zero-sized activation has no bytes; making one proves that the
    // type has a value at all.
    let _ = A::default();
    float && core::mem::size_of::<A>() == 0
}
