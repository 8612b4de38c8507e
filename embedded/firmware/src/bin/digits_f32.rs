//! The `f32` digits net on the device, for comparison with `digits_int8`:
//! classifies the 359 test images with the model compiled into flash,
//! prints the same report as the host (`cargo run -p
//! backprop-embedded-host --release -- digits-f32`), then the device's
//! measurements: instructions per inference (QEMU `-icount`), RAM.
//! Exits with status 0 only if every logit equals the host's, bit for bit.

#![no_std]
#![no_main]

use backprop_demo::digits::{run_f32, Digits, F32_FILE};
use core::fmt::Write;
use core::mem::size_of;
use cortex_m_rt::entry;
use panic_semihosting as _;

#[path = "../device.rs"]
mod device;

#[entry]
fn main() -> ! {
    let (painted, mut out, board, mut meter) = device::start();
    let passed = run_f32(&mut out, &mut meter).unwrap_or(false);
    let (total, inferences) = (meter.total(), meter.count);
    let peak = device::stack_peak(painted);
    let calibrated = device::report_measurements(&mut out, board, &mut meter, total, inferences);
    let _ = writeln!(
        out,
        "RAM: f32 model 0 B (a static in flash), input {} B, output {} B; statics {} B, peak stack {peak} B",
        size_of::<[f32; 64]>(),
        size_of::<[f32; 10]>(),
        device::statics(),
    );
    let _ = writeln!(out, "flash: f32 model {} B (file {} B)", size_of::<Digits>(), F32_FILE.len());
    device::exit(passed && calibrated)
}
