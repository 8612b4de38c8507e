//! safetensors, PyTorch's weight format: read and write, without an
//! allocator.
//!
//! A network trained in PyTorch as an `nn.Sequential` of `nn.Linear`,
//! `nn.Conv1d` and `nn.Conv2d` layers, activations, pools and reshapes,
//! saved with `safetensors.torch.save_file(model.state_dict(), path)`,
//! loads into the backprop model of the same architecture, and a model
//! written here loads in PyTorch with `safetensors.torch.load_file` and
//! `load_state_dict`.
//!
//! ```
//! use backprop::prelude::*;
//! use backprop::safetensors::{self, Names};
//!
//! // PyTorch: nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
//! type Net = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
//!
//! let mut bytes = [0u8; 512];
//! let len = safetensors::write(&net, Names::Sequential, &mut bytes)?; // 0.weight, 0.bias, 2.weight, 2.bias
//! let copy: Net = safetensors::read(&bytes[..len], Names::Sequential)?;
//! assert_eq!(copy, net);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! # The format
//!
//! ```text
//! 8 bytes   N, the header length, u64 little-endian
//! N bytes   the header: a JSON object, UTF-8, starting with '{', possibly padded with spaces
//! rest      the data: every tensor's bytes, little-endian, row-major
//! ```
//!
//! The header maps each tensor name to
//! `{"dtype": "F32", "shape": [16, 2], "data_offsets": [begin, end]}`
//! (offsets in bytes from the start of the data), and may hold one
//! `"__metadata__"` object of string keys and string values.
//!
//! # Names
//!
//! [`Names::Sequential`], the default, is the `state_dict` naming of a
//! PyTorch `nn.Sequential` that holds the model's layers in order, each as
//! one module, and after each `Dense` or convolution its activation module.
//! Every module takes an index, so a layer's tensors are `{i}.weight` and
//! `{i}.bias` where `i` counts the modules before it:
//!
//! | backprop layer | PyTorch module(s) | modules | tensors |
//! |---|---|---|---|
//! | `Dense<IN, OUT, A>` | `nn.Linear(IN, OUT)`, then the activation | 1, 2 with an activation | `weight [OUT, IN]`, `bias [OUT]` |
//! | `Conv1d<CI, CO, K, S, P, .., A>` | `nn.Conv1d(CI, CO, K, stride=S, padding=P)`, then the activation | 1, 2 with an activation | `weight [CO, CI, K]`, `bias [CO]` |
//! | `Conv2d<CI, CO, K, S, P, .., A>` | `nn.Conv2d(CI, CO, K, stride=S, padding=P)`, then the activation | 1, 2 with an activation | `weight [CO, CI, K, K]`, `bias [CO]` |
//! | `MaxPool1d`, `AvgPool1d`, `MaxPool2d`, `AvgPool2d` (kernel `K`) | `nn.MaxPool1d(K)`, ... | 1 | none |
//! | `GlobalAvgPool1d`, `GlobalAvgPool2d` | `nn.AdaptiveAvgPool1d(1)`, `nn.AdaptiveAvgPool2d(1)` | 1 | none |
//! | `Flatten1d`, `Flatten2d` | `nn.Flatten()` | 1 | none |
//! | `Unflatten1d<N, C, L>`, `Unflatten2d<N, C, H, W>` | `nn.Unflatten(1, (C, L))`, `nn.Unflatten(1, (C, H, W))` | 1 | none |
//!
//! An activation takes an index unless it is
//! [`Identity`](crate::activation::Identity): a layer with it is a bare
//! `nn.Linear` or `nn.Conv2d` (PyTorch needs no `nn.Identity()`). Any other
//! is one more module (`nn.Tanh()`, `nn.GELU(approximate="tanh")`, ...).
//!
//! So `(Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>)` is
//! `nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))`
//! with tensors `0.weight`, `0.bias`, `2.weight`, `2.bias`, `4.weight`,
//! `4.bias`; and the conv net
//!
//! ```text
//! (Unflatten2d<784, 1, 28, 28>,                      0  nn.Unflatten(1, (1, 28, 28))
//!  Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>,      1  nn.Conv2d(1, 8, 3, padding=1)   1.weight [8, 1, 3, 3], 1.bias [8]
//!                                                    2  nn.ReLU()
//!  MaxPool2d<8, 2, 28, 28, 14, 14>,                  3  nn.MaxPool2d(2)
//!  Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU>,     4  nn.Conv2d(8, 16, 3, padding=1)  4.weight [16, 8, 3, 3], 4.bias [16]
//!                                                    5  nn.ReLU()
//!  MaxPool2d<16, 2, 14, 14, 7, 7>,                   6  nn.MaxPool2d(2)
//!  Flatten2d<16, 7, 7, 784>,                         7  nn.Flatten()
//!  Dense<784, 10, Identity>)                         8  nn.Linear(784, 10)              8.weight [10, 784], 8.bias [10]
//! ```
//!
//! Nested tuples are flattened: `((A, B), C)` is named like `(A, B, C)`.
//! For any other module structure (an `nn.Identity()` that is really there,
//! nested `nn.Sequential`s, named attributes such as `conv1`, pools done in
//! `forward` with `F.max_pool2d`), give the names of the layers with
//! parameters: [`Names::Layers`] with one prefix per such layer (`conv1`
//! gives `conv1.weight`, `conv1.bias`), or [`Names::Tensors`] with every
//! name. Layers without parameters take no name there.
//!
//! A safetensors file holds tensors, not the architecture: a model that
//! differs from the file's only in a stride, a padding, the input size or
//! a pool that keeps the module count (a `MaxPool2d` for an `AvgPool2d`)
//! reads the same tensors, and computes something else. backprop's own
//! format ([`weights`](crate::weights)) refuses such a file: its
//! fingerprint covers every layer.
//!
//! # What a reader checks
//!
//! Everything, and every failure is an [`Error`]: the header is at most
//! [`MAX_HEADER_LEN`] (100 MB) long, as in the reference implementation
//! ([`Error::HeaderTooLarge`]), and its length fits the file
//! ([`Error::HeaderLength`]); the header is UTF-8, well-formed JSON and of
//! the format's shape: an object of tensor entries, each with exactly
//! `dtype` (a string), `shape` (non-negative integers) and `data_offsets`
//! (two non-negative integers), `__metadata__` at most once and of strings
//! ([`Error::InvalidHeader`], with the byte offset; a key repeated inside
//! `__metadata__` is allowed, as the reference allows it); no tensor name
//! appears twice ([`Error::DuplicateTensor`], with the byte offset);
//! every dtype is a safetensors dtype, and the model's tensors are `F16`,
//! `BF16`, `F32` or `F64` ([`Error::UnsupportedDtype`]); every tensor's
//! offsets are ordered, inside the data and exactly `dtype size × elements`
//! long, and no two tensors overlap ([`Error::InvalidOffsets`]); the tensors
//! cover the whole data section ([`Error::DataNotCovered`]); every tensor of
//! the model is there ([`Error::MissingTensor`]) with the layer's shape
//! ([`Error::ShapeMismatch`], which says the shape the layer needs and
//! which kind of tensor it is), and the file holds nothing else
//! ([`Error::UnexpectedTensor`], as PyTorch's `load_state_dict(strict=True)`);
//! and every value, converted to the model's scalar type, is finite
//! ([`Error::NonFiniteWeight`]). The model is changed only after all of this
//! passed.
//!
//! When the names of the file and the model differ, the error names one of
//! each (the file's tensor the model has no place for, and the model's
//! tensor the file does not hold) and the [`Names`] that produced the
//! model's. A file that holds the model's tensors and others besides (a
//! larger model's checkpoint, buffers of a `state_dict`) loads with
//! [`read_skipping_extra`] or [`load_skipping_extra`], which skip the others
//! and say which they skipped ([`Skipped`]).
//!
//! Values are converted to the model's scalar type: `F16`, `BF16` and `F32`
//! exactly, `F64` into an `f32` model by rounding to nearest. The parser
//! keeps no state beyond a few integers: it reads the header several times
//! (a handful of passes per layer, and one per skipped tensor) instead of
//! building a table of it.

mod dtype;
mod header;
mod json;
mod names;
mod skipped;

pub use crate::error::tensor::{Shape, TensorName};
pub use names::Names;

use crate::error::Error;
use crate::model::Architecture;
use crate::weights::{check_finite, Storable};
use dtype::{dtype_info, Dtype};
use header::{padded_header_len, write_header, Out};
use json::{for_each_entry, Entries, Entry, JsonStr};
use names::{expected, for_each_expected, tensors, ExpectedName};
use num_traits::Float;
pub use skipped::{NameInFile, Skipped, SkippedNames};

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// The largest header the readers accept, in bytes: 100 MB, the limit of the
/// reference implementation (the `safetensors` crate and Python package).
/// A longer header is an [`Error::HeaderTooLarge`], checked before anything
/// else in the header is read.
pub const MAX_HEADER_LEN: usize = 100_000_000;

/// Splits a file into its header (as text) and its data.
fn split(bytes: &[u8]) -> Result<(&str, &[u8]), Error> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::Truncated { format: "safetensors", needed: 8, len: bytes.len() });
    };
    let header_len = u64::from_le_bytes(*length);
    if header_len > MAX_HEADER_LEN as u64 {
        return Err(Error::HeaderTooLarge { header_len, limit: MAX_HEADER_LEN as u64 });
    }
    let header_end = usize::try_from(header_len).ok().filter(|&n| n <= rest.len());
    let Some(header_end) = header_end else {
        return Err(Error::HeaderLength { header_len, available: rest.len() });
    };
    let (header, data) = rest.split_at(header_end);
    let header = core::str::from_utf8(header)
        .map_err(|e| Error::InvalidHeader { offset: e.valid_up_to(), reason: "the header is not UTF-8" })?;
    Ok((header, data))
}

/// Checks one entry's dtype and offsets against the data section.
fn check_entry(entry: &Entry<'_>, data_len: u64) -> Result<Option<Dtype>, Error> {
    let Some((size, ours)) = dtype_info(entry.dtype) else {
        return Err(Error::UnsupportedDtype { name: entry.name.to_name(), dtype: entry.dtype.to_name() });
    };
    let offsets_error = |reason| Error::InvalidOffsets {
        name: entry.name.to_name(),
        begin: entry.begin,
        end: entry.end,
        reason,
    };
    if entry.begin > entry.end {
        return Err(offsets_error("the start is after the end"));
    }
    if entry.end > data_len {
        return Err(offsets_error("they reach past the end of the data section"));
    }
    if entry.elements.and_then(|n| n.checked_mul(size)) != Some(entry.end - entry.begin) {
        return Err(offsets_error("the length is not the dtype's size times the number of elements"));
    }
    Ok(ours)
}

/// The first entry named `name`, if there is one.
fn find<'a>(header: &'a str, name: ExpectedName<'_>) -> Option<Entry<'a>> {
    Entries::new(header).filter_map(Result::ok).find(|entry| name.matches(entry.name))
}

/// Whether `name` (from the file) is one of the model's tensors.
fn expects<M: Architecture>(names: Names<'_>, name: JsonStr<'_>) -> bool {
    let mut known = false;
    for_each_expected::<M>(names, |_, e| known |= e.name.matches(name));
    known
}

/// The first of the model's tensor names the header does not hold.
fn first_missing<M: Architecture>(header: &str, names: Names<'_>) -> Option<TensorName> {
    let mut missing = None;
    for_each_expected::<M>(names, |_, e| {
        if missing.is_none() && find(header, e.name).is_none() {
            missing = Some(TensorName::from_display(e.name));
        }
    });
    missing
}

/// The first tensor of the header the model has no place for.
fn first_unexpected<M: Architecture>(header: &str, names: Names<'_>) -> Option<TensorName> {
    Entries::new(header)
        .filter_map(Result::ok)
        .find(|entry| !expects::<M>(names, entry.name))
        .map(|entry| entry.name.to_name())
}

/// Checks that no other entry of the header has `entry`'s name, or data
/// overlapping its data.
fn check_apart(header: &str, entry: &Entry<'_>) -> Result<(), Error> {
    for_each_entry(header, |other| {
        if other.position == entry.position {
            return Ok(());
        }
        if other.name.chars().eq(entry.name.chars()) {
            return Err(Error::DuplicateTensor {
                name: entry.name.to_name(),
                offset: other.at.max(entry.at),
            });
        }
        let overlap = other.begin < entry.end
            && entry.begin < other.end
            && other.begin < other.end
            && entry.begin < entry.end;
        if overlap {
            return Err(Error::InvalidOffsets {
                name: entry.name.to_name(),
                begin: entry.begin,
                end: entry.end,
                reason: "they overlap another tensor's data",
            });
        }
        Ok(())
    })
    .map(|_| ())
}

/// Reads a model of type `M` from a safetensors file.
///
/// The model is built on the stack; for a large model, [`load`] into one
/// that lives on the heap.
///
/// # Errors
///
/// Every check in the [module documentation](self#what-a-reader-checks),
/// plus [`Error::NameCount`] and [`Error::InvalidName`] for explicit names
/// that do not fit the model. A tensor the model has no place for is an
/// [`Error::UnexpectedTensor`]; [`read_skipping_extra`] skips such tensors
/// instead.
pub fn read<M: Architecture>(bytes: &[u8], names: Names<'_>) -> Result<M, Error>
where
    M::Scalar: Storable,
{
    let mut model = M::zeroed();
    load(&mut model, bytes, names)?;
    Ok(model)
}

/// Overwrites `model`'s parameters with the tensors of a safetensors file.
///
/// # Errors
///
/// As [`read`]. The whole file is checked before the model is changed: on an
/// error the model is as it was.
pub fn load<M: Architecture>(model: &mut M, bytes: &[u8], names: Names<'_>) -> Result<(), Error>
where
    M::Scalar: Storable,
{
    load_checked(model, bytes, names, Extra::Refuse).map(|_| ())
}

/// Reads a model of type `M` from a safetensors file that may hold other
/// tensors too, and says which it skipped.
///
/// As [`read`], except that a tensor the model has no place for is skipped
/// instead of refused (as PyTorch's `load_state_dict(strict=False)` does;
/// unlike it, every tensor the model needs must still be there). The
/// returned [`Skipped`] counts the skipped tensors and lists their names.
/// See [`load_skipping_extra`] for when skipping is right, and an example.
///
/// # Errors
///
/// As [`read`], without [`Error::UnexpectedTensor`]. The skipped tensors
/// are checked as the model's are (a safetensors dtype, offsets inside the
/// data and apart from every other tensor's, names not repeated), but their
/// values are not read.
pub fn read_skipping_extra<'a, M: Architecture>(
    bytes: &'a [u8],
    names: Names<'a>,
) -> Result<(M, Skipped<'a>), Error>
where
    M::Scalar: Storable,
{
    let mut model = M::zeroed();
    let skipped = load_skipping_extra(&mut model, bytes, names)?;
    Ok((model, skipped))
}

/// Overwrites `model`'s parameters with the tensors of a safetensors file
/// that may hold other tensors too, and says which it skipped.
///
/// The strict readers, [`read`] and [`load`], refuse a file holding a tensor
/// the model has no place for ([`Error::UnexpectedTensor`]), as PyTorch's
/// `load_state_dict(strict=True)` does: an extra tensor usually means that
/// the file is of another model. Sometimes it is not, and this function
/// skips such tensors instead: a checkpoint whose first layers are the
/// model (a feature extractor, the encoder of an autoencoder), or a
/// `state_dict` that also holds buffers (constants registered with
/// `register_buffer`). It returns the skipped tensors, counted and named
/// ([`Skipped`]), so that the choice stays visible. Every tensor the model
/// needs must still be in the file ([`Error::MissingTensor`]).
///
/// Skipping is right only when the skipped tensors take no part in the
/// computation the model's type describes. A normalisation module's
/// running statistics (`running_mean`, `running_var` of an
/// `nn.BatchNorm1d`) do: in evaluation mode they scale every output, so a
/// model loaded without them computes something else than PyTorch's. Fold
/// such a module into the `nn.Linear` before it, in PyTorch, before saving.
///
/// ```
/// use backprop::prelude::*;
/// use backprop::safetensors::{self, Names};
///
/// // PyTorch: nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).
/// // Its first two layers, as a feature extractor:
/// type Features = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>);
/// let file = include_bytes!("../../tests/fixtures/pytorch_mlp.safetensors");
///
/// // Strict by default: the last layer's `4.weight` and `4.bias` have no place in the model.
/// let strict = safetensors::read::<Features>(file, Names::Sequential);
/// assert!(matches!(strict, Err(Error::UnexpectedTensor { .. })));
///
/// let mut features = Features::zeroed();
/// let skipped = safetensors::load_skipping_extra(&mut features, file, Names::Sequential)?;
/// assert_eq!(skipped.len(), 2);
/// for name in skipped {
///     println!("skipped {name}"); // skipped 4.bias, skipped 4.weight
/// }
/// assert!(skipped.names().eq(["4.bias", "4.weight"]));
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
///
/// As [`read_skipping_extra`]. The whole file is checked before the model is
/// changed: on an error the model is as it was.
pub fn load_skipping_extra<'a, M: Architecture>(
    model: &mut M,
    bytes: &'a [u8],
    names: Names<'a>,
) -> Result<Skipped<'a>, Error>
where
    M::Scalar: Storable,
{
    let (header, count) = load_checked(model, bytes, names, Extra::Skip)?;
    Ok(Skipped::new(header, names, expects::<M>, count))
}

/// What a reader does with a tensor the model has no place for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    /// [`Error::UnexpectedTensor`].
    Refuse,
    /// Checks it like the model's tensors, and counts it.
    Skip,
}

/// Checks the whole file and then loads it into `model`; returns the header
/// and the number of tensors skipped.
fn load_checked<'b, M: Architecture>(
    model: &mut M,
    bytes: &'b [u8],
    names: Names<'_>,
    extra: Extra,
) -> Result<(&'b str, usize), Error>
where
    M::Scalar: Storable,
{
    names.check::<M>()?;
    let (header, data) = split(bytes)?;
    let data_len = data.len() as u64;

    // Pass 1: the header is well-formed, every entry consistent with the
    // data section.
    let mut covered: u64 = 0;
    for_each_entry(header, |entry| {
        check_entry(&entry, data_len)?;
        covered = covered.saturating_add(entry.end - entry.begin);
        Ok(())
    })?;

    // Pass 2: every entry is one of the model's tensors, or is skipped (then
    // its name is not repeated and its data overlaps no other's).
    let mut skipped = 0;
    for_each_entry(header, |entry| {
        if expects::<M>(names, entry.name) {
            return Ok(());
        }
        if extra == Extra::Refuse {
            return Err(Error::UnexpectedTensor {
                name: entry.name.to_name(),
                missing: first_missing::<M>(header, names),
                naming: names.label(),
            });
        }
        check_apart(header, &entry)?;
        skipped += 1;
        Ok(())
    })?;

    // Then each of the model's tensors: present once, of a dtype we read, of
    // the layer's shape, overlapping no other tensor, finite.
    for t in 0..tensors::<M>() {
        let Some(expected) = expected::<M>(names, t) else { break };
        let Some(entry) = find(header, expected.name) else {
            return Err(Error::MissingTensor {
                name: TensorName::from_display(expected.name),
                unexpected: first_unexpected::<M>(header, names),
                naming: names.label(),
            });
        };
        let dtype = match check_entry(&entry, data_len)? {
            Some(dtype) => dtype,
            None => {
                return Err(Error::UnsupportedDtype {
                    name: entry.name.to_name(),
                    dtype: entry.dtype.to_name(),
                })
            }
        };
        if entry.shape != expected.shape {
            return Err(Error::ShapeMismatch {
                name: entry.name.to_name(),
                expected: expected.shape,
                found: entry.shape,
            });
        }
        check_apart(header, &entry)?;
        let mut values = tensor_values::<M::Scalar>(data, &entry, dtype);
        if let Some(index) = values.position(|x| !x.is_finite()) {
            return Err(Error::NonFiniteWeight { layer: expected.layer, tensor: expected.kind, index });
        }
    }
    if covered != data_len {
        return Err(Error::DataNotCovered { covered, data_len });
    }

    // All checked: copy. (The lookups cannot fail now; they found every
    // tensor above.)
    let mut t = 0;
    model.for_each_tensor_mut(|tensor| {
        if let Some(entry) = expected::<M>(names, t).and_then(|e| find(header, e.name)) {
            let dtype = dtype_info(entry.dtype).and_then(|(_, ours)| ours).unwrap_or(Dtype::F32);
            for (x, value) in tensor.iter_mut().zip(tensor_values(data, &entry, dtype)) {
                *x = value;
            }
        }
        t += 1;
    });
    Ok((header, skipped))
}

/// The values of a checked entry, converted to `T`.
fn tensor_values<'d, T: Storable>(
    data: &'d [u8],
    entry: &Entry<'_>,
    dtype: Dtype,
) -> impl Iterator<Item = T> + 'd {
    let bytes = data.get(entry.begin as usize..entry.end as usize).unwrap_or(&[]);
    let size = match dtype {
        Dtype::F16 | Dtype::BF16 => 2,
        Dtype::F32 => 4,
        Dtype::F64 => 8,
    };
    bytes.chunks_exact(size).map(move |value| T::from_f64(dtype.decode(value)))
}

/// The size in bytes of the safetensors file of a model of type `M` with
/// these names: 8 + the header (padded to a multiple of 8) + the data.
///
/// # Errors
///
/// [`Error::NameCount`] and [`Error::InvalidName`] for explicit names that do
/// not fit the model.
pub fn size<M: Architecture>(names: Names<'_>) -> Result<usize, Error>
where
    M::Scalar: Storable,
{
    names.check::<M>()?;
    Ok(8 + padded_header_len::<M>(names) + M::PARAMS * <M::Scalar as Storable>::TYPE.size())
}

/// Writes `model` as a safetensors file into the start of `out` and returns
/// its length ([`size`]).
///
/// The tensors are the model's scalar type (`F32` or `F64`), in layer order;
/// the header carries `"__metadata__": {"format": "pt"}` as PyTorch's
/// savers write it, and is padded with spaces to a multiple of 8 bytes.
/// `safetensors.torch.load_file` reads the result, and
/// `model.load_state_dict(...)` takes it for the `nn.Sequential` described in
/// the [module documentation](self#names).
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is shorter than the file;
/// [`Error::NonFiniteWeight`] for a NaN or infinite parameter;
/// [`Error::NameCount`] and [`Error::InvalidName`] for explicit names that do
/// not fit.
pub fn write<M: Architecture>(model: &M, names: Names<'_>, out: &mut [u8]) -> Result<usize, Error>
where
    M::Scalar: Storable,
{
    let len = size::<M>(names)?;
    let Some(file) = out.get_mut(..len) else {
        return Err(Error::BufferTooSmall { needed: len, len: out.len() });
    };
    check_finite(model)?;
    let header_len = padded_header_len::<M>(names);
    let (length, rest) = file.split_at_mut(8);
    length.copy_from_slice(&(header_len as u64).to_le_bytes());
    let (header, data) = rest.split_at_mut(header_len);
    header.fill(b' ');
    let _ = write_header::<M>(names, &mut Out { buffer: Some(header), len: 0 });
    let mut slots = data.chunks_exact_mut(<M::Scalar as Storable>::TYPE.size());
    model.for_each_tensor(|tensor| {
        for (&x, slot) in tensor.iter().zip(&mut slots) {
            x.write_le(slot);
        }
    });
    Ok(len)
}

/// `model` as a safetensors file in a new `Vec`.
///
/// # Errors
///
/// As [`write`](fn@write), except that the buffer is never too small.
#[cfg(feature = "alloc")]
pub fn to_vec<M: Architecture>(model: &M, names: Names<'_>) -> Result<Vec<u8>, Error>
where
    M::Scalar: Storable,
{
    let mut bytes = alloc::vec![0; size::<M>(names)?];
    write(model, names, &mut bytes)?;
    Ok(bytes)
}

/// Writes `model` as a safetensors file to `path`.
///
/// # Errors
///
/// Those of [`write`](fn@write), and [`Error::Io`] if the file cannot be
/// written (with the path and what the file system said).
#[cfg(feature = "std")]
pub fn save_file<M: Architecture>(
    model: &M,
    names: Names<'_>,
    path: impl AsRef<std::path::Path>,
) -> Result<(), Error>
where
    M::Scalar: Storable,
{
    let path = path.as_ref();
    let bytes = to_vec(model, names)?;
    std::fs::write(path, bytes).map_err(|e| Error::io("writing", path, &e))
}

/// Reads a model of type `M` from the safetensors file at `path`.
///
/// ```no_run
/// use backprop::prelude::*;
/// use backprop::safetensors::{self, Names};
///
/// type Net = (Dense<4, 16, Tanh>, Dense<16, 3, Identity>);
///
/// fn main() -> Result<(), backprop::Error> {
///     let net: Net = safetensors::read_file("net.safetensors", Names::Sequential)?;
///     // A missing file: "reading `net.safetensors`: no such file or directory (os error 2)"
///     # let _ = net;
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// Those of [`read`], and [`Error::Io`] if the file cannot be read (with
/// the path and what the file system said).
#[cfg(feature = "std")]
pub fn read_file<M: Architecture>(path: impl AsRef<std::path::Path>, names: Names<'_>) -> Result<M, Error>
where
    M::Scalar: Storable,
{
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, &e))?;
    read(&bytes, names)
}
