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
//!
#![cfg_attr(
    feature = "std",
    doc = r#"
With the `std` feature, file-system errors are `Error`s too ([`Error::Io`],
with the path in a fixed-size [`ShortPath`]), so one `?` serves a whole
`fn main() -> Result<(), backprop::Error>`:

```no_run
use backprop::prelude::*;
use backprop::safetensors::{self, Names};

type Net = (Dense<4, 16, Tanh>, Dense<16, 3, Identity>);

fn main() -> Result<(), backprop::Error> {
    let net: Net = safetensors::read_file("net.safetensors", Names::Sequential)?;
    let inputs = std::fs::read_to_string("inputs.txt")?; // a std::io::Error converts too
    # let _ = (net, inputs);
    Ok(())
}
```
"#
)]

mod message;
#[cfg(feature = "std")]
mod path;
pub(crate) mod tensor;

#[cfg(feature = "std")]
pub use path::ShortPath;
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
    /// Training stopped because a loss or a parameter became NaN or
    /// infinite; [`Divergence`] says which, and so what to change. The step
    /// that found it changed nothing (with [`fit`](crate::train::Train::fit),
    /// an update that made a parameter non-finite is undone).
    Diverged {
        /// The epoch (from 0) in which it happened (0 for `train_step`).
        epoch: usize,
        /// The batch (from 0) within the epoch (0 for `train_step`).
        batch: usize,
        /// The batch's mean loss (NaN or infinite, or finite if the update
        /// itself overflowed).
        loss: f64,
        /// What became non-finite, and when.
        cause: Divergence,
    },
    /// An output of the model is NaN (or, where a loss is computed from it,
    /// infinite), so no class or loss can be given for the sample: its
    /// weights hold a NaN, or a computation inside the net overflowed.
    /// (Inputs are checked first: a non-finite input is
    /// [`Error::NonFiniteInput`].)
    NonFiniteOutput {
        /// Which data set (`"data"` unless given).
        data: &'static str,
        /// Which sample.
        sample: usize,
        /// The position of the first such element in the output.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The model's outputs for a sample are finite but its loss is not (it
    /// overflowed: outputs far from the targets).
    NonFiniteLoss {
        /// Which data set (`"data"` unless given).
        data: &'static str,
        /// Which sample.
        sample: usize,
        /// The loss.
        loss: f64,
    },
    /// A learning-rate schedule gives an epoch a learning rate that is not a
    /// positive number in the model's scalar type: it overflowed, or it
    /// underflowed to zero (a step schedule decaying for many epochs).
    InvalidSchedule {
        /// The first such epoch (from 0).
        epoch: usize,
        /// The learning rate the schedule computes for it (in `f64`).
        rate: f64,
    },

    // int8 models (`quant`).
    /// A calibration range has no width (every value observed was the
    /// same: 0 after the range is widened to contain 0), is not finite, or
    /// is so narrow that its int8 scale underflows: the tensor has no int8
    /// encoding.
    CollapsedRange {
        /// The tensor: 0 for the model's input, `k + 1` for layer `k`'s
        /// output (layers from 0, counting inside nested tuples).
        tensor: usize,
        /// The range's minimum.
        min: f64,
        /// The range's maximum.
        max: f64,
    },
    /// A layer's requantization multiplier `s_in · s_w / s_out` is `2³⁰` or
    /// more: its output range is more than a billion times narrower than
    /// its input and weights call for.
    MultiplierOutOfRange {
        /// The layer (from 0).
        layer: usize,
        /// The output channel.
        channel: usize,
        /// The multiplier.
        multiplier: f64,
    },
    /// A layer's bias is so large in units of `s_in · s_w` (the input's
    /// scale times the row's weight scale) that its int32 accumulator would
    /// wrap for some input: typically a row of tiny weights with a bias far
    /// from 0.
    BiasOutOfRange {
        /// The layer (from 0).
        layer: usize,
        /// The output channel.
        channel: usize,
        /// The float bias.
        bias: f64,
    },
    /// A value in an int8 weight file is outside what an int8 model holds (a
    /// weight code of −128, a zero point outside `-128..=127`, a scale that
    /// is not a positive finite number, a multiplier or shift out of range).
    InvalidQuantized {
        /// The layer (from 0; the model input's parameters are layer 0's
        /// `"input scale"` and `"input zero point"`).
        layer: usize,
        /// The field: `"weight"`, `"bias"` (one whose accumulator could
        /// overflow), `"weight scale"`, `"multiplier"`,
        /// `"shift"`, `"input scale"`, `"input zero point"`, `"output
        /// scale"`, `"output zero point"`.
        field: &'static str,
        /// The position within the field (`o · IN + i` for weights, the
        /// output channel for per-channel values, 0 otherwise).
        index: usize,
        /// The value in the file (a scale's IEEE 754 bits).
        value: i64,
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
        /// The layer (from 0, in forward order, counting every layer that
        /// [`Architecture::for_each_layer`](crate::Architecture::for_each_layer)
        /// reports, pools and reshapes included, inside nested tuples too).
        layer: usize,
        /// `"weight"` or `"bias"`.
        tensor: &'static str,
        /// The position of the value in the tensor, flattened row-major in
        /// PyTorch's layout (`o * IN + i` for a `Dense` weight from input `i`
        /// to output `o`; `((o * CI + i) * K + r) * K + c` for a `Conv2d`
        /// weight).
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
    /// The file holds a tensor the model has no place for (refused by the
    /// strict readers, [`read`](crate::safetensors::read) and
    /// [`load`](crate::safetensors::load); skipped by
    /// [`read_skipping_extra`](crate::safetensors::read_skipping_extra) and
    /// [`load_skipping_extra`](crate::safetensors::load_skipping_extra)).
    UnexpectedTensor {
        /// The tensor's name in the file.
        name: TensorName,
        /// The first tensor name the model looks for that the file does not
        /// hold, if there is one: when the file and the model name their
        /// tensors differently, this is the model's name to compare with
        /// `name`. `None` if the file holds every tensor the model needs.
        missing: Option<TensorName>,
        /// The naming the model's names came from: `"Names::Sequential"`,
        /// `"Names::Layers"` or `"Names::Tensors"`.
        naming: &'static str,
    },
    /// The model needs a tensor the file does not hold.
    MissingTensor {
        /// The name that was looked for.
        name: TensorName,
        /// The first tensor of the file the model has no place for, if there
        /// is one (it is only skipped, not refused, by
        /// [`load_skipping_extra`](crate::safetensors::load_skipping_extra)):
        /// when the file and the model name their tensors differently, this
        /// is the file's name to compare with `name`.
        unexpected: Option<TensorName>,
        /// The naming the model's names came from: `"Names::Sequential"`,
        /// `"Names::Layers"` or `"Names::Tensors"`.
        naming: &'static str,
    },
    /// A tensor name appears twice in a safetensors header.
    DuplicateTensor {
        /// The name.
        name: TensorName,
        /// The byte offset in the JSON header (from 0) of its second
        /// appearance.
        offset: usize,
    },
    /// A safetensors header is longer than the format allows
    /// ([`MAX_HEADER_LEN`](crate::safetensors::MAX_HEADER_LEN), 100 MB, as
    /// the reference implementation).
    HeaderTooLarge {
        /// The header length in the file.
        header_len: u64,
        /// The largest header length accepted.
        limit: u64,
    },
    /// A tensor's dtype is not one this reader understands (`F16`, `BF16`,
    /// `F32`, `F64` for the model's tensors).
    UnsupportedDtype {
        /// The tensor's name.
        name: TensorName,
        /// The dtype in the file.
        dtype: TensorName,
    },
    /// A tensor's shape differs from the layer's (PyTorch's layout: a
    /// `Dense` weight `[out, in]`, a `Conv1d` weight `[out, in, k]`, a
    /// `Conv2d` weight `[out, in, k, k]`, a bias `[out]`).
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
    /// The wrong number of explicit names was given: layer names for
    /// [`Names::Layers`](crate::safetensors::Names::Layers) (one per layer
    /// with parameters), tensor names for
    /// [`Names::Tensors`](crate::safetensors::Names::Tensors) (two per layer
    /// with parameters). Pools and reshapes take no names.
    NameCount {
        /// Which naming: `"Names::Layers"` or `"Names::Tensors"`.
        naming: &'static str,
        /// The number the model needs: its layers with parameters for
        /// `Names::Layers`, its tensors (twice that) for `Names::Tensors`.
        expected: usize,
        /// The number given.
        found: usize,
    },
    /// An explicit name (a layer prefix or a tensor name) cannot be used.
    InvalidName {
        /// The name.
        name: TensorName,
        /// Why not.
        reason: &'static str,
    },

    // Files (`std` only).
    /// Reading or writing a file failed (the crate's file helpers, such as
    /// [`safetensors::read_file`](crate::safetensors::read_file)), or a
    /// [`std::io::Error`] was converted with `?` (`From`). Only with the
    /// `std` feature.
    #[cfg(feature = "std")]
    Io {
        /// What was being done: `"reading"` or `"writing"` in the crate's
        /// file helpers, `"I/O"` for a converted [`std::io::Error`].
        action: &'static str,
        /// The file, if known (its last bytes if the path is long).
        path: Option<ShortPath>,
        /// The kind of failure.
        kind: std::io::ErrorKind,
        /// The operating system's error code, if there is one.
        os_error: Option<i32>,
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
            Error::NonFiniteOutput { data, sample, index, value } => {
                let (data, sample) = place(data, sample);
                Error::NonFiniteOutput { data, sample, index, value }
            }
            Error::NonFiniteLoss { data, sample, loss } => {
                let (data, sample) = place(data, sample);
                Error::NonFiniteLoss { data, sample, loss }
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

/// What became non-finite when training stopped with [`Error::Diverged`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Divergence {
    /// The loss of `fit`'s first batch was not finite, before any update:
    /// the data or the model's initial weights are the cause, not the
    /// learning rate.
    InitialLoss,
    /// The loss of a batch was not finite after earlier updates, or in a
    /// `train_step` or `train_epoch` call, which cannot tell whether earlier
    /// calls updated the model: nothing was updated in this step.
    Loss,
    /// The loss was finite but the update made a parameter NaN or infinite
    /// (`fit` checks every update and undoes such a one).
    Update,
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl From<std::io::Error> for Error {
    /// An [`Error::Io`] with the error's kind and operating-system code
    /// (without a path: the `std::io::Error` does not know it).
    fn from(error: std::io::Error) -> Self {
        Error::Io { action: "I/O", path: None, kind: error.kind(), os_error: error.raw_os_error() }
    }
}

impl Error {
    /// An [`Error::Io`] from `error`, met while `action` (`"reading"`,
    /// `"writing"`) the file at `path`.
    #[cfg(feature = "std")]
    pub(crate) fn io(action: &'static str, path: &std::path::Path, error: &std::io::Error) -> Self {
        Error::Io {
            action,
            path: Some(ShortPath::new(path)),
            kind: error.kind(),
            os_error: error.raw_os_error(),
        }
    }
}
