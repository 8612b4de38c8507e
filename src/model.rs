//! A model: [`Model`], what every `Dense` layer, tuple of models and boxed
//! model is, and [`Architecture`], the description of a model's layers from
//! its type that weight files check against.
//!
//! A model is a value of a type such as
//! `(Dense<2, 16, Tanh>, Dense<16, 1, Sigmoid>)`: it has the passes
//! ([`Forward`](crate::Forward), [`Backward`]), the parameters ([`Params`])
//! and the crate's execution seam ([`Layer`](crate::layer::Layer)), and both
//! traits here hold for every such type.

use crate::layer::Layer;
use crate::params::Params;
use crate::passes::Backward;
use rand::Rng;

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
pub trait Model: Backward + Architecture + Layer {
    /// A freshly initialised model: weights from each layer's default
    /// [`Init`](crate::init::Init) (Glorot for sigmoid, tanh and identity,
    /// He for the ReLU family), biases zero. Layers draw from `rng` in order,
    /// so the same seed gives the same model on every platform. A `Box<M>`
    /// is made in place on the heap, never on the stack.
    ///
    /// This is the way to make a model; [`Params::zeroed`] makes the all-zero
    /// value that gradients start from, [`Dense::new`](crate::Dense::new)
    /// takes given weights, and [`Dense::random_with`](crate::Dense::random_with)
    /// draws them from another [`Init`](crate::init::Init).
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

impl<M: Layer> Model for M {}

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
        fingerprint_of("Dense", |f| Self::for_each_layer(&mut |layer| f(layer)))
    }
}

impl<M: Layer> Architecture for M {
    const LAYERS: usize = M::LAYER_COUNT;

    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
        M::describe(f)
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

/// FNV-1a 64 of `<kind>(<inputs>,<outputs>,<activation>);` for each layer
/// that `for_each_layer` reports.
pub(crate) fn fingerprint_of(kind: &str, for_each_layer: impl FnOnce(&mut dyn FnMut(LayerInfo))) -> u64 {
    let mut hash = Fnv1a64::new();
    for_each_layer(&mut |layer| {
        // The bytes of `{kind}({inputs},{outputs},{activation});`, written
        // without `core::fmt` (which would cost a microcontroller about
        // 1.5 KB of flash for this alone).
        hash.write(kind.as_bytes());
        hash.write(b"(");
        hash.decimal(layer.inputs);
        hash.write(b",");
        hash.decimal(layer.outputs);
        hash.write(b",");
        hash.write(layer.activation.as_bytes());
        hash.write(b");");
    });
    hash.finish()
}

/// The FNV-1a 64-bit hash.
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

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
        }
    }

    /// `n` in decimal ASCII, without leading zeros.
    fn decimal(&mut self, n: usize) {
        // usize::MAX has 20 digits; they are produced last to first.
        let mut digits = [0u8; 20];
        let mut len = 0;
        let mut rest = n;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
            len += 1;
            if rest == 0 {
                break;
            }
        }
        self.write(digits.get(digits.len() - len..).unwrap_or(&[]));
    }
}
