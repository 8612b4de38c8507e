//! Shapes checked at compile time: the layers' assertions, whose messages
//! name the sizes, and the macros that compute output sizes in a type.
//!
//! Each layer has an associated constant `SHAPE` that calls one of the
//! `const fn`s here with its const parameters; a layer with sizes that do not
//! fit makes the constant's evaluation panic, which is a compile error when
//! the layer is instantiated (`cargo build`, not `cargo check`). The panic's
//! message is built at compile time, only when a check fails, from the
//! layer's own numbers:
//!
//! ```text
//! error[E0080]: evaluation panicked: MaxPool2d<1, 2, 7, 7, 3, 3>: the window 2 does not divide the input 7 x 7 ...
//! ```
//!
//! The macros ([`conv1d!`](crate::conv1d), [`conv2d!`](crate::conv2d) and the
//! pools') write the output sizes into the type and check the others in the
//! type itself, which `cargo check` evaluates, at the user's line.

use super::out_len;

/// The longest message; longer ones are cut (every text here is ASCII, so a
/// cut never splits a character).
const CAPACITY: usize = 400;

/// A compile-time message: ASCII text and decimal numbers in a fixed buffer.
struct Message {
    bytes: [u8; CAPACITY],
    len: usize,
}

impl Message {
    /// `Layer<p0, p1, ...>: `, the type as the user wrote it (without its
    /// activation and scalar types).
    const fn new(layer: &str, params: &[usize]) -> Self {
        let mut m = Message { bytes: [0; CAPACITY], len: 0 };
        m.text(layer);
        m.text("<");
        let mut i = 0;
        while i < params.len() {
            if i > 0 {
                m.text(", ");
            }
            m.number(params[i]);
            i += 1;
        }
        m.text(">: ");
        m
    }

    const fn text(&mut self, s: &str) {
        let s = s.as_bytes();
        let mut i = 0;
        while i < s.len() && self.len < CAPACITY {
            self.bytes[self.len] = s[i];
            self.len += 1;
            i += 1;
        }
    }

    const fn number(&mut self, mut n: usize) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while count > 0 && self.len < CAPACITY {
            count -= 1;
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
    }

    /// A size along every dimension: `7` (1-d) or `7 x 9` (2-d).
    const fn size(&mut self, dims: &[usize]) {
        let mut i = 0;
        while i < dims.len() {
            if i > 0 {
                self.text(" x ");
            }
            self.number(dims[i]);
            i += 1;
        }
    }

    /// The same number along every dimension of `like` (a square kernel).
    const fn square(&mut self, n: usize, like: &[usize]) {
        let mut i = 0;
        while i < like.len() {
            if i > 0 {
                self.text(" x ");
            }
            self.number(n);
            i += 1;
        }
    }

    /// Stops compilation with the message.
    const fn fail(&self) -> ! {
        let (used, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(message) => panic!("{}", message),
            Err(_) => panic!("the layer's sizes do not fit"),
        }
    }
}

/// A convolution's sizes: kernel and stride at least 1, the kernel no larger
/// than the padded input, and every output size PyTorch's
/// [`out_len`]`(input, kernel, stride, padding)`.
pub(crate) const fn conv(
    layer: &str,
    params: &[usize],
    kernel: usize,
    stride: usize,
    padding: usize,
    input: &[usize],
    output: &[usize],
) {
    if kernel == 0 {
        let mut m = Message::new(layer, params);
        m.text("the kernel size K is 0");
        m.fail();
    }
    if stride == 0 {
        let mut m = Message::new(layer, params);
        m.text("the stride S is 0");
        m.fail();
    }
    let mut fits = true;
    let mut same = true;
    let mut i = 0;
    while i < input.len() {
        fits &= input[i].saturating_add(padding.saturating_mul(2)) >= kernel;
        same &= output[i] == out_len(input[i], kernel, stride, padding);
        i += 1;
    }
    if !fits {
        let mut m = Message::new(layer, params);
        m.text("the ");
        m.square(kernel, input);
        m.text(" kernel does not fit in the ");
        m.size(input);
        m.text(" input padded with ");
        m.number(padding);
        m.text(" on each side");
        m.fail();
    }
    if !same {
        let mut m = Message::new(layer, params);
        m.text("the output size is ");
        m.size(output);
        m.text(", but a ");
        m.square(kernel, input);
        m.text(" kernel with stride ");
        m.number(stride);
        m.text(" and padding ");
        m.number(padding);
        m.text(" turns the input ");
        m.size(input);
        m.text(" into ");
        let mut i = 0;
        while i < input.len() {
            if i > 0 {
                m.text(" x ");
            }
            m.number(out_len(input[i], kernel, stride, padding));
            i += 1;
        }
        m.text(" (PyTorch's (size + 2 * padding - kernel) / stride + 1, rounded down)");
        m.fail();
    }
}

/// A pool's sizes: a window of at least 1 that divides every input size,
/// and every output size the input size over the window.
pub(crate) const fn pool(layer: &str, params: &[usize], window: usize, input: &[usize], output: &[usize]) {
    if window == 0 {
        let mut m = Message::new(layer, params);
        m.text("the window size K is 0");
        m.fail();
    }
    let mut divides = true;
    let mut same = true;
    let mut i = 0;
    while i < input.len() {
        divides &= input[i] % window == 0;
        same &= output[i] == input[i] / window;
        i += 1;
    }
    if !divides {
        let mut m = Message::new(layer, params);
        m.text("the window ");
        m.number(window);
        m.text(" does not divide the input ");
        m.size(input);
        m.text(" (the pool's stride is its window and it has no padding, so every input size must be a multiple of ");
        m.number(window);
        m.text(")");
        m.fail();
    }
    if !same {
        let mut m = Message::new(layer, params);
        m.text("the output size is ");
        m.size(output);
        m.text(", but ");
        m.square(window, input);
        m.text(" windows turn the input ");
        m.size(input);
        m.text(" into ");
        let mut i = 0;
        while i < input.len() {
            if i > 0 {
                m.text(" x ");
            }
            m.number(input[i] / window);
            i += 1;
        }
        m.fail();
    }
}

/// A global pool's input: not empty.
pub(crate) const fn not_empty(layer: &str, params: &[usize], input: &[usize]) {
    let mut i = 0;
    while i < input.len() {
        if input[i] == 0 {
            let mut m = Message::new(layer, params);
            m.text("the input ");
            m.size(input);
            m.text(" is empty: there is nothing to average");
            m.fail();
        }
        i += 1;
    }
}

/// A reshape's sizes: the vector's length `n` is the number of values in
/// `channels` channels of size `dims`.
pub(crate) const fn reshape(layer: &str, params: &[usize], n: usize, channels: usize, dims: &[usize]) {
    let mut values = channels;
    let mut i = 0;
    while i < dims.len() {
        values = values.saturating_mul(dims[i]);
        i += 1;
    }
    if n != values {
        let mut m = Message::new(layer, params);
        m.text("the vector's length N is ");
        m.number(n);
        m.text(", but ");
        m.number(channels);
        m.text(if channels == 1 { " channel of " } else { " channels of " });
        m.size(dims);
        m.text(if channels == 1 { " holds " } else { " hold " });
        m.number(values);
        m.text(" values");
        m.fail();
    }
}

/// The type of a [`Conv1d`](crate::conv::Conv1d) with its output length
/// computed: `conv1d!(CI, CO, K, S, P, L, A)` is
/// `Conv1d<CI, CO, K, S, P, L, LO, A>` with `LO =`
/// [`out_len`](crate::conv::out_len)`(L, K, S, P)`; a scalar type may
/// follow the activation (`conv1d!(2, 4, 3, 1, 1, 16, Tanh, f64)`).
///
/// The kernel, stride and padding are checked in the type itself, so a
/// kernel that does not fit is reported by `cargo check`, at the macro:
///
/// ```compile_fail,E0080
/// use backprop::prelude::*;
/// // error[E0080]: evaluation panicked: conv1d!: the kernel 5 does not fit in the length 3 padded with 0 on each side
/// type Bad = conv1d!(1, 4, 5, 1, 0, 3, ReLU);
/// let layer = Bad::zeroed();
/// ```
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// // A 2-channel sequence of 16, four "valid" filters of 5 at stride 2: (16 - 5) / 2 + 1 = 6.
/// type Net = (Unflatten1d<32, 2, 16>, conv1d!(2, 4, 5, 2, 0, 16, ReLU), Flatten1d<4, 6, 24>, Dense<24, 1, Identity>);
/// let _: Conv1d<2, 4, 5, 2, 0, 16, 6, ReLU> = <conv1d!(2, 4, 5, 2, 0, 16, ReLU)>::zeroed();
/// let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert!(net.forward(&[1.0; 32])[0].is_finite());
/// ```
#[macro_export]
macro_rules! conv1d {
    ($ci:expr, $co:expr, $k:expr, $s:expr, $p:expr, $l:expr, $a:ty $(, $t:ty)? $(,)?) => {
        $crate::conv::Conv1d<
            { $ci }, { $co }, { $k }, { $s }, { $p }, { $l },
            { $crate::__conv_len!("conv1d!", "length", $k, $s, $p, $l) },
            $a $(, $t)?
        >
    };
}

/// The type of a [`Conv2d`](crate::conv::Conv2d) with its output size
/// computed: `conv2d!(CI, CO, K, S, P, H, W, A)` is
/// `Conv2d<CI, CO, K, S, P, H, W, HO, WO, A>` with `HO =`
/// [`out_len`](crate::conv::out_len)`(H, K, S, P)` and
/// `WO = out_len(W, K, S, P)`; a scalar type may follow the activation
/// (`conv2d!(1, 8, 3, 1, 1, 28, 28, ReLU, f64)`).
///
/// The kernel, stride and padding are checked in the type itself, so a
/// kernel that does not fit is reported by `cargo check`, at the macro:
///
/// ```compile_fail,E0080
/// use backprop::prelude::*;
/// // error[E0080]: evaluation panicked: conv2d!: the kernel 5 does not fit in the height 3 padded with 0 on each side
/// type Bad = conv2d!(1, 4, 5, 1, 0, 3, 3, ReLU);
/// let layer = Bad::zeroed();
/// ```
///
/// # Example
///
/// ```
/// use backprop::prelude::*;
///
/// // The W6 net: the output sizes of its convolutions and pools follow from the rest.
/// type W6 = (
///     Unflatten2d<784, 1, 28, 28>,
///     conv2d!(1, 8, 3, 1, 1, 28, 28, ReLU),  // Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU>
///     max_pool2d!(8, 2, 28, 28),             // MaxPool2d<8, 2, 28, 28, 14, 14>
///     conv2d!(8, 16, 3, 1, 1, 14, 14, ReLU),
///     max_pool2d!(16, 2, 14, 14),
///     Flatten2d<16, 7, 7, { 16 * 7 * 7 }>,
///     Dense<{ 16 * 7 * 7 }, 10, Identity>,
/// );
/// let _: Conv2d<1, 8, 5, 2, 2, 28, 28, 14, 14, ReLU> = <conv2d!(1, 8, 5, 2, 2, 28, 28, ReLU)>::zeroed();
/// let net: Box<W6> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(0));
/// assert_eq!(net.forward(&[0.5; 784]).len(), 10);
/// ```
#[macro_export]
macro_rules! conv2d {
    ($ci:expr, $co:expr, $k:expr, $s:expr, $p:expr, $h:expr, $w:expr, $a:ty $(, $t:ty)? $(,)?) => {
        $crate::conv::Conv2d<
            { $ci }, { $co }, { $k }, { $s }, { $p }, { $h }, { $w },
            { $crate::__conv_len!("conv2d!", "height", $k, $s, $p, $h) },
            { $crate::__conv_len!("conv2d!", "width", $k, $s, $p, $w) },
            $a $(, $t)?
        >
    };
}

/// The type of a [`MaxPool1d`](crate::conv::MaxPool1d) with its output
/// length computed: `max_pool1d!(C, K, L)` is `MaxPool1d<C, K, L, LO>` with
/// `LO = L / K`; a scalar type may follow (`max_pool1d!(4, 2, 16, f64)`).
///
/// That `K` divides `L` is checked in the type itself, so `cargo check`
/// reports a window that does not divide, at the macro:
///
/// ```compile_fail,E0080
/// use backprop::prelude::*;
/// // error[E0080]: evaluation panicked: max_pool1d!: the window 3 does not divide the length 16 ...
/// type Bad = max_pool1d!(4, 3, 16);
/// let layer = Bad::zeroed();
/// ```
///
/// ```
/// use backprop::prelude::*;
/// let _: MaxPool1d<4, 2, 16, 8> = <max_pool1d!(4, 2, 16)>::zeroed();
/// ```
#[macro_export]
macro_rules! max_pool1d {
    ($c:expr, $k:expr, $l:expr $(, $t:ty)? $(,)?) => {
        $crate::conv::MaxPool1d<{ $c }, { $k }, { $l }, { $crate::__pool_len!("max_pool1d!", "length", $k, $l) } $(, $t)?>
    };
}

/// The type of an [`AvgPool1d`](crate::conv::AvgPool1d) with its output
/// length computed: `avg_pool1d!(C, K, L)` is `AvgPool1d<C, K, L, LO>` with
/// `LO = L / K`, checked as [`max_pool1d!`](crate::max_pool1d) checks it.
///
/// ```
/// use backprop::prelude::*;
/// let _: AvgPool1d<4, 2, 16, 8, f64> = <avg_pool1d!(4, 2, 16, f64)>::zeroed();
/// ```
#[macro_export]
macro_rules! avg_pool1d {
    ($c:expr, $k:expr, $l:expr $(, $t:ty)? $(,)?) => {
        $crate::conv::AvgPool1d<{ $c }, { $k }, { $l }, { $crate::__pool_len!("avg_pool1d!", "length", $k, $l) } $(, $t)?>
    };
}

/// The type of a [`MaxPool2d`](crate::conv::MaxPool2d) with its output size
/// computed: `max_pool2d!(C, K, H, W)` is `MaxPool2d<C, K, H, W, HO, WO>`
/// with `HO = H / K`, `WO = W / K`; a scalar type may follow
/// (`max_pool2d!(8, 2, 28, 28, f64)`).
///
/// That `K` divides `H` and `W` is checked in the type itself, so
/// `cargo check` reports a window that does not divide, at the macro:
///
/// ```compile_fail,E0080
/// use backprop::prelude::*;
/// // error[E0080]: evaluation panicked: max_pool2d!: the window 2 does not divide the height 7 ...
/// type Bad = max_pool2d!(8, 2, 7, 7);
/// let layer = Bad::zeroed();
/// ```
///
/// ```
/// use backprop::prelude::*;
/// let _: MaxPool2d<8, 2, 28, 28, 14, 14> = <max_pool2d!(8, 2, 28, 28)>::zeroed();
/// ```
#[macro_export]
macro_rules! max_pool2d {
    ($c:expr, $k:expr, $h:expr, $w:expr $(, $t:ty)? $(,)?) => {
        $crate::conv::MaxPool2d<
            { $c }, { $k }, { $h }, { $w },
            { $crate::__pool_len!("max_pool2d!", "height", $k, $h) },
            { $crate::__pool_len!("max_pool2d!", "width", $k, $w) }
            $(, $t)?
        >
    };
}

/// The type of an [`AvgPool2d`](crate::conv::AvgPool2d) with its output size
/// computed: `avg_pool2d!(C, K, H, W)` is `AvgPool2d<C, K, H, W, HO, WO>`
/// with `HO = H / K`, `WO = W / K`, checked as
/// [`max_pool2d!`](crate::max_pool2d) checks them.
///
/// ```
/// use backprop::prelude::*;
/// let _: AvgPool2d<8, 4, 28, 28, 7, 7> = <avg_pool2d!(8, 4, 28, 28)>::zeroed();
/// ```
#[macro_export]
macro_rules! avg_pool2d {
    ($c:expr, $k:expr, $h:expr, $w:expr $(, $t:ty)? $(,)?) => {
        $crate::conv::AvgPool2d<
            { $c }, { $k }, { $h }, { $w },
            { $crate::__pool_len!("avg_pool2d!", "height", $k, $h) },
            { $crate::__pool_len!("avg_pool2d!", "width", $k, $w) }
            $(, $t)?
        >
    };
}

/// One output size of a convolution, checked, for the macros above: a
/// failed `assert!` in a const argument stops `cargo check` at the macro.
#[doc(hidden)]
#[macro_export]
macro_rules! __conv_len {
    ($layer:literal, $dim:literal, $k:expr, $s:expr, $p:expr, $n:expr) => {{
        ::core::assert!($k > 0, ::core::concat!($layer, ": the kernel size is 0"));
        ::core::assert!($s > 0, ::core::concat!($layer, ": the stride is 0"));
        ::core::assert!(
            $n + 2 * $p >= $k,
            ::core::concat!(
                $layer,
                ": the kernel ",
                ::core::stringify!($k),
                " does not fit in the ",
                $dim,
                " ",
                ::core::stringify!($n),
                " padded with ",
                ::core::stringify!($p),
                " on each side"
            )
        );
        $crate::conv::out_len($n, $k, $s, $p)
    }};
}

/// One output size of a pool, checked, for the macros above.
#[doc(hidden)]
#[macro_export]
macro_rules! __pool_len {
    ($layer:literal, $dim:literal, $k:expr, $n:expr) => {{
        ::core::assert!($k > 0, ::core::concat!($layer, ": the window size is 0"));
        ::core::assert!(
            $n % $k == 0,
            ::core::concat!(
                $layer,
                ": the window ",
                ::core::stringify!($k),
                " does not divide the ",
                $dim,
                " ",
                ::core::stringify!($n),
                " (the pool's stride is its window and it has no padding)"
            )
        );
        $n / $k
    }};
}
