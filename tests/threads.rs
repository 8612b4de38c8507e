//! Threaded `fit` and `predict`: the same bits with 1, 2 and 3 threads, the
//! same training (to rounding) as the per-sample path, and 0 threads
//! refused.
//!
//! The reference for "the same bits" is the one-thread run: sharding is a
//! function of the batch size alone, so every thread count must reproduce
//! it exactly. The reference for "the right gradient" is the per-sample
//! path (`Train::train_step`), which knows nothing of shards or threads.

use backprop::prelude::*;

/// 96 → 64 → 48 → 5: every layer a matrix product at these batch sizes.
type Wide<T> = (Dense<96, 64, Tanh, T>, Dense<64, 48, ReLU, T>, Dense<48, 5, Identity, T>);

mod synthetic;
use synthetic::{data, labels};

fn bits<M: Params<Scalar = f32>>(model: &M) -> Vec<u32> {
    let mut all = Vec::new();
    model.for_each_tensor(|p| all.extend(p.iter().map(|v| v.to_bits())));
    all
}

/// `fit` with `threads` threads; the weights and every epoch's loss, as bits.
fn fit_with_threads(threads: usize, batch_size: usize, shuffle: bool) -> (Vec<u32>, Vec<u32>) {
    let mut net: Box<Wide<f32>> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
    let (x, y) = (data::<f32, 96>(600, 1), labels(600, 5));
    let options = FitOptions { epochs: 3, batch_size, shuffle, threads, ..Default::default() };
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let history = net.fit(&x, &y, &SoftmaxCrossEntropy, &mut Adam::new(1e-3), options, &mut rng).unwrap();
    (bits(&*net), history.epochs.iter().map(|e| e.train_loss.to_bits()).collect())
}

#[test]
fn fit_gives_the_same_bits_with_1_2_and_3_threads() {
    // 256 rows: 2 shards of 128; the last batch of 600 by 256 has 88 rows
    // (1 shard); 600 rows: 5 shards of 120, uneven among 2 and 3 threads.
    for (batch_size, shuffle) in [(256, true), (256, false), (600, true)] {
        let one = fit_with_threads(1, batch_size, shuffle);
        for threads in [2, 3] {
            let many = fit_with_threads(threads, batch_size, shuffle);
            assert!(
                one.1 == many.1,
                "batch {batch_size}, shuffle {shuffle}: epoch losses with 1 thread {:?}, with {threads} {:?}",
                one.1,
                many.1
            );
            let differing = one.0.iter().zip(&many.0).filter(|(a, b)| a != b).count();
            assert_eq!(
                differing, 0,
                "batch {batch_size}, shuffle {shuffle}: {differing} weights differ with {threads} threads"
            );
        }
    }
}

/// The sharded, threaded gradient is the batch's gradient: `fit` over
/// unshuffled batches of 256 (2 shards) on 2 threads trains, in `f64`, as
/// the per-sample path's steps on the same batches do.
#[test]
fn threaded_fit_trains_as_the_per_sample_path() {
    type Net = Box<Wide<f64>>;
    let net: Net = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let (x, y) = (data::<f64, 96>(512, 2), labels(512, 5));
    let mut fitted = net.clone();
    let options = FitOptions { epochs: 2, batch_size: 256, shuffle: false, threads: 2, ..Default::default() };
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    fitted.fit(&x, &y, &SoftmaxCrossEntropy, &mut Sgd::new(0.1), options, &mut rng).unwrap();
    let mut by_hand = net.clone();
    let (mut sgd, mut grads) = (Sgd::new(0.1), Net::zeroed());
    for _ in 0..2 {
        for (x, y) in x.chunks(256).zip(y.chunks(256)) {
            by_hand.train_step(x, y, &SoftmaxCrossEntropy, &mut sgd, &mut grads, Clip::None).unwrap();
        }
    }
    let (mut got, mut want) = (Vec::new(), Vec::new());
    fitted.for_each_tensor(|p| got.extend_from_slice(p));
    by_hand.for_each_tensor(|p| want.extend_from_slice(p));
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        let error = (g - w).abs();
        assert!(
            error <= 1e-12 * (w.abs() + 1.0),
            "weight {k}: threaded fit {g:e}, per sample {w:e}, difference {error:e}"
        );
    }
    // And it moved: the comparison is not between two untrained nets.
    let mut start = Vec::new();
    net.for_each_tensor(|p| start.extend_from_slice(p));
    assert!(start.iter().zip(&want).any(|(a, b)| a != b));
}

#[test]
fn predict_gives_the_same_bits_with_any_thread_count() {
    let net: Wide<f32> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    // 1000 rows: four blocks of 256 (the last 232) through the batched path.
    let x = data::<f32, 96>(1000, 6);
    let want: Vec<u32> = net.predict(&x).iter().flatten().map(|v| v.to_bits()).collect();
    for threads in [1, 2, 3, 7] {
        let got: Vec<u32> =
            net.predict_with_threads(&x, threads).unwrap().iter().flatten().map(|v| v.to_bits()).collect();
        assert!(got == want, "{threads} threads: outputs differ from predict");
    }
    // A net too narrow for the batched path: row by row, split the same way.
    type Narrow = (Dense<2, 8, Tanh>, Dense<8, 1, Sigmoid>);
    let narrow: Narrow = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    let x = data::<f32, 2>(37, 7);
    let one_by_one: Vec<[f32; 1]> = x.iter().map(|x| narrow.forward(x)).collect();
    assert_eq!(narrow.predict_with_threads(&x, 3).unwrap(), one_by_one);
}

#[test]
fn zero_threads_is_an_error() {
    let mut net: Wide<f32> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    let x = data::<f32, 96>(10, 6);
    let err = net.predict_with_threads(&x, 0).unwrap_err();
    assert!(matches!(err, Error::InvalidHyperparameter { name: "threads", .. }), "{err}");
    let before = bits(&net);
    let options = FitOptions { threads: 0, ..Default::default() };
    let err = net
        .fit(
            &x,
            &labels(10, 5),
            &SoftmaxCrossEntropy,
            &mut Sgd::new(0.1),
            options,
            &mut Xoshiro128PlusPlus::seed_from_u64(1),
        )
        .unwrap_err();
    assert!(matches!(err.error, Error::InvalidHyperparameter { name: "threads", .. }), "{}", err.error);
    assert!(bits(&net) == before, "a refused fit changed the weights");
}

/// A threaded `fit` shares the pass over the inputs' values among its
/// threads (they claim parts of it: 8 with 2 threads, 12 with 3): a
/// non-finite value in any part, on a boundary between parts, or in several
/// parts, is the error one thread reports, naming the first culprit, and
/// nothing is trained. 601 rows in batches of 600 (5 shards, so 3 threads
/// run as 3) do not divide evenly among the parts.
#[test]
fn a_threaded_fit_finds_a_non_finite_input_in_any_part() {
    let (clean, y) = (data::<f32, 96>(601, 1), labels(601, 5));
    let mut cases: Vec<Vec<usize>> = [0, 3, 49, 50, 75, 76, 199, 200, 299, 300, 399, 400, 550, 600]
        .into_iter()
        .map(|row| vec![row])
        .collect();
    cases.extend([vec![450, 200], vec![600, 1], vec![]]);
    let options = |threads| FitOptions { epochs: 1, batch_size: 600, threads, ..Default::default() };
    for culprits in cases {
        let mut x = clean.clone();
        for (k, &row) in culprits.iter().enumerate() {
            x[row][(row * 13) % 96] = if k == 0 { f32::NAN } else { f32::INFINITY };
        }
        let one = refused(&x, &y, options(1));
        match culprits.iter().min() {
            Some(row) => {
                let error = one.0.clone().unwrap_or_default();
                assert!(error.contains(&format!("sample {row} of")), "culprits {culprits:?}: {error}");
                assert!(one.1, "a refused fit changed the weights");
            }
            None => assert_eq!(one.0, None, "clean data refused"),
        }
        for threads in [2, 3] {
            assert_eq!(refused(&x, &y, options(threads)), one, "culprits {culprits:?}, {threads} threads");
        }
    }
}

/// A threaded `fit` makes its checks in the one-thread order: a non-finite
/// input comes after mismatched lengths and before bad targets, bad
/// validation data and bad settings; each of those alone is refused as on
/// one thread, with the weights untouched.
#[test]
fn a_threaded_fit_reports_the_first_failed_check_as_one_thread_does() {
    let (clean, y) = (data::<f32, 96>(600, 1), labels(600, 5));
    let mut nan = clean.clone();
    nan[450][3] = f32::NAN;
    let mut bad_label = y.clone();
    bad_label[10] = 7; // 5 classes
    let mut bad_validation = clean[..20].to_vec();
    bad_validation[4][0] = f32::INFINITY;
    let valid = (&bad_validation[..], &y[..20]);
    let base = |threads| FitOptions { epochs: 1, batch_size: 256, threads, ..Default::default() };
    for threads in [2, 3] {
        for (x, non_finite) in [(&clean, false), (&nan, true)] {
            let cases: [(&str, &[usize], FitOptions<'_, f32, 96, usize>); 5] = [
                ("599 targets", &y[..599], base(threads)),
                ("a label out of range", &bad_label, base(threads)),
                ("non-finite validation data", &y, FitOptions { validation: Some(valid), ..base(threads) }),
                ("a negative clipping norm", &y, FitOptions { clip: Clip::Norm(-1.0), ..base(threads) }),
                ("valid", &y, base(threads)),
            ];
            for (what, targets, options) in cases {
                let one = refused(x, targets, FitOptions { threads: 1, ..options });
                let many = refused(x, targets, options);
                assert_eq!(many, one, "{what}, {threads} threads, non-finite input: {non_finite}");
                let expect_input_error = non_finite && what != "599 targets";
                let error = one.0.unwrap_or_default();
                assert_eq!(error.contains("sample 450 of"), expect_input_error, "{what}: {error}");
            }
        }
    }
}

/// `fit` of a fresh wide net on `x` and `targets`: its error, if refused
/// (as text), and whether the weights are unchanged.
fn refused(
    x: &[[f32; 96]],
    targets: &[usize],
    options: FitOptions<'_, f32, 96, usize>,
) -> (Option<String>, bool) {
    let mut net: Box<Wide<f32>> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
    let before = bits(&*net);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let result = net.fit(x, targets, &SoftmaxCrossEntropy, &mut Adam::new(1e-3), options, &mut rng);
    (result.err().map(|e| format!("{}", e.error)), bits(&*net) == before)
}

/// A step that leaves a weight non-finite is undone from the same copy of
/// the weights with threads as without (the team's snapshot).
#[test]
fn a_diverging_threaded_fit_restores_the_weights_as_one_thread_does() {
    let run = |threads: usize| {
        let mut net: Box<Wide<f32>> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
        let (x, y) = (data::<f32, 96>(512, 1), labels(512, 5));
        let options = FitOptions { epochs: 2, batch_size: 256, threads, ..Default::default() };
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
        let err = net.fit(&x, &y, &SoftmaxCrossEntropy, &mut Sgd::new(3e38), options, &mut rng).unwrap_err();
        (format!("{}", err.error), bits(&*net))
    };
    let (one, two) = (run(1), run(2));
    assert!(
        one.0.contains("diverged") || one.0.contains("Diverged") || one.0.contains("not finite"),
        "{}",
        one.0
    );
    assert_eq!(one.0, two.0);
    assert!(one.1 == two.1, "restored weights differ between 1 and 2 threads");
    assert!(one.1.iter().all(|&b| f32::from_bits(b).is_finite()), "a non-finite weight was kept");
}

/// Softmax cross-entropy that panics on the label `PANIC_LABEL` (which
/// `check_target` lets through): a loss of the caller's own that fails
/// inside a shard, on whichever thread computes it.
struct PanicsOnLabel;

const PANIC_LABEL: usize = 99;

impl Targets<usize, f32, 5> for PanicsOnLabel {}

impl Loss<f32, 5> for PanicsOnLabel {
    type Target = usize;
    fn loss(&self, output: &[f32; 5], target: &usize) -> f32 {
        assert_ne!(*target, PANIC_LABEL, "the loss's own panic");
        SoftmaxCrossEntropy.loss(output, target)
    }
    fn gradient(&self, output: &[f32; 5], target: &usize) -> [f32; 5] {
        assert_ne!(*target, PANIC_LABEL, "the loss's own panic");
        SoftmaxCrossEntropy.gradient(output, target)
    }
    fn check_target(&self, _target: &usize) -> Result<(), Error> {
        Ok(())
    }
}

/// A panic inside a shard (here in shard 1 of the second batch, which a
/// worker or the calling thread may claim) ends `fit` with a panic, on 2
/// and 3 threads, instead of leaving the calling thread waiting for a
/// shard that never comes.
#[test]
fn a_panic_in_a_shard_ends_fit() {
    for threads in [2, 3] {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                let mut net: Box<Wide<f32>> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
                let x = data::<f32, 96>(600, 1);
                let mut y = labels(600, 5);
                y[450] = PANIC_LABEL; // batch 1 (rows 256..512), shard 1 (rows 384..512)
                let options =
                    FitOptions { epochs: 1, batch_size: 256, shuffle: false, threads, ..Default::default() };
                let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
                let _ = net.fit(&x, &y, &PanicsOnLabel, &mut Adam::new(1e-3), options, &mut rng);
            });
            let _ = sender.send(outcome.is_err());
        });
        let panicked = receiver
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{threads} threads: fit neither returned nor panicked within 120 s"));
        assert!(panicked, "{threads} threads: fit returned although a shard's loss panicked");
    }
}
