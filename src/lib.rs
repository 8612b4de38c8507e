//! Neural networks whose architecture is a type.
//!
//! # The idea
//!
//! A network is written as a type: a tuple of layers, such as
//! [`Dense<IN, OUT, Activation>`](Dense) or the convolutions and pools of
//! [`conv`]. The compiler checks that every layer's input shape equals the
//! previous layer's output shape, that inputs
//! and targets have the right widths, and then turns the forward and backward
//! passes into straight-line code over fixed-size arrays. There are no shape
//! checks at run time, because there are no shapes at run time, and the
//! per-sample path never touches the heap.
//!
//! ```
//! use backprop::prelude::*;
//!
//! // A 2-16-16-1 network: two tanh hidden layers, a sigmoid output.
//! type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
//! let mut net: Net = Model::init(&mut rng); // on the stack: 337 f32, 1348 bytes
//! let mut grads = Net::zeroed(); //            gradients have the model's own type
//! let mut sgd = Sgd::new(0.1);
//!
//! let (x, target) = ([0.0_f32, 1.0], [1.0_f32]);
//! let (y, tape) = net.forward_tape(&x); //     y: [f32; 1]; the tape is a struct of arrays
//! let before = Mse.loss(&y, &target);
//! let dy = Mse.gradient(&y, &target); //       ∂L/∂y
//! net.backward(&tape, &dy, &mut grads); //     ∂L/∂θ for every parameter, accumulated
//! sgd.step(&mut net, &grads); //               θ ← θ - η ∂L/∂θ
//! assert!(Mse.loss(&net.forward(&x), &target) < before);
//! ```
//!
//! A chain whose widths disagree is not a model, and the compiler says which
//! widths disagree:
//!
//! ```compile_fail
//! use backprop::prelude::*;
//! type Broken = (Dense<2, 3, Tanh>, Dense<4, 1, Sigmoid>);
//! // error[E0277]: layer shapes do not match: a layer outputs `[f32; 3]` but the next layer takes `[f32; 4]`
//! let net: Broken = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
//! ```
//!
//! # Where a model lives
//!
//! A model is a plain value, so it lives wherever values live.
//!
//! **On the stack**, as above: small nets, per-sample training in a loop, no
//! allocator needed.
//!
//! **In a `static`**, with its weights in flash on a microcontroller. All
//! fields of [`Dense`] are public and the activations are unit structs, so a
//! model can be written as a constant (here a hand-made XOR net):
//!
//! ```
//! use backprop::prelude::*;
//!
//! static XOR: (Dense<2, 2, Tanh>, Dense<2, 1, Sigmoid>) = (
//!     Dense { weights: [[4.0, 4.0], [-4.0, -4.0]], bias: [-2.0, 6.0], activation: Tanh },
//!     Dense { weights: [[5.0, 5.0]], bias: [-5.0], activation: Sigmoid },
//! );
//!
//! for (x, want) in [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)] {
//!     assert_eq!(XOR.forward(&x)[0].round(), want);
//! }
//! ```
//!
//! Trained weights are usually baked in as bytes instead, with
//! `include_bytes!`, and checked as they are loaded: see [`weights`].
//!
//! **In a `Box`** (`alloc` feature), for models too big for a stack: `Box<M>`
//! is a model too, and its constructors build it in place on the heap, never
//! on the stack (see [`boxed`]):
//!
//! ```
//! use backprop::prelude::*;
//!
//! type Big = (Dense<784, 512, ReLU>, Dense<512, 256, ReLU>, Dense<256, 10, Identity>);
//! let mut net: Box<Big> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
//! assert_eq!(Big::PARAMS, 535_818); // 2.1 MB of f32
//! let class = net.classify(&[0.5; 784])?;
//! assert!(class < 10);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! # Training
//!
//! [`Train::fit`] trains on slices of typed samples with
//! shuffled mini-batches, any optimizer of [`optim`] (exactly PyTorch's update
//! rules), an optional learning-rate schedule, validation with early stopping
//! and an epoch callback, and returns the history. Every bad value (a class
//! index past the last class, a NaN input, a learning rate of zero) is an
//! [`Error`] naming the sample or parameter, never a panic.
//!
//! ```
//! use backprop::prelude::*;
//!
//! type Net = (Dense<2, 8, Tanh>, Dense<8, 2, Identity>);
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let labels = [0, 1, 1, 0];
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
//! let mut net: Net = Model::init(&mut rng);
//! let options = FitOptions { epochs: 300, batch_size: 4, ..Default::default() };
//! let history = net.fit(&inputs, &labels, &SoftmaxCrossEntropy, &mut Adam::new(0.05), options, &mut rng)?;
//! assert!(history.epochs.last().unwrap().train_loss < 0.1);
//! assert_eq!(net.accuracy(&inputs, &labels)?, 1.0);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! Without an allocator, [`Train::train_step`] and
//! [`Train::train_epoch`] do the same work on
//! batches you hand them.
//!
//! # Random numbers
//!
//! Initialisation ([`Model::init`]), `fit`'s shuffling and
//! [`train::shuffle_together`] take any generator of the `rand` crate,
//! version 0.10 (`R: rand::Rng`). The crate re-exports that `rand` as
//! [`backprop::rand`](rand), and the prelude brings its portable generator
//! `Xoshiro128PlusPlus` and the `SeedableRng` trait, so you need no `rand`
//! dependency of your own and never have to match its version:
//!
//! ```
//! use backprop::activation::Tanh;
//! use backprop::rand::rngs::Xoshiro128PlusPlus;
//! use backprop::rand::{Rng, RngExt, SeedableRng};
//! use backprop::{Dense, Model};
//!
//! // Code generic over the generator names the re-exported trait.
//! fn fresh<R: Rng + ?Sized>(rng: &mut R) -> Dense<3, 2, Tanh> {
//!     Model::init(rng)
//! }
//!
//! let mut rng = Xoshiro128PlusPlus::seed_from_u64(42); // the same weights on every platform
//! let net = fresh(&mut rng);
//! let noise: f32 = rng.random_range(-0.1..0.1);
//! assert!(noise.abs() <= 0.1 && net.weights[0][0] != 0.0);
//! ```
//!
//! The re-export has `rand`'s default features off (no `StdRng`, no
//! `rand::rng()`). To use those, add `rand = "0.10"` to your own
//! dependencies: Cargo then builds one `rand` for both crates. A generator
//! from `rand` 0.8 or 0.9 is a type of another crate that does not implement
//! this `Rng`, which the compiler reports as a trait that is not implemented
//! (for rand 0.8's `StdRng`: "the trait `DerefMut` is not implemented for
//! `StdRng`").
//!
//! # The public API
//!
//! Everything a user names, and nothing else (the prelude brings the names
//! in bold and the activations, losses and optimizers):
//!
//! | what | items |
//! |---|---|
//! | layers | **[`Dense<IN, OUT, A, T>`](Dense)** (`new`, `random_with`, `affine`) and its [`DenseTape`]; the convolutional layers of [`conv`]: **[`Conv1d`]**, **[`Conv2d`]** (`new`, `random_with`), **[`MaxPool1d`]**, **[`AvgPool1d`]**, **[`MaxPool2d`]**, **[`AvgPool2d`]**, **[`GlobalAvgPool1d`]**, **[`GlobalAvgPool2d`]**, **[`Flatten1d`]**, **[`Flatten2d`]**, **[`Unflatten1d`]**, **[`Unflatten2d`]**, with [`conv::out_len`] and the tensor aliases [`conv::Sequence`], [`conv::Image`]; tuples of up to 12 models, nested freely ([`chain`]); `Box<M>` ([`boxed`]) |
//! | making a model | **[`Model::init`]** (the one way to draw a fresh model); [`Params::zeroed`] (the all-zero value gradients start from); [`Dense::new`] for given weights |
//! | running it | **[`Forward`]** (`forward`), **[`Backward`]** (`forward_tape`, `backward`, `backward_params`), **[`Infer`]** (`predict`, `predict_into`, `classify`, `accuracy`, `evaluate`) |
//! | its parameters | **[`Params`]** (`PARAMS`, `zeroed`, `visit`, `for_each_tensor`, `fill_zero`, `scale`, `param`, `set_param`); **[`Architecture`]**, [`LayerInfo`] and [`LayerKind`] (the layers a type describes, its fingerprint); [`Model::BYTES`], [`Model::TAPE_BYTES`] |
//! | activations | [`activation`]: `Identity`, `ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`, `Softplus`, `Gelu`, `GeluErf`, `SiLU`, `Elu`, and the [`Activation`](activation::Activation) trait |
//! | losses | [`loss`]: `Mse`, `Mae`, `Huber`, `BinaryCrossEntropy`, `BceWithLogits`, `SoftmaxCrossEntropy`, the [`Loss`](loss::Loss) trait, `softmax`, `argmax`; every entry point takes the loss by reference |
//! | optimizers | [`optim`]: `Sgd` (→ `SgdMomentum`), `Adam`, `AdamW`, `RmsProp`, each generic over the model it steps; the [`Optimizer`](optim::Optimizer) trait (`step`, `step_with_rate`) |
//! | training | **[`Train`]** (`check_data`, `train_step`, `train_epoch`, `fit`, `fit_with`); [`train`]: `FitOptions`, `Schedule`, `EarlyStopping`, `Clip`, `EpochReport`, `History`, `StopReason`, `FitError`, `shuffle_together` |
//! | the batched path (`alloc`) | [`batch`]: `Workspace` (`forward`, `gradient`, `train_step`), `Frozen` (batch inference with the weights fixed) and the measured rule `gemm_pays` |
//! | weights in and out | [`weights`] (the crate's checksummed format) and [`safetensors`] (PyTorch's), both without an allocator |
//! | int8 inference | [`quant`]: **[`Quantize`](quant::Quantize)** (`quantize`, `quantize_with`) turns a trained `f32` model into its int8 form ([`Quantized<M>`](quant::Quantized): [`QuantizedDense`](quant::QuantizedDense) layers), **[`Int8Model`](quant::Int8Model)** runs it in integers (`forward`, `classify_codes`) and at the float edges (`quantize_input`, `predict`, `classify`); `Calibration`, `Range`, `QuantParams`; the fixed-point arithmetic ([`quant::fixed`]) and the int8 weight file ([`quant::file`]) |
//! | initialisation, checking | [`init`] (Glorot, He), [`gradcheck`] (finite differences) |
//! | data | [`samples`]: rows of numbers and CSV lines into `[T; N]` samples, with errors that name the row |
//! | random numbers | [`rand`]: the `rand` 0.10 the crate is built with (`Rng`, `SeedableRng`, `rngs::Xoshiro128PlusPlus`) |
//! | errors | [`Error`] and [`Divergence`](error::Divergence) ([`error`]) |
//!
//! How a layer runs (instruction sets, the dispatch, the matrix products,
//! the fast `f32` maths) is inside the crate, behind one execution seam;
//! `ARCHITECTURE.md` in the repository describes it.
//!
//! Every layer, activation, loss and optimizer documents its formula and
//! derivative in a `# Math` section.
//!
//! # `no_std` and features
//!
//! The crate is `#![no_std]`. On a microcontroller, turn off the default
//! features and take the float maths from `libm`:
//! `backprop = { path = "../backprop", default-features = false, features = ["libm"] }`
//! from a local checkout (the crate is not yet on crates.io; once it is,
//! `version = "0.2"` instead of the path).
//! Forward, backward, the losses, every optimizer step and the batch steps
//! then run without an allocator; `embedded/` in the repository trains and
//! runs nets on an emulated Cortex-M0 and Cortex-M4F, bit for bit as on the
//! host.
//!
//! * `std` (default): float maths from the standard library, file helpers,
//!   `std::error::Error`; implies `alloc`.
//! * `alloc`: `fit` and its history, boxed models, the batched GEMM path
//!   (through `matrixmultiply`); none of the per-sample path needs it.
//! * `libm`: float maths from the pure-Rust `libm` crate, for `no_std`
//!   targets.
//!
//! One of `std` or `libm` must be on: without them there is no `exp`, and the
//! build stops with a message saying so.

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
#[cfg(feature = "calibration")]
#[doc(hidden)]
pub mod calibration;
pub mod chain;
mod check;
pub mod conv;
mod dense;
pub mod error;
mod exec;
#[cfg(feature = "alloc")]
mod gemm;
pub mod gradcheck;
mod infer;
pub mod init;
mod layer;
pub mod loss;
mod math;
mod model;
pub mod optim;
mod params;
mod passes;
pub mod quant;
pub mod safetensors;
pub mod samples;
mod simd;
mod step;
pub mod train;
pub mod weights;

pub use conv::{
    AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten1d, Flatten2d, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d,
    MaxPool2d, Unflatten1d, Unflatten2d,
};
pub use dense::{Dense, DenseTape};
pub use error::Error;
pub use infer::Infer;
#[cfg(feature = "alloc")]
pub use infer::PREDICT_BATCH;
pub use model::{Architecture, LayerInfo, LayerKind, Model};
/// The scalar trait every layer is generic over (`f32`, `f64`), re-exported
/// from `num-traits` for writing your own activations and losses.
pub use num_traits::Float;
pub use params::Params;
pub use passes::{Backward, Forward};
/// The `rand` crate (0.10) that every function taking a generator is written
/// against, re-exported so that your generator and the crate's `Rng` trait
/// are always of the same version: `backprop::rand::Rng`,
/// `backprop::rand::SeedableRng`, `backprop::rand::rngs::Xoshiro128PlusPlus`.
/// Built without `rand`'s default features (see
/// [Random numbers](crate#random-numbers)).
pub use rand;
pub use train::Train;

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Everything needed to define, initialise and train a network, plus the
/// portable random number generator the examples use and `SeedableRng` to
/// seed it (both from [`rand`], the `rand` 0.10 the crate is
/// built with).
pub mod prelude {
    pub use crate::activation::{
        Activation, Elu, Gelu, GeluErf, Identity, LeakyReLU, ReLU, SiLU, Sigmoid, Softplus, Tanh,
    };
    #[cfg(feature = "alloc")]
    pub use crate::batch::{Frozen, Workspace};
    pub use crate::init::Init;
    pub use crate::loss::{
        softmax, BceWithLogits, BinaryCrossEntropy, Huber, Loss, Mae, Mse, SoftmaxCrossEntropy, Targets,
    };
    pub use crate::optim::{Adam, AdamW, Optimizer, RmsProp, Sgd, SgdMomentum};
    pub use crate::train::{Clip, EarlyStopping, EpochReport, Schedule, StopReason};
    #[cfg(feature = "alloc")]
    pub use crate::train::{FitOptions, History};
    pub use crate::{avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d};
    pub use crate::{Architecture, Backward, Dense, Error, Float, Forward, Infer, Model, Params, Train};
    pub use crate::{
        AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten1d, Flatten2d, GlobalAvgPool1d, GlobalAvgPool2d,
        MaxPool1d, MaxPool2d, Unflatten1d, Unflatten2d,
    };
    pub use core::ops::ControlFlow;
    pub use rand::rngs::Xoshiro128PlusPlus;
    pub use rand::SeedableRng;
}
