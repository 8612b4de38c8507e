//! The arithmetic of a convolution, on flat slices in PyTorch's layout:
//! the forward correlation, the parameter gradients and the input gradient.
//! `Conv2d` runs them directly; `Conv1d` is the case of one row (`H = 1`, a
//! `1 × K` kernel, no vertical padding).
//!
//! Every sum runs in a fixed order (input channel, kernel row, kernel
//! column, then output row and column), so the results have the same bits
//! on every platform; the loops that vectorise do so across output
//! positions, which are independent, never by reordering a sum.

use num_traits::Float;

/// The sizes of a convolution: `ci` input channels of `h × w`, `co` output
/// channels of `ho × wo`, a `kh × kw` kernel, stride `s`, zero padding `ph`
/// rows and `pw` columns on each side.
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    pub ci: usize,
    pub kh: usize,
    pub kw: usize,
    pub s: usize,
    pub ph: usize,
    pub pw: usize,
    pub h: usize,
    pub w: usize,
    pub ho: usize,
    pub wo: usize,
}

/// The output positions `lo..hi` (along one dimension of `out` positions)
/// whose input position `p·s + k − pad` lies inside `0..n`, for kernel
/// offset `k`.
#[inline(always)]
fn span(k: usize, pad: usize, s: usize, n: usize, out: usize) -> (usize, usize) {
    // p·s + k ≥ pad  ⇔  p ≥ ⌈(pad − k) / s⌉
    let lo = if pad > k { (pad - k).div_ceil(s) } else { 0 };
    // p·s + k − pad ≤ n − 1  ⇔  p ≤ ⌊(n − 1 + pad − k) / s⌋
    let hi = if n + pad > k { ((n - 1 + pad - k) / s + 1).min(out) } else { 0 };
    (lo, hi.max(lo))
}

/// The pre-activation `z_{o,r,c} = b_o + Σ_{i,kr,kc} W_{o,i,kr,kc} · x_{i, r·s + kr − ph, c·s + kc − pw}`
/// (terms in the padding are zero and skipped).
#[inline(always)]
pub(crate) fn correlate<T: Float>(g: Geometry, x: &[T], weights: &[T], bias: &[T], z: &mut [T]) {
    let outputs = z.chunks_exact_mut(g.ho * g.wo).zip(weights.chunks_exact(g.ci * g.kh * g.kw)).zip(bias);
    for ((z_o, w_o), &b) in outputs {
        z_o.fill(b);
        for (x_i, w_oi) in x.chunks_exact(g.h * g.w).zip(w_o.chunks_exact(g.kh * g.kw)) {
            for (kr, w_row) in w_oi.chunks_exact(g.kw).enumerate() {
                let (r_lo, r_hi) = span(kr, g.ph, g.s, g.h, g.ho);
                for (kc, &weight) in w_row.iter().enumerate() {
                    let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                    for r in r_lo..r_hi {
                        let y = r * g.s + kr - g.ph;
                        let x_row = &x_i[y * g.w..][..g.w];
                        let z_row = &mut z_o[r * g.wo..][..g.wo];
                        // z_{o,r,c} += W · x_{i, y, c·s + kc − pw} for every c in span
                        let first = c_lo * g.s + kc - g.pw;
                        let z_span = &mut z_row[c_lo..c_hi];
                        if g.s == 1 {
                            for (z, &x) in z_span.iter_mut().zip(&x_row[first..]) {
                                *z = *z + weight * x;
                            }
                        } else {
                            for (z, &x) in z_span.iter_mut().zip(x_row[first..].iter().step_by(g.s)) {
                                *z = *z + weight * x;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The parameter gradients from `δ = ∂L/∂z`, written (`WRITE`: `0 + g`) or
/// added into `d_weights` and `d_bias`:
///
/// ```text
/// ∂L/∂b_o          = Σ_{r,c} δ_{o,r,c}
/// ∂L/∂W_{o,i,kr,kc} = Σ_{r,c} δ_{o,r,c} · x_{i, r·s + kr − ph, c·s + kc − pw}
/// ```
///
/// the correlation of the input with `δ`.
#[inline(always)]
pub(crate) fn parameter_gradients<T: Float, const WRITE: bool>(
    g: Geometry,
    x: &[T],
    delta: &[T],
    d_weights: &mut [T],
    d_bias: &mut [T],
) {
    let outputs =
        delta.chunks_exact(g.ho * g.wo).zip(d_weights.chunks_exact_mut(g.ci * g.kh * g.kw)).zip(d_bias);
    for ((delta_o, dw_o), db) in outputs {
        let start = if WRITE { T::zero() } else { *db };
        *db = delta_o.iter().fold(start, |sum, &d| sum + d);
        for (x_i, dw_oi) in x.chunks_exact(g.h * g.w).zip(dw_o.chunks_exact_mut(g.kh * g.kw)) {
            for (kr, dw_row) in dw_oi.chunks_exact_mut(g.kw).enumerate() {
                let (r_lo, r_hi) = span(kr, g.ph, g.s, g.h, g.ho);
                for (kc, dw) in dw_row.iter_mut().enumerate() {
                    let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                    let mut sum = if WRITE { T::zero() } else { *dw };
                    for r in r_lo..r_hi {
                        let y = r * g.s + kr - g.ph;
                        let x_row = &x_i[y * g.w..][..g.w];
                        let d_span = &delta_o[r * g.wo..][c_lo..c_hi];
                        let first = c_lo * g.s + kc - g.pw;
                        for (&d, &x) in d_span.iter().zip(x_row[first..].iter().step_by(g.s)) {
                            sum = sum + d * x;
                        }
                    }
                    *dw = sum;
                }
            }
        }
    }
}

/// The input gradient from `δ = ∂L/∂z`:
///
/// ```text
/// ∂L/∂x_{i,y,x} = Σ_{o,kr,kc} W_{o,i,kr,kc} · δ_{o, (y + ph − kr)/s, (x + pw − kc)/s}
/// ```
///
/// over the terms whose output position exists: the full correlation of
/// `δ` with the flipped kernel. It is computed by scattering each output's
/// `W · δ` back onto the inputs it read, which visits the same terms.
/// `d_x` is overwritten.
#[inline(always)]
pub(crate) fn input_gradient<T: Float>(g: Geometry, weights: &[T], delta: &[T], d_x: &mut [T]) {
    d_x.fill(T::zero());
    for (delta_o, w_o) in delta.chunks_exact(g.ho * g.wo).zip(weights.chunks_exact(g.ci * g.kh * g.kw)) {
        for (dx_i, w_oi) in d_x.chunks_exact_mut(g.h * g.w).zip(w_o.chunks_exact(g.kh * g.kw)) {
            for (kr, w_row) in w_oi.chunks_exact(g.kw).enumerate() {
                let (r_lo, r_hi) = span(kr, g.ph, g.s, g.h, g.ho);
                for (kc, &weight) in w_row.iter().enumerate() {
                    let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
                    for r in r_lo..r_hi {
                        let y = r * g.s + kr - g.ph;
                        let dx_row = &mut dx_i[y * g.w..][..g.w];
                        let d_span = &delta_o[r * g.wo..][c_lo..c_hi];
                        let first = c_lo * g.s + kc - g.pw;
                        if g.s == 1 {
                            for (dx, &d) in dx_row[first..].iter_mut().zip(d_span) {
                                *dx = *dx + weight * d;
                            }
                        } else {
                            for (dx, &d) in dx_row[first..].iter_mut().step_by(g.s).zip(d_span) {
                                *dx = *dx + weight * d;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::span;
    extern crate alloc;
    use alloc::vec::Vec;

    /// `span` against its definition, by enumeration.
    #[test]
    fn span_is_the_set_of_outputs_inside_the_input() {
        for n in 1..12 {
            for kernel in 1..6 {
                for k in 0..kernel {
                    for pad in 0..4 {
                        for s in 1..4 {
                            if n + 2 * pad < kernel {
                                continue;
                            }
                            let out = (n + 2 * pad - kernel) / s + 1;
                            let inside: Vec<usize> =
                                (0..out).filter(|p| p * s + k >= pad && p * s + k - pad < n).collect();
                            let (lo, hi) = span(k, pad, s, n, out);
                            assert_eq!((lo..hi).collect::<Vec<_>>(), inside, "n {n} k {k} pad {pad} s {s}");
                        }
                    }
                }
            }
        }
    }
}
