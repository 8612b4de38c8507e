//! The library's own footprint: trains the XOR net (2-16-16-1, f32, plain
//! SGD: initialisation, forward with tape, MSE gradient, backward, optimizer
//! step) and checks its four predictions, without `core::fmt` or printing.
//! Its flash minus `footprint_empty`'s is the code the library adds.
//!
//! Like `footprint_empty`, it links only if no panic path remains anywhere
//! in the library code it uses.

#![no_std]
#![no_main]

use backprop::prelude::*;
use backprop_demo::{Xor, XOR_INPUTS, XOR_TARGETS};
use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[entry]
fn main() -> ! {
    // black_box: nothing here may be computed at compile time.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(7));
    let (inputs, targets) = (black_box(XOR_INPUTS), black_box(XOR_TARGETS));
    let mut net: Xor = Model::init(&mut rng);
    let mut grads = Xor::zeroed();
    let mut sgd = Sgd::new(0.5);
    let mut passed = true;
    for _ in 0..black_box(1000) {
        passed &= net.train_epoch(&inputs, &targets, &Mse, &mut sgd, &mut grads, 4, Clip::None).is_ok();
    }
    for (x, t) in inputs.iter().zip(&targets) {
        passed &= (net.forward(x)[0] > 0.5) == (t[0] > 0.5);
    }
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
