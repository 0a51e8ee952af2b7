//! The integration tests: one binary, a module per feature.

mod support;

mod adopt;
mod aws_appmesh;
mod aws_eks;
mod aws_lattice;
mod aws_network;
mod aws_platform;
mod aws_s3;
mod aws_security;
mod awscc;
mod brownfield;
mod checks;
mod cli;
mod confinement;
mod docs;
mod engine;
mod exactly_once;
mod k8s;
mod k8s_tokens;
mod k8s_validate;
mod launcher_selftests;
mod payment_e2e;
mod payment_program;
mod pci;
mod program_tests;
mod protect;
mod refresh;
mod sandbox;
mod script_errors;
mod team_state;
mod terminal_view;
mod value_checks;
