//! payrun: a Rhai program declares AWS and Kubernetes resources; payrun turns
//! them into a dependency graph, plans against recorded and live state, and
//! applies the plan in dependency order.

pub mod address;
pub mod provider;
pub mod value;
