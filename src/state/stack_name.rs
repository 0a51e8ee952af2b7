//! Stack names: `<program>.<suffix>`. A program's name holds letters,
//! digits, `-` and `_`, a suffix lower-case letters, digits and dashes, so
//! the `.` between them cannot occur in either: `payment-eu.rhai --suffix
//! prod` (`payment-eu.prod`) and `payment.rhai --suffix eu-prod`
//! (`payment.eu-prod`) are two stacks, with two state files and locks.

use crate::address::validate_purpose;

pub const SEPARATOR: char = '.';

#[derive(Debug, thiserror::Error)]
pub enum StackNameError {
    #[error(
        "program {file}: its name `{stem}` may hold only letters, digits, `-` and `_` (`.` separates the program from the suffix in the stack name)\n  fix: rename it, e.g. `mv {file} {renamed}`"
    )]
    Program {
        file: String,
        stem: String,
        renamed: String,
    },
    #[error("`{0}` is not a payrun stack name (`<program>.<suffix>`, e.g. `payment.prod`)")]
    Invalid(String),
}

fn program_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The stack of program file `file` (whose stem is `stem`) with `suffix`
/// (already checked as a suffix).
pub fn stack_name(file: &str, stem: &str, suffix: &str) -> Result<String, StackNameError> {
    if stem.is_empty() || !stem.chars().all(program_char) {
        let clean: String = stem
            .chars()
            .map(|c| if program_char(c) { c } else { '-' })
            .collect();
        let renamed = match file.rsplit_once(stem) {
            Some((dir, ext)) => format!("{dir}{clean}{ext}"),
            None => format!("{clean}.rhai"),
        };
        return Err(StackNameError::Program {
            file: file.to_string(),
            stem: stem.to_string(),
            renamed,
        });
    }
    Ok(format!("{stem}{SEPARATOR}{suffix}"))
}

/// Is `name` a stack name payrun makes? A saved plan's stack names the
/// state, lock and key files: no path separator or `..` gets through.
pub fn validate_stack_name(name: &str) -> Result<(), StackNameError> {
    let ok = name.split_once(SEPARATOR).is_some_and(|(program, suffix)| {
        !program.is_empty() && program.chars().all(program_char) && validate_purpose(suffix).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(StackNameError::Invalid(name.to_string()))
    }
}

/// The name the stack's files had before stack names had a separator of
/// their own (`payment-prod`).
pub fn legacy_name(stack: &str) -> Option<String> {
    let (program, suffix) = stack.split_once(SEPARATOR)?;
    Some(format!("{program}-{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_in_program_and_suffix_make_distinct_stacks() {
        let a = stack_name("payment-eu.rhai", "payment-eu", "prod").unwrap();
        let b = stack_name("payment.rhai", "payment", "eu-prod").unwrap();
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("payment-eu.prod", "payment.eu-prod")
        );
        assert!(validate_stack_name(&a).is_ok());
        assert!(validate_stack_name(&b).is_ok());
    }

    #[test]
    fn a_program_name_with_the_separator_is_refused() {
        let err = stack_name("programs/payment.v2.rhai", "payment.v2", "qa")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "program programs/payment.v2.rhai: its name `payment.v2` may hold only letters, digits, `-` and `_` (`.` separates the program from the suffix in the stack name)\n  fix: rename it, e.g. `mv programs/payment.v2.rhai programs/payment-v2.rhai`"
        );
    }

    #[test]
    fn paths_are_not_stack_names() {
        for bad in [
            "../x.qa",
            "a/b.qa",
            "main.qa/../../etc",
            "main",
            "main.QA",
            ".qa",
            "main.q.a",
        ] {
            assert!(validate_stack_name(bad).is_err(), "{bad}");
        }
    }
}
