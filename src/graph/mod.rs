//! Graph: the program's resources as a dependency graph (petgraph); edges
//! from refs and `depends_on`; dangling refs and cycles are script errors.

mod desired;

pub use desired::DesiredGraph;
