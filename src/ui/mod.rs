//! Views: everything payrun shows a person: the plan and its findings,
//! program diagnostics, colour, and the apply hooks (terminal progress bars, plain timestamped
//! lines, JSON events).

mod diagnostic;
mod json;
mod plain;
mod plan_view;
mod progress;
mod style;

pub use diagnostic::render_diagnostic;
pub use json::JsonView;
pub use plain::PlainView;
pub use plan_view::{render_findings, render_plan};
pub use progress::TerminalView;
pub use style::Style;
