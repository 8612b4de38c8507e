//! The model's tensors and their names: [`Names`], and for each `Dense`
//! layer its weight and bias with their shapes and the names a file holds
//! them under (PyTorch's `nn.Sequential` `state_dict` naming by default).

use super::json::JsonStr;
use crate::activation::{Activation, Identity};
use crate::error::tensor::{Shape, TensorName};
use crate::error::Error;
use crate::model::{Architecture, LayerInfo};
use core::fmt::{self, Write as _};

/// How the model's tensors are named in a safetensors file.
///
/// The model's tensors are, for each `Dense` layer in forward order, its
/// weight (shape `[OUT, IN]`) and its bias (shape `[OUT]`).
///
/// The default is [`Names::Sequential`]:
///
/// ```
/// use backprop::safetensors::Names;
///
/// assert_eq!(Names::default(), Names::Sequential);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Names<'a> {
    /// PyTorch's `nn.Sequential` `state_dict` names, `0.weight`, `0.bias`,
    /// `2.weight`, ...: activation modules take an index too, except
    /// [`Identity`], which stands for no module (see the
    /// [module documentation](crate::safetensors#names)). The default.
    #[default]
    Sequential,
    /// One prefix per layer: layer `k`'s tensors are `{prefix[k]}.weight` and
    /// `{prefix[k]}.bias`, as an `nn.Linear` attribute named `prefix[k]`.
    Layers(&'a [&'a str]),
    /// Every tensor's full name: two per layer, the weight then the bias.
    Tensors(&'a [&'a str]),
}

impl Names<'_> {
    /// This naming as errors name it: `"Names::Sequential"`, ...
    pub(super) fn label(self) -> &'static str {
        match self {
            Names::Sequential => "Names::Sequential",
            Names::Layers(_) => "Names::Layers",
            Names::Tensors(_) => "Names::Tensors",
        }
    }

    /// Checks the names against a model of type `M`: the right number, none
    /// repeated, none equal to `__metadata__`.
    pub(super) fn check<M: Architecture>(self) -> Result<(), Error> {
        let (given, needed, twice) = match self {
            Names::Sequential => return Ok(()),
            Names::Layers(prefixes) => (prefixes, M::LAYERS, "appears twice in Names::Layers"),
            Names::Tensors(names) => (names, 2 * M::LAYERS, "appears twice in Names::Tensors"),
        };
        if given.len() != needed {
            return Err(Error::NameCount { naming: self.label(), expected: needed, found: given.len() });
        }
        for (k, name) in given.iter().enumerate() {
            if given[..k].contains(name) {
                return Err(Error::InvalidName { name: TensorName::new(name), reason: twice });
            }
            if matches!(self, Names::Tensors(_)) && *name == "__metadata__" {
                return Err(Error::InvalidName {
                    name: TensorName::new(name),
                    reason: "is reserved for the header's metadata (Names::Tensors)",
                });
            }
        }
        Ok(())
    }
}

/// One of the model's tensors: which layer, weight or bias, its shape and
/// its name.
#[derive(Clone, Copy)]
pub(super) struct Expected<'a> {
    /// Layer number, in forward order.
    pub(super) layer: usize,
    /// `"weight"` or `"bias"`.
    pub(super) kind: &'static str,
    pub(super) shape: Shape,
    pub(super) name: ExpectedName<'a>,
}

/// A tensor name as the model expects it, rendered by `Display`.
#[derive(Clone, Copy)]
pub(super) enum ExpectedName<'a> {
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
    pub(super) fn matches(&self, name: JsonStr<'_>) -> bool {
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
pub(super) fn for_each_expected<'a, M: Architecture>(
    names: Names<'a>,
    mut f: impl FnMut(usize, Expected<'a>),
) {
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
pub(super) fn expected<M: Architecture>(names: Names<'_>, t: usize) -> Option<Expected<'_>> {
    let mut found = None;
    for_each_expected::<M>(names, |k, e| {
        if k == t {
            found = Some(e);
        }
    });
    found
}
