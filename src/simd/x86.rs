//! AVX2: the dispatcher and the hand-written kernels: the `f32`
//! matrix-vector product, and for int8 layers the 16-bit products
//! (`vpmaddwd`) and the requantization.
//!
//! Every function with `#[target_feature(enable = "avx2")]` is an
//! `unsafe fn` whose one requirement is that the CPU supports AVX2 (Rust
//! 1.85, this crate's minimum, has no safe `#[target_feature]` functions).
//! The `f32` kernel's intrinsics need nothing else (vectors are built from
//! array elements and taken apart lane by lane); the int8 kernels load and
//! store through pointers to fixed-size arrays of exactly the 32 bytes a
//! vector holds (`load_i16`, `load_i32`, and the stores), each with its
//! `// SAFETY:` comment. They are called only through an
//! [`Avx2`](x86::Avx2) value, which exists only once the CPU has been found
//! to support AVX2.

use super::{affine, requantize_one, Isa, Kernel, Wide, LANES};
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

    #[inline(always)]
    fn int8_affine<const IN: usize, const OUT: usize>(
        self,
        _weights: &[[i8; IN]; OUT],
        wide: &Wide<IN, OUT>,
        bias: &[i32; OUT],
        x: &[i8; IN],
    ) -> [i32; OUT] {
        // SAFETY: `int8_affine` requires AVX2, and `self` exists only if
        // the CPU has it.
        unsafe { int8_affine(&wide.rows, bias, x) }
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
        // SAFETY: `requantize` requires AVX2, and `self` exists only if the
        // CPU has it.
        unsafe { requantize(acc, multipliers, shifts, zero_point, clamp) }
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

/// Sixteen `i16` values as a vector.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_i16(chunk: &[i16; 16]) -> __m256i {
    // SAFETY: `chunk` is 16 readable `i16`s, the 32 bytes an unaligned
    // load reads.
    unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) }
}

/// `acc = b + W x` for int8 codes with AVX2: eight rows at a time, sixteen
/// inputs per step, each `vpmaddwd` multiplying sixteen 16-bit pairs and
/// adding neighbours into eight 32-bit sums; the eight rows' sums are then
/// reduced together. Integer sums are exact in any order, so this equals
/// the portable row-by-row loop.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn int8_affine<const IN: usize, const OUT: usize>(
    weights: &[[i16; IN]; OUT],
    bias: &[i32; OUT],
    x: &[i8; IN],
) -> [i32; OUT] {
    let x: [i16; IN] = x.map(i16::from);
    let chunks = IN / 16;
    let tail = chunks * 16;
    let tail_dot = |row: &[i16; IN]| -> i32 {
        let mut sum = 0i32;
        for (&w, &x) in row[tail..].iter().zip(&x[tail..]) {
            sum = sum.wrapping_add(i32::from(w) * i32::from(x));
        }
        sum
    };
    let mut acc = *bias;
    let mut rows = weights.chunks_exact(8);
    let mut outputs = acc.chunks_exact_mut(8);
    for (rows, out) in (&mut rows).zip(&mut outputs) {
        let mut sums = [_mm256_setzero_si256(); 8];
        for c in 0..chunks {
            let Ok(xc) = <&[i16; 16]>::try_from(&x[c * 16..c * 16 + 16]) else { continue };
            let xv = load_i16(xc);
            for (sum, row) in sums.iter_mut().zip(rows) {
                let Ok(wc) = <&[i16; 16]>::try_from(&row[c * 16..c * 16 + 16]) else { continue };
                *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(load_i16(wc), xv));
            }
        }
        // [r0 r1 r2 r3 | r0 r1 r2 r3] and [r4 .. r7 | r4 .. r7] halves, then the eight rows.
        let s01 = _mm256_hadd_epi32(sums[0], sums[1]);
        let s23 = _mm256_hadd_epi32(sums[2], sums[3]);
        let s45 = _mm256_hadd_epi32(sums[4], sums[5]);
        let s67 = _mm256_hadd_epi32(sums[6], sums[7]);
        let (s0123, s4567) = (_mm256_hadd_epi32(s01, s23), _mm256_hadd_epi32(s45, s67));
        let total = _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(s0123, s4567),
            _mm256_permute2x128_si256::<0x31>(s0123, s4567),
        );
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 8 writable `i32`s, the 32 bytes an unaligned
        // store writes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), total) };
        for ((out, lane), row) in out.iter_mut().zip(lanes).zip(rows) {
            *out = out.wrapping_add(lane).wrapping_add(tail_dot(row));
        }
    }
    for (row, out) in rows.remainder().iter().zip(outputs.into_remainder()) {
        let mut sum = _mm256_setzero_si256();
        for c in 0..chunks {
            let (Ok(wc), Ok(xc)) = (
                <&[i16; 16]>::try_from(&row[c * 16..c * 16 + 16]),
                <&[i16; 16]>::try_from(&x[c * 16..c * 16 + 16]),
            ) else {
                continue;
            };
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(load_i16(wc), load_i16(xc)));
        }
        let half = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256::<1>(sum));
        let pair = _mm_add_epi32(half, _mm_unpackhi_epi64(half, half));
        let total = _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_shuffle_epi32::<0b01>(pair)));
        *out = out.wrapping_add(total).wrapping_add(tail_dot(row));
    }
    acc
}

/// Eight `i32` values as a vector.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_i32(chunk: &[i32; 8]) -> __m256i {
    // SAFETY: `chunk` is 8 readable `i32`s, the 32 bytes an unaligned load
    // reads.
    unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) }
}

/// `SaturatingRoundingDoublingHighMul` of eight lanes: the 64-bit products
/// of the even and of the odd lanes (`vpmuldq`), each nudged by `2³⁰` (or
/// `1 − 2³⁰` when negative) and divided by `2³¹` toward zero, then merged;
/// `i32::MIN · i32::MIN` saturates to `i32::MAX`. Lane for lane the
/// arithmetic of [`srdhm`](crate::math::fixed::srdhm).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn srdhm8(a: __m256i, b: __m256i) -> __m256i {
    let half = |ab: __m256i| {
        // nudge = 2³⁰ if ab ≥ 0, else 1 − 2³⁰
        let negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), ab);
        let nudge =
            _mm256_blendv_epi8(_mm256_set1_epi64x(1 << 30), _mm256_set1_epi64x(1 - (1 << 30)), negative);
        let t = _mm256_add_epi64(ab, nudge);
        // t / 2³¹ toward zero: add 2³¹ − 1 to a negative t, then shift; the
        // low 32 bits of a logical shift are those of the arithmetic one.
        let t = _mm256_add_epi64(t, _mm256_and_si256(negative, _mm256_set1_epi64x((1 << 31) - 1)));
        _mm256_srli_epi64::<31>(t)
    };
    let even = half(_mm256_mul_epi32(a, b));
    let odd = half(_mm256_mul_epi32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(b)));
    // Lanes 0, 2, 4, 6 from `even`, 1, 3, 5, 7 from `odd` (moved up 32 bits).
    let merged = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
    let min = _mm256_set1_epi32(i32::MIN);
    let overflow = _mm256_and_si256(_mm256_cmpeq_epi32(a, min), _mm256_cmpeq_epi32(b, min));
    _mm256_blendv_epi8(merged, _mm256_set1_epi32(i32::MAX), overflow)
}

/// `RoundingDivideByPOT` of eight lanes, each by its own exponent in
/// `0..=31`: lane for lane the arithmetic of
/// [`rounding_divide_by_pot`](crate::math::fixed::rounding_divide_by_pot).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn rounding_divide_by_pot8(x: __m256i, exponent: __m256i) -> __m256i {
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, exponent), one); //   2^e − 1
    let remainder = _mm256_and_si256(x, mask);
    let negative = _mm256_cmpgt_epi32(_mm256_setzero_si256(), x); //         −1 where x < 0
    let threshold = _mm256_sub_epi32(_mm256_srai_epi32::<1>(mask), negative); // (mask >> 1) + [x < 0]
    let up = _mm256_cmpgt_epi32(remainder, threshold); //                     −1 where it rounds up
    _mm256_sub_epi32(_mm256_srav_epi32(x, exponent), up)
}

/// [`Isa::requantize`] with AVX2: eight outputs at a time, the same integer
/// operations as the portable loop, lane by lane (the remainder portably).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn requantize<const OUT: usize>(
    acc: &[i32; OUT],
    multipliers: &[i32; OUT],
    shifts: &[i32; OUT],
    zero_point: i32,
    (lo, hi): (i8, i8),
) -> [i8; OUT] {
    let mut y = [0i8; OUT];
    let blocks = OUT / 8;
    for b in 0..blocks {
        let range = b * 8..b * 8 + 8;
        let (Ok(a), Ok(m), Ok(s)) = (
            <&[i32; 8]>::try_from(&acc[range.clone()]),
            <&[i32; 8]>::try_from(&multipliers[range.clone()]),
            <&[i32; 8]>::try_from(&shifts[range.clone()]),
        ) else {
            continue;
        };
        let shift =
            _mm256_min_epi32(_mm256_max_epi32(load_i32(s), _mm256_set1_epi32(-31)), _mm256_set1_epi32(30));
        let left = _mm256_max_epi32(shift, _mm256_setzero_si256());
        let right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), shift), _mm256_setzero_si256());
        let x = _mm256_sllv_epi32(load_i32(a), left); // wrapping, as the scalar code
        let v = rounding_divide_by_pot8(srdhm8(x, load_i32(m)), right);
        // The zero point added with saturation, as `i32::saturating_add`.
        let z = _mm256_set1_epi32(zero_point);
        let sum = _mm256_add_epi32(v, z);
        // Overflow of v + z: the sign of the sum differs from both operands'.
        let overflow =
            _mm256_srai_epi32::<31>(_mm256_and_si256(_mm256_xor_si256(sum, v), _mm256_xor_si256(sum, z)));
        let saturated = _mm256_xor_si256(_mm256_srai_epi32::<31>(v), _mm256_set1_epi32(i32::MAX));
        let sum = _mm256_blendv_epi8(sum, saturated, overflow);
        let clamped = _mm256_min_epi32(
            _mm256_max_epi32(sum, _mm256_set1_epi32(i32::from(lo))),
            _mm256_set1_epi32(i32::from(hi)),
        );
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 8 writable `i32`s, the 32 bytes an unaligned
        // store writes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), clamped) };
        for (y, lane) in y[b * 8..b * 8 + 8].iter_mut().zip(lanes) {
            *y = lane as i8;
        }
    }
    for o in blocks * 8..OUT {
        y[o] = requantize_one(acc[o], multipliers[o], shifts[o], zero_point, (lo, hi));
    }
    y
}
