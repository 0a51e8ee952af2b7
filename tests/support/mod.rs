//! Shared test harness: the AWS emulator and helpers to drive providers.

pub mod moto;
pub mod stack;
