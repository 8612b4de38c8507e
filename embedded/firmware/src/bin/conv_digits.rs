//! A convolutional net learns the handwritten digits on the device
//! (`backprop_demo::conv`): one epoch of SGD over the 1438 training images
//! (read from flash, a batch at a time), then the 359 test images. Prints
//! the same report as the host (`cargo run -p backprop-embedded-host
//! --release -- conv-digits`), then the device's measurements: instructions
//! per training step and per inference (QEMU `-icount`), RAM. Exits with
//! status 0 only if the test accuracy is at least 90%; `ci.sh` compares the
//! report with the host's, so the trained weights' checksum must be the
//! host's too.

#![no_std]
#![no_main]

use backprop_demo::conv::{run, Sizes, BATCH, TRAIN};
use backprop_demo::digits::TEST;
use core::fmt::Write;
use cortex_m_rt::entry;
use panic_semihosting as _;

#[path = "../device.rs"]
mod device;

#[entry]
fn main() -> ! {
    let (painted, mut out, board, mut meter) = device::start();
    let mut training = (0, 0);
    let passed = run(&mut out, &mut meter, |meter| {
        training = (meter.total(), meter.count);
        meter.reset();
    })
    .unwrap_or(false);
    let (testing, inferences) = (meter.total(), meter.count);
    let peak = device::stack_peak(painted);
    let calibrated = device::report_calibration(&mut out, board, &mut meter);
    let (total, steps) = training;
    let _ = writeln!(
        out,
        "instructions per training step: {} (a batch of {BATCH}: forward, backward, SGD update; mean over {steps} steps)",
        total / u64::from(steps.max(1))
    );
    let _ = writeln!(out, "instructions for the whole training: {total}");
    let _ = writeln!(
        out,
        "instructions per inference: {} (forward pass, mean over {inferences} test images)",
        testing / u64::from(inferences.max(1))
    );
    let _ = writeln!(
        out,
        "RAM: training needs {} B by the compile-time sizes; statics {} B, peak stack {peak} B (printing included)",
        Sizes::OF_DEMO.total(),
        device::statics(),
    );
    let _ = writeln!(out, "flash: training images {} B, test images {} B", TRAIN.len(), TEST.len());
    device::exit(passed && calibrated)
}
