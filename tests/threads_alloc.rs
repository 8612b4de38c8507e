//! The allocations of a threaded `fit` step, counted on every thread (this
//! file's one test runs alone in its process, so a process-wide count sees
//! only it).
//!
//! A threaded `fit` starts its workers and makes their workspaces once;
//! after that a step allocates only `matrixmultiply`'s packing buffers, one
//! per matrix product: 8 per shard for the W3 net (3 forward products, 3
//! weight gradients, 2 input gradients), so a batch of 256 rows (2 shards)
//! costs 16 with any number of threads, the same as on one thread.

use backprop::prelude::*;
use rand::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting allocations on every thread.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a plain atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Mnist = (Dense<784, 128, ReLU>, Dense<128, 64, ReLU>, Dense<64, 10, Identity>);

/// Allocations of one `fit` call of `epochs` epochs over 2 batches of 256.
fn allocations(threads: usize, epochs: usize, x: &[[f32; 784]], y: &[usize]) -> usize {
    let mut net: Box<Mnist> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(2));
    let mut adam = Adam::new(1e-3);
    let options = FitOptions { epochs, batch_size: 256, threads, ..Default::default() };
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    net.fit(x, y, &SoftmaxCrossEntropy, &mut adam, options, &mut rng).unwrap();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn a_threaded_step_allocates_what_one_thread_does() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    let x: Vec<[f32; 784]> =
        (0..512).map(|_| core::array::from_fn(|_| rng.next_u32() as f32 / 4e9)).collect();
    let y: Vec<usize> = (0..512).map(|k| k % 10).collect();
    for threads in [1, 2, 3] {
        // Two more epochs are four more steps of 2 shards each.
        let (short, long) = (allocations(threads, 1, &x, &y), allocations(threads, 3, &x, &y));
        assert_eq!(
            long - short,
            4 * 2 * 8,
            "{threads} threads: allocations per step beyond the packing buffers"
        );
    }
}
