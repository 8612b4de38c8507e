//! A 784-512-256-10 `f32` net (535,818 parameters, 2.1 MB; with its
//! gradients and Adam's two moments, 8.6 MB) is created, trained for a
//! few steps and dropped on a thread with a 2 MiB stack, the size of a test
//! thread, in whatever profile the tests run in (debug by default, where
//! nothing is optimised away). Everything model-sized lives in a `Box`, made
//! in place: `Box<M>` is a model whose `zeroed` and `random` never build an
//! `M` on the stack.

use backprop::optim::{Kept, Unused};
use backprop::prelude::*;

type Big = (Dense<784, 512, ReLU>, Dense<512, 256, ReLU>, Dense<256, 10, Identity>);

/// Runs `f` on a thread with a 2 MiB stack and waits for it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread panicked");
}

#[test]
fn compile_time_sizes() {
    assert_eq!(Big::PARAMS, 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
    assert_eq!(Big::PARAMS, 535_818);
    assert_eq!(Big::BYTES, 4 * Big::PARAMS);
    const { assert!(Big::BYTES > 2 << 20, "bigger than the test thread's stack") };
    // The tape: each layer's input, pre-activation and output.
    assert_eq!(Big::TAPE_BYTES, 4 * ((784 + 2 * 512) + (512 + 2 * 256) + (256 + 2 * 10)));
    // Adam keeps two values of the model's type (m and v) and a few
    // scalars, a third (the running maximum) only with AMSGrad; boxed, the
    // optimizer itself is small.
    const { assert!(Adam::<Big>::STATE_BYTES >= 2 * Big::BYTES) };
    const { assert!(Adam::<Big>::STATE_BYTES < 2 * Big::BYTES + 128) };
    const { assert!(Adam::<Big, Kept<Big>>::STATE_BYTES >= 3 * Big::BYTES) };
    const { assert!(Adam::<Box<Big>>::STATE_BYTES < 128) };
    // RMSprop: the mean square, plus the mean gradient if centred and the
    // momentum buffer with momentum.
    let scalars = 128;
    let rmsprop = [
        RmsProp::<Big>::STATE_BYTES,
        RmsProp::<Big, Kept<Big>>::STATE_BYTES,
        RmsProp::<Big, Unused, Kept<Big>>::STATE_BYTES,
        RmsProp::<Big, Kept<Big>, Kept<Big>>::STATE_BYTES,
    ];
    for (bytes, models) in rmsprop.into_iter().zip([1, 2, 2, 3]) {
        assert!((models * Big::BYTES..models * Big::BYTES + scalars).contains(&bytes), "{bytes} B");
    }
    assert_eq!(<Box<Big>>::BYTES, std::mem::size_of::<usize>());
    assert_eq!(Sgd::<Big>::STATE_BYTES, 16); // two f32 scalars and the learning rate as given (f64)
}

#[test]
fn a_two_megabyte_net_trains_on_a_two_mebibyte_stack() {
    on_small_stack(|| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        let mut net: Box<Big> = Model::init(&mut rng);
        let mut grads = Box::<Big>::zeroed();
        let mut adam = Adam::<Box<Big>>::new(1e-3);

        // The same draws as building the net by value (compared on the
        // first and last weights, without a by-value copy).
        let mut reference = Xoshiro128PlusPlus::seed_from_u64(1);
        let first = Init::HeUniform.sample::<f32, _>(784, 512, &mut reference);
        assert_eq!(net.0.weights[0][0], first);
        assert_eq!(net.2.bias, [0.0; 10]);

        let inputs: Vec<[f32; 784]> =
            (0..4).map(|k| core::array::from_fn(|i| ((i * 7 + k * 13) % 17) as f32 / 17.0)).collect();
        let labels = [1usize, 4, 7, 9];
        let mut losses = Vec::new();
        for _ in 0..3 {
            let loss = net
                .train_step(&inputs, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, Clip::None)
                .unwrap();
            losses.push(loss);
        }
        assert!(losses[2] < losses[0], "training lowers the loss: {losses:?}");
        assert_eq!(net.classify(&inputs[0]), Ok(1));
        drop((net, grads, adam));
    });
}

#[test]
fn the_batched_path_and_fit_on_a_two_mebibyte_stack() {
    on_small_stack(|| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
        let mut net: Box<Big> = Model::init(&mut rng);
        let mut grads = Box::<Big>::zeroed();
        let mut sgd = Sgd::<Box<Big>>::new(0.01).momentum(0.9);
        let inputs: Vec<[f32; 784]> =
            (0..16).map(|k| core::array::from_fn(|i| ((i * 3 + k * 5) % 11) as f32 / 11.0)).collect();
        let labels: Vec<usize> = (0..16).map(|k| k % 10).collect();
        let mut workspace = Workspace::new();
        let before = workspace
            .train_step(
                &mut net,
                &inputs,
                &labels,
                &SoftmaxCrossEntropy,
                &mut sgd,
                &mut grads,
                Clip::Norm(5.0),
            )
            .unwrap();
        let options = FitOptions {
            epochs: 2,
            batch_size: 8,
            early_stopping: Some(EarlyStopping::default()),
            validation: Some((&inputs[..4], &labels[..4])),
            ..Default::default()
        };
        let history = net.fit(&inputs, &labels, &SoftmaxCrossEntropy, &mut sgd, options, &mut rng).unwrap();
        assert!(history.epochs.last().unwrap().train_loss < before);
        assert_eq!(net.predict(&inputs).len(), 16);
        assert!(net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy).unwrap().is_finite());
        assert!((0.0..=1.0).contains(&net.accuracy(&inputs, &labels).unwrap()));
    });
}
