//! The two paths of a `Dense` layer side by side, for `benches/batch.rs`,
//! which measures where the matrix product starts to pay
//! ([`gemm_pays`](crate::batch::gemm_pays)). Only with the `calibration`
//! feature; not part of the API.

use crate::activation::Activation;
use crate::dense::{Dense, DenseRows};
use crate::simd::{self, Isa, Kernel};
use num_traits::Float;

/// A layer's batch matrices.
pub struct Tape<const OUT: usize, T>(DenseRows<OUT, T>);

impl<const OUT: usize, T> Default for Tape<OUT, T> {
    fn default() -> Self {
        Tape(DenseRows::default())
    }
}

/// One training pass of `layer` over `input` as the batched path runs it
/// (forward, then backward with the input gradient, given an output
/// gradient of ones), through the matrix product if `gemm`, else row by
/// row, dispatched as the library's own passes are.
pub fn train_pass<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static>(
    layer: &Dense<IN, OUT, A, T>,
    input: &[[T; IN]],
    tape: &mut Tape<OUT, T>,
    grads: &mut Dense<IN, OUT, A, T>,
    d_input: &mut [[T; IN]],
    gemm: bool,
) {
    struct Pass<'a, const IN: usize, const OUT: usize, A: Activation, T: Float> {
        layer: &'a Dense<IN, OUT, A, T>,
        input: &'a [[T; IN]],
        tape: &'a mut DenseRows<OUT, T>,
        grads: &'a mut Dense<IN, OUT, A, T>,
        d_input: &'a mut [[T; IN]],
        gemm: bool,
    }
    impl<const IN: usize, const OUT: usize, A: Activation, T: Float + 'static> Kernel
        for Pass<'_, IN, OUT, A, T>
    {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            let Pass { layer, input, tape, grads, d_input, gemm } = self;
            layer.rows_forward(isa, input, tape, gemm);
            for d in tape.output_and_gradient().1.iter_mut() {
                *d = [T::one(); OUT];
            }
            layer.rows_backward::<I, true>(isa, input, tape, grads, Some(d_input), gemm);
        }
    }
    simd::dispatch(Pass { layer, input, tape: &mut tape.0, grads, d_input, gemm });
}
