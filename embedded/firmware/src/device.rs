//! What the firmware binaries share: the semihosting console, the stack's
//! high-water mark, and the count of executed instructions.
//!
//! Each binary uses part of it (`mod device` in `main.rs`, `#[path]`-included
//! by the `bin/`s).
#![allow(dead_code)]

use core::fmt::Write;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{CPUID, SYST};
use cortex_m_semihosting::{debug, hio};

/// Semihosting standard output as a `core::fmt::Write`.
pub struct Console(pub hio::HostStream);

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
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
pub fn paint_stack() -> (usize, usize) {
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
pub fn stack_peak((bottom, top): (usize, usize)) -> usize {
    let mut address = bottom;
    // SAFETY: reads aligned words of the painted range, which is RAM.
    while address < top && unsafe { core::ptr::read_volatile(address as *const u32) } == PAINT {
        address += 4;
    }
    core::ptr::addr_of!(_stack_start) as usize - address
}

/// The bytes of RAM the statics (`.data`, `.bss`) take.
pub fn statics() -> usize {
    core::ptr::addr_of!(__sheap) as usize - 0x2000_0000
}

/// The board, told by the core: QEMU's micro:bit has a Cortex-M0 (nRF51, 16
/// MHz), its mps2-an386 a Cortex-M4F (25 MHz).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Board {
    /// The core's name.
    pub core: &'static str,
    /// The machine QEMU emulates.
    pub machine: &'static str,
    /// The core clock, which SysTick counts, in Hz.
    pub hz: u64,
}

impl Board {
    /// The board from the core's CPUID part number (`None`: not one of the
    /// two boards the firmware knows).
    pub fn detect() -> Option<Board> {
        // SAFETY: a read of the read-only CPUID register.
        let part = (unsafe { (*CPUID::PTR).base.read() } >> 4) & 0xfff;
        match part {
            0xc20 => Some(Board { core: "Cortex-M0", machine: "micro:bit (nRF51822)", hz: 16_000_000 }),
            0xc24 => Some(Board { core: "Cortex-M4F", machine: "mps2-an386", hz: 25_000_000 }),
            _ => None,
        }
    }
}

/// Counts the instructions the core executes between `start` and `stop`,
/// from SysTick.
///
/// Under QEMU with `-icount shift=0` every instruction advances the virtual
/// clock by exactly 1 ns, and SysTick (clocked by the core clock, `hz`)
/// counts that virtual time: `instructions = ticks · 10⁹ / hz` (40 per tick
/// at 25 MHz, 62.5 at 16 MHz). SysTick is a 24-bit down counter, read at
/// each `start` and `stop`; a measured stretch must stay below 2²⁴ ticks
/// (0.67 s at 25 MHz), which one inference does by far.
pub struct Instructions {
    hz: u64,
    started: u32,
    ticks: u64,
    /// The number of `start`/`stop` pairs.
    pub count: u32,
}

impl Instructions {
    /// Starts SysTick on the core clock, free-running over its 24 bits.
    pub fn new(mut syst: SYST, board: Board) -> Self {
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00ff_ffff);
        syst.clear_current();
        syst.enable_counter();
        Instructions { hz: board.hz, started: 0, ticks: 0, count: 0 }
    }

    /// Resets the totals.
    pub fn reset(&mut self) {
        self.ticks = 0;
        self.count = 0;
    }

    /// The instructions counted over every `start`/`stop` pair so far.
    pub fn total(&self) -> u64 {
        self.ticks * 1_000_000_000 / self.hz
    }
}

impl backprop_demo::digits::Meter for Instructions {
    #[inline(always)]
    fn start(&mut self) {
        self.started = SYST::get_current();
    }

    #[inline(always)]
    fn stop(&mut self) {
        let now = SYST::get_current();
        self.ticks += u64::from(self.started.wrapping_sub(now) & 0x00ff_ffff);
        self.count += 1;
    }
}

/// Runs a loop of `iterations` × 2 instructions (`subs`, `bne`) plus 1
/// (`movs`/`mov`), for checking the instruction count: returns the count
/// [`Instructions`] measured and the count expected.
#[inline(never)]
pub fn calibration_loop(meter: &mut Instructions, iterations: u32) -> (u64, u64) {
    use backprop_demo::digits::Meter;
    meter.reset();
    meter.start();
    // SAFETY: a register-only countdown loop; `r` is clobbered, nothing else.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {r}, #1",
            "bne 2b",
            r = inout(reg) iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
    meter.stop();
    (meter.total(), 2 * u64::from(iterations.max(1)))
}

/// Prints the "== Measurements" section's head (device only, not compared
/// with the host): the board and the check of the instruction count against
/// a loop of known length. Returns whether the check passed.
pub fn report_calibration(out: &mut impl Write, board: Board, meter: &mut Instructions) -> bool {
    let (loop_count, expected) = calibration_loop(meter, 100_000);
    // One tick of resolution at each end, and the loop's set-up.
    let tolerance = 2 * 1_000_000_000 / board.hz + 8;
    let calibrated = loop_count.abs_diff(expected) <= tolerance;
    let _ = writeln!(out, "== Measurements on {} ({}, QEMU -icount shift=0)", board.core, board.machine);
    let _ = writeln!(
        out,
        "instruction count check: a loop of {expected} instructions measured {loop_count} ({})",
        if calibrated { "ok" } else { "WRONG: is QEMU run with -icount shift=0?" }
    );
    calibrated
}

/// Prints the "== Measurements" section (device only, not compared with the
/// host): [`report_calibration`], then `total` instructions over
/// `inferences` forward passes. Returns whether the check passed.
///
/// The two timer reads around a forward pass add about 3 instructions to
/// it; that is left in (an empty pair measures 0 or 1 tick, too coarse to
/// subtract).
pub fn report_measurements(
    out: &mut impl Write,
    board: Board,
    meter: &mut Instructions,
    total: u64,
    inferences: u32,
) -> bool {
    let calibrated = report_calibration(out, board, meter);
    let per = total / u64::from(inferences.max(1));
    let _ =
        writeln!(out, "instructions per inference: {per} (forward pass, mean over {inferences} test images)");
    calibrated
}

/// Exits through semihosting with success if `passed`, failure otherwise.
pub fn exit(passed: bool) -> ! {
    debug::exit(if passed { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

/// The measuring binaries' start: the stack painted, the console, the board
/// and the instruction meter; exits with failure if one is missing.
pub fn start() -> ((usize, usize), Console, Board, Instructions) {
    let painted = paint_stack();
    let (Ok(stdout), Some(board), Some(peripherals)) =
        (hio::hstdout(), Board::detect(), cortex_m::Peripherals::take())
    else {
        exit(false)
    };
    (painted, Console(stdout), board, Instructions::new(peripherals.SYST, board))
}
