//! The int8 inference path's footprint: reads the int8 digits model with
//! `file::read_into` (checks included) into a static and runs the integer
//! forward pass, without `core::fmt` or printing. Its flash minus
//! `footprint_empty`'s is the model file plus the code the library adds.
//!
//! Like `footprint_empty`, it links only if no panic path remains anywhere
//! in the library code it uses.

#![no_std]
#![no_main]

use backprop::quant::{file, Int8Model};
use backprop_demo::digits::{Int8Digits, INT8_FILE};
use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

static mut MODEL: Int8Digits = <Int8Digits as Int8Model>::EMPTY;

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to MODEL, taken once; `main` does not return.
    let model = unsafe { &mut *core::ptr::addr_of_mut!(MODEL) };
    let mut passed = file::read_into(black_box(INT8_FILE), model).is_ok();
    let codes = black_box([0i8; 64]);
    passed &= black_box(model.forward(&codes)) != [i8::MIN; 10];
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
