//! Pins the compiler's messages for networks whose shapes do not fit.
//!
//! `tests/ui/fail_*.rs` must fail to compile with the error in the matching
//! `.stderr` file; `tests/ui/pass_*.rs` must compile and run. Regenerate the
//! snapshots after an intended change with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
