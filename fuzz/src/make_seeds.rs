//! Writes the starting corpus of each fuzz target: small valid inputs of every kind the
//! loaders accept, so the fuzzer starts from deep inside the formats.
//!
//! ```sh
//! cd fuzz && cargo run --bin make_seeds
//! ```

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use ndarray::{ArrayD, IxDyn};
use tapegrad_autograd::tensor;
use tapegrad_datasets::idx::{encode_idx, IdxData};
use tapegrad_nn::checkpoint::Checkpoint;
use tapegrad_nn::history::History;
use tapegrad_nn::layer::{Linear, Sequential};
use tapegrad_nn::optim::{Adam, Optimizer};
use tapegrad_nn::Module;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn save(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn idx_seeds(dir: &Path) {
    let shape = IxDyn(&[2, 3, 2]);
    let n = 12;
    let all = [
        IdxData::U8(ArrayD::from_shape_vec(shape.clone(), (0..n as u8).collect()).unwrap()),
        IdxData::I8(
            ArrayD::from_shape_vec(shape.clone(), (0..n as i8).map(|v| v - 6).collect()).unwrap(),
        ),
        IdxData::I16(
            ArrayD::from_shape_vec(shape.clone(), (0..n as i16).map(|v| v * 300).collect())
                .unwrap(),
        ),
        IdxData::I32(
            ArrayD::from_shape_vec(shape.clone(), (0..n as i32).map(|v| -v << 20).collect())
                .unwrap(),
        ),
        IdxData::F32(
            ArrayD::from_shape_vec(shape.clone(), (0..n).map(|v| v as f32 * 0.5).collect())
                .unwrap(),
        ),
        IdxData::F64(
            ArrayD::from_shape_vec(shape, (0..n).map(|v| v as f64 / 3.0).collect()).unwrap(),
        ),
    ];
    for data in &all {
        let raw = encode_idx(data);
        let name = data.idx_type().name();
        save(dir, &format!("{name}.idx"), &raw);
        save(dir, &format!("{name}.idx.gz"), &gzip(&raw));
    }
    // MNIST-like labels and images, small.
    let labels = IdxData::U8(ArrayD::from_shape_vec(IxDyn(&[10]), (0..10).collect()).unwrap());
    save(dir, "labels.idx1.gz", &gzip(&encode_idx(&labels)));
    let images = IdxData::U8(
        ArrayD::from_shape_vec(
            IxDyn(&[2, 28, 28]),
            (0..2 * 784).map(|v| (v % 256) as u8).collect(),
        )
        .unwrap(),
    );
    save(dir, "images.idx3.gz", &gzip(&encode_idx(&images)));
}

fn png_bytes(seed: u8, color: png::ColorType, depth: png::BitDepth) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 28, 28);
        enc.set_color(color);
        enc.set_depth(depth);
        let mut w = enc.write_header().unwrap();
        let channels = match color {
            png::ColorType::Rgb => 3,
            png::ColorType::GrayscaleAlpha => 2,
            _ => 1,
        };
        let bytes_per = if depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
        let data: Vec<u8> = (0..28 * 28 * channels * bytes_per)
            .map(|i| (i as u8).wrapping_mul(seed))
            .collect();
        w.write_image_data(&data).unwrap();
    }
    out
}

fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn archive_seeds(dir: &Path) {
    let gray = |s| png_bytes(s, png::ColorType::Grayscale, png::BitDepth::Eight);
    let members = vec![
        ("notMNIST_small/A/a1.png", gray(3)),
        ("notMNIST_small/A/a2.png", gray(5)),
        ("notMNIST_small/B/b1.png", gray(7)),
        ("notMNIST_small/J/j1.png", gray(11)),
        ("notMNIST_small/C/empty.png", Vec::new()),
        (
            "notMNIST_small/D/rgb.png",
            png_bytes(13, png::ColorType::Rgb, png::BitDepth::Eight),
        ),
        (
            "notMNIST_small/E/g16.png",
            png_bytes(17, png::ColorType::Grayscale, png::BitDepth::Sixteen),
        ),
        ("notMNIST_small/README.txt", b"not a png".to_vec()),
    ];
    let tar = tar_of(&members);
    save(dir, "small.tar", &tar);
    save(dir, "small.tar.gz", &gzip(&tar));
    let long = format!("notMNIST_small/F/{}.png", "x".repeat(150));
    save(
        dir,
        "longname.tar.gz",
        &gzip(&tar_of(&[(long.as_str(), gray(19))])),
    );
    save(dir, "one.png", &gray(23));
}

fn checkpoint_seeds(dir: &Path) {
    let tmp = std::env::temp_dir().join(format!("tapegrad-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let model = Sequential::<f32>::new().add(Linear::new(4, 3, 0));
    let mut opt = Adam::new(0.01);
    // One step, so the optimizer has moments and a step count to save.
    let grads = {
        let tape = tapegrad_autograd::Tape::new();
        let x = tape.constant(tensor(&[2, 4], vec![0.5; 8]));
        tape.backward(model.forward(x).sum())
    };
    let mut model = model;
    opt.step(&mut model.params_mut(), &grads);
    let mut history = History::new();
    history.record(&[("loss".to_string(), 0.75), ("accuracy".to_string(), 0.5)]);
    let ckpt = Checkpoint::capture(&model, Some(&opt as &dyn Optimizer<f32>), 1, &history);
    let path = tmp.join("run.ckpt");
    ckpt.save(&path).unwrap();
    save(dir, "adam.ckpt", &std::fs::read(&path).unwrap());
    Checkpoint::capture(&model, None, 0, &History::new())
        .save(&path)
        .unwrap();
    save(dir, "weights_only.ckpt", &std::fs::read(&path).unwrap());
    tapegrad_nn::io::save_weights(&model, &path).unwrap();
    save(dir, "weights.safetensors", &std::fs::read(&path).unwrap());
    let m64 = Sequential::<f64>::new().add(Linear::new(2, 2, 1));
    tapegrad_nn::io::save_weights(&m64, &path).unwrap();
    save(
        dir,
        "weights_f64.safetensors",
        &std::fs::read(&path).unwrap(),
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    idx_seeds(&root.join("idx"));
    archive_seeds(&root.join("notmnist_archive"));
    checkpoint_seeds(&root.join("checkpoint"));
    println!("seeds written under {}", root.display());
}
