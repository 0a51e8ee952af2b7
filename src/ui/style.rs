//! `Style`: ANSI colour, off when NO_COLOR is set or output is not a terminal.

#[derive(Clone, Copy, Debug)]
pub struct Style {
    colour: bool,
}

impl Style {
    pub const GREEN: &'static str = "32";
    pub const YELLOW: &'static str = "33";
    pub const RED: &'static str = "31";

    pub fn new(colour: bool) -> Self {
        Self { colour }
    }

    pub fn plain() -> Self {
        Self { colour: false }
    }

    /// Colour for stdout unless NO_COLOR (any value) or `--no-color`.
    pub fn detect(no_color_flag: bool) -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            colour: !no_color_flag && !no_color && std::io::stdout().is_terminal(),
        }
    }

    pub fn colour(&self) -> bool {
        self.colour
    }

    pub fn paint(&self, code: &str, s: &str) -> String {
        if self.colour && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}
