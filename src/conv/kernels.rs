//! The arithmetic of a convolution, on flat slices in PyTorch's layout:
//! the forward correlation, the parameter gradients and the input gradient.
//! `Conv2d` runs them directly; `Conv1d` is the case of one row (`H = 1`, a
//! `1 × K` kernel, no vertical padding).
//!
//! Every sum runs in a fixed order (the forward sum: bias, then input
//! channel, kernel row, kernel column; a gradient's sum: output row and
//! column, or output channel, kernel row, kernel column), so the results
//! have the same bits on every platform; the loops that vectorise do so
//! across output positions or channels, which are independent, never by
//! reordering a sum.
//!
//! Each computation has two forms that give the same bits. The portable
//! ones ([`correlate`], [`parameter_gradients`], [`input_gradient`]) take
//! one output channel at a time and update whole rows in memory: small
//! code and no extra memory, the forms for microcontrollers. The forms for
//! desktop CPUs ([`WIDE_CPU`](crate::simd::WIDE_CPU)) put channels in the
//! SIMD lanes and keep blocks of sums in registers for the whole sum:
//! [`correlate_by_channels`] up to 16 output channels at up to 8
//! neighbouring positions of a row (each tap's weights for the block one
//! vector load, each input value one broadcast), reading the weights
//! transposed to `[tap][output channel]`;
//! [`parameter_gradients_by_channels`] the output channels of four input
//! channels' taps at once, reading `δ` by position;
//! [`input_gradient_by_channels`] up to 16 input channels at several
//! positions, gathering each input's terms in the order the portable
//! scatter adds them. `tests/conv_kernels.rs` checks them against naive
//! loops, and the unit tests below check that both forms give the same
//! bits.

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

/// `to[c·rows + r] = from[r·cols + c]`: the `rows × cols` matrix `from`
/// (row-major) transposed into `to` (`cols × rows`).
///
/// Never inlined: inlined where the sizes are constants, the compiler
/// unrolled it completely (a load and a store per value, thousands of
/// instructions in one block), and scheduling those blocks took seconds of
/// a W6 program's build. As a loop it is the same loads and stores.
#[inline(never)]
pub(crate) fn transpose<T: Copy>(from: &[T], rows: usize, to: &mut [T]) {
    let cols = from.len() / rows.max(1);
    for (r, row) in from.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if let Some(slot) = to.get_mut(c * rows + r) {
                *slot = v;
            }
        }
    }
}

/// The columns `c` of an output row whose whole window lies inside the
/// input (`0 ≤ c·s − pw` and `c·s + kw − 1 − pw < w`): `lo..hi`, where no
/// kernel column reads the padding.
#[inline(always)]
fn inside_columns(g: Geometry) -> (usize, usize) {
    let lo = g.pw.div_ceil(g.s);
    let hi = if g.w + g.pw >= g.kw { ((g.w + g.pw - g.kw) / g.s + 1).min(g.wo) } else { 0 };
    (lo, hi.max(lo))
}

/// [`correlate`] with the output channels in SIMD lanes, for desktop CPUs,
/// and `f` applied to each `z` as it is stored: the same sums, each in the
/// same order, so the same bits.
///
/// `by_tap` holds the weights transposed, one row of `CO` output channels
/// per tap: `by_tap[(i·kh + kr)·kw + kc][o] = W_{o,i,kr,kc}`. The output
/// channels go in blocks of 16, then 8, 4 and single channels; a block
/// computes its `z_{o,r,c}` for several positions `c` of a row at once
/// where the window lies inside the input (no tap needs a bounds test),
/// and one position at a time at the padded edges.
#[inline(always)]
pub(crate) fn correlate_by_channels<T: Float, const CO: usize>(
    g: Geometry,
    x: &[T],
    by_tap: &[[T; CO]],
    bias: &[T; CO],
    z: &mut [T],
    f: impl Fn(T) -> T + Copy,
) {
    let mut o = 0;
    while o + 16 <= CO {
        channel_block::<T, CO, 16, 4>(g, x, by_tap, bias, o, z, f);
        o += 16;
    }
    if o + 8 <= CO {
        channel_block::<T, CO, 8, 8>(g, x, by_tap, bias, o, z, f);
        o += 8;
    }
    if o + 4 <= CO {
        channel_block::<T, CO, 4, 8>(g, x, by_tap, bias, o, z, f);
        o += 4;
    }
    while o < CO {
        channel_block::<T, CO, 1, 8>(g, x, by_tap, bias, o, z, f);
        o += 1;
    }
}

/// `CB` lanes of a row of `by_tap`, from output channel `o0` on.
#[inline(always)]
fn lanes<T: Float, const CO: usize, const CB: usize>(row: &[T; CO], o0: usize) -> [T; CB] {
    match row.get(o0..o0 + CB) {
        Some(w) => <[T; CB]>::try_from(w).unwrap_or([T::zero(); CB]),
        None => [T::zero(); CB],
    }
}

/// The input row `y` read by kernel row `kr` of input channel `i` for
/// output row `r`, and that kernel row's taps, if the row is inside the
/// input.
#[inline(always)]
fn row_taps<T, const CO: usize>(
    g: Geometry,
    by_tap: &[[T; CO]],
    r: usize,
    i: usize,
    kr: usize,
) -> Option<(usize, &[[T; CO]])> {
    let (r_lo, r_hi) = span(kr, g.ph, g.s, g.h, g.ho);
    if r < r_lo || r >= r_hi {
        return None; // the row is padding
    }
    let taps = by_tap.get((i * g.kh + kr) * g.kw..(i * g.kh + kr + 1) * g.kw)?;
    Some((r * g.s + kr - g.ph, taps))
}

/// Stores `f(acc)` into position `(r, c)` of the block's `CB` channels
/// (`z` holds those channels only).
#[inline(always)]
fn store<T: Float, const CB: usize>(
    g: Geometry,
    z: &mut [T],
    r: usize,
    c: usize,
    acc: &[T; CB],
    f: &impl Fn(T) -> T,
) {
    for (v, &a) in acc.iter().enumerate() {
        if let Some(slot) = z.get_mut((v * g.ho + r) * g.wo + c) {
            *slot = f(a);
        }
    }
}

/// `f(z)` of the `CB` output channels `o0..o0 + CB` (see
/// [`correlate_by_channels`]): `PB` positions at a time where the window
/// lies inside the input, then 4 at a time, then one at a time.
#[inline(always)]
fn channel_block<T: Float, const CO: usize, const CB: usize, const PB: usize>(
    g: Geometry,
    x: &[T],
    by_tap: &[[T; CO]],
    bias: &[T; CO],
    o0: usize,
    z: &mut [T],
    f: impl Fn(T) -> T,
) {
    let plane = g.ho * g.wo;
    let b: [T; CB] = lanes(bias, o0);
    let Some(z) = z.get_mut(o0 * plane..(o0 + CB) * plane) else { return };
    let (c_lo, c_hi) = inside_columns(g);
    for r in 0..g.ho {
        let mut c = 0;
        while c < g.wo {
            if c >= c_lo && c + PB <= c_hi {
                for (p, acc) in positions::<T, CO, CB, PB>(g, x, by_tap, b, o0, r, c).iter().enumerate() {
                    store(g, z, r, c + p, acc, &f);
                }
                c += PB;
            } else if PB > 4 && c >= c_lo && c + 4 <= c_hi {
                for (p, acc) in positions::<T, CO, CB, 4>(g, x, by_tap, b, o0, r, c).iter().enumerate() {
                    store(g, z, r, c + p, acc, &f);
                }
                c += 4;
            } else {
                store(g, z, r, c, &position(g, x, by_tap, b, o0, r, c), &f);
                c += 1;
            }
        }
    }
}

/// The pre-activations of `PB` positions `c..c + PB` of output row `r`,
/// all of whose taps read inside the row.
#[inline(always)]
fn positions<T: Float, const CO: usize, const CB: usize, const PB: usize>(
    g: Geometry,
    x: &[T],
    by_tap: &[[T; CO]],
    b: [T; CB],
    o0: usize,
    r: usize,
    c: usize,
) -> [[T; CB]; PB] {
    let mut acc = [b; PB];
    for (i, x_i) in x.chunks_exact(g.h * g.w).enumerate() {
        for kr in 0..g.kh {
            let Some((y, taps)) = row_taps(g, by_tap, r, i, kr) else { continue };
            let first = y * g.w + c * g.s - g.pw;
            let Some(window) = x_i.get(first..first + (PB - 1) * g.s + g.kw) else { continue };
            for (kc, tap) in taps.iter().enumerate() {
                let w: [T; CB] = lanes(tap, o0);
                for (p, acc) in acc.iter_mut().enumerate() {
                    let x = window[p * g.s + kc];
                    for (a, &w) in acc.iter_mut().zip(&w) {
                        *a = *a + w * x; // z_{o,r,c+p} += W_{o,i,kr,kc} · x_{i,y,(c+p)·s+kc−pw}
                    }
                }
            }
        }
    }
    acc
}

/// The pre-activations of position `c` of output row `r`, with a bounds
/// test per tap.
#[inline(always)]
fn position<T: Float, const CO: usize, const CB: usize>(
    g: Geometry,
    x: &[T],
    by_tap: &[[T; CO]],
    b: [T; CB],
    o0: usize,
    r: usize,
    c: usize,
) -> [T; CB] {
    let (mut acc, first) = (b, (c * g.s) as isize - g.pw as isize);
    for (i, x_i) in x.chunks_exact(g.h * g.w).enumerate() {
        for kr in 0..g.kh {
            let Some((y, taps)) = row_taps(g, by_tap, r, i, kr) else { continue };
            let x_row = &x_i[y * g.w..][..g.w];
            for (kc, tap) in taps.iter().enumerate() {
                let Some(&x) = usize::try_from(first + kc as isize).ok().and_then(|col| x_row.get(col))
                else {
                    continue; // the column is padding
                };
                let w: [T; CB] = lanes(tap, o0);
                for (a, &w) in acc.iter_mut().zip(&w) {
                    *a = *a + w * x;
                }
            }
        }
    }
    acc
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

/// [`parameter_gradients`] with the output channels in SIMD lanes, for
/// desktop CPUs: the same sums, each in the same order (the positions in
/// row-major order), so the same bits.
///
/// `delta` holds `δ` by position, `delta[r·wo + c][o] = δ_{o,r,c}`;
/// `d_by_tap` (one row of `CO` channels per tap, as in
/// [`correlate_by_channels`]) and `d_bias` hold the values to add to and
/// receive the sums. Each tap's sums for `IB` input channels at once run
/// side by side (independent chains of additions), each position's `δ`
/// vector loaded once for them.
#[inline(always)]
pub(crate) fn parameter_gradients_by_channels<T: Float, const CO: usize>(
    g: Geometry,
    x: &[T],
    delta: &[[T; CO]],
    d_by_tap: &mut [[T; CO]],
    d_bias: &mut [T; CO],
) {
    for d in delta {
        for (b, &d) in d_bias.iter_mut().zip(d) {
            *b = *b + d; // ∂L/∂b_o += δ_{o,r,c}
        }
    }
    let mut i = 0;
    while i + 4 <= g.ci {
        tap_gradients::<T, CO, 4>(g, x, delta, d_by_tap, i);
        i += 4;
    }
    while i < g.ci {
        tap_gradients::<T, CO, 1>(g, x, delta, d_by_tap, i);
        i += 1;
    }
}

/// `∂L/∂W_{o,i,kr,kc} += Σ_{r,c} δ_{o,r,c} · x_{i, r·s + kr − ph, c·s + kc − pw}`
/// for the input channels `i0..i0 + IB`, every tap, every output channel.
#[inline(always)]
fn tap_gradients<T: Float, const CO: usize, const IB: usize>(
    g: Geometry,
    x: &[T],
    delta: &[[T; CO]],
    d_by_tap: &mut [[T; CO]],
    i0: usize,
) {
    let tap = |i: usize, kr: usize, kc: usize| (i * g.kh + kr) * g.kw + kc;
    for kr in 0..g.kh {
        let (r_lo, r_hi) = span(kr, g.ph, g.s, g.h, g.ho);
        for kc in 0..g.kw {
            let (c_lo, c_hi) = span(kc, g.pw, g.s, g.w, g.wo);
            let mut acc: [[T; CO]; IB] = core::array::from_fn(|b| {
                d_by_tap.get(tap(i0 + b, kr, kc)).copied().unwrap_or([T::zero(); CO])
            });
            for r in r_lo..r_hi {
                let y = r * g.s + kr - g.ph;
                let first = c_lo * g.s + kc - g.pw;
                let rows: [&[T]; IB] =
                    core::array::from_fn(|b| x.get(((i0 + b) * g.h + y) * g.w + first..).unwrap_or(&[]));
                let Some(d_row) = delta.get(r * g.wo + c_lo..r * g.wo + c_hi) else { continue };
                for (k, d) in d_row.iter().enumerate() {
                    for (acc, row) in acc.iter_mut().zip(&rows) {
                        let Some(&x) = row.get(k * g.s) else { continue };
                        for (a, &d) in acc.iter_mut().zip(d) {
                            *a = *a + d * x;
                        }
                    }
                }
            }
            for (b, acc) in acc.into_iter().enumerate() {
                if let Some(slot) = d_by_tap.get_mut(tap(i0 + b, kr, kc)) {
                    *slot = acc;
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

/// [`input_gradient`] with the input channels in SIMD lanes, for desktop
/// CPUs: each `∂L/∂x_{i,y,x}` gathered from its terms in the order the
/// scatter adds them (output channel, kernel row, kernel column, from 0),
/// so the same bits.
///
/// `by_output` holds the weights as one row of `CI` input channels per
/// output channel and tap: `by_output[(o·kh + kr)·kw + kc][i] =
/// W_{o,i,kr,kc}`. The input channels go in blocks of 16, 8, 4 and single
/// channels; at stride 1 a block gathers several positions of a row at once
/// where every kernel column meets an output, elsewhere one position at a
/// time with a test per term.
#[inline(always)]
pub(crate) fn input_gradient_by_channels<T: Float, const CI: usize>(
    g: Geometry,
    by_output: &[[T; CI]],
    delta: &[T],
    d_x: &mut [T],
) {
    let mut i = 0;
    while i + 16 <= CI {
        input_channel_block::<T, CI, 16, 4>(g, by_output, delta, i, d_x);
        i += 16;
    }
    if i + 8 <= CI {
        input_channel_block::<T, CI, 8, 8>(g, by_output, delta, i, d_x);
        i += 8;
    }
    if i + 4 <= CI {
        input_channel_block::<T, CI, 4, 8>(g, by_output, delta, i, d_x);
        i += 4;
    }
    while i < CI {
        input_channel_block::<T, CI, 1, 8>(g, by_output, delta, i, d_x);
        i += 1;
    }
}

/// The output row or column `(n + pad − k) / s` that reads input
/// position `n` through kernel offset `k`, if it is a whole output inside
/// `0..out`.
#[inline(always)]
fn reader(n: usize, k: usize, pad: usize, s: usize, out: usize) -> Option<usize> {
    let shifted = (n + pad).checked_sub(k)?;
    (shifted % s == 0 && shifted / s < out).then_some(shifted / s)
}

/// `∂L/∂x` of the `CB` input channels `i0..i0 + CB` (see
/// [`input_gradient_by_channels`]): at stride 1, `PB` positions at a time
/// where every kernel column meets an output, then 4 at a time, then one at
/// a time.
#[inline(always)]
fn input_channel_block<T: Float, const CI: usize, const CB: usize, const PB: usize>(
    g: Geometry,
    by_output: &[[T; CI]],
    delta: &[T],
    i0: usize,
    d_x: &mut [T],
) {
    let Some(d_x) = d_x.get_mut(i0 * g.h * g.w..(i0 + CB) * g.h * g.w) else { return };
    // At stride 1, the columns x whose every kernel column kc meets an
    // output column x + pw − kc inside 0..wo.
    let (x_lo, x_hi) = if g.s == 1 {
        let lo = (g.kw - 1).saturating_sub(g.pw);
        (lo, g.wo.saturating_sub(g.pw).min(g.w).max(lo))
    } else {
        (0, 0)
    };
    for y in 0..g.h {
        let mut x = 0;
        while x < g.w {
            if x >= x_lo && x + PB <= x_hi {
                for (p, acc) in gathered::<T, CI, CB, PB>(g, by_output, delta, i0, y, x).iter().enumerate() {
                    store_input(g, d_x, y, x + p, acc);
                }
                x += PB;
            } else if PB > 4 && x >= x_lo && x + 4 <= x_hi {
                for (p, acc) in gathered::<T, CI, CB, 4>(g, by_output, delta, i0, y, x).iter().enumerate() {
                    store_input(g, d_x, y, x + p, acc);
                }
                x += 4;
            } else {
                store_input(g, d_x, y, x, &gathered_one::<T, CI, CB>(g, by_output, delta, i0, y, x));
                x += 1;
            }
        }
    }
}

/// Stores `acc` into position `(y, x)` of the block's `CB` input channels
/// (`d_x` holds those channels only).
#[inline(always)]
fn store_input<T: Float, const CB: usize>(g: Geometry, d_x: &mut [T], y: usize, x: usize, acc: &[T; CB]) {
    for (v, &a) in acc.iter().enumerate() {
        if let Some(slot) = d_x.get_mut((v * g.h + y) * g.w + x) {
            *slot = a;
        }
    }
}

/// `∂L/∂x` at the `PB` positions `x..x + PB` of input row `y`, stride 1,
/// every kernel column meeting an output: the terms in the order
/// (output channel, kernel row, kernel column).
#[inline(always)]
fn gathered<T: Float, const CI: usize, const CB: usize, const PB: usize>(
    g: Geometry,
    by_output: &[[T; CI]],
    delta: &[T],
    i0: usize,
    y: usize,
    x: usize,
) -> [[T; CB]; PB] {
    let mut acc = [[T::zero(); CB]; PB];
    for (delta_o, taps_o) in delta.chunks_exact(g.ho * g.wo).zip(by_output.chunks_exact(g.kh * g.kw)) {
        for (kr, taps) in taps_o.chunks_exact(g.kw).enumerate() {
            let Some(r) = reader(y, kr, g.ph, g.s, g.ho) else { continue };
            // δ_{o,r,x+p+pw−kc} for the PB positions p and every kc.
            let first = r * g.wo + x + g.pw + 1 - g.kw;
            let Some(window) = delta_o.get(first..first + PB + g.kw - 1) else { continue };
            for (kc, tap) in taps.iter().enumerate() {
                let w: [T; CB] = lanes(tap, i0);
                for (p, acc) in acc.iter_mut().enumerate() {
                    let d = window[p + g.kw - 1 - kc];
                    for (a, &w) in acc.iter_mut().zip(&w) {
                        *a = *a + w * d; // ∂L/∂x_{i,y,x+p} += W_{o,i,kr,kc} · δ_{o,r,x+p+pw−kc}
                    }
                }
            }
        }
    }
    acc
}

/// `∂L/∂x` at position `x` of input row `y`, any stride, with a test per
/// term.
#[inline(always)]
fn gathered_one<T: Float, const CI: usize, const CB: usize>(
    g: Geometry,
    by_output: &[[T; CI]],
    delta: &[T],
    i0: usize,
    y: usize,
    x: usize,
) -> [T; CB] {
    let mut acc = [T::zero(); CB];
    for (delta_o, taps_o) in delta.chunks_exact(g.ho * g.wo).zip(by_output.chunks_exact(g.kh * g.kw)) {
        for (kr, taps) in taps_o.chunks_exact(g.kw).enumerate() {
            let Some(r) = reader(y, kr, g.ph, g.s, g.ho) else { continue };
            for (kc, tap) in taps.iter().enumerate() {
                let Some(c) = reader(x, kc, g.pw, g.s, g.wo) else { continue };
                let d = delta_o[r * g.wo + c];
                let w: [T; CB] = lanes(tap, i0);
                for (a, &w) in acc.iter_mut().zip(&w) {
                    *a = *a + w * d;
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::{correlate, correlate_by_channels, span, Geometry};
    extern crate alloc;
    use alloc::vec::Vec;

    /// `n` values in [-1, 1) from a fixed sequence.
    fn values(seed: u32, n: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The two forms of the forward correlation and of the parameter
    /// gradients (the microcontrollers' and the desktop CPUs') give the
    /// same bits, `f32`.
    fn same_bits<const CO: usize>(g: Geometry) {
        let taps = g.ci * g.kh * g.kw;
        let x = values(1, g.ci * g.h * g.w);
        let weights = values(2, CO * taps);
        let bias: [f32; CO] = core::array::from_fn(|o| values(3, CO)[o]);
        let by_tap: Vec<[f32; CO]> =
            (0..taps).map(|t| core::array::from_fn(|o| weights[o * taps + t])).collect();
        let mut z = alloc::vec![0.0; CO * g.ho * g.wo];
        correlate(g, &x, &weights, &bias, &mut z);
        let mut z_by_channels = alloc::vec![f32::NAN; CO * g.ho * g.wo];
        correlate_by_channels(g, &x, &by_tap, &bias, &mut z_by_channels, |v| v);
        let bits = |z: &[f32]| z.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let sizes = (g.ci, CO, g.kh, g.kw, g.s, g.ph, g.pw, g.h, g.w);
        assert_eq!(bits(&z), bits(&z_by_channels), "forward {sizes:?}");

        // The parameter gradients, added to earlier values.
        let delta = values(4, CO * g.ho * g.wo);
        let mut d_weights = values(5, CO * taps);
        let mut d_bias: [f32; CO] = core::array::from_fn(|o| values(6, CO)[o]);
        let mut d_by_tap: Vec<[f32; CO]> =
            (0..taps).map(|t| core::array::from_fn(|o| d_weights[o * taps + t])).collect();
        let mut d_bias_by_channels = d_bias;
        let plane = g.ho * g.wo;
        let by_position: Vec<[f32; CO]> =
            (0..plane).map(|k| core::array::from_fn(|o| delta[o * plane + k])).collect();
        super::parameter_gradients::<f32, false>(g, &x, &delta, &mut d_weights, &mut d_bias);
        super::parameter_gradients_by_channels(g, &x, &by_position, &mut d_by_tap, &mut d_bias_by_channels);
        let transposed: Vec<f32> = (0..CO).flat_map(|o| d_by_tap.iter().map(move |t| t[o])).collect();
        assert_eq!(bits(&d_weights), bits(&transposed), "weight gradients {sizes:?}");
        assert_eq!(bits(&d_bias), bits(&d_bias_by_channels), "bias gradients {sizes:?}");
    }

    /// The two forms of the input gradient give the same bits, `f32`.
    fn same_input_gradient_bits<const CI: usize>(g: Geometry, co: usize) {
        let taps = CI * g.kh * g.kw;
        let weights = values(7, co * taps);
        let delta = values(8, co * g.ho * g.wo);
        // by_output[(o·kh + kr)·kw + kc][i] = W_{o,i,kr,kc}
        let by_output: Vec<[f32; CI]> = (0..co * g.kh * g.kw)
            .map(|t| {
                let (o, k) = (t / (g.kh * g.kw), t % (g.kh * g.kw));
                core::array::from_fn(|i| weights[o * taps + i * g.kh * g.kw + k])
            })
            .collect();
        let mut d_x = alloc::vec![0.0; CI * g.h * g.w];
        let mut d_x_by_channels = alloc::vec![f32::NAN; CI * g.h * g.w];
        super::input_gradient(g, &weights, &delta, &mut d_x);
        super::input_gradient_by_channels(g, &by_output, &delta, &mut d_x_by_channels);
        let bits = |z: &[f32]| z.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&d_x),
            bits(&d_x_by_channels),
            "input gradient {:?}",
            (CI, co, g.kh, g.kw, g.s, g.ph, g.pw, g.h, g.w)
        );
    }

    fn geometry(ci: usize, k: usize, s: usize, p: usize, h: usize, w: usize) -> Geometry {
        let out = |n: usize| (n + 2 * p - k) / s + 1;
        Geometry { ci, kh: k, kw: k, s, ph: p, pw: p, h, w, ho: out(h), wo: out(w) }
    }

    #[test]
    fn both_forms_give_the_same_bits() {
        same_bits::<8>(geometry(1, 3, 1, 1, 28, 28));
        same_bits::<16>(geometry(8, 3, 1, 1, 14, 14));
        same_bits::<29>(geometry(3, 3, 1, 1, 7, 9));
        same_bits::<13>(geometry(2, 4, 2, 2, 9, 6));
        same_bits::<5>(geometry(2, 5, 3, 1, 11, 17));
        same_bits::<20>(geometry(1, 2, 1, 0, 5, 21));
        // 1-d: one row, a 1 × K kernel.
        same_bits::<12>(Geometry { ci: 3, kh: 1, kw: 5, s: 2, ph: 0, pw: 2, h: 1, w: 33, ho: 1, wo: 17 });
    }

    #[test]
    fn both_input_gradient_forms_give_the_same_bits() {
        same_input_gradient_bits::<8>(geometry(8, 3, 1, 1, 14, 14), 16);
        same_input_gradient_bits::<1>(geometry(1, 3, 1, 1, 28, 28), 8);
        same_input_gradient_bits::<29>(geometry(29, 3, 1, 1, 7, 9), 3);
        same_input_gradient_bits::<13>(geometry(13, 4, 2, 2, 9, 6), 5);
        same_input_gradient_bits::<5>(geometry(5, 5, 3, 1, 11, 17), 2);
        same_input_gradient_bits::<20>(geometry(20, 2, 1, 0, 5, 21), 4);
        same_input_gradient_bits::<6>(geometry(6, 5, 1, 0, 12, 30), 3);
        same_input_gradient_bits::<3>(
            Geometry { ci: 3, kh: 1, kw: 5, s: 2, ph: 0, pw: 2, h: 1, w: 33, ho: 1, wo: 17 },
            12,
        );
        same_input_gradient_bits::<4>(
            Geometry { ci: 4, kh: 1, kw: 3, s: 1, ph: 0, pw: 1, h: 1, w: 40, ho: 1, wo: 40 },
            6,
        );
    }

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
