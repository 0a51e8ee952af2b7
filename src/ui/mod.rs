//! Views: colour, the plan renderer's style, and the apply hooks (terminal
//! progress bars, plain timestamped lines, JSON events).

mod json;
mod plain;
mod progress;
mod style;

pub use json::JsonView;
pub use plain::PlainView;
pub use progress::TerminalView;
pub use style::Style;
