//! How an [`Error::Io`](super::Error::Io) names a file: the end of its path
//! in a small fixed-size value, so that `Error` stays `Copy` and holds no
//! heap data. Users name it as `backprop::error::ShortPath`.

use core::fmt;
use std::path::Path;

/// A file's path, kept in an [`Error`](super::Error): all of it, or its last
/// 40 bytes (whole characters) if it is longer, since the end of a path
/// names the file. Characters that are not valid Unicode are kept as
/// U+FFFD.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortPath {
    bytes: [u8; ShortPath::CAPACITY],
    len: u8,
    truncated: bool,
}

impl ShortPath {
    /// How many bytes of a path are kept.
    pub const CAPACITY: usize = 40;

    /// The path, or its last [`CAPACITY`](Self::CAPACITY) bytes.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let text = path.as_ref().to_string_lossy();
        let mut start = text.len().saturating_sub(Self::CAPACITY);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        let kept = &text[start..];
        let mut bytes = [0; Self::CAPACITY];
        bytes[..kept.len()].copy_from_slice(kept.as_bytes());
        ShortPath { bytes, len: kept.len() as u8, truncated: start > 0 }
    }

    /// The path as kept: all of it, or its last bytes if it was longer than
    /// [`CAPACITY`](Self::CAPACITY).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// Whether the path was longer than [`CAPACITY`](Self::CAPACITY) bytes.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for ShortPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.truncated {
            f.write_str("…")?;
        }
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ShortPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.truncated {
            f.write_str("…")?;
        }
        write!(f, "{:?}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn long_paths_keep_their_end() {
        let short = ShortPath::new("net.safetensors");
        assert_eq!((short.as_str(), short.is_truncated()), ("net.safetensors", false));
        let long = "/home/someone/projects/a-long-directory-name/weights/net.safetensors";
        let kept = ShortPath::new(long);
        assert!(kept.is_truncated() && long.ends_with(kept.as_str()) && kept.as_str().len() == 40);
        assert!(kept.to_string().starts_with('…') && kept.to_string().ends_with("/net.safetensors"));
        // A cut inside a character moves to the next whole one.
        let accents = "é".repeat(30); // 60 bytes
        let kept = ShortPath::new(&accents);
        assert_eq!(kept.as_str(), "é".repeat(20));
    }
}
