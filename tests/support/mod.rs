//! Test support: an in-process engine harness over the fake test provider,
//! and the real binary in a temp directory.

pub mod bin;
pub mod engine;
