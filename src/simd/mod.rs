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
//! On x86 and x86-64 with the `std` feature, every entry point of the crate
//! (a [`Kernel`], see `src/exec.rs`) runs compiled for AVX2 when the CPU has
//! it (`is_x86_feature_detected!`, checked once and cached by `std`;
//! `x86.rs`), and for the baseline (SSE2) otherwise. The two compilations
//! compute the same bits: the AVX2 build only has wider registers to hold
//! the same lanes (FMA is not enabled); `src/dense/tests.rs` checks that.

use crate::math::fixed::multiply_by_quantized_multiplier;
use num_traits::Float;

/// The number of partial sums in every dot product.
pub(crate) const LANES: usize = 8;

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
pub(crate) fn dot<T: Float, const N: usize>(w: &[T; N], x: &[T; N]) -> T {
    let [sums] = partial_sums([w], x);
    combine(sums)
}

/// `z = W x + b`: `z_o = b_o + Σ_i W_oi x_i`, four rows at a time, each
/// row's sum exactly as [`dot`] computes it.
#[inline(always)]
pub(crate) fn affine<T: Float, const IN: usize, const OUT: usize>(
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
pub(crate) fn map<T: Copy, const N: usize>(x: &[T; N], f: impl Fn(T) -> T) -> [T; N] {
    let mut y = *x;
    for v in y.iter_mut() {
        *v = f(*v);
    }
    y
}

/// `[f(a₀, b₀), f(a₁, b₁), ...]` (the batched path's bias and activation).
#[cfg(feature = "alloc")]
#[inline(always)]
pub(crate) fn map2<T: Copy, const N: usize>(a: &[T; N], b: &[T; N], f: impl Fn(T, T) -> T) -> [T; N] {
    let mut y = *a;
    for (y, &b) in y.iter_mut().zip(b) {
        *y = f(*y, b);
    }
    y
}

/// `[f(a₀, b₀, c₀), f(a₁, b₁, c₁), ...]`.
#[inline(always)]
pub(crate) fn map3<T: Copy, const N: usize>(
    a: &[T; N],
    b: &[T; N],
    c: &[T; N],
    f: impl Fn(T, T, T) -> T,
) -> [T; N] {
    let mut y = *a;
    for ((y, &b), &c) in y.iter_mut().zip(b).zip(c) {
        *y = f(*y, b, c);
    }
    y
}

/// `y += x`, elementwise.
#[inline(always)]
pub(crate) fn add_assign<T: Float>(y: &mut [T], x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = *y + x;
    }
}

/// The two products of a layer's backward pass, in one sweep over `W`:
/// `G += δ xᵀ` (row `o` of `G` gains `δ_o x`; if `WRITE`, `G ← 0 + δ xᵀ`,
/// the same bits as adding into zeros, without reading `G`) and, if
/// `INPUT_GRADIENT`, the returned `Wᵀ δ` (`Σ_o δ_o W_oi`, summed in order of
/// `o`; all zeros otherwise).
#[inline(always)]
pub(crate) fn outer_and_transposed<
    T: Float,
    const IN: usize,
    const OUT: usize,
    const INPUT_GRADIENT: bool,
    const WRITE: bool,
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
            let before = if WRITE { T::zero() } else { *g };
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
/// ([`affine`](Isa::affine), [`int8_affine`](Isa::int8_affine),
/// [`requantize`](Isa::requantize)) go through it.
///
/// Sealed: the execution seam ([`Layer`](crate::exec::Layer)) takes it in
/// every per-sample method, and only this module makes instruction sets.
pub trait Isa: Copy + sealed::Sealed {
    /// `z = W x + b`, in the order of the portable [`affine`](self::affine).
    fn affine<T: Float, const IN: usize, const OUT: usize>(
        self,
        weights: &[[T; IN]; OUT],
        bias: &[T; OUT],
        x: &[T; IN],
    ) -> [T; OUT];

    /// `acc = b + W x` for int8 codes in 32-bit integers (exact: any order
    /// gives the same sums), with the weights also given widened to 16 bits
    /// where the instruction set multiplies 16-bit pairs ([`Wide`]).
    fn int8_affine<const IN: usize, const OUT: usize>(
        self,
        weights: &[[i8; IN]; OUT],
        wide: &Wide<IN, OUT>,
        bias: &[i32; OUT],
        x: &[i8; IN],
    ) -> [i32; OUT];

    /// The int8 outputs of int32 accumulators: `y_o = clamp(zero_point +
    /// MultiplyByQuantizedMultiplier(acc_o, multipliers_o, shifts_o), lo,
    /// hi)`, as the portable [`requantize`](self::requantize) computes it.
    fn requantize<const OUT: usize>(
        self,
        acc: &[i32; OUT],
        multipliers: &[i32; OUT],
        shifts: &[i32; OUT],
        zero_point: i32,
        clamp: (i8, i8),
    ) -> [i8; OUT];
}

/// One int8 output of an int32 accumulator (see [`Isa::requantize`]).
#[inline(always)]
pub(crate) fn requantize_one(
    acc: i32,
    multiplier: i32,
    shift: i32,
    zero_point: i32,
    (lo, hi): (i8, i8),
) -> i8 {
    let v = multiply_by_quantized_multiplier(acc, multiplier, shift);
    v.saturating_add(zero_point).clamp(i32::from(lo), i32::from(hi)) as i8
}

/// [`Isa::requantize`], one output at a time.
#[inline(always)]
pub(crate) fn requantize<const OUT: usize>(
    acc: &[i32; OUT],
    multipliers: &[i32; OUT],
    shifts: &[i32; OUT],
    zero_point: i32,
    clamp: (i8, i8),
) -> [i8; OUT] {
    core::array::from_fn(|o| requantize_one(acc[o], multipliers[o], shifts[o], zero_point, clamp))
}

/// `Σ_i w_i x_i` of int8 codes in 32 bits (the products fit in 16 bits;
/// integer sums in any order are the same, so the compiler vectorises it).
#[inline(always)]
pub(crate) fn dot_i8<const IN: usize>(w: &[i8; IN], x: &[i8; IN]) -> i32 {
    let mut sum = 0i32;
    for (&w, &x) in w.iter().zip(x) {
        sum = sum.wrapping_add(i32::from(i16::from(w) * i16::from(x)));
    }
    sum
}

/// `acc = b + W x` for int8 codes, row by row.
#[inline(always)]
pub(crate) fn int8_affine<const IN: usize, const OUT: usize>(
    weights: &[[i8; IN]; OUT],
    bias: &[i32; OUT],
    x: &[i8; IN],
) -> [i32; OUT] {
    let mut acc = *bias;
    for (acc, row) in acc.iter_mut().zip(weights) {
        *acc = acc.wrapping_add(dot_i8(row, x));
    }
    acc
}

/// An int8 layer's weights widened to `i16`, for the AVX2 kernel, which
/// multiplies and adds 16-bit pairs straight from memory
/// (`vpmaddwd`); empty where no instruction set uses it (every target but
/// x86 with `std`, microcontrollers among them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wide<const IN: usize, const OUT: usize> {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    pub(crate) rows: [[i16; IN]; OUT],
}

impl<const IN: usize, const OUT: usize> Wide<IN, OUT> {
    /// All zeros (the widened weights of `QuantizedDense::EMPTY`).
    pub(crate) const EMPTY: Self = Wide {
        #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
        rows: [[0; IN]; OUT],
    };

    /// The widened copy of `weights`.
    #[allow(unused_variables)]
    pub(crate) fn new(weights: &[[i8; IN]; OUT]) -> Self {
        Wide {
            #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
            rows: core::array::from_fn(|o| weights[o].map(i16::from)),
        }
    }
}

mod sealed {
    /// Only this module's instruction sets are [`Isa`](super::Isa)s.
    pub trait Sealed {}
    impl Sealed for super::Portable {}
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    impl Sealed for super::x86::Avx2 {}
}

/// The portable code, auto-vectorised for the target's baseline.
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

    #[inline(always)]
    fn int8_affine<const IN: usize, const OUT: usize>(
        self,
        weights: &[[i8; IN]; OUT],
        _wide: &Wide<IN, OUT>,
        bias: &[i32; OUT],
        x: &[i8; IN],
    ) -> [i32; OUT] {
        int8_affine(weights, bias, x)
    }

    #[inline(always)]
    fn requantize<const OUT: usize>(
        self,
        acc: &[i32; OUT],
        multipliers: &[i32; OUT],
        shifts: &[i32; OUT],
        zero_point: i32,
        clamp: (i8, i8),
    ) -> [i8; OUT] {
        requantize(acc, multipliers, shifts, zero_point, clamp)
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

#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[allow(unsafe_code)]
mod x86;
