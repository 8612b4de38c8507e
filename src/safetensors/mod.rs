//! safetensors, PyTorch's weight format: read and write, without an
//! allocator.
//!
//! A network trained in PyTorch as an `nn.Sequential` of `nn.Linear` layers
//! and activations, saved with `safetensors.torch.save_file(model.state_dict(), path)`,
//! loads into the backprop model of the same architecture, and a model
//! written here loads in PyTorch with `safetensors.torch.load_file`.
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
//! PyTorch `nn.Sequential` that holds, for each `Dense` layer in order, an
//! `nn.Linear` followed by its activation module. Every module takes an
//! index, activations included, so layer `k`'s tensors are `{i}.weight` and
//! `{i}.bias` where `i` counts the modules before it:
//!
//! * a layer with activation [`Identity`] is a bare `nn.Linear` (one module:
//!   PyTorch needs no `nn.Identity()`), so the next layer's index is `i + 1`;
//! * any other activation is one more module (`nn.Tanh()`,
//!   `nn.GELU(approximate="tanh")`, ...), so the next index is `i + 2`.
//!
//! So `(Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>)` is
//! `nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))`
//! with tensors `0.weight`, `0.bias`, `2.weight`, `2.bias`, `4.weight`,
//! `4.bias`. Nested tuples are flattened: `((A, B), C)` is named like
//! `(A, B, C)`. For any other module structure (an `nn.Identity()` that is
//! really there, nested `nn.Sequential`s, named attributes such as `fc1`),
//! give the names: [`Names::Layers`] with one prefix per layer (`fc1` gives
//! `fc1.weight`, `fc1.bias`), or [`Names::Tensors`] with every name.
//!
//! # What a reader checks
//!
//! Everything, and every failure is an [`Error`]: the header length fits the
//! file ([`Error::HeaderLength`]); the header is UTF-8, well-formed JSON and of
//! the format's shape: an object of tensor entries, each with exactly
//! `dtype` (a string), `shape` (non-negative integers) and `data_offsets`
//! (two non-negative integers), names not repeated, `__metadata__` at most
//! once and of strings ([`Error::InvalidHeader`], with the byte offset);
//! every dtype is a safetensors dtype, and the model's tensors are `F16`,
//! `BF16`, `F32` or `F64` ([`Error::UnsupportedDtype`]); every tensor's
//! offsets are ordered, inside the data and exactly `dtype size × elements`
//! long, and no two tensors overlap ([`Error::InvalidOffsets`]); the tensors
//! cover the whole data section ([`Error::DataNotCovered`]); every tensor of
//! the model is there ([`Error::MissingTensor`]) with the layer's shape
//! ([`Error::ShapeMismatch`]), and the file holds nothing else
//! ([`Error::UnexpectedTensor`], as PyTorch's `load_state_dict(strict=True)`);
//! and every value, converted to the model's scalar type, is finite
//! ([`Error::NonFiniteWeight`]). The model is changed only after all of this
//! passed.
//!
//! Values are converted to the model's scalar type: `F16`, `BF16` and `F32`
//! exactly, `F64` into an `f32` model by rounding to nearest. The parser
//! keeps no state beyond a few integers: it reads the header several times
//! (a handful of passes per layer) instead of building a table of it.

use crate::activation::{Activation, Identity};
use crate::error::Error;
use crate::model::{Architecture, LayerInfo};
use crate::weights::{check_finite, ScalarType, Storable};
use core::fmt::{self, Write as _};
use num_traits::Float;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// How the model's tensors are named in a safetensors file.
///
/// The model's tensors are, for each `Dense` layer in forward order, its
/// weight (shape `[OUT, IN]`) and its bias (shape `[OUT]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names<'a> {
    /// PyTorch's `nn.Sequential` `state_dict` names, `0.weight`, `0.bias`,
    /// `2.weight`, ...: activation modules take an index too, except
    /// [`Identity`], which stands for no module (see the
    /// [module documentation](self#names)).
    Sequential,
    /// One prefix per layer: layer `k`'s tensors are `{prefix[k]}.weight` and
    /// `{prefix[k]}.bias`, as an `nn.Linear` attribute named `prefix[k]`.
    Layers(&'a [&'a str]),
    /// Every tensor's full name: two per layer, the weight then the bias.
    Tensors(&'a [&'a str]),
}

impl Names<'_> {
    /// Checks the names against a model of type `M`: the right number, none
    /// repeated, none equal to `__metadata__`.
    fn check<M: Architecture>(self) -> Result<(), Error> {
        let (given, needed) = match self {
            Names::Sequential => return Ok(()),
            Names::Layers(prefixes) => (prefixes, M::LAYERS),
            Names::Tensors(names) => (names, 2 * M::LAYERS),
        };
        if given.len() != needed {
            return Err(Error::NameCount { expected: needed, found: given.len() });
        }
        for (k, name) in given.iter().enumerate() {
            if given[..k].contains(name) {
                return Err(Error::InvalidName { name: TensorName::new(name), reason: "appears twice" });
            }
            if matches!(self, Names::Tensors(_)) && *name == "__metadata__" {
                return Err(Error::InvalidName {
                    name: TensorName::new(name),
                    reason: "is reserved for the header's metadata",
                });
            }
        }
        Ok(())
    }
}

/// One of the model's tensors: which layer, weight or bias, its shape and
/// its name.
#[derive(Clone, Copy)]
struct Expected<'a> {
    /// Layer number, in forward order.
    layer: usize,
    /// `"weight"` or `"bias"`.
    kind: &'static str,
    shape: Shape,
    name: ExpectedName<'a>,
}

/// A tensor name as the model expects it, rendered by `Display`.
#[derive(Clone, Copy)]
enum ExpectedName<'a> {
    /// `{index}.{kind}`
    Indexed(usize, &'static str),
    /// `{prefix}.{kind}`
    Prefixed(&'a str, &'static str),
    /// As given.
    Full(&'a str),
}

impl fmt::Display for ExpectedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExpectedName::Indexed(index, kind) => write!(f, "{index}.{kind}"),
            ExpectedName::Prefixed(prefix, kind) => write!(f, "{prefix}.{kind}"),
            ExpectedName::Full(name) => f.write_str(name),
        }
    }
}

impl ExpectedName<'_> {
    /// Whether `name` (from the file) is this name.
    fn matches(&self, name: JsonStr<'_>) -> bool {
        let mut matcher = Matcher { chars: name.chars(), equal: true };
        let _ = write!(matcher, "{self}");
        matcher.equal && matcher.chars.next().is_none()
    }
}

/// Compares text written into it with a sequence of characters.
struct Matcher<I> {
    chars: I,
    equal: bool,
}

impl<I: Iterator<Item = char>> fmt::Write for Matcher<I> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.chars.next() != Some(c) {
                self.equal = false;
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// Calls `f` with each of the model's tensors, in [`Params::visit`](crate::Params::visit) order.
fn for_each_expected<'a, M: Architecture>(names: Names<'a>, mut f: impl FnMut(usize, Expected<'a>)) {
    let (mut layer, mut index) = (0, 0);
    M::for_each_layer(&mut |info: LayerInfo| {
        for (t, kind) in ["weight", "bias"].into_iter().enumerate() {
            let name = match names {
                Names::Sequential => ExpectedName::Indexed(index, kind),
                Names::Layers(prefixes) => {
                    ExpectedName::Prefixed(prefixes.get(layer).copied().unwrap_or(""), kind)
                }
                Names::Tensors(all) => ExpectedName::Full(all.get(2 * layer + t).copied().unwrap_or("")),
            };
            let shape = if t == 0 {
                Shape::new(&[info.outputs as u64, info.inputs as u64])
            } else {
                Shape::new(&[info.outputs as u64])
            };
            f(2 * layer + t, Expected { layer, kind, shape, name });
        }
        layer += 1;
        index += if info.activation == Identity::NAME { 1 } else { 2 };
    });
}

/// The model's tensor number `t`.
fn expected<M: Architecture>(names: Names<'_>, t: usize) -> Option<Expected<'_>> {
    let mut found = None;
    for_each_expected::<M>(names, |k, e| {
        if k == t {
            found = Some(e);
        }
    });
    found
}

/// A tensor name (or dtype) from a file, kept in an [`Error`]: its first 40
/// bytes (whole characters), without allocation.
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

    fn from_chars(chars: impl Iterator<Item = char>) -> Self {
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

    fn from_display(value: impl fmt::Display) -> Self {
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

/// A tensor shape from a safetensors header: its rank and its first three
/// dimensions (small enough to keep in an [`Error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    dims: [u64; Shape::MAX_KEPT],
    rank: u8,
}

impl Shape {
    /// How many dimensions are kept.
    pub const MAX_KEPT: usize = 3;

    /// A shape with these dimensions (the first three kept).
    pub fn new(dims: &[u64]) -> Self {
        let mut shape = Shape { dims: [0; Self::MAX_KEPT], rank: 0 };
        for &d in dims {
            shape.push(d);
        }
        shape
    }

    fn push(&mut self, dim: u64) {
        if let Some(slot) = self.dims.get_mut(usize::from(self.rank)) {
            *slot = dim;
        }
        self.rank = self.rank.saturating_add(1);
    }

    /// The number of dimensions (255 for 255 or more).
    pub fn rank(&self) -> usize {
        usize::from(self.rank)
    }

    /// The dimensions (the first three, if there are more).
    pub fn dims(&self) -> &[u64] {
        &self.dims[..self.rank().min(Self::MAX_KEPT)]
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (k, d) in self.dims().iter().enumerate() {
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

/// The dtypes the model's tensors can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    F16,
    BF16,
    F32,
    F64,
}

impl Dtype {
    /// Decodes one little-endian value of this dtype (`bytes` has its size).
    fn decode(self, bytes: &[u8]) -> f64 {
        let mut le = [0u8; 8];
        if let Some(slot) = le.get_mut(..bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        let bits = u64::from_le_bytes(le);
        match self {
            Dtype::F16 => f16_to_f64(bits as u16),
            Dtype::BF16 => f64::from(f32::from_bits((bits as u32) << 16)),
            Dtype::F32 => f64::from(f32::from_bits(bits as u32)),
            Dtype::F64 => f64::from_bits(bits),
        }
    }
}

/// IEEE 754 binary16 to `f64` (exact).
fn f16_to_f64(h: u16) -> f64 {
    let negative = h & 0x8000 != 0;
    let exponent = (h >> 10) & 0x1f;
    let fraction = u64::from(h & 0x3ff);
    let magnitude = match exponent {
        // Subnormal (and zero): fraction · 2⁻²⁴.
        0 => fraction as f64 / 16_777_216.0,
        0x1f if fraction == 0 => f64::INFINITY,
        0x1f => f64::NAN,
        // Normal: (1 + fraction / 2¹⁰) · 2^(exponent - 15), rebuilt as f64 bits.
        _ => f64::from_bits(((u64::from(exponent) + 1023 - 15) << 52) | (fraction << 42)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The size in bytes of a safetensors dtype, and whether we read it.
fn dtype_info(dtype: JsonStr<'_>) -> Option<(u64, Option<Dtype>)> {
    const DTYPES: [(&str, u64, Option<Dtype>); 16] = [
        ("F16", 2, Some(Dtype::F16)),
        ("BF16", 2, Some(Dtype::BF16)),
        ("F32", 4, Some(Dtype::F32)),
        ("F64", 8, Some(Dtype::F64)),
        ("BOOL", 1, None),
        ("U8", 1, None),
        ("I8", 1, None),
        ("F8_E5M2", 1, None),
        ("F8_E4M3", 1, None),
        ("I16", 2, None),
        ("U16", 2, None),
        ("I32", 4, None),
        ("U32", 4, None),
        ("I64", 8, None),
        ("U64", 8, None),
        ("C64", 8, None),
    ];
    DTYPES.iter().find(|(name, _, _)| dtype.eq_str(name)).map(|&(_, size, ours)| (size, ours))
}

/// A JSON string's contents as written (escapes not yet decoded), already
/// checked to be well-formed.
#[derive(Clone, Copy)]
struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// The decoded characters.
    fn chars(self) -> Unescape<'a> {
        Unescape { rest: self.raw.chars() }
    }

    fn eq_str(self, s: &str) -> bool {
        self.chars().eq(s.chars())
    }

    fn to_name(self) -> TensorName {
        TensorName::from_chars(self.chars())
    }
}

/// Decodes a JSON string's escapes. The parser has checked them; anything
/// malformed decodes to U+FFFD rather than panicking.
struct Unescape<'a> {
    rest: core::str::Chars<'a>,
}

impl Unescape<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + self.rest.next()?.to_digit(16)?;
        }
        Some(value)
    }
}

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match self.rest.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let unit = self.hex4().unwrap_or(0xFFFD);
                let code = if (0xD800..0xDC00).contains(&unit) {
                    let low = match (self.rest.next(), self.rest.next()) {
                        (Some('\\'), Some('u')) => self.hex4().unwrap_or(0),
                        _ => 0,
                    };
                    if (0xDC00..0xE000).contains(&low) {
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        0xFFFD
                    }
                } else {
                    unit
                };
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            _ => '\u{FFFD}',
        })
    }
}

/// One tensor entry of a header, checked for well-formedness.
#[derive(Clone, Copy)]
struct Entry<'a> {
    /// Its position among the header's tensor entries.
    position: usize,
    name: JsonStr<'a>,
    dtype: JsonStr<'a>,
    shape: Shape,
    /// The product of the dimensions, `None` if it overflows.
    elements: Option<u64>,
    begin: u64,
    end: u64,
}

/// A JSON parser for the safetensors header's fixed shape.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: &'static str) -> Error {
        Error::InvalidHeader { offset: self.pos, reason }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` or fails with `reason`.
    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), Error> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    /// After an element of an object or array: `true` if another follows
    /// (`,`), `false` at the `close` bracket.
    fn more(&mut self, close: u8, reason: &'static str) -> Result<bool, Error> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.error(reason)),
        }
    }

    /// Consumes the opening `open` and, if the container is empty, its
    /// `close`; returns whether it has elements.
    fn open(&mut self, open: u8, close: u8, reason: &'static str) -> Result<bool, Error> {
        self.expect(open, reason)?;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    fn string(&mut self, reason: &'static str) -> Result<JsonStr<'a>, Error> {
        self.expect(b'"', reason)?;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            self.pos += 1;
                            let unit = self.hex4()?;
                            if (0xDC00..0xE000).contains(&unit) {
                                return Err(self.error("unpaired low surrogate in a \\u escape"));
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                if self.text.as_bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.error("unpaired high surrogate in a \\u escape"));
                                }
                                self.pos += 2;
                                if !(0xDC00..0xE000).contains(&self.hex4()?) {
                                    return Err(self.error("unpaired high surrogate in a \\u escape"));
                                }
                            }
                        }
                        _ => return Err(self.error("invalid escape in a string")),
                    }
                }
                Some(0..0x20) => return Err(self.error("control character in a string")),
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos).ok_or_else(|| self.error("invalid string"))?;
        self.pos += 1;
        Ok(JsonStr { raw })
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| char::from(b).to_digit(16));
            let Some(digit) = digit else {
                return Err(self.error("expected four hex digits after \\u"));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// A non-negative integer without sign, fraction or exponent.
    fn integer(&mut self) -> Result<u64, Error> {
        self.skip_whitespace();
        let value = match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                0
            }
            Some(b'1'..=b'9') => {
                let mut value: u64 = 0;
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                        .ok_or_else(|| self.error("integer too large"))?;
                    self.pos += 1;
                }
                value
            }
            Some(b'-') => return Err(self.error("negative number where a size or offset belongs")),
            _ => return Err(self.error("expected a non-negative integer")),
        };
        match self.peek() {
            Some(b'0'..=b'9') => Err(self.error("integer with a leading zero")),
            Some(b'.' | b'e' | b'E') => Err(self.error("expected an integer, found a fraction or exponent")),
            _ => Ok(value),
        }
    }

    /// `__metadata__`'s value: an object of strings.
    fn metadata(&mut self) -> Result<(), Error> {
        if !self.open(b'{', b'}', "__metadata__ must be an object")? {
            return Ok(());
        }
        loop {
            self.string("expected a string key in __metadata__")?;
            self.expect(b':', "expected ':'")?;
            self.string("__metadata__ values must be strings")?;
            if !self.more(b'}', "expected ',' or '}' in __metadata__")? {
                return Ok(());
            }
        }
    }

    /// A tensor entry's value: `{"dtype": .., "shape": [..], "data_offsets": [b, e]}`.
    fn tensor(&mut self, position: usize, name: JsonStr<'a>) -> Result<Entry<'a>, Error> {
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        if self.open(b'{', b'}', "a tensor entry must be an object")? {
            loop {
                self.skip_whitespace();
                let key_at = self.pos;
                let at_key = |reason| Error::InvalidHeader { offset: key_at, reason };
                let key = self.string("expected a field name in a tensor entry")?;
                self.expect(b':', "expected ':'")?;
                if key.eq_str("dtype") {
                    if dtype.is_some() {
                        return Err(at_key("dtype appears twice in a tensor entry"));
                    }
                    dtype = Some(self.string("dtype must be a string")?);
                } else if key.eq_str("shape") {
                    if shape.is_some() {
                        return Err(at_key("shape appears twice in a tensor entry"));
                    }
                    let (mut dims, mut elements) = (Shape::new(&[]), Some(1u64));
                    if self.open(b'[', b']', "shape must be an array")? {
                        loop {
                            let d = self.integer()?;
                            dims.push(d);
                            elements = elements.and_then(|n| n.checked_mul(d));
                            if !self.more(b']', "expected ',' or ']' in shape")? {
                                break;
                            }
                        }
                    }
                    shape = Some((dims, elements));
                } else if key.eq_str("data_offsets") {
                    if offsets.is_some() {
                        return Err(at_key("data_offsets appears twice in a tensor entry"));
                    }
                    self.expect(b'[', "data_offsets must be an array of two integers")?;
                    let begin = self.integer()?;
                    self.expect(b',', "data_offsets must be an array of two integers")?;
                    let end = self.integer()?;
                    self.expect(b']', "data_offsets must be an array of two integers")?;
                    offsets = Some((begin, end));
                } else {
                    return Err(at_key(
                        "unknown field in a tensor entry (expected dtype, shape, data_offsets)",
                    ));
                }
                if !self.more(b'}', "expected ',' or '}' in a tensor entry")? {
                    break;
                }
            }
        }
        let missing = |what| Error::InvalidHeader { offset: self.pos, reason: what };
        let dtype = dtype.ok_or_else(|| missing("a tensor entry has no dtype"))?;
        let (shape, elements) = shape.ok_or_else(|| missing("a tensor entry has no shape"))?;
        let (begin, end) = offsets.ok_or_else(|| missing("a tensor entry has no data_offsets"))?;
        Ok(Entry { position, name, dtype, shape, elements, begin, end })
    }
}

/// Parses the whole header, calling `f` for each tensor entry in order;
/// returns the number of entries.
fn for_each_entry<'a>(
    header: &'a str,
    mut f: impl FnMut(Entry<'a>) -> Result<(), Error>,
) -> Result<usize, Error> {
    let mut parser = Parser { text: header, pos: 0 };
    if parser.peek() != Some(b'{') {
        return Err(parser.error("the header must start with '{'"));
    }
    let (mut count, mut metadata_seen) = (0, false);
    if parser.open(b'{', b'}', "the header must be a JSON object")? {
        loop {
            parser.skip_whitespace();
            let key_at = parser.pos;
            let key = parser.string("expected a string key")?;
            parser.expect(b':', "expected ':'")?;
            if key.eq_str("__metadata__") {
                if metadata_seen {
                    return Err(Error::InvalidHeader {
                        offset: key_at,
                        reason: "__metadata__ appears twice",
                    });
                }
                metadata_seen = true;
                parser.metadata()?;
            } else {
                let entry = parser.tensor(count, key)?;
                f(entry)?;
                count += 1;
            }
            if !parser.more(b'}', "expected ',' or '}' after a header entry")? {
                break;
            }
        }
    }
    parser.skip_whitespace();
    if parser.pos != header.len() {
        return Err(parser.error("unexpected bytes after the header's JSON object"));
    }
    Ok(count)
}

/// Splits a file into its header (as text) and its data.
fn split(bytes: &[u8]) -> Result<(&str, &[u8]), Error> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::Truncated { format: "safetensors", needed: 8, len: bytes.len() });
    };
    let header_len = u64::from_le_bytes(*length);
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

/// The single entry named `name`.
fn find<'a>(header: &'a str, name: ExpectedName<'_>) -> Result<Entry<'a>, Error> {
    let mut found: Option<Entry<'a>> = None;
    for_each_entry(header, |entry| {
        if name.matches(entry.name) {
            if found.is_some() {
                return Err(Error::InvalidName {
                    name: entry.name.to_name(),
                    reason: "appears twice in the header",
                });
            }
            found = Some(entry);
        }
        Ok(())
    })?;
    found.ok_or_else(|| Error::MissingTensor { name: TensorName::from_display(name) })
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
/// that do not fit the model.
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
    names.check::<M>()?;
    let (header, data) = split(bytes)?;
    let data_len = data.len() as u64;

    // Pass 1: the header is well-formed, every entry consistent and one of
    // the model's tensors.
    let mut covered: u64 = 0;
    for_each_entry(header, |entry| {
        check_entry(&entry, data_len)?;
        let mut known = false;
        for_each_expected::<M>(names, |_, e| known |= e.name.matches(entry.name));
        if !known {
            return Err(Error::UnexpectedTensor { name: entry.name.to_name() });
        }
        covered = covered.saturating_add(entry.end - entry.begin);
        Ok(())
    })?;

    // Then each of the model's tensors: present once, of a dtype we read, of
    // the layer's shape, overlapping no other tensor, finite.
    for t in 0..2 * M::LAYERS {
        let Some(expected) = expected::<M>(names, t) else { break };
        let entry = find(header, expected.name)?;
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
        for_each_entry(header, |other| {
            let overlap = other.position != entry.position
                && other.begin < entry.end
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
        })?;
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
        if let Some(Ok(entry)) = expected::<M>(names, t).map(|e| find(header, e.name)) {
            let dtype = dtype_info(entry.dtype).and_then(|(_, ours)| ours).unwrap_or(Dtype::F32);
            for (x, value) in tensor.iter_mut().zip(tensor_values(data, &entry, dtype)) {
                *x = value;
            }
        }
        t += 1;
    });
    Ok(())
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

/// Where the header and data go: a counter, or a slice.
struct Out<'b> {
    buffer: Option<&'b mut [u8]>,
    len: usize,
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
fn write_header<M: Architecture>(names: Names<'_>, out: &mut Out<'_>) -> fmt::Result
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
        let end = offset + e.shape.dims().iter().product::<u64>() * size;
        result = result.and_then(|()| {
            out.write_str(",\"")?;
            write!(JsonEscape(out), "{}", e.name)?;
            write!(out, "\":{{\"dtype\":\"{dtype}\",\"shape\":[")?;
            for (k, d) in e.shape.dims().iter().enumerate() {
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
fn padded_header_len<M: Architecture>(names: Names<'_>) -> usize
where
    M::Scalar: Storable,
{
    let mut counter = Out { buffer: None, len: 0 };
    let _ = write_header::<M>(names, &mut counter);
    counter.len.next_multiple_of(8)
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
/// The file system's errors, and those of [`write`](fn@write) as an
/// [`std::io::ErrorKind::InvalidInput`] error wrapping the [`Error`].
#[cfg(feature = "std")]
pub fn save_file<M: Architecture>(
    model: &M,
    names: Names<'_>,
    path: impl AsRef<std::path::Path>,
) -> std::io::Result<()>
where
    M::Scalar: Storable,
{
    let bytes = to_vec(model, names).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    std::fs::write(path, bytes)
}

/// Reads a model of type `M` from the safetensors file at `path`.
///
/// # Errors
///
/// The file system's errors, and those of [`read`] as an
/// [`std::io::ErrorKind::InvalidData`] error wrapping the [`Error`]
/// (`err.get_ref()` and `downcast_ref::<backprop::Error>()` recover it).
#[cfg(feature = "std")]
pub fn read_file<M: Architecture>(path: impl AsRef<std::path::Path>, names: Names<'_>) -> std::io::Result<M>
where
    M::Scalar: Storable,
{
    let bytes = std::fs::read(path)?;
    read(&bytes, names).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_decodes_exactly() {
        assert_eq!(f16_to_f64(0x3C00), 1.0);
        assert_eq!(f16_to_f64(0xC000), -2.0);
        assert_eq!(f16_to_f64(0x7BFF), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x03FF), 1023.0 * 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
        assert_eq!(f16_to_f64(0x7C00), f64::INFINITY);
        assert!(f16_to_f64(0x7E00).is_nan());
        assert!(f16_to_f64(0x8000).is_sign_negative() && f16_to_f64(0x8000) == 0.0);
    }

    #[test]
    fn json_strings_decode_escapes() {
        let mut parser = Parser { text: r#""a\"b\\c\/\u0041\ud83d\ude00\n""#, pos: 0 };
        let s = parser.string("").unwrap();
        assert!(s.eq_str("a\"b\\c/A\u{1F600}\n"));
        for bad in [r#""\ud83d""#, r#""\ude00""#, r#""\x""#, "\"\u{1}\"", r#""\u12""#, r#""abc"#] {
            let mut parser = Parser { text: bad, pos: 0 };
            assert!(parser.string("").is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_are_strict() {
        for (text, value) in [("0", Some(0)), ("17", Some(17)), ("18446744073709551615", Some(u64::MAX))] {
            assert_eq!(Parser { text, pos: 0 }.integer().ok(), value);
        }
        for text in ["-1", "01", "1.0", "1e3", "18446744073709551616", "", "x"] {
            assert!(Parser { text, pos: 0 }.integer().is_err(), "{text}");
        }
    }
}
