//! What [`load_skipping_extra`](super::load_skipping_extra) skipped: the
//! file's tensors the model has no place for, counted, and named on demand
//! by reading the header again (no allocation: the names stay in the file's
//! bytes, their JSON escapes decoded as they are read).

use super::json::{Entries, JsonStr};
use super::names::Names;
use crate::error::tensor::TensorName;
use core::fmt::{self, Write as _};

/// The tensors of a safetensors file that
/// [`load_skipping_extra`](super::load_skipping_extra) or
/// [`read_skipping_extra`](super::read_skipping_extra) skipped because the
/// model has no place for them.
///
/// [`len`](Self::len) counts them; [`names`](Self::names), or iterating over
/// the `Skipped` itself, lists their names in the order of the file's
/// header. It borrows the file's bytes and allocates nothing.
#[derive(Clone, Copy)]
pub struct Skipped<'a> {
    header: &'a str,
    names: Names<'a>,
    /// Whether a name is one of the model's tensors (for the model type that
    /// was loaded).
    expects: fn(Names<'_>, JsonStr<'_>) -> bool,
    count: usize,
}

impl<'a> Skipped<'a> {
    pub(super) fn new(
        header: &'a str,
        names: Names<'a>,
        expects: fn(Names<'_>, JsonStr<'_>) -> bool,
        count: usize,
    ) -> Self {
        Skipped { header, names, expects, count }
    }

    /// How many tensors were skipped.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no tensor was skipped: the file holds the model's tensors and
    /// nothing else.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The names of the skipped tensors, in the order of the file's header.
    pub fn names(&self) -> SkippedNames<'a> {
        SkippedNames { entries: Entries::new(self.header), names: self.names, expects: self.expects }
    }
}

impl<'a> IntoIterator for Skipped<'a> {
    type Item = NameInFile<'a>;
    type IntoIter = SkippedNames<'a>;

    fn into_iter(self) -> SkippedNames<'a> {
        self.names()
    }
}

impl fmt::Debug for Skipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// The names of the tensors a load skipped ([`Skipped::names`]).
#[derive(Clone)]
pub struct SkippedNames<'a> {
    entries: Entries<'a>,
    names: Names<'a>,
    expects: fn(Names<'_>, JsonStr<'_>) -> bool,
}

impl<'a> Iterator for SkippedNames<'a> {
    type Item = NameInFile<'a>;

    fn next(&mut self) -> Option<NameInFile<'a>> {
        // The header was checked by the load: no entry fails to parse.
        let (names, expects) = (self.names, self.expects);
        self.entries
            .by_ref()
            .filter_map(Result::ok)
            .find(|entry| !expects(names, entry.name))
            .map(|entry| NameInFile(entry.name))
    }
}

/// A tensor name as a safetensors file holds it, borrowed from the file's
/// bytes. It shows (`Display`) and compares (`==` with a `&str`) as the
/// name, JSON escapes decoded.
#[derive(Clone, Copy)]
pub struct NameInFile<'a>(JsonStr<'a>);

impl NameInFile<'_> {
    /// The name in a fixed-size [`TensorName`] (its first 40 bytes), as
    /// errors hold it.
    pub fn to_name(&self) -> TensorName {
        self.0.to_name()
    }
}

impl fmt::Display for NameInFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.chars().try_for_each(|c| f.write_char(c))
    }
}

impl fmt::Debug for NameInFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            write!(f, "{}", c.escape_debug())?;
        }
        f.write_char('"')
    }
}

impl PartialEq<str> for NameInFile<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0.eq_str(other)
    }
}

impl PartialEq<&str> for NameInFile<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0.eq_str(other)
    }
}

impl PartialEq<NameInFile<'_>> for str {
    fn eq(&self, other: &NameInFile<'_>) -> bool {
        other.0.eq_str(self)
    }
}

impl PartialEq<NameInFile<'_>> for &str {
    fn eq(&self, other: &NameInFile<'_>) -> bool {
        other.0.eq_str(self)
    }
}
