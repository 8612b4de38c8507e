//! The int8 execution seam: how a float layer becomes an int8 layer
//! ([`QuantizeLayer`]) and how an int8 layer runs and is stored
//! ([`Int8Layer`]). Implemented once for `Dense`/[`QuantizedDense`] and once
//! for tuples (`chain.rs`). Sealed: public in a private module, like
//! [`Layer`](crate::layer::Layer).
//!
//! [`QuantizedDense`]: super::QuantizedDense

use super::bytes::{Reader, Writer};
use super::QuantParams;
use crate::error::Error;
use crate::layer::Layer;
use crate::model::LayerInfo;
use crate::simd::Isa;

/// A fixed-size array of `T`, for the associated types of int8 models
/// (`[T; N]` for every `N`; `Default` covers only `N ≤ 32`).
pub trait Array<T>: Copy + core::fmt::Debug + PartialEq + AsRef<[T]> + AsMut<[T]> {
    /// The array of zeros.
    const ZEROS: Self;
}

impl<const N: usize> Array<i8> for [i8; N] {
    const ZEROS: Self = [0; N];
}

impl<const N: usize> Array<f32> for [f32; N] {
    const ZEROS: Self = [0.0; N];
}

/// How a float model becomes an int8 model.
pub trait QuantizeLayer: Layer<Input: AsRef<[f32]>> {
    /// The int8 model.
    type Quantized: Int8Layer;
    /// The calibration ranges of the layers' outputs, in the model's shape.
    type Ranges: Copy + Default + core::fmt::Debug;

    /// The forward pass of calibration sample number `sample`, widening
    /// each layer's output range.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteOutput`] if a layer's output is not finite.
    fn observe(
        &self,
        sample: usize,
        x: &Self::Input,
        ranges: &mut Self::Ranges,
    ) -> Result<Self::Output, Error>;

    /// The int8 layers, the first of which is layer number `first` of the
    /// whole model, given their input's parameters. Also returns the last
    /// layer's output parameters (the next layer's input).
    fn quantize_layers(
        &self,
        input: QuantParams,
        ranges: &Self::Ranges,
        first: usize,
    ) -> Result<(Self::Quantized, QuantParams), Error>;
}

/// How an int8 model runs and is stored.
pub trait Int8Layer: Copy + core::fmt::Debug + PartialEq {
    /// The input codes, `[i8; IN]`.
    type Input: Array<i8>;
    /// The output codes, `[i8; OUT]`.
    type Output: Array<i8>;
    /// The float model's input, `[f32; IN]`.
    type FloatInput: Array<f32>;
    /// The float model's output, `[f32; OUT]`.
    type FloatOutput: Array<f32>;

    /// Every layer's `EMPTY` storage (see [`Int8Model::EMPTY`](super::Int8Model::EMPTY)).
    const EMPTY_LAYERS: Self;

    /// The number of layers.
    const LAYER_COUNT: usize;

    /// The number of bytes the layers take in an int8 weight file.
    const FILE_BYTES: usize;

    /// The integer forward pass with the instruction set `isa`.
    fn forward_in<I: Isa>(&self, isa: I, input: &Self::Input) -> Self::Output;

    /// The first layer's input parameters.
    fn input_params(&self) -> QuantParams;

    /// The last layer's output parameters.
    fn output_params(&self) -> QuantParams;

    /// Calls `f` with each layer's description, in forward order.
    fn describe<F: FnMut(LayerInfo)>(f: &mut F);

    /// Writes the layers' parameters, in file order.
    fn write_to(&self, out: &mut Writer<'_>);

    /// Reads and checks the layers; the first is layer number `first` of
    /// the model and takes the input parameters `input`. If `STORE`, writes
    /// them into `self`, in place (no copy of the model on the stack);
    /// otherwise only checks them, leaving `self` as it is (the reader runs
    /// this first, so that a bad file changes nothing). Returns the last
    /// layer's output parameters.
    fn read_into<const STORE: bool>(
        &mut self,
        reader: &mut Reader<'_>,
        input: QuantParams,
        first: usize,
    ) -> Result<QuantParams, Error>;
}
