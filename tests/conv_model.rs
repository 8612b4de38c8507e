//! The model-level promises for convolutional nets: sizes known at compile
//! time and equal to the sums of their layers, computed here from the layer
//! sizes; a boxed W6 net made and run on a 2 MiB thread (a test thread's
//! stack) in whatever profile the tests run in, and trained; the same seed
//! giving the same bits;
//! the desktop's training step (the first sample writes the gradients)
//! giving the bits of a microcontroller's (zero them, then add); and
//! `Architecture::for_each_layer` listing every layer in order.

use backprop::prelude::*;
use backprop::{LayerInfo, LayerKind};

/// The W6 net of `../shared/WORKLOADS.md`.
type W6<T = f32> = (
    Unflatten2d<784, 1, 28, 28, T>,
    Conv2d<1, 8, 3, 1, 1, 28, 28, 28, 28, ReLU, T>,
    MaxPool2d<8, 2, 28, 28, 14, 14, T>,
    Conv2d<8, 16, 3, 1, 1, 14, 14, 14, 14, ReLU, T>,
    MaxPool2d<16, 2, 14, 14, 7, 7, T>,
    Flatten2d<16, 7, 7, 784, T>,
    Dense<784, 10, Identity, T>,
);

/// A 1-d net with every other kind of layer: strided "valid" and "same"
/// convolutions, both 1-d pools, a global average pool and a nested tuple.
type Seq<T = f32> = (
    Unflatten1d<48, 3, 16, T>,
    (Conv1d<3, 6, 5, 1, 2, 16, 16, Tanh, T>, MaxPool1d<6, 2, 16, 8, T>),
    Conv1d<6, 8, 3, 2, 0, 8, 3, SiLU, T>,
    AvgPool1d<8, 3, 3, 1, T>,
    Flatten1d<8, 1, 8, T>,
    Dense<8, 4, Identity, T>,
);

/// A 2-d net with the average pools and the global one.
type Img<T = f32> = (
    Unflatten2d<72, 2, 6, 6, T>,
    Conv2d<2, 4, 3, 1, 0, 6, 6, 4, 4, Sigmoid, T>,
    AvgPool2d<4, 2, 4, 4, 2, 2, T>,
    GlobalAvgPool2d<4, 2, 2, T>,
    Flatten2d<4, 1, 1, 4, T>,
    Dense<4, 3, Identity, T>,
);

/// A convolution's parameters, PyTorch's count: `CO·CI·K^d` weights and
/// `CO` biases (`d` = 1 or 2 dimensions).
fn conv_params(ci: usize, co: usize, k: usize, dims: u32) -> usize {
    co * ci * k.pow(dims) + co
}

/// A convolution's or a `Dense` layer's tape: input, pre-activation and
/// output, as scalars.
fn tape_scalars(input: usize, output: usize) -> usize {
    input + 2 * output
}

#[test]
fn sizes_are_the_sums_of_the_layers() {
    // W6: two convolutions and the Dense layer have parameters.
    let w6_params = conv_params(1, 8, 3, 2) + conv_params(8, 16, 3, 2) + (784 * 10 + 10);
    assert_eq!(W6::<f32>::PARAMS, w6_params);
    assert_eq!(W6::<f64>::PARAMS, w6_params);
    // Reshapes, pools and activations take no bytes: the model is its parameters.
    assert_eq!(W6::<f32>::BYTES, 4 * w6_params);
    assert_eq!(W6::<f64>::BYTES, 8 * w6_params);
    // The tape: each convolution's and the Dense layer's input,
    // pre-activation and output; each max pool's winners (one u32 per
    // output); nothing for reshapes.
    let w6_tape = 4 * tape_scalars(28 * 28, 8 * 28 * 28)
        + 4 * (8 * 14 * 14)
        + 4 * tape_scalars(8 * 14 * 14, 16 * 14 * 14)
        + 4 * (16 * 7 * 7)
        + 4 * tape_scalars(784, 10);
    assert_eq!(W6::<f32>::TAPE_BYTES, w6_tape);

    let seq_params = conv_params(3, 6, 5, 1) + conv_params(6, 8, 3, 1) + (8 * 4 + 4);
    assert_eq!(Seq::<f32>::PARAMS, seq_params);
    assert_eq!(Seq::<f32>::BYTES, 4 * seq_params);
    assert_eq!(Seq::<f64>::BYTES, 8 * seq_params);
    // Average pools keep nothing on the tape.
    let seq_tape = 4 * tape_scalars(3 * 16, 6 * 16)
        + 4 * (6 * 8)
        + 4 * tape_scalars(6 * 8, 8 * 3)
        + 4 * tape_scalars(8, 4);
    assert_eq!(Seq::<f32>::TAPE_BYTES, seq_tape);

    let img_params = conv_params(2, 4, 3, 2) + (4 * 3 + 3);
    assert_eq!(Img::<f32>::PARAMS, img_params);
    assert_eq!(Img::<f64>::BYTES, 8 * img_params);
    assert_eq!(Img::<f32>::TAPE_BYTES, 4 * tape_scalars(2 * 6 * 6, 4 * 4 * 4) + 4 * tape_scalars(4, 3));
    assert_eq!(Img::<f64>::TAPE_BYTES, 8 * tape_scalars(2 * 6 * 6, 4 * 4 * 4) + 8 * tape_scalars(4, 3));

    // The parameters the layer descriptions count add up to the same.
    assert_eq!(described_params::<W6>(), w6_params);
    assert_eq!(described_params::<Seq>(), seq_params);
    assert_eq!(described_params::<Img>(), img_params);
    // A boxed model is a pointer.
    assert_eq!(<Box<W6>>::BYTES, std::mem::size_of::<usize>());
}

/// The weights and biases of every layer, as `for_each_layer` describes them.
fn described_params<M: Architecture>() -> usize {
    let mut counted = 0;
    M::for_each_layer(&mut |layer: LayerInfo| counted += layer.weights() + layer.biases());
    counted
}

/// Every layer of a net as `(kind, inputs, outputs, activation)`.
fn layers<M: Architecture>() -> Vec<(LayerKind, usize, usize, &'static str)> {
    let mut layers = Vec::new();
    M::for_each_layer(&mut |layer| layers.push((layer.kind, layer.inputs, layer.outputs, layer.activation)));
    layers
}

#[test]
fn for_each_layer_lists_every_layer_in_order() {
    use LayerKind as K;
    assert_eq!(W6::<f32>::LAYERS, 7);
    assert_eq!(
        layers::<W6>(),
        [
            (K::Unflatten2d { channels: 1, height: 28, width: 28 }, 784, 784, "Identity"),
            (
                K::Conv2d {
                    in_channels: 1,
                    out_channels: 8,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                    height: 28,
                    width: 28
                },
                784,
                8 * 28 * 28,
                "ReLU"
            ),
            (
                K::MaxPool2d { channels: 8, kernel: 2, height: 28, width: 28 },
                8 * 28 * 28,
                8 * 14 * 14,
                "Identity"
            ),
            (
                K::Conv2d {
                    in_channels: 8,
                    out_channels: 16,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                    height: 14,
                    width: 14
                },
                8 * 14 * 14,
                16 * 14 * 14,
                "ReLU"
            ),
            (
                K::MaxPool2d { channels: 16, kernel: 2, height: 14, width: 14 },
                16 * 14 * 14,
                16 * 7 * 7,
                "Identity"
            ),
            (K::Flatten2d { channels: 16, height: 7, width: 7 }, 784, 784, "Identity"),
            (K::Dense, 784, 10, "Identity"),
        ]
    );

    // The nested tuple is flattened.
    assert_eq!(Seq::<f64>::LAYERS, 7);
    assert_eq!(
        layers::<Seq<f64>>(),
        [
            (K::Unflatten1d { channels: 3, length: 16 }, 48, 48, "Identity"),
            (
                K::Conv1d { in_channels: 3, out_channels: 6, kernel: 5, stride: 1, padding: 2, length: 16 },
                48,
                96,
                "Tanh"
            ),
            (K::MaxPool1d { channels: 6, kernel: 2, length: 16 }, 96, 48, "Identity"),
            (
                K::Conv1d { in_channels: 6, out_channels: 8, kernel: 3, stride: 2, padding: 0, length: 8 },
                48,
                24,
                "SiLU"
            ),
            (K::AvgPool1d { channels: 8, kernel: 3, length: 3 }, 24, 8, "Identity"),
            (K::Flatten1d { channels: 8, length: 1 }, 8, 8, "Identity"),
            (K::Dense, 8, 4, "Identity"),
        ]
    );

    assert_eq!(
        layers::<Img>(),
        [
            (K::Unflatten2d { channels: 2, height: 6, width: 6 }, 72, 72, "Identity"),
            (
                K::Conv2d {
                    in_channels: 2,
                    out_channels: 4,
                    kernel: 3,
                    stride: 1,
                    padding: 0,
                    height: 6,
                    width: 6
                },
                72,
                64,
                "Sigmoid"
            ),
            (K::AvgPool2d { channels: 4, kernel: 2, height: 4, width: 4 }, 64, 16, "Identity"),
            (K::GlobalAvgPool2d { channels: 4, height: 2, width: 2 }, 16, 4, "Identity"),
            (K::Flatten2d { channels: 4, height: 1, width: 1 }, 4, 4, "Identity"),
            (K::Dense, 4, 3, "Identity"),
        ]
    );

    // Only the convolutions and the Dense layer own parameter tensors, and
    // they own them in `Params::visit` order: weights, then bias.
    let mut shapes = Vec::new();
    W6::<f32>::for_each_layer(&mut |layer| {
        if layer.has_params() {
            let (dims, rank) = layer.weight_shape();
            shapes.push((dims[..rank].to_vec(), layer.biases()));
        }
    });
    let mut tensors = Vec::new();
    W6::<f32>::zeroed().for_each_tensor(|t| tensors.push(t.len()));
    assert_eq!(shapes, [(vec![8, 1, 3, 3], 8), (vec![16, 8, 3, 3], 16), (vec![10, 784], 10)]);
    assert_eq!(tensors, [8 * 9, 8, 16 * 8 * 9, 16, 7840, 10]);
}

/// Runs `f` on a thread with a stack of `mib` MiB and waits for it.
fn on_stack(mib: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(mib << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread panicked");
}

/// The bits of every parameter, in `Params::visit` order.
fn bits<M: Params<Scalar = f32>>(model: &M) -> Vec<u32> {
    let mut bits = Vec::new();
    model.for_each_tensor(|t| bits.extend(t.iter().map(|v| v.to_bits())));
    bits
}

/// `n` images of 28x28 with values in [0, 1) and labels 0..10.
fn digits(n: usize) -> (Vec<[f32; 784]>, Vec<usize>) {
    let inputs = (0..n).map(|k| core::array::from_fn(|i| ((i * 7 + k * 13) % 17) as f32 / 17.0)).collect();
    (inputs, (0..n).map(|k| k % 10).collect())
}

#[test]
fn a_boxed_w6_net_is_made_and_run_on_a_two_mebibyte_stack() {
    on_stack(2, || {
        let net: Box<W6> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(6));
        // Made in place, with the draws of the same net made by value.
        let by_value: W6 = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(6));
        assert_eq!(bits(&net), bits(&by_value));
        let grads = Box::<W6>::zeroed();
        assert!(bits(&grads).iter().all(|&b| b == 0));
        let adam = Adam::<Box<W6>>::new(1e-3);
        let (inputs, _) = digits(4);
        let y = net.forward(&inputs[0]);
        assert!(y.iter().all(|v| v.is_finite()));
        // Batch inference is the per-sample forward pass (to rounding: the
        // batched path may use a matrix product).
        let outputs = net.predict(&inputs);
        for (got, want) in outputs[0].iter().zip(y) {
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{got} vs {want}");
        }
        drop((net, by_value, grads, adam));
    });
}

/// The per-sample path keeps a sample's tensors and tape on the stack. W6's
/// tape is 95 KiB (`TAPE_BYTES`), and a training step of one sample was
/// measured to need 3.0 MiB of stack in a debug build and 1.05 MiB in
/// release (`forward_tape` 2.0 and 0.62 MiB, `forward` 0.84 and 0.46 MiB) on
/// x86-64 with AVX2: more than a 2 MiB test thread in debug, so the tests
/// that train W6 run on an 8 MiB thread.
const TRAINING_STACK_MIB: usize = 8;

#[test]
fn a_boxed_w6_net_trains() {
    on_stack(TRAINING_STACK_MIB, || {
        let mut net: Box<W6> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(6));
        let (inputs, labels) = digits(16);
        let mut grads = Box::<W6>::zeroed();
        let mut adam = Adam::<Box<W6>>::new(1e-3);
        let mut losses = Vec::new();
        for _ in 0..3 {
            let loss = net
                .train_step(
                    &inputs[..4],
                    &labels[..4],
                    &SoftmaxCrossEntropy,
                    &mut adam,
                    &mut grads,
                    Clip::None,
                )
                .unwrap();
            losses.push(loss);
        }
        assert!(losses[2] < losses[0], "training lowers the loss: {losses:?}");

        let options = FitOptions { epochs: 2, batch_size: 8, ..Default::default() };
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
        let history = net.fit(&inputs, &labels, &SoftmaxCrossEntropy, &mut adam, options, &mut rng).unwrap();
        assert_eq!(history.epochs.len(), 2);
        assert!(net.evaluate(&inputs, &labels, &SoftmaxCrossEntropy).unwrap().is_finite());
    });
}

/// From `seed`: a W6 net trained for two shuffled epochs of Adam on 12
/// images (per sample, batches of 4), then its losses and bits.
fn train_w6(seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net: Box<W6> = Model::init(&mut rng);
    let mut grads = Box::<W6>::zeroed();
    let mut adam = Adam::<Box<W6>>::new(1e-3);
    let (mut inputs, mut labels) = digits(12);
    let mut losses = Vec::new();
    for _ in 0..2 {
        backprop::train::shuffle_together(&mut inputs, &mut labels, &mut rng).unwrap();
        let loss = net
            .train_epoch(&inputs, &labels, &SoftmaxCrossEntropy, &mut adam, &mut grads, 4, Clip::Norm(1.0))
            .unwrap();
        losses.push(loss.to_bits());
    }
    (losses, bits(&*net))
}

#[test]
fn the_same_seed_gives_the_same_bits() {
    on_stack(TRAINING_STACK_MIB, || {
        let (losses, weights) = train_w6(11);
        assert_eq!(train_w6(11), (losses.clone(), weights.clone()), "a second run from the same seed");
        // The seed matters (so that the comparison above could fail).
        let (other_losses, other_weights) = train_w6(12);
        assert_ne!(other_weights, weights);
        assert_ne!(other_losses, losses);
        // And training changed the weights.
        let initial: Box<W6> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(11));
        assert_ne!(bits(&*initial), weights);
    });
}

/// Three steps of `train_step` against the same steps written with the
/// public passes, as a microcontroller runs them: zero the gradients, add
/// every sample's backward pass, scale by 1/B, step.
fn train_step_is_zeroing_and_adding<M, const IN: usize, const N: usize>(seed: u64)
where
    M: Model<Input = [f32; IN], Output = [f32; N], Scalar = f32> + Clone,
{
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let start = M::init(&mut rng);
    let inputs: Vec<[f32; IN]> =
        (0..5).map(|k| core::array::from_fn(|i| (((i * 29 + k * 11) % 23) as f32 / 11.5) - 1.0)).collect();
    let labels: Vec<usize> = (0..5).map(|k| (k * 7) % N).collect();

    let mut stepped = start.clone();
    let mut grads = M::zeroed();
    let mut sgd = Sgd::new(0.05).momentum(0.9);
    for _ in 0..3 {
        stepped.train_step(&inputs, &labels, &SoftmaxCrossEntropy, &mut sgd, &mut grads, Clip::None).unwrap();
    }

    let mut by_hand = start.clone();
    let mut grads = M::zeroed();
    let mut sgd = Sgd::new(0.05).momentum(0.9);
    for _ in 0..3 {
        grads.fill_zero();
        for (x, &label) in inputs.iter().zip(&labels) {
            let (y, tape) = by_hand.forward_tape(x);
            by_hand.backward_params(&tape, &SoftmaxCrossEntropy.gradient(&y, &label), &mut grads);
        }
        grads.scale(1.0 / inputs.len() as f32);
        sgd.step(&mut by_hand, &grads);
    }
    assert_ne!(bits(&stepped), bits(&start), "the steps moved the weights");
    assert_eq!(bits(&stepped), bits(&by_hand), "train_step and the step by hand differ");
}

#[test]
fn a_training_step_gives_the_bits_of_zeroing_and_adding() {
    train_step_is_zeroing_and_adding::<Seq, 48, 4>(1);
    train_step_is_zeroing_and_adding::<Img, 72, 3>(2);
    on_stack(TRAINING_STACK_MIB, || train_step_is_zeroing_and_adding::<Box<W6>, 784, 10>(3));
}
