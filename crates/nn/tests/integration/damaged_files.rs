//! Loaded weights and checkpoints are verified, not trusted: a file whose bytes changed after
//! it was written is an error naming the file and the damaged tensor, files of other tools
//! load with every tensor checked against the model, and a failed load changes nothing.

use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};
use tapegrad_nn::autograd::random::SplitMix64;
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::error::{CheckpointError, WeightsError};
use tapegrad_nn::io::{load_weights, save_weights};
use tapegrad_nn::layer::{Dense, Linear, Relu, Sequential};
use tapegrad_nn::loss::CategoricalCrossentropy;
use tapegrad_nn::metric::accuracy_metric;
use tapegrad_nn::model::{FitOptions, Model};
use tapegrad_nn::optim::Adam;
use tapegrad_nn::Module;

/// Where each tensor's data lies in the file: name -> byte range.
fn data_ranges(bytes: &[u8]) -> Vec<(String, std::ops::Range<usize>)> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut ranges: Vec<_> = st
        .iter()
        .map(|(name, view)| {
            let start = view.data().as_ptr() as usize - bytes.as_ptr() as usize;
            (name.to_string(), start..start + view.data().len())
        })
        .collect();
    ranges.sort_by_key(|(_, r)| r.start);
    ranges
}

/// A copy of `file` with up to 64 bytes flipped in the middle of `tensor`'s data; the header
/// is left intact.
fn flip_inside(file: &Path, tensor: &str, to: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let (_, range) = data_ranges(&bytes)
        .into_iter()
        .find(|(n, _)| n == tensor)
        .unwrap_or_else(|| panic!("no tensor {tensor}"));
    let len = range.len().min(64);
    let start = range.start + (range.len() - len) / 2;
    for b in &mut bytes[start..start + len] {
        *b ^= 0x5a;
    }
    std::fs::write(to, bytes).unwrap();
}

fn blobs(n: usize) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(8);
    let mut x = Vec::with_capacity(8 * n);
    for i in 0..n {
        for d in 0..8 {
            let centre = if d % 4 == i % 4 { 1.5 } else { 0.0 };
            x.push(centre + rng.next_f64() as f32 - 0.5);
        }
    }
    (tensor(&[n, 8], x), (0..n).map(|i| i % 4).collect())
}

fn classifier(seed: u64) -> Model<f32> {
    let mut m = Model::new(
        Sequential::new()
            .add(Dense::new(8, 32, seed))
            .add(Relu)
            .add(Dense::new(32, 4, seed + 1)),
    );
    m.compile(
        CategoricalCrossentropy::from_logits(),
        Adam::new(0.01),
        vec![accuracy_metric()],
    );
    m
}

#[test]
fn bytes_flipped_inside_any_tensor_of_a_weights_file_are_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    let model = Sequential::<f32>::new()
        .add(Linear::new(16, 32, 0))
        .add(Relu)
        .add(Linear::new(32, 4, 1));
    save_weights(&model, &good).unwrap();
    let names: Vec<String> = data_ranges(&std::fs::read(&good).unwrap())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.len(), 4);
    for name in names {
        let bad = dir.path().join(format!("bad-{name}.safetensors"));
        flip_inside(&good, &name, &bad);
        let mut fresh = Sequential::<f32>::new()
            .add(Linear::new(16, 32, 7))
            .add(Relu)
            .add(Linear::new(32, 4, 8));
        let before = fresh.state_dict();
        let err = load_weights(&mut fresh, &bad).unwrap_err();
        let WeightsError::Damaged { path, tensor } = &err else {
            panic!("{name}: expected a damaged file, got {err}");
        };
        assert_eq!(path, &bad);
        assert_eq!(tensor.as_deref(), Some(name.as_str()));
        let text = err.to_string();
        assert!(
            text.contains(&format!("the data of tensor '{name}'")),
            "{text}"
        );
        assert!(text.contains(&bad.display().to_string()), "{text}");
        assert!(text.contains("Nothing was loaded"), "{text}");
        assert_eq!(fresh.state_dict(), before, "{name}: the model changed");
    }
}

#[test]
fn a_damaged_checkpoint_is_refused_and_the_model_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("run.ckpt");
    let (x, y) = blobs(200);
    let mut trained = classifier(0);
    trained
        .fit(&x, y.clone(), FitOptions::new(5, 20).verbosity(0))
        .unwrap();
    trained.save_checkpoint(&good).unwrap();
    let accuracy = trained
        .evaluate(&x, y.clone(), 50)
        .unwrap()
        .get("accuracy")
        .unwrap();
    assert!(accuracy > 0.95, "{accuracy}");

    let damaged = dir.path().join("damaged.ckpt");
    for name in [
        "model.layer2.weight",
        "model.layer0.bias",
        "optimizer.layer0.weight.exp_avg_sq",
    ] {
        flip_inside(&good, name, &damaged);
        let mut fresh = classifier(9);
        let before = fresh.module().state_dict();
        let err = fresh.load_checkpoint(&damaged).unwrap_err();
        let CheckpointError::Weights(WeightsError::Damaged { tensor, .. }) = &err else {
            panic!("{name}: expected a damaged checkpoint, got {err}");
        };
        assert_eq!(tensor.as_deref(), Some(name));
        assert!(err.to_string().contains("damaged.ckpt"), "{err}");
        assert_eq!(
            fresh.module().state_dict(),
            before,
            "{name}: the model changed"
        );
        assert_eq!(fresh.epoch(), 0);
    }

    // The header is covered too: another epoch count, same length, JSON still valid.
    let mut bytes = std::fs::read(&good).unwrap();
    let key = b"\"epoch\":\"5\"";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("epoch record");
    bytes[at + key.len() - 2] = b'3';
    std::fs::write(&damaged, &bytes).unwrap();
    let err = classifier(9).load_checkpoint(&damaged).unwrap_err();
    assert!(
        matches!(
            &err,
            CheckpointError::Weights(WeightsError::Damaged { tensor: None, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("the header"), "{err}");

    // The intact checkpoint gives back the trained model.
    let mut resumed = classifier(9);
    resumed.load_checkpoint(&good).unwrap();
    let again = resumed
        .evaluate(&x, y, 50)
        .unwrap()
        .get("accuracy")
        .unwrap();
    assert_eq!(again, accuracy);
}

/// Raw little-endian bytes of f32 values.
fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn a_file_without_digests_loads_with_every_tensor_checked_against_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("external.safetensors");
    let w = le(&[0.5, -0.25, 1.0, 2.0, -1.0, 0.0]);
    let b = le(&[0.1, 0.2]);
    let ints = [7u8; 8];
    let write = |tensors: Vec<(&str, TensorView<'_>)>| {
        safetensors::serialize_to_file(tensors, None, &path).unwrap();
    };
    let view = |dtype, shape: Vec<usize>, data| TensorView::new(dtype, shape, data).unwrap();
    let fresh = || Sequential::<f32>::new().add(Linear::new(3, 2, 4));

    // As the safetensors crate (or PyTorch) writes it: no metadata at all.
    write(vec![
        ("layer0.weight", view(Dtype::F32, vec![3, 2], &w)),
        ("layer0.bias", view(Dtype::F32, vec![2], &b)),
    ]);
    let mut m = fresh();
    load_weights(&mut m, &path).unwrap();
    assert_eq!(
        m.param("layer0.weight").unwrap().value(),
        &tensor(&[3, 2], vec![0.5f32, -0.25, 1.0, 2.0, -1.0, 0.0])
    );

    let refused = |what: &str| {
        let mut m = fresh();
        let before = m.state_dict();
        let err = load_weights(&mut m, &path).unwrap_err();
        assert_eq!(m.state_dict(), before, "{what}: the model changed");
        match err {
            WeightsError::Mismatch {
                missing,
                unexpected,
                shapes,
                dtypes,
                ..
            } => (missing, unexpected, shapes, dtypes),
            other => panic!("{what}: expected a mismatch, got {other}"),
        }
    };
    write(vec![("layer0.weight", view(Dtype::F32, vec![3, 2], &w))]);
    assert_eq!(refused("missing").0, ["layer0.bias"]);
    write(vec![
        ("layer0.weight", view(Dtype::F32, vec![3, 2], &w)),
        ("layer0.bias", view(Dtype::F32, vec![2], &b)),
        ("layer1.weight", view(Dtype::F32, vec![2], &b)),
    ]);
    assert_eq!(refused("extra").1, ["layer1.weight"]);
    write(vec![
        ("layer0.weight", view(Dtype::F32, vec![2, 3], &w)),
        ("layer0.bias", view(Dtype::F32, vec![2], &b)),
    ]);
    let shapes = refused("mis-shaped").2;
    assert_eq!(shapes.len(), 1);
    assert_eq!(
        (shapes[0].expected.as_slice(), shapes[0].found.as_slice()),
        (&[3, 2][..], &[2, 3][..])
    );
    write(vec![
        ("layer0.weight", view(Dtype::F32, vec![3, 2], &w)),
        ("layer0.bias", view(Dtype::I32, vec![2], &ints)),
    ]);
    assert_eq!(
        refused("integer").3,
        [("layer0.bias".to_string(), "I32".to_string())]
    );
}

#[test]
fn other_readers_load_the_files_and_can_check_the_digests_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let model = Sequential::<f32>::new().add(Linear::new(5, 3, 2));
    save_weights(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    assert!(meta.contains_key("tapegrad.header_sha256"));
    for (name, view) in st.iter() {
        let hex: String = Sha256::digest(view.data())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            meta.get(&format!("tapegrad.sha256.{name}")),
            Some(&hex),
            "{name}"
        );
    }
}
