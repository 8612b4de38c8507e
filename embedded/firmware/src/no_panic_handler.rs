//! The panic handler of the binaries that prove the library has no
//! reachable panic (`footprint_empty`, `footprint_xor`, `no_panic`).
//!
//! It calls a symbol that does not exist. If any panic path survives
//! optimisation anywhere in the code a binary uses, that call survives too
//! and the link fails; a binary that links has no reachable panic.

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn a_panic_path_is_reachable() -> !;
    }
    // SAFETY: never called; the symbol does not exist, so if this call
    // survives optimisation the link fails (which is the point).
    unsafe { a_panic_path_is_reachable() }
}
