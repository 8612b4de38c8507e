//! Access to a model's parameters: [`Params`], a visitor over flat slices.
//!
//! A model's gradients have the model's own type (a `Dense` of gradients has
//! a `weights` field holding `∂L/∂W`), and so does any per-parameter
//! optimizer state (Adam's moment estimates), so an optimizer is one loop
//! over aligned flat slices obtained from [`Params::visit`].

use num_traits::Float;

/// Access to a model's parameters as flat slices of scalars.
///
/// A `Dense` layer has two parameter tensors, its weights (visited row-major,
/// as PyTorch stores them) and its bias; a chain visits its layers in order.
pub trait Params: Sized {
    /// The scalar type of every parameter (`f32` or `f64`).
    type Scalar: Float;

    /// The number of scalar parameters.
    const PARAMS: usize;

    /// A model whose parameters are all zero: the starting point for
    /// accumulated gradients and optimizer state.
    fn zeroed() -> Self;

    /// Walks the parameter tensors of several models of this type in
    /// lockstep: for each tensor, `f` receives that tensor of every model in
    /// `mutable` and of every model in `shared`, as flat slices of equal
    /// length.
    ///
    /// This is how optimizers work: `Params::visit([net, m, v], [grads], f)`
    /// hands `f` the weights, both Adam moments and the gradient of one
    /// tensor at a time.
    fn visit<const M: usize, const S: usize, F>(mutable: [&mut Self; M], shared: [&Self; S], f: &mut F)
    where
        F: FnMut([&mut [Self::Scalar]; M], [&[Self::Scalar]; S]);

    /// Calls `f` with each parameter tensor as a flat slice.
    fn for_each_tensor(&self, mut f: impl FnMut(&[Self::Scalar])) {
        Self::visit([], [self], &mut |[], [p]| f(p));
    }

    /// Calls `f` with each parameter tensor as a flat mutable slice.
    fn for_each_tensor_mut(&mut self, mut f: impl FnMut(&mut [Self::Scalar])) {
        Self::visit([self], [], &mut |[p], []| f(p));
    }

    /// Sets every parameter to zero (to reset accumulated gradients).
    fn fill_zero(&mut self) {
        self.for_each_tensor_mut(|p| p.fill(<Self::Scalar as num_traits::Zero>::zero()));
    }

    /// Multiplies every parameter by `factor` (to turn a gradient summed over
    /// a batch into a mean).
    fn scale(&mut self, factor: Self::Scalar) {
        self.for_each_tensor_mut(|p| p.iter_mut().for_each(|x| *x = *x * factor));
    }

    /// The `k`-th scalar parameter in visiting order, or `None` if
    /// `k >= PARAMS`.
    fn param(&self, k: usize) -> Option<Self::Scalar> {
        let mut offset = 0;
        let mut found = None;
        self.for_each_tensor(|p| {
            if found.is_none() && k >= offset && k < offset + p.len() {
                found = Some(p[k - offset]);
            }
            offset += p.len();
        });
        found
    }

    /// Sets the `k`-th scalar parameter in visiting order to `value`; returns
    /// `false` (and changes nothing) if `k >= PARAMS`.
    #[must_use = "`false` means k was past the last parameter and nothing was set"]
    fn set_param(&mut self, k: usize, value: Self::Scalar) -> bool {
        let mut offset = 0;
        let mut done = false;
        self.for_each_tensor_mut(|p| {
            if !done && k >= offset && k < offset + p.len() {
                p[k - offset] = value;
                done = true;
            }
            offset += p.len();
        });
        done
    }
}
