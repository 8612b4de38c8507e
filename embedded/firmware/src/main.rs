//! backprop on a microcontroller: trains XOR and an Iris classifier, and runs
//! a net trained on the host, all without an allocator, then reports its
//! memory footprint (compile-time sizes and the measured peak of the stack)
//! and exits through semihosting (0 = all passed).
//!
//! ```sh
//! cd embedded
//! cargo run -p backprop-firmware --release --target thumbv7em-none-eabihf   # Cortex-M4F
//! cargo run -p backprop-firmware --release --target thumbv6m-none-eabi      # Cortex-M0
//! ```

#![no_std]
#![no_main]

use backprop::prelude::*;
use backprop_demo::{HostIris, Iris, Xor};
use core::fmt::Write;
use cortex_m_rt::entry;
use cortex_m_semihosting::hio;
use device::{paint_stack, stack_peak, Console};
use panic_semihosting as _;

mod device;

/// Prints the compile-time sizes of a model and what training it needs.
fn sizes<M: Model, O>(out: &mut Console, name: &str) -> core::fmt::Result {
    writeln!(
        out,
        "{name:<9} {:>5} parameters  model {:>5} B  tape {:>5} B  gradients {:>5} B  optimizer {:>5} B",
        M::PARAMS,
        core::mem::size_of::<M>(),
        core::mem::size_of::<M::Tape>(),
        core::mem::size_of::<M>(),
        core::mem::size_of::<O>(),
    )
}

#[entry]
fn main() -> ! {
    let painted = paint_stack();
    let Ok(stdout) = hio::hstdout() else { device::exit(false) };
    let mut out = Console(stdout);
    let passed = backprop_demo::run(&mut out).unwrap_or(false);
    let peak = stack_peak(painted);

    let _ = writeln!(out, "== Compile-time sizes (f32)");
    let _ = sizes::<Xor, Sgd<Xor>>(&mut out, "XOR/SGD");
    let _ = sizes::<Iris, Adam<Iris>>(&mut out, "Iris/Adam");
    let _ = sizes::<HostIris, ()>(&mut out, "Host net");
    let statics = painted.0 - 0x2000_0000;
    let _ = writeln!(
        out,
        "RAM: {statics} B of statics, peak stack {peak} B (all three demonstrations, printing included)"
    );

    device::exit(passed)
}
