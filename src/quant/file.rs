//! int8 models in the library's weight format: the same header, magic and
//! checksum as [`weights`](crate::weights), with scalar tag 3, readable
//! without an allocator and without floating-point arithmetic (so that a
//! microcontroller without an FPU loads its model with integer code only).
//!
//! ```
//! use backprop::prelude::*;
//! use backprop::quant::{file, Quantize, Quantized};
//!
//! type Net = (Dense<4, 8, ReLU>, Dense<8, 3, Identity>);
//! let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
//! let int8 = net.quantize(&[[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.1]])?;
//!
//! let mut bytes = [0u8; file::size::<Quantized<Net>>()];
//! file::write(&int8, &mut bytes)?;
//! let copy: Quantized<Net> = file::read(&bytes)?;
//! assert_eq!(copy, int8);
//! # Ok::<(), backprop::Error>(())
//! ```
//!
//! # Format (version 1, scalar tag 3)
//!
//! All integers little-endian; `f32` values as their IEEE 754 bits.
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 32 | the header of [`weights`](crate::weights): magic `BACKPROP`, version 1, scalar tag **3** (int8), reserved 0, number of layers, architecture fingerprint ([`Int8Model::fingerprint`]), number of weights and biases |
//! | 32 | 8 | the model input's scale (`f32`) and zero point (`i32`) |
//! | 40 | per layer | its output's scale (`f32`) and zero point (`i32`); then for each output channel `o`: its `IN` weight codes (`i8`), bias (`i32`), weight scale (`f32`), multiplier (`i32`) and shift (`i8`) |
//! | end − 4 | 4 | CRC-32 of every byte before it ([`crc32`]) |
//!
//! # What a reader checks
//!
//! Everything the float reader checks, in the same order (length, magic,
//! version, tag, exact length, checksum, reserved byte, layers, parameter
//! count and fingerprint), then every value against what an int8 model can
//! hold ([`Error::InvalidQuantized`], naming the layer, field and position):
//! scales positive and finite, zero points in `-128..=127`, weight codes in
//! `-127..=127`, multipliers in `[2³⁰, 2³¹)` with shifts in `-31..=30` (or
//! both 0). All checks are integer operations on the stored bits.

use super::bytes::{Reader, Writer};
use super::Int8Model;
use crate::error::Error;
#[cfg(feature = "alloc")]
extern crate alloc;

use crate::weights::{crc32, CHECKSUM_LEN, HEADER_LEN, MAGIC, VERSION};

/// The scalar tag of int8 models in the header.
pub const TAG: u8 = 3;

/// The name of this format in errors.
const FORMAT: &str = "backprop int8 weights";

/// The size in bytes of the file of an int8 model `Q`, a compile-time
/// constant.
pub const fn size<Q: Int8Model>() -> usize {
    HEADER_LEN + 8 + Q::FILE_BYTES + CHECKSUM_LEN
}

/// The number of weights and biases of `Q` (the header's parameter count).
fn params<Q: Int8Model>() -> u64 {
    let mut count = 0u64;
    Q::for_each_layer(&mut |layer| count += ((layer.inputs + 1) * layer.outputs) as u64);
    count
}

/// Writes `model` into the start of `out`; returns the number of bytes
/// written, [`size`].
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is shorter than [`size`].
pub fn write<Q: Int8Model>(model: &Q, out: &mut [u8]) -> Result<usize, Error> {
    let len = size::<Q>();
    let available = out.len();
    let file = out.get_mut(..len).ok_or(Error::BufferTooSmall { needed: len, len: available })?;
    let mut writer = Writer::new(file);
    writer.bytes(&MAGIC);
    writer.bytes(&VERSION.to_le_bytes());
    writer.bytes(&[TAG, 0]);
    writer.bytes(&u32::try_from(Q::LAYERS).unwrap_or(u32::MAX).to_le_bytes());
    writer.bytes(&Q::fingerprint().to_le_bytes());
    writer.bytes(&params::<Q>().to_le_bytes());
    let input = model.input_params();
    writer.f32(input.scale);
    writer.i32(input.zero_point);
    model.write_to(&mut writer);
    let body = len - CHECKSUM_LEN;
    let crc = crc32(writer.written(body));
    writer.bytes(&crc.to_le_bytes());
    Ok(len)
}

/// The file of `model` as a vector.
#[cfg(feature = "alloc")]
pub fn to_vec<Q: Int8Model>(model: &Q) -> alloc::vec::Vec<u8> {
    let mut bytes = alloc::vec![0; size::<Q>()];
    // The buffer has the size the file needs.
    let _ = write(model, &mut bytes);
    bytes
}

/// Reads an int8 model of type `Q` from `bytes`, checking everything listed
/// in the [module documentation](self).
///
/// # Errors
///
/// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`],
/// [`Error::UnknownScalarType`] (a float file: tag 1 or 2),
/// [`Error::TrailingBytes`], [`Error::ChecksumMismatch`],
/// [`Error::InvalidField`], [`Error::ArchitectureMismatch`] and
/// [`Error::InvalidQuantized`].
pub fn read<Q: Int8Model>(bytes: &[u8]) -> Result<Q, Error> {
    let mut model = Q::EMPTY;
    read_into(bytes, &mut model)?;
    Ok(model)
}

/// Reads an int8 model of type `Q` from `bytes` into `model`, in place:
/// [`read`] for a microcontroller whose RAM holds the model only once (no
/// copy of it is made on the stack). `model` can start as
/// [`Q::EMPTY`](Int8Model::EMPTY), in a `static`. Checks everything [`read`] checks; the header and the
/// checksum before any value is stored.
///
/// ```
/// use backprop::prelude::*;
/// use backprop::quant::{file, Int8Model, Quantize, Quantized};
///
/// type Net = (Dense<4, 8, ReLU>, Dense<8, 3, Identity>);
/// let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
/// let int8 = net.quantize(&[[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.1]])?;
/// let mut bytes = [0u8; file::size::<Quantized<Net>>()];
/// file::write(&int8, &mut bytes)?;
///
/// let mut model = <Quantized<Net> as Int8Model>::EMPTY;
/// file::read_into(&bytes, &mut model)?;
/// assert_eq!(model, int8);
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
///
/// Those of [`read`]. Every value is checked before any is stored: on an
/// error, `model` is as it was.
pub fn read_into<Q: Int8Model>(bytes: &[u8], model: &mut Q) -> Result<(), Error> {
    let len = size::<Q>() as u64;
    if bytes.len() < HEADER_LEN {
        return Err(Error::Truncated { format: FORMAT, needed: HEADER_LEN as u64, len: bytes.len() });
    }
    if bytes[..8] != MAGIC {
        return Err(Error::BadMagic { format: FORMAT });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(Error::UnsupportedVersion { version, supported: VERSION });
    }
    if bytes[10] != TAG {
        return Err(Error::UnknownScalarType { tag: bytes[10] });
    }
    if (bytes.len() as u64) < len {
        return Err(Error::Truncated { format: FORMAT, needed: len, len: bytes.len() });
    }
    if bytes.len() as u64 > len {
        return Err(Error::TrailingBytes { expected: len, len: bytes.len() });
    }
    let body = bytes.len() - CHECKSUM_LEN;
    let mut reader = Reader::new(bytes, body);
    let stored = reader.u32();
    let computed = crc32(&bytes[..body]);
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }
    if bytes[11] != 0 {
        return Err(Error::InvalidField { field: "reserved", value: u64::from(bytes[11]) });
    }
    reader.seek(12);
    let (layers, fingerprint, count) = (reader.u32(), reader.u64(), reader.u64());
    if (u64::from(layers), fingerprint, count) != (Q::LAYERS as u64, Q::fingerprint(), params::<Q>()) {
        return Err(Error::ArchitectureMismatch {
            file_layers: u64::from(layers),
            file_params: count,
            file_fingerprint: fingerprint,
            model_layers: Q::LAYERS as u64,
            model_params: params::<Q>(),
            model_fingerprint: Q::fingerprint(),
        });
    }
    let input = reader.params(0, "input")?;
    // Check every value first, then store: a bad file leaves `model` as it was.
    let layers = reader.position();
    model.read_into::<false>(&mut reader, input, 0)?;
    reader.seek(layers);
    model.read_into::<true>(&mut reader, input, 0)?;
    Ok(())
}
