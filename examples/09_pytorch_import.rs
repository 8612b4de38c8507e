//! 09 · A network trained in PyTorch, run here unchanged.
//!
//! `tests/pytorch/generate_safetensors.py` built this network in PyTorch,
//!
//! ```python
//! net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
//! safetensors.torch.save_file(net.state_dict(), "pytorch_mlp.safetensors")
//! ```
//!
//! and recorded its outputs for eight inputs. This example loads the file
//! into the same architecture written as a type, prints its predictions next
//! to PyTorch's, and then stores the weights in backprop's own format, whose
//! size is known at compile time, the way a microcontroller build would carry
//! them.
//!
//! ```sh
//! cargo run --example 09_pytorch_import
//! ```
//!
//! It exits with status 1 if an output differs from PyTorch's by more than
//! 1e-5 relative (the differences are rounding: about 1e-7).

use backprop::prelude::*;
use backprop::safetensors::{self, Names};
use backprop::weights;

/// `nn.Sequential(Linear(4, 16), Tanh(), Linear(16, 8), ReLU(), Linear(8, 3))`:
/// the state_dict names are `0.*`, `2.*` and `4.*` (the activations are
/// modules 1 and 3; the last Linear has none).
type Net = (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);

/// The file PyTorch wrote, compiled into the binary.
static PYTORCH_FILE: &[u8] = include_bytes!("../tests/fixtures/pytorch_mlp.safetensors");
/// PyTorch's outputs for the same inputs, from the same script.
static PYTORCH_OUTPUTS: &str = include_str!("../tests/fixtures/pytorch_safetensors.txt");

fn main() -> Result<(), Error> {
    let net: Net = safetensors::read(PYTORCH_FILE, Names::Sequential)?;

    println!("Loaded a PyTorch nn.Sequential from {} bytes of safetensors:", PYTORCH_FILE.len());
    Net::for_each_layer(&mut |layer| println!("  {layer}"));
    println!("{} parameters, architecture fingerprint {:#018x}\n", Net::PARAMS, Net::fingerprint());

    println!("{:>36}   {:>32}   {:>32}   max rel. error", "input", "PyTorch", "backprop");
    let mut worst: f64 = 0.0;
    for line in PYTORCH_OUTPUTS.lines().filter(|l| l.starts_with("mlp_f32 ")) {
        let numbers: Vec<f64> = line.split_whitespace().filter_map(|t| t.parse().ok()).collect();
        let x: [f32; 4] = std::array::from_fn(|i| numbers[i] as f32);
        let pytorch = &numbers[4..7];
        let ours = net.forward(&x);
        let error = ours
            .iter()
            .zip(pytorch)
            .map(|(&y, &p)| if p == 0.0 { f64::from(y).abs() } else { (f64::from(y) - p).abs() / p.abs() })
            .fold(0.0, f64::max);
        worst = worst.max(error);
        println!(
            "{:>36}   {:>32}   {:>32}   {error:.1e}",
            format!("{:+.3?}", x),
            format!("{:+.5?}", pytorch),
            format!("{:+.5?}", ours),
        );
    }
    println!("\nlargest relative difference {worst:.1e} (f32 has 24 bits: 6.0e-8 per rounding)\n");
    if worst.is_nan() || worst > 1e-5 {
        eprintln!("the outputs differ from PyTorch's by more than 1e-5 relative");
        std::process::exit(1);
    }

    // backprop's own format: size fixed by the type, no allocation, checked
    // against the architecture when read.
    const SIZE: usize = weights::size::<Net>();
    let mut flash = [0u8; SIZE];
    weights::write(&net, &mut flash)?;
    let reloaded: Net = weights::read(&flash)?;
    assert_eq!(reloaded, net);
    println!("backprop weights: {SIZE} bytes (36 of header and checksum), read back identical");

    type Wrong = (Dense<4, 16, ReLU>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>);
    match weights::read::<Wrong>(&flash) {
        Err(error) => println!("into a network with a ReLU first layer instead: {error}"),
        Ok(_) => unreachable!("the fingerprint differs"),
    }

    // A model whose layers PyTorch would call fc1, fc2, fc3 names its
    // tensors differently: the error says what the file holds, what the
    // model looked for, and where the names came from.
    match safetensors::read::<Net>(PYTORCH_FILE, Names::Layers(&["fc1", "fc2", "fc3"])) {
        Err(error) => println!("\nread with the names fc1, fc2, fc3: {error}"),
        Ok(_) => unreachable!("the file's names are 0, 2, 4"),
    }
    Ok(())
}
