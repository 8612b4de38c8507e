//! Checks of a data set against a model and a loss, before training on it.

use crate::error::Error;
use crate::loss::Loss;
use crate::simd;
use num_traits::Float;

/// Checks that `inputs` and `targets` pair up and are not empty.
pub(crate) fn check_lengths<I, U>(
    inputs: &[I],
    targets: &[U],
    what: &'static str,
    other: &'static str,
) -> Result<(), Error> {
    if inputs.len() != targets.len() {
        return Err(Error::LengthMismatch { what, len: inputs.len(), other, other_len: targets.len() });
    }
    if inputs.is_empty() {
        return Err(Error::EmptyData { what: "data set" });
    }
    Ok(())
}

/// Whether every value is finite: one pass without an early exit, which
/// the compiler turns into SIMD comparisons (`fold` of `&` has no order to
/// keep). The checks run on every step (a W3 step's batch: 50,176 values;
/// `fit`'s weights after each update: 109,386), where the common case is
/// all finite; a caller that must name a culprit searches only after this
/// says there is one.
///
/// Long slices run compiled for the widest vector registers the CPU has
/// ([`simd::dispatch`]); short ones (one sample of a small net) inline,
/// where the dispatch would cost more than it saves.
pub(crate) fn all_finite<T: Float>(values: &[T]) -> bool {
    struct AllFinite<'a, T>(&'a [T]);
    impl<T: Float> simd::Kernel for AllFinite<'_, T> {
        type Output = bool;
        #[inline(always)]
        fn run<I: simd::Isa>(self, _isa: I) -> bool {
            self.0.iter().fold(true, |finite, v| finite & v.is_finite())
        }
    }
    if values.len() < 256 {
        return simd::Kernel::run(AllFinite(values), simd::Portable);
    }
    simd::dispatch(AllFinite(values))
}

/// Checks that every element of every input is finite; only a batch that
/// fails is searched for the first culprit, to name it.
pub(crate) fn check_inputs<T: Float, const IN: usize>(inputs: &[[T; IN]]) -> Result<(), Error> {
    name_non_finite(inputs, all_finite(inputs.as_flattened()))
}

/// [`check_inputs`] once the inputs have been scanned (`finite`: whether
/// [`all_finite`] holds for all of them, a scan a threaded `fit` shares
/// among its threads): searches for the first culprit only if the scan
/// found one.
pub(crate) fn name_non_finite<T: Float, const IN: usize>(
    inputs: &[[T; IN]],
    finite: bool,
) -> Result<(), Error> {
    if finite {
        return Ok(());
    }
    for (sample, x) in inputs.iter().enumerate() {
        if let Some(index) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput { data: "data", sample, index });
        }
    }
    Ok(())
}

/// Checks every target against the loss.
pub(crate) fn check_targets<T: Float, const N: usize, L: Loss<T, N>>(
    loss: &L,
    targets: &[L::Target],
) -> Result<(), Error> {
    for (sample, t) in targets.iter().enumerate() {
        loss.check_target(t).map_err(|e| e.at_sample(sample))?;
    }
    Ok(())
}

/// Checks a whole data set: lengths, finite inputs, valid targets.
pub(crate) fn check_data<T: Float, const IN: usize, const N: usize, L: Loss<T, N>>(
    loss: &L,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    what: &'static str,
) -> Result<(), Error> {
    check_data_scanned(loss, inputs, targets, what, |inputs| all_finite(inputs.as_flattened()))
}

/// [`check_data`], with `scan` telling whether all inputs are finite (a
/// threaded `fit` shares that pass over the data among its threads).
pub(crate) fn check_data_scanned<T: Float, const IN: usize, const N: usize, L: Loss<T, N>>(
    loss: &L,
    inputs: &[[T; IN]],
    targets: &[L::Target],
    what: &'static str,
    scan: impl FnOnce(&[[T; IN]]) -> bool,
) -> Result<(), Error> {
    let (inputs_name, targets_name) = if what == "validation data" {
        ("validation inputs", "validation targets")
    } else {
        ("inputs", "targets")
    };
    check_lengths(inputs, targets, inputs_name, targets_name).map_err(|e| match e {
        Error::EmptyData { .. } => Error::EmptyData { what },
        e => e,
    })?;
    name_non_finite(inputs, scan(inputs)).map_err(|e| e.in_data(what))?;
    check_targets(loss, targets).map_err(|e| e.in_data(what))
}

/// The batch size must be at least 1.
pub(crate) fn check_batch_size(batch_size: usize) -> Result<(), Error> {
    crate::optim::require("batch size", batch_size as f64, batch_size > 0, "at least 1")
}
