//! The integration tests: one binary, a module per feature.

mod support;

mod cli;
mod engine;
mod k8s;
mod k8s_validate;
mod script_errors;
