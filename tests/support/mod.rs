//! Test support: an in-process engine harness (over the fake test provider
//! or any registry), the real binary in a temp directory, the AWS emulator
//! (moto server) and helpers to drive providers directly, and stand-ins for
//! the Kubernetes API and the `helm` CLI.

pub mod bin;
pub mod engine;
pub mod fault;
pub mod helm_standin;
pub mod kube_standin;
pub mod moto;
pub mod on_moto;
pub mod sandbox;
pub mod stack;
pub mod team;
