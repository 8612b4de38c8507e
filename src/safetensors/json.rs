//! The header's JSON, read without an allocator: a parser for the one shape
//! a safetensors header has (an object of tensor entries and at most one
//! `__metadata__` object of strings) that checks every byte of it and keeps
//! no state beyond a few integers. Strings are kept as written and their
//! escapes decoded on demand.

use crate::error::tensor::{Shape, TensorName};
use crate::error::Error;

/// A JSON string's contents as written (escapes not yet decoded), already
/// checked to be well-formed.
#[derive(Clone, Copy)]
pub(super) struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// The decoded characters.
    pub(super) fn chars(self) -> Unescape<'a> {
        Unescape { rest: self.raw.chars() }
    }

    pub(super) fn eq_str(self, s: &str) -> bool {
        self.chars().eq(s.chars())
    }

    pub(super) fn to_name(self) -> TensorName {
        TensorName::from_chars(self.chars())
    }
}

/// Decodes a JSON string's escapes. The parser has checked them; anything
/// malformed decodes to U+FFFD rather than panicking.
pub(super) struct Unescape<'a> {
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
pub(super) struct Entry<'a> {
    /// Its position among the header's tensor entries.
    pub(super) position: usize,
    /// The byte offset of its name in the header.
    pub(super) at: usize,
    pub(super) name: JsonStr<'a>,
    pub(super) dtype: JsonStr<'a>,
    pub(super) shape: Shape,
    /// The product of the dimensions, `None` if it overflows.
    pub(super) elements: Option<u64>,
    pub(super) begin: u64,
    pub(super) end: u64,
}

/// A JSON parser for the safetensors header's fixed shape.
#[derive(Clone)]
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
    fn tensor(&mut self, position: usize, at: usize, name: JsonStr<'a>) -> Result<Entry<'a>, Error> {
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
        Ok(Entry { position, at, name, dtype, shape, elements, begin, end })
    }
}

/// The header's tensor entries, in order, each parsed and checked as it is
/// reached; `__metadata__` is checked and passed over. After an error the
/// iterator ends.
#[derive(Clone)]
pub(super) struct Entries<'a> {
    parser: Parser<'a>,
    state: State,
    count: usize,
    metadata_seen: bool,
}

/// Where [`Entries`] is in the header's object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// Before a key.
    Key,
    /// After a value: before `,` or the closing `}`.
    Separator,
    /// After the closing `}`: only whitespace may follow.
    End,
    /// Finished, or failed.
    Done,
}

impl<'a> Entries<'a> {
    pub(super) fn new(header: &'a str) -> Self {
        Entries {
            parser: Parser { text: header, pos: 0 },
            state: State::Start,
            count: 0,
            metadata_seen: false,
        }
    }

    fn step(&mut self) -> Result<Option<Entry<'a>>, Error> {
        let parser = &mut self.parser;
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    if parser.peek() != Some(b'{') {
                        return Err(parser.error("the header must start with '{'"));
                    }
                    let nonempty = parser.open(b'{', b'}', "the header must be a JSON object")?;
                    self.state = if nonempty { State::Key } else { State::End };
                }
                State::Separator => {
                    let more = parser.more(b'}', "expected ',' or '}' after a header entry")?;
                    self.state = if more { State::Key } else { State::End };
                }
                State::End => {
                    parser.skip_whitespace();
                    if parser.pos != parser.text.len() {
                        return Err(parser.error("unexpected bytes after the header's JSON object"));
                    }
                    self.state = State::Done;
                }
                State::Key => {
                    parser.skip_whitespace();
                    let key_at = parser.pos;
                    let key = parser.string("expected a string key")?;
                    parser.expect(b':', "expected ':'")?;
                    self.state = State::Separator;
                    if key.eq_str("__metadata__") {
                        if self.metadata_seen {
                            return Err(Error::InvalidHeader {
                                offset: key_at,
                                reason: "__metadata__ appears twice",
                            });
                        }
                        self.metadata_seen = true;
                        parser.metadata()?;
                    } else {
                        let entry = parser.tensor(self.count, key_at, key)?;
                        self.count += 1;
                        return Ok(Some(entry));
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let step = self.step();
        if step.is_err() {
            self.state = State::Done;
        }
        step.transpose()
    }
}

/// Parses the whole header, calling `f` for each tensor entry in order;
/// returns the number of entries.
pub(super) fn for_each_entry<'a>(
    header: &'a str,
    mut f: impl FnMut(Entry<'a>) -> Result<(), Error>,
) -> Result<usize, Error> {
    let mut count = 0;
    for entry in Entries::new(header) {
        f(entry?)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

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
