//! Proof by linking that the library's training API has no reachable panic.
//!
//! This binary exercises every public entry point a firmware would use
//! (initialisation, forward, backward, every loss, every optimizer, batch
//! steps and epochs with clipping, shuffling, evaluation) on data it cannot
//! know at compile time. Its panic handler calls a symbol that does not
//! exist: if any panic path (an index out of bounds, a division by zero, an
//! `unwrap`) survives optimisation anywhere in that code, the link fails.
//! CI builds it for both targets; it is also run, and exits with success.

#![no_std]
#![no_main]

use backprop::prelude::*;
use backprop::train::shuffle_together;
use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

type Net = (Dense<4, 8, ReLU>, Dense<8, 6, SiLU>, Dense<6, 3, Identity>);

/// Trains with `optimizer` through every batch entry point; `true` if all
/// results are finite.
fn exercise<O: Optimizer<Net>>(
    mut optimizer: O,
    inputs: &mut [[f32; 4]; 12],
    labels: &mut [usize; 12],
) -> bool {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(3));
    let mut net: Net = Model::init(&mut rng);
    let mut grads = Net::zeroed();
    let mut ok =
        net.check_data(&inputs[..], &labels[..], &SoftmaxCrossEntropy).is_ok() && optimizer.check().is_ok();
    for epoch in 0..black_box(5) {
        ok &= shuffle_together(&mut inputs[..], &mut labels[..], &mut rng).is_ok();
        let clip = if epoch % 2 == 0 { Clip::Norm(1.0) } else { Clip::Value(0.5) };
        let batch = black_box(5);
        ok &= net
            .train_epoch(
                &inputs[..],
                &labels[..],
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                batch,
                clip,
            )
            .is_ok();
        ok &= net
            .train_step(
                &inputs[..4],
                &labels[..4],
                &SoftmaxCrossEntropy,
                &mut optimizer,
                &mut grads,
                Clip::None,
            )
            .is_ok();
    }
    let mut outputs = [[0.0; 3]; 12];
    ok &= net.predict_into(&inputs[..], &mut outputs).is_ok();
    ok &= net.accuracy(&inputs[..], &labels[..]).is_ok_and(|a| a >= 0.0);
    ok &= net.evaluate(&inputs[..], &labels[..], &SoftmaxCrossEntropy).is_ok_and(|l| l.is_finite());
    ok && net.classify(&inputs[0]).is_ok_and(|class| class < 3)
}

/// Every loss's value and gradient through a backward pass.
fn losses(inputs: &[[f32; 4]; 12]) -> bool {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(5));
    let net: Net = Model::init(&mut rng);
    let mut grads = Net::zeroed();
    let (y, tape) = net.forward_tape(&inputs[0]);
    let p = softmax(&y);
    let target = black_box([0.0, 1.0, 0.5]);
    let mut total = Mse.loss(&y, &target) + Mae.loss(&y, &target) + Huber::default().loss(&y, &target);
    total = total + BinaryCrossEntropy.loss(&p, &target) + BceWithLogits.loss(&y, &target);
    total += SoftmaxCrossEntropy.loss(&y, &black_box(2));
    for dy in [
        Mse.gradient(&y, &target),
        Mae.gradient(&y, &target),
        Huber::new(black_box(0.5)).unwrap_or_default().gradient(&y, &target),
        BinaryCrossEntropy.gradient(&p, &target),
        BceWithLogits.gradient(&y, &target),
        SoftmaxCrossEntropy.gradient(&y, &black_box(1)),
    ] {
        let d_input = net.backward(&tape, &dy, &mut grads);
        total += d_input[0];
    }
    total.is_finite()
}

#[entry]
fn main() -> ! {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(black_box(1));
    let mut inputs = [[0.0_f32; 4]; 12];
    let mut labels = [0_usize; 12];
    for (k, (x, label)) in inputs.iter_mut().zip(labels.iter_mut()).enumerate() {
        *x = Dense::<1, 4, Identity>::random_with(Init::GlorotUniform, &mut rng).weights.map(|w| w[0]);
        *label = k % 3;
        x[*label] += 1.0;
    }
    let mut ok = losses(&inputs);
    ok &= exercise(Sgd::new(0.1).weight_decay(1e-3), &mut inputs, &mut labels);
    ok &= exercise(Sgd::new(0.1).momentum(0.9).dampening(0.1), &mut inputs, &mut labels);
    ok &= exercise(Sgd::new(0.1).momentum(0.9).nesterov(true), &mut inputs, &mut labels);
    ok &= exercise(Adam::new(0.01).amsgrad().weight_decay(1e-3), &mut inputs, &mut labels);
    ok &= exercise(AdamW::new(0.01), &mut inputs, &mut labels);
    ok &= exercise(RmsProp::new(0.01).centered().momentum(0.5), &mut inputs, &mut labels);
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi(); // never reached: QEMU has exited
    }
}

#[path = "../no_panic_handler.rs"]
mod no_panic_handler;
