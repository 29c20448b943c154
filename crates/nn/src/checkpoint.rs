//! Checkpoints: everything needed to resume training exactly where it stopped.
//!
//! A checkpoint is one safetensors file holding the weights (`model.{name}`), the optimizer's
//! buffers (`optimizer.{name}`) and, in its metadata, the number of epochs done, the optimizer's
//! scalars (learning rate, step counts), the states of the model's random streams (dropout)
//! and the history so far. It is written atomically (temporary file in the same directory,
//! flushed, read back and checked, renamed), so killing the process mid-save leaves the
//! previous checkpoint intact. (It may leave a hidden `.{name}.tmp-*` file beside it, which is
//! never read and can be deleted.)
//!
//! Like every file written by [`io`], a checkpoint carries the SHA-256 of each
//! tensor and of its header (epoch, optimizer scalars, history, random states): loading a
//! checkpoint whose bytes changed after it was written is an error naming the damaged tensor,
//! never a run resumed from wrong numbers.
//!
//! Resuming from a checkpoint gives bit for bit the weights of an unbroken run, because
//! everything random is derived from saved state: shuffling from the seed and the epoch
//! number, dropout from the saved stream states.
//!
//! [`Model::save_checkpoint`](crate::model::Model::save_checkpoint) and
//! [`Model::load_checkpoint`](crate::model::Model::load_checkpoint) are the usual entry points;
//! the [`ModelCheckpoint`](crate::callback::ModelCheckpoint) callback writes one every epoch.

use std::collections::HashMap;
use std::path::Path;

use tapegrad_autograd::{Real, Tensor};

use crate::error::{CheckpointError, WeightsError};
use crate::history::History;
use crate::io::{self, AtomicError};
use crate::optim::{Optimizer, OptimizerState};
use crate::Module;

const FORMAT: &str = "tapegrad-checkpoint";
const VERSION: &str = "1";
const MODEL: &str = "model.";
const OPTIMIZER: &str = "optimizer.";
const SCALAR: &str = "optimizer_scalar.";
const HISTORY: &str = "history.";

/// The saved state of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<T: Real> {
    /// Epochs completed.
    pub epoch: usize,
    /// The parameters by name.
    pub weights: Vec<(String, Tensor<T>)>,
    /// The optimizer's state, if one was saved.
    pub optimizer: Option<OptimizerState<T>>,
    /// The states of the model's random streams, in [`Module::random_states`] order.
    pub random_states: Vec<u64>,
    /// Loss and metrics of the epochs done.
    pub history: History,
}

impl<T: Real> Checkpoint<T> {
    /// Captures the state of a run (values are shared, not copied).
    pub fn capture<M: Module<T> + ?Sized>(
        module: &M,
        optimizer: Option<&dyn Optimizer<T>>,
        epoch: usize,
        history: &History,
    ) -> Self {
        Checkpoint {
            epoch,
            weights: module.state_dict(),
            optimizer: optimizer.map(|o| o.state()),
            random_states: module.random_states(),
            history: history.clone(),
        }
    }

    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let mut tensors: Vec<(String, Tensor<T>)> = self
            .weights
            .iter()
            .map(|(n, t)| (format!("{MODEL}{n}"), t.clone()))
            .collect();
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("version".to_string(), VERSION.to_string());
        meta.insert("dtype".to_string(), T::DTYPE.to_string());
        meta.insert("epoch".to_string(), self.epoch.to_string());
        meta.insert(
            "history_epochs".to_string(),
            self.history.epochs().to_string(),
        );
        let states: Vec<String> = self.random_states.iter().map(u64::to_string).collect();
        meta.insert("random_states".to_string(), states.join(","));
        if let Some(opt) = &self.optimizer {
            meta.insert("optimizer".to_string(), opt.kind.clone());
            for (n, v) in &opt.scalars {
                meta.insert(format!("{SCALAR}{n}"), format!("{v:?}"));
            }
            tensors.extend(
                opt.tensors
                    .iter()
                    .map(|(n, t)| (format!("{OPTIMIZER}{n}"), t.clone())),
            );
        }
        meta.insert("history_names".to_string(), self.history.names().join("\n"));
        for (n, text) in self.history.to_records() {
            meta.insert(format!("{HISTORY}{n}"), text);
        }
        let bytes = io::encode(path, &tensors, meta)?;
        io::write_atomic(path, &bytes, |written| {
            // The bytes already compared equal; check that they parse, cheaply (headers only).
            let back = safetensors::SafeTensors::deserialize(written).map_err(|e| e.to_string())?;
            if back.len() != tensors.len() {
                return Err(format!(
                    "{} tensors read back, {} written",
                    back.len(),
                    tensors.len()
                ));
            }
            Ok(())
        })
        .map_err(|e| match e {
            AtomicError::Io {
                action,
                path,
                source,
            } => CheckpointError::Weights(WeightsError::Io {
                action,
                path,
                source,
            }),
            AtomicError::Verify { path, message } => CheckpointError::Verify { path, message },
        })
    }

    /// Reads a checkpoint written by [`save`](Checkpoint::save), checking its digests.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::decode(&bytes, path)
    }

    /// Reads a checkpoint from the bytes of a file written by [`save`](Checkpoint::save);
    /// `path` only names it in error messages.
    pub fn decode(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let (tensors, meta) = io::decode::<T>(path, bytes)?;
        let get = |key: &str| -> Result<&String, CheckpointError> {
            meta.get(key)
                .ok_or_else(|| CheckpointError::NotACheckpoint {
                    path: path.to_path_buf(),
                    key: key.to_string(),
                })
        };
        let bad = |key: &str, value: &str| CheckpointError::BadRecord {
            path: path.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
        };
        if get("format")? != FORMAT {
            return Err(CheckpointError::NotACheckpoint {
                path: path.to_path_buf(),
                key: "format".to_string(),
            });
        }
        let epoch_text = get("epoch")?;
        let epoch: usize = epoch_text.parse().map_err(|_| bad("epoch", epoch_text))?;
        let states_text = get("random_states")?;
        let random_states = if states_text.is_empty() {
            Vec::new()
        } else {
            states_text
                .split(',')
                .map(|s| s.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("random_states", states_text))?
        };
        let mut weights = Vec::new();
        let mut opt_tensors = Vec::new();
        for (name, t) in tensors {
            let t = t.map_err(|dtype| bad(&name, &dtype))?;
            if let Some(n) = name.strip_prefix(MODEL) {
                weights.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix(OPTIMIZER) {
                opt_tensors.push((n.to_string(), t));
            } else {
                return Err(bad(&name, "a tensor outside model. and optimizer."));
            }
        }
        let optimizer = match meta.get("optimizer") {
            None => None,
            Some(kind) => {
                let mut scalars = Vec::new();
                for (k, v) in &meta {
                    if let Some(n) = k.strip_prefix(SCALAR) {
                        scalars.push((n.to_string(), v.parse::<f64>().map_err(|_| bad(k, v))?));
                    }
                }
                scalars.sort_by(|a, b| a.0.cmp(&b.0));
                Some(OptimizerState {
                    kind: kind.clone(),
                    scalars,
                    tensors: opt_tensors,
                })
            }
        };
        let hist_epochs_text = get("history_epochs")?;
        let hist_epochs: usize = hist_epochs_text
            .parse()
            .map_err(|_| bad("history_epochs", hist_epochs_text))?;
        let names_text = get("history_names")?;
        let mut records = Vec::new();
        for n in names_text.split('\n').filter(|n| !n.is_empty()) {
            let key = format!("{HISTORY}{n}");
            let text = meta.get(&key).ok_or_else(|| bad(&key, "missing"))?;
            records.push((n.to_string(), text.clone()));
        }
        let history = History::from_records(&records, hist_epochs)
            .ok_or_else(|| bad("history", "values that do not match the epoch count"))?;
        Ok(Checkpoint {
            epoch,
            weights,
            optimizer,
            random_states,
            history,
        })
    }

    /// Puts the saved weights, optimizer state and random stream states back. Everything is
    /// checked first: on an error nothing has changed.
    pub fn restore<M: Module<T> + ?Sized>(
        &self,
        path: impl AsRef<Path>,
        module: &mut M,
        optimizer: Option<&mut dyn Optimizer<T>>,
    ) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let tensors = self
            .weights
            .iter()
            .map(|(n, t)| (n.clone(), Ok(t.clone())))
            .collect();
        let (plan, _) = io::plan_assign(module, path, tensors, true)?;
        let streams = module.random_states().len();
        if streams != self.random_states.len() {
            return Err(CheckpointError::RandomStreams {
                path: path.to_path_buf(),
                expected: streams,
                found: self.random_states.len(),
            });
        }
        if let (Some(opt), Some(state)) = (optimizer, &self.optimizer) {
            opt.load_state(state)
                .map_err(|source| CheckpointError::Optimizer {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        io::apply_assign(module, plan);
        for (r, &s) in module
            .random_streams_mut()
            .into_iter()
            .zip(&self.random_states)
        {
            r.set_state(s);
        }
        Ok(())
    }
}
