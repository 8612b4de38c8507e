//! Shards of a batch: the fixed split of a large batch that lets threads
//! share its gradient and still give the same bits with any number of
//! threads (`alloc`; the threads themselves are `std`, in `team.rs`).
//!
//! # Math
//!
//! A batch's gradient is a sum over its rows, `g = (1/B) Σ_b ∂L_b/∂θ`.
//! Split the `B` rows into `S` consecutive shards; then
//!
//! ```text
//! g   = (((g₀ + g₁) + g₂) + …) + g_{S-1}      g_s = (1/B) Σ_{b ∈ shard s} ∂L_b/∂θ
//! L̄   = (((l₀ + l₁) + l₂) + …) + l_{S-1}      l_s = (1/B) Σ_{b ∈ shard s} L_b
//! ```
//!
//! Each `g_s` is the batched path's gradient of that shard's rows (one
//! matrix product per layer and pass), scaled by the whole batch's `1/B`.
//! Floating-point addition is not associative, so the split and the order
//! of the sum are fixed by `B` alone:
//!
//! ```text
//! S = min(⌈B / 128⌉, 8)          shard s = rows ⌊s B / S⌋ .. ⌊(s + 1) B / S⌋
//! ```
//!
//! A thread computes whole shards (the calling thread shard 0, the others
//! whichever thread claims them first, `team.rs`), every `g_s` comes from
//! the same code on the same rows whichever thread runs it, and one thread
//! adds them up in shard order.
//! So the result does not depend on the number of threads: one thread
//! computes the same shards one after the other. A batch of at most 128 rows
//! is one shard: the unsharded batched gradient, the bits of
//! [`Workspace::gradient`](super::Workspace::gradient).

extern crate alloc;

use super::workspace::{Rows, Workspace};
use crate::loss::Loss;
use crate::model::Model;
use crate::params::Params;
use crate::simd;
use alloc::{boxed::Box, vec::Vec};
use core::ops::Range;
use num_traits::Float;

/// Rows per shard, at most (until [`MAX_SHARDS`] is reached). Measured
/// against 64 on the W3 net at batch 256 (`benches/README.md`): shards of
/// 128 rows cost one thread less (`W` is packed once per shard) and gave
/// two threads more.
const SHARD_ROWS: usize = 128;

/// The most shards a batch is split into (bigger batches get bigger
/// shards): each shard beyond the first keeps a gradient buffer of the
/// model's size.
pub(crate) const MAX_SHARDS: usize = 8;

/// The number of shards of a batch of `rows` rows: `min(⌈rows / 128⌉, 8)`,
/// at least 1.
pub(crate) fn shard_count(rows: usize) -> usize {
    rows.div_ceil(SHARD_ROWS).clamp(1, MAX_SHARDS)
}

/// The rows of shard `shard` of `shards` in a batch of `rows` rows
/// (positions within the batch).
pub(crate) fn shard_rows(rows: usize, shards: usize, shard: usize) -> Range<usize> {
    let at = |s: usize| s * rows / shards.max(1);
    at(shard)..at(shard + 1)
}

/// `dst ← src`, parameter by parameter, in place.
pub(crate) fn copy_params<M: Params>(dst: &mut M, src: &M) {
    M::visit([dst], [src], &mut |[dst], [src]| dst.copy_from_slice(src));
}

/// A copy of `model`'s parameters in a new box, made in place (a big model
/// never passes through the stack).
pub(crate) fn boxed_copy<M: Model>(model: &M) -> Box<M>
where
    M::Scalar: 'static,
{
    let mut copy = <Box<M> as Params>::zeroed();
    copy_params(&mut *copy, model);
    copy
}

/// The copy of the weights from before the current step, which a step
/// that leaves a parameter non-finite restores.
pub(crate) trait Snapshot<M> {
    /// Keeps a copy of `model`'s parameters.
    fn save(&mut self, model: &M);
    /// Puts the kept parameters back into `model`.
    fn restore(&self, model: &mut M);
}

impl<M: Params> Snapshot<M> for Box<M> {
    fn save(&mut self, model: &M) {
        copy_params(&mut **self, model);
    }
    fn restore(&self, model: &mut M) {
        copy_params(model, self);
    }
}

/// The gradient of one shard beyond the first, and its share of the loss.
pub(crate) struct Part<M, T> {
    pub(crate) grads: Box<M>,
    pub(crate) loss: T,
}

impl<M: Model> Part<M, M::Scalar>
where
    M::Scalar: 'static,
{
    /// A zero gradient, made in place on the heap.
    pub(crate) fn new() -> Self {
        Part { grads: <Box<M> as Params>::zeroed(), loss: <M::Scalar as num_traits::Zero>::zero() }
    }
}

/// `grads ← grads + part` (elementwise: each parameter's sum in the order of
/// the calls), and the loss likewise.
pub(crate) fn add_part<M: Params>(grads: &mut M, loss: &mut M::Scalar, part: &Part<M, M::Scalar>) {
    M::visit([grads], [&*part.grads], &mut |[sum], [g]| simd::add_assign(sum, g));
    *loss = *loss + part.loss;
}

/// The batched gradient of `fit` on one thread: every shard in turn, in
/// one workspace, then their sum in shard order.
pub(crate) struct Local<M: Model, Y> {
    pub(crate) workspace: Workspace<M>,
    /// The gathered targets of a shuffled shard.
    pub(crate) targets: Vec<Y>,
    /// Shards 1, 2, ... (shard 0 writes the caller's gradient); made on
    /// first use, reused after.
    parts: Vec<Part<M, M::Scalar>>,
}

impl<M: Model, Y> Local<M, Y> {
    /// Nothing allocated yet.
    pub(crate) fn new() -> Self {
        Local { workspace: Workspace::new(), targets: Vec::new(), parts: Vec::new() }
    }
}

impl<M, T, Y, const IN: usize, const N: usize> Local<M, Y>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T>,
    T: Float + 'static,
    Y: Copy,
{
    /// The mean loss of the batch `rows` of `data` and its gradient, written
    /// into `grads`: shard by shard (see the [module documentation](self)).
    pub(crate) fn gradient<L: Loss<T, N, Target = Y>>(
        &mut self,
        model: &M,
        data: (&[[T; IN]], &[Y]),
        rows: Rows<'_>,
        loss: &L,
        grads: &mut M,
    ) -> T {
        let batch = rows.len();
        let shards = shard_count(batch);
        let mut mean = self.workspace.rows_gradient(
            model,
            data,
            rows.part(shard_rows(batch, shards, 0)),
            &mut self.targets,
            loss,
            grads,
            batch,
        );
        while self.parts.len() + 1 < shards {
            self.parts.push(Part::new());
        }
        for (s, part) in (1..shards).zip(self.parts.iter_mut()) {
            let shard = rows.part(shard_rows(batch, shards, s));
            part.loss = self.workspace.rows_gradient(
                model,
                data,
                shard,
                &mut self.targets,
                loss,
                &mut part.grads,
                batch,
            );
        }
        for part in self.parts.iter().take(shards - 1) {
            add_part(grads, &mut mean, part);
        }
        mean
    }
}
