//! Numerically delicate functions at inputs of magnitude 100 (`f32`) and
//! 1000 (`f64`), where a naive `1 / (1 + e^{-z})` or `ln(1 + e^{z})`
//! overflows: values and gradients must be finite and equal to their
//! analytic limits.

use backprop::prelude::*;

/// `got == want` up to `tolerance` (absolute), with a readable failure.
fn assert_limit<T: Float + std::fmt::Debug>(what: &str, got: T, want: T, tolerance: T) {
    assert!(got.is_finite(), "{what}: {got:?} is not finite");
    assert!((got - want).abs() <= tolerance, "{what}: got {got:?}, the limit is {want:?}");
}

fn check_all<T: Float + std::fmt::Debug>(m: T) {
    let (zero, one) = (T::zero(), T::one());
    // Below T's smallest normal number: e^{-100} in f32 is subnormal, e^{-1000} in f64 is 0.
    let tiny = T::min_positive_value();
    for (z, sigma) in [(m, one), (-m, zero)] {
        let a = Sigmoid::f(z);
        assert_limit("sigmoid", a, sigma, tiny);
        assert_limit("sigmoid'", Sigmoid::df(z, a), zero, tiny);

        let a = Tanh::f(z);
        assert_limit("tanh", a, z.signum(), zero);
        assert_limit("tanh'", Tanh::df(z, a), zero, zero);

        let a = Softplus::f(z);
        assert_limit("softplus", a, z.max(zero), tiny);
        assert_limit("softplus'", Softplus::df(z, a), sigma, tiny);

        // The other smooth activations: finite, with the limits of the ReLU
        // they approximate (ELU tends to -1 on the left).
        for (name, f, df) in [
            ("GELU(tanh)", Gelu::f(z), Gelu::df(z, Gelu::f(z))),
            ("GELU", GeluErf::f(z), GeluErf::df(z, GeluErf::f(z))),
            ("SiLU", SiLU::f(z), SiLU::df(z, SiLU::f(z))),
        ] {
            assert_limit(name, f, z.max(zero), tiny);
            assert_limit(name, df, sigma, tiny);
        }
        assert_limit("ELU", Elu::f(z), if z > zero { z } else { -one }, zero);
        assert_limit("ELU'", Elu::df(z, Elu::f(z)), sigma, tiny);
    }

    // BCE with logits: each (logit, target) pair and its limits.
    for (x, t, loss, grad) in
        [(m, one, zero, zero), (m, zero, m, one), (-m, one, m, -one), (-m, zero, zero, zero)]
    {
        assert_limit("BceWithLogits", BceWithLogits.loss(&[x], &[t]), loss, tiny);
        assert_limit("BceWithLogits'", BceWithLogits.gradient(&[x], &[t])[0], grad, tiny);
    }

    // Softmax cross-entropy with logits [m, -m, 0]: certain of class 0.
    let z = [m, -m, zero];
    assert_limit("SoftmaxCrossEntropy, right class", SoftmaxCrossEntropy.loss(&z, &0), zero, zero);
    assert_limit("SoftmaxCrossEntropy, wrong class", SoftmaxCrossEntropy.loss(&z, &1), m + m, zero);
    assert_limit("SoftmaxCrossEntropy, middle class", SoftmaxCrossEntropy.loss(&z, &2), m, zero);
    for (class, want) in [(0, [zero, zero, zero]), (1, [one, -one, zero]), (2, [one, zero, -one])] {
        let g = SoftmaxCrossEntropy.gradient(&z, &class);
        for k in 0..3 {
            assert_limit("SoftmaxCrossEntropy'", g[k], want[k], tiny);
        }
    }
    let p = softmax(&z);
    assert_limit("softmax", p[0], one, zero);

    // Binary cross-entropy on probabilities that have saturated to exactly 0
    // or 1: PyTorch's clamp keeps the loss at 100 and the gradient finite.
    let hundred = T::from(100.0).unwrap();
    assert_limit("BinaryCrossEntropy", BinaryCrossEntropy.loss(&[zero], &[one]), hundred, zero);
    assert_limit("BinaryCrossEntropy", BinaryCrossEntropy.loss(&[one], &[one]), zero, zero);
    let g = BinaryCrossEntropy.gradient(&[zero], &[one])[0];
    assert_limit("BinaryCrossEntropy'", g, -T::from(1e12).unwrap(), T::from(1.0).unwrap());
}

#[test]
fn f32_at_magnitude_100() {
    check_all(100.0_f32);
}

#[test]
fn f64_at_magnitude_1000() {
    check_all(1000.0_f64);
}

#[test]
fn f64_at_the_largest_finite_inputs() {
    // Nothing overflows into NaN, even where z² does.
    for z in [1e20, -1e20, 1e200, -1e200, f64::MAX, f64::MIN] {
        for (name, f, df) in [
            ("sigmoid", Sigmoid::f(z), Sigmoid::df(z, Sigmoid::f(z))),
            ("tanh", Tanh::f(z), Tanh::df(z, Tanh::f(z))),
            ("softplus", Softplus::f(z), Softplus::df(z, Softplus::f(z))),
            ("GELU(tanh)", Gelu::f(z), Gelu::df(z, Gelu::f(z))),
            ("GELU", GeluErf::f(z), GeluErf::df(z, GeluErf::f(z))),
            ("SiLU", SiLU::f(z), SiLU::df(z, SiLU::f(z))),
            ("ELU", Elu::f(z), Elu::df(z, Elu::f(z))),
        ] {
            assert!(f.is_finite() && df.is_finite(), "{name}({z}) = {f}, derivative {df}");
        }
        assert!(BceWithLogits.loss(&[z], &[0.5]).is_finite());
        assert!(SoftmaxCrossEntropy.gradient(&[z, 0.0], &1).iter().all(|g| g.is_finite()));
    }
}
