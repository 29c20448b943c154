//! [`Model::evaluate`] and [`Model::predict`]: the model on data, in evaluation mode, batch by
//! batch on inference tapes.

use ndarray::Axis;
use tapegrad_autograd::{Real, Tape, Tensor};

use super::fit::weighted;
use super::guard::{self, check_targets, forward_checked};
use super::{rows, samples, Model};
use crate::callback::Logs;
use crate::error::{DataError, FitError};
use crate::targets::Targets;
use crate::Module;

impl<T: Real, M: Module<T>> Model<T, M> {
    /// Loss and metrics over `x`, `y` in batches on inference tapes (memory stays that of one
    /// batch), in evaluation mode (dropout off). Keys are `loss` and the metrics' names; the
    /// loss is the mean of the batch losses weighted by batch size.
    ///
    /// # Errors
    /// [`FitError::Data`] if `x` and `y` have different numbers of rows, the model cannot take
    /// `x`, or the loss or a metric cannot compare the outputs with `y` (checked on the first
    /// batch, before any loss is computed); [`FitError::Panicked`] if something panicked on
    /// the way (the weights are unchanged either way).
    ///
    /// # Panics
    /// If the model is not compiled.
    #[track_caller]
    pub fn evaluate(
        &mut self,
        x: &Tensor<T>,
        y: impl Into<Targets<T>>,
        batch_size: usize,
    ) -> Result<Logs, FitError> {
        let y = y.into();
        self.compiled("evaluate");
        Self::check_lengths("evaluate", x, &y)?;
        let result = guard::on_pool(|| self.run_eval("evaluate", x, &y, batch_size));
        self.module.set_training(true);
        match result {
            Ok(logs) => Ok(logs?),
            Err(message) => Err(FitError::Panicked {
                call: "evaluate",
                epoch: None,
                message,
            }),
        }
    }

    /// [`evaluate`](Model::evaluate)'s batches (`call` names the caller in errors).
    pub(super) fn run_eval(
        &mut self,
        call: &'static str,
        x: &Tensor<T>,
        y: &Targets<T>,
        batch_size: usize,
    ) -> Result<Logs, DataError> {
        let batch_size = batch_size.max(1);
        self.module.set_training(false);
        let compiled = self.compiled.as_mut().expect("checked by callers");
        for m in &mut compiled.metrics {
            m.reset();
        }
        let n = samples(x);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let yb = y.slice(start, end);
            let tape = Tape::inference();
            let xb = rows(x, start, end);
            let out = if start == 0 {
                let out = forward_checked(&self.module, call, &tape, xb, x.shape())?;
                check_targets(compiled, call, &out.shape(), n, y)?;
                out
            } else {
                self.module.forward(tape.constant(xb))
            };
            let loss = compiled.loss.loss(out, &yb).item();
            out.with_value(|o| {
                for m in &mut compiled.metrics {
                    m.update(o, &yb);
                }
            });
            loss_sum += loss.to_f64().unwrap_or(f64::NAN) * (end - start) as f64;
            seen += end - start;
            start = end;
        }
        let mut values = vec![("loss".to_string(), weighted(loss_sum, seen))];
        values.extend(
            compiled
                .metrics
                .iter()
                .map(|m| (m.name().to_string(), m.result())),
        );
        Ok(Logs { values })
    }

    /// The model's outputs for `x`, computed in batches on inference tapes, in evaluation mode.
    ///
    /// # Errors
    /// [`FitError::Data`] if the model cannot take `x`; [`FitError::Panicked`] if something
    /// panicked on the way (the weights are unchanged either way).
    pub fn predict(&mut self, x: &Tensor<T>, batch_size: usize) -> Result<Tensor<T>, FitError> {
        let result = guard::on_pool(|| self.predict_here(x, batch_size));
        self.module.set_training(true);
        match result {
            Ok(outputs) => Ok(outputs?),
            Err(message) => Err(FitError::Panicked {
                call: "predict",
                epoch: None,
                message,
            }),
        }
    }

    /// [`predict`](Model::predict) on the calling thread.
    fn predict_here(&mut self, x: &Tensor<T>, batch_size: usize) -> Result<Tensor<T>, DataError> {
        let batch_size = batch_size.max(1);
        self.module.set_training(false);
        let n = samples(x);
        let mut outputs: Vec<Tensor<T>> = Vec::with_capacity(n.div_ceil(batch_size));
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let tape = Tape::inference();
            let xb = rows(x, start, end);
            let out = if start == 0 {
                forward_checked(&self.module, "predict", &tape, xb, x.shape())?
            } else {
                self.module.forward(tape.constant(xb))
            };
            outputs.push(out.value());
            start = end;
        }
        if outputs.len() == 1 {
            return Ok(outputs.pop().expect("one batch"));
        }
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        Ok(ndarray::concatenate(Axis(0), &views)
            .expect("every batch has the same output shape but the first axis")
            .into_shared())
    }
}
