//! What an [`Error`] says: its `Display`, one sentence that names what was
//! wrong and where, with counts in the singular for one.

use super::{Divergence, Error};
use core::fmt;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ClassOutOfRange { data, sample, class, classes } => write!(
                f,
                "sample {sample} of the {data}: class index {class} is out of range: the model has {} (classes 0..{classes})",
                count(classes, "outputs")
            ),
            Error::NonFiniteTarget { data, sample, index } => {
                write!(f, "sample {sample} of the {data}: target element {index} is not finite")
            }
            Error::TargetNotProbability { data, sample, index } => {
                write!(f, "sample {sample} of the {data}: target element {index} is not a probability in [0, 1]")
            }
            Error::NonFiniteInput { data, sample, index } => {
                write!(f, "sample {sample} of the {data}: input element {index} is not finite")
            }
            Error::LengthMismatch { what, len, other, other_len } => {
                write!(f, "{} but {}: they must pair up one to one", count(len, what), count(other_len, other))
            }
            Error::EmptyData { what } => write!(f, "the {what} has no samples"),
            Error::InvalidHyperparameter { name, value, expected } => {
                write!(f, "invalid {name} {}: it must be {expected}", Number(value))
            }
            Error::Diverged { epoch, batch, loss, cause } => match cause {
                Divergence::InitialLoss => write!(
                    f,
                    "the loss is {loss} on the first batch, before any update: the inputs, the targets or \
                     the model's weights make it non-finite (the learning rate is not the cause); nothing \
                     was changed"
                ),
                Divergence::Loss => write!(
                    f,
                    "training diverged in epoch {epoch}, batch {batch}: the loss is {loss}, so this step \
                     changed nothing; if \
                     earlier steps updated the model, they drove its weights too far (try a smaller learning \
                     rate or gradient clipping); if none did, the inputs, the targets or the initial weights \
                     are the cause"
                ),
                Divergence::Update => write!(
                    f,
                    "training diverged in epoch {epoch}, batch {batch}: the update made a parameter \
                     non-finite (the loss before it was {loss}); the model keeps its weights from before \
                     that update; try a smaller learning rate or gradient clipping"
                ),
            },
            Error::CollapsedRange { tensor, min, max } => {
                match tensor {
                    0 => write!(f, "the calibration range of the model's input")?,
                    k => write!(f, "the calibration range of layer {}'s output", k - 1)?,
                }
                write!(
                    f,
                    " is [{min}, {max}]: widened to contain 0 it has no width (or is not finite), so it has \
                     no int8 scale; calibrate with samples that make this tensor vary"
                )
            }
            Error::MultiplierOutOfRange { layer, channel, multiplier } => write!(
                f,
                "layer {layer}, output channel {channel}: the requantization multiplier s_in·s_w/s_out is \
                 {multiplier}, 2^30 or more, which no int32 multiplier and shift can encode; the output's \
                 calibration range is far too narrow for its inputs and weights"
            ),
            Error::BiasOutOfRange { layer, channel, bias } => write!(
                f,
                "layer {layer}, output channel {channel}: the bias {bias} is so large against the row's \
                 weights that the int32 accumulator would overflow for some inputs (the row's weights \
                 are tiny next to its bias); no int8 layer computes it"
            ),
            Error::InvalidQuantized { layer, field, index, value } => write!(
                f,
                "layer {layer}: {field} {index} is {value} in the file, a value no int8 model holds \
                 (weights -127..=127, zero points -128..=127, positive finite scales, multipliers \
                 in [2^30, 2^31) with shifts -31..=30)"
            ),
            Error::NonFiniteOutput { data, sample, index, value } => write!(
                f,
                "sample {sample} of the {data}: the model's output {index} is {value} (a NaN in its \
                 weights, or an overflow inside the net), so it has no class or loss"
            ),
            Error::NonFiniteLoss { data, sample, loss } => write!(
                f,
                "sample {sample} of the {data}: the loss is {loss} (it overflowed: the outputs are far \
                 from the targets)"
            ),
            Error::InvalidSchedule { epoch, rate } => write!(
                f,
                "the learning-rate schedule gives epoch {epoch} the rate {}, which is not a positive \
                 finite number in the model's scalar type: shorten the schedule or change its factor or \
                 minimum",
                Number(rate)
            ),
            Error::RowLength { row, len, expected } => {
                write!(f, "row {row} has {}, {expected} expected", count(len, "values"))
            }
            Error::InvalidValue { row, column, reason } => {
                write!(f, "row {row}, column {column}: the value {reason}")
            }
            Error::BufferTooSmall { needed, len } => {
                write!(f, "the buffer holds {} but the weight file needs {needed}", count(len, "bytes"))
            }
            Error::Truncated { format, needed, len } => write!(
                f,
                "{format} file is truncated: it needs {} but only {len} {} given",
                count(needed, "bytes"),
                if len == 1 { "was" } else { "were" }
            ),
            Error::NonFiniteWeight { layer, tensor, index } => write!(
                f,
                "layer {layer} {tensor}, element {index}: the value is not finite (NaN or infinite); \
                 such weights are refused"
            ),
            Error::BadMagic { format } => {
                write!(f, "not a {format} file: it does not start with the format's magic number")
            }
            Error::UnsupportedVersion { version, supported } => write!(
                f,
                "backprop weights file of format version {version}; this build reads version {supported}"
            ),
            Error::UnknownScalarType { tag } => {
                write!(f, "backprop weights file has unknown scalar type tag {tag} (1 = f32, 2 = f64)")
            }
            Error::InvalidField { field, value } => {
                write!(f, "backprop weights file has {field} = {value}, which the format does not allow")
            }
            Error::TrailingBytes { expected, len } => write!(
                f,
                "backprop weights file has {} but its header accounts for {expected}: \
                 unexpected bytes after the checksum",
                count(len, "bytes")
            ),
            Error::ChecksumMismatch { stored, computed } => write!(
                f,
                "backprop weights file is corrupt: stored CRC-32 {stored:#010x}, computed {computed:#010x}"
            ),
            Error::ScalarTypeMismatch { file, model } => {
                write!(f, "the weights are {file} but the model's scalar type is {model}")
            }
            Error::ArchitectureMismatch {
                file_layers,
                file_params,
                file_fingerprint,
                model_layers,
                model_params,
                model_fingerprint,
            } => write!(
                f,
                "the weights were written for a different architecture: the file has {}, {}, \
                 fingerprint {file_fingerprint:#018x}; the model has {}, {}, fingerprint {model_fingerprint:#018x}",
                count(file_layers, "layers"),
                count(file_params, "parameters"),
                count(model_layers, "layers"),
                count(model_params, "parameters"),
            ),
            Error::HeaderLength { header_len, available } => write!(
                f,
                "safetensors header length {header_len} points past the end of the file \
                 ({} {} the length field)",
                count(available, "bytes"),
                if available == 1 { "follows" } else { "follow" }
            ),
            Error::InvalidHeader { offset, reason } => {
                write!(f, "safetensors header is invalid at byte {offset} of the JSON: {reason}")
            }
            Error::UnexpectedTensor { name, missing: Some(missing), naming } => write!(
                f,
                "the file holds tensor `{name}`, which the model has no place for, and no tensor \
                 `{missing}`, which the model looks for: {}",
                NamingHint(naming)
            ),
            Error::UnexpectedTensor { name, missing: None, .. } => write!(
                f,
                "the file holds tensor `{name}`, which the model has no place for (and every tensor \
                 the model needs): safetensors::read_skipping_extra and load_skipping_extra skip such tensors"
            ),
            Error::MissingTensor { name, unexpected: Some(unexpected), naming } => write!(
                f,
                "the file has no tensor `{name}`, which the model looks for, but holds tensor \
                 `{unexpected}`, which the model has no place for: {}",
                NamingHint(naming)
            ),
            Error::MissingTensor { name, unexpected: None, naming } => {
                write!(f, "the file has no tensor `{name}`, which the model looks for ({naming})")
            }
            Error::DuplicateTensor { name, offset } => write!(
                f,
                "safetensors header names tensor `{name}` twice (again at byte {offset} of the JSON)"
            ),
            Error::HeaderTooLarge { header_len, limit } => write!(
                f,
                "safetensors header length {header_len} is over the format's limit of {limit} bytes"
            ),
            Error::UnsupportedDtype { name, dtype } => write!(
                f,
                "tensor `{name}` has dtype {dtype}; the model's tensors can be read from F16, BF16, F32 or F64"
            ),
            Error::ShapeMismatch { name, expected, found } => {
                // Each kind of layer with parameters has weights of its own
                // rank, so the expected shape tells which kind it is.
                let layer = match expected.rank() {
                    4 => "a Conv2d weight: out channels, in channels, kernel height, kernel width",
                    3 => "a Conv1d weight: out channels, in channels, kernel",
                    2 => "a Dense weight, PyTorch's nn.Linear: outputs, inputs",
                    _ => "a bias: one per output or output channel",
                };
                write!(f, "tensor `{name}` has shape {found} but the layer needs {expected} ({layer})")
            }
            Error::InvalidOffsets { name, begin, end, reason } => {
                write!(f, "tensor `{name}` has data_offsets [{begin}, {end}]: {reason}")
            }
            Error::DataNotCovered { covered, data_len } => write!(
                f,
                "the tensors cover {covered} of the {}; safetensors allows no unused bytes",
                count(data_len, "data bytes")
            ),
            Error::NameCount { naming, expected, found } => {
                let (names, things, note) = if naming == "Names::Layers" {
                    ("layer names", "layers", " with parameters (Dense, Conv1d, Conv2d)")
                } else {
                    ("tensor names", "tensors", " (a weight and a bias per layer with parameters)")
                };
                write!(
                    f,
                    "{naming}: {} {} given but the model has {}{note}",
                    count(found, names),
                    if found == 1 { "was" } else { "were" },
                    count(expected, things),
                )
            }
            Error::InvalidName { name, reason } => write!(f, "name `{name}` {reason}"),
            #[cfg(feature = "std")]
            Error::Io { action, path, kind, os_error } => {
                match path {
                    Some(path) => write!(f, "{action} `{path}`: ")?,
                    None => f.write_str("I/O error: ")?,
                }
                match kind {
                    std::io::ErrorKind::NotFound => f.write_str("no such file or directory")?,
                    kind => write!(f, "{kind}")?,
                }
                match os_error {
                    Some(code) => write!(f, " (os error {code})"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `n` and a noun, singular if `n` is 1: `count(1, "bytes")` shows as
/// `1 byte`, `count(2, "bytes")` as `2 bytes`.
fn count<N: fmt::Display + PartialEq + From<u8>>(n: N, plural: &'static str) -> Count<N> {
    Count(n, plural)
}

/// See [`count`].
struct Count<N>(N, &'static str);

impl<N: fmt::Display + PartialEq + From<u8>> fmt::Display for Count<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Count(n, plural) = self;
        let noun = if *n == N::from(1) { plural.strip_suffix('s').unwrap_or(plural) } else { plural };
        write!(f, "{n} {noun}")
    }
}

/// Where a model's tensor names came from, and what to do if they are not
/// the file's.
struct NamingHint(&'static str);

impl fmt::Display for NamingHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "Names::Sequential" => f.write_str(
                "the model's names are those of a PyTorch nn.Sequential (Names::Sequential); \
                 for other names (such as attributes `fc1`, `fc2`) give Names::Layers or Names::Tensors",
            ),
            naming => write!(f, "the model's names are the ones given in {naming}"),
        }
    }
}

/// A value as a reader wants it: plain for ordinary magnitudes (`0.1`,
/// `250`), scientific for tiny and huge ones (`1e-50`, not fifty zeros).
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.abs();
        if magnitude != 0.0 && magnitude.is_finite() && !(1e-4..1e9).contains(&magnitude) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn counts_of_one_are_singular() {
        let cases = [
            (
                Error::ClassOutOfRange { data: "data", sample: 0, class: 1, classes: 1 },
                "sample 0 of the data: class index 1 is out of range: the model has 1 output (classes 0..1)",
            ),
            (
                Error::LengthMismatch { what: "inputs", len: 1, other: "targets", other_len: 2 },
                "1 input but 2 targets: they must pair up one to one",
            ),
            (
                Error::LengthMismatch { what: "inputs", len: 3, other: "outputs", other_len: 1 },
                "3 inputs but 1 output: they must pair up one to one",
            ),
            (Error::BufferTooSmall { needed: 40, len: 1 }, "the buffer holds 1 byte but the weight file needs 40"),
            (
                Error::Truncated { format: "safetensors", needed: 8, len: 1 },
                "safetensors file is truncated: it needs 8 bytes but only 1 was given",
            ),
            (
                Error::Truncated { format: "safetensors", needed: 8, len: 2 },
                "safetensors file is truncated: it needs 8 bytes but only 2 were given",
            ),
            (
                Error::TrailingBytes { expected: 40, len: 41 },
                "backprop weights file has 41 bytes but its header accounts for 40: unexpected bytes after the checksum",
            ),
            (
                Error::HeaderLength { header_len: 9, available: 1 },
                "safetensors header length 9 points past the end of the file (1 byte follows the length field)",
            ),
            (
                Error::DataNotCovered { covered: 0, data_len: 1 },
                "the tensors cover 0 of the 1 data byte; safetensors allows no unused bytes",
            ),
            (
                Error::ArchitectureMismatch {
                    file_layers: 1,
                    file_params: 1,
                    file_fingerprint: 1,
                    model_layers: 2,
                    model_params: 9,
                    model_fingerprint: 2,
                },
                "the weights were written for a different architecture: the file has 1 layer, 1 parameter, \
                 fingerprint 0x0000000000000001; the model has 2 layers, 9 parameters, fingerprint 0x0000000000000002",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }
}
