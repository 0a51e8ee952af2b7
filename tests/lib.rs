//! The integration tests: one binary, a module per feature.

mod support;

mod aws_lattice;
mod aws_network;
mod aws_platform;
mod cli;
mod engine;
mod k8s;
mod k8s_validate;
mod script_errors;
