//! The baseline for the footprint measurement: the same runtime, start-up and
//! semihosting exit as `footprint_xor`, and no network. The difference in
//! flash between the two is the code the library adds.

#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[entry]
fn main() -> ! {
    let passed = black_box(true);
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {}
}

/// Any panic path left after optimisation calls this undefined symbol, so
/// the binary does not link: a linked binary has no reachable panic.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn a_panic_path_is_reachable() -> !;
    }
    // SAFETY: never called; the symbol does not exist, so if this call
    // survives optimisation the link fails (which is the point).
    unsafe { a_panic_path_is_reachable() }
}
