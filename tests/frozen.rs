//! `Frozen`: batch inference with the dense layers' weights kept
//! transposed. Its outputs are `Workspace::forward`'s, bit for bit (the
//! products add the same terms in the same order from differently packed
//! memory), and the per-sample path's to rounding, for batches that run
//! row by row and batches that run as matrix products, in `f32` and `f64`,
//! for dense nets and a net with a convolution in front.

use backprop::prelude::*;

mod synthetic;
use synthetic::data;

/// The W3 net of `benches/mnist.rs`: 784 → 128 (ReLU) → 64 (ReLU) → 10.
type W3 = (Dense<784, 128, ReLU>, Dense<128, 64, ReLU>, Dense<64, 10, Identity>);

/// Every layer a matrix product from a few rows on.
type Wide = (Dense<96, 64, Tanh, f64>, Dense<64, 48, Gelu, f64>, Dense<48, 5, Identity, f64>);

/// A lowered convolution in front of a dense layer.
type ConvNet = (
    Unflatten2d<162, 2, 9, 9, f64>,
    Conv2d<2, 6, 3, 1, 1, 9, 9, 9, 9, Tanh, f64>,
    Flatten2d<6, 9, 9, 486, f64>,
    Dense<486, 7, Sigmoid, f64>,
);

/// Batch sizes below, at and above the dense layers' product thresholds and
/// `predict`'s block.
const ROWS: [usize; 7] = [1, 2, 3, 8, 64, 256, 300];

fn bits<T: Float, const N: usize>(rows: &[[T; N]]) -> Vec<u64> {
    rows.iter().flatten().map(|v| v.to_f64().unwrap().to_bits()).collect()
}

/// `Frozen::forward` against `Workspace::forward` (same bits) and the
/// per-sample `forward` (within `tolerance`, relative), for every batch
/// size of [`ROWS`], one `Frozen` and one `Workspace` through all of them.
fn check<M, T, const IN: usize, const N: usize>(model: M, tolerance: f64)
where
    M: Model<Input = [T; IN], Output = [T; N], Scalar = T> + Clone,
    T: Float + 'static,
{
    let mut workspace = Workspace::<M>::new();
    let mut frozen = Frozen::new(model.clone());
    for rows in ROWS {
        let inputs: Vec<[T; IN]> = data(rows, rows as u64);
        let want = workspace.forward(&model, &inputs).to_vec();
        let got = frozen.forward(&inputs).to_vec();
        assert_eq!(bits(&got), bits(&want), "{rows} rows: Frozen against Workspace");
        for (k, (x, y)) in inputs.iter().zip(&got).enumerate() {
            let reference = model.forward(x);
            for (o, (&g, &r)) in y.iter().zip(&reference).enumerate() {
                let (g, r) = (g.to_f64().unwrap(), r.to_f64().unwrap());
                assert!(
                    (g - r).abs() <= tolerance * (1.0 + r.abs()),
                    "{rows} rows, row {k}, output {o}: {g} against the per-sample path's {r}"
                );
            }
        }
    }
    let parameters = |m: &M| {
        let mut all = Vec::new();
        m.for_each_tensor(|t| all.extend(t.iter().map(|v| v.to_f64().unwrap().to_bits())));
        all
    };
    assert_eq!(parameters(&frozen.into_inner()), parameters(&model), "into_inner gives the model back");
}

#[test]
fn dense_f32() {
    let net: Box<W3> = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    check(net, 1e-5);
}

#[test]
fn dense_f64() {
    let net: Wide = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    check(net, 1e-12);
}

#[test]
fn convolution_then_dense() {
    let net: ConvNet = Model::init(&mut Xoshiro128PlusPlus::seed_from_u64(5));
    check(net, 1e-12);
}
