//! The datasets crate's integration tests (the one that runs itself as a child process has
//! a binary of its own).
//! A single test binary: every file here is a module of it, so the crate and its
//! dependencies are linked (and their generic code compiled) once, not once per file.

mod common;
mod download;
mod idx;
mod preprocessing;
mod real_data;
