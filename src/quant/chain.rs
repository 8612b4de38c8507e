//! Chains of int8 layers: the int8 form of a tuple of layers is the tuple of
//! their int8 forms, with the same width checks ([`Feeds`]) as float chains.
//!
//! One macro implements, for each tuple size from 1 to 12, how the float
//! tuple is calibrated and quantized ([`QuantizeLayer`]: each layer takes
//! the previous layer's output parameters as its input's) and how the int8
//! tuple runs and is stored ([`Int8Layer`]: each layer's output codes are
//! the next layer's input codes).

use super::bytes::{Reader, Writer};
use super::layer::{Int8Layer, QuantizeLayer};
use super::QuantParams;
use crate::chain::Feeds;
use crate::error::Error;
use crate::layer::Layer;
use crate::model::LayerInfo;
use crate::params::Params;
use crate::simd::Isa;

macro_rules! int8_chain {
    (layers: $L0:ident $i0:tt $(, $L:ident $i:tt)*; pairs: $($P:ident $N:ident),*; last: $Last:ident $last:tt) => {
        impl<$L0 $(, $L)*> QuantizeLayer for ($L0, $($L,)*)
        where
            $L0: QuantizeLayer,
            $( $L: QuantizeLayer + Params<Scalar = $L0::Scalar>, )*
            $( $P::Output: Feeds<$N::Input>, )*
            $( <$P::Quantized as Int8Layer>::Output: Feeds<<$N::Quantized as Int8Layer>::Input>, )*
            Self: Layer<Input = $L0::Input, Output = $Last::Output>,
        {
            type Quantized = ($L0::Quantized, $($L::Quantized,)*);
            type Ranges = ($L0::Ranges, $($L::Ranges,)*);

            fn observe(&self, sample: usize, x: &Self::Input, ranges: &mut Self::Ranges) -> Result<Self::Output, Error> {
                let x = self.$i0.observe(sample, x, &mut ranges.$i0)?;
                $( let x = self.$i.observe(sample, Feeds::feed(&x), &mut ranges.$i)?; )*
                Ok(x)
            }

            fn quantize_layers(
                &self,
                input: QuantParams,
                ranges: &Self::Ranges,
                first: usize,
            ) -> Result<(Self::Quantized, QuantParams), Error> {
                let mut at = first;
                let mut input = input;
                let quantized = (
                    {
                        let (q, output) = self.$i0.quantize_layers(input, &ranges.$i0, at)?;
                        at += $L0::LAYER_COUNT;
                        input = output;
                        q
                    },
                    $( {
                        let (q, output) = self.$i.quantize_layers(input, &ranges.$i, at)?;
                        at += $L::LAYER_COUNT;
                        input = output;
                        q
                    }, )*
                );
                let _ = at;
                Ok((quantized, input))
            }
        }

        impl<$L0 $(, $L)*> Int8Layer for ($L0, $($L,)*)
        where
            $L0: Int8Layer,
            $( $L: Int8Layer, )*
            $( $P::Output: Feeds<$N::Input>, )*
        {
            type Input = $L0::Input;
            type Output = $Last::Output;
            type FloatInput = $L0::FloatInput;
            type FloatOutput = $Last::FloatOutput;

            const EMPTY_LAYERS: Self = ($L0::EMPTY_LAYERS, $($L::EMPTY_LAYERS,)*);
            const LAYER_COUNT: usize = $L0::LAYER_COUNT $(+ $L::LAYER_COUNT)*;
            const FILE_BYTES: usize = $L0::FILE_BYTES $(+ $L::FILE_BYTES)*;

            #[inline(always)]
            fn forward_in<I: Isa>(&self, isa: I, x: &Self::Input) -> Self::Output {
                let x = self.$i0.forward_in(isa, x);
                $( let x = self.$i.forward_in(isa, Feeds::feed(&x)); )*
                x
            }

            fn input_params(&self) -> QuantParams {
                self.$i0.input_params()
            }

            fn output_params(&self) -> QuantParams {
                self.$last.output_params()
            }

            fn describe<F: FnMut(LayerInfo)>(f: &mut F) {
                $L0::describe(f);
                $( $L::describe(f); )*
            }

            fn write_to(&self, out: &mut Writer<'_>) {
                self.$i0.write_to(out);
                $( self.$i.write_to(out); )*
            }

            fn read_into<const STORE: bool>(
                &mut self,
                reader: &mut Reader<'_>,
                input: QuantParams,
                first: usize,
            ) -> Result<QuantParams, Error> {
                let mut at = first;
                let mut input = input;
                input = self.$i0.read_into::<STORE>(reader, input, at)?;
                at += $L0::LAYER_COUNT;
                $(
                    input = self.$i.read_into::<STORE>(reader, input, at)?;
                    at += $L::LAYER_COUNT;
                )*
                let _ = at;
                Ok(input)
            }
        }
    };
}

int8_chain!(layers: L0 0; pairs: ; last: L0 0);
int8_chain!(layers: L0 0, L1 1; pairs: L0 L1; last: L1 1);
int8_chain!(layers: L0 0, L1 1, L2 2; pairs: L0 L1, L1 L2; last: L2 2);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3; pairs: L0 L1, L1 L2, L2 L3; last: L3 3);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4; pairs: L0 L1, L1 L2, L2 L3, L3 L4; last: L4 4);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5; last: L5 5);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6; last: L6 6);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7; last: L7 7);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8; last: L8 8);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9; last: L9 9);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9, L10 10; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10; last: L10 10);
int8_chain!(layers: L0 0, L1 1, L2 2, L3 3, L4 4, L5 5, L6 6, L7 7, L8 8, L9 9, L10 10, L11 11; pairs: L0 L1, L1 L2, L2 L3, L3 L4, L4 L5, L5 L6, L6 L7, L7 L8, L8 L9, L9 L10, L10 L11; last: L11 11);
