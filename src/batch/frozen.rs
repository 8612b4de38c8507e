//! A model whose parameters are fixed, for batch inference: its dense
//! layers' forward products read a transposed copy of their weights.

use crate::exec;
use crate::model::Model;

/// A model owned for batch inference, its parameters fixed: the batched
/// path's forward pass with every [`Dense`](crate::Dense) layer's weights
/// kept transposed beside it (`IN × OUT`, row-major), the layout in which
/// `matrixmultiply` reads the forward product's operand from contiguous rows
/// instead of through a stride of `IN`.
///
/// Use it where the same weights run many small batches (a served or
/// embedded model answering requests): [`forward`](Frozen::forward) gives
/// the same outputs as [`Workspace::forward`](crate::batch::Workspace::forward),
/// bit for bit (the products add the same terms in the same order; only the
/// memory they are packed from differs), and is faster where packing the
/// weights is a noticeable part of each product: on the W3 net
/// (784-128-64-10) 4–12% at 64 rows, level at 256 (`benches/README.md`, W5
/// and `mnist_freeze`). Making one costs a pass over the weights (46–66 µs
/// for the W3 net's 109,386) and memory for one more copy of every
/// dense layer's weights. The model is owned, so the copy cannot go stale:
/// to change the weights, take the model back with
/// [`into_inner`](Frozen::into_inner).
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// type Net = (Dense<64, 128, ReLU>, Dense<128, 10, Identity>);
/// let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// let inputs = vec![[0.25f32; 64]; 32];
///
/// let want = Workspace::new().forward(&net, &inputs).to_vec();
/// let mut frozen = Frozen::new(net);
/// assert_eq!(frozen.forward(&inputs), &want[..]);
/// let net: Net = frozen.into_inner();
/// ```
pub struct Frozen<M: Model> {
    model: M,
    tape: M::Rows,
}

impl<M: Model> core::fmt::Debug for Frozen<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Frozen").finish_non_exhaustive()
    }
}

impl<M: Model> Frozen<M>
where
    M::Scalar: 'static,
{
    /// Takes `model` and keeps a transposed copy of its dense layers'
    /// weights; the batch buffers are allocated on first use, as a
    /// [`Workspace`](crate::batch::Workspace)'s.
    pub fn new(model: M) -> Self {
        let mut tape = M::Rows::default();
        model.freeze_rows(&mut tape);
        Frozen { model, tape }
    }

    /// The outputs of the model for every row of `inputs`, computed as one
    /// batch, as [`Workspace::forward`](crate::batch::Workspace::forward) computes
    /// them. The slice lives until the next call.
    pub fn forward(&mut self, inputs: &[M::Input]) -> &[M::Output] {
        exec::forward_rows(&self.model, inputs, &mut self.tape)
    }

    /// The model (for the per-sample path, or to read its weights).
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model back, to train or change it.
    pub fn into_inner(self) -> M {
        self.model
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::Frozen;
    use crate::batch::Workspace;
    use crate::layer::Layer;
    use crate::prelude::*;

    /// The forward product reads the frozen copy of the weights, not the
    /// model's: with another layer's weights frozen into the tape, the
    /// outputs are those of that layer's weights with the model's bias.
    #[test]
    fn the_forward_product_reads_the_frozen_copy() {
        type Net = Dense<128, 64, Identity, f64>;
        let model: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
        let other: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(2));
        let mut frozen = Frozen::new(model);
        other.freeze_rows(&mut frozen.tape);
        let inputs = alloc::vec![[0.5; 128]; 64];
        let mut mixed = other;
        mixed.bias = model.bias;
        let want = Workspace::new().forward(&mixed, &inputs).to_vec();
        assert_eq!(frozen.forward(&inputs), &want[..]);
        assert_ne!(frozen.forward(&inputs), Workspace::new().forward(&model, &inputs));
    }
}
