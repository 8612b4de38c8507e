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
use cortex_m_semihosting::{debug, hio};
use panic_semihosting as _;

/// Semihosting standard output as a `core::fmt::Write`.
struct Console(hio::HostStream);

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

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

/// What the unused part of the stack is filled with, to find its high-water
/// mark afterwards.
const PAINT: u32 = 0xA5A5_A5A5;

extern "C" {
    /// The end of the statics (`.data`, `.bss`): the lowest address the stack
    /// can reach (cortex-m-rt's link.x).
    static __sheap: u32;
    /// The top of RAM, where the stack starts.
    static _stack_start: u32;
}

/// Fills the RAM between the statics and (a margin below) the current stack
/// pointer with [`PAINT`]; returns the painted range.
#[inline(never)]
fn paint_stack() -> (usize, usize) {
    let bottom = core::ptr::addr_of!(__sheap) as usize;
    let top = cortex_m::register::msp::read() as usize - 256;
    let mut address = bottom;
    while address < top {
        // SAFETY: [bottom, top) lies between the end of the statics and the
        // live stack frames (256 bytes below the stack pointer), so it is
        // RAM that nothing uses yet; the writes are aligned (both ends are
        // multiples of 4 and the step is 4).
        unsafe { core::ptr::write_volatile(address as *mut u32, PAINT) };
        address += 4;
    }
    (bottom, top)
}

/// The peak stack use since [`paint_stack`]: the distance from the top of
/// RAM to the lowest word no longer holding the paint.
fn stack_peak((bottom, top): (usize, usize)) -> usize {
    let mut address = bottom;
    // SAFETY: reads aligned words of the painted range, which is RAM.
    while address < top && unsafe { core::ptr::read_volatile(address as *const u32) } == PAINT {
        address += 4;
    }
    core::ptr::addr_of!(_stack_start) as usize - address
}

#[entry]
fn main() -> ! {
    let painted = paint_stack();
    let Ok(stdout) = hio::hstdout() else {
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi(); // never reached: QEMU has exited
        }
    };
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

    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}
