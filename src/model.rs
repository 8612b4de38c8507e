//! The three traits every layer and every chain of layers implements:
//! [`Forward`], [`Backward`] and [`Params`], and [`Model`], which is all three;
//! plus [`Architecture`], the description of a model's layers from its type
//! that weight files check against.
//!
//! A model is a value of a type such as
//! `(Dense<2, 16, Tanh>, Dense<16, 1, Sigmoid>)`. Its gradients have the same
//! type (a `Dense` of gradients has a `weights` field holding `∂L/∂W`), and so
//! does any per-parameter optimizer state (Adam's moment estimates), so an
//! optimizer is one loop over aligned flat slices obtained from
//! [`Params::visit`].

use num_traits::Float;
use rand::Rng;

/// The forward pass: input in, output out.
///
/// `Input` and `Output` are fixed-size arrays `[T; N]`, so a sample of the
/// wrong width is a compile error, not a run-time one.
pub trait Forward {
    /// What the layer takes: `[T; IN]`.
    type Input: Copy;
    /// What the layer returns: `[T; OUT]`.
    type Output: Copy;

    /// Computes the output for one sample.
    fn forward(&self, input: &Self::Input) -> Self::Output;

    /// [`forward`](Forward::forward) compiled for an instruction set that
    /// has already been chosen: a chain runs its layers through this inside
    /// one [`simd`](crate::simd) dispatch. Layers defined outside this crate
    /// keep the default, which calls `forward`.
    #[doc(hidden)]
    #[inline(always)]
    fn forward_with<I: crate::simd::Isa>(&self, isa: I, input: &Self::Input) -> Self::Output
    where
        Self: Sized,
    {
        let _ = isa;
        self.forward(input)
    }
}

/// The backward pass: the chain rule through the layer.
///
/// Backpropagation needs, for every layer, the values the forward pass saw
/// (its input and pre-activations). [`forward_tape`](Backward::forward_tape)
/// records them in a `Tape`, a plain struct of arrays on the stack;
/// [`backward`](Backward::backward) reads the tape and turns `∂L/∂output` into
/// `∂L/∂input`, adding `∂L/∂θ` for every parameter `θ` into `grads`.
///
/// Parameter gradients *accumulate* (`grads += ...`): a mini-batch gradient is
/// the sum of the per-sample backward passes, and [`Params::fill_zero`] resets
/// them between steps.
pub trait Backward: Forward + Params {
    /// What [`backward`](Backward::backward) needs from the forward pass.
    type Tape;

    /// Computes the output and records the tape for
    /// [`backward`](Backward::backward).
    fn forward_tape(&self, input: &Self::Input) -> (Self::Output, Self::Tape);

    /// Given `∂L/∂output` for the sample recorded in `tape`, adds the
    /// parameter gradients `∂L/∂θ` into `grads` and returns `∂L/∂input`.
    fn backward(&self, tape: &Self::Tape, d_output: &Self::Output, grads: &mut Self) -> Self::Input;

    /// As [`backward`](Backward::backward), but without `∂L/∂input`: what a
    /// training step calls on a whole network, whose first layer's input
    /// gradient nothing needs. `Dense` skips the product `Wᵀ δ` of its input
    /// gradient; a chain runs `backward` on every layer but the first, and
    /// `backward_params` on the first.
    fn backward_params(&self, tape: &Self::Tape, d_output: &Self::Output, grads: &mut Self) {
        let _ = self.backward(tape, d_output, grads);
    }

    /// [`forward_tape`](Backward::forward_tape) for a chosen instruction set
    /// (see [`Forward::forward_with`]).
    #[doc(hidden)]
    #[inline(always)]
    fn forward_tape_with<I: crate::simd::Isa>(
        &self,
        isa: I,
        input: &Self::Input,
    ) -> (Self::Output, Self::Tape) {
        let _ = isa;
        self.forward_tape(input)
    }

    /// [`backward`](Backward::backward) for a chosen instruction set; with
    /// `REPLACE`, the parameter gradients are written (`grads ← ∂L/∂θ`, the
    /// bits that zeroing `grads` and adding give) instead of added: the first
    /// sample of a batch, which then needs no zeroed `grads`.
    #[doc(hidden)]
    #[inline(always)]
    fn backward_with<I: crate::simd::Isa, const REPLACE: bool>(
        &self,
        isa: I,
        tape: &Self::Tape,
        d_output: &Self::Output,
        grads: &mut Self,
    ) -> Self::Input {
        let _ = isa;
        if REPLACE {
            grads.fill_zero();
        }
        self.backward(tape, d_output, grads)
    }

    /// [`backward_params`](Backward::backward_params) for a chosen
    /// instruction set, adding or (`REPLACE`) writing the gradients.
    #[doc(hidden)]
    #[inline(always)]
    fn backward_params_with<I: crate::simd::Isa, const REPLACE: bool>(
        &self,
        isa: I,
        tape: &Self::Tape,
        d_output: &Self::Output,
        grads: &mut Self,
    ) {
        let _ = isa;
        if REPLACE {
            grads.fill_zero();
        }
        self.backward_params(tape, d_output, grads)
    }
}

/// Access to a model's parameters as flat slices of scalars.
///
/// A `Dense` layer has two parameter tensors, its weights (visited row-major,
/// as PyTorch stores them) and its bias; a chain visits its layers in order.
pub trait Params: Sized {
    /// The scalar type of every parameter (`f32` or `f64`).
    type Scalar: Float;

    /// The number of scalar parameters.
    const PARAMS: usize;

    /// A model whose parameters are all zero: the starting point for
    /// accumulated gradients and optimizer state.
    fn zeroed() -> Self;

    /// A freshly initialised model: weights from each layer's default
    /// [`Init`](crate::init::Init) (by activation), biases zero. Layers draw
    /// from `rng` in order, so the same seed gives the same model.
    fn random<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Re-initialises the model in place, with the same draws as
    /// [`random`](Params::random) (what a boxed model uses, so that no copy
    /// of it is ever made on the stack).
    fn randomize<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        *self = Self::random(rng);
    }

    /// Whether memory whose bytes are all zero holds a valid value of this
    /// type, with every parameter zero: true for `Dense` layers over `f32`
    /// and `f64` and for tuples of such, which lets `Box<M>` be created
    /// zeroed on the heap instead of being built on the stack and moved.
    ///
    /// Sealed: only this crate can answer `true` (the argument's type cannot
    /// be named outside it), because unsafe code relies on the answer.
    #[doc(hidden)]
    fn zero_bytes_are_zeroed(_: seal::Seal) -> bool
    where
        Self::Scalar: 'static,
    {
        false
    }

    /// Walks the parameter tensors of several models of this type in
    /// lockstep: for each tensor, `f` receives that tensor of every model in
    /// `mutable` and of every model in `shared`, as flat slices of equal
    /// length.
    ///
    /// This is how optimizers work: `Params::visit([net, m, v], [grads], f)`
    /// hands `f` the weights, both Adam moments and the gradient of one
    /// tensor at a time.
    fn visit<const M: usize, const S: usize, F>(mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [Self::Scalar]; M], [&[Self::Scalar]; S]);

    /// Calls `f` with each parameter tensor as a flat slice.
    fn for_each_tensor(&self, mut f: impl FnMut(&[Self::Scalar])) {
        Self::visit([], [self], &mut |[], [p]| f(p));
    }

    /// Calls `f` with each parameter tensor as a flat mutable slice.
    fn for_each_tensor_mut(&mut self, mut f: impl FnMut(&mut [Self::Scalar])) {
        Self::visit([self], [], &mut |[p], []| f(p));
    }

    /// Sets every parameter to zero (to reset accumulated gradients).
    fn fill_zero(&mut self) {
        self.for_each_tensor_mut(|p| p.fill(<Self::Scalar as num_traits::Zero>::zero()));
    }

    /// Multiplies every parameter by `factor` (to turn a gradient summed over
    /// a batch into a mean).
    fn scale(&mut self, factor: Self::Scalar) {
        self.for_each_tensor_mut(|p| p.iter_mut().for_each(|x| *x = *x * factor));
    }

    /// The `k`-th scalar parameter in visiting order, or `None` if
    /// `k >= PARAMS`.
    fn param(&self, k: usize) -> Option<Self::Scalar> {
        let mut offset = 0;
        let mut found = None;
        self.for_each_tensor(|p| {
            if found.is_none() && k >= offset && k < offset + p.len() {
                found = Some(p[k - offset]);
            }
            offset += p.len();
        });
        found
    }

    /// Sets the `k`-th scalar parameter in visiting order to `value`; returns
    /// `false` (and changes nothing) if `k >= PARAMS`.
    fn set_param(&mut self, k: usize, value: Self::Scalar) -> bool {
        let mut offset = 0;
        let mut done = false;
        self.for_each_tensor_mut(|p| {
            if !done && k >= offset && k < offset + p.len() {
                p[k - offset] = value;
                done = true;
            }
            offset += p.len();
        });
        done
    }
}

/// A network: something with a forward pass, a backward pass and parameters.
///
/// Every `Dense` layer and every tuple of models is a `Model`; you never
/// implement this trait yourself.
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
/// let net: Net = Model::init(&mut rng);
/// let y: [f32; 1] = net.forward(&[0.0, 1.0]);
/// assert!(y[0] > 0.0 && y[0] < 1.0);
/// ```
pub trait Model: Backward {
    /// A freshly initialised model (see [`Params::random`]).
    fn init<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::random(rng)
    }

    /// The size of the model in bytes, `size_of::<Self>()`: its parameters
    /// (a `Box<M>` is a pointer; see [`Model::BYTES`] of `M`). Gradients have
    /// the model's type, so they take as much again.
    const BYTES: usize = core::mem::size_of::<Self>();

    /// The size in bytes of the tape [`forward_tape`](Backward::forward_tape)
    /// returns (on the stack), `size_of::<Self::Tape>()`: for each `Dense`
    /// layer its input, pre-activation and output.
    const TAPE_BYTES: usize = core::mem::size_of::<Self::Tape>();
}

impl<M: Backward> Model for M {}

/// The argument type of [`Params::zero_bytes_are_zeroed`], which only this
/// crate can name.
pub(crate) mod seal {
    /// A value only this crate can make.
    #[derive(Clone, Copy, Debug)]
    pub struct Seal(pub(crate) ());
}

/// A model's architecture, known from its type alone: its `Dense` layers in
/// forward order, each with its widths and activation.
///
/// Weight files use it to refuse weights written for a different network:
/// [`fingerprint`](Architecture::fingerprint) hashes the description, and the
/// safetensors names and shapes come from it. Every `Dense` layer and every
/// tuple of models implements it; nested tuples are flattened, so
/// `((A, B), C)` and `(A, B, C)` describe the same network.
///
/// # Contract
///
/// Layer `k` reported by [`for_each_layer`](Architecture::for_each_layer)
/// owns parameter tensors `2k` (its weights, `outputs × inputs`, row-major)
/// and `2k + 1` (its bias, `outputs`) in [`Params::visit`] order.
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<2, 16, Tanh>, Dense<16, 1, Sigmoid>);
/// let mut layers = Vec::new();
/// Net::for_each_layer(&mut |layer| layers.push(layer.to_string()));
/// assert_eq!(layers, ["Dense<2, 16, Tanh>", "Dense<16, 1, Sigmoid>"]);
/// assert_eq!(Net::LAYERS, 2);
/// // FNV-1a 64 of "Dense(2,16,Tanh);Dense(16,1,Sigmoid);"
/// assert_eq!(Net::fingerprint(), 0xfb6d_8d44_206e_df23);
/// ```
pub trait Architecture: Params {
    /// The number of `Dense` layers, counting inside nested tuples.
    const LAYERS: usize;

    /// Calls `f` with each `Dense` layer's description, in forward order.
    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F);

    /// A 64-bit fingerprint of the architecture: FNV-1a 64 over the canonical
    /// description, which is, for each layer in order,
    /// `Dense(<inputs>,<outputs>,<activation NAME>);` in ASCII with decimal
    /// widths and no spaces (`Dense(2,16,Tanh);Dense(16,1,Sigmoid);`).
    ///
    /// The scalar type is not part of it (weight files store it separately).
    /// Computed without allocation; two architectures that differ in any
    /// width, activation or the number of layers get different descriptions,
    /// so equal fingerprints mean equal architectures up to a 2⁻⁶⁴ chance.
    ///
    /// # Math
    ///
    /// FNV-1a 64: `h₀ = 0xcbf29ce484222325`, then for each byte `c`,
    /// `h ← (h ⊕ c) · 0x100000001b3 mod 2⁶⁴`.
    fn fingerprint() -> u64 {
        let mut hash = Fnv1a64::new();
        Self::for_each_layer(&mut |layer| {
            // Writing to `Fnv1a64` cannot fail.
            let _ = core::fmt::Write::write_fmt(
                &mut hash,
                format_args!("Dense({},{},{});", layer.inputs, layer.outputs, layer.activation),
            );
        });
        hash.finish()
    }
}

/// One `Dense` layer as [`Architecture`] describes it.
///
/// Its `Display` is the type's spelling, `Dense<2, 16, Tanh>` (with the
/// activation's [`NAME`](crate::activation::Activation::NAME)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// The input width `IN`.
    pub inputs: usize,
    /// The output width `OUT`.
    pub outputs: usize,
    /// The activation's [`NAME`](crate::activation::Activation::NAME), such as
    /// `"Tanh"`.
    pub activation: &'static str,
}

impl core::fmt::Display for LayerInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Dense<{}, {}, {}>", self.inputs, self.outputs, self.activation)
    }
}

/// The FNV-1a 64-bit hash, fed through `core::fmt::Write` so that formatted
/// text can be hashed without a buffer.
struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv1a64(Self::OFFSET_BASIS)
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl core::fmt::Write for Fnv1a64 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &byte in s.as_bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
        Ok(())
    }
}
