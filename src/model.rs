//! A model: [`Model`], what every layer, tuple of models and boxed
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
/// Every layer (`Dense`, the layers of [`conv`](crate::conv)) and every
/// tuple of models is a `Model`; you never
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
    /// or convolution layer its input, pre-activation and output, for a max
    /// pool the position of each window's maximum.
    const TAPE_BYTES: usize = core::mem::size_of::<Self::Tape>();
}

impl<M: Layer> Model for M {}

/// A model's architecture, known from its type alone: its layers in forward
/// order (`Dense`, convolutions, pools and reshapes), each with its sizes
/// and activation.
///
/// Weight files use it to refuse weights written for a different network:
/// [`fingerprint`](Architecture::fingerprint) hashes the description, and the
/// safetensors names and shapes come from it. Every layer and every tuple of
/// models implements it; nested tuples are flattened, so `((A, B), C)` and
/// `(A, B, C)` describe the same network.
///
/// # Contract
///
/// Each layer reported by [`for_each_layer`](Architecture::for_each_layer)
/// that [has parameters](LayerInfo::has_params) owns two parameter tensors
/// in [`Params::visit`] order: its weights
/// ([`weight_shape`](LayerInfo::weight_shape), flattened row-major), then
/// its bias ([`biases`](LayerInfo::biases) long). The `j`-th such layer owns
/// tensors `2j` and `2j + 1`; layers without parameters own none.
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
///
/// type Cnn = (
///     Unflatten2d<64, 1, 8, 8>,
///     Conv2d<1, 4, 3, 1, 1, 8, 8, 8, 8, ReLU>,
///     MaxPool2d<4, 2, 8, 8, 4, 4>,
///     Flatten2d<4, 4, 4, 64>,
///     Dense<64, 10, Identity>,
/// );
/// let mut layers = Vec::new();
/// Cnn::for_each_layer(&mut |layer| layers.push((layer.to_string(), layer.has_params())));
/// assert_eq!(layers[1], ("Conv2d<1, 4, 3, 1, 1, 8, 8, 8, 8, ReLU>".to_string(), true));
/// assert_eq!(layers[2], ("MaxPool2d<4, 2, 8, 8, 4, 4>".to_string(), false));
/// assert_eq!(Cnn::LAYERS, 5);
/// ```
pub trait Architecture: Params {
    /// The number of layers of every kind (pools and reshapes too), counting
    /// inside nested tuples.
    const LAYERS: usize;

    /// Calls `f` with each layer's description, in forward order: every
    /// layer, with parameters or without.
    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F);

    /// A 64-bit fingerprint of the architecture: FNV-1a 64 over the canonical
    /// description, which is, for each layer in order, its kind's name, the
    /// sizes its type spells except the output sizes, and for a `Dense` or a
    /// convolution its activation's [`NAME`](crate::activation::Activation::NAME),
    /// in ASCII with decimal sizes, separated by commas, no spaces:
    ///
    /// | layer | description |
    /// |---|---|
    /// | `Dense<2, 16, Tanh>` | `Dense(2,16,Tanh);` |
    /// | `Conv1d<CI, CO, K, S, P, L, LO, A>` | `Conv1d(CI,CO,K,S,P,L,A);` |
    /// | `Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>` | `Conv2d(1,8,3,1,1,28,28,ReLU);` |
    /// | `MaxPool1d<C, K, L, LO>`, `AvgPool1d<..>` | `MaxPool1d(C,K,L);`, `AvgPool1d(C,K,L);` |
    /// | `MaxPool2d<8, 2, 28, 28, 14, 14>`, `AvgPool2d<..>` | `MaxPool2d(8,2,28,28);`, `AvgPool2d(..);` |
    /// | `GlobalAvgPool1d<C, L>`, `GlobalAvgPool2d<C, H, W>` | `GlobalAvgPool1d(C,L);`, `GlobalAvgPool2d(C,H,W);` |
    /// | `Flatten1d<C, L, N>`, `Flatten2d<16, 7, 7, 784>` | `Flatten1d(C,L);`, `Flatten2d(16,7,7);` |
    /// | `Unflatten1d<N, C, L>`, `Unflatten2d<784, 1, 28, 28>` | `Unflatten1d(C,L);`, `Unflatten2d(1,28,28);` |
    ///
    /// A net of `Dense` layers alone is `Dense(2,16,Tanh);Dense(16,1,Sigmoid);`.
    /// The scalar type is not part of it (weight files store it separately).
    /// Computed without allocation; two architectures that differ in any
    /// size, stride, padding, kind of layer, activation or the number of
    /// layers get different descriptions, so equal fingerprints mean equal
    /// architectures up to a 2⁻⁶⁴ chance.
    ///
    /// # Math
    ///
    /// FNV-1a 64: `h₀ = 0xcbf29ce484222325`, then for each byte `c`,
    /// `h ← (h ⊕ c) · 0x100000001b3 mod 2⁶⁴`.
    fn fingerprint() -> u64 {
        fingerprint_of("", |f| Self::for_each_layer(&mut |layer| f(layer)))
    }
}

impl<M: Layer> Architecture for M {
    const LAYERS: usize = M::LAYER_COUNT;

    fn for_each_layer<F: FnMut(LayerInfo)>(f: &mut F) {
        M::describe(f)
    }
}

/// One layer as [`Architecture`] describes it: its kind (with the sizes its
/// type names), its flattened input and output lengths, and its activation.
///
/// Its `Display` is the type's spelling without the scalar, with the
/// activation's [`NAME`](crate::activation::Activation::NAME):
/// `Dense<2, 16, Tanh>`, `Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>`,
/// `MaxPool2d<8, 2, 28, 28, 14, 14>`.
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (
///     Unflatten2d<784, 1, 28, 28>,
///     Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>,
///     MaxPool2d<8, 2, 28, 28, 14, 14>,
///     Flatten2d<8, 14, 14, 1568>,
///     Dense<1568, 10, Identity>,
/// );
/// let mut layers = Vec::new();
/// Net::for_each_layer(&mut |layer| layers.push(layer.to_string()));
/// assert_eq!(
///     layers,
///     [
///         "Unflatten2d<784, 1, 28, 28>",
///         "Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>",
///         "MaxPool2d<8, 2, 28, 28, 14, 14>",
///         "Flatten2d<8, 14, 14, 1568>",
///         "Dense<1568, 10, Identity>",
///     ]
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// What kind of layer, with the sizes of its type.
    pub kind: LayerKind,
    /// The number of inputs (for a tensor input, channels × length, or
    /// channels × height × width).
    pub inputs: usize,
    /// The number of outputs, counted the same way.
    pub outputs: usize,
    /// The activation's [`NAME`](crate::activation::Activation::NAME), such as
    /// `"Tanh"`; `"Identity"` for layers without one (pools and reshapes).
    pub activation: &'static str,
}

/// The kinds of layer, each with the sizes its type names (for a
/// convolution, PyTorch's constructor arguments and the input's size).
///
/// Every size a layer's type spells is here, except the output sizes, which
/// follow from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// [`Dense`](crate::Dense): `inputs` to `outputs`, fully connected.
    Dense,
    /// [`Conv1d`](crate::conv::Conv1d) over a `length`-long input.
    Conv1d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel length.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
        /// Input length.
        length: usize,
    },
    /// [`Conv2d`](crate::conv::Conv2d) over a `height × width` input, with a
    /// square kernel.
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Stride, in both directions.
        stride: usize,
        /// Zero padding on each side, in both directions.
        padding: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
    },
    /// [`MaxPool1d`](crate::conv::MaxPool1d): the maximum of each `kernel`
    /// consecutive values (stride `kernel`).
    MaxPool1d {
        /// Channels.
        channels: usize,
        /// Window length (and stride).
        kernel: usize,
        /// Input length.
        length: usize,
    },
    /// [`AvgPool1d`](crate::conv::AvgPool1d): the mean of each `kernel`
    /// consecutive values (stride `kernel`).
    AvgPool1d {
        /// Channels.
        channels: usize,
        /// Window length (and stride).
        kernel: usize,
        /// Input length.
        length: usize,
    },
    /// [`MaxPool2d`](crate::conv::MaxPool2d): the maximum of each
    /// `kernel × kernel` window (stride `kernel`).
    MaxPool2d {
        /// Channels.
        channels: usize,
        /// Window height and width (and stride).
        kernel: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
    },
    /// [`AvgPool2d`](crate::conv::AvgPool2d): the mean of each
    /// `kernel × kernel` window (stride `kernel`).
    AvgPool2d {
        /// Channels.
        channels: usize,
        /// Window height and width (and stride).
        kernel: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
    },
    /// [`GlobalAvgPool1d`](crate::conv::GlobalAvgPool1d): each channel's mean.
    GlobalAvgPool1d {
        /// Channels.
        channels: usize,
        /// Input length.
        length: usize,
    },
    /// [`GlobalAvgPool2d`](crate::conv::GlobalAvgPool2d): each channel's mean.
    GlobalAvgPool2d {
        /// Channels.
        channels: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
    },
    /// [`Flatten1d`](crate::conv::Flatten1d): `channels × length` to a vector.
    Flatten1d {
        /// Channels.
        channels: usize,
        /// Length.
        length: usize,
    },
    /// [`Flatten2d`](crate::conv::Flatten2d): `channels × height × width` to
    /// a vector.
    Flatten2d {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
    /// [`Unflatten1d`](crate::conv::Unflatten1d): a vector to
    /// `channels × length`.
    Unflatten1d {
        /// Channels.
        channels: usize,
        /// Length.
        length: usize,
    },
    /// [`Unflatten2d`](crate::conv::Unflatten2d): a vector to
    /// `channels × height × width`.
    Unflatten2d {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
}

impl LayerKind {
    /// The kind's type name: `"Dense"`, `"Conv2d"`, `"MaxPool2d"`, ...
    pub const fn name(&self) -> &'static str {
        match self {
            LayerKind::Dense => "Dense",
            LayerKind::Conv1d { .. } => "Conv1d",
            LayerKind::Conv2d { .. } => "Conv2d",
            LayerKind::MaxPool1d { .. } => "MaxPool1d",
            LayerKind::AvgPool1d { .. } => "AvgPool1d",
            LayerKind::MaxPool2d { .. } => "MaxPool2d",
            LayerKind::AvgPool2d { .. } => "AvgPool2d",
            LayerKind::GlobalAvgPool1d { .. } => "GlobalAvgPool1d",
            LayerKind::GlobalAvgPool2d { .. } => "GlobalAvgPool2d",
            LayerKind::Flatten1d { .. } => "Flatten1d",
            LayerKind::Flatten2d { .. } => "Flatten2d",
            LayerKind::Unflatten1d { .. } => "Unflatten1d",
            LayerKind::Unflatten2d { .. } => "Unflatten2d",
        }
    }
}

impl LayerInfo {
    /// A `Dense` layer's description.
    pub(crate) const fn dense(inputs: usize, outputs: usize, activation: &'static str) -> Self {
        LayerInfo { kind: LayerKind::Dense, inputs, outputs, activation }
    }

    /// The sizes the fingerprint and `Display` spell, in the type's order
    /// (a `Dense`: inputs, outputs; a convolution: its constructor's
    /// arguments, then the input size, without the output sizes), and how
    /// many there are.
    fn sizes(&self) -> ([usize; 7], usize) {
        match self.kind {
            LayerKind::Dense => ([self.inputs, self.outputs, 0, 0, 0, 0, 0], 2),
            LayerKind::Conv1d { in_channels, out_channels, kernel, stride, padding, length } => {
                ([in_channels, out_channels, kernel, stride, padding, length, 0], 6)
            }
            LayerKind::Conv2d { in_channels, out_channels, kernel, stride, padding, height, width } => {
                ([in_channels, out_channels, kernel, stride, padding, height, width], 7)
            }
            LayerKind::MaxPool1d { channels, kernel, length }
            | LayerKind::AvgPool1d { channels, kernel, length } => {
                ([channels, kernel, length, 0, 0, 0, 0], 3)
            }
            LayerKind::MaxPool2d { channels, kernel, height, width }
            | LayerKind::AvgPool2d { channels, kernel, height, width } => {
                ([channels, kernel, height, width, 0, 0, 0], 4)
            }
            LayerKind::GlobalAvgPool1d { channels, length }
            | LayerKind::Flatten1d { channels, length }
            | LayerKind::Unflatten1d { channels, length } => ([channels, length, 0, 0, 0, 0, 0], 2),
            LayerKind::GlobalAvgPool2d { channels, height, width }
            | LayerKind::Flatten2d { channels, height, width }
            | LayerKind::Unflatten2d { channels, height, width } => {
                ([channels, height, width, 0, 0, 0, 0], 3)
            }
        }
    }

    /// The const parameters of the layer's type before its activation and
    /// scalar, in the type's order, output sizes included
    /// (`Conv2d<CI, CO, K, S, P, H, W, HO, WO, ..>`, `Unflatten2d<N, C, H, W>`).
    fn type_sizes(&self) -> ([usize; 9], usize) {
        use crate::conv::out_len;
        let (inputs, outputs) = (self.inputs, self.outputs);
        match self.kind {
            LayerKind::Dense => ([inputs, outputs, 0, 0, 0, 0, 0, 0, 0], 2),
            LayerKind::Conv1d { in_channels, out_channels, kernel, stride, padding, length } => {
                let out = out_len(length, kernel, stride, padding);
                ([in_channels, out_channels, kernel, stride, padding, length, out, 0, 0], 7)
            }
            LayerKind::Conv2d { in_channels, out_channels, kernel, stride, padding, height, width } => {
                let (rows, columns) =
                    (out_len(height, kernel, stride, padding), out_len(width, kernel, stride, padding));
                ([in_channels, out_channels, kernel, stride, padding, height, width, rows, columns], 9)
            }
            LayerKind::MaxPool1d { channels, kernel, length }
            | LayerKind::AvgPool1d { channels, kernel, length } => {
                ([channels, kernel, length, length / kernel.max(1), 0, 0, 0, 0, 0], 4)
            }
            LayerKind::MaxPool2d { channels, kernel, height, width }
            | LayerKind::AvgPool2d { channels, kernel, height, width } => {
                let k = kernel.max(1);
                ([channels, kernel, height, width, height / k, width / k, 0, 0, 0], 6)
            }
            LayerKind::GlobalAvgPool1d { channels, length } => ([channels, length, 0, 0, 0, 0, 0, 0, 0], 2),
            LayerKind::GlobalAvgPool2d { channels, height, width } => {
                ([channels, height, width, 0, 0, 0, 0, 0, 0], 3)
            }
            LayerKind::Flatten1d { channels, length } => ([channels, length, outputs, 0, 0, 0, 0, 0, 0], 3),
            LayerKind::Flatten2d { channels, height, width } => {
                ([channels, height, width, outputs, 0, 0, 0, 0, 0], 4)
            }
            LayerKind::Unflatten1d { channels, length } => ([inputs, channels, length, 0, 0, 0, 0, 0, 0], 3),
            LayerKind::Unflatten2d { channels, height, width } => {
                ([inputs, channels, height, width, 0, 0, 0, 0, 0], 4)
            }
        }
    }

    /// Whether the layer has an activation in its type (`Dense` and the
    /// convolutions).
    fn has_activation(&self) -> bool {
        matches!(self.kind, LayerKind::Dense | LayerKind::Conv1d { .. } | LayerKind::Conv2d { .. })
    }

    /// The shape of the layer's weight tensor, PyTorch's: `[outputs, inputs]`
    /// for `Dense`, `[out, in, kernel]` for `Conv1d`, `[out, in, kernel,
    /// kernel]` for `Conv2d`; empty for a layer without parameters.
    pub fn weight_shape(&self) -> ([usize; 4], usize) {
        match self.kind {
            LayerKind::Dense => ([self.outputs, self.inputs, 0, 0], 2),
            LayerKind::Conv1d { in_channels, out_channels, kernel, .. } => {
                ([out_channels, in_channels, kernel, 0], 3)
            }
            LayerKind::Conv2d { in_channels, out_channels, kernel, .. } => {
                ([out_channels, in_channels, kernel, kernel], 4)
            }
            _ => ([0; 4], 0),
        }
    }

    /// The number of weights, the product of [`weight_shape`](Self::weight_shape)
    /// (0 for a layer without parameters).
    pub fn weights(&self) -> usize {
        let (dims, rank) = self.weight_shape();
        if rank == 0 {
            0
        } else {
            dims[..rank].iter().product()
        }
    }

    /// The number of biases (one per output channel; 0 for a layer without
    /// parameters).
    pub fn biases(&self) -> usize {
        match self.kind {
            LayerKind::Dense => self.outputs,
            LayerKind::Conv1d { out_channels, .. } | LayerKind::Conv2d { out_channels, .. } => out_channels,
            _ => 0,
        }
    }

    /// Whether the layer has parameters (a weight and a bias tensor).
    pub fn has_params(&self) -> bool {
        self.biases() > 0
    }
}

impl core::fmt::Display for LayerInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.kind.name())?;
        f.write_str("<")?;
        let (sizes, count) = self.type_sizes();
        for (k, size) in sizes[..count].iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{size}")?;
        }
        if self.has_activation() {
            write!(f, ", {}", self.activation)?;
        }
        f.write_str(">")
    }
}

/// FNV-1a 64 of `<prefix><kind>(<sizes>,<activation>);` for each layer that
/// `for_each_layer` reports (`Dense(2,16,Tanh);`, `MaxPool2d(8,2,28,28);`).
pub(crate) fn fingerprint_of(prefix: &str, for_each_layer: impl FnOnce(&mut dyn FnMut(LayerInfo))) -> u64 {
    let mut hash = Fnv1a64::new();
    for_each_layer(&mut |layer| {
        // The bytes of `{prefix}{kind}({sizes},{activation});`, written
        // without `core::fmt` (which would cost a microcontroller about
        // 1.5 KB of flash for this alone).
        hash.write(prefix.as_bytes());
        hash.write(layer.kind.name().as_bytes());
        hash.write(b"(");
        let (sizes, count) = layer.sizes();
        for (k, &size) in sizes[..count].iter().enumerate() {
            if k > 0 {
                hash.write(b",");
            }
            hash.decimal(size);
        }
        if layer.has_activation() {
            hash.write(b",");
            hash.write(layer.activation.as_bytes());
        }
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
