//! The f32 inference path's footprint, for comparison with `footprint_int8`:
//! the digits model as a static in flash and its `f32` forward pass, without
//! `core::fmt` or printing. Its flash minus `footprint_empty`'s is the model
//! plus the code the library adds (and the soft-float routines on a core
//! without an FPU).
//!
//! Like `footprint_empty`, it links only if no panic path remains anywhere
//! in the library code it uses.

#![no_std]
#![no_main]

use backprop::prelude::*;
use backprop_demo::digits::DIGITS_F32;
use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[entry]
fn main() -> ! {
    let x = black_box([0.5f32; 64]);
    let passed = black_box(&DIGITS_F32).forward(&x).iter().all(|y| y.is_finite());
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
