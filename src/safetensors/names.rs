//! The model's tensors and their names: [`Names`], and for each layer with
//! parameters (`Dense`, `Conv1d`, `Conv2d`) its weight and bias with their
//! shapes and the names a file holds them under (PyTorch's `nn.Sequential`
//! `state_dict` naming by default).

use super::json::JsonStr;
use crate::activation::{Activation, Identity};
use crate::error::tensor::{Shape, TensorName};
use crate::error::Error;
use crate::model::{Architecture, LayerInfo};
use core::fmt::{self, Write as _};

/// How the model's tensors are named in a safetensors file.
///
/// The model's tensors are, for each layer *with parameters* in forward
/// order, its weight and its bias, in PyTorch's shapes:
///
/// | layer | weight | bias |
/// |---|---|---|
/// | `Dense<IN, OUT>` | `[OUT, IN]` | `[OUT]` |
/// | `Conv1d<CI, CO, K, ..>` | `[CO, CI, K]` | `[CO]` |
/// | `Conv2d<CI, CO, K, ..>` | `[CO, CI, K, K]` | `[CO]` |
///
/// Layers without parameters (pools, flattens, unflattens) own no tensors.
/// In [`Names::Sequential`] they still take an index, as their module does
/// in an `nn.Sequential`; [`Names::Layers`] and [`Names::Tensors`] give
/// names to the layers with parameters only, so they hold one prefix, or
/// two names, per layer with parameters: the prefixes of a `state_dict`'s
/// keys (a pool is often not a module at all, `F.max_pool2d` in `forward`).
///
/// The default is [`Names::Sequential`]:
///
/// ```
/// use backprop::safetensors::Names;
///
/// assert_eq!(Names::default(), Names::Sequential);
/// ```
///
/// A conv net with attribute names, `self.conv1 = nn.Conv2d(..)`,
/// `self.conv2 = ...`, `self.fc = nn.Linear(..)` (pooling and flattening
/// done in `forward`):
///
/// ```
/// use backprop::prelude::*;
/// use backprop::safetensors::{self, Names};
///
/// type Net = (
///     Unflatten2d<64, 1, 8, 8>,
///     Conv2d<1, 4, 3, 1, 1, 8, 8, 8, 8, ReLU>,
///     MaxPool2d<4, 2, 8, 8, 4, 4>,
///     Conv2d<4, 8, 3, 1, 1, 4, 4, 4, 4, ReLU>,
///     GlobalAvgPool2d<8, 4, 4>,
///     Flatten2d<8, 1, 1, 8>,
///     Dense<8, 10, Identity>,
/// );
/// let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// // Three layers with parameters: three prefixes (or six tensor names).
/// let names = Names::Layers(&["conv1", "conv2", "fc"]);
/// let bytes = safetensors::to_vec(&net, names)?; // conv1.weight [4, 1, 3, 3], conv1.bias [4], ...
/// assert_eq!(safetensors::read::<Net>(&bytes, names)?, net);
///
/// // As an nn.Sequential, every layer is a module and ReLU one more:
/// // 1.weight, 1.bias, 4.weight, 4.bias, 9.weight, 9.bias.
/// let bytes = safetensors::to_vec(&net, Names::Sequential)?;
/// assert_eq!(safetensors::read::<Net>(&bytes, Names::Sequential)?, net);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Names<'a> {
    /// PyTorch's `nn.Sequential` `state_dict` names, `0.weight`, `0.bias`,
    /// `2.weight`, ...: every layer is one module and takes an index, and so
    /// does the activation of a `Dense` or convolution, except [`Identity`],
    /// which stands for no module (see the
    /// [module documentation](crate::safetensors#names)). The default.
    #[default]
    Sequential,
    /// One prefix per layer with parameters: the `k`-th such layer's tensors
    /// are `{prefix[k]}.weight` and `{prefix[k]}.bias`, as an `nn.Linear` or
    /// `nn.Conv2d` attribute named `prefix[k]`. Layers without parameters
    /// take no prefix.
    Layers(&'a [&'a str]),
    /// Every tensor's full name: two per layer with parameters, the weight
    /// then the bias.
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

    /// Checks the names against a model of type `M`: the right number (one
    /// prefix, or two names, per layer with parameters), none repeated, none
    /// equal to `__metadata__`.
    pub(super) fn check<M: Architecture>(self) -> Result<(), Error> {
        let (given, needed, twice) = match self {
            Names::Sequential => return Ok(()),
            Names::Layers(prefixes) => {
                (prefixes, layers_with_params::<M>(), "appears twice in Names::Layers")
            }
            Names::Tensors(names) => (names, tensors::<M>(), "appears twice in Names::Tensors"),
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
    /// The layer's number among all the model's layers, in forward order
    /// from 0 (as [`Architecture::for_each_layer`] reports them: pools and
    /// reshapes count), as [`Error::NonFiniteWeight`] numbers it.
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

/// The number of layers with parameters in a model of type `M`.
pub(super) fn layers_with_params<M: Architecture>() -> usize {
    let mut count = 0;
    M::for_each_layer(&mut |info| count += usize::from(info.has_params()));
    count
}

/// The number of tensors of a model of type `M`: a weight and a bias per
/// layer with parameters.
pub(super) fn tensors<M: Architecture>() -> usize {
    2 * layers_with_params::<M>()
}

/// How many modules of an `nn.Sequential` a layer is: one, and one more for
/// an activation other than [`Identity`] (a `Dense` or convolution followed
/// by `nn.ReLU()`, ...). Layers without an activation in their type report
/// `Identity`.
fn modules(info: &LayerInfo) -> usize {
    if info.activation == Identity::NAME {
        1
    } else {
        2
    }
}

/// Calls `f` with each of the model's tensors and its number, in
/// [`Params::visit`](crate::Params::visit) order: the weight and bias of
/// each layer with parameters.
pub(super) fn for_each_expected<'a, M: Architecture>(
    names: Names<'a>,
    mut f: impl FnMut(usize, Expected<'a>),
) {
    // `layer` counts every layer, `owner` the layers with parameters, and
    // `module` the modules of the nn.Sequential before this layer.
    let (mut layer, mut owner, mut module) = (0, 0, 0);
    M::for_each_layer(&mut |info: LayerInfo| {
        if info.has_params() {
            let (dims, rank) = info.weight_shape();
            let mut weight = Shape::new(&[]);
            for &d in dims.get(..rank).unwrap_or(&[]) {
                weight.push(d as u64);
            }
            let bias = Shape::new(&[info.biases() as u64]);
            for (t, (kind, shape)) in [("weight", weight), ("bias", bias)].into_iter().enumerate() {
                let name = match names {
                    Names::Sequential => ExpectedName::Indexed(module, kind),
                    Names::Layers(prefixes) => {
                        ExpectedName::Prefixed(prefixes.get(owner).copied().unwrap_or(""), kind)
                    }
                    Names::Tensors(all) => ExpectedName::Full(all.get(2 * owner + t).copied().unwrap_or("")),
                };
                f(2 * owner + t, Expected { layer, kind, shape, name });
            }
            owner += 1;
        }
        layer += 1;
        module += modules(&info);
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
