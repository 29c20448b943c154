//! Weights written by tapegrad read back by the `safetensors` crate's own parser, and the
//! errors of files that do not fit.

use safetensors::{Dtype, SafeTensors};
use tapegrad_nn::autograd::{tensor, Tensor};
use tapegrad_nn::error::WeightsError;
use tapegrad_nn::io::{load_weights, load_weights_partial, save_weights};
use tapegrad_nn::layer::{Conv2d, Flatten, Linear, Relu, Sequential};
use tapegrad_nn::Module;

fn model(seed: u64) -> Sequential<f32> {
    Sequential::new()
        .add(Conv2d::new(1, 2, 3, seed))
        .add(Relu)
        .add(Flatten)
        .add(Linear::new(8, 3, seed + 1))
        .add(Linear::no_bias(3, 2, seed + 2))
}

fn le_f32(t: &Tensor<f32>) -> Vec<u8> {
    t.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn the_safetensors_crate_reads_back_identical_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let m = model(3);
    save_weights(&m, &path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "layer0.bias",
            "layer0.weight",
            "layer3.bias",
            "layer3.weight",
            "layer4.weight"
        ]
    );
    for p in m.params() {
        let view = st.tensor(p.name()).unwrap();
        assert_eq!(view.dtype(), Dtype::F32, "{}", p.name());
        assert_eq!(view.shape(), p.shape(), "{}", p.name());
        assert_eq!(view.data(), le_f32(p.value()).as_slice(), "{}", p.name());
    }
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        meta.metadata()
            .as_ref()
            .unwrap()
            .get("format")
            .map(String::as_str),
        Some("pt")
    );

    let mut other = model(100);
    assert_ne!(other.state_dict(), m.state_dict());
    load_weights(&mut other, &path).unwrap();
    assert_eq!(other.state_dict(), m.state_dict());
}

#[test]
fn a_file_written_by_the_safetensors_crate_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("external.safetensors");
    // As PyTorch would write it, but in f64: it loads into an f32 model by conversion.
    let w: Vec<f64> = (0..6).map(|i| i as f64 * 0.25).collect();
    let b: Vec<f64> = vec![0.5, -0.5];
    let wb: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let bb: Vec<u8> = b.iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        (
            "layer0.weight",
            safetensors::tensor::TensorView::new(Dtype::F64, vec![3, 2], &wb).unwrap(),
        ),
        (
            "layer0.bias",
            safetensors::tensor::TensorView::new(Dtype::F64, vec![2], &bb).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(views, None, &path).unwrap();
    let mut m = Sequential::<f32>::new().add(Linear::new(3, 2, 0));
    load_weights(&mut m, &path).unwrap();
    assert_eq!(
        m.param("layer0.weight").unwrap().value(),
        &tensor(&[3, 2], vec![0.0f32, 0.25, 0.5, 0.75, 1.0, 1.25])
    );
}

#[test]
fn a_model_that_does_not_fit_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.safetensors");
    save_weights(&Sequential::<f32>::new().add(Linear::new(4, 3, 0)), &path).unwrap();

    let mut wider = Sequential::<f32>::new()
        .add(Linear::new(4, 5, 1))
        .add(Linear::new(5, 2, 2));
    let before = wider.state_dict();
    let err = load_weights(&mut wider, &path).unwrap_err();
    let WeightsError::Mismatch {
        missing, shapes, ..
    } = &err
    else {
        panic!("expected a mismatch, got {err}");
    };
    assert_eq!(missing, &["layer1.weight", "layer1.bias"]);
    assert_eq!(shapes.len(), 2);
    let text = err.to_string();
    assert!(text.contains("'layer1.weight'"), "{text}");
    assert!(
        text.contains("'layer0.weight' has shape [4, 3] in the file but [4, 5] in the model"),
        "{text}"
    );
    assert!(text.contains("Nothing was loaded"), "{text}");
    assert_eq!(wider.state_dict(), before);

    // The partial form takes what fits.
    let mut same_first = Sequential::<f32>::new()
        .add(Linear::new(4, 3, 5))
        .add(Linear::new(3, 2, 6));
    let report = load_weights_partial(&mut same_first, &path).unwrap();
    assert_eq!(report.loaded, ["layer0.weight", "layer0.bias"]);
    assert_eq!(report.missing, ["layer1.weight", "layer1.bias"]);
}

#[test]
fn missing_and_damaged_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = model(0);
    let err = load_weights(&mut m, dir.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err}");
    assert!(err.to_string().contains("absent.safetensors"));

    let path = dir.path().join("cut.safetensors");
    save_weights(&m, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = load_weights(&mut m, &path).unwrap_err();
    assert!(matches!(err, WeightsError::Format { .. }), "{err}");
    assert!(err.to_string().contains("not a valid safetensors file"));
}

#[test]
fn saving_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    for seed in 0..3 {
        save_weights(&model(seed), &path).unwrap();
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}
