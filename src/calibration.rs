//! The two paths of a `Dense` layer and of a convolution side by side, for
//! `benches/batch.rs`, which measures where the matrix product starts to
//! pay ([`gemm_pays`](crate::batch::gemm_pays), and the convolutions' rule
//! in `src/conv/lowered.rs`). Only with the `calibration` feature; not part
//! of the API.

use crate::activation::Activation;
use crate::conv::lowered::{ConvRows, Lowered};
use crate::conv::{Conv1d, Conv2d};
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

/// A convolution's batch buffers, for either path.
pub struct ConvTape<Y, Tape, T>(ConvRows<Y, Tape, T>);

impl<Y, Tape, T> Default for ConvTape<Y, Tape, T> {
    fn default() -> Self {
        ConvTape(ConvRows::default())
    }
}

/// One training pass of a convolution over `input` as the batched path
/// runs it (forward, then backward given an output gradient of ones, with
/// the input gradient into `d_input` if one is given), lowered to matrix
/// products if `lowered`, else row by row through the per-sample kernels.
fn conv_train_pass<L: Lowered>(
    layer: &L,
    input: &[L::Input],
    tape: &mut ConvRows<L::Output, L::Tape, L::Scalar>,
    grads: &mut L,
    d_input: Option<&mut [L::Input]>,
    lowered: bool,
    ones: L::Output,
) where
    L::Scalar: 'static,
{
    struct Pass<'a, L: Lowered> {
        layer: &'a L,
        input: &'a [L::Input],
        tape: &'a mut ConvRows<L::Output, L::Tape, L::Scalar>,
        grads: &'a mut L,
        d_input: Option<&'a mut [L::Input]>,
        lowered: bool,
        ones: L::Output,
    }
    impl<L: Lowered> Kernel for Pass<'_, L>
    where
        L::Scalar: 'static,
    {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            let Pass { layer, input, tape, grads, d_input, lowered, ones } = self;
            tape.forward(layer, isa, input, lowered);
            tape.output_and_gradient().1.fill(ones);
            tape.backward::<L, I, true>(layer, isa, input, grads, d_input);
        }
    }
    simd::dispatch(Pass { layer, input, tape, grads, d_input, lowered, ones });
}

/// [`train_pass`] for a [`Conv2d`]: lowered to matrix products if
/// `lowered`, else row by row.
#[allow(clippy::type_complexity)]
pub fn conv2d_train_pass<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    A: Activation,
    T: Float + 'static,
>(
    layer: &Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>,
    input: &[[[[T; W]; H]; CI]],
    tape: &mut ConvTape<
        [[[T; WO]; HO]; CO],
        crate::conv::ConvTape<[[[T; W]; H]; CI], [[[T; WO]; HO]; CO]>,
        T,
    >,
    grads: &mut Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>,
    d_input: Option<&mut [[[[T; W]; H]; CI]]>,
    lowered: bool,
) {
    conv_train_pass(layer, input, &mut tape.0, grads, d_input, lowered, [[[T::one(); WO]; HO]; CO]);
}

/// [`train_pass`] for a [`Conv1d`]: lowered to matrix products if
/// `lowered`, else row by row.
#[allow(clippy::type_complexity)]
pub fn conv1d_train_pass<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const L: usize,
    const LO: usize,
    A: Activation,
    T: Float + 'static,
>(
    layer: &Conv1d<CI, CO, K, S, P, L, LO, A, T>,
    input: &[[[T; L]; CI]],
    tape: &mut ConvTape<[[T; LO]; CO], crate::conv::ConvTape<[[T; L]; CI], [[T; LO]; CO]>, T>,
    grads: &mut Conv1d<CI, CO, K, S, P, L, LO, A, T>,
    d_input: Option<&mut [[[T; L]; CI]]>,
    lowered: bool,
) {
    conv_train_pass(layer, input, &mut tape.0, grads, d_input, lowered, [[T::one(); LO]; CO]);
}

/// Whether the batched path lowers a convolution with `taps = CI·K·K`,
/// `outputs = CO` and `positions = HO·WO` for `rows` rows.
pub const fn conv_lowering_pays(rows: usize, taps: usize, outputs: usize, positions: usize) -> bool {
    crate::conv::lowered::lowering_pays(rows, taps, outputs, positions)
}
