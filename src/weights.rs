//! backprop's own weight format: compact, checksummed, and readable without
//! an allocator.
//!
//! A weight file holds one model's parameters and enough of a header to
//! refuse the wrong bytes: weights for a different architecture, of a
//! different scalar type, or corrupted on the way. Its size is a
//! compile-time constant of the model type ([`size`]), so a microcontroller
//! can write it into a static buffer, and a binary can carry its weights in
//! flash with `include_bytes!`:
//!
//! ```
//! use backprop::prelude::*;
//! use backprop::weights;
//!
//! type Net = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
//!
//! let mut bytes = [0u8; weights::size::<Net>()]; // 36 + 33 × 4 bytes, on the stack
//! weights::write(&net, &mut bytes)?;
//! let copy: Net = weights::read(&bytes)?;
//! assert_eq!(copy, net);
//!
//! // A different architecture refuses the bytes instead of misreading them.
//! type Other = (Dense<2, 8, ReLU>, Dense<8, 1, Sigmoid>);
//! assert!(matches!(weights::read::<Other>(&bytes), Err(Error::ArchitectureMismatch { .. })));
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! Baked into the binary (the bytes are checked when loaded, at start-up):
//!
//! ```
//! # use backprop::prelude::*;
//! type Net = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
//!
//! static WEIGHTS: &[u8] = include_bytes!("../tests/fixtures/pytorch_mlp.bpw");
//!
//! let net: Net = backprop::weights::read(WEIGHTS)?;
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! # Format (version 1)
//!
//! All integers little-endian.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic: the ASCII bytes `BACKPROP` |
//! | 8 | 2 | format version, `u16`: 1 |
//! | 10 | 1 | scalar type: 1 = `f32` (IEEE 754 binary32), 2 = `f64` (binary64) |
//! | 11 | 1 | reserved: 0 |
//! | 12 | 4 | number of layers of every kind, pools and reshapes included, `u32` ([`Architecture::LAYERS`]) |
//! | 16 | 8 | architecture fingerprint, `u64` ([`Architecture::fingerprint`]) |
//! | 24 | 8 | number of parameters `P`, `u64` ([`Params::PARAMS`](crate::Params::PARAMS)) |
//! | 32 | `P · s` | the parameters, `s` = 4 or 8 bytes each, little-endian, in [`Params::visit`](crate::Params::visit) order: per layer with parameters, the weights flattened row-major in PyTorch's layout (`W[o][i]` for a `Dense`, `W[o][i][k]` for a `Conv1d`, `W[o][i][r][c]` for a `Conv2d`), then the bias |
//! | 32 + `P · s` | 4 | CRC-32 of every byte before it, `u32` |
//!
//! The file is `36 + P · s` bytes. The checksum is the common CRC-32
//! (ISO-HDLC: zlib, PNG, Ethernet; see [`crc32`]).
//!
//! The fingerprint covers every layer with every size its type spells
//! (kernel, stride, padding, input size, channels, pool kind and window,
//! reshapes), so a file written for a conv net differing in any of them is
//! refused even where the parameter count is the same:
//!
//! ```
//! use backprop::prelude::*;
//! use backprop::weights;
//!
//! type Net = (Unflatten1d<16, 1, 16>, Conv1d<1, 2, 3, 1, 1, 16, 16, ReLU>, MaxPool1d<2, 2, 16, 8>);
//! type Strided = (Unflatten1d<16, 1, 16>, Conv1d<1, 2, 3, 2, 1, 16, 8, ReLU>, Flatten1d<2, 8, 16>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
//! let mut bytes = [0u8; weights::size::<Net>()];
//! weights::write(&net, &mut bytes)?;
//! assert_eq!(weights::read::<Net>(&bytes)?, net);
//! assert!(matches!(weights::read::<Strided>(&bytes), Err(Error::ArchitectureMismatch { .. })));
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! # What a reader checks
//!
//! In this order, each failure an [`Error`]: the length covers the header
//! ([`Error::Truncated`]); the magic ([`Error::BadMagic`]); the version
//! ([`Error::UnsupportedVersion`]); the scalar tag
//! ([`Error::UnknownScalarType`]); the length is the one the header implies
//! ([`Error::Truncated`], [`Error::TrailingBytes`]); the checksum
//! ([`Error::ChecksumMismatch`]), so that a corrupted file is reported as
//! corrupt before any of its fields is believed; the reserved byte
//! ([`Error::InvalidField`]); the scalar type against the model's
//! ([`Error::ScalarTypeMismatch`]); layers, parameter count and fingerprint
//! against the model's ([`Error::ArchitectureMismatch`]); and that every
//! parameter is finite ([`Error::NonFiniteWeight`]).
//!
//! # NaN and infinities
//!
//! Refused, by readers and writers alike. A NaN weight makes the network
//! output NaN for every input that reaches it; it only comes from training
//! that diverged, and a file holding one is better refused at load time, with
//! the layer and position named, than discovered in the predictions.
//!
//! # No partial loads
//!
//! [`load`] checks the whole file before it changes the model, so on an error
//! the model is as it was.

use crate::error::Error;
use crate::model::Architecture;
use num_traits::Float;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// The first 8 bytes of every weight file.
pub const MAGIC: [u8; 8] = *b"BACKPROP";

/// The format version this build writes and reads.
pub const VERSION: u16 = 1;

/// The length of the header, before the parameters.
pub const HEADER_LEN: usize = 32;

/// The length of the checksum, after the parameters.
pub const CHECKSUM_LEN: usize = 4;

/// The name of this format in errors.
const FORMAT: &str = "backprop weights";

/// A scalar type that weight files store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    /// IEEE 754 binary32, 4 bytes.
    F32,
    /// IEEE 754 binary64, 8 bytes.
    F64,
}

impl ScalarType {
    /// The size of one value in bytes.
    pub const fn size(self) -> usize {
        match self {
            ScalarType::F32 => 4,
            ScalarType::F64 => 8,
        }
    }

    /// The tag in a weight file's header.
    pub const fn tag(self) -> u8 {
        match self {
            ScalarType::F32 => 1,
            ScalarType::F64 => 2,
        }
    }

    /// The type with this tag, if any.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(ScalarType::F32),
            2 => Some(ScalarType::F64),
            _ => None,
        }
    }

    /// The Rust name: `"f32"` or `"f64"`.
    pub const fn name(self) -> &'static str {
        match self {
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A scalar that weight files can hold: `f32` or `f64`.
///
/// Sealed: the byte layout of each type is part of the file formats.
pub trait Storable: Float + sealed::Sealed {
    /// Which one it is.
    const TYPE: ScalarType;

    /// Writes the value, little-endian, into `out`, which has
    /// `TYPE.size()` bytes.
    fn write_le(self, out: &mut [u8]);

    /// Reads a value from `bytes`, `TYPE.size()` little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;

    /// The value as `f64` (exact for both types).
    fn to_f64(self) -> f64;

    /// The `f64` value rounded to this type (to nearest; values beyond the
    /// type's range become infinite).
    fn from_f64(x: f64) -> Self;
}

impl Storable for f32 {
    const TYPE: ScalarType = ScalarType::F32;

    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }

    fn read_le(bytes: &[u8]) -> Self {
        let mut le = [0; 4];
        le.copy_from_slice(bytes);
        f32::from_le_bytes(le)
    }

    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl Storable for f64 {
    const TYPE: ScalarType = ScalarType::F64;

    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }

    fn read_le(bytes: &[u8]) -> Self {
        let mut le = [0; 8];
        le.copy_from_slice(bytes);
        f64::from_le_bytes(le)
    }

    fn to_f64(self) -> f64 {
        self
    }

    fn from_f64(x: f64) -> Self {
        x
    }
}

/// The size in bytes of the weight file of a model of type `M`:
/// `36 + PARAMS · size_of::<M::Scalar>()`.
///
/// A `const fn`, so it can size an array: `[0u8; weights::size::<Net>()]`.
pub const fn size<M: Architecture>() -> usize
where
    M::Scalar: Storable,
{
    HEADER_LEN + M::PARAMS * <M::Scalar as Storable>::TYPE.size() + CHECKSUM_LEN
}

/// Writes `model`'s weight file into the start of `out` and returns its
/// length, [`size::<M>()`](size).
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is shorter than the file;
/// [`Error::NonFiniteWeight`] if a parameter is NaN or infinite (nothing
/// useful could load it). In both cases `out` may be partly written.
pub fn write<M: Architecture>(model: &M, out: &mut [u8]) -> Result<usize, Error>
where
    M::Scalar: Storable,
{
    let len = size::<M>();
    let Some(file) = out.get_mut(..len) else {
        return Err(Error::BufferTooSmall { needed: len, len: out.len() });
    };
    check_finite(model)?;
    let (header, rest) = file.split_at_mut(HEADER_LEN);
    header[0..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&VERSION.to_le_bytes());
    header[10] = <M::Scalar as Storable>::TYPE.tag();
    header[11] = 0;
    header[12..16].copy_from_slice(&u32::try_from(M::LAYERS).unwrap_or(u32::MAX).to_le_bytes());
    header[16..24].copy_from_slice(&M::fingerprint().to_le_bytes());
    header[24..32].copy_from_slice(&(M::PARAMS as u64).to_le_bytes());
    let mut slots = rest.chunks_exact_mut(<M::Scalar as Storable>::TYPE.size());
    model.for_each_tensor(|tensor| {
        for (&x, slot) in tensor.iter().zip(&mut slots) {
            x.write_le(slot);
        }
    });
    let body = len - CHECKSUM_LEN;
    let crc = crc32(&file[..body]);
    file[body..].copy_from_slice(&crc.to_le_bytes());
    Ok(len)
}

/// The weight file of `model` in a new `Vec`.
///
/// # Errors
///
/// [`Error::NonFiniteWeight`] if a parameter is NaN or infinite.
#[cfg(feature = "alloc")]
pub fn to_vec<M: Architecture>(model: &M) -> Result<Vec<u8>, Error>
where
    M::Scalar: Storable,
{
    let mut bytes = alloc::vec![0; size::<M>()];
    write(model, &mut bytes)?;
    Ok(bytes)
}

/// Reads a model of type `M` from its weight file.
///
/// The model is built on the stack; for a large model, [`load`] into one
/// that lives on the heap.
///
/// # Errors
///
/// Any of the errors listed in the [module documentation](self): the bytes
/// are checked completely before they are used.
pub fn read<M: Architecture>(bytes: &[u8]) -> Result<M, Error>
where
    M::Scalar: Storable,
{
    let mut model = M::zeroed();
    load(&mut model, bytes)?;
    Ok(model)
}

/// Overwrites `model`'s parameters with those of a weight file.
///
/// # Errors
///
/// As [`read`]. The file is checked completely first: on an error the model
/// is unchanged.
pub fn load<M: Architecture>(model: &mut M, bytes: &[u8]) -> Result<(), Error>
where
    M::Scalar: Storable,
{
    let data = check::<M>(bytes)?;
    let mut values = data.chunks_exact(<M::Scalar as Storable>::TYPE.size());
    model.for_each_tensor_mut(|tensor| {
        for (x, value) in tensor.iter_mut().zip(&mut values) {
            *x = <M::Scalar as Storable>::read_le(value);
        }
    });
    Ok(())
}

/// Checks a weight file for a model of type `M` and returns its parameter
/// bytes.
fn check<M: Architecture>(bytes: &[u8]) -> Result<&[u8], Error>
where
    M::Scalar: Storable,
{
    let truncated = |needed: u64| Error::Truncated { format: FORMAT, needed, len: bytes.len() };
    // The shortest possible file: a header and a checksum, no parameters.
    let Some(header) = bytes.get(..HEADER_LEN) else {
        // A prefix of something else is not a truncated weight file.
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(Error::BadMagic { format: FORMAT });
        }
        return Err(truncated((HEADER_LEN + CHECKSUM_LEN) as u64));
    };
    if header[0..8] != MAGIC {
        return Err(Error::BadMagic { format: FORMAT });
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != VERSION {
        return Err(Error::UnsupportedVersion { version, supported: VERSION });
    }
    let tag = header[10];
    let Some(scalar) = ScalarType::from_tag(tag) else {
        return Err(Error::UnknownScalarType { tag });
    };
    let file_layers = u64::from(u32_at(header, 12));
    let file_fingerprint = u64_at(header, 16);
    let file_params = u64_at(header, 24);

    // The length the file's own header implies.
    let expected = file_params
        .checked_mul(scalar.size() as u64)
        .and_then(|data| data.checked_add((HEADER_LEN + CHECKSUM_LEN) as u64))
        .unwrap_or(u64::MAX);
    if (bytes.len() as u64) < expected {
        return Err(truncated(expected));
    }
    if bytes.len() as u64 > expected {
        return Err(Error::TrailingBytes { expected, len: bytes.len() });
    }
    let (body, stored) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let stored = u32_at(stored, 0);
    let computed = crc32(body);
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }

    // The bytes are what was written; now, were they written for this model?
    if header[11] != 0 {
        return Err(Error::InvalidField { field: "the reserved byte 11", value: u64::from(header[11]) });
    }
    let model = <M::Scalar as Storable>::TYPE;
    if scalar != model {
        return Err(Error::ScalarTypeMismatch { file: scalar.name(), model: model.name() });
    }
    let model_fingerprint = M::fingerprint();
    let model_layers = M::LAYERS as u64;
    let model_params = M::PARAMS as u64;
    if (file_layers, file_params, file_fingerprint) != (model_layers, model_params, model_fingerprint) {
        return Err(Error::ArchitectureMismatch {
            file_layers,
            file_params,
            file_fingerprint,
            model_layers,
            model_params,
            model_fingerprint,
        });
    }
    let data = &body[HEADER_LEN..];
    let mut values = data.chunks_exact(scalar.size()).map(<M::Scalar as Storable>::read_le);
    if let Some(k) = values.position(|x| !x.is_finite()) {
        return Err(non_finite_at::<M>(k));
    }
    Ok(data)
}

/// Refuses a model with a NaN or infinite parameter.
pub(crate) fn check_finite<M: Architecture>(model: &M) -> Result<(), Error> {
    let mut offset = 0;
    let mut first = None;
    model.for_each_tensor(|tensor| {
        if first.is_none() {
            first = tensor.iter().position(|x| !x.is_finite()).map(|i| offset + i);
        }
        offset += tensor.len();
    });
    match first {
        Some(k) => Err(non_finite_at::<M>(k)),
        None => Ok(()),
    }
}

/// The error for a non-finite value at parameter `k` (in visiting order).
pub(crate) fn non_finite_at<M: Architecture>(k: usize) -> Error {
    let (layer, tensor, index) = locate::<M>(k);
    Error::NonFiniteWeight { layer, tensor, index }
}

/// Which layer, tensor and element parameter `k` (in visiting order) is.
fn locate<M: Architecture>(k: usize) -> (usize, &'static str, usize) {
    let (mut layer, mut offset, mut found) = (0, 0, None);
    M::for_each_layer(&mut |info| {
        let (weights, biases) = (info.weights(), info.biases());
        if found.is_none() {
            if k < offset + weights {
                found = Some((layer, "weight", k - offset));
            } else if k < offset + weights + biases {
                found = Some((layer, "bias", k - offset - weights));
            }
        }
        offset += weights + biases;
        layer += 1;
    });
    found.unwrap_or((layer, "weight", k))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut le = [0; 4];
    le.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(le)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

/// CRC-32 (ISO-HDLC), the checksum of zlib, gzip, PNG and Ethernet.
///
/// # Math
///
/// The remainder of the message, read as a polynomial over GF(2) with each
/// byte's least significant bit first, times `x³²`, divided by the generator
/// `0x04C11DB7` (`0xEDB88320` bit-reversed), with the register starting at
/// `0xFFFFFFFF` and the result complemented. It detects every error burst of
/// up to 32 bits, so every change to a single byte of a weight file.
/// Table-driven, one 1 KiB table built at compile time.
///
/// ```
/// assert_eq!(backprop::weights::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8))
}

/// `CRC_TABLE[n]`: the CRC register after shifting the byte `n` through it.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut crc = n as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
            bit += 1;
        }
        table[n] = crc;
        n += 1;
    }
    table
};

/// Writes `model`'s weight file to `path`.
///
/// # Errors
///
/// [`Error::NonFiniteWeight`] for a NaN or infinite parameter, and
/// [`Error::Io`] if the file cannot be written (with the path and what the
/// file system said).
#[cfg(feature = "std")]
pub fn save_file<M: Architecture>(model: &M, path: impl AsRef<std::path::Path>) -> Result<(), Error>
where
    M::Scalar: Storable,
{
    let path = path.as_ref();
    let bytes = to_vec(model)?;
    std::fs::write(path, bytes).map_err(|e| Error::io("writing", path, &e))
}

/// Reads a model of type `M` from the weight file at `path`.
///
/// # Errors
///
/// Every error of [`read`], and [`Error::Io`] if the file cannot be read
/// (with the path and what the file system said).
#[cfg(feature = "std")]
pub fn read_file<M: Architecture>(path: impl AsRef<std::path::Path>) -> Result<M, Error>
where
    M::Scalar: Storable,
{
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, &e))?;
    read(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_vectors() {
        // The check value of CRC-32/ISO-HDLC, and values zlib.crc32 gives.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
    }
}
