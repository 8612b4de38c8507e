"""Independent reference of backprop's int8 inference, and the generator of
tests/fixtures/int8_reference.txt, which tests/int8_reference.rs reads.

The reference follows /work/notes/int8-spec.md ("backprop int8: the
arithmetic", the TFLite int8 scheme with TFLite Micro's double rounding) step
by step, one function per step, each with the spec's formula in its
docstring. It was written from the specification alone, without reading the
Rust implementation, so that agreement between the two means something.

Integer arithmetic is done in Python ints (unbounded), with the int32
wrapping written out where the spec wraps and an assertion wherever the spec
promises that a value fits; never in floating point. Float steps use Python
floats (IEEE binary64, as Rust's f64) and numpy.float32 (IEEE binary32, as
Rust's f32); every rounding to an integer is done exactly on the rational
value of the float (fractions.Fraction), half away from zero.

Run from the repository root (needs numpy; CI does not run it, it only reads
the committed fixture):

    python3 tests/int8/reference.py

The fixture's format is described in its header (see `header()` below).
"""

import math
import os
import platform
import struct
import sys
from fractions import Fraction

import numpy as np

I32_MIN = -(2**31)
I32_MAX = 2**31 - 1

SEED = 20261130


class Refused(Exception):
    """A quantization the spec refuses (the Rust side returns an `Err`)."""


# ---------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------


def f32(x):
    """The f32 nearest to x (round to nearest, ties to even), as Rust's `as f32`."""
    return np.float32(x)


def wrap_i32(v):
    """v modulo 2^32, in [-2^31, 2^31): two's complement int32 wrapping."""
    return ((v + 2**31) % 2**32) - 2**31


def assert_i32(v, what):
    assert I32_MIN <= v <= I32_MAX, f"{what} = {v} does not fit in i32"
    return v


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def round_half_away(v):
    """Round to nearest, ties away from zero: C `round`, Rust `f64::round`.

    Not numpy's `np.round`, which rounds ties to even. Computed exactly on
    the rational value of `v` (a Python float, numpy float or Fraction):

        round_half_away(v) = sign(v) * floor(|v| + 1/2)
    """
    exact = Fraction(float(v)) if isinstance(v, np.floating) else Fraction(v)
    n = math.floor(abs(exact) + Fraction(1, 2))
    return n if exact >= 0 else -n


def round_clamped(v, lo, hi):
    """clamp(round_half_away(v), lo, hi), also for an infinite v (whose clamp
    is the bound on its side)."""
    if math.isinf(v):
        return hi if v > 0 else lo
    return clamp(round_half_away(v), lo, hi)


# ---------------------------------------------------------------------------
# Spec section 2: activation tensors, asymmetric int8 per tensor
# ---------------------------------------------------------------------------


def activation_params(range_min, range_max):
    """Scale and zero point of an activation tensor from its range.

        rmin = min(min, 0.0f32), rmax = max(max, 0.0f32)
        error unless rmin, rmax finite and rmax > rmin        ("collapsed range")
        scale = ((rmax as f64 - rmin as f64) / 255.0) as f32
        error unless scale > 0 and finite (f32)
        zero_point = clamp(round_half_away(-128.0 - rmin as f64 / scale as f64), -128, 127)

    Returns (scale: np.float32, zero_point: int).
    """
    range_min, range_max = f32(range_min), f32(range_max)
    # The spec's min/max are Rust's f32::min/max; a NaN bound is not covered
    # by the spec (Rust's min(NaN, 0) is 0). The fixture holds none; refuse.
    if math.isnan(range_min) or math.isnan(range_max):
        raise Refused("range bound is NaN")
    rmin = min(range_min, f32(0.0))
    rmax = max(range_max, f32(0.0))
    if not (math.isfinite(rmin) and math.isfinite(rmax)):
        raise Refused("range not finite")
    if not rmax > rmin:
        raise Refused("collapsed range")
    scale = f32((float(rmax) - float(rmin)) / 255.0)
    if not (scale > 0 and math.isfinite(scale)):
        raise Refused("scale not positive and finite")
    zero_point = round_clamped(-128.0 - float(rmin) / float(scale), -128, 127)
    return scale, zero_point


# ---------------------------------------------------------------------------
# Spec section 3: weights, symmetric int8 per output channel
# ---------------------------------------------------------------------------


def weight_quantize(weights):
    """Per output row o (weights is [OUT][IN] of f32):

        m = max_i |W[o][i]|  (f32)
        scale_w[o] = if m > 0 { (m as f64 / 127.0) as f32 } else { 1.0f32 }
        q[o][i] = clamp(round_half_away(W[o][i] as f64 / scale_w[o] as f64), -127, 127)

    Returns (q: list of rows of int, scale_w: list of np.float32).
    """
    q, scales = [], []
    for row in weights:
        row = [f32(w) for w in row]
        m = max(abs(w) for w in row)
        scale = f32(float(m) / 127.0) if m > 0 else f32(1.0)
        assert scale > 0, "the spec leaves a weight scale that underflows to 0 undefined"
        q.append([round_clamped(float(w) / float(scale), -127, 127) for w in row])
        scales.append(scale)
    return q, scales


# ---------------------------------------------------------------------------
# Spec section 4: bias, int32
# ---------------------------------------------------------------------------


def bias_quantize(bias, scale_in, weight_scales):
    """Per output o:

        bias_scale[o] = scale_in as f64 * scale_w[o] as f64     (f64 product of two f32)
        qb[o] = clamp(round_half_away(b[o] as f64 / bias_scale[o]), -2147483647, 2147483647)
    """
    out = []
    for b, scale_w in zip(bias, weight_scales):
        bias_scale = float(scale_in) * float(scale_w)
        out.append(round_clamped(float(f32(b)) / bias_scale, -I32_MAX, I32_MAX))
    return out


# ---------------------------------------------------------------------------
# Spec section 5: requantization multiplier and shift (TFLite QuantizeMultiplier)
# ---------------------------------------------------------------------------


def quantize_multiplier(m):
    """A real multiplier M >= 0 (f64) as (multiplier, shift), M ~ multiplier * 2^(shift - 31):

        if M == 0: (multiplier, shift) = (0, 0)
        else:
           (q, e) = frexp(M)                   # M = q * 2^e, q in [0.5, 1)
           q_fixed = round_half_away(q * 2^31)  (i64)
           if q_fixed == 2^31: q_fixed = 2^30; e += 1
           if e < -31: (q_fixed, e) = (0, 0)
           if e > 30: error ("multiplier too large")
           multiplier = q_fixed (in [2^30, 2^31 - 1]), shift = e (in [-31, 30])
    """
    m = float(m)
    assert math.isfinite(m) and m >= 0, "the spec defines M >= 0 finite only"
    if m == 0.0:
        return 0, 0
    q, e = math.frexp(m)
    q_fixed = round_half_away(q * 2.0**31)  # q * 2^31 is exact: a power-of-two scaling
    if q_fixed == 2**31:
        q_fixed = 2**30
        e += 1
    if e < -31:
        q_fixed, e = 0, 0
    if e > 30:
        raise Refused("multiplier too large")
    assert q_fixed == 0 or 2**30 <= q_fixed <= I32_MAX
    return q_fixed, e


def requantization_multiplier(scale_in, scale_w, scale_out):
    """M[o] = scale_in as f64 * scale_w[o] as f64 / scale_out as f64 (left to right, in f64)."""
    return float(scale_in) * float(scale_w) / float(scale_out)


# ---------------------------------------------------------------------------
# Spec section 6: integer inference of one layer
# ---------------------------------------------------------------------------


def trunc_div(n, d):
    """n / d truncated toward zero (C and Rust integer division), d > 0."""
    assert d > 0
    return n // d if n >= 0 else -((-n) // d)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul (gemmlowp):

        if a == b == -2^31: return 2^31 - 1
        ab = a as i64 * b as i64
        nudge = 2^30 if ab >= 0 else 1 - 2^30
        return ((ab + nudge) / 2^31 truncated toward zero) as i32
    """
    assert_i32(a, "srdhm a")
    assert_i32(b, "srdhm b")
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    return assert_i32(trunc_div(ab + nudge, 2**31), "srdhm result")


def rounding_divide_by_pot(x, exponent):
    """RoundingDivideByPOT (gemmlowp), exponent in 0..=31:

        mask = 2^e - 1
        remainder = x & mask
        threshold = (mask >> 1) + (1 if x < 0 else 0)
        return (x >> e) + (1 if remainder > threshold else 0)     # >> is arithmetic

    (Python's & and >> on negative ints act on the infinite two's complement,
    which for e <= 31 is the same as on an i32.)
    """
    assert_i32(x, "rounding_divide_by_pot x")
    assert 0 <= exponent <= 31
    mask = 2**exponent - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return assert_i32((x >> exponent) + (1 if remainder > threshold else 0), "rounding_divide_by_pot result")


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier, TFLM / CMSIS-NN default, "double rounding":

        left = max(s, 0); right = max(-s, 0)
        return RoundingDivideByPOT(SRDHM(x * 2^left (wrapping i32), m), right)
    """
    assert_i32(x, "x")
    assert -31 <= shift <= 30
    left = max(shift, 0)
    right = max(-shift, 0)
    return rounding_divide_by_pot(srdhm(wrap_i32(x * 2**left), multiplier), right)


def single_rounding(acc, multiplier, shift):
    """Not the spec: the single-rounding variant round_half_away(acc * M),
    M = multiplier * 2^(shift - 31), computed exactly. Only to count where
    the tie cases tell the two apart."""
    return round_half_away(Fraction(acc) * Fraction(multiplier) * Fraction(2) ** (shift - 31))


def single_rounding_tflite(acc, multiplier, shift):
    """Not the spec: TFLite's TFLITE_SINGLE_ROUNDING variant,
    (acc * multiplier + 2^(31 - shift - 1)) >> (31 - shift), i.e. acc * M
    rounded half up (toward +infinity). Only for the tie statistics."""
    total = 31 - shift
    return (acc * multiplier + 2 ** (total - 1)) >> total


def layer_accumulators(layer, x):
    """acc[o] = qb[o] + Σ_i q[o][i] * (x[i] - zx)      (i32; the fixture holds no overflow)"""
    zx = layer["input"][1]
    accs = []
    for row, qb in zip(layer["weights"], layer["bias"]):
        acc = qb + sum(q * (xi - zx) for q, xi in zip(row, x))
        accs.append(assert_i32(acc, "accumulator"))
    return accs


def layer_forward(layer, x, requantize=multiply_by_quantized_multiplier):
    """One quantized Dense layer on int8 input x (zero point zx), output zero point zy:

        acc[o] = qb[o] + Σ_i q[o][i] * (x[i] - zx)                    (i32)
        v = MultiplyByQuantizedMultiplier(acc[o], multiplier[o], shift[o])
        y[o] = clamp(v + zy, lo, hi)      (i8)
           Identity: lo = -128, hi = 127
           ReLU:     lo = max(-128, zy), hi = 127       (ReLU folded into the clamp)

    `requantize` is the spec's double rounding unless the tie statistics ask
    for a variant.
    """
    assert all(-128 <= xi <= 127 for xi in x)
    zy = layer["output"][1]
    lo, hi = layer["clamp"]
    y = []
    for acc, m, s in zip(layer_accumulators(layer, x), layer["multipliers"], layer["shifts"]):
        v = requantize(acc, m, s)
        y.append(clamp(assert_i32(v + zy, "v + zy"), lo, hi))
    return y


def output_clamp(zero_point, relu):
    """Identity: (-128, 127); ReLU: (max(-128, zy), 127)."""
    return (max(-128, zero_point), 127) if relu else (-128, 127)


def quantize_layer(weights, bias, input_params, output_range, relu):
    """Every integer parameter of one Dense layer (spec sections 2 to 6),
    given its input tensor's (scale, zero point) and its output range."""
    q, weight_scales = weight_quantize(weights)
    scale_in = input_params[0]
    scale_out, zero_out = activation_params(*output_range)
    qb = bias_quantize(bias, scale_in, weight_scales)
    pairs = [quantize_multiplier(requantization_multiplier(scale_in, sw, scale_out)) for sw in weight_scales]
    return {
        "weights": q,
        "bias": qb,
        "weight_scales": weight_scales,
        "multipliers": [m for m, _ in pairs],
        "shifts": [s for _, s in pairs],
        "input": input_params,
        "output": (scale_out, zero_out),
        "clamp": output_clamp(zero_out, relu),
        "relu": relu,
    }


def quantize_model(layers, input_range, output_ranges):
    """A chain of (weights, bias, relu) layers: layer k's input tensor
    parameters are layer k-1's output tensor parameters, the first layer's the
    model input's."""
    params = activation_params(*input_range)
    quantized = []
    for (weights, bias, relu), out_range in zip(layers, output_ranges):
        layer = quantize_layer(weights, bias, params, out_range, relu)
        quantized.append(layer)
        params = layer["output"]
    return quantized


# ---------------------------------------------------------------------------
# Spec section 7: at the edges
# ---------------------------------------------------------------------------


def quantize_input(x, scale, zero_point):
    """q = clamp(round_half_away(x / scale) as i32 + zp, -128, 127)   (x / scale in f32)

    `as i32` is Rust's saturating cast. The fixture holds no input whose
    x / scale reaches the i32 bounds (there `+ zp` could overflow)."""
    out = []
    for xi in x:
        v = f32(xi) / f32(scale)  # f32 division, correctly rounded
        assert isinstance(v, np.float32) and math.isfinite(v)
        r = round_half_away(v)
        assert I32_MIN < r < I32_MAX - 128
        out.append(clamp(r + zero_point, -128, 127))
    return out


# ---------------------------------------------------------------------------
# Spec section 1: the float forward and calibration (exact, for dyadic nets)
# ---------------------------------------------------------------------------


def exact_forward(layers, x):
    """The float forward a = f(W x + b) computed exactly in rationals, for the
    dyadic pipeline case. Asserts that every sum is exact in f32 whatever the
    order of summation (and with or without fused multiply-adds): all terms
    are multiples of 2^-k and the sum of their magnitudes is below 2^(24-k).
    Then the library's f32 forward must give exactly these values. Returns
    every layer's output (after its activation)."""
    outs = []
    a = [Fraction(float(f32(v))) for v in x]
    for weights, bias, relu in layers:
        z = []
        for row, b in zip(weights, bias):
            terms = [Fraction(float(w)) * ai for w, ai in zip(row, a)] + [Fraction(float(b))]
            k = max(max(t.denominator for t in terms).bit_length() - 1, 0)
            assert all((t * 2**k).denominator == 1 for t in terms)
            assert sum(abs(t) for t in terms) * 2**k < 2**24, "not exact in f32"
            z.append(sum(terms))
        a = [max(v, Fraction(0)) if relu else v for v in z]
        assert all(Fraction(float(f32(float(v)))) == v for v in a)
        outs.append(a)
    return outs


def calibrate(layers, samples):
    """Range per tensor: min and max over every sample and element, of the
    model input and of each layer's output (after its activation)."""
    if not samples:
        raise Refused("empty calibration set")
    tensors = [[list(map(Fraction, map(float, map(f32, s)))) for s in samples]]
    per_sample = [exact_forward(layers, s) for s in samples]
    for k in range(len(layers)):
        tensors.append([outs[k] for outs in per_sample])
    ranges = []
    for values in tensors:
        flat = [v for sample in values for v in sample]
        ranges.append((f32(float(min(flat))), f32(float(max(flat)))))
    return ranges[0], ranges[1:]


# ---------------------------------------------------------------------------
# The fixture
# ---------------------------------------------------------------------------


def hex32(v):
    return struct.pack(">f", f32(v)).hex()


def hex64(v):
    return struct.pack(">d", float(v)).hex()


def ints(values):
    return " ".join(str(int(v)) for v in values)


def hexes(values):
    return " ".join(hex32(v) for v in values)


def line(key, text):
    return f"{key} {text}"


def model_records(layers_float, quantized):
    """The float model and every integer parameter of each layer."""
    out = []
    for k, ((weights, bias, _), layer) in enumerate(zip(layers_float, quantized)):
        out.append(line(f"float{k}.weights", hexes(v for row in weights for v in row)))
        out.append(line(f"float{k}.bias", hexes(bias)))
        out.append(line(f"layer{k}.weights", ints(v for row in layer["weights"] for v in row)))
        out.append(line(f"layer{k}.bias", ints(layer["bias"])))
        out.append(line(f"layer{k}.weight_scales", hexes(layer["weight_scales"])))
        out.append(line(f"layer{k}.multipliers", ints(layer["multipliers"])))
        out.append(line(f"layer{k}.shifts", ints(layer["shifts"])))
        out.append(line(f"layer{k}.input", f"{hex32(layer['input'][0])} {layer['input'][1]}"))
        out.append(line(f"layer{k}.output", f"{hex32(layer['output'][0])} {layer['output'][1]}"))
        out.append(line(f"layer{k}.clamp", ints(layer["clamp"])))
    return out


def range_records(input_range, output_ranges):
    out = [line("range.input", hexes(input_range))]
    out += [line(f"range.layer{k}", hexes(r)) for k, r in enumerate(output_ranges)]
    return out


def sample_records(quantized, float_inputs=None, int_inputs=None):
    """Per sample: the float input `x` (if any), the quantized input `xq` and
    each layer's int8 output `y0`, `y1`, ...; the k-th line of each key
    belongs to the k-th sample."""
    out = []
    scale, zero_point = quantized[0]["input"]
    inputs = float_inputs if float_inputs is not None else int_inputs
    for sample in inputs:
        if float_inputs is not None:
            out.append(line("x", hexes(sample)))
            xq = quantize_input(sample, scale, zero_point)
        else:
            xq = sample
        out.append(line("xq", ints(xq)))
        y = xq
        for k, layer in enumerate(quantized):
            y = layer_forward(layer, y)
            out.append(line(f"y{k}", ints(y)))
    return out


# (a) primitives -------------------------------------------------------------


EDGES = [
    I32_MIN, I32_MIN + 1, I32_MIN + 2, -(2**30) - 1, -(2**30), -(2**30) + 1, -65537, -65536, -3, -2, -1,
    0, 1, 2, 3, 65536, 65537, 2**30 - 1, 2**30, 2**30 + 1, I32_MAX - 1, I32_MAX,
]


def random_i32(rng, n):
    return [int(v) for v in rng.integers(I32_MIN, I32_MAX, size=n, endpoint=True)]


def random_spread_i32(rng, n):
    """i32 values spread over every magnitude: sign * uniform in [0, 2^b), b uniform in 0..=31."""
    out = []
    for _ in range(n):
        bits = int(rng.integers(0, 32))
        v = int(rng.integers(0, 2**bits)) if bits else 0
        out.append(clamp(v if rng.random() < 0.5 else -v, I32_MIN, I32_MAX))
    return out


def check_primitives(srdhm_pairs, rdbp_pairs):
    """The two gemmlowp primitives against what they compute, by a second
    route: SRDHM(a, b) is a b / 2^31 rounded half up (toward +infinity),
    saturated at the one overflow; RoundingDivideByPOT(x, e) is x / 2^e
    rounded half away from zero."""
    for a, b in srdhm_pairs:
        want = I32_MAX if a == b == I32_MIN else math.floor(Fraction(a * b, 2**31) + Fraction(1, 2))
        assert srdhm(a, b) == want, (a, b)
    for x, e in rdbp_pairs:
        assert rounding_divide_by_pot(x, e) == round_half_away(Fraction(x, 2**e)), (x, e)


def primitive_cases(rng):
    out = []

    # srdhm: every pair of edge values, random pairs, and exact ties (a * b
    # an odd multiple of 2^30, where the nudge decides).
    pairs = [(a, b) for a in EDGES for b in EDGES]
    pairs += list(zip(random_i32(rng, 600), random_i32(rng, 600)))
    pairs += list(zip(random_spread_i32(rng, 600), random_spread_i32(rng, 600)))
    ties = 0
    for _ in range(600):
        b = int(rng.integers(2**30, 2**31)) | 1  # odd, so invertible mod 2^31
        a = (2**30 * pow(b, -1, 2**31)) % 2**31  # a * b = 2^30 (mod 2^31)
        a = wrap_i32(a + int(rng.integers(0, 2)) * 2**31)  # either sign
        pairs.append((a, b) if rng.random() < 0.5 else (b, a))
        ties += 1
    for _ in range(200):  # the TFLite case: a multiplier of 2^30, an odd x
        pairs.append((wrap_i32(int(rng.integers(I32_MIN, I32_MAX)) | 1), 2**30))
    for a, b in pairs:
        out.append(line("srdhm", ints((a, b, srdhm(a, b)))))
    counts = {"srdhm": len(pairs)}

    # rounding_divide_by_pot: edge and random x under every exponent, and
    # exact ties (x = k 2^e + 2^(e-1), both signs).
    xs = EDGES + random_i32(rng, 30) + random_spread_i32(rng, 30)
    triples = [(x, e) for x in xs for e in range(32)]
    for e in range(1, 32):
        for _ in range(12):
            k = int(rng.integers(-(2 ** (31 - e)), 2 ** (31 - e)))
            x = k * 2**e + 2 ** (e - 1)
            if I32_MIN <= x <= I32_MAX:
                triples.append((x, e))
    for x, e in triples:
        out.append(line("rdbp", ints((x, e, rounding_divide_by_pot(x, e)))))
    counts["rounding_divide_by_pot"] = len(triples)

    # multiply_by_quantized_multiplier: edge x under every shift with the
    # edge multipliers, random x, multipliers and shifts, multiplier 0.
    multipliers = [2**30, 2**30 + 1, I32_MAX]
    quads = [(x, m, s) for x in EDGES for m in multipliers for s in range(-31, 31)]
    quads += [(x, 0, 0) for x in EDGES]
    for x in random_i32(rng, 500) + random_spread_i32(rng, 800):
        m = int(rng.integers(2**30, 2**31))
        s = int(rng.integers(-31, 31))
        quads.append((x, m, s))
    for _ in range(400):  # small shifts, small x: where the requantization lives
        x = int(rng.integers(-(2**20), 2**20))
        m = int(rng.integers(2**30, 2**31))
        s = int(rng.integers(-12, 3))
        quads.append((x, m, s))
    check_primitives(pairs, triples)
    for x, m, s in quads:
        if I32_MIN <= x * 2 ** max(s, 0) <= I32_MAX:
            # No wrap: double rounding is less than one step from x M.
            exact = Fraction(x * m, 2 ** (31 - s))
            assert abs(multiply_by_quantized_multiplier(x, m, s) - exact) < 1, (x, m, s)
        out.append(line("mbqm", ints((x, m, s, multiply_by_quantized_multiplier(x, m, s)))))
    counts["multiply_by_quantized_multiplier"] = len(quads)

    # quantize_multiplier
    values = [0.0, 5e-324, 2.0**-1074, 1e-300, 1e-40, 1e-12, 1e-10, 1e-6, 0.1, 1 / 3, 0.5, 1.0, 2.0, 3.0, 1e3, 1e9,
              1e10, 1e300, sys.float_info.max]
    values += [2.0**k for k in range(-40, 35)]  # exact powers of two
    # Around the flush to zero (e < -31) and the top (e > 30).
    for e in (-33, -32, -31, -30, 29, 30, 31):
        for q in (0.5, 0.5 + 2**-53, 1 - 2**-53, 1 - 2**-33, 1 - 2**-32, 1 - 2**-32 - 2**-50, 1 - 2**-31,
                  1 - 2**-31 - 2**-52):
            values.append(math.ldexp(q, e))
    # q * 2^31 rounds up to 2^31: the (2^30, e + 1) correction.
    for _ in range(40):
        e = int(rng.integers(-34, 30))
        values.append(math.ldexp(1 - float(rng.integers(1, 2**20)) * 2**-53, e))
    # Exact ties q * 2^31 = n + 1/2 (where half away differs from half even
    # on every even n).
    for _ in range(300):
        n = int(rng.integers(2**30, 2**31 - 1))
        e = int(rng.integers(-31, 31))
        values.append(math.ldexp((n + 0.5) / 2**31, e))
    # Random magnitudes over the whole accepted range and beyond.
    for _ in range(400):
        values.append(float(2.0 ** rng.uniform(-40, 33)))
    refused = 0
    for v in values:
        assert math.isfinite(v) and v >= 0
        try:
            m, s = quantize_multiplier(v)
            out.append(line("qm", f"{hex64(v)} {m} {s}"))
        except Refused:
            out.append(line("qm", f"{hex64(v)} refused"))
            refused += 1
    counts["quantize_multiplier"] = len(values)
    counts["quantize_multiplier_refused"] = refused
    counts["srdhm_ties"] = ties
    return out, counts


# (b) a 3-layer net with explicit ranges --------------------------------------


def float_model_b(rng):
    """(Dense<5, 7, ReLU>, Dense<7, 4, ReLU>, Dense<4, 3, Identity>), rows of
    various magnitudes, a row of zeros (layer 0, row 3), a row whose bias
    saturates at -(2^31 - 1) with a multiplier that does not flush (layer 1,
    row 1) and one whose bias saturates at 2^31 - 1 with a multiplier flushed
    to zero (layer 2, row 2)."""
    def rows(n_out, n_in):
        mags = 10.0 ** rng.uniform(-1, 0.5, size=(n_out, 1))
        return [[f32(v) for v in row] for row in rng.standard_normal((n_out, n_in)) * mags]

    w0, w1, w2 = rows(7, 5), rows(4, 7), rows(3, 4)
    b0 = [f32(v) for v in rng.standard_normal(7) * 0.5]
    b1 = [f32(v) for v in rng.standard_normal(4) * 0.5]
    b2 = [f32(v) for v in rng.standard_normal(3) * 0.5]
    w0[3] = [f32(0.0)] * 5
    # Layer 1's input comes from a ReLU layer (x - zx >= 0): non-negative
    # weights keep qb + Σ from overflowing below -(2^31 - 1).
    w1[1] = [f32(abs(v)) for v in rng.standard_normal(7) * 1e-4]
    b1[1] = f32(-1e4)
    # Layer 2's input comes from a ReLU layer too: non-positive weights keep
    # the saturated positive bias from overflowing.
    w2[2] = [f32(-abs(v)) for v in rng.standard_normal(4) * 1e-12]
    b2[2] = f32(0.5)
    return [(w0, b0, True), (w1, b1, True), (w2, b2, False)]


def float_forward64(layers, x):
    a = [float(v) for v in x]
    outs = []
    for weights, bias, relu in layers:
        z = [float(b) + sum(float(w) * ai for w, ai in zip(row, a)) for row, b in zip(weights, bias)]
        a = [max(v, 0.0) for v in z] if relu else z
        outs.append(a)
    return outs


def inputs_b(rng, scale, zero_point, count):
    """Normal inputs, a few far outside the range, exact zeros and range
    edges, and inputs on exact ties of x / scale (in f32)."""
    xs = [[f32(v) for v in row] for row in rng.standard_normal((count - 40, 5)) * 1.5]
    for _ in range(16):
        row = [f32(v) for v in rng.standard_normal(5)]
        k = int(rng.integers(0, 5))
        row[k] = f32(float(rng.choice([-1, 1])) * float(rng.choice([5.0, 40.0, 1e3, 1e6])))
        xs.append(row)
    xs.append([f32(0.0)] * 5)
    xs.append([f32(-0.0), f32(0.0), f32(-0.0), f32(0.0), f32(-0.0)])
    xs.append([f32(-2.5), f32(3.0), f32(-2.5), f32(3.0), f32(0.0)])
    xs.append([f32(3.0), f32(-2.5), f32(1.0), f32(-1.0), f32(0.5)])
    ties = 0
    while len(xs) < count:
        row = []
        while len(row) < 5:
            k = int(rng.integers(-170, 170))
            x = f32((k + 0.5) * float(scale))
            if f32(x) / scale == f32(k + 0.5):
                row.append(x)
        xs.append(row)
        ties += 5
    return xs, ties


def case_three_layer(rng):
    layers = float_model_b(rng)
    input_range = (f32(-2.5), f32(3.0))
    # Ranges a little inside what the inputs reach, so that some outputs
    # saturate; from an f64 forward on a separate draw.
    probe = rng.standard_normal((400, 5)) * 1.5
    outs = [float_forward64(layers, x) for x in probe]
    ranges = []
    for k, (_, _, relu) in enumerate(layers):
        values = np.array([o[k] for o in outs])
        lo, hi = np.percentile(values, 3), np.percentile(values, 97)
        ranges.append((f32(0.0) if relu else f32(lo), f32(hi)))
    quantized = quantize_model(layers, input_range, ranges)
    assert quantized[1]["bias"][1] == -I32_MAX and quantized[1]["multipliers"][1] != 0
    assert quantized[2]["bias"][2] == I32_MAX and quantized[2]["multipliers"][2] == 0
    assert quantized[0]["weight_scales"][3] == 1.0 and quantized[0]["weights"][3] == [0] * 5
    xs, input_ties = inputs_b(rng, *quantized[0]["input"], 200)
    records = range_records(input_range, ranges) + model_records(layers, quantized)
    records += sample_records(quantized, float_inputs=xs)
    return records, {"samples": len(xs), "input_ties": input_ties}


# (c) ties ------------------------------------------------------------------

# Row o's requantization multiplier is M_o = 2^-(t_o + 1), so (multiplier,
# shift) = (2^30, -t_o). Input scale 2^-4, output scale 2^-5, weight scales
# 2^-(t_o + 2).
TIE_T = [0, 1, 2, 3, 5, 7]
TIE_INPUT_RANGE = (f32(-6.0), f32(9.9375))  # scale 2^-4, zero point -32


def tie_model(rng, relu):
    """Dense<8, 6, A>: in row o the diagonal weight is ±127 (sets the row's
    scale and, being odd, reaches every residue of the accumulator), the
    rest of columns 0..6 is lower triangular (so the inputs can be solved in
    order), columns 6 and 7 are free; small off-diagonal weights keep the
    accumulators where the outputs do not saturate."""
    weights, bias = [], []
    for o, t in enumerate(TIE_T):
        q = [0] * 8
        q[o] = int(rng.choice([-127, 127]))
        for j in list(range(o)) + [6, 7]:
            q[j] = int(rng.integers(-8, 9))
        scale_w = 2.0 ** -(t + 2)
        weights.append([f32(v * scale_w) for v in q])
        qb = int(rng.integers(-300, 301))
        bias.append(f32(qb * 2.0**-4 * scale_w))
    # Output scale 2^-5; the ReLU layer's range starts below zero, so that its
    # clamp's lower bound is its zero point, not -128.
    out_range = (f32(-40 / 32), f32(215 / 32)) if relu else (f32(-100 / 32), f32(155 / 32))
    return [(weights, bias, relu)], out_range


def tie_class_ok(cls, acc, t):
    if cls == "differ":  # double and single rounding differ here
        if t == 0:
            return acc < 0 and acc % 2 == 1
        return acc > 0 and acc % 2 ** (t + 1) == 2**t - 1
    if cls == "tie":  # an exact tie of the single rounding (both agree)
        if t == 0:
            return acc > 0 and acc % 2 == 1
        return acc % 2 ** (t + 1) == 2**t
    return True


def tie_inputs(rng, layer, count):
    """int8 inputs solved row by row so that each accumulator lands in a
    chosen class: 'differ' (a tie of the first rounding whose result is a
    tie of the second: double and single rounding differ), 'tie' (an exact
    tie of acc * M, where both round half away) or 'free'."""
    zx = layer["input"][1]
    q, qb = layer["weights"], layer["bias"]
    inputs, missed = [], 0
    for _ in range(count):
        x = [0] * 8
        x[6], x[7] = (int(v) for v in rng.integers(-128, 128, size=2))
        for o, t in enumerate(TIE_T):
            cls = rng.choice(["differ", "tie", "free"], p=[0.65, 0.2, 0.15])
            rest = qb[o] + sum(q[o][j] * (x[j] - zx) for j in list(range(o)) + [6, 7])
            good = []
            for xo in range(-128, 128):
                acc = rest + q[o][o] * (xo - zx)
                # Keep v = acc * M within [-100, 150]: v + zy stays within
                # [-128, 127] for both zero points (-28 and -88; the ReLU
                # layer clamps a negative v to its zero point either way).
                if tie_class_ok(cls, acc, t) and -100 * 2 ** (t + 1) <= acc <= 150 * 2 ** (t + 1):
                    good.append(xo)
            if not good:
                missed += 1
                good = list(range(-128, 128))
            x[o] = int(rng.choice(good))
        inputs.append(x)
    return inputs, missed


def case_ties(rng, relu):
    layers, out_range = tie_model(rng, relu)
    quantized = quantize_model(layers, TIE_INPUT_RANGE, [out_range])
    layer = quantized[0]
    # The construction: power-of-two scales, multiplier 2^30, shift -t, q exact.
    assert layer["input"] == (f32(2.0**-4), -32)
    assert layer["output"][0] == f32(2.0**-5)
    assert layer["multipliers"] == [2**30] * 6 and layer["shifts"] == [-t for t in TIE_T]
    assert [max(abs(v) for v in row) for row in layer["weights"]] == [127] * 6
    inputs, missed = tie_inputs(rng, layer, 64)
    differ = differ_tflite = ties = 0
    for x in inputs:
        double = layer_forward(layer, x)
        single = layer_forward(layer, x, requantize=single_rounding)
        tflite = layer_forward(layer, x, requantize=single_rounding_tflite)
        differ += sum(a != b for a, b in zip(double, single))
        differ_tflite += sum(a != b for a, b in zip(double, tflite))
        for acc, t in zip(layer_accumulators(layer, x), TIE_T):
            # acc * 2^-(t+1) exactly half an integer, or acc / 2 so (the first rounding's tie).
            ties += (acc % 2 ** (t + 1) == 2**t) or (acc % 2 == 1)
    outputs = len(inputs) * 6
    assert differ > 0.2 * outputs, f"only {differ} of {outputs} outputs tell the roundings apart"
    records = range_records(TIE_INPUT_RANGE, [out_range]) + model_records(layers, quantized)
    records += sample_records(quantized, int_inputs=inputs)
    stats = {"samples": len(inputs), "outputs": outputs, "differ_single_half_away": differ,
             "differ_single_tflite": differ_tflite, "tie_accumulators": ties, "missed": missed}
    records.append(line("stats", ints((outputs, differ, differ_tflite, ties))))
    return records, stats


# (d) the full pipeline from calibration data ----------------------------------


def dyadic(rng, shape, step, limit):
    """Multiples of `step` (a power of two) in [-limit, limit], as f32."""
    n = int(limit / step)
    return [[f32(int(v) * step) for v in row] for row in rng.integers(-n, n + 1, size=shape)]


def case_pipeline(rng):
    """(Dense<4, 6, ReLU>, Dense<6, 3, Identity>) with dyadic weights, biases
    and calibration samples, so that the library's f32 forward is exact and
    the ranges it observes are these."""
    w0, w1 = dyadic(rng, (6, 4), 1 / 16, 1.0), dyadic(rng, (3, 6), 1 / 16, 1.0)
    b0, b1 = dyadic(rng, (1, 6), 1 / 64, 0.5)[0], dyadic(rng, (1, 3), 1 / 64, 0.5)[0]
    layers = [(w0, b0, True), (w1, b1, False)]
    samples = dyadic(rng, (24, 4), 1 / 16, 2.0)
    input_range, output_ranges = calibrate(layers, samples)
    quantized = quantize_model(layers, input_range, output_ranges)
    tests = samples + [[f32(v) for v in row] for row in rng.standard_normal((16, 4))]
    records = [line("calibration", hexes(s)) for s in samples]
    records += range_records(input_range, output_ranges) + model_records(layers, quantized)
    records += sample_records(quantized, float_inputs=tests)
    return records, {"calibration": len(samples), "samples": len(tests)}


# (e) what the reference refuses -------------------------------------------------


def case_errors():
    """Dense<2, 2, Identity> with given ranges: refused (the Rust side must
    return an Err) or accepted (with its tensor parameters)."""
    w = [[f32(0.5), f32(-0.25)], [f32(1.0), f32(0.75)]]
    b = [f32(0.1), f32(-0.2)]
    big_w = [[f32(1000.0), f32(-3.0)], [f32(2.0), f32(1.0)]]
    inf = f32(math.inf)
    tiny = np.frombuffer(struct.pack("<I", 1), dtype=np.float32)[0]  # smallest subnormal
    cases = [
        ("collapsed_input", w, b, (f32(0.0), f32(0.0)), (f32(-1.0), f32(1.0))),
        ("collapsed_output", w, b, (f32(-1.0), f32(1.0)), (f32(0.0), f32(0.0))),
        ("inverted_input", w, b, (f32(1.0), f32(-1.0)), (f32(-1.0), f32(1.0))),
        ("infinite_input", w, b, (-inf, f32(1.0)), (f32(-1.0), f32(1.0))),
        ("infinite_output", w, b, (f32(-1.0), f32(1.0)), (f32(-1.0), inf)),
        ("scale_underflows", w, b, (f32(-1.0), f32(1.0)), (f32(0.0), tiny)),
        ("multiplier_too_large", big_w, b, (f32(-1000.0), f32(1000.0)), (f32(0.0), f32(1e-6))),
        # Accepted: a one-sided range is widened to contain 0.
        ("positive_point", w, b, (f32(2.0), f32(2.0)), (f32(-3.0), f32(-1.0))),
        ("plain", w, b, (f32(-1.0), f32(1.0)), (f32(-0.5), f32(2.0))),
    ]
    records, refused = [], 0
    for name, weights, bias, in_range, out_range in cases:
        head = " ".join([name, hexes(v for row in weights for v in row), hexes(bias), hexes(in_range),
                         hexes(out_range)])
        try:
            layer = quantize_model([(weights, bias, False)], in_range, [out_range])[0]
            records.append(line("accept", f"{head} {hex32(layer['input'][0])} {layer['input'][1]} "
                                          f"{hex32(layer['output'][0])} {layer['output'][1]} "
                                          f"{ints(layer['multipliers'])} {ints(layer['shifts'])}"))
        except Refused as why:
            records.append(line("refuse", f"{head} {str(why).replace(' ', '_')}"))
            refused += 1
    assert refused == 7
    # A calibration set of zeros through a zero-weight layer: every range
    # collapses (tests/int8_reference.rs checks this one without the fixture).
    zeros = [([[f32(0.0)] * 2] * 2, [f32(0.0)] * 2, False)]
    try:
        quantize_model(zeros, *calibrate(zeros, [[f32(0.0)] * 2] * 3))
        raise AssertionError("a calibration set of zeros was accepted")
    except Refused:
        pass
    return records, {"refused": refused, "accepted": len(cases) - refused}


# (f) the float-to-integer conversions ---------------------------------------------


def near_tie_row(rng, n_in, dyadic_scale):
    """A weight row whose first entry sets the scale and whose other entries
    sit on rounding ties of W / scale_w: exact ties in f64 (half away from
    zero decides) or f64 quotients just off a tie that an f32 quotient would
    round onto it (the f64 division decides; only with a scale that is not
    a power of two)."""
    if dyadic_scale:
        m = f32(127 * 2.0 ** int(rng.integers(-10, 6)))
    else:
        m = f32(10.0 ** rng.uniform(-3, 2))
    scale = f32(float(m) / 127.0)
    row = [m if rng.random() < 0.5 else -m]
    while len(row) < n_in:
        k = int(rng.integers(-126, 126))
        want_exact = rng.random() < 0.5
        target = f32((k + 0.5) * float(scale))
        for w in (target, np.nextafter(target, f32(np.inf)), np.nextafter(target, f32(-np.inf))):
            q64 = float(w) / float(scale)
            q32 = float(w / scale)
            exact = q64 == k + 0.5
            if (exact and want_exact) or (not want_exact and not exact and q32 == k + 0.5):
                row.append(w)
                break
        else:
            row.append(target)
    return row


def zero_point_near_tie(rng):
    """A range whose zero point argument -128 - rmin / scale is just off a
    tie in f64 but lands on it (and rounds the other way) in f32."""
    while True:
        scale0 = 10.0 ** rng.uniform(-3, 1)
        k = int(rng.integers(1, 254))
        rmin0, rmax = f32(-(k + 0.5) * scale0), f32((254.5 - k) * scale0)
        rmin = rmin0
        for _ in range(16):
            rmin = np.nextafter(rmin, f32(-np.inf) if rng.random() < 0.5 else f32(0.0))
            scale = activation_params(rmin, rmax)[0]
            v64 = -128.0 - float(rmin) / float(scale)
            v32 = f32(-128.0) - rmin / scale
            if round_half_away(v64) != round_half_away(v32):
                return rmin, rmax


def random_range(rng):
    """A range of random magnitude and sign pattern; one in five with a
    dyadic scale and a zero point exactly on a tie (-128 - rmin / scale =
    z + 1/2), one in five with a zero point just off a tie."""
    kind = rng.integers(0, 5)
    if kind == 0:
        j, k = int(rng.integers(-3, 8)), int(rng.integers(0, 255))
        return f32(-(k + 0.5) * 2.0**-j), f32((254.5 - k) * 2.0**-j)
    if kind == 4:
        return zero_point_near_tie(rng)
    a, b = (10.0 ** rng.uniform(-3, 2, size=2)) * rng.choice([-1, 1], size=2)
    if kind == 1:
        a = -abs(a)  # straddles zero or is on one side, per b's sign
    return f32(min(a, b)), f32(max(a, b))


def is_power_of_two(v):
    return math.frexp(float(v))[0] == 0.5


def conversion_bias(rng, scale_in, scale_w):
    """Up to ±2^30 steps of the bias scale, random within; where both scales
    are powers of two, mostly an exact tie b / bias_scale = k + 1/2."""
    bias_scale = float(scale_in) * float(scale_w)
    if is_power_of_two(scale_in) and is_power_of_two(scale_w) and rng.random() < 0.8:
        k = int(rng.integers(-(2**20), 2**20))
        b = f32((k + 0.5) * bias_scale)
        assert float(b) / bias_scale == k + 0.5
        return b
    return f32(float(rng.uniform(-1, 1)) * 2.0 ** rng.uniform(0, 30) * bias_scale)


def case_conversions(rng):
    """Dense<8, 32, Identity>: 16 rows of random magnitude, 16 rows of
    rounding ties of W / scale_w; biases up to 2^30 steps of the bias scale
    (where an f32 bias scale would round differently); quantized under 60
    pairs of random ranges (input, output)."""
    n_in, n_out = 8, 32
    weights = []
    for o in range(n_out):
        if o < 16:
            mags = 10.0 ** rng.uniform(-3, 2)
            weights.append([f32(v) for v in rng.standard_normal(n_in) * mags])
        else:
            weights.append(near_tie_row(rng, n_in, dyadic_scale=o >= 24))
    q, weight_scales = weight_quantize(weights)
    stats = {"weight_ties": 0, "weight_near_ties": 0, "zero_point_ties": 0, "zero_point_near_ties": 0,
             "bias_ties": 0}
    for row, sw in zip(weights, weight_scales):
        for w in row:
            stats["weight_ties"] += Fraction(float(w) / float(sw)).denominator == 2
            stats["weight_near_ties"] += round_half_away(float(w) / float(sw)) != round_half_away(w / sw)
    records = [line("float0.weights", hexes(v for row in weights for v in row)),
               line("layer0.weights", ints(v for row in q for v in row)),
               line("layer0.weight_scales", hexes(weight_scales))]
    pairs = 0
    while pairs < 60:
        input_range, output_range = random_range(rng), random_range(rng)
        try:
            scale_in = activation_params(*input_range)[0]
            bias = [conversion_bias(rng, scale_in, sw) for sw in weight_scales]
            layer = quantize_model([(weights, bias, False)], input_range, [output_range])[0]
        except Refused:
            continue  # a multiplier beyond 2^30: not this case's subject
        assert layer["weights"] == q
        for r in (input_range, output_range):
            scale, _ = activation_params(*r)
            rmin = min(r[0], f32(0.0))
            v64 = -128.0 - float(rmin) / float(scale)
            stats["zero_point_ties"] += Fraction(v64).denominator == 2
            stats["zero_point_near_ties"] += round_half_away(v64) != round_half_away(f32(-128.0) - rmin / scale)
        for b, sw in zip(bias, weight_scales):
            stats["bias_ties"] += Fraction(float(b) / (float(scale_in) * float(sw))).denominator == 2
        records.append(line("pair.ranges", hexes(input_range + output_range)))
        records.append(line("pair.bias_float", hexes(bias)))
        records.append(line("pair.input", f"{hex32(layer['input'][0])} {layer['input'][1]}"))
        records.append(line("pair.output", f"{hex32(layer['output'][0])} {layer['output'][1]}"))
        records.append(line("pair.bias", ints(layer["bias"])))
        records.append(line("pair.multipliers", ints(layer["multipliers"])))
        records.append(line("pair.shifts", ints(layer["shifts"])))
        pairs += 1
    return records, dict(stats, pairs=pairs)


# ---------------------------------------------------------------------------


def header(counts):
    ties = counts["ties_identity"], counts["ties_relu"]
    conv = counts["conversions"]
    return [
        f"# Generated by tests/int8/reference.py (Python {platform.python_version()}, numpy {np.__version__},",
        f"# seed {SEED}); read by tests/int8_reference.rs. An independent reference of the int8 arithmetic",
        "# of the spec (TFLite int8 scheme, TFLite Micro's double rounding), written from the spec alone.",
        "#",
        "# Format: `case NAME` ... `end` blocks of `key value value ...` lines. Integers in decimal; f32",
        "# values as the 8 hex digits of their bit pattern (f32::from_bits), f64 values as the 16 hex digits",
        "# of theirs (f64::from_bits). Matrices row-major ([OUT][IN]). Per layer k: float{k}.weights and",
        "# float{k}.bias (the f32 model); layer{k}.weights (i8), .bias (i32), .weight_scales (f32),",
        "# .multipliers, .shifts, .input and .output (scale, zero point), .clamp (lo hi). range.input and",
        "# range.layer{k}: min max. Per sample, the k-th line of each key: x (f32 input; absent in the tie",
        "# cases), xq (int8 input), y{k} (int8 output of layer k).",
        "#",
        f"# primitives: srdhm `a b result` ({counts['srdhm']} lines, {counts['srdhm_ties']} on exact ties);"
        f" rdbp `x exponent result`",
        f"#   ({counts['rounding_divide_by_pot']}); mbqm `x multiplier shift result`"
        f" ({counts['multiply_by_quantized_multiplier']}); qm `M(f64) multiplier shift` or",
        f"#   `M refused` ({counts['quantize_multiplier']}, {counts['quantize_multiplier_refused']} refused).",
        "# three_layer: (Dense<5, 7, ReLU>, Dense<7, 4, ReLU>, Dense<4, 3, Identity>) with given ranges;",
        f"#   {counts['three_layer']['samples']} inputs, {counts['three_layer']['input_ties']} of their elements"
        " on exact ties of x / scale.",
        "# ties_identity, ties_relu: Dense<8, 6, Identity> and Dense<8, 6, ReLU>; power-of-two scales,",
        "#   multipliers 2^30, shifts 0 -1 -2 -3 -5 -7; int8 inputs solved so that accumulators land on ties.",
        f"#   Of {ties[0]['outputs']} outputs each, double rounding (the spec) differs from single rounding",
        f"#   round_half_away(acc * M) on {ties[0]['differ_single_half_away']} (Identity) and"
        f" {ties[1]['differ_single_half_away']} (ReLU), from TFLite's",
        f"#   TFLITE_SINGLE_ROUNDING (acc * M rounded half up) on {ties[0]['differ_single_tflite']} and"
        f" {ties[1]['differ_single_tflite']}; {ties[0]['tie_accumulators']} and"
        f" {ties[1]['tie_accumulators']} accumulators",
        "#   are on a tie of either rounding. `stats outputs differ differ_tflite ties` holds these counts.",
        f"# pipeline: (Dense<4, 6, ReLU>, Dense<6, 3, Identity>), dyadic weights and biases,"
        f" {counts['pipeline']['calibration']} dyadic",
        "#   `calibration` samples (the f32 forward is exact), the ranges observed on them, then"
        f" {counts['pipeline']['samples']} inputs.",
        "# errors: Dense<2, 2, Identity>: `refuse NAME w(4) b(2) input_range(2) output_range(2) reason` or",
        "#   `accept NAME w(4) b(2) input_range(2) output_range(2) input_scale input_zp output_scale output_zp",
        "#   multipliers(2) shifts(2)`.",
        f"# conversions: Dense<8, 32, Identity>, 16 rows of random magnitude, 16 with {conv['weight_ties']}"
        f" weights on exact ties",
        f"#   of W / scale_w and {conv['weight_near_ties']} just off a tie (where an f32 quotient rounds"
        f" the other way); {conv['pairs']} pairs of",
        f"#   ranges, {conv['zero_point_ties']} zero points on exact ties and {conv['zero_point_near_ties']}"
        f" just off one, {conv['bias_ties']} biases on exact ties: `pair.ranges`",
        "#   (input min max, output min max), `pair.bias_float`, `pair.input`, `pair.output`, `pair.bias`,",
        "#   `pair.multipliers`, `pair.shifts`.",
    ]


def main():
    rng = np.random.default_rng(SEED)
    blocks, counts = [], {}

    records, prim = primitive_cases(rng)
    counts.update(prim)
    blocks.append(("primitives", records))

    records, counts["three_layer"] = case_three_layer(rng)
    blocks.append(("three_layer", records))

    records, counts["ties_identity"] = case_ties(rng, relu=False)
    blocks.append(("ties_identity", records))
    records, counts["ties_relu"] = case_ties(rng, relu=True)
    blocks.append(("ties_relu", records))

    records, counts["pipeline"] = case_pipeline(rng)
    blocks.append(("pipeline", records))

    records, counts["errors"] = case_errors()
    blocks.append(("errors", records))

    records, counts["conversions"] = case_conversions(rng)
    blocks.append(("conversions", records))

    out = header(counts)
    for name, records in blocks:
        out += [f"case {name}"] + records + ["end"]
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "int8_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.normpath(path)}")
    for key, value in counts.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
