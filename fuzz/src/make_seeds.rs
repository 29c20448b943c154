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
use tapegrad_nn::layer::{Dense, Linear, Relu, Sequential};
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
    let n = 12usize;
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

/// Weights files of the fuzzed model (3 -> 4 -> 2) and of models that differ from it, and
/// recipes (see `fuzz/src/weights.rs`) for well-formed files that fit it or nearly do.
fn weights_seeds(dir: &Path) {
    let tmp = std::env::temp_dir().join(format!("tapegrad-seeds-w-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let path = tmp.join("w.safetensors");
    let put = |name: &str, model: &dyn Fn(&Path)| {
        model(&path);
        save(dir, name, &std::fs::read(&path).unwrap());
    };
    let save_f32 =
        |m: Sequential<f32>| move |p: &Path| tapegrad_nn::io::save_weights(&m, p).unwrap();
    put(
        "fits.safetensors",
        &save_f32(
            Sequential::new()
                .add(Dense::new(3, 4, 5))
                .add(Relu)
                .add(Dense::new(4, 2, 6)),
        ),
    );
    put("fits_f64.safetensors", &|p: &Path| {
        let m = Sequential::<f64>::new()
            .add(Dense::new(3, 4, 5))
            .add(Relu)
            .add(Dense::new(4, 2, 6));
        tapegrad_nn::io::save_weights(&m, p).unwrap()
    });
    put(
        "wider.safetensors",
        &save_f32(
            Sequential::new()
                .add(Dense::new(3, 5, 0))
                .add(Relu)
                .add(Dense::new(5, 2, 1)),
        ),
    );
    put(
        "no_relu_between.safetensors",
        &save_f32(
            Sequential::new()
                .add(Dense::new(3, 4, 0))
                .add(Dense::new(4, 2, 1)),
        ),
    );
    put(
        "no_bias.safetensors",
        &save_f32(
            Sequential::new()
                .add(Linear::no_bias(3, 4, 0))
                .add(Relu)
                .add(Linear::no_bias(4, 2, 1)),
        ),
    );
    put(
        "one_more_layer.safetensors",
        &save_f32(
            Sequential::new()
                .add(Dense::new(3, 4, 0))
                .add(Relu)
                .add(Dense::new(4, 2, 1))
                .add(Relu)
                .add(Dense::new(2, 2, 2)),
        ),
    );
    std::fs::remove_dir_all(&tmp).unwrap();

    // Recipes: a count (bit 7: add metadata), then per tensor a name index, an element type
    // (0: F32, 6: F64, 8..: F16, BF16, I64, BOOL), a shape choice (not a multiple of 4: the
    // parameter's own shape), then its data bytes.
    let tensor = |name: u8, dtype: u8, bytes: usize| {
        let mut t = vec![name, dtype, 1];
        t.extend((0..bytes).map(|i| (i as u8).wrapping_mul(37).wrapping_add(name)));
        t
    };
    // Elements of layer0.weight, layer0.bias, layer2.weight, layer2.bias.
    let elements = [12, 4, 8, 2];
    let all = |dtype: u8, size: usize| -> Vec<u8> {
        // 0x82: four tensors, with metadata.
        let mut r = vec![0x82];
        for (i, n) in elements.iter().enumerate() {
            r.extend(tensor(i as u8, dtype, n * size));
        }
        r
    };
    save(dir, "recipe_fits_f32", &all(0, 4));
    save(dir, "recipe_fits_f64", &all(6, 8));
    save(dir, "recipe_fits_f16", &all(8, 2));
    let mut extra = all(0, 4);
    extra[0] = 5;
    extra.extend(tensor(4, 0, 0));
    save(dir, "recipe_extra_name", &extra);
    // The first bias as a [2, 3] tensor: shape choice 4 * 2 (rank 2), then the dimensions.
    let mut reshaped = vec![2];
    reshaped.extend(tensor(0, 0, 48));
    reshaped.extend([1, 0, 8, 2, 3]);
    reshaped.extend((0..24).map(|i| i as u8));
    save(dir, "recipe_wrong_shape", &reshaped);
}

/// HTTP responses as `fuzz/src/http_response.rs` reads them: status line, headers (with the
/// made-up X-Have, X-Cut and X-Disk), an empty line, the body.
fn download_response_seeds(dir: &Path) {
    let labels = IdxData::U8(ArrayD::from_shape_vec(IxDyn(&[10]), (0..10).collect()).unwrap());
    let gz = gzip(&encode_idx(&labels));
    let n = gz.len();
    let response = |head: &str, body: &[u8]| {
        let mut r = head.replace('\n', "\r\n").into_bytes();
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(body);
        r
    };
    let whole = format!("HTTP/1.1 200 OK\nContent-Length: {n}");
    save(dir, "ok.http", &response(&whole, &gz));
    save(
        dir,
        "ok_unknown_length.http",
        &response("HTTP/1.1 200 OK", &gz),
    );
    save(
        dir,
        "ok_over_a_part.http",
        &response(&format!("{whole}\nX-Have: 7"), &gz),
    );
    save(
        dir,
        "cut.http",
        &response(&format!("{whole}\nX-Cut: 9"), &gz),
    );
    save(
        dir,
        "disk_full.http",
        &response(&format!("{whole}\nX-Disk: 12"), &gz),
    );
    save(
        dir,
        "resumed.http",
        &response(
            &format!(
                "HTTP/1.1 206 Partial Content\nContent-Length: {}\nContent-Range: bytes 10-{}/{n}\nX-Have: 10",
                n - 10,
                n - 1
            ),
            &gz[10..],
        ),
    );
    save(
        dir,
        "resumed_unknown_total.http",
        &response(
            &format!(
                "HTTP/1.1 206 Partial Content\nContent-Range: bytes 4-{}/*\nX-Have: 4",
                n - 1
            ),
            &gz[4..],
        ),
    );
    save(
        dir,
        "resumed_elsewhere.http",
        &response(
            "HTTP/1.1 206 Partial Content\nContent-Range: bytes 0-9/20\nX-Have: 5",
            &gz[..10],
        ),
    );
    save(
        dir,
        "complete.http",
        &response("HTTP/1.1 416 Range Not Satisfiable\nX-Have: 30", b""),
    );
    save(
        dir,
        "busy.http",
        &response("HTTP/1.1 503 Service Unavailable", b"busy"),
    );
    save(
        dir,
        "missing.http",
        &response("HTTP/1.1 404 Not Found", b"not here"),
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    idx_seeds(&root.join("idx"));
    archive_seeds(&root.join("notmnist_archive"));
    checkpoint_seeds(&root.join("checkpoint"));
    weights_seeds(&root.join("weights"));
    download_response_seeds(&root.join("download_response"));
    println!("seeds written under {}", root.display());
}
