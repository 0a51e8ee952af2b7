//! payrun: a Rhai program declares AWS and Kubernetes resources; payrun turns
//! them into a dependency graph, plans against recorded and live state, and
//! applies the plan in dependency order.

pub mod address;
pub mod apply;
pub mod check;
pub mod cidr;
pub mod cli;
pub mod docs;
pub mod eks_versions;
pub mod error;
pub mod finding;
pub mod graph;
pub mod kube_quantity;
pub mod plan;
pub mod provider;
pub mod redact;
pub mod script;
pub mod stage;
pub mod state;
pub mod suggest;
pub mod ui;
pub mod value;

pub use cli::run;
