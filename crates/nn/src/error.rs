//! Typed errors of everything that touches files, saved state or user data.
//!
//! Programmer errors (a layer given the wrong shape, a model used before `compile`) panic with a
//! message instead; these errors are for what a correct program can still meet at run time: a
//! missing or damaged file, a file saved from another model, data that does not fit the model.

use std::path::PathBuf;

use thiserror::Error;

use crate::targets::TargetsShape;

/// Outputs and targets that a loss or a metric cannot compare.
///
/// The built-in losses and metrics never broadcast one against the other; the rules are in
/// [`targets`](crate::targets).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{by}: outputs of shape {outputs:?} against {targets}: {expected}")]
pub struct TargetsError {
    /// The loss or metric (`"BinaryCrossentropy"`, `"accuracy"`).
    pub by: String,
    /// The outputs' shape.
    pub outputs: Vec<usize>,
    /// What the targets look like.
    pub targets: TargetsShape,
    /// What was expected, in words.
    pub expected: String,
}

/// A tensor whose shape in a file differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The parameter's name.
    pub name: String,
    /// The model's shape.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub found: Vec<usize>,
}

/// What to do about a failed write, for the kinds of failure a user can fix.
fn io_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | FileTooLarge => {
            ". The disk is full (or the file is over a size limit): free some space or save \
             elsewhere; the file that was there before, if any, is unchanged"
        }
        PermissionDenied | ReadOnlyFilesystem => {
            ". The folder is not writable: save elsewhere; the file that was there before, if \
             any, is unchanged"
        }
        NotADirectory => ". A part of the path is a file, not a folder",
        _ => "",
    }
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

fn describe_mismatch(
    missing: &[String],
    unexpected: &[String],
    shapes: &[ShapeMismatch],
    dtypes: &[(String, String)],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "the model's parameters {} are not in the file",
            list(missing)
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!(
            "the file's tensors {} are not parameters of the model",
            list(unexpected)
        ));
    }
    for s in shapes.iter().take(8) {
        parts.push(format!(
            "'{}' has shape {:?} in the file but {:?} in the model",
            s.name, s.found, s.expected
        ));
    }
    for (name, dtype) in dtypes.iter().take(8) {
        parts.push(format!(
            "'{name}' is stored as {dtype}, which cannot be read as floating point numbers"
        ));
    }
    parts.join("; ")
}

fn damaged_part(tensor: &Option<String>) -> String {
    match tensor {
        Some(name) => format!("the data of tensor '{name}'"),
        None => "the header (the metadata and the tensors' names, types and shapes)".to_string(),
    }
}

/// Why weights could not be saved or loaded.
#[derive(Debug, Error)]
pub enum WeightsError {
    /// Reading, writing or renaming the file failed.
    #[error("cannot {action} '{path}': {source}{hint}", hint = io_hint(.source))]
    Io {
        /// What was being done ("read", "write", "rename to").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error(
        "'{path}' is not a valid safetensors file ({message}); it may be truncated or not a \
         weights file at all: save the weights again with save_weights"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The file's bytes changed after it was written: a tensor's data (or the header) does
    /// not match the SHA-256 digest saved with it. Nothing was loaded.
    #[error(
        "'{path}' is damaged: {} does not match the SHA-256 digest saved with it in the file, \
         so its bytes changed after the file was written (a disk, copy or download error). \
         Nothing was loaded. Use another copy of the file (a backup, the checkpoint before \
         it) or save it again",
        damaged_part(tensor)
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The damaged tensor, or `None` for the header (metadata, names, types, shapes).
        tensor: Option<String>,
    },
    /// The file's tensors do not fit the model. Nothing was loaded.
    #[error(
        "'{path}' does not fit this model: {details}. Nothing was loaded. The file was saved \
         from a model with other layers or sizes: build the same model as the one that saved \
         it (compare the file's names with the model's `named_shapes()`), or load it with \
         `load_weights_partial` to take only the tensors that fit",
        details = describe_mismatch(missing, unexpected, shapes, dtypes)
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Model parameters the file lacks.
        missing: Vec<String>,
        /// File tensors the model lacks.
        unexpected: Vec<String>,
        /// Tensors present in both with different shapes.
        shapes: Vec<ShapeMismatch>,
        /// Tensors whose element type cannot be read (name, type).
        dtypes: Vec<(String, String)>,
    },
    /// Two parameters of the model have the same name, so a file cannot tell them apart.
    #[error(
        "the model has two parameters named '{name}'; give every parameter a distinct name \
         (Sequential names its layers' parameters layer0.weight, layer1.weight, ...)"
    )]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// The safetensors writer refused the data.
    #[error("cannot encode the weights for '{path}': {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What the writer said.
        message: String,
    },
}

/// Why an optimizer state could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OptimizerStateError {
    /// The state was saved by another kind of optimizer.
    #[error(
        "the saved optimizer state is for '{found}' but this optimizer is '{expected}'; compile \
         the model with the same optimizer as the run that saved it"
    )]
    WrongKind {
        /// This optimizer.
        expected: String,
        /// The saved one.
        found: String,
    },
    /// A saved entry this optimizer does not know.
    #[error("the saved '{kind}' state has an entry '{name}' that this optimizer does not know")]
    UnknownEntry {
        /// The saved optimizer kind.
        kind: String,
        /// The entry.
        name: String,
    },
    /// A needed entry is missing.
    #[error("the saved optimizer state lacks '{name}'; the checkpoint is incomplete")]
    MissingEntry {
        /// The entry.
        name: String,
    },
    /// A buffer has another shape than its parameter.
    #[error("the saved optimizer buffer '{name}' has shape {found:?}, its parameter {expected:?}")]
    ShapeMismatch {
        /// The buffer.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The buffer's shape.
        found: Vec<usize>,
    },
}

/// Why a checkpoint could not be saved or restored.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The weights part failed (I/O, format, or a model that does not fit).
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The optimizer part does not fit the model's optimizer.
    #[error("checkpoint '{path}': {source}")]
    Optimizer {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: OptimizerStateError,
    },
    /// The file lacks a record a checkpoint must have.
    #[error(
        "'{path}' is not a tapegrad checkpoint: its '{key}' record is missing or wrong (a file \
         written by save_weights holds weights only; load it with load_weights)"
    )]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// The missing record.
        key: String,
    },
    /// A record has a value that cannot be read.
    #[error("checkpoint '{path}': the record '{key}' = '{value}' cannot be read")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// The record.
        key: String,
        /// Its value.
        value: String,
    },
    /// The model has a different number of random streams (dropout layers) than the checkpoint.
    #[error(
        "checkpoint '{path}' holds {found} random streams but the model has {expected} (one per \
         dropout layer); build the same model as the one that saved it"
    )]
    RandomStreams {
        /// The file.
        path: PathBuf,
        /// The model's count.
        expected: usize,
        /// The file's count.
        found: usize,
    },
    /// The freshly written file did not read back the same; the previous checkpoint was kept.
    #[error(
        "the checkpoint written to '{path}' did not read back correctly ({message}); the \
         previous checkpoint was left in place. Check the disk (space, errors) and save again"
    )]
    Verify {
        /// The temporary file.
        path: PathBuf,
        /// What differed.
        message: String,
    },
}

/// Why a plot could not be drawn.
#[derive(Debug, Error)]
pub enum PlotError {
    /// The file extension names no supported format.
    #[error("cannot plot to '{path}': the file name must end in .png or .svg")]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// There is nothing to plot.
    #[error("nothing to plot: {message}")]
    Empty {
        /// What is missing.
        message: String,
    },
    /// The drawing backend failed.
    #[error("cannot draw '{path}': {message}")]
    Draw {
        /// The file.
        path: PathBuf,
        /// The backend's error.
        message: String,
    },
}

/// Data that does not fit the model, found by [`Model::fit`](crate::model::Model::fit),
/// [`evaluate`](crate::model::Model::evaluate) or [`predict`](crate::model::Model::predict)
/// before they changed anything.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DataError {
    /// The inputs and the targets have different numbers of rows.
    #[error(
        "Model::{call}: {} input rows (inputs of shape {shape:?}) but {targets} targets; inputs \
         and targets need one row per sample",
        shape.first().copied().unwrap_or(0)
    )]
    Lengths {
        /// What was called (`"fit"`, `"fit (validation data)"`, `"evaluate"`).
        call: &'static str,
        /// The inputs' shape.
        shape: Vec<usize>,
        /// The number of targets.
        targets: usize,
    },
    /// The model cannot take inputs of this shape (its layer said why).
    #[error("Model::{call}: the model cannot take inputs of shape {shape:?}: {message}")]
    Input {
        /// What was called.
        call: &'static str,
        /// The inputs' shape.
        shape: Vec<usize>,
        /// What the layer that refused them said.
        message: String,
    },
    /// The loss or a metric cannot compare the model's outputs with the targets.
    #[error("Model::{call}: {source}")]
    Targets {
        /// What was called.
        call: &'static str,
        /// What the loss or metric said.
        #[source]
        source: TargetsError,
    },
}

/// What a panic in `call` left behind: the state the model was put back to.
fn after_panic(call: &str, epoch: &Option<usize>) -> String {
    match epoch {
        Some(done) => format!(
            "the model was put back as it was when the failing epoch began ({done} epochs done: \
             weights, optimizer state, random streams and history); fix the cause and call \
             {call} again to carry on"
        ),
        None => "the model's weights are unchanged".to_string(),
    }
}

/// Why [`Model::fit`](crate::model::Model::fit),
/// [`evaluate`](crate::model::Model::evaluate) or [`predict`](crate::model::Model::predict)
/// stopped with an error.
#[derive(Debug, Error)]
pub enum FitError {
    /// The data does not fit the model; nothing was changed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Something panicked while the model ran (a layer, the loss, a metric, a callback); the
    /// panic was caught on the thread that ran the work and is reported here instead.
    #[error(
        "Model::{call} stopped on a panic: {message}; {}",
        after_panic(call, epoch)
    )]
    Panicked {
        /// What was called (`"fit"`, `"evaluate"`, `"predict"`).
        call: &'static str,
        /// For `fit`: the epochs done in the state the model was put back to.
        epoch: Option<usize>,
        /// The panic's message.
        message: String,
    },
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Weights could not be written or read.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A user callback failed.
    #[error("callback '{callback}' failed: {message}")]
    Callback {
        /// The callback's name.
        callback: String,
        /// What went wrong.
        message: String,
    },
}
