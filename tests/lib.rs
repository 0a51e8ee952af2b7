//! The integration tests: one binary, a module per feature.

mod aws_network;
mod support;
