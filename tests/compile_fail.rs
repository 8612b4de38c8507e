//! Pins the compiler's messages for networks whose shapes do not fit.
//!
//! `tests/ui/fail_*.rs` must fail to compile with the error in the matching
//! `.stderr` file; `tests/ui/pass_*.rs` must compile and run. Regenerate the
//! snapshots after an intended change with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.
//!
//! Two kinds of error are pinned. A chain whose neighbouring layers disagree
//! (widths, channels, tensor sizes, scalar types) fails trait selection:
//! `cargo check` reports it, at the user's line. A layer whose own sizes do
//! not fit (a convolution's output size that is not PyTorch's, a pool whose
//! window does not divide its input, a flatten of the wrong length) fails the
//! layer's constant assertion `SHAPE` when the layer is instantiated: a
//! post-monomorphisation error, which `cargo build` reports and `cargo check`
//! does not. trybuild runs `cargo check` unless some test must pass; the
//! `pass_*` tests make it run `cargo build` for every test, which the second
//! kind needs (`fail_conv_output_size`, `fail_conv1d_output_size`,
//! `fail_pool*_not_dividing`, `fail_flatten2d_length`,
//! `fail_unflatten2d_length`). The shape macros (`conv2d!`, `max_pool2d!`,
//! ...) check in the type itself, so their errors are of the first kind's
//! timing: `cargo check`, at the user's line (`fail_conv2d_macro_kernel`,
//! `fail_max_pool2d_macro`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
