//! The autograd crate's integration tests.
//! A single test binary: every file here is a module of it, so the crate and its
//! dependencies are linked (and their generic code compiled) once, not once per file.

mod anomaly;
mod check_model;
mod check_model_second_order;
mod custom_op;
mod dispatch;
mod engine;
mod handles;
mod inspect;
mod properties;
mod registry;
mod training;
