//! The int8 digits net on the device, with integer arithmetic only: reads
//! the compiled-in int8 model with `backprop::quant::file::read_into`, classifies
//! the 359 test images (pixels to input codes by table lookup, the library's
//! integer forward pass, argmax), prints the same report as the host
//! (`cargo run -p backprop-embedded-host --release -- digits-int8`), then the
//! device's measurements: instructions per inference (QEMU `-icount`), RAM.
//!
//! No floating-point operation anywhere in this binary: `ci.sh` checks that
//! its symbol table holds no soft-float routine. So it prints integers only.
//! Exits with status 0 only if every output code equals the host's.

#![no_std]
#![no_main]

use backprop::quant::Int8Model;
use backprop_demo::digits::{read_int8, run_int8, Int8Digits, INT8_FILE};
use core::fmt::Write;
use core::mem::size_of;
use cortex_m_rt::entry;
use panic_semihosting as _;

#[path = "../device.rs"]
mod device;

/// The int8 model, in RAM (`.bss`: all zeros until `read_int8` fills it).
static mut MODEL: Int8Digits = <Int8Digits as Int8Model>::EMPTY;

#[entry]
fn main() -> ! {
    let (painted, mut out, board, mut meter) = device::start();
    // SAFETY: the only reference to MODEL, taken once: `main` does not
    // return and nothing else (no interrupt handler) touches it.
    let model = unsafe { &mut *core::ptr::addr_of_mut!(MODEL) };
    let passed = match read_int8(model) {
        Ok(()) => run_int8(&mut out, model, &mut meter).unwrap_or(false),
        Err(_) => {
            // The error's Display prints floats for some variants.
            let _ = writeln!(out, "the compiled-in int8 model is refused by file::read_into");
            false
        }
    };
    let (total, inferences) = (meter.total(), meter.count);
    let peak = device::stack_peak(painted);
    let calibrated = device::report_measurements(&mut out, board, &mut meter, total, inferences);
    let _ = writeln!(
        out,
        "RAM: int8 model {} B, input codes {} B, output codes {} B; statics {} B, peak stack {peak} B",
        size_of::<Int8Digits>(),
        size_of::<[i8; 64]>(),
        size_of::<[i8; 10]>(),
        device::statics(),
    );
    let _ = writeln!(out, "flash: int8 model file {} B", INT8_FILE.len());
    device::exit(passed && calibrated)
}
