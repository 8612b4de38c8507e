//! How an [`Error`](super::Error) names a tensor from a file: its name and
//! its shape, each in a small fixed-size value, so that `Error` stays `Copy`
//! and holds no heap data. Users name them as
//! `backprop::safetensors::{TensorName, Shape}`.

use core::fmt::{self, Write as _};

/// A tensor name (or dtype) from a file, kept in an [`Error`](super::Error):
/// its first 40 bytes (whole characters), without allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TensorName {
    bytes: [u8; TensorName::CAPACITY],
    len: u8,
    truncated: bool,
}

impl TensorName {
    /// How many bytes of a name are kept.
    pub const CAPACITY: usize = 40;

    /// The name, or its first [`CAPACITY`](Self::CAPACITY) bytes.
    pub fn new(name: &str) -> Self {
        Self::from_chars(name.chars())
    }

    pub(crate) fn from_chars(chars: impl Iterator<Item = char>) -> Self {
        let mut name = TensorName { bytes: [0; Self::CAPACITY], len: 0, truncated: false };
        for c in chars {
            let len = usize::from(name.len);
            match name.bytes.get_mut(len..len + c.len_utf8()) {
                Some(slot) => {
                    c.encode_utf8(slot);
                    name.len += c.len_utf8() as u8;
                }
                None => {
                    name.truncated = true;
                    break;
                }
            }
        }
        name
    }

    pub(crate) fn from_display(value: impl fmt::Display) -> Self {
        struct Sink(TensorName);
        impl fmt::Write for Sink {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let more = TensorName::new(s);
                for c in more.as_str().chars() {
                    let len = usize::from(self.0.len);
                    match self.0.bytes.get_mut(len..len + c.len_utf8()) {
                        Some(slot) => {
                            c.encode_utf8(slot);
                            self.0.len += c.len_utf8() as u8;
                        }
                        None => {
                            self.0.truncated = true;
                            return Err(fmt::Error);
                        }
                    }
                }
                self.0.truncated |= more.truncated;
                Ok(())
            }
        }
        let mut sink = Sink(TensorName::new(""));
        let _ = write!(sink, "{value}");
        sink.0
    }

    /// The name as kept: all of it, or its first bytes if it was longer than
    /// [`CAPACITY`](Self::CAPACITY).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// Whether the name was longer than [`CAPACITY`](Self::CAPACITY) bytes.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// A tensor shape from a safetensors header: its rank and its first four
/// dimensions, enough for every tensor a model has (a `Conv2d` weight is
/// `[out, in, k, k]`) and small enough to keep in an
/// [`Error`](super::Error).
///
/// Two shapes are equal when their ranks and kept dimensions are; a shape of
/// rank 5 or more never equals one of a model's.
///
/// ```
/// use backprop::safetensors::Shape;
///
/// let weight = Shape::new(&[8, 1, 3, 3]);
/// assert!(weight.dims().eq([8, 1, 3, 3]));
/// assert_ne!(weight, Shape::new(&[8, 1, 3, 5]));
/// assert_eq!(Shape::new(&[1, 2, 3, 4, 5]).to_string(), "[1, 2, 3, 4, …] (rank 5)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The dimensions as little-endian bytes: byte arrays need no alignment,
    /// so a shape takes 33 bytes, not 40, and an `Error` holding two of them
    /// and a [`TensorName`] stays under 128 bytes (clippy's
    /// `result_large_err` limit).
    dims: [[u8; 8]; Shape::MAX_KEPT],
    rank: u8,
}

impl Shape {
    /// How many dimensions are kept.
    pub const MAX_KEPT: usize = 4;

    /// A shape with these dimensions (the first four kept).
    pub fn new(dims: &[u64]) -> Self {
        let mut shape = Shape { dims: [[0; 8]; Self::MAX_KEPT], rank: 0 };
        for &d in dims {
            shape.push(d);
        }
        shape
    }

    pub(crate) fn push(&mut self, dim: u64) {
        if let Some(slot) = self.dims.get_mut(usize::from(self.rank)) {
            *slot = dim.to_le_bytes();
        }
        self.rank = self.rank.saturating_add(1);
    }

    /// The number of dimensions (255 for 255 or more).
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The dimensions (the first four, if there are more).
    pub fn dims(&self) -> impl ExactSizeIterator<Item = u64> + Clone + '_ {
        self.dims[..self.rank().min(Self::MAX_KEPT)].iter().map(|&d| u64::from_le_bytes(d))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (k, d) in self.dims().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        if self.rank() > Self::MAX_KEPT {
            write!(f, ", …] (rank {})", self.rank())
        } else {
            f.write_str("]")
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shape({self})")
    }
}
