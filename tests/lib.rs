//! The integration tests: one binary, a module per feature.

mod support;

mod cli;
mod engine;
mod script_errors;
