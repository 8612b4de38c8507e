//! What the examples share: loading the CSV data sets in `data/` (each line
//! through `backprop::samples::parse_labelled_row`), random numbers from the
//! crate's re-exported `backprop::rand`, and (in [`plot`]) drawing their
//! pictures.
//!
//! Shared by the examples (and the `fit` bench) through `mod common;` (with a
//! `#[path]` from `benches/`). Cargo only builds `examples/*.rs` and
//! `examples/*/main.rs` as examples, so this directory is not one.
//!
//! The files are described in `data/DATA.md`: a header line, then one sample
//! per line, `F` numeric features followed by an integer class. A split is a
//! text file of 0-based data-row indices (the header is not counted), one per
//! line.

// Each user of this module needs only part of it.
#![allow(dead_code)]

use backprop::rand::Rng;
use backprop::samples;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

pub mod plot;

/// The crate's `data/` directory, wherever the example is run from.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// A labelled data set: `F` features and a class index per sample.
#[derive(Clone, Debug)]
pub struct Dataset<const F: usize> {
    /// One feature vector per sample.
    pub features: Vec<[f32; F]>,
    /// The class index of every sample.
    pub labels: Vec<usize>,
}

impl<const F: usize> Dataset<F> {
    /// Reads a CSV file with a header line and `F + 1` columns per row: `F`
    /// features, then the class. Each row goes through
    /// `backprop::samples::parse_labelled_row`, whose errors name the row
    /// (counted from 0 after the header, as in the split files) and the
    /// column; the line number is added for an editor.
    pub fn load_csv(path: &Path) -> Result<Self, Box<dyn Error>> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let header = text.lines().next().ok_or_else(|| format!("{}: empty file", path.display()))?;
        let columns = header.split(',').count();
        if columns != F + 1 {
            return Err(
                format!("{}: header has {columns} columns, expected {}", path.display(), F + 1).into()
            );
        }

        let (mut features, mut labels) = (Vec::new(), Vec::new());
        let data_lines = text.lines().enumerate().skip(1).filter(|(_, line)| !line.trim().is_empty());
        for (row, (index, line)) in data_lines.enumerate() {
            // Line numbers as an editor shows them: the header is line 1.
            let (x, label) = samples::parse_labelled_row::<f32, F>(line, row)
                .map_err(|e| format!("{}: {e} (line {})", path.display(), index + 1))?;
            features.push(x);
            labels.push(label);
        }
        Ok(Self { features, labels })
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self, Box<dyn Error>> {
        let mut out = Self { features: Vec::with_capacity(indices.len()), labels: Vec::new() };
        for &i in indices {
            if i >= self.len() {
                return Err(
                    format!("row index {i} is out of range: the data set has {} rows", self.len()).into()
                );
            }
            out.features.push(self.features[i]);
            out.labels.push(self.labels[i]);
        }
        Ok(out)
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of classes: one more than the largest label.
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&c| c + 1)
    }
}

/// Reads a split file: one 0-based row index per line.
pub fn load_indices(path: &Path) -> Result<Vec<usize>, Box<dyn Error>> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            line.trim()
                .parse()
                .map_err(|e| format!("{}:{}: {line:?}: {e}", path.display(), number + 1).into())
        })
        .collect()
}

/// A data set split into the fixed training and test parts of `data/`:
/// `{name}.csv` with `{name}_train_idx.txt` and `{name}_test_idx.txt`.
pub fn load_split<const F: usize>(name: &str) -> Result<(Dataset<F>, Dataset<F>), Box<dyn Error>> {
    let dir = data_dir();
    let all = Dataset::<F>::load_csv(&dir.join(format!("{name}.csv")))?;
    let train = all.select(&load_indices(&dir.join(format!("{name}_train_idx.txt")))?)?;
    let test = all.select(&load_indices(&dir.join(format!("{name}_test_idx.txt")))?)?;
    Ok((train, test))
}

/// Splits off every `k`-th sample of each class (in the order given) as a
/// validation set; the rest stay for training. Taking it per class keeps the
/// class proportions of the original.
pub fn split_validation<const F: usize>(data: &Dataset<F>, k: usize) -> (Dataset<F>, Dataset<F>) {
    let mut seen = vec![0usize; data.classes()];
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for (i, &label) in data.labels.iter().enumerate() {
        seen[label] += 1;
        if seen[label] % k == 0 {
            validation.push(i);
        } else {
            train.push(i);
        }
    }
    // The indices come from `data` itself, so they are in range.
    let pick = |indices: &[usize]| Dataset {
        features: indices.iter().map(|&i| data.features[i]).collect(),
        labels: indices.iter().map(|&i| data.labels[i]).collect(),
    };
    (pick(&train), pick(&validation))
}

/// Per-feature standardisation `x' = (x - mean) / std`, with the mean and the
/// (population) standard deviation measured on one data set (the training
/// split) and then applied unchanged to every other. A feature that is
/// constant there (`std = 0`, as some border pixels of the digits) is only
/// centred.
#[derive(Clone, Copy, Debug)]
pub struct Standardiser<const F: usize> {
    /// The mean of every feature.
    pub mean: [f32; F],
    /// The standard deviation of every feature (1 where it was 0).
    pub std: [f32; F],
}

impl<const F: usize> Standardiser<F> {
    /// Measures the mean and standard deviation of every feature.
    pub fn fit(samples: &[[f32; F]]) -> Self {
        let n = samples.len().max(1) as f64;
        let mut mean = [0.0_f64; F];
        for x in samples {
            for (m, &v) in mean.iter_mut().zip(x) {
                *m += f64::from(v) / n;
            }
        }
        let mut variance = [0.0_f64; F];
        for x in samples {
            for ((s, &m), &v) in variance.iter_mut().zip(&mean).zip(x) {
                *s += (f64::from(v) - m).powi(2) / n;
            }
        }
        Self {
            mean: mean.map(|m| m as f32),
            std: variance.map(|s| if s > 0.0 { s.sqrt() as f32 } else { 1.0 }),
        }
    }

    /// Standardises every sample in place.
    pub fn apply(&self, samples: &mut [[f32; F]]) {
        for x in samples {
            for ((v, &m), &s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }
}

/// A uniform random number in `[0, 1)`, from the generator's top 53 bits.
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal random number, by the Box–Muller transform.
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u = 1.0 - uniform(rng); // in (0, 1]: its logarithm is finite
    let v = uniform(rng);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}
