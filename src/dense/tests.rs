//! The dispatch: a `Dense` layer's and a chain's passes, compiled for this
//! CPU's instruction set and run through the public traits, give the bits
//! of the portable build run layer by layer; writing gradients gives the
//! bits of zeroing and adding; the rows of a batch agree with the
//! per-sample passes.

use crate::activation::{Activation, Identity, ReLU, Sigmoid, Tanh};
use crate::dense::{Dense, DenseTape};
use crate::layer::Layer;
use crate::params::Params;
use crate::passes::{Backward, Forward};
use crate::simd;
use crate::simd::Portable;
use num_traits::Float;
use rand::rngs::Xoshiro128PlusPlus;
use rand::{RngExt, SeedableRng};

/// The bits of every parameter, in visiting order.
fn bits<M: Params<Scalar = f32>>(m: &M) -> std::vec::Vec<u32> {
    let mut v = std::vec::Vec::new();
    m.for_each_tensor(|t| v.extend(t.iter().map(|x| x.to_bits())));
    v
}

/// The baseline and the dispatched (on this CPU: AVX2) compilations of a
/// `Dense` layer's passes give the same bits, and `dot` is the naive sum
/// up to rounding.
fn same_bits<const IN: usize, const OUT: usize, A: Activation, T: Float + core::fmt::Debug + 'static>(
    seed: u64,
) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let layer = Dense::<IN, OUT, A, T>::random(&mut rng);
    let mut draw = || T::from(rng.random::<f64>() * 4.0 - 2.0).unwrap();
    let x: [T; IN] = core::array::from_fn(|_| draw());
    let d_output: [T; OUT] = core::array::from_fn(|_| draw());

    let (a, tape) = layer.forward_tape_in(Portable, &x);
    let mut grads = Dense::zeroed();
    let d_input = layer.backward_in::<_, true, false>(Portable, &tape, &d_output, &mut grads);

    assert_eq!(layer.forward(&x), a, "forward {IN}x{OUT}");
    let (a2, tape2): ([T; OUT], DenseTape<IN, OUT, T>) = layer.forward_tape(&x);
    assert_eq!((a2, tape2), (a, tape), "forward_tape {IN}x{OUT}");
    let mut grads2 = Dense::zeroed();
    let d_input2 = layer.backward(&tape, &d_output, &mut grads2);
    assert_eq!(d_input2, d_input, "input gradient {IN}x{OUT}");
    assert_eq!((grads2.weights, grads2.bias), (grads.weights, grads.bias), "parameter gradients {IN}x{OUT}");
    let mut grads3 = Dense::zeroed();
    layer.backward_params(&tape, &d_output, &mut grads3);
    assert_eq!((grads3.weights, grads3.bias), (grads.weights, grads.bias), "backward_params {IN}x{OUT}");

    for o in 0..OUT {
        let naive = layer.weights[o].iter().zip(&x).fold(T::zero(), |s, (&w, &x)| s + w * x);
        let got = simd::dot(&layer.weights[o], &x);
        let scale = layer.weights[o].iter().zip(&x).fold(T::zero(), |s, (&w, &x)| s + (w * x).abs());
        assert!(
            (got - naive).abs() <= scale * T::epsilon() * T::from(IN).unwrap(),
            "dot {got:?} vs {naive:?}"
        );
    }
}

#[test]
fn dispatch_computes_the_same_bits() {
    same_bits::<1, 1, Tanh, f32>(1);
    same_bits::<2, 16, Tanh, f32>(2);
    same_bits::<16, 16, Tanh, f32>(3);
    same_bits::<17, 3, Sigmoid, f32>(4);
    same_bits::<33, 9, ReLU, f32>(5);
    same_bits::<784, 12, ReLU, f32>(6);
    same_bits::<8, 8, Tanh, f32>(9);
    same_bits::<9, 17, Tanh, f32>(10);
    same_bits::<64, 10, Identity, f32>(11);
    same_bits::<100, 31, Sigmoid, f32>(12);
    same_bits::<16, 16, Tanh, f64>(7);
    same_bits::<31, 5, Sigmoid, f64>(8);
}

/// A whole chain, dispatched once, against its layers run one by one
/// with the portable code.
#[test]
fn a_dispatched_chain_computes_the_same_bits() {
    type Net = (Dense<2, 16, Tanh>, Dense<16, 16, Tanh>, Dense<16, 1, Sigmoid>);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let net = Net::random(&mut rng);
    let x = [0.25, -1.5];
    let (y, tape) = net.forward_tape(&x);
    let (h1, t0) = net.0.forward_tape_in(Portable, &x);
    let (h2, t1) = net.1.forward_tape_in(Portable, &h1);
    let (y2, t2) = net.2.forward_tape_in(Portable, &h2);
    assert_eq!((y, tape), (y2, (t0, t1, t2)));
    assert_eq!(net.forward(&x), y);
    let (mut g, mut g2) = (Net::zeroed(), Net::zeroed());
    let d = net.backward(&tape, &[0.5], &mut g);
    let d2 = net.2.backward_in::<_, true, false>(Portable, &tape.2, &[0.5], &mut g2.2);
    let d2 = net.1.backward_in::<_, true, false>(Portable, &tape.1, &d2, &mut g2.1);
    let d2 = net.0.backward_in::<_, true, false>(Portable, &tape.0, &d2, &mut g2.0);
    assert_eq!(d, d2);
    assert_eq!(g, g2);
}

/// Writing the gradients (`WRITE`, the first sample of a batch) leaves
/// in `grads`, whatever it held, the bits that zeroing it and adding
/// give. (The dispatch changes only the code generation, so the portable
/// build is enough to check the rule.)
#[test]
fn writing_gradients_has_the_bits_of_zeroing_and_adding() {
    type Net = (Dense<3, 16, Tanh>, Dense<16, 9, ReLU>, Dense<9, 2, Identity>);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let net = Net::random(&mut rng);
    let garbage = Net::random(&mut rng);
    for x in [[0.25, -1.5, 3.0], [0.0, -0.0, 0.0], [-2.0, 0.5, 1e-3]] {
        let (_, tape) = net.forward_tape(&x);
        for d in [[0.5, -2.0], [0.0, -0.0]] {
            let mut added = Net::zeroed();
            let d_added = net.backward(&tape, &d, &mut added);
            let mut written = garbage;
            let d_written = net.backward_in::<_, true, true>(Portable, &tape, &d, &mut written);
            assert_eq!(d_written.map(f32::to_bits), d_added.map(f32::to_bits));
            assert_eq!(bits(&written), bits(&added), "writing backward at {x:?}, {d:?}");
            let mut added = Net::zeroed();
            net.backward_params(&tape, &d, &mut added);
            let mut written = garbage;
            net.backward_in::<_, false, true>(Portable, &tape, &d, &mut written);
            assert_eq!(bits(&written), bits(&added), "writing backward_params at {x:?}, {d:?}");
        }
    }
}

/// The rows of a batch (one layer through matrix products, the others
/// row by row): the input gradient, and gradients added (`WRITE =
/// false`) to what `grads` held, against `backward` summed sample by
/// sample.
#[test]
fn rows_input_gradients_and_accumulation() {
    // 96 → 64 (a product from 8 rows on) → 48 (a product) → 5 (rows).
    type Net = (Dense<96, 64, Tanh, f64>, Dense<64, 48, ReLU, f64>, Dense<48, 5, Identity, f64>);
    assert!(Net::uses_gemm(20) && !Dense::<48, 5, Identity, f64>::uses_gemm(20));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(5);
    let net = Net::random(&mut rng);
    let mut draw = |_| rng.random::<f64>() * 2.0 - 1.0;
    let x: std::vec::Vec<[f64; 96]> = (0..20).map(|_| core::array::from_fn(&mut draw)).collect();
    let d_y: std::vec::Vec<[f64; 5]> = (0..20).map(|_| core::array::from_fn(&mut draw)).collect();

    let mut want = Net::zeroed();
    assert!(want.set_param(7, 0.5));
    let mut grads = want;
    let mut want_dx = std::vec::Vec::new();
    for (x, d) in x.iter().zip(&d_y) {
        let (_, tape) = net.forward_tape(x);
        want_dx.push(net.backward(&tape, d, &mut want));
    }

    let mut tape = <Net as Layer>::Rows::default();
    net.forward_rows(Portable, &x, &mut tape);
    Net::output_rows(&mut tape).1.copy_from_slice(&d_y);
    let mut dx = std::vec![[0.0; 96]; 20];
    net.backward_rows::<_, false>(Portable, &x, &mut tape, &mut grads, Some(&mut dx));
    let close = |a: &[f64], b: &[f64], what: &str| {
        assert_eq!(a.len(), b.len());
        for (k, (a, b)) in a.iter().zip(b).enumerate() {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{what} {k}: {a} vs {b}");
        }
    };
    close(dx.as_flattened(), want_dx.as_flattened(), "input gradient");
    let flat = |m: &Net| {
        let mut v = std::vec::Vec::new();
        m.for_each_tensor(|t| v.extend_from_slice(t));
        v
    };
    close(&flat(&grads), &flat(&want), "accumulated gradient");
}

/// On a CPU with AVX2 the tests above compare the AVX2 build with the
/// baseline; say so if this one has none.
#[test]
fn the_test_machine_has_avx2() {
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    if !std::is_x86_feature_detected!("avx2") {
        std::eprintln!("no AVX2 on this CPU: the tests above compared the baseline with itself");
    }
}
