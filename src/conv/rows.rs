//! The batched path of a layer that runs its per-sample passes row by row:
//! every row's output and tape kept in vectors that grow to the largest
//! batch and are reused. The pools and reshapes always run this way, the
//! convolutions below the rule of `lowered.rs`.

extern crate alloc;

use crate::layer::Layer;
use crate::simd::{self, Isa, Kernel};
use alloc::vec::Vec;

/// A batch's outputs, their gradients and the per-sample tapes. The
/// vectors grow to the largest batch and never shrink: a row that exists
/// is written through [`Layer::forward_tape_into`] and
/// [`Layer::backward_into`], which the pools and reshapes run in place, so
/// for them a batch no larger than one before moves no tensor.
pub struct SampleRows<Y, Tape> {
    outputs: Vec<Y>,
    d_outputs: Vec<Y>,
    tapes: Vec<Tape>,
    /// The rows of the last batch (the vectors may hold more).
    rows: usize,
}

impl<Y, Tape> Default for SampleRows<Y, Tape> {
    fn default() -> Self {
        SampleRows { outputs: Vec::new(), d_outputs: Vec::new(), tapes: Vec::new(), rows: 0 }
    }
}

impl<Y: Copy, Tape> SampleRows<Y, Tape> {
    /// The forward pass of every row of `input`, one sample at a time,
    /// each row dispatched as [`Forward::forward`](crate::Forward::forward)
    /// dispatches a sample (the same instruction set as `isa`): the
    /// per-sample kernel then compiles as it does for one sample. Inlined
    /// into the loop over the rows instead, the max pools' kernels compiled
    /// to scalar branches and made the W6 training step 1.3 times slower
    /// (`benches/cnn_train.rs`).
    #[inline(always)]
    pub(crate) fn forward<L, I>(&mut self, layer: &L, _isa: I, input: &[L::Input]) -> &[Y]
    where
        L: Layer<Output = Y, Tape = Tape>,
        I: Isa,
    {
        let kept = self.outputs.len().min(input.len());
        let (new, old) = (&input[kept..], &input[..kept]);
        for ((x, y), tape) in old.iter().zip(&mut self.outputs).zip(&mut self.tapes) {
            simd::dispatch(RowInto { layer, x, y, tape });
        }
        // A batch larger than any before: its new rows are made (this
        // allocates; later batches reuse them).
        for x in new {
            let (y, tape) = simd::dispatch(Row { layer, x });
            self.outputs.push(y);
            self.tapes.push(tape);
        }
        self.rows = input.len();
        // The gradient buffer needs the outputs' length only: whoever fills
        // it writes every row before the backward pass reads it.
        if self.d_outputs.len() < self.rows {
            let have = self.d_outputs.len();
            self.d_outputs.extend_from_slice(&self.outputs[have..self.rows]);
        }
        &self.outputs[..self.rows]
    }

    /// The outputs and the buffer for their gradients.
    pub(crate) fn output_and_gradient(&mut self) -> (&[Y], &mut [Y]) {
        (&self.outputs[..self.rows], &mut self.d_outputs[..self.rows])
    }

    /// The backward pass of every row, one sample at a time: the first row
    /// writes the parameter gradients (if `WRITE`), the others add, in row
    /// order; each row's input gradient into `d_input` if one is given. A
    /// layer without parameters whose input gradient nothing wants has
    /// nothing to compute (and its gradient buffer may not have been
    /// written).
    #[inline(always)]
    pub(crate) fn backward<L, I, const WRITE: bool>(
        &self,
        layer: &L,
        isa: I,
        grads: &mut L,
        d_input: Option<&mut [L::Input]>,
    ) where
        L: Layer<Output = Y, Tape = Tape>,
        I: Isa,
    {
        if L::PARAMS == 0 && d_input.is_none() {
            return;
        }
        let rows = self.tapes.iter().zip(&self.d_outputs).take(self.rows);
        match d_input {
            Some(d_input) => {
                for (b, ((tape, d_y), d_x)) in rows.zip(d_input.iter_mut()).enumerate() {
                    if WRITE && b == 0 {
                        layer.backward_into::<I, true>(isa, tape, d_y, grads, d_x);
                    } else {
                        layer.backward_into::<I, false>(isa, tape, d_y, grads, d_x);
                    }
                }
            }
            None => {
                for (b, (tape, d_y)) in rows.enumerate() {
                    if WRITE && b == 0 {
                        layer.backward_in::<I, false, true>(isa, tape, d_y, grads);
                    } else {
                        layer.backward_in::<I, false, false>(isa, tape, d_y, grads);
                    }
                }
            }
        }
    }
}

/// One row's forward pass written in place, as a kernel of its own.
struct RowInto<'a, L: Layer> {
    layer: &'a L,
    x: &'a L::Input,
    y: &'a mut L::Output,
    tape: &'a mut L::Tape,
}

impl<L: Layer> Kernel for RowInto<'_, L> {
    type Output = ();

    #[inline(always)]
    fn run<I: Isa>(self, isa: I) {
        self.layer.forward_tape_into(isa, self.x, self.y, self.tape)
    }
}

/// One row's forward pass with its tape, as a kernel of its own.
struct Row<'a, L: Layer> {
    layer: &'a L,
    x: &'a L::Input,
}

impl<L: Layer> Kernel for Row<'_, L> {
    type Output = (L::Output, L::Tape);

    #[inline(always)]
    fn run<I: Isa>(self, isa: I) -> Self::Output {
        self.layer.forward_tape_in(isa, self.x)
    }
}
