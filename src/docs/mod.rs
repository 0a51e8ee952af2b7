//! The reference, generated from what payrun declares: every kind's
//! properties and outputs (from its schema and its args struct) and every
//! stdlib module's functions (from their doc comments), as text, as JSON,
//! as the README's kinds table and as `.d.rhai` definitions.

pub mod awscc;
mod kinds;
mod readme;

pub use kinds::{KindDoc, PropertyDoc, kind_docs, render_kind, render_kind_list};
pub use readme::{README_BEGIN, README_END, kinds_table, with_kinds_table};
