//! Pictures of samples: a grid of images with their labels, and a grid that marks predictions
//! (green frame when right, red when wrong, with both labels), saved as PNG.
//!
//! ```no_run
//! use tapegrad_datasets::{picture, Mnist};
//! let mnist = Mnist::load()?;
//! let first = mnist.test_images.slice(ndarray::s![..32, .., ..]);
//! let labels: Vec<String> = mnist.test_labels.iter().take(32).map(|l| l.to_string()).collect();
//! picture::save_grid("samples.png", first, &labels, &picture::GridOptions::default())?;
//! # Ok::<(), tapegrad_datasets::DatasetError>(())
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use ndarray::ArrayView3;

use crate::error::{DatasetError, Result};

/// Layout of a grid.
#[derive(Clone, Debug)]
pub struct GridOptions {
    /// Images per row.
    pub columns: usize,
    /// Each pixel becomes a `scale` x `scale` square.
    pub scale: usize,
    /// Draw dark ink on a light background (MNIST and notMNIST store ink as high values).
    pub invert: bool,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            columns: 8,
            scale: 2,
            invert: false,
        }
    }
}

const GREEN: [u8; 3] = [30, 170, 60];
const RED: [u8; 3] = [210, 40, 40];
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [20, 20, 20];
const FRAME: usize = 2;
const GAP: usize = 4;
const TEXT_H: usize = 10;

/// An RGB image being drawn.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        let mut px = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            px.extend_from_slice(&BACKGROUND);
        }
        Canvas { w, h, px }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.w && y < self.h {
            let i = (y * self.w + x) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    fn gray(
        &mut self,
        x0: usize,
        y0: usize,
        img: ndarray::ArrayView2<'_, u8>,
        scale: usize,
        invert: bool,
    ) {
        for ((y, x), &v) in img.indexed_iter() {
            let v = if invert { 255 - v } else { v };
            self.rect(x0 + x * scale, y0 + y * scale, scale, scale, [v, v, v]);
        }
    }

    /// 8x8 bitmap text; characters outside ASCII draw as `?`.
    fn text(&mut self, x0: usize, y0: usize, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let code = if ch.is_ascii() {
                ch as usize
            } else {
                '?' as usize
            };
            let glyph = font8x8::legacy::BASIC_LEGACY[code];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.put(x0 + k * 8 + col, y0 + row, c);
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        let err = |what: String| DatasetError::Picture {
            path: path.to_path_buf(),
            what,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let file = File::create(path).map_err(|e| err(e.to_string()))?;
        let mut enc = png::Encoder::new(BufWriter::new(file), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| err(e.to_string()))?;
        writer
            .write_image_data(&self.px)
            .map_err(|e| err(e.to_string()))?;
        writer.finish().map_err(|e| err(e.to_string()))
    }
}

/// One cell's caption and frame colour.
struct Cell {
    caption: String,
    second: Option<String>,
    frame: Option<[u8; 3]>,
}

fn draw_grid(
    path: &Path,
    images: ArrayView3<'_, u8>,
    cells: &[Cell],
    opts: &GridOptions,
) -> Result<()> {
    let n = images.shape()[0];
    if cells.len() != n {
        return Err(DatasetError::Invalid(format!(
            "picture: {n} images but {} labels; give one label per image",
            cells.len()
        )));
    }
    if n == 0 || opts.columns == 0 || opts.scale == 0 {
        return Err(DatasetError::Invalid(
            "picture: need at least one image, one column and scale >= 1".into(),
        ));
    }
    let (ih, iw) = (
        images.shape()[1] * opts.scale,
        images.shape()[2] * opts.scale,
    );
    let lines = if cells.iter().any(|c| c.second.is_some()) {
        2
    } else {
        1
    };
    let chars = cells
        .iter()
        .flat_map(|c| std::iter::once(&c.caption).chain(c.second.as_ref()))
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    let cell_w = (iw + 2 * FRAME).max(chars * 8) + GAP;
    let cell_h = ih + 2 * FRAME + lines * TEXT_H + GAP;
    let cols = opts.columns.min(n);
    let rows = n.div_ceil(cols);
    let mut canvas = Canvas::new(cols * cell_w + GAP, rows * cell_h + GAP);
    for (i, cell) in cells.iter().enumerate() {
        let (cx, cy) = (GAP + (i % cols) * cell_w, GAP + (i / cols) * cell_h);
        let ix = cx + (cell_w - GAP - iw - 2 * FRAME) / 2;
        if let Some(c) = cell.frame {
            canvas.rect(ix, cy, iw + 2 * FRAME, ih + 2 * FRAME, c);
        }
        canvas.gray(
            ix + FRAME,
            cy + FRAME,
            images.index_axis(ndarray::Axis(0), i),
            opts.scale,
            opts.invert,
        );
        let ty = cy + ih + 2 * FRAME + 1;
        let color = cell.frame.unwrap_or(INK);
        canvas.text(cx, ty, &cell.caption, color);
        if let Some(s) = &cell.second {
            canvas.text(cx, ty + TEXT_H, s, INK);
        }
    }
    canvas.save(path)
}

/// Saves a grid of `images` (`[N, H, W]` bytes), each captioned with its label.
pub fn save_grid(
    path: impl AsRef<Path>,
    images: ArrayView3<'_, u8>,
    labels: &[String],
    opts: &GridOptions,
) -> Result<()> {
    let cells: Vec<Cell> = labels
        .iter()
        .map(|l| Cell {
            caption: l.clone(),
            second: None,
            frame: None,
        })
        .collect();
    draw_grid(path.as_ref(), images, &cells, opts)
}

/// Saves a grid marking predictions: a green frame and `p:<pred>` when the prediction equals
/// the truth, a red frame otherwise; the true label is printed below as `t:<true>`. Labels
/// are indices into `class_names`.
pub fn save_prediction_grid(
    path: impl AsRef<Path>,
    images: ArrayView3<'_, u8>,
    predicted: &[usize],
    truth: &[usize],
    class_names: &[&str],
    opts: &GridOptions,
) -> Result<()> {
    if predicted.len() != truth.len() {
        return Err(DatasetError::Invalid(format!(
            "picture: {} predictions but {} true labels",
            predicted.len(),
            truth.len()
        )));
    }
    let name = |k: usize| -> Result<&str> {
        class_names.get(k).copied().ok_or_else(|| {
            DatasetError::Invalid(format!(
                "picture: label {k} has no name ({} class names given)",
                class_names.len()
            ))
        })
    };
    let mut cells = Vec::with_capacity(truth.len());
    for (&p, &t) in predicted.iter().zip(truth) {
        cells.push(Cell {
            caption: format!("p:{}", name(p)?),
            second: Some(format!("t:{}", name(t)?)),
            frame: Some(if p == t { GREEN } else { RED }),
        });
    }
    draw_grid(path.as_ref(), images, &cells, opts)
}
