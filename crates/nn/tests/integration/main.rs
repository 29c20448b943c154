//! The nn crate's integration tests (those that run themselves as a child process have
//! binaries of their own).
//! A single test binary: every file here is a module of it, so the crate and its
//! dependencies are linked (and their generic code compiled) once, not once per file.

mod damaged_files;
mod fit_errors;
mod layers;
mod model_fit;
mod safetensors_io;
mod shared_and_labels;
mod targets_fit_outputs;
