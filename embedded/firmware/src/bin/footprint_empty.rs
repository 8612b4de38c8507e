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
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
