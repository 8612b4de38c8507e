//! The convolution kernels against naive reference loops, in `f64`.
//!
//! For `Conv1d` and `Conv2d` at odd sizes, strides 1 to 3, paddings 0 to 2,
//! kernels 1 to 5 and output channel counts that exercise every channel
//! block of the kernels (16, 8, 4 and single channels: 29 = 16 + 8 + 4 + 1),
//! the layer's forward pass, parameter gradients and input gradient are
//! compared with the definitions written as plain loops:
//!
//! ```text
//! z_{o,r,c}          = b_o + Σ_{i,kr,kc} W_{o,i,kr,kc} · x_{i, r·S + kr − P, c·S + kc − P}
//! ∂L/∂b_o            = Σ_{r,c} δ_{o,r,c}
//! ∂L/∂W_{o,i,kr,kc}  = Σ_{r,c} δ_{o,r,c} · x_{i, r·S + kr − P, c·S + kc − P}
//! ∂L/∂x_{i,y,x}      = Σ_{o,kr,kc} W_{o,i,kr,kc} · δ_{o, (y + P − kr)/S, (x + P − kc)/S}
//! ```
//!
//! (terms outside the input, or at positions that are not whole outputs,
//! left out). The forward sums run in the reference's order (bias, then
//! input channel, kernel row, kernel column), so `z` must agree exactly; the
//! gradients to a relative 1e-12. Every pass is also run twice and must give
//! the same bits, and the forward pass without a tape (`forward`, which
//! applies the activation as it stores) must give the bits of the one with
//! a tape. The same holds for the max pools, whose pass without a tape
//! computes the maxima alone.

use backprop::conv::out_len;
use backprop::prelude::*;
use rand::Rng;

const TOLERANCE: f64 = 1e-12;

/// Values uniform in [-1, 1).
fn values<R: Rng>(rng: &mut R, n: usize) -> Vec<f64> {
    (0..n).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0).collect()
}

/// `|a − b| ≤ 1e-12 · max(|a|, |b|, 1)`, element by element.
fn assert_close(what: &str, ours: &[f64], reference: &[f64]) {
    assert_eq!(ours.len(), reference.len(), "{what}: lengths");
    for (k, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let scale = a.abs().max(b.abs()).max(1.0);
        assert!(
            (a - b).abs() <= TOLERANCE * scale,
            "{what}[{k}]: {a} vs reference {b} (difference {:e})",
            a - b
        );
    }
}

/// The same bits, element by element.
fn assert_same_bits(what: &str, a: &[f64], b: &[f64]) {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a), bits(b), "{what}");
}

/// The naive 2-d convolution and its gradients, for `ci` input channels of
/// `h × w`, `co` output channels of `ho × wo`, a `k × k` kernel, stride `s`
/// and padding `p`; all tensors flat, row-major in PyTorch's layout.
struct Reference {
    ci: usize,
    co: usize,
    k: usize,
    s: usize,
    p: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
}

impl Reference {
    /// The input position read by output `(r, c)` through tap `(kr, kc)`,
    /// if it is inside the input.
    fn input_at(&self, r: usize, c: usize, kr: usize, kc: usize) -> Option<(usize, usize)> {
        let y = (r * self.s + kr).checked_sub(self.p)?;
        let x = (c * self.s + kc).checked_sub(self.p)?;
        (y < self.h && x < self.w).then_some((y, x))
    }

    fn weight(&self, weights: &[f64], o: usize, i: usize, kr: usize, kc: usize) -> f64 {
        weights[((o * self.ci + i) * self.k + kr) * self.k + kc]
    }

    fn forward(&self, x: &[f64], weights: &[f64], bias: &[f64]) -> Vec<f64> {
        let mut z = vec![0.0; self.co * self.ho * self.wo];
        for o in 0..self.co {
            for r in 0..self.ho {
                for c in 0..self.wo {
                    let mut sum = bias[o];
                    for i in 0..self.ci {
                        for kr in 0..self.k {
                            for kc in 0..self.k {
                                if let Some((y, xc)) = self.input_at(r, c, kr, kc) {
                                    sum += self.weight(weights, o, i, kr, kc)
                                        * x[(i * self.h + y) * self.w + xc];
                                }
                            }
                        }
                    }
                    z[(o * self.ho + r) * self.wo + c] = sum;
                }
            }
        }
        z
    }

    /// `(∂L/∂W, ∂L/∂b, ∂L/∂x)` for `δ = ∂L/∂z`.
    fn backward(&self, x: &[f64], weights: &[f64], delta: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut d_w = vec![0.0; self.co * self.ci * self.k * self.k];
        let mut d_b = vec![0.0; self.co];
        for o in 0..self.co {
            for r in 0..self.ho {
                for c in 0..self.wo {
                    d_b[o] += delta[(o * self.ho + r) * self.wo + c];
                }
            }
            for i in 0..self.ci {
                for kr in 0..self.k {
                    for kc in 0..self.k {
                        let mut sum = 0.0;
                        for r in 0..self.ho {
                            for c in 0..self.wo {
                                if let Some((y, xc)) = self.input_at(r, c, kr, kc) {
                                    sum += delta[(o * self.ho + r) * self.wo + c]
                                        * x[(i * self.h + y) * self.w + xc];
                                }
                            }
                        }
                        d_w[((o * self.ci + i) * self.k + kr) * self.k + kc] = sum;
                    }
                }
            }
        }
        // ∂L/∂x_{i,y,x}: the outputs (r, c) with r·S + kr − P = y and c·S + kc − P = x.
        let mut d_x = vec![0.0; self.ci * self.h * self.w];
        for i in 0..self.ci {
            for y in 0..self.h {
                for xc in 0..self.w {
                    let mut sum = 0.0;
                    for o in 0..self.co {
                        for kr in 0..self.k {
                            for kc in 0..self.k {
                                let (Some(rs), Some(cs)) =
                                    ((y + self.p).checked_sub(kr), (xc + self.p).checked_sub(kc))
                                else {
                                    continue;
                                };
                                let (r, c) = (rs / self.s, cs / self.s);
                                if rs % self.s == 0 && cs % self.s == 0 && r < self.ho && c < self.wo {
                                    sum += self.weight(weights, o, i, kr, kc)
                                        * delta[(o * self.ho + r) * self.wo + c];
                                }
                            }
                        }
                    }
                    d_x[(i * self.h + y) * self.w + xc] = sum;
                }
            }
        }
        (d_w, d_b, d_x)
    }
}

/// A `Conv2d` with random weights, biases, input and output gradient against
/// the reference.
fn check_2d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>(
    seed: u64,
) {
    let name = format!("Conv2d<{CI}, {CO}, {K}, {S}, {P}, {H}, {W}>");
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let weights = values(&mut rng, CO * CI * K * K);
    let bias = values(&mut rng, CO);
    let x_flat = values(&mut rng, CI * H * W);
    let d_out = values(&mut rng, CO * HO * WO);
    let reference = Reference { ci: CI, co: CO, k: K, s: S, p: P, h: H, w: W, ho: HO, wo: WO };

    let mut layer_weights = [[[[0.0; K]; K]; CI]; CO];
    for (slot, &v) in
        layer_weights.as_flattened_mut().as_flattened_mut().as_flattened_mut().iter_mut().zip(&weights)
    {
        *slot = v;
    }
    let layer_bias: [f64; CO] = core::array::from_fn(|o| bias[o]);
    let mut x = [[[0.0; W]; H]; CI];
    for (slot, &v) in x.as_flattened_mut().as_flattened_mut().iter_mut().zip(&x_flat) {
        *slot = v;
    }
    let mut d_y = [[[0.0; WO]; HO]; CO];
    for (slot, &v) in d_y.as_flattened_mut().as_flattened_mut().iter_mut().zip(&d_out) {
        *slot = v;
    }

    // Identity: z = a, δ = ∂L/∂a.
    let conv: Conv2d<CI, CO, K, S, P, H, W, HO, WO, Identity, f64> = Conv2d::new(layer_weights, layer_bias);
    let z_reference = reference.forward(&x_flat, &weights, &bias);
    let y = conv.forward(&x);
    let flat = |t: &[[[f64; WO]; HO]; CO]| t.as_flattened().as_flattened().to_vec();
    assert_same_bits(&format!("{name}: z"), &flat(&y), &z_reference);
    assert_same_bits(&format!("{name}: z, run twice"), &flat(&conv.forward(&x)), &flat(&y));

    let (y_tape, tape) = conv.forward_tape(&x);
    assert_same_bits(&format!("{name}: z with a tape"), &flat(&y_tape), &flat(&y));
    let mut grads = Conv2d::zeroed();
    let d_x = conv.backward(&tape, &d_y, &mut grads);
    let (d_w_reference, d_b_reference, d_x_reference) = reference.backward(&x_flat, &weights, &d_out);
    let d_w = grads.weights.as_flattened().as_flattened().as_flattened().to_vec();
    let d_x = d_x.as_flattened().as_flattened().to_vec();
    assert_close(&format!("{name}: ∂L/∂W"), &d_w, &d_w_reference);
    assert_close(&format!("{name}: ∂L/∂b"), &grads.bias, &d_b_reference);
    assert_close(&format!("{name}: ∂L/∂x"), &d_x, &d_x_reference);

    let mut again = Conv2d::zeroed();
    let d_x_again = conv.backward(&tape, &d_y, &mut again);
    assert_same_bits(
        &format!("{name}: ∂L/∂W, run twice"),
        again.weights.as_flattened().as_flattened().as_flattened(),
        &d_w,
    );
    assert_same_bits(&format!("{name}: ∂L/∂b, run twice"), &again.bias, &grads.bias);
    assert_same_bits(&format!("{name}: ∂L/∂x, run twice"), d_x_again.as_flattened().as_flattened(), &d_x);

    // ReLU, applied as `forward` stores: max(0, z) of the reference, and
    // the bits of the pass with a tape.
    let relu: Conv2d<CI, CO, K, S, P, H, W, HO, WO, ReLU, f64> = Conv2d::new(layer_weights, layer_bias);
    let a = flat(&relu.forward(&x));
    let a_reference: Vec<f64> = z_reference.iter().map(|&z| if z > 0.0 { z } else { 0.0 }).collect();
    assert_same_bits(&format!("{name}: ReLU"), &a, &a_reference);
    assert_same_bits(&format!("{name}: ReLU with a tape"), &flat(&relu.forward_tape(&x).0), &a);
}

/// A `Conv1d` against the reference (a 2-d convolution of one row is not
/// the same thing: its kernel is `1 × K` with no vertical padding, so the
/// reference runs on the sequence directly with `h = 1`, `k` columns).
fn check_1d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const L: usize,
    const LO: usize,
>(
    seed: u64,
) {
    let name = format!("Conv1d<{CI}, {CO}, {K}, {S}, {P}, {L}>");
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let weights = values(&mut rng, CO * CI * K);
    let bias = values(&mut rng, CO);
    let x_flat = values(&mut rng, CI * L);
    let d_out = values(&mut rng, CO * LO);

    let mut layer_weights = [[[0.0; K]; CI]; CO];
    for (slot, &v) in layer_weights.as_flattened_mut().as_flattened_mut().iter_mut().zip(&weights) {
        *slot = v;
    }
    let layer_bias: [f64; CO] = core::array::from_fn(|o| bias[o]);
    let mut x = [[0.0; L]; CI];
    for (slot, &v) in x.as_flattened_mut().iter_mut().zip(&x_flat) {
        *slot = v;
    }
    let mut d_y = [[0.0; LO]; CO];
    for (slot, &v) in d_y.as_flattened_mut().iter_mut().zip(&d_out) {
        *slot = v;
    }

    // The reference in 1-d: z_{o,t} = b_o + Σ_{i,j} W_{o,i,j} · x_{i, t·S + j − P}.
    let input_at = |t: usize, j: usize| (t * S + j).checked_sub(P).filter(|&u| u < L);
    let mut z_reference = vec![0.0; CO * LO];
    let mut d_w_reference = vec![0.0; CO * CI * K];
    let mut d_b_reference = vec![0.0; CO];
    let mut d_x_reference = vec![0.0; CI * L];
    for o in 0..CO {
        for t in 0..LO {
            let mut sum = bias[o];
            for i in 0..CI {
                for j in 0..K {
                    if let Some(u) = input_at(t, j) {
                        sum += weights[(o * CI + i) * K + j] * x_flat[i * L + u];
                    }
                }
            }
            z_reference[o * LO + t] = sum;
            d_b_reference[o] += d_out[o * LO + t];
        }
        for i in 0..CI {
            for j in 0..K {
                let mut sum = 0.0;
                for t in 0..LO {
                    if let Some(u) = input_at(t, j) {
                        sum += d_out[o * LO + t] * x_flat[i * L + u];
                    }
                }
                d_w_reference[(o * CI + i) * K + j] = sum;
            }
        }
    }
    for i in 0..CI {
        for u in 0..L {
            let mut sum = 0.0;
            for o in 0..CO {
                for j in 0..K {
                    let Some(ts) = (u + P).checked_sub(j) else { continue };
                    if ts % S == 0 && ts / S < LO {
                        sum += weights[(o * CI + i) * K + j] * d_out[o * LO + ts / S];
                    }
                }
            }
            d_x_reference[i * L + u] = sum;
        }
    }

    let conv: Conv1d<CI, CO, K, S, P, L, LO, Identity, f64> = Conv1d::new(layer_weights, layer_bias);
    let y = conv.forward(&x);
    assert_same_bits(&format!("{name}: z"), y.as_flattened(), &z_reference);
    assert_same_bits(&format!("{name}: z, run twice"), conv.forward(&x).as_flattened(), y.as_flattened());
    let (y_tape, tape) = conv.forward_tape(&x);
    assert_same_bits(&format!("{name}: z with a tape"), y_tape.as_flattened(), y.as_flattened());
    let mut grads = Conv1d::zeroed();
    let d_x = conv.backward(&tape, &d_y, &mut grads);
    assert_close(&format!("{name}: ∂L/∂W"), grads.weights.as_flattened().as_flattened(), &d_w_reference);
    assert_close(&format!("{name}: ∂L/∂b"), &grads.bias, &d_b_reference);
    assert_close(&format!("{name}: ∂L/∂x"), d_x.as_flattened(), &d_x_reference);
    let mut again = Conv1d::zeroed();
    let d_x_again = conv.backward(&tape, &d_y, &mut again);
    assert_same_bits(
        &format!("{name}: ∂L/∂W, run twice"),
        again.weights.as_flattened().as_flattened(),
        grads.weights.as_flattened().as_flattened(),
    );
    assert_same_bits(&format!("{name}: ∂L/∂x, run twice"), d_x_again.as_flattened(), d_x.as_flattened());

    let relu: Conv1d<CI, CO, K, S, P, L, LO, ReLU, f64> = Conv1d::new(layer_weights, layer_bias);
    let a_reference: Vec<f64> = z_reference.iter().map(|&z| if z > 0.0 { z } else { 0.0 }).collect();
    assert_same_bits(&format!("{name}: ReLU"), relu.forward(&x).as_flattened(), &a_reference);
    assert_same_bits(
        &format!("{name}: ReLU with a tape"),
        relu.forward_tape(&x).0.as_flattened(),
        &a_reference,
    );
}

/// `Conv2d<CI, CO, K, S, P, H, W>` with its output size from `out_len`.
macro_rules! conv2d {
    ($ci:literal, $co:literal, $k:literal, $s:literal, $p:literal, $h:literal, $w:literal, $seed:literal) => {
        check_2d::<$ci, $co, $k, $s, $p, $h, $w, { out_len($h, $k, $s, $p) }, { out_len($w, $k, $s, $p) }>(
            $seed,
        )
    };
}

/// `Conv1d<CI, CO, K, S, P, L>` with its output length from `out_len`.
macro_rules! conv1d {
    ($ci:literal, $co:literal, $k:literal, $s:literal, $p:literal, $l:literal, $seed:literal) => {
        check_1d::<$ci, $co, $k, $s, $p, $l, { out_len($l, $k, $s, $p) }>($seed)
    };
}

#[test]
fn conv2d_stride_1_against_the_reference() {
    conv2d!(1, 1, 1, 1, 0, 1, 1, 1);
    conv2d!(2, 3, 3, 1, 0, 7, 5, 2);
    conv2d!(3, 29, 3, 1, 1, 7, 9, 3); // channel blocks 16 + 8 + 4 + 1
    conv2d!(2, 20, 3, 1, 1, 14, 13, 4); // rows wide enough for whole position blocks
    conv2d!(3, 4, 5, 1, 2, 5, 5, 5);
    conv2d!(1, 9, 4, 1, 2, 6, 3, 6); // even kernel, wider padding than the input needs
    conv2d!(2, 17, 2, 1, 1, 3, 11, 7);
}

#[test]
fn conv2d_strides_2_and_3_against_the_reference() {
    conv2d!(2, 5, 3, 2, 1, 9, 7, 11);
    conv2d!(1, 8, 4, 2, 2, 6, 9, 12);
    conv2d!(2, 16, 3, 3, 2, 11, 10, 13);
    conv2d!(1, 12, 2, 3, 0, 8, 11, 14);
    conv2d!(3, 25, 5, 2, 0, 13, 19, 15);
    conv2d!(1, 9, 3, 3, 1, 3, 3, 16);
    conv2d!(2, 6, 1, 2, 0, 5, 7, 17);
}

#[test]
fn conv1d_against_the_reference() {
    conv1d!(1, 1, 1, 1, 0, 1, 21);
    conv1d!(2, 3, 3, 1, 0, 11, 22);
    conv1d!(3, 29, 3, 1, 1, 13, 23);
    conv1d!(2, 5, 4, 2, 2, 9, 24);
    conv1d!(1, 17, 5, 3, 2, 20, 25);
    conv1d!(2, 8, 2, 3, 0, 7, 26);
    conv1d!(3, 24, 3, 1, 2, 31, 27);
    conv1d!(2, 12, 5, 2, 1, 40, 28);
}

/// A max pool's forward pass without a tape (the maxima alone) gives the
/// bits of the pass with a tape, on values with ties, signed zeros and NaNs.
#[test]
fn max_pool_forward_without_a_tape_gives_the_same_bits() {
    let palette = [0.5, -0.0, 0.0, 1.5, 1.5, -2.0, f32::NAN, f32::from_bits(0xffc0_0001), f32::NEG_INFINITY];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(31);
    let mut pick = || palette[(rng.next_u32() % palette.len() as u32) as usize];
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();

    let mut image = [[[0.0f32; 9]; 6]; 3];
    image.as_flattened_mut().as_flattened_mut().iter_mut().for_each(|v| *v = pick());
    let pool2d: MaxPool2d<3, 3, 6, 9, 2, 3> = MaxPool2d::new();
    let (with_tape, _) = pool2d.forward_tape(&image);
    assert_eq!(
        bits(pool2d.forward(&image).as_flattened().as_flattened()),
        bits(with_tape.as_flattened().as_flattened())
    );

    let mut sequence = [[0.0f32; 12]; 4];
    sequence.as_flattened_mut().iter_mut().for_each(|v| *v = pick());
    let pool1d: MaxPool1d<4, 4, 12, 3> = MaxPool1d::new();
    let (with_tape, _) = pool1d.forward_tape(&sequence);
    assert_eq!(bits(pool1d.forward(&sequence).as_flattened()), bits(with_tape.as_flattened()));
}
