//! Safetensors weights loaded into a model whose parameters they may not fit: other names,
//! shapes or element types. Loading must give an error and leave the model as it was, or
//! give the model the file's values; never panic.
//!
//! Each input is used twice: as the bytes of a file, and as a recipe for a well-formed file
//! (tensors with names, element types and shapes drawn from the input), whose outcome is
//! known in advance and checked.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tapegrad_autograd::{tensor, Tape, Tensor};
use tapegrad_nn::io::load_weights_partial;
use tapegrad_nn::layer::{Dense, Relu, Sequential};
use tapegrad_nn::model::Model;
use tapegrad_nn::Module;

use super::scratch_file;

/// The model under test: 3 -> 4 -> 2, parameters `layer0.weight` `[3, 4]`, `layer0.bias`
/// `[4]`, `layer2.weight` `[4, 2]`, `layer2.bias` `[2]`.
fn small_model<T: tapegrad_autograd::Real>() -> Sequential<T> {
    Sequential::new()
        .add(Dense::new(3, 4, 0))
        .add(Relu)
        .add(Dense::new(4, 2, 1))
}

/// Names a recipe picks from: the model's, and near misses.
const NAMES: [&str; 8] = [
    "layer0.weight",
    "layer0.bias",
    "layer2.weight",
    "layer2.bias",
    "layer1.weight",
    "layer0.weight.extra",
    "",
    "layer2.Bias",
];

/// Element types a recipe picks from, with their sizes; the first two load.
const DTYPES: [(&str, usize); 6] = [
    ("F32", 4),
    ("F64", 8),
    ("F16", 2),
    ("BF16", 2),
    ("I64", 8),
    ("BOOL", 1),
];

/// One tensor of a recipe.
struct Entry {
    name: &'static str,
    dtype: usize,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Entry {
    /// The values as the model's element type would hold them, if the type loads.
    fn values(&self) -> Option<Vec<f32>> {
        match DTYPES[self.dtype].0 {
            "F32" => Some(
                self.bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            "F64" => Some(
                self.bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Reads a recipe byte by byte; zeros once the input is used up.
struct Dice<'a> {
    data: &'a [u8],
    at: usize,
}

impl Dice<'_> {
    fn next(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
}

/// The tensors a recipe describes, names unique, and whether to add metadata.
fn recipe(data: &[u8]) -> (Vec<Entry>, bool) {
    let model = small_model::<f32>();
    let mut dice = Dice { data, at: 0 };
    let first = dice.next();
    let mut entries: Vec<Entry> = Vec::new();
    for _ in 0..first % 6 {
        let name = NAMES[usize::from(dice.next()) % NAMES.len()];
        // Mostly the types that load, so that most files get as far as the shape checks.
        let dtype = match dice.next() % 12 {
            0..=5 => 0,
            6..=7 => 1,
            k => usize::from(k) - 6,
        };
        let pick = dice.next();
        let shape = match model.param(name) {
            Some(p) if !pick.is_multiple_of(4) => p.shape().to_vec(),
            _ => (0..(pick / 4) % 4)
                .map(|_| usize::from(dice.next() % 6))
                .collect(),
        };
        let len = shape.iter().product::<usize>() * DTYPES[dtype].1;
        let bytes = (0..len).map(|_| dice.next()).collect();
        if entries.iter().all(|e| e.name != name) {
            entries.push(Entry {
                name,
                dtype,
                shape,
                bytes,
            });
        }
    }
    (entries, first & 0x80 != 0)
}

/// A safetensors file: the header's length (8 bytes, little-endian), the JSON header, the
/// tensors' bytes back to back.
fn safetensors_file(entries: &[Entry], metadata: bool) -> Vec<u8> {
    let mut header = String::from("{");
    if metadata {
        header.push_str(r#""__metadata__":{"format":"pt"},"#);
    }
    let mut offset = 0;
    for e in entries {
        let shape: Vec<String> = e.shape.iter().map(usize::to_string).collect();
        let end = offset + e.bytes.len();
        let _ = write!(
            header,
            r#""{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{offset},{end}]}},"#,
            e.name,
            DTYPES[e.dtype].0,
            shape.join(",")
        );
        offset = end;
    }
    if header.ends_with(',') {
        header.pop();
    }
    header.push('}');
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    for e in entries {
        file.extend_from_slice(&e.bytes);
    }
    file
}

/// Equal as loaded values: the same bits, or both NaN (a conversion may change a NaN's
/// payload).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The file's bytes, and the file a recipe makes of them, loaded into the model.
pub fn weights(data: &[u8]) {
    let path = scratch_file("weights");
    if std::fs::write(&path, data).is_ok() {
        any_file(&path);
    }
    let (entries, metadata) = recipe(data);
    if std::fs::write(&path, safetensors_file(&entries, metadata)).is_ok() {
        known_file(&path, &entries);
    }
    let _ = std::fs::remove_file(&path);
}

/// Whatever the file holds: an error leaves the model unchanged, success keeps every
/// parameter's shape, and the model still runs.
fn any_file(path: &std::path::Path) {
    let mut model = Model::new(small_model::<f32>());
    let before = model.module().state_dict();
    match model.load_weights(path) {
        Ok(()) => runs(model.module()),
        Err(_) => assert_eq!(model.module().state_dict(), before),
    }
    let mut module = small_model::<f64>();
    let before = module.named_shapes();
    if load_weights_partial(&mut module, path).is_ok() {
        assert_eq!(module.named_shapes(), before);
        runs(&module);
    }
}

/// A file whose tensors are known: loading succeeds exactly when it holds every parameter,
/// nothing else, each in its shape and in a type that loads, and then the parameters hold
/// the file's values; loading what fits loads exactly those.
fn known_file(path: &std::path::Path, entries: &[Entry]) {
    let fits = |p: &tapegrad_autograd::Param<f32>| {
        entries
            .iter()
            .find(|e| e.name == p.name() && e.shape == p.shape() && e.values().is_some())
    };
    let mut model = Model::new(small_model::<f32>());
    let before = model.module().state_dict();
    let expect_ok = {
        let params = model.module().params();
        entries.len() == params.len() && params.iter().all(|p| fits(p).is_some())
    };
    match model.load_weights(path) {
        Ok(()) => {
            assert!(expect_ok, "a file that does not fit the model was loaded");
            for p in model.module().params() {
                let want = fits(p).and_then(Entry::values).expect("checked above");
                let got: Vec<f32> = p.value().iter().copied().collect();
                assert!(
                    got.len() == want.len() && got.iter().zip(&want).all(|(&a, &b)| same(a, b)),
                    "{}: loaded {got:?}, the file holds {want:?}",
                    p.name()
                );
            }
            runs(model.module());
        }
        Err(e) => {
            assert!(!expect_ok, "a file that fits the model was refused: {e}");
            assert_eq!(model.module().state_dict(), before);
        }
    }

    let mut module = small_model::<f32>();
    let params = small_model::<f32>();
    let params = params.params();
    let loaded: Vec<String> = params
        .iter()
        .filter(|p| fits(p).is_some())
        .map(|p| p.name().to_string())
        .collect();
    let missing: Vec<String> = params
        .iter()
        .filter(|p| entries.iter().all(|e| e.name != p.name()))
        .map(|p| p.name().to_string())
        .collect();
    let unused: BTreeSet<String> = entries
        .iter()
        .map(|e| e.name.to_string())
        .filter(|n| !loaded.contains(n))
        .collect();
    let report = load_weights_partial(&mut module, path)
        .unwrap_or_else(|e| panic!("a well-formed file was refused: {e}"));
    assert_eq!(report.loaded, loaded);
    assert_eq!(report.missing, missing);
    assert_eq!(report.unused.into_iter().collect::<BTreeSet<_>>(), unused);
    runs(&module);
}

/// A forward pass on a batch of two: the parameters still fit together.
fn runs<T: tapegrad_autograd::Real, M: Module<T>>(module: &M) {
    let tape = Tape::new();
    let x: Tensor<T> = tensor(&[2, 3], vec![T::from(0.5).expect("0.5 fits"); 6]);
    assert_eq!(module.forward(tape.constant(x)).shape(), vec![2, 2]);
}
