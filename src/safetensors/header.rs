//! The header a writer emits: the JSON that describes the model's tensors,
//! counted (for the file's length) or written into a buffer, with names
//! escaped as JSON strings.

use super::names::{for_each_expected, Names};
use crate::model::Architecture;
use crate::weights::{ScalarType, Storable};
use core::fmt::{self, Write as _};

/// Where the header and data go: a counter, or a slice.
pub(super) struct Out<'b> {
    pub(super) buffer: Option<&'b mut [u8]>,
    pub(super) len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        if let Some(buffer) = self.buffer.as_deref_mut() {
            let slot = buffer.get_mut(self.len..self.len + bytes.len()).ok_or(fmt::Error)?;
            slot.copy_from_slice(bytes);
        }
        self.len += bytes.len();
        Ok(())
    }
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes())
    }
}

/// Writes text into a JSON string, escaping `"`, `\` and control characters.
struct JsonEscape<'o, 'b>(&'o mut Out<'b>);

impl fmt::Write for JsonEscape<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\u{0}'..='\u{1f}' => write!(self.0, "\\u{:04x}", u32::from(c))?,
                _ => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Writes the header JSON (unpadded).
pub(super) fn write_header<M: Architecture>(names: Names<'_>, out: &mut Out<'_>) -> fmt::Result
where
    M::Scalar: Storable,
{
    let (dtype, size) = match <M::Scalar as Storable>::TYPE {
        ScalarType::F32 => ("F32", 4),
        ScalarType::F64 => ("F64", 8),
    };
    out.write_str("{\"__metadata__\":{\"format\":\"pt\"}")?;
    let mut offset = 0u64;
    let mut result = Ok(());
    for_each_expected::<M>(names, |_, e| {
        let end = offset + e.shape.dims().product::<u64>() * size;
        result = result.and_then(|()| {
            out.write_str(",\"")?;
            write!(JsonEscape(out), "{}", e.name)?;
            write!(out, "\":{{\"dtype\":\"{dtype}\",\"shape\":[")?;
            for (k, d) in e.shape.dims().enumerate() {
                write!(out, "{}{d}", if k > 0 { "," } else { "" })?;
            }
            write!(out, "],\"data_offsets\":[{offset},{end}]}}")
        });
        offset = end;
    });
    result?;
    out.write_str("}")
}

/// The header's length, padded with spaces so that the data starts at a
/// multiple of 8 bytes (as the `safetensors` package writes it).
pub(super) fn padded_header_len<M: Architecture>(names: Names<'_>) -> usize
where
    M::Scalar: Storable,
{
    let mut counter = Out { buffer: None, len: 0 };
    let _ = write_header::<M>(names, &mut counter);
    counter.len.next_multiple_of(8)
}
