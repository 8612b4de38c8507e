//! Neural networks whose architecture is a type.
//!
//! ```
//! use backprop::prelude::*;
//!
//! // A 2-16-16-1 network: two tanh hidden layers, a sigmoid output.
//! type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
//! let mut net: Net = Model::init(&mut rng);
//! let mut grads = Net::zeroed();
//! let mut sgd = Sgd::new(0.1);
//!
//! let (x, target) = ([0.0_f32, 1.0], [1.0_f32]);
//! let (y, tape) = net.forward_tape(&x);           // y: [f32; 1]
//! let before = Mse.loss(&y, &target);
//! let dy = Mse.gradient(&y, &target);             // ∂L/∂y
//! net.backward(&tape, &dy, &mut grads);           // ∂L/∂θ, accumulated into grads
//! sgd.step(&mut net, &grads);                     // θ ← θ - η ∂L/∂θ
//! assert!(Mse.loss(&net.forward(&x), &target) < before);
//! ```
//!
//! The network above is a type. The compiler checks that every layer's input
//! width equals the previous layer's output width, that the input is a
//! `[f32; 2]` and the target a `[f32; 1]`; it then turns the forward and
//! backward passes into straight-line code over fixed-size arrays on the
//! stack. Nothing here allocates, so the same code trains a network on a
//! microcontroller without a heap.
//!
//! # The pieces
//!
//! * [`Dense<IN, OUT, A, T>`](Dense): a fully connected layer `a = f(W x + b)`
//!   with `W: [[T; IN]; OUT]` (PyTorch's layout) and activation `A`.
//! * [`activation`]: `Identity`, `ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`,
//!   `Softplus`, `Gelu` (tanh approximation), `GeluErf` (exact), `SiLU`, `Elu`,
//!   each with its derivative beside it.
//! * Tuples `(L0, L1, ..., Ln)` of up to 12 layers, nested as deep as you
//!   like, are layers too ([`chain`]). Widths that do not fit do not compile.
//! * The traits: [`Forward`] (`forward`), [`Backward`] (`forward_tape`,
//!   `backward`), [`Params`] (a visitor over parameter slices) and [`Model`]
//!   (all three, plus `init`). Gradients have the model's own type.
//! * [`loss`]: `Mse`, `Mae`, `Huber`, `BinaryCrossEntropy`, `BceWithLogits`,
//!   `SoftmaxCrossEntropy`, each with its value and gradient, mean-reduced as
//!   PyTorch does.
//! * [`optim`]: the optimizers; [`init`]: Glorot and He initialisation;
//!   [`gradcheck`]: finite-difference gradient checking.
//! * Two execution paths, one answer: the per-sample path above (no
//!   allocation, SIMD kernels in [`simd`] with a summation order that gives
//!   the same bits on every target) and, with `alloc`, the [`batch`]ed path,
//!   where a mini-batch is a matrix and each wide layer one matrix product;
//!   [`Train::fit`](train::Train::fit) picks per layer and batch size.
//! * Big models: `Box<M>` is a model too, created and initialised in place on
//!   the heap ([`boxed`]); `PARAMS`, [`Model::BYTES`] and
//!   [`Model::TAPE_BYTES`] give the sizes at compile time.
//! * Weights in and out, without an allocator: [`weights`], a compact
//!   checksummed format that refuses weights of another architecture
//!   ([`Architecture`] describes a model from its type), and [`safetensors`],
//!   PyTorch's format with `nn.Sequential` `state_dict` names.
//!
//! # Features
//!
//! * `std` (default): float maths from the standard library; implies `alloc`.
//! * `alloc`: the batched path ([`batch`]), boxed models ([`boxed`]), `fit`'s
//!   history (none of the per-sample path needs it).
//! * `libm`: float maths from the pure-Rust `libm` crate, for `no_std`
//!   targets: `default-features = false, features = ["libm"]`.
//!
//! One of `std` or `libm` must be on: without them there is no `exp`.

#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(not(any(feature = "std", feature = "libm")))]
compile_error!(
    "backprop needs floating-point maths (exp, tanh, ln): enable the `std` feature (the default), \
     or, on a no_std target, `default-features = false, features = [\"libm\"]`"
);

#[cfg(feature = "std")]
extern crate std;

pub mod activation;
#[cfg(feature = "alloc")]
pub mod batch;
#[cfg(feature = "alloc")]
pub mod boxed;
pub mod chain;
mod dense;
pub mod error;
pub mod gradcheck;
pub mod init;
pub mod loss;
pub mod math;
mod model;
pub mod optim;
pub mod safetensors;
pub mod simd;
pub mod train;
pub mod weights;

pub use dense::{Dense, DenseTape};
pub use error::Error;
pub use model::{Architecture, Backward, Forward, LayerInfo, Model, Params};
/// The scalar trait every layer is generic over (`f32`, `f64`), re-exported
/// from `num-traits` for writing your own activations and losses.
pub use num_traits::Float;

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Everything needed to define, initialise and train a network, plus the
/// portable random number generator the examples use.
pub mod prelude {
    pub use crate::activation::{
        Activation, Elu, Gelu, GeluErf, Identity, LeakyReLU, ReLU, SiLU, Sigmoid, Softplus, Tanh,
    };
    #[cfg(feature = "alloc")]
    pub use crate::batch::{Batched, Workspace};
    pub use crate::chain::Feeds;
    pub use crate::init::Init;
    pub use crate::loss::{
        softmax, BceWithLogits, BinaryCrossEntropy, Huber, Loss, Mae, Mse, SoftmaxCrossEntropy,
    };
    pub use crate::optim::{Adam, AdamW, Optimizer, RmsProp, Sgd, SgdMomentum};
    pub use crate::train::EpochReport;
    pub use crate::train::{Clip, EarlyStopping, Schedule, StopReason, Train};
    #[cfg(feature = "alloc")]
    pub use crate::train::{Control, FitOptions, History};
    pub use crate::{Architecture, Backward, Dense, Error, Float, Forward, Model, Params};
    pub use core::ops::ControlFlow;
    pub use rand::rngs::Xoshiro128PlusPlus;
    pub use rand::SeedableRng;
}
