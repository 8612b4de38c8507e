//! The convolutional path's footprint: trains the digits conv net
//! (`backprop_demo::conv::ConvDigits`: reshape, 3 × 3 convolution, max pool,
//! flatten, dense; plain SGD: initialisation, forward with tape, softmax
//! cross-entropy gradient, backward, optimizer step) on inputs it cannot know
//! at compile time, and runs its forward pass, without `core::fmt` or
//! printing. Its flash minus `footprint_empty`'s is the code the library
//! adds.
//!
//! Like `footprint_empty`, it links only if no panic path remains anywhere
//! in the library code it uses.

#![no_std]
#![no_main]

use backprop::prelude::*;
use backprop_demo::conv::{ConvDigits, ConvOptimizer};
use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[entry]
fn main() -> ! {
    // black_box: nothing here may be computed at compile time.
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(3));
    let inputs = black_box([[0.25f32; 64]; 4]);
    let labels = black_box([1usize, 7, 3, 0]);
    let mut net: ConvDigits = Model::init(&mut rng);
    let mut grads = ConvDigits::zeroed();
    let mut sgd = ConvOptimizer::new(0.1);
    let mut passed = true;
    for _ in 0..black_box(3) {
        passed &= net
            .train_step(&inputs, &labels, &SoftmaxCrossEntropy, &mut sgd, &mut grads, Clip::None)
            .is_ok_and(|loss| loss.is_finite());
    }
    passed &= net.forward(&inputs[0]).iter().all(|y| y.is_finite());
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
