//! The crate's one error type.
//!
//! No public function panics on bad data: wrong values (a class index past
//! the last class, a negative learning rate, a NaN in an input, slices of
//! different lengths) are reported as an [`Error`] that says what was wrong
//! and where. Wrong *shapes* are not errors at all: they do not compile.
//!
//! Weight files are data too: every way a [`weights`](crate::weights) or
//! [`safetensors`](crate::safetensors) file can be truncated, corrupt, or
//! meant for another model has its own variant. `Error` is `Copy` and holds
//! no heap data, so tensor names from a file are kept in a fixed-size
//! [`TensorName`].

pub(crate) mod tensor;

use core::fmt;
use tensor::{Shape, TensorName};

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A class index is not below the number of classes (the output width).
    ClassOutOfRange {
        /// Which data set: `"training data"` and `"validation data"` in
        /// [`fit`](crate::train::Train::fit), `"data set"` in
        /// [`check_data`](crate::train::Train::check_data), `"data"` elsewhere.
        data: &'static str,
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The class index that was given.
        class: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A target holds NaN or an infinity.
    NonFiniteTarget {
        /// Which data set: `"training data"` and `"validation data"` in
        /// [`fit`](crate::train::Train::fit), `"data set"` in
        /// [`check_data`](crate::train::Train::check_data), `"data"` elsewhere.
        data: &'static str,
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The position of the first such element in the target.
        index: usize,
    },
    /// A target of a loss on probabilities is outside `[0, 1]`.
    TargetNotProbability {
        /// Which data set: `"training data"` and `"validation data"` in
        /// [`fit`](crate::train::Train::fit), `"data set"` in
        /// [`check_data`](crate::train::Train::check_data), `"data"` elsewhere.
        data: &'static str,
        /// Which sample (0 when a single target was checked).
        sample: usize,
        /// The position of the first such element in the target.
        index: usize,
    },
    /// An input holds NaN or an infinity.
    NonFiniteInput {
        /// Which data set: `"training data"` and `"validation data"` in
        /// [`fit`](crate::train::Train::fit), `"data set"` in
        /// [`check_data`](crate::train::Train::check_data), `"data"` elsewhere.
        data: &'static str,
        /// Which sample.
        sample: usize,
        /// The position of the first such element in the input.
        index: usize,
    },
    /// Two slices that must pair up element by element have different
    /// lengths.
    LengthMismatch {
        /// What the first slice holds (`"inputs"`).
        what: &'static str,
        /// Its length.
        len: usize,
        /// What the second slice holds (`"targets"`, `"labels"`, `"outputs"`).
        other: &'static str,
        /// Its length.
        other_len: usize,
    },
    /// A data set has no samples.
    EmptyData {
        /// Which data set (`"training data"`, `"validation data"`).
        what: &'static str,
    },
    /// A row of values does not have the number of values a sample needs
    /// ([`samples`](crate::samples)).
    RowLength {
        /// Which row (numbered as the caller numbered it; from 0 in
        /// [`from_rows`](crate::samples::from_rows)).
        row: usize,
        /// How many values it has.
        len: usize,
        /// How many a sample needs.
        expected: usize,
    },
    /// A field of a row of text is not a finite number, or not a class index
    /// ([`samples`](crate::samples)).
    InvalidValue {
        /// Which row (numbered as the caller numbered it).
        row: usize,
        /// Which field of the row (from 0).
        column: usize,
        /// What is wrong with it: `"is not a number"`, `"is not finite"`,
        /// `"is not a class index (a whole number from 0)"`.
        reason: &'static str,
    },
    /// A hyper-parameter (learning rate, batch size, Huber threshold, ...) is
    /// out of its range.
    InvalidHyperparameter {
        /// Which hyper-parameter.
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// Training diverged: the loss of a batch, or a parameter after an
    /// update, became NaN or infinite. Training stops there; the model keeps
    /// the last weights that were finite.
    Diverged {
        /// The epoch (from 0) in which it happened.
        epoch: usize,
        /// The batch (from 0) within the epoch.
        batch: usize,
        /// The batch's mean loss (NaN or infinite, or finite if the update
        /// itself overflowed).
        loss: f64,
    },

    // Weight files: both formats.
    /// A buffer given to a weight writer is too small for the file.
    BufferTooSmall {
        /// The number of bytes the file needs.
        needed: usize,
        /// The buffer's length.
        len: usize,
    },
    /// The weight bytes end before the file does: fewer bytes than the
    /// format's header says the file has.
    Truncated {
        /// The format (`"backprop weights"`, `"safetensors"`).
        format: &'static str,
        /// The number of bytes needed.
        needed: u64,
        /// The number of bytes given.
        len: usize,
    },
    /// A weight parameter is NaN or infinite (after conversion to the model's
    /// scalar type). Weight files with such values are refused when read and
    /// when written.
    NonFiniteWeight {
        /// The layer (from 0, in forward order, counting inside nested
        /// tuples).
        layer: usize,
        /// `"weight"` or `"bias"`.
        tensor: &'static str,
        /// The position of the value in the tensor, flattened row-major
        /// (`o * IN + i` for the weight from input `i` to output `o`).
        index: usize,
    },

    // backprop's own weight format (`weights`).
    /// The bytes do not start with the format's magic number: they are not a
    /// file of this format.
    BadMagic {
        /// The format that was expected.
        format: &'static str,
    },
    /// The file is of a format version this build cannot read.
    UnsupportedVersion {
        /// The version in the file.
        version: u16,
        /// The version this build reads and writes.
        supported: u16,
    },
    /// The file's scalar-type tag is not one the format defines.
    UnknownScalarType {
        /// The tag in the file.
        tag: u8,
    },
    /// A header field that must hold a fixed value does not.
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Its value in the file.
        value: u64,
    },
    /// The file has more bytes than its header accounts for.
    TrailingBytes {
        /// The file's length according to its header.
        expected: u64,
        /// The number of bytes given.
        len: usize,
    },
    /// The stored checksum does not match the bytes: the file is corrupt.
    ChecksumMismatch {
        /// The CRC-32 stored in the file.
        stored: u32,
        /// The CRC-32 of the bytes that were read.
        computed: u32,
    },
    /// The file holds a different scalar type than the model.
    ScalarTypeMismatch {
        /// The file's scalar type (`"f32"`, `"f64"`).
        file: &'static str,
        /// The model's.
        model: &'static str,
    },
    /// The file was written for a different architecture (layer widths,
    /// activations or number of layers differ).
    ArchitectureMismatch {
        /// The number of layers in the file.
        file_layers: u64,
        /// The number of parameters in the file.
        file_params: u64,
        /// The file's architecture fingerprint.
        file_fingerprint: u64,
        /// The model's number of layers.
        model_layers: u64,
        /// The model's number of parameters.
        model_params: u64,
        /// The model's fingerprint
        /// ([`Architecture::fingerprint`](crate::Architecture::fingerprint)).
        model_fingerprint: u64,
    },

    // safetensors.
    /// A safetensors header length (the first 8 bytes) points past the end
    /// of the file.
    HeaderLength {
        /// The header length in the file.
        header_len: u64,
        /// The number of bytes after the 8-byte length field.
        available: usize,
    },
    /// A safetensors header is not well-formed JSON, or not of the shape the
    /// format prescribes.
    InvalidHeader {
        /// The byte offset in the JSON header (from 0) where it went wrong.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The file holds a tensor the model has no place for.
    UnexpectedTensor {
        /// The tensor's name in the file.
        name: TensorName,
    },
    /// The model needs a tensor the file does not hold.
    MissingTensor {
        /// The name that was looked for.
        name: TensorName,
    },
    /// A tensor's dtype is not one this reader understands (`F16`, `BF16`,
    /// `F32`, `F64` for the model's tensors).
    UnsupportedDtype {
        /// The tensor's name.
        name: TensorName,
        /// The dtype in the file.
        dtype: TensorName,
    },
    /// A tensor's shape differs from the layer's.
    ShapeMismatch {
        /// The tensor's name.
        name: TensorName,
        /// The shape the layer needs.
        expected: Shape,
        /// The shape in the file.
        found: Shape,
    },
    /// A tensor's `data_offsets` are inconsistent.
    InvalidOffsets {
        /// The tensor's name.
        name: TensorName,
        /// The start offset in the file.
        begin: u64,
        /// The end offset in the file.
        end: u64,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// The tensors do not cover the whole data section (the format allows no
    /// unused bytes).
    DataNotCovered {
        /// The number of data bytes the tensors account for.
        covered: u64,
        /// The length of the data section.
        data_len: u64,
    },
    /// The wrong number of explicit tensor names was given.
    NameCount {
        /// The number the model needs.
        expected: usize,
        /// The number given.
        found: usize,
    },
    /// An explicit tensor name cannot be used.
    InvalidName {
        /// The name.
        name: TensorName,
        /// Why not.
        reason: &'static str,
    },
}

impl Error {
    /// The same error, attributed to sample `sample` of a data set.
    pub fn at_sample(self, sample: usize) -> Self {
        self.locate(None, Some(sample))
    }

    /// The same error, attributed to the data set `data` (`"validation
    /// data"`, ...) if it is about one sample.
    pub fn in_data(self, data: &'static str) -> Self {
        self.locate(Some(data), None)
    }

    /// The same error with its data set and sample replaced where given, if
    /// it is about one sample.
    fn locate(self, new_data: Option<&'static str>, new_sample: Option<usize>) -> Self {
        let place =
            |data: &'static str, sample: usize| (new_data.unwrap_or(data), new_sample.unwrap_or(sample));
        match self {
            Error::ClassOutOfRange { data, sample, class, classes } => {
                let (data, sample) = place(data, sample);
                Error::ClassOutOfRange { data, sample, class, classes }
            }
            Error::NonFiniteTarget { data, sample, index } => {
                let (data, sample) = place(data, sample);
                Error::NonFiniteTarget { data, sample, index }
            }
            Error::TargetNotProbability { data, sample, index } => {
                let (data, sample) = place(data, sample);
                Error::TargetNotProbability { data, sample, index }
            }
            Error::NonFiniteInput { data, sample, index } => {
                let (data, sample) = place(data, sample);
                Error::NonFiniteInput { data, sample, index }
            }
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ClassOutOfRange { data, sample, class, classes } => write!(
                f,
                "sample {sample} of the {data}: class index {class} is out of range: the model has {classes} outputs (classes 0..{classes})"
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
                write!(f, "{len} {what} but {other_len} {other}: they must pair up one to one")
            }
            Error::EmptyData { what } => write!(f, "the {what} has no samples"),
            Error::RowLength { row, len, expected } => write!(f, "row {row} has {len} values, {expected} expected"),
            Error::InvalidValue { row, column, reason } => {
                write!(f, "row {row}, column {column}: the value {reason}")
            }
            Error::InvalidHyperparameter { name, value, expected } => {
                write!(f, "invalid {name} {value}: it must be {expected}")
            }
            Error::Diverged { epoch, batch, loss } => write!(
                f,
                "training diverged in epoch {epoch}, batch {batch} (loss {loss}): \
                 the model keeps its last finite weights; try a smaller learning rate or gradient clipping"
            ),
            Error::BufferTooSmall { needed, len } => {
                write!(f, "the buffer holds {len} bytes but the weight file needs {needed}")
            }
            Error::Truncated { format, needed, len } => {
                write!(f, "{format} file is truncated: it needs {needed} bytes but only {len} were given")
            }
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
                "backprop weights file has {len} bytes but its header accounts for {expected}: \
                 unexpected bytes after the checksum"
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
                "the weights were written for a different architecture: the file has {file_layers} layers, \
                 {file_params} parameters, fingerprint {file_fingerprint:#018x}; the model has \
                 {model_layers} layers, {model_params} parameters, fingerprint {model_fingerprint:#018x}"
            ),
            Error::HeaderLength { header_len, available } => write!(
                f,
                "safetensors header length {header_len} points past the end of the file \
                 ({available} bytes follow the length field)"
            ),
            Error::InvalidHeader { offset, reason } => {
                write!(f, "safetensors header is invalid at byte {offset} of the JSON: {reason}")
            }
            Error::UnexpectedTensor { name } => {
                write!(f, "the file holds tensor `{name}`, which the model has no place for")
            }
            Error::MissingTensor { name } => write!(f, "the file has no tensor `{name}`"),
            Error::UnsupportedDtype { name, dtype } => write!(
                f,
                "tensor `{name}` has dtype {dtype}; the model's tensors can be read from F16, BF16, F32 or F64"
            ),
            Error::ShapeMismatch { name, expected, found } => {
                write!(f, "tensor `{name}` has shape {found} but the layer needs {expected}")
            }
            Error::InvalidOffsets { name, begin, end, reason } => {
                write!(f, "tensor `{name}` has data_offsets [{begin}, {end}]: {reason}")
            }
            Error::DataNotCovered { covered, data_len } => write!(
                f,
                "the tensors cover {covered} of the {data_len} data bytes; safetensors allows no unused bytes"
            ),
            Error::NameCount { expected, found } => {
                write!(f, "{found} tensor names were given but the model needs {expected}")
            }
            Error::InvalidName { name, reason } => write!(f, "tensor name `{name}` {reason}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
