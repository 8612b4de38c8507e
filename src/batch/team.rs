//! The threads of a threaded `fit` (`std`): workers that live as long as
//! the call, each computing whole shards of every batch (`shards.rs`) with
//! its own workspace, while the calling thread computes shard 0 and then
//! shards too, adds all of them up in shard order and takes the optimizer
//! step.
//!
//! # Who computes which shard
//!
//! Shards 1, 2, ... of a batch go to whichever thread claims them first
//! (an atomic counter tagged with the batch's generation, so a late worker
//! cannot claim a shard of a batch it has not read). The calling thread
//! waits only for shards a worker has started: if a worker wakes late (its
//! CPU busy, or on a virtual machine not scheduled), the calling thread
//! computes the shard itself instead of waiting. Which thread computes a
//! shard changes nothing in it: each shard is computed from the same rows
//! and weights into its own buffer, and the sum is taken in shard order.
//!
//! # Why workers live for the whole call
//!
//! Starting a thread costs far more than it looks: on the 2-core VM of
//! `benches/README.md` a `std::thread::scope` with one spawned thread took
//! 0.35–0.5 ms, as long as a third of a W3 step at batch 256, and four
//! allocations. So `fit` starts its workers once, inside one
//! `std::thread::scope`, and wakes them for every batch with a condition
//! variable; a step then allocates nothing for the threads (the workers'
//! workspaces and the shards' gradient buffers are made on the first
//! step), only `matrixmultiply`'s packing buffers.
//!
//! # Why waits spin first
//!
//! A thread that sleeps on a condition variable costs its waker a system
//! call and itself a trip through the scheduler; on a virtual machine an idle
//! virtual CPU also halts, and waking it goes through the hypervisor. Between
//! two batches a worker waits only as long as the calling thread's serial
//! part of a step (adding the shards, the optimizer step, the snapshot), and
//! the calling thread waits for the workers only as long as their shards
//! (or, before the first step, their parts of the check of the data) take
//! longer than its own. So every wait first watches an atomic copy of
//! what it waits for, for up to [`SPIN`], and only then sleeps on the
//! condition variable (which the mutex-guarded value decides, so no wake-up
//! is lost). Waits longer than that (an epoch's end, a validation pass, a
//! callback) sleep as before.
//!
//! # The check of the data
//!
//! Before the first step `fit` checks that every input is finite, a pass
//! over the whole data set that can take as long as a step. The threads
//! share it as they share shards: the inputs are cut into
//! [`SCAN_PARTS_PER_THREAD`] parts per thread, which the calling thread
//! and the workers (as they start) claim one at a time
//! ([`Team::inputs_finite`]), so a worker that starts late leaves its parts
//! to the calling thread. `fit` makes every other check first, so a call
//! refused for another reason starts no thread.
//!
//! # What the workers see
//!
//! The data set, the loss and the shards' gradient buffers are shared for
//! the whole call. The model is not: the calling thread owns it and updates
//! it between batches, so before every sharded batch it copies the
//! parameters into a snapshot the workers read (`RwLock`; a copy of the
//! parameters, so the workers compute with exactly the model's values).

extern crate std;

use super::shards::{add_part, boxed_copy, copy_params, shard_count, shard_rows, Local, Part, Snapshot};
use super::workspace::Rows;
use crate::check::all_finite;
use crate::loss::Loss;
use crate::model::Model;
use crate::params::Params;
use num_traits::Float;
use std::boxed::Box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};
use std::vec::Vec;

/// How long a wait watches the atomic copies before it sleeps.
const SPIN: Duration = Duration::from_micros(500);

/// Spins until `ready()` or until [`SPIN`] has passed (the caller then
/// decides under the lock, and sleeps if it must), yielding the CPU between
/// rounds to any thread that can run (with more threads than cores, the
/// ones computing shards).
fn spin_until(ready: impl Fn() -> bool) {
    let start = Instant::now();
    while start.elapsed() <= SPIN {
        for _ in 0..64 {
            if ready() {
                return;
            }
            std::hint::spin_loop();
        }
        std::thread::yield_now();
    }
}

/// The bits of [`Team::claims`] that count shards; shard counts are at
/// most [`MAX_SHARDS`](super::shards::MAX_SHARDS), far below.
const CLAIM_BITS: u32 = 16;
const CLAIM_MASK: u64 = (1 << CLAIM_BITS) - 1;

/// Parts per thread of the scan of the inputs for non-finite values
/// ([`Team::inputs_finite`]): several, so that a worker that starts late
/// leaves some of its share to the calling thread.
const SCAN_PARTS_PER_THREAD: usize = 4;

/// What the calling thread tells the workers.
struct Control {
    /// Incremented for every batch handed out.
    generation: u64,
    /// The batch: consecutive rows, or (if `None`) the indices in `listed`.
    range: Option<Range<usize>>,
    listed: Vec<usize>,
    /// Shards of the current batch (shard 0 excepted) computed.
    finished: usize,
    /// A worker panicked (a bug, or a panicking loss of the caller's own):
    /// the calling thread stops waiting, and the scope, joining it, panics.
    failed: bool,
    /// No more batches: the workers return.
    stop: bool,
    /// Parts of the inputs scanned ([`Team::inputs_finite`]), and whether
    /// all of those were finite.
    scanned: usize,
    finite: bool,
}

/// The shared state of a threaded `fit`.
pub(crate) struct Team<'d, M: Model, L: Loss<M::Scalar, N>, const IN: usize, const N: usize> {
    inputs: &'d [[M::Scalar; IN]],
    targets: &'d [L::Target],
    loss: &'d L,
    /// The calling thread and the workers.
    threads: usize,
    /// The model's parameters for the current batch.
    snapshot: RwLock<Box<M>>,
    /// Shards 1, 2, ... of the current batch (shard 0 is the caller's).
    parts: Vec<Mutex<Part<M, M::Scalar>>>,
    control: Mutex<Control>,
    start: Condvar,
    done: Condvar,
    /// Copies of `control`'s `generation`, `finished`, `stop || failed` and
    /// `scanned`, written under its lock, for waits that spin before they
    /// sleep.
    generation: AtomicU64,
    finished: AtomicUsize,
    over: AtomicBool,
    scanned: AtomicUsize,
    /// The next unclaimed part of the inputs' scan.
    scan_claims: AtomicUsize,
    /// The next unclaimed shard of the current batch (low 16 bits), tagged
    /// with the batch's generation (the bits above).
    claims: AtomicU64,
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<'d, M, T, L, const IN: usize, const N: usize> Team<'d, M, L, IN, N>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T> + Send + Sync,
    T: Float + Send + Sync + 'static,
    L: Loss<T, N> + Sync,
    L::Target: Send + Sync,
{
    /// The team for batches of up to `batch_size` rows of `inputs` and
    /// `targets`, run by `threads` threads (the caller's included), with
    /// the model's current parameters.
    pub(crate) fn new(
        model: &M,
        (inputs, targets): (&'d [[T; IN]], &'d [L::Target]),
        loss: &'d L,
        threads: usize,
        batch_size: usize,
    ) -> Self {
        let snapshot = boxed_copy(model);
        let parts = (1..shard_count(batch_size)).map(|_| Mutex::new(Part::new())).collect();
        let control = Control {
            generation: 0,
            range: None,
            listed: Vec::with_capacity(batch_size),
            finished: 0,
            failed: false,
            stop: false,
            scanned: 0,
            finite: true,
        };
        Team {
            inputs,
            targets,
            loss,
            threads,
            snapshot: RwLock::new(snapshot),
            parts,
            control: Mutex::new(control),
            start: Condvar::new(),
            done: Condvar::new(),
            generation: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            scanned: AtomicUsize::new(0),
            scan_claims: AtomicUsize::new(0),
            claims: AtomicU64::new(0),
        }
    }

    /// The number of parts the inputs' scan is cut into.
    fn scan_parts(&self) -> usize {
        self.threads * SCAN_PARTS_PER_THREAD
    }

    /// Claims parts of the inputs' scan until none is left, scanning each
    /// ([`all_finite`]) and counting it. A part that does not exist (which
    /// only a bug could ask for) counts as not finite, so that the caller
    /// searches all inputs itself rather than miss one.
    fn claim_scans(&self) {
        let parts = self.scan_parts();
        let rows = |p: usize| p * self.inputs.len() / parts;
        loop {
            let p = self.scan_claims.fetch_add(1, Ordering::AcqRel);
            if p >= parts {
                return;
            }
            let finite =
                self.inputs.get(rows(p)..rows(p + 1)).is_some_and(|part| all_finite(part.as_flattened()));
            let mut control = lock(&self.control);
            control.scanned += 1;
            control.finite &= finite;
            self.scanned.store(control.scanned, Ordering::Release);
            if control.scanned == parts {
                drop(control);
                self.done.notify_all();
            }
        }
    }

    /// Whether all the inputs are finite ([`all_finite`]), the pass shared
    /// among the threads: the calling thread and the workers (as they
    /// start) claim its parts, and the calling thread then waits only for
    /// parts a worker has claimed.
    ///
    /// On the W3 bench's 4096 rows this pass over 12.8 MB took 1.0–1.35 ms
    /// on one thread, as long as a two-thread step; shared, each thread
    /// scans part of it, and a worker's start overlaps the calling
    /// thread's parts.
    pub(crate) fn inputs_finite(&self) -> bool {
        self.claim_scans();
        let parts = self.scan_parts();
        spin_until(|| self.scanned.load(Ordering::Acquire) >= parts || self.over.load(Ordering::Acquire));
        let mut control = lock(&self.control);
        while control.scanned < parts && !control.failed {
            control = self.done.wait(control).unwrap_or_else(PoisonError::into_inner);
        }
        // A failed worker's part counts as not scanned: the caller then
        // searches all inputs itself.
        control.finite && !control.failed
    }

    /// Claims shards of the batch `rows` (generation `generation`) until
    /// none is left, computing each into its buffer and counting it
    /// finished: with `model` (the calling thread) or with the snapshot
    /// (a worker), read only once a shard is claimed, so a worker that
    /// finds nothing left does not hold up the next step's
    /// [`save`](Snapshot::save). A claim of generation `g` means the
    /// snapshot holds `g`'s weights: `fit` saves them before it hands the
    /// batch out, and cannot save the next before every claimed shard of
    /// `g` is counted.
    fn claim_shards(
        &self,
        generation: u64,
        model: Option<&M>,
        rows: &Rows<'_>,
        local: &mut Local<M, L::Target>,
    ) {
        let batch = rows.len();
        let shards = shard_count(batch) as u64;
        let mut claims = self.claims.load(Ordering::Acquire);
        loop {
            let shard = claims & CLAIM_MASK;
            if claims >> CLAIM_BITS != generation || shard >= shards {
                return;
            }
            if let Err(now) =
                self.claims.compare_exchange_weak(claims, claims + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                claims = now;
                continue;
            }
            let s = shard as usize;
            {
                let snapshot;
                let model = match model {
                    Some(model) => model,
                    None => {
                        snapshot = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
                        &**snapshot
                    }
                };
                let mut part = lock(&self.parts[s - 1]);
                let part = &mut *part;
                part.loss = local.workspace.rows_gradient(
                    model,
                    (self.inputs, self.targets),
                    rows.part(shard_rows(batch, shards as usize, s)),
                    &mut local.targets,
                    self.loss,
                    &mut part.grads,
                    batch,
                );
            }
            let all = {
                let mut control = lock(&self.control);
                control.finished += 1;
                self.finished.store(control.finished, Ordering::Release);
                control.finished as u64 + 1 == shards
            };
            // Only the calling thread waits for `finished`, and only for
            // the last shard.
            if all && model.is_none() {
                self.done.notify_all();
            }
            claims = self.claims.load(Ordering::Acquire);
        }
    }

    /// A worker: claims parts of the inputs' scan
    /// ([`inputs_finite`](Team::inputs_finite)), then waits for a batch,
    /// claims and computes shards of it, until [`stop`](Team::stop).
    pub(crate) fn work(&self) {
        /// Marks the team failed if the worker unwinds, so that the
        /// calling thread does not wait for it forever.
        struct Failed<'a>(&'a Mutex<Control>, &'a Condvar, &'a AtomicBool);
        impl Drop for Failed<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut control = lock(self.0);
                    control.failed = true;
                    self.2.store(true, Ordering::Release);
                    drop(control);
                    self.1.notify_all();
                }
            }
        }
        let _failed = Failed(&self.control, &self.done, &self.over);
        self.claim_scans();
        let mut local = Local::<M, L::Target>::new();
        let mut listed: Vec<usize> = Vec::new();
        let mut seen = 0;
        loop {
            spin_until(|| {
                self.generation.load(Ordering::Acquire) != seen || self.over.load(Ordering::Acquire)
            });
            let range = {
                let mut control = lock(&self.control);
                while control.generation == seen && !control.stop {
                    control = self.start.wait(control).unwrap_or_else(PoisonError::into_inner);
                }
                if control.stop {
                    return;
                }
                seen = control.generation;
                listed.clear();
                listed.extend_from_slice(&control.listed);
                control.range.clone()
            };
            let rows = match range {
                Some(range) => Rows::Range(range),
                None => Rows::Listed(&listed),
            };
            self.claim_shards(seen, None, &rows, &mut local);
        }
    }

    /// The mean loss of the batch `rows` and its gradient, written into
    /// `grads`, as [`Local::gradient`] computes it, with the shards shared
    /// among the team; `local` is the calling thread's workspace. The
    /// workers compute with the team's snapshot of the weights, which must
    /// hold `model`'s parameters: `fit` saves them there before every step
    /// (it is the copy a divergence restores, [`Snapshot`]).
    pub(crate) fn gradient(
        &self,
        local: &mut Local<M, L::Target>,
        model: &M,
        rows: Rows<'_>,
        grads: &mut M,
    ) -> T {
        let batch = rows.len();
        let shards = shard_count(batch);
        if shards == 1 {
            return local.gradient(model, (self.inputs, self.targets), rows, self.loss, grads);
        }
        let generation = {
            let mut control = lock(&self.control);
            control.listed.clear();
            control.range = match &rows {
                Rows::Range(range) => Some(range.clone()),
                Rows::Listed(indices) => {
                    control.listed.extend_from_slice(indices);
                    None
                }
            };
            control.finished = 0;
            control.generation += 1;
            self.finished.store(0, Ordering::Release);
            self.claims.store(control.generation << CLAIM_BITS | 1, Ordering::Release);
            self.generation.store(control.generation, Ordering::Release);
            control.generation
        };
        self.start.notify_all();
        let mut mean = local.workspace.rows_gradient(
            model,
            (self.inputs, self.targets),
            rows.part(shard_rows(batch, shards, 0)),
            &mut local.targets,
            self.loss,
            grads,
            batch,
        );
        self.claim_shards(generation, Some(model), &rows, local);
        let others = shards - 1;
        spin_until(|| self.finished.load(Ordering::Acquire) >= others || self.over.load(Ordering::Acquire));
        {
            let mut control = lock(&self.control);
            while control.finished < others && !control.failed {
                control = self.done.wait(control).unwrap_or_else(PoisonError::into_inner);
            }
            if control.failed {
                return T::nan();
            }
        }
        for part in self.parts.iter().take(shards - 1) {
            add_part(grads, &mut mean, &lock(part));
        }
        mean
    }

    /// Tells the workers to return.
    pub(crate) fn stop(&self) {
        {
            let mut control = lock(&self.control);
            control.stop = true;
            self.over.store(true, Ordering::Release);
        }
        self.start.notify_all();
    }
}

impl<M, T, L, const IN: usize, const N: usize> Snapshot<M> for &Team<'_, M, L, IN, N>
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T> + Send + Sync,
    T: Float + Send + Sync + 'static,
    L: Loss<T, N> + Sync,
    L::Target: Send + Sync,
{
    fn save(&mut self, model: &M) {
        copy_params(&mut **self.snapshot.write().unwrap_or_else(PoisonError::into_inner), model);
    }
    fn restore(&self, model: &mut M) {
        copy_params(model, &self.snapshot.read().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Runs `body` with a team of `threads` threads (the caller's included)
/// whose workers live until `body` returns (or unwinds).
pub(crate) fn with_team<'d, M, T, L, R, const IN: usize, const N: usize>(
    team: &Team<'d, M, L, IN, N>,
    body: impl FnOnce() -> R,
) -> R
where
    M: Model<Input = [T; IN], Output = [T; N]> + Params<Scalar = T> + Send + Sync,
    T: Float + Send + Sync + 'static,
    L: Loss<T, N> + Sync,
    L::Target: Send + Sync,
{
    /// Stops the workers however `body` ends, so the scope can join them.
    struct Stop<F: Fn()>(F);
    impl<F: Fn()> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    std::thread::scope(|scope| {
        for _ in 1..team.threads {
            scope.spawn(move || team.work());
        }
        let _stop = Stop(|| team.stop());
        body()
    })
}
