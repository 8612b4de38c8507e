//! The per-sample path's inner loops, written so that the compiler turns them
//! into SIMD code, with an order of operations that does not depend on the
//! SIMD width.
//!
//! # Why dot products need care
//!
//! Floating-point addition is not associative, so a compiler may not turn
//! `Σ_i w_i x_i` into SIMD code by itself: that would change the result. The
//! dot products here fix an order that SIMD code can follow: [`LANES`] = 8
//! partial sums, where partial sum `k` adds the products of the inputs
//! `i ≡ k (mod 8)` in increasing `i`, and the eight are then combined in a
//! fixed tree,
//!
//! ```text
//! s = ((s₀ + s₄) + (s₂ + s₆)) + ((s₁ + s₅) + (s₃ + s₇))
//! ```
//!
//! which is also what a horizontal SIMD reduction computes. With SSE2 the
//! eight partial sums live in two 4-lane registers, with AVX2 in one 8-lane
//! register, on a Cortex-M in eight scalar registers: the order is in the
//! source, so every target computes the same bits. That is what lets
//! `embedded/ci.sh` compare the weights a microcontroller trains with the
//! host's, bit for bit. (No fused multiply-add either: Rust never contracts
//! `a * b + c` on its own, and nothing here asks for it.)
//!
//! Partial sums start at `-0.0`, the identity of IEEE addition
//! (`-0 + x = x` for every `x`, including `+0`), so the unused lanes of a
//! short row cost nothing: the compiler removes additions of `-0.0`.
//!
//! The other loops (bias, activation, `δ xᵀ`, `Wᵀ δ`) are elementwise along
//! a row, with sums over rows taken in row order, so they vectorise as they
//! are.
//!
//! # Runtime dispatch
//!
//! On x86 and x86-64 with the `std` feature, each `Dense` layer runs its
//! forward and backward pass compiled for AVX2 when the CPU has it
//! (`is_x86_feature_detected!`, checked once and cached by `std`), and for
//! the baseline (SSE2) otherwise. The two compilations compute the same bits:
//! the AVX2 build only has wider registers to hold the same lanes (FMA is
//! not enabled); the tests at the end of this file check that.

use crate::model::{Backward, Forward};
use num_traits::Float;

/// The number of partial sums in every dot product.
pub const LANES: usize = 8;

/// Whether the target is a desktop or server CPU (wide, out of order), for
/// choices that change speed and code size but never results.
pub(crate) const WIDE_CPU: bool =
    cfg!(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"));

/// The partial sums of `R` dot products `w_r · x` at once (the rows share
/// the loads of `x`, and the `R` independent chains of additions keep the
/// adder busy).
#[inline(always)]
fn partial_sums<T: Float, const IN: usize, const R: usize>(
    rows: [&[T; IN]; R],
    x: &[T; IN],
) -> [[T; LANES]; R] {
    let mut acc = [[-T::zero(); LANES]; R];
    let chunks = IN / LANES;
    for c in 0..chunks {
        let base = c * LANES;
        for (acc, row) in acc.iter_mut().zip(&rows) {
            for k in 0..LANES {
                acc[k] = acc[k] + row[base + k] * x[base + k];
            }
        }
    }
    let base = chunks * LANES;
    for k in 0..IN - base {
        for (acc, row) in acc.iter_mut().zip(&rows) {
            acc[k] = acc[k] + row[base + k] * x[base + k];
        }
    }
    acc
}

/// Combines the partial sums in the fixed tree.
#[inline(always)]
fn combine<T: Float>(s: [T; LANES]) -> T {
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// `Σ_i w_i x_i`, with [`LANES`] partial sums.
#[inline(always)]
pub fn dot<T: Float, const N: usize>(w: &[T; N], x: &[T; N]) -> T {
    let [sums] = partial_sums([w], x);
    combine(sums)
}

/// `z = W x + b`: `z_o = b_o + Σ_i W_oi x_i`, four rows at a time, each
/// row's sum exactly as [`dot`] computes it.
#[inline(always)]
pub fn affine<T: Float, const IN: usize, const OUT: usize>(
    weights: &[[T; IN]; OUT],
    bias: &[T; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    let mut z = *bias;
    // Four rows share each load of `x` and keep four independent chains of
    // additions in flight, which pays on out-of-order CPUs; a microcontroller
    // gains nothing from it but code size. Either way each row is summed in
    // the same order.
    let groups = if WIDE_CPU { OUT / 4 } else { 0 };
    for g in 0..groups {
        let o = 4 * g;
        let sums = partial_sums::<T, IN, 4>(core::array::from_fn(|r| &weights[o + r]), x);
        for (r, sums) in sums.into_iter().enumerate() {
            z[o + r] = z[o + r] + combine(sums);
        }
    }
    for o in 4 * groups..OUT {
        z[o] = z[o] + dot(&weights[o], x);
    }
    z
}

/// `[f(x₀), f(x₁), ...]`.
#[inline(always)]
pub fn map<T: Copy, const N: usize>(x: &[T; N], f: impl Fn(T) -> T) -> [T; N] {
    let mut y = *x;
    for v in y.iter_mut() {
        *v = f(*v);
    }
    y
}

/// `[f(a₀, b₀, c₀), f(a₁, b₁, c₁), ...]`.
#[inline(always)]
pub fn map3<T: Copy, const N: usize>(a: &[T; N], b: &[T; N], c: &[T; N], f: impl Fn(T, T, T) -> T) -> [T; N] {
    let mut y = *a;
    for ((y, &b), &c) in y.iter_mut().zip(b).zip(c) {
        *y = f(*y, b, c);
    }
    y
}

/// `y += x`, elementwise.
#[inline(always)]
pub fn add_assign<T: Float>(y: &mut [T], x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = *y + x;
    }
}

/// The two products of a layer's backward pass, in one sweep over `W`:
/// `G += δ xᵀ` (row `o` of `G` gains `δ_o x`; if `REPLACE`, `G ← 0 + δ xᵀ`,
/// the same bits as adding into zeros, without reading `G`) and, if
/// `INPUT_GRADIENT`, the returned `Wᵀ δ` (`Σ_o δ_o W_oi`, summed in order of
/// `o`; all zeros otherwise).
#[inline(always)]
pub fn outer_and_transposed<
    T: Float,
    const IN: usize,
    const OUT: usize,
    const INPUT_GRADIENT: bool,
    const REPLACE: bool,
>(
    weights: &[[T; IN]; OUT],
    delta: &[T; OUT],
    x: &[T; IN],
    grad_weights: &mut [[T; IN]; OUT],
) -> [T; IN] {
    // A local copy: the compiler then knows that writing `G` cannot change
    // `x`, and vectorises the update of `G`.
    let x = *x;
    let mut d_input = [-T::zero(); IN];
    for ((w, g), &d) in weights.iter().zip(grad_weights.iter_mut()).zip(delta) {
        for (g, &x) in g.iter_mut().zip(&x) {
            let before = if REPLACE { T::zero() } else { *g };
            *g = before + d * x; //  G_oi += δ_o x_i
        }
        if INPUT_GRADIENT {
            for (d_x, &w) in d_input.iter_mut().zip(w) {
                *d_x = *d_x + w * d; // ∂L/∂x_i += W_oi δ_o
            }
        }
    }
    if !INPUT_GRADIENT {
        d_input = [T::zero(); IN];
    }
    d_input
}

/// The instruction set a kernel is compiled for: [`Portable`] everywhere,
/// and on x86 CPUs that have it, a token that proves AVX2 support (which only
/// this module can make). Kernels take the instruction set as a value; the
/// operations that have a hand-written version for it
/// ([`affine`](Isa::affine)) go through it.
///
/// An implementation detail of the dispatch, public only because the hidden
/// `*_with` methods of [`Forward`] and [`Backward`] mention it; it is sealed.
#[doc(hidden)]
pub trait Isa: Copy + sealed::Sealed {
    /// `z = W x + b`, in the order of the portable [`affine`](self::affine).
    fn affine<T: Float, const IN: usize, const OUT: usize>(
        self,
        weights: &[[T; IN]; OUT],
        bias: &[T; OUT],
        x: &[T; IN],
    ) -> [T; OUT];
}

mod sealed {
    /// Only this module's instruction sets are [`Isa`](super::Isa)s.
    pub trait Sealed {}
    impl Sealed for super::Portable {}
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    impl Sealed for super::x86::Avx2 {}
}

/// The portable code, auto-vectorised for the target's baseline.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl Isa for Portable {
    #[inline(always)]
    fn affine<T: Float, const IN: usize, const OUT: usize>(
        self,
        weights: &[[T; IN]; OUT],
        bias: &[T; OUT],
        x: &[T; IN],
    ) -> [T; OUT] {
        affine(weights, bias, x)
    }
}

/// A computation that [`dispatch`] compiles once per instruction set.
///
/// `run` must be `#[inline(always)]`: it is then compiled into each
/// dispatcher, with that dispatcher's target features.
pub(crate) trait Kernel {
    /// What the computation returns.
    type Output;
    /// Runs the computation with the instruction set `isa`.
    fn run<I: Isa>(self, isa: I) -> Self::Output;
}

/// Runs `kernel`, compiled for AVX2 if this CPU has it (x86 with `std`),
/// else for the target's baseline. Both compute the same bits.
#[inline(always)]
pub(crate) fn dispatch<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    if let Some(avx2) = x86::Avx2::detect() {
        return avx2.run(kernel);
    }
    kernel.run(Portable)
}

/// [`Forward::forward_with`] as a [`Kernel`].
pub(crate) struct Forwards<'a, M: Forward> {
    pub model: &'a M,
    pub x: &'a M::Input,
}

impl<M: Forward> Kernel for Forwards<'_, M> {
    type Output = M::Output;
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) -> M::Output {
        self.model.forward_with(isa, self.x)
    }
}

/// [`Backward::forward_tape_with`] as a [`Kernel`].
pub(crate) struct ForwardsTape<'a, M: Backward> {
    pub model: &'a M,
    pub x: &'a M::Input,
}

impl<M: Backward> Kernel for ForwardsTape<'_, M> {
    type Output = (M::Output, M::Tape);
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) -> (M::Output, M::Tape) {
        self.model.forward_tape_with(isa, self.x)
    }
}

/// [`Backward::backward_with`] as a [`Kernel`].
pub(crate) struct Backwards<'a, M: Backward> {
    pub model: &'a M,
    pub tape: &'a M::Tape,
    pub d_output: &'a M::Output,
    pub grads: &'a mut M,
}

impl<M: Backward> Kernel for Backwards<'_, M> {
    type Output = M::Input;
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) -> M::Input {
        self.model.backward_with::<I, false>(isa, self.tape, self.d_output, self.grads)
    }
}

/// [`Backward::backward_params_with`] as a [`Kernel`].
pub(crate) struct BackwardsParams<'a, M: Backward> {
    pub model: &'a M,
    pub tape: &'a M::Tape,
    pub d_output: &'a M::Output,
    pub grads: &'a mut M,
}

impl<M: Backward> Kernel for BackwardsParams<'_, M> {
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) {
        self.model.backward_params_with::<I, false>(isa, self.tape, self.d_output, self.grads)
    }
}

/// AVX2: the dispatcher and the hand-written `f32` matrix-vector product.
///
/// Every function with `#[target_feature(enable = "avx2")]` is an
/// `unsafe fn` whose one requirement is that the CPU supports AVX2 (Rust
/// 1.85, this crate's minimum, has no safe `#[target_feature]` functions);
/// the intrinsics they call need nothing else (no pointers: vectors are
/// built from array elements and taken apart lane by lane). They are called
/// only through an [`Avx2`](x86::Avx2) value, which exists only once the CPU
/// has been found to support AVX2.
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[allow(unsafe_code)]
mod x86 {
    use super::{affine, Isa, Kernel, LANES};
    use crate::math::is_f32;
    #[cfg(target_arch = "x86")]
    use core::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::*;
    use num_traits::Float;

    /// Proof that the CPU supports AVX2: only [`Avx2::detect`] makes one.
    #[derive(Clone, Copy, Debug)]
    pub struct Avx2 {
        _checked: (),
    }

    impl Avx2 {
        /// `Some` if the CPU supports AVX2 (`std` caches the answer).
        #[inline(always)]
        pub(super) fn detect() -> Option<Self> {
            std::is_x86_feature_detected!("avx2").then_some(Avx2 { _checked: () })
        }

        /// Runs `kernel` compiled with AVX2.
        #[inline(always)]
        pub(super) fn run<K: Kernel>(self, kernel: K) -> K::Output {
            // SAFETY: `run` requires AVX2, and `self` exists only if the CPU
            // has it.
            unsafe { run(kernel, self) }
        }
    }

    /// `kernel.run(isa)` with AVX2 code generation (no FMA).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn run<K: Kernel>(kernel: K, isa: Avx2) -> K::Output {
        kernel.run(isa)
    }

    impl Isa for Avx2 {
        #[inline(always)]
        fn affine<T: Float, const IN: usize, const OUT: usize>(
            self,
            weights: &[[T; IN]; OUT],
            bias: &[T; OUT],
            x: &[T; IN],
        ) -> [T; OUT] {
            if is_f32::<T>() && IN >= LANES {
                // SAFETY: `affine_f32` requires AVX2, and `self` exists only if
                // the CPU has it.
                unsafe { affine_f32(weights, bias, x) }
            } else {
                affine(weights, bias, x)
            }
        }
    }

    /// `v` as `f32` (`T` is `f32` here: the identity, which compiles to
    /// nothing).
    #[inline(always)]
    fn to_f32<T: Float>(v: T) -> f32 {
        v.to_f32().unwrap_or(f32::NAN)
    }

    /// The first eight values of `chunk` as a vector, or, if it is shorter,
    /// its values followed by `pad`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2 (as for every function below).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load<T: Float>(chunk: &[T], pad: f32) -> __m256 {
        if let Some(Ok(c)) = chunk.get(..LANES).map(<&[T; LANES]>::try_from) {
            let c = c.map(to_f32);
            return _mm256_setr_ps(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
        }
        let mut c = [pad; LANES];
        for (c, &v) in c.iter_mut().zip(chunk) {
            *c = to_f32(v);
        }
        _mm256_setr_ps(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
    }

    /// `acc + w · x`, lane by lane, over one chunk of a row. In the last,
    /// partial chunk the missing lanes compute `acc + (-0) · 0 = acc`: the
    /// partial sums past the end of the row are left exactly as they are, as
    /// in the portable code.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate<T: Float>(acc: __m256, w: &[T], x: __m256) -> __m256 {
        _mm256_add_ps(acc, _mm256_mul_ps(load(w, -0.0), x))
    }

    /// The combining tree of one row's eight partial sums,
    /// `((s₀ + s₄) + (s₂ + s₆)) + ((s₁ + s₅) + (s₃ + s₇))`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn combine(s: __m256) -> f32 {
        let t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s)); // s_k + s_{k+4}
        let u = _mm_add_ps(t, _mm_movehl_ps(t, t)); //                                    t_k + t_{k+2}
        _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps::<1>(u, u))) //                     u_0 + u_1
    }

    /// `[t_a | t_b]` with `t_k = s_k + s_{k+4}` for the rows `a` and `b`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn halves(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(a, b), _mm256_permute2f128_ps::<0x31>(a, b))
    }

    /// From `[t_a | t_b]` and `[t_c | t_d]`: `[u_a, u_c | u_b, u_d]` with
    /// `u_k = t_k + t_{k+2}`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn quarters(ab: __m256, cd: __m256) -> __m256 {
        _mm256_add_ps(_mm256_shuffle_ps::<0b01_00_01_00>(ab, cd), _mm256_shuffle_ps::<0b11_10_11_10>(ab, cd))
    }

    /// The same tree for eight rows at once: lane `r` of the result is row
    /// `r`'s sum. The additions are those of [`combine`], with the rows'
    /// partial sums transposed into place between them.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn combine8(s: [__m256; 8]) -> __m256 {
        let (t01, t23, t45, t67) =
            (halves(s[0], s[1]), halves(s[2], s[3]), halves(s[4], s[5]), halves(s[6], s[7]));
        let (u0213, u4657) = (quarters(t01, t23), quarters(t45, t67));
        // u_0 + u_1, rows in the order 0 2 4 6 | 1 3 5 7
        let sums = _mm256_add_ps(
            _mm256_shuffle_ps::<0b10_00_10_00>(u0213, u4657),
            _mm256_shuffle_ps::<0b11_01_11_01>(u0213, u4657),
        );
        _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }

    /// Writes the eight lanes of `v` into `out` (as `T`, which is `f32`).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store<T: Float>(v: __m256, out: &mut [T]) {
        let (lo, hi) = (_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let lanes = [
            _mm_extract_ps::<0>(lo),
            _mm_extract_ps::<1>(lo),
            _mm_extract_ps::<2>(lo),
            _mm_extract_ps::<3>(lo),
            _mm_extract_ps::<0>(hi),
            _mm_extract_ps::<1>(hi),
            _mm_extract_ps::<2>(hi),
            _mm_extract_ps::<3>(hi),
        ];
        for (out, bits) in out.iter_mut().zip(lanes) {
            *out = T::from(f32::from_bits(bits as u32)).unwrap_or_else(T::nan);
        }
    }

    /// `z = W x + b` for `f32` with AVX2: eight rows at a time, each row's
    /// eight partial sums in one register, exactly the operations of the
    /// portable [`affine`] in the same order. `T` must be `f32` (the caller
    /// checks [`is_f32`]).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn affine_f32<T: Float, const IN: usize, const OUT: usize>(
        weights: &[[T; IN]; OUT],
        bias: &[T; OUT],
        x: &[T; IN],
    ) -> [T; OUT] {
        let mut z = *bias;
        let mut rows = weights.chunks_exact(8);
        let mut outputs = z.chunks_exact_mut(8);
        for (rows, z) in (&mut rows).zip(&mut outputs) {
            let mut acc = [_mm256_set1_ps(-0.0); 8];
            for (c, x) in x.chunks(LANES).enumerate() {
                let x = load(x, 0.0);
                for (acc, row) in acc.iter_mut().zip(rows) {
                    *acc = accumulate(*acc, row.get(c * LANES..).unwrap_or(&[]), x);
                }
            }
            let sums = _mm256_add_ps(load(z, 0.0), combine8(acc));
            store(sums, z);
        }
        for (row, z) in rows.remainder().iter().zip(outputs.into_remainder()) {
            let mut acc = _mm256_set1_ps(-0.0);
            for (c, x) in x.chunks(LANES).enumerate() {
                acc = accumulate(acc, row.get(c * LANES..).unwrap_or(&[]), load(x, 0.0));
            }
            *z = *z + T::from(combine(acc)).unwrap_or_else(T::nan);
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Activation, Identity, ReLU, Sigmoid, Tanh};
    use crate::dense::{Dense, DenseTape};
    use crate::model::Params;
    use rand::rngs::Xoshiro128PlusPlus;
    use rand::{RngExt, SeedableRng};

    /// The baseline and the dispatched (on this CPU: AVX2) compilations of a
    /// `Dense` layer's passes give the same bits, and `dot` is the naive sum
    /// up to rounding.
    fn same_bits<const IN: usize, const OUT: usize, A: Activation, T: Float + core::fmt::Debug>(seed: u64) {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let layer = Dense::<IN, OUT, A, T>::random(&mut rng);
        let mut draw = || T::from(rng.random::<f64>() * 4.0 - 2.0).unwrap();
        let x: [T; IN] = core::array::from_fn(|_| draw());
        let d_output: [T; OUT] = core::array::from_fn(|_| draw());

        let (a, tape) = ForwardsTape { model: &layer, x: &x }.run(Portable);
        let mut grads = Dense::zeroed();
        let d_input =
            Backwards { model: &layer, tape: &tape, d_output: &d_output, grads: &mut grads }.run(Portable);

        assert_eq!(dispatch(Forwards { model: &layer, x: &x }), a, "forward {IN}x{OUT}");
        let (a2, tape2): ([T; OUT], DenseTape<IN, OUT, T>) = dispatch(ForwardsTape { model: &layer, x: &x });
        assert_eq!((a2, tape2), (a, tape), "forward_tape {IN}x{OUT}");
        let mut grads2 = Dense::zeroed();
        let d_input2 =
            dispatch(Backwards { model: &layer, tape: &tape, d_output: &d_output, grads: &mut grads2 });
        assert_eq!(d_input2, d_input, "input gradient {IN}x{OUT}");
        assert_eq!(
            (grads2.weights, grads2.bias),
            (grads.weights, grads.bias),
            "parameter gradients {IN}x{OUT}"
        );
        let mut grads3 = Dense::zeroed();
        dispatch(BackwardsParams { model: &layer, tape: &tape, d_output: &d_output, grads: &mut grads3 });
        assert_eq!((grads3.weights, grads3.bias), (grads.weights, grads.bias), "backward_params {IN}x{OUT}");

        for o in 0..OUT {
            let naive = layer.weights[o].iter().zip(&x).fold(T::zero(), |s, (&w, &x)| s + w * x);
            let got = dot(&layer.weights[o], &x);
            let scale = layer.weights[o].iter().zip(&x).fold(T::zero(), |s, (&w, &x)| s + (w * x).abs());
            assert!(
                (got - naive).abs() <= scale * T::epsilon() * T::from(IN).unwrap(),
                "dot {got:?} vs {naive:?}"
            );
        }
    }

    #[test]
    fn dispatch_computes_the_same_bits() {
        same_bits::<1, 1, Tanh, f32>(1);
        same_bits::<2, 16, Tanh, f32>(2);
        same_bits::<16, 16, Tanh, f32>(3);
        same_bits::<17, 3, Sigmoid, f32>(4);
        same_bits::<33, 9, ReLU, f32>(5);
        same_bits::<784, 12, ReLU, f32>(6);
        same_bits::<8, 8, Tanh, f32>(9);
        same_bits::<9, 17, Tanh, f32>(10);
        same_bits::<64, 10, Identity, f32>(11);
        same_bits::<100, 31, Sigmoid, f32>(12);
        same_bits::<16, 16, Tanh, f64>(7);
        same_bits::<31, 5, Sigmoid, f64>(8);
    }

    /// A whole chain, dispatched once, against its layers run one by one
    /// with the portable code.
    #[test]
    fn a_dispatched_chain_computes_the_same_bits() {
        type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
        let net = Net::random(&mut rng);
        let x = [0.25, -1.5];
        let (y, tape) = net.forward_tape(&x);
        let (h1, t0) = net.0.forward_tape_with(Portable, &x);
        let (h2, t1) = net.1.forward_tape_with(Portable, &h1);
        let (y2, t2) = net.2.forward_tape_with(Portable, &h2);
        assert_eq!((y, tape), (y2, (t0, t1, t2)));
        assert_eq!(net.forward(&x), y);
        let (mut g, mut g2) = (Net::zeroed(), Net::zeroed());
        let d = net.backward(&tape, &[0.5], &mut g);
        let d2 = net.2.backward_with::<_, false>(Portable, &tape.2, &[0.5], &mut g2.2);
        let d2 = net.1.backward_with::<_, false>(Portable, &tape.1, &d2, &mut g2.1);
        let d2 = net.0.backward_with::<_, false>(Portable, &tape.0, &d2, &mut g2.0);
        assert_eq!(d, d2);
        assert_eq!(g, g2);
    }

    /// The replacing backward passes (`REPLACE`, the first sample of a
    /// batch) leave in `grads`, whatever it held, the bits that zeroing it
    /// and adding give. (The dispatch changes only the code generation, so
    /// the portable build is enough to check the rule.)
    #[test]
    fn replacing_gradients_has_the_bits_of_zeroing_and_adding() {
        type Net = (Dense<3, 16, Tanh>, Dense<16, 9, ReLU>, Dense<9, 2, Identity>);
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
        let net = Net::random(&mut rng);
        let garbage = Net::random(&mut rng);
        for x in [[0.25, -1.5, 3.0], [0.0, -0.0, 0.0], [-2.0, 0.5, 1e-3]] {
            let (_, tape) = net.forward_tape(&x);
            for d in [[0.5, -2.0], [0.0, -0.0]] {
                let mut added = Net::zeroed();
                let d_added = net.backward(&tape, &d, &mut added);
                let mut written = garbage;
                let d_written = net.backward_with::<_, true>(Portable, &tape, &d, &mut written);
                assert_eq!(d_written.map(f32::to_bits), d_added.map(f32::to_bits));
                let bits = |m: &Net| {
                    let mut v = std::vec::Vec::new();
                    m.for_each_tensor(|t| v.extend(t.iter().map(|x| x.to_bits())));
                    v
                };
                assert_eq!(bits(&written), bits(&added), "replacing backward at {x:?}, {d:?}");
                let mut added = Net::zeroed();
                net.backward_params(&tape, &d, &mut added);
                let mut written = garbage;
                net.backward_params_with::<_, true>(Portable, &tape, &d, &mut written);
                assert_eq!(bits(&written), bits(&added), "replacing backward_params at {x:?}, {d:?}");
            }
        }
    }

    /// On a CPU with AVX2 the tests above compare the AVX2 build with the
    /// baseline; say so if this one has none.
    #[test]
    fn the_test_machine_has_avx2() {
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        if !std::is_x86_feature_detected!("avx2") {
            std::eprintln!("no AVX2 on this CPU: the tests above compared the baseline with itself");
        }
    }
}
