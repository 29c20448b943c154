//! The per-epoch record of training: loss and metrics, for training and validation, and
//! plots of them.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::PlotError;

/// Loss and metrics per epoch, as [`Model::fit`](crate::model::Model::fit) returns them
/// (Keras' `History.history`).
///
/// Series are named like Keras': `loss`, `accuracy`, `val_loss`, `val_accuracy`.
///
/// ```
/// use tapegrad_nn::history::History;
/// let mut h = History::new();
/// h.record(&[("loss".into(), 0.9), ("val_loss".into(), 1.0)]);
/// h.record(&[("loss".into(), 0.5), ("val_loss".into(), 0.7)]);
/// assert_eq!(h.get("loss"), Some(&[0.9, 0.5][..]));
/// assert_eq!(h.epochs(), 2);
/// # let dir = std::env::temp_dir();
/// h.plot(dir.join("tapegrad-doc-history.svg")).unwrap();
/// # std::fs::remove_file(dir.join("tapegrad-doc-history.svg")).unwrap();
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    series: Vec<(String, Vec<f64>)>,
    epochs: usize,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one epoch's values. A series first seen now is padded with NaN for earlier
    /// epochs; a series missing now gets NaN.
    pub fn record(&mut self, logs: &[(String, f64)]) {
        for (name, value) in logs {
            match self.series.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => values.push(*value),
                None => {
                    let mut values = vec![f64::NAN; self.epochs];
                    values.push(*value);
                    self.series.push((name.clone(), values));
                }
            }
        }
        self.epochs += 1;
        for (_, values) in &mut self.series {
            values.resize(self.epochs, f64::NAN);
        }
    }

    /// The values of one series, one per epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The last value of a series.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.last().copied())
    }

    /// The names of the series, in the order first recorded.
    pub fn names(&self) -> Vec<&str> {
        self.series.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Every series.
    pub fn series(&self) -> &[(String, Vec<f64>)] {
        &self.series
    }

    /// The number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.epochs == 0
    }

    /// Appends the epochs of `other` after these.
    pub fn extend(&mut self, other: &History) {
        for e in 0..other.epochs {
            let logs: Vec<(String, f64)> = other
                .series
                .iter()
                .map(|(n, v)| (n.clone(), v[e]))
                .collect();
            self.record(&logs);
        }
    }

    /// Draws the history to a PNG or SVG file (chosen by the extension): the losses in one
    /// panel, the other metrics in a second, training and validation together, like the plots
    /// of Deep Learning with Python ch.3-4.
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let names = self.names();
        let losses: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| n.ends_with("loss"))
            .collect();
        let others: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !n.ends_with("loss"))
            .collect();
        let mut panels = Vec::new();
        if !losses.is_empty() {
            panels.push(("loss".to_string(), losses));
        }
        if !others.is_empty() {
            panels.push(("metrics".to_string(), others));
        }
        self.plot_panels(path.as_ref(), &panels)
    }

    /// Draws the named series in one panel with the given title.
    pub fn plot_series(
        &self,
        path: impl AsRef<Path>,
        names: &[&str],
        title: &str,
    ) -> Result<(), PlotError> {
        for n in names {
            if self.get(n).is_none() {
                return Err(PlotError::Empty {
                    message: format!("the history has no series '{n}'; it has {:?}", self.names()),
                });
            }
        }
        self.plot_panels(path.as_ref(), &[(title.to_string(), names.to_vec())])
    }

    fn plot_panels(&self, path: &Path, panels: &[(String, Vec<&str>)]) -> Result<(), PlotError> {
        if self.epochs == 0 || panels.is_empty() {
            return Err(PlotError::Empty {
                message: "the history has no epochs".to_string(),
            });
        }
        register_font();
        let size = (560 * panels.len() as u32, 420);
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let draw_err = |e: String| PlotError::Draw {
            path: path.to_path_buf(),
            message: e,
        };
        match ext.as_deref() {
            Some("png") => {
                let root = BitMapBackend::new(path, size).into_drawing_area();
                self.draw(&root, panels)
                    .map_err(|e| draw_err(e.to_string()))?;
                root.present().map_err(|e| draw_err(e.to_string()))
            }
            Some("svg") => {
                let root = SVGBackend::new(path, size).into_drawing_area();
                self.draw(&root, panels)
                    .map_err(|e| draw_err(e.to_string()))?;
                root.present().map_err(|e| draw_err(e.to_string()))
            }
            _ => Err(PlotError::Format {
                path: path.to_path_buf(),
            }),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        panels: &[(String, Vec<&str>)],
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let areas = root.split_evenly((1, panels.len()));
        for (area, (title, names)) in areas.iter().zip(panels) {
            let values = names
                .iter()
                .filter_map(|n| self.get(n))
                .flatten()
                .copied()
                .filter(|v| v.is_finite());
            let (mut lo, mut hi) = values
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            if !lo.is_finite() {
                (lo, hi) = (0.0, 1.0);
            }
            let pad = ((hi - lo) * 0.05).max(1e-6);
            let x_hi = self.epochs as f64 + 0.5;
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.5f64..x_hi, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_labels(self.epochs.min(10) + 1)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.3}"))
                .draw()?;
            for (k, name) in names.iter().enumerate() {
                let Some(series) = self.get(name) else {
                    continue;
                };
                let (r, g, b) = TAB10[k % TAB10.len()];
                let color = RGBColor(r, g, b).to_rgba();
                let points: Vec<(f64, f64)> = series
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(e, &v)| ((e + 1) as f64, v))
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                    .label(name.to_string())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    }

    /// The history as text records `(name, "v1,v2,...")`, for checkpoints.
    pub(crate) fn to_records(&self) -> Vec<(String, String)> {
        self.series
            .iter()
            .map(|(n, v)| {
                let text: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
                (n.clone(), text.join(","))
            })
            .collect()
    }

    /// Rebuilds a history from [`to_records`](History::to_records) output.
    pub(crate) fn from_records(records: &[(String, String)], epochs: usize) -> Option<History> {
        let mut series = Vec::new();
        for (n, text) in records {
            let values: Vec<f64> = if text.is_empty() {
                Vec::new()
            } else {
                text.split(',')
                    .map(|x| x.parse::<f64>())
                    .collect::<Result<_, _>>()
                    .ok()?
            };
            if values.len() != epochs {
                return None;
            }
            series.push((n.clone(), values));
        }
        Some(History { series, epochs })
    }
}

/// matplotlib's default colour cycle, so the plots look like the books'.
const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The font plots are drawn with: a subset of DejaVu Sans (see assets/FONT-LICENSE.txt),
/// embedded so that no system font library is needed.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is embedded and known to parse; failure would only lose the labels.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        let mut h = History::new();
        for e in 0..4 {
            let x = e as f64;
            h.record(&[
                ("loss".into(), 1.0 / (x + 1.0)),
                ("accuracy".into(), 0.5 + 0.1 * x),
                ("val_loss".into(), 1.2 / (x + 1.0)),
                ("val_accuracy".into(), 0.45 + 0.1 * x),
            ]);
        }
        h
    }

    #[test]
    fn records_pad_missing_values() {
        let mut h = History::new();
        h.record(&[("loss".into(), 1.0)]);
        h.record(&[("loss".into(), 0.5), ("val_loss".into(), 0.7)]);
        assert!(h.get("val_loss").unwrap()[0].is_nan());
        assert_eq!(h.last("val_loss"), Some(0.7));
        let back = History::from_records(&h.to_records(), 2).unwrap();
        assert_eq!(back.get("loss"), h.get("loss"));
        assert!(back.get("val_loss").unwrap()[0].is_nan());
    }

    #[test]
    fn plots_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let h = sample();
        let png = dir.path().join("h.png");
        h.plot(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let svg = dir.path().join("h.svg");
        h.plot(&svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("val_accuracy"));
        h.plot_series(dir.path().join("l.svg"), &["loss"], "loss")
            .unwrap();
        assert!(matches!(
            h.plot(dir.path().join("h.jpg")),
            Err(PlotError::Format { .. })
        ));
        assert!(matches!(
            History::new().plot(dir.path().join("e.png")),
            Err(PlotError::Empty { .. })
        ));
    }
}
