//! Gradient checking: compare the backward pass with finite differences.
//!
//! Backpropagation computes `∂L/∂θ` for every parameter in one sweep. A
//! finite difference computes one of them the slow, obvious way, by nudging
//! `θ` and watching the loss move:
//!
//! ```text
//! ∂L/∂θ ≈ [L(θ - 2h) - 8 L(θ - h) + 8 L(θ + h) - L(θ + 2h)] / 12h
//! ```
//!
//! This is the fourth-order central difference: its truncation error shrinks
//! like `h⁴` (the plain `[L(θ+h) - L(θ-h)] / 2h` shrinks like `h²`), so `h`
//! can stay large enough (`1e-3` in `f64`) that rounding noise in `L` does not
//! swamp the difference. If the two agree for every parameter and every input,
//! the backward pass is right. Every activation and loss of this crate is
//! tested this way.
//!
//! Keep away from kinks (ReLU at 0, [`Mae`](crate::loss::Mae) at `y = t`):
//! there the derivative does not exist and the difference straddles it.

use crate::error::Error;
use crate::loss::Loss;
use crate::math::cast;
use crate::optim::require;
use crate::params::Params;
use crate::passes::Backward;
use num_traits::Float;

/// Where a gradient lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The `k`-th scalar parameter, in [`Params::visit`] order.
    Param(usize),
    /// The `i`-th element of the input.
    Input(usize),
}

/// The outcome of [`check_gradients`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// The largest error seen, `|analytic - numeric| / max(|analytic|, |numeric|, floor)`.
    pub max_error: f64,
    /// Where the largest error was.
    pub worst: Option<Location>,
    /// The analytic gradient at `worst`.
    pub analytic: f64,
    /// The finite-difference gradient at `worst`.
    pub numeric: f64,
    /// How many gradients were compared (parameters and inputs).
    pub checked: usize,
}

/// Compares every parameter gradient and every input gradient that
/// `model.backward` computes for one sample with a finite difference of the
/// loss.
///
/// `step` is the relative step: each value `v` is nudged by
/// `h = step · max(1, |v|)`. `floor` keeps the error relative for ordinary
/// gradients but absolute for gradients near zero (whose relative error is
/// all noise): the error is `|a - n| / max(|a|, |n|, floor)`.
///
/// A check that cannot mean anything is an error, not a report: a `step`
/// that is not positive and finite or too small to change a value of 1 in
/// the model's scalar type, a `floor` that is not positive and finite
/// ([`Error::InvalidHyperparameter`]), a non-finite input
/// ([`Error::NonFiniteInput`]) or a target the loss does not take.
///
/// ```
/// use backprop::prelude::*;
/// use backprop::gradcheck::check_gradients;
///
/// type Net = (Dense<3, 4, Tanh, f64>, Dense<4, 2, Identity, f64>);
/// let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
/// let net: Net = Model::init(&mut rng);
/// let report = check_gradients(&net, &[0.1, -0.4, 0.7], &1, &SoftmaxCrossEntropy, 1e-3, 1e-8)?;
/// assert!(report.max_error < 1e-8, "{report:?}");
/// assert_eq!(report.checked, Net::PARAMS + 3);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn check_gradients<M, L, T, const N: usize>(
    model: &M,
    input: &M::Input,
    target: &L::Target,
    loss: &L,
    step: f64,
    floor: f64,
) -> Result<GradCheck, Error>
where
    T: Float,
    M: Backward<Output = [T; N]> + Params<Scalar = T> + Clone,
    M::Input: AsRef<[T]> + AsMut<[T]>,
    L: Loss<T, N>,
{
    let narrow: T = cast(step);
    require(
        "finite-difference step",
        step,
        step > 0.0 && step.is_finite() && T::one() + narrow != T::one(),
        "positive, finite and large enough to change 1 in the model's scalar type",
    )?;
    require("error floor", floor, floor > 0.0 && floor.is_finite(), "positive and finite")?;
    if let Some(index) = input.as_ref().iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFiniteInput { data: "data", sample: 0, index });
    }
    loss.check_target(target)?;

    // The analytic gradients: one forward pass with a tape, one backward pass.
    let mut grads = M::zeroed();
    let (y, tape) = model.forward_tape(input);
    let d_input = model.backward(&tape, &loss.gradient(&y, target), &mut grads);

    let mut report = GradCheck { max_error: 0.0, worst: None, analytic: 0.0, numeric: 0.0, checked: 0 };
    let mut record = |location: Location, analytic: T, numeric: T| {
        let (a, n) = (analytic.to_f64().unwrap_or(f64::NAN), numeric.to_f64().unwrap_or(f64::NAN));
        let error = (a - n).abs() / a.abs().max(n.abs()).max(floor);
        if error.is_nan() || error > report.max_error {
            report = GradCheck { max_error: error, worst: Some(location), analytic: a, numeric: n, ..report };
        }
        report.checked += 1;
    };

    let mut probe = model.clone();
    for k in 0..M::PARAMS {
        let theta = model.param(k).unwrap_or_else(T::nan);
        // `k < PARAMS`, so every `set_param` sets (a NaN loss otherwise).
        let numeric = derivative(theta, step, |v| {
            if probe.set_param(k, v) {
                loss.loss(&probe.forward(input), target)
            } else {
                T::nan()
            }
        });
        let _restored = probe.set_param(k, theta);
        record(Location::Param(k), grads.param(k).unwrap_or_else(T::nan), numeric);
    }

    let mut x = *input;
    for i in 0..x.as_ref().len() {
        let xi = input.as_ref()[i];
        let numeric = derivative(xi, step, |v| {
            x.as_mut()[i] = v;
            loss.loss(&model.forward(&x), target)
        });
        x.as_mut()[i] = xi;
        record(Location::Input(i), d_input.as_ref()[i], numeric);
    }
    Ok(report)
}

/// The fourth-order central difference of `f` at `v`.
fn derivative<T: Float>(v: T, step: f64, mut f: impl FnMut(T) -> T) -> T {
    let h = cast::<T>(step) * v.abs().max(T::one());
    // Use the step the arithmetic actually takes, not the one asked for.
    let h = (v + h) - v;
    let two_h = h + h;
    let eight: T = cast(8.0);
    (f(v - two_h) - eight * f(v - h) + eight * f(v + h) - f(v + two_h)) / (cast::<T>(12.0) * h)
}
