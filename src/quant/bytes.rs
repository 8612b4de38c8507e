//! Reading and writing the values of an int8 weight file in order
//! ([`file`](super::file) has the format).

use super::QuantParams;
use crate::error::Error;

/// Writes values in order into a buffer of the right size.
pub struct Writer<'a> {
    bytes: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `bytes`.
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        Writer { bytes, at: 0 }
    }

    /// The first `len` bytes written.
    pub(crate) fn written(&self, len: usize) -> &[u8] {
        self.bytes.get(..len).unwrap_or(&[])
    }

    /// Writes `values` next.
    pub(crate) fn bytes(&mut self, values: &[u8]) {
        if let Some(slot) = self.bytes.get_mut(self.at..self.at + values.len()) {
            slot.copy_from_slice(values);
        }
        self.at += values.len();
    }

    pub(crate) fn i8(&mut self, v: i8) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn f32(&mut self, v: f32) {
        self.bytes(&v.to_bits().to_le_bytes());
    }
}

/// Reads values in order from a buffer whose length has been checked.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `bytes` from offset `at`.
    pub(crate) fn new(bytes: &'a [u8], at: usize) -> Self {
        Reader { bytes, at }
    }

    /// The current offset.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// Moves to offset `at`.
    pub(crate) fn seek(&mut self, at: usize) {
        self.at = at;
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        if let Some(bytes) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(bytes);
        }
        self.at += N;
        out
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub(crate) fn i8(&mut self) -> i8 {
        i8::from_le_bytes(self.array())
    }

    pub(crate) fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.array())
    }

    /// A scale: positive, finite and not zero, checked on its bits.
    pub(crate) fn scale(&mut self, layer: usize, field: &'static str, index: usize) -> Result<f32, Error> {
        let bits = self.u32();
        // Sign bit clear, exponent not all ones (∞, NaN), not +0.
        if bits >> 31 != 0 || (bits >> 23) == 0xff || bits == 0 {
            return Err(self.invalid(layer, field, index, i64::from(bits)));
        }
        Ok(f32::from_bits(bits))
    }

    /// A tensor's scale and zero point: layer `layer`'s `"input"` or
    /// `"output"`.
    pub(crate) fn params(&mut self, layer: usize, tensor: &'static str) -> Result<QuantParams, Error> {
        let (scale_field, zero_field) = if tensor == "input" {
            ("input scale", "input zero point")
        } else {
            ("output scale", "output zero point")
        };
        let scale = self.scale(layer, scale_field, 0)?;
        let zero_point = self.i32();
        if !(-128..=127).contains(&zero_point) {
            return Err(self.invalid(layer, zero_field, 0, i64::from(zero_point)));
        }
        Ok(QuantParams { scale, zero_point })
    }

    /// The error for a value no int8 model holds.
    pub(crate) fn invalid(&self, layer: usize, field: &'static str, index: usize, value: i64) -> Error {
        Error::InvalidQuantized { layer, field, index, value }
    }
}
