//! Progress reporting during `fit`: a Keras-like bar per epoch on a terminal, plain lines
//! otherwise, nothing at verbosity 0.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much [`Model::fit`](crate::model::Model::fit) prints (to standard error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Silent,
    /// A progress bar per epoch with step, loss and metrics (Keras' `verbose=1`); when standard
    /// error is not a terminal (a log file, CI), one plain line per epoch instead.
    #[default]
    Bar,
    /// One line per epoch (Keras' `verbose=2`).
    Line,
}

impl From<u8> for Verbosity {
    /// Keras' numbers: 0 silent, 1 bar, 2 one line per epoch.
    fn from(v: u8) -> Self {
        match v {
            0 => Verbosity::Silent,
            1 => Verbosity::Bar,
            _ => Verbosity::Line,
        }
    }
}

/// Formats logs like Keras: `loss: 0.2563 - accuracy: 0.9254`.
pub fn format_logs(logs: &[(String, f64)]) -> String {
    let mut s = String::new();
    for (i, (name, value)) in logs.iter().enumerate() {
        if i > 0 {
            s.push_str(" - ");
        }
        let _ = write!(s, "{name}: {value:.4}");
    }
    s
}

fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{:.0}ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// The progress display of one epoch.
pub(crate) struct EpochProgress {
    epoch: usize,
    epochs: usize,
    bar: Option<ProgressBar>,
    line: bool,
    steps: usize,
    start: Instant,
    last_message: Instant,
}

/// How often the bar's message (loss and metrics) is reformatted.
const MESSAGE_INTERVAL: Duration = Duration::from_millis(100);

impl EpochProgress {
    /// Starts the display of epoch `epoch` (0-based) of `epochs`, with `steps` batches.
    pub(crate) fn start(verbosity: Verbosity, epoch: usize, epochs: usize, steps: usize) -> Self {
        let now = Instant::now();
        let terminal = std::io::stderr().is_terminal();
        let (bar, line) = match verbosity {
            Verbosity::Silent => (None, false),
            Verbosity::Line => (None, true),
            Verbosity::Bar if !terminal => (None, true),
            Verbosity::Bar => {
                eprintln!("Epoch {}/{}", epoch + 1, epochs);
                let bar = ProgressBar::with_draw_target(
                    Some(steps as u64),
                    ProgressDrawTarget::stderr_with_hz(10),
                );
                let style = ProgressStyle::with_template(
                    "{pos:>5}/{len} [{bar:30.cyan/blue}] {elapsed} - {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                (Some(bar), false)
            }
        };
        EpochProgress {
            epoch,
            epochs,
            bar,
            line,
            steps,
            start: now,
            last_message: now,
        }
    }

    /// Reports that `step` batches (1-based) are done, with the running logs.
    pub(crate) fn step(&mut self, step: usize, logs: impl FnOnce() -> Vec<(String, f64)>) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step == self.steps || self.last_message.elapsed() >= MESSAGE_INTERVAL {
                bar.set_message(format_logs(&logs()));
                self.last_message = Instant::now();
            }
        }
    }

    /// Ends the epoch with its final logs (training and validation).
    pub(crate) fn finish(self, logs: &[(String, f64)]) {
        let elapsed = self.start.elapsed();
        if let Some(bar) = self.bar {
            bar.set_position(self.steps as u64);
            bar.finish_with_message(format_logs(logs));
        } else if self.line {
            // One write of a whole line, so that lines of parallel runs do not interleave.
            let line = format!(
                "Epoch {}/{} - {}/{} - {} - {}\n",
                self.epoch + 1,
                self.epochs,
                self.steps,
                self.steps,
                format_duration(elapsed),
                format_logs(logs)
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_format_like_keras() {
        let logs = vec![("loss".to_string(), 0.25634), ("accuracy".to_string(), 0.9)];
        assert_eq!(format_logs(&logs), "loss: 0.2563 - accuracy: 0.9000");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(75)), "1m15s");
        assert_eq!(Verbosity::from(0), Verbosity::Silent);
        assert_eq!(Verbosity::from(2), Verbosity::Line);
    }
}
