//! The fixture files of the PyTorch parity tests (`tests/pytorch_parity.rs`,
//! `tests/conv_parity.rs`): their cases, and the tolerance every value must
//! meet, `|ours - torch| ≤ 1e-9 · |torch| + 1e-12`.

use backprop::prelude::*;
use std::collections::HashMap;

const RELATIVE: f64 = 1e-9;
const ABSOLUTE: f64 = 1e-12;

/// One case of a fixture file: its numeric records by key and its `layers`
/// record (the conv fixtures name their layers; the Dense fixtures do not).
pub struct Case {
    pub name: &'static str,
    #[allow(dead_code)] // read by conv_parity.rs only
    pub layers: Vec<&'static str>,
    records: HashMap<&'static str, Vec<f64>>,
}

impl Case {
    pub fn get(&self, key: &str) -> &[f64] {
        self.records.get(key).unwrap_or_else(|| panic!("{}: no `{key}` record", self.name))
    }
}

/// The case `name` of the fixture file `text`: a case starts with
/// `case NAME` and ends with `end`; each line between is `key value ...`.
pub fn fixture(text: &'static str, name: &'static str) -> Case {
    let mut lines = text.lines().skip_while(|l| *l != format!("case {name}")).skip(1);
    let mut layers = Vec::new();
    let mut records = HashMap::new();
    for line in lines.by_ref().take_while(|l| *l != "end") {
        let mut fields = line.split(' ');
        let key = fields.next().unwrap();
        if key == "layers" {
            layers = fields.collect();
            continue;
        }
        let values =
            fields.map(|v| v.parse::<f64>().unwrap_or_else(|e| panic!("{name}/{key}: {v}: {e}"))).collect();
        records.insert(key, values);
    }
    assert!(!records.is_empty(), "no case `{name}` in the fixture file");
    Case { name, layers, records }
}

pub fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, PyTorch has {}", got.len(), want.len());
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let error = (g - w).abs();
        assert!(
            error <= RELATIVE * w.abs() + ABSOLUTE,
            "{what}[{k}]: ours {g:e}, PyTorch {w:e}, difference {error:e} ({:e} relative)",
            error / w.abs()
        );
    }
}

/// Every parameter of `model` in visiting order (PyTorch's `state_dict` order).
pub fn flat_params<M: Params<Scalar = f64>>(model: &M) -> Vec<f64> {
    let mut all = Vec::new();
    model.for_each_tensor(|p| all.extend_from_slice(p));
    all
}
