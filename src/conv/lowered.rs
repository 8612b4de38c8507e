//! The batched path of a convolution (`alloc`): each sample's convolution
//! lowered to matrix products through the column matrix of its input
//! ("im2col") where that pays, the per-sample passes row by row
//! ([`SampleRows`]) otherwise.
//!
//! # Math
//!
//! Write a sample's input `x` (`CI` channels of `H × W`) as its column
//! matrix: one row per kernel tap `(i, kr, kc)` (`CK = CI·K·K` rows, in the
//! order of the weights), one column per output position `(r, c)`
//! (`N = HO·WO` columns), holding the input value that tap sees there:
//!
//! ```text
//! col(x)_{(i,kr,kc), (r,c)} = x_{i, r·S + kr − P, c·S + kc − P}     (0 in the padding)
//! ```
//!
//! The kernels, PyTorch's `[out][in][kh][kw]` flattened, are the row-major
//! `CO × CK` matrix `W`, and the convolution of [`Conv2d`]'s `# Math` is one
//! matrix product per sample `b`; the chain rule through it gives the
//! backward pass (every matrix row-major, `CO × N` for `Z`, `A`, `Δ`, which
//! is the output tensor's own layout `[o][r][c]`):
//!
//! ```text
//! Z_b     = W · col(x_b) + b 1ᵀ        (CO × N)
//! A_b     = f(Z_b)
//!
//! Δ_b     = ∂L/∂A_b ⊙ f'(Z_b)
//! ∂L/∂W   = Σ_b Δ_b · col(x_b)ᵀ        (CO × CK, summed over the batch in row order)
//! ∂L/∂b   = Σ_b Δ_b 1
//! ∂L/∂x_b = col⁻¹(Wᵀ · Δ_b)           (Wᵀ Δ_b is CK × N)
//! ```
//!
//! `col⁻¹` ("col2im") is the adjoint of `col`: every entry of the `CK × N`
//! matrix is added back onto the input position it was copied from (the
//! padding's entries are dropped), which sums, for each input, the terms
//! `W_{o,i,kr,kc} · δ_{o,r,c}` of the input gradient in `# Math`.
//! [`Conv1d`] is the case `H = HO = 1`, `1 × K` kernels, no vertical
//! padding.
//!
//! `W` read with strides `(1, CK)` is `Wᵀ` and `col(x_b)` read with strides
//! `(1, N)` is `col(x_b)ᵀ`: [`gemm_into`] takes both as they are stored, and
//! `Z_b` is written straight into the sample's output tensor (into `A`'s
//! buffer, activated in place, when `f'` needs only `A`:
//! [`Activation::DERIVATIVE_FROM_OUTPUT`]).
//!
//! # Why one product per sample
//!
//! The batch could be one product, `W · [col(x_1) … col(x_B)]`, but its
//! result is channel-major across the batch (`CO × B·N`), not the
//! sample-major tensors the next layer reads, and its column matrices and
//! `Wᵀ Δ` (`CK × B·N`, 1.8 MB for W6's second convolution at 32 rows)
//! leave the cache. One product per sample writes each sample's output in
//! place and keeps `Wᵀ Δ_b` in one reused `CK × N` buffer (56 KB there).
//! The products alone, W6's six at 32 rows (`benches/cnn_train.rs`'s
//! shapes, on the AMD EPYC of `benches/README.md`): 1.9 ms per sample
//! against 2.1 ms as three batch-wide products per layer.
//!
//! # Summation order
//!
//! Every sum runs in an order fixed by the shapes alone: `matrixmultiply`'s
//! order inside a product (it depends on the CPU's kernel, as Dense's
//! batched path does), the weight gradient sample after sample (`β = 1`
//! from the second sample on), the bias gradient over samples, then
//! channels' positions in order, col2im over taps in weight order. The
//! results agree with the per-sample path to rounding (`tests/conv_batch.rs`
//! checks 1e-12 relative in `f64`), are reproducible on one machine, and are
//! not bit-identical across machines; the per-sample path is the one that
//! is.
//!
//! # Memory
//!
//! The buffers (column matrices of every row, `Z` if kept, `A`, `Δ`, one
//! `Wᵀ Δ_b`) grow to the largest batch seen and are reused: after the first
//! step the lowered path allocates nothing of its own; `matrixmultiply`
//! allocates its packing buffer on each of its calls (three per sample in a
//! training pass that wants the input gradient, two without).

extern crate alloc;

use super::kernels::Geometry;
use super::rows::SampleRows;
use super::{Conv1d, Conv2d};
use crate::activation::Activation;
use crate::gemm::{gemm_into, Matrix};
use crate::layer::Layer;
use crate::simd::Isa;
use alloc::vec::Vec;
use num_traits::Float;

/// A convolution as the lowered path sees it: its geometry, its tensors as
/// flat slices and its parameters as a `CO × CK` matrix and a bias vector.
pub(crate) trait Lowered: Layer {
    /// The activation `f`.
    type Activation: Activation;
    /// The sizes of one sample's convolution.
    const GEOMETRY: Geometry;
    /// `CO`, the output channels: the rows of `W`.
    const OUT_CHANNELS: usize;
    /// An output tensor of zeros.
    fn zero_output() -> Self::Output;
    /// Input tensors, one after another, as one slice.
    fn flat_inputs(x: &[Self::Input]) -> &[Self::Scalar];
    /// Input tensors, one after another, as one mutable slice.
    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [Self::Scalar];
    /// Output tensors, one after another, as one slice.
    fn flat_outputs(y: &[Self::Output]) -> &[Self::Scalar];
    /// Output tensors, one after another, as one mutable slice.
    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [Self::Scalar];
    /// `W`, `CO × CK` row-major (PyTorch's layout flattened), and `b`.
    fn parameters(&self) -> (&[Self::Scalar], &[Self::Scalar]);
    /// `W` and `b`, mutable (of a gradient).
    fn parameters_mut(&mut self) -> (&mut [Self::Scalar], &mut [Self::Scalar]);
}

/// Whether a convolution with `CK = CI·K·K` taps, `CO` output channels and
/// `N = HO·WO` output positions runs `rows` rows faster lowered to matrix
/// products than row by row through the per-sample kernels.
pub(crate) const fn lowering_pays(rows: usize, taps: usize, outputs: usize, positions: usize) -> bool {
    let _ = (taps, outputs, positions);
    rows >= 2
}

/// Whether layer `L` takes the lowered path for `rows` rows.
pub(crate) fn lowered<L: Lowered>(rows: usize) -> bool {
    let g = L::GEOMETRY;
    lowering_pays(rows, g.ci * g.kh * g.kw, L::OUT_CHANNELS, g.ho * g.wo)
}

/// A convolution's batch: the row-by-row path's rows and tapes, or the
/// lowered path's matrices, whichever the last forward pass used.
pub struct ConvRows<Y, Tape, T> {
    /// The row-by-row path.
    samples: SampleRows<Y, Tape>,
    /// Whether the last forward pass was lowered.
    lowered: bool,
    /// `col(x_b)` of every row, `CK × N` each, one after another.
    columns: Vec<T>,
    /// `Z`, one tensor per row (no rows if `f'` needs only `A`).
    pre_activation: Vec<Y>,
    /// `A`, one tensor per row.
    output: Vec<Y>,
    /// `∂L/∂A`, overwritten with `Δ` by the backward pass.
    gradient: Vec<Y>,
    /// `Wᵀ Δ_b` of one row, `CK × N`.
    d_columns: Vec<T>,
}

impl<Y, Tape, T> Default for ConvRows<Y, Tape, T> {
    fn default() -> Self {
        ConvRows {
            samples: SampleRows::default(),
            lowered: false,
            columns: Vec::new(),
            pre_activation: Vec::new(),
            output: Vec::new(),
            gradient: Vec::new(),
            d_columns: Vec::new(),
        }
    }
}

impl<Y: Copy, Tape, T> ConvRows<Y, Tape, T> {
    /// The outputs of the last forward pass and the buffer for their
    /// gradients.
    pub(crate) fn output_and_gradient(&mut self) -> (&[Y], &mut [Y]) {
        if self.lowered {
            (&self.output, &mut self.gradient)
        } else {
            self.samples.output_and_gradient()
        }
    }
}

impl<Y: Copy, Tape, T: Float + 'static> ConvRows<Y, Tape, T> {
    /// The forward pass of the rows of `input`: lowered if `lowered`, else
    /// row by row.
    #[inline(always)]
    pub(crate) fn forward<L, I>(&mut self, layer: &L, isa: I, input: &[L::Input], lowered: bool) -> &[Y]
    where
        L: Lowered<Output = Y, Tape = Tape, Scalar = T>,
        I: Isa,
    {
        self.lowered = lowered;
        if !lowered {
            return self.samples.forward(layer, isa, input);
        }
        let g = L::GEOMETRY;
        let (taps, positions, outputs) = (g.ci * g.kh * g.kw, g.ho * g.wo, L::OUT_CHANNELS);
        let rows = input.len();
        let keep_z = !<L::Activation as Activation>::DERIVATIVE_FROM_OUTPUT;
        // Growing allocates; shrinking and reuse do not.
        self.columns.resize(rows * taps * positions, T::zero());
        self.pre_activation.resize(if keep_z { rows } else { 0 }, L::zero_output());
        self.output.resize(rows, L::zero_output());
        self.gradient.resize(rows, L::zero_output());

        let (weights, bias) = layer.parameters();
        let w = Matrix::row_major(weights, outputs, taps);
        let z = if keep_z { &mut self.pre_activation } else { &mut self.output };
        let samples = L::flat_inputs(input)
            .chunks_exact(g.ci * g.h * g.w)
            .zip(self.columns.chunks_exact_mut(taps * positions))
            .zip(L::flat_outputs_mut(z).chunks_exact_mut(outputs * positions));
        for ((x, col), z) in samples {
            im2col(g, x, col);
            // Z_b = W · col(x_b)
            gemm_into(T::one(), w, Matrix::row_major(col, taps, positions), T::zero(), z);
        }
        // Z ← Z + b 1ᵀ, A = f(Z) (in place if Z is not kept)
        let f = <L::Activation as Activation>::f::<T>;
        if keep_z {
            let z = L::flat_outputs_mut(&mut self.pre_activation).chunks_exact_mut(positions);
            let a = L::flat_outputs_mut(&mut self.output).chunks_exact_mut(positions);
            for ((z, a), &b) in z.zip(a).zip(bias.iter().cycle()) {
                for (z, a) in z.iter_mut().zip(a) {
                    *z = *z + b;
                    *a = f(*z);
                }
            }
        } else {
            let a = L::flat_outputs_mut(&mut self.output).chunks_exact_mut(positions);
            for (a, &b) in a.zip(bias.iter().cycle()) {
                for a in a {
                    *a = f(*a + b);
                }
            }
        }
        &self.output
    }

    /// The backward pass of the rows of the last forward pass (for the
    /// same `input`), given `∂L/∂A` in the gradient buffer: writes
    /// (`WRITE`) or adds the parameter gradients summed over the rows into
    /// `grads`, and each row's `∂L/∂x` into `d_input` if given; by the path
    /// the forward pass took.
    #[inline(always)]
    pub(crate) fn backward<L, I, const WRITE: bool>(
        &mut self,
        layer: &L,
        isa: I,
        input: &[L::Input],
        grads: &mut L,
        d_input: Option<&mut [L::Input]>,
    ) where
        L: Lowered<Output = Y, Tape = Tape, Scalar = T>,
        I: Isa,
    {
        if !self.lowered {
            return self.samples.backward::<L, I, WRITE>(layer, isa, grads, d_input);
        }
        let g = L::GEOMETRY;
        let (taps, positions, outputs) = (g.ci * g.kh * g.kw, g.ho * g.wo, L::OUT_CHANNELS);
        let rows = input.len().min(self.output.len());
        let keep_z = !<L::Activation as Activation>::DERIVATIVE_FROM_OUTPUT;
        let ConvRows { columns, pre_activation, output, gradient, d_columns, .. } = self;
        d_columns.resize(taps * positions, T::zero());

        let (weights, _) = layer.parameters();
        let w_transposed = Matrix::transposed(weights, taps, outputs);
        let (d_weights, d_bias) = grads.parameters_mut();
        if WRITE {
            d_bias.fill(T::zero());
            if rows == 0 {
                d_weights.fill(T::zero());
            }
        }
        let tensor = outputs * positions;
        let a = L::flat_outputs(output).chunks_exact(tensor);
        // f' reads Z, or A standing in for it when it needs only A.
        let z = L::flat_outputs(if keep_z { pre_activation } else { output }).chunks_exact(tensor);
        let delta = L::flat_outputs_mut(gradient).chunks_exact_mut(tensor);
        let col = columns.chunks_exact(taps * positions);
        let mut d_x = d_input.map(|d| L::flat_inputs_mut(d).chunks_exact_mut(g.ci * g.h * g.w));
        let df = <L::Activation as Activation>::df::<T>;
        for (b, (((delta, z), a), col)) in delta.zip(z).zip(a).zip(col).take(rows).enumerate() {
            // Δ_b = ∂L/∂A_b ⊙ f'(Z_b, A_b)
            for ((d, &z), &a) in delta.iter_mut().zip(z).zip(a) {
                *d = *d * df(z, a);
            }
            let delta = &*delta;
            // ∂L/∂b += Δ_b 1
            for (db, delta) in d_bias.iter_mut().zip(delta.chunks_exact(positions)) {
                *db = *db + sum(delta);
            }
            // ∂L/∂W += Δ_b · col(x_b)ᵀ (written by the first row if WRITE)
            let beta = if WRITE && b == 0 { T::zero() } else { T::one() };
            gemm_into(
                T::one(),
                Matrix::row_major(delta, outputs, positions),
                Matrix::transposed(col, positions, taps),
                beta,
                d_weights,
            );
            // ∂L/∂x_b = col⁻¹(Wᵀ · Δ_b)
            if let Some(d_x) = d_x.as_mut().and_then(Iterator::next) {
                gemm_into(
                    T::one(),
                    w_transposed,
                    Matrix::row_major(delta, outputs, positions),
                    T::zero(),
                    d_columns,
                );
                col2im(g, d_columns, d_x);
            }
        }
    }
}

/// `Σ x`, in a fixed order that runs eight additions at a time: eight
/// running sums over `x[8k + j]` (the tail into the first ones), then
/// added pairwise, `((s₀ + s₄) + (s₂ + s₆)) + ((s₁ + s₅) + (s₃ + s₇))`.
#[inline(always)]
fn sum<T: Float>(x: &[T]) -> T {
    let mut s = [T::zero(); 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (s, &x) in s.iter_mut().zip(chunk) {
            *s = *s + x;
        }
    }
    for (s, &x) in s.iter_mut().zip(chunks.remainder()) {
        *s = *s + x;
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// The output positions `lo..hi` (along one dimension of `out` positions)
/// whose input position `p·s + k − pad` lies inside `0..n`, for kernel
/// offset `k` (empty, `lo = hi`, if there are none).
#[inline(always)]
fn span(k: usize, pad: usize, s: usize, n: usize, out: usize) -> (usize, usize) {
    // p·s + k ≥ pad  ⇔  p ≥ ⌈(pad − k) / s⌉
    let lo = if pad > k { (pad - k).div_ceil(s) } else { 0 };
    // p·s + k − pad < n  ⇔  p < ⌈(n + pad − k) / s⌉
    let hi = if n + pad > k { (n + pad - k).div_ceil(s).min(out) } else { 0 };
    (lo.min(hi), hi)
}

/// `col(x)`: the `CK × N` column matrix of one sample `x` (`CI × H × W`),
/// written into `col`.
#[inline(always)]
fn im2col<T: Float>(g: Geometry, x: &[T], col: &mut [T]) {
    let mut col_rows = col.chunks_exact_mut(g.ho * g.wo);
    for x_i in x.chunks_exact(g.h * g.w) {
        for kr in 0..g.kh {
            for kc in 0..g.kw {
                let Some(col_row) = col_rows.next() else { return };
                let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                let first = (c_lo * g.s + kc).saturating_sub(g.pw);
                for (r, out) in col_row.chunks_exact_mut(g.wo).enumerate() {
                    // The input row y = r·S + kr − P, if it is inside.
                    let y = r * g.s + kr;
                    let x_row = match y.checked_sub(g.ph) {
                        Some(y) if y < g.h => &x_i[y * g.w..][..g.w],
                        _ => {
                            out.fill(T::zero());
                            continue;
                        }
                    };
                    let (before, rest) = out.split_at_mut(c_lo);
                    let (inside, after) = rest.split_at_mut(c_hi - c_lo);
                    before.fill(T::zero());
                    after.fill(T::zero());
                    if inside.is_empty() {
                        continue;
                    }
                    if g.s == 1 {
                        inside.copy_from_slice(&x_row[first..][..inside.len()]);
                    } else {
                        for (out, &x) in inside.iter_mut().zip(x_row[first..].iter().step_by(g.s)) {
                            *out = x;
                        }
                    }
                }
            }
        }
    }
}

/// `col⁻¹`: every entry of the `CK × N` matrix `d_col` added onto the input
/// position of `d_x` (`CI × H × W`, overwritten) that `col` copied it from,
/// taps in weight order.
#[inline(always)]
fn col2im<T: Float>(g: Geometry, d_col: &[T], d_x: &mut [T]) {
    d_x.fill(T::zero());
    let mut col_rows = d_col.chunks_exact(g.ho * g.wo);
    for dx_i in d_x.chunks_exact_mut(g.h * g.w) {
        for kr in 0..g.kh {
            for kc in 0..g.kw {
                let Some(col_row) = col_rows.next() else { return };
                let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                let first = (c_lo * g.s + kc).saturating_sub(g.pw);
                for (r, d) in col_row.chunks_exact(g.wo).enumerate() {
                    let y = r * g.s + kr;
                    let dx_row = match y.checked_sub(g.ph) {
                        Some(y) if y < g.h => &mut dx_i[y * g.w..][..g.w],
                        _ => continue,
                    };
                    let inside = &d[c_lo..c_hi];
                    if inside.is_empty() {
                        continue;
                    }
                    if g.s == 1 {
                        for (dx, &d) in dx_row[first..].iter_mut().zip(inside) {
                            *dx = *dx + d;
                        }
                    } else {
                        for (dx, &d) in dx_row[first..].iter_mut().step_by(g.s).zip(inside) {
                            *dx = *dx + d;
                        }
                    }
                }
            }
        }
    }
}

impl<
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
        T: Float,
    > Lowered for Conv2d<CI, CO, K, S, P, H, W, HO, WO, A, T>
{
    type Activation = A;
    const GEOMETRY: Geometry = Geometry { ci: CI, kh: K, kw: K, s: S, ph: P, pw: P, h: H, w: W, ho: HO, wo: WO };
    const OUT_CHANNELS: usize = CO;

    fn zero_output() -> Self::Output {
        [[[T::zero(); WO]; HO]; CO]
    }

    fn flat_inputs(x: &[Self::Input]) -> &[T] {
        x.as_flattened().as_flattened().as_flattened()
    }

    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [T] {
        x.as_flattened_mut().as_flattened_mut().as_flattened_mut()
    }

    fn flat_outputs(y: &[Self::Output]) -> &[T] {
        y.as_flattened().as_flattened().as_flattened()
    }

    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [T] {
        y.as_flattened_mut().as_flattened_mut().as_flattened_mut()
    }

    fn parameters(&self) -> (&[T], &[T]) {
        (self.weights.as_flattened().as_flattened().as_flattened(), &self.bias)
    }

    fn parameters_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.weights.as_flattened_mut().as_flattened_mut().as_flattened_mut(), &mut self.bias)
    }
}

impl<
        const CI: usize,
        const CO: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const L: usize,
        const LO: usize,
        A: Activation,
        T: Float,
    > Lowered for Conv1d<CI, CO, K, S, P, L, LO, A, T>
{
    type Activation = A;
    // One row: a 1 × K kernel, no vertical padding.
    const GEOMETRY: Geometry = Geometry { ci: CI, kh: 1, kw: K, s: S, ph: 0, pw: P, h: 1, w: L, ho: 1, wo: LO };
    const OUT_CHANNELS: usize = CO;

    fn zero_output() -> Self::Output {
        [[T::zero(); LO]; CO]
    }

    fn flat_inputs(x: &[Self::Input]) -> &[T] {
        x.as_flattened().as_flattened()
    }

    fn flat_inputs_mut(x: &mut [Self::Input]) -> &mut [T] {
        x.as_flattened_mut().as_flattened_mut()
    }

    fn flat_outputs(y: &[Self::Output]) -> &[T] {
        y.as_flattened().as_flattened()
    }

    fn flat_outputs_mut(y: &mut [Self::Output]) -> &mut [T] {
        y.as_flattened_mut().as_flattened_mut()
    }

    fn parameters(&self) -> (&[T], &[T]) {
        (self.weights.as_flattened().as_flattened(), &self.bias)
    }

    fn parameters_mut(&mut self) -> (&mut [T], &mut [T]) {
        (self.weights.as_flattened_mut().as_flattened_mut(), &mut self.bias)
    }
}
