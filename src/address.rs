//! `Address`: the one key for a resource in the graph, the plan and the state.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `kind.purpose`, e.g. `aws.ec2.subnet.private-a`.
///
/// The kind is everything before the last dot (`aws.ec2.subnet`); the purpose
/// is the program's name for the resource (`private-a`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    kind: String,
    purpose: String,
}

impl Address {
    pub fn new(kind: &str, purpose: &str) -> Result<Self, String> {
        validate_purpose(purpose)?;
        Ok(Self {
            kind: kind.to_string(),
            purpose: purpose.to_string(),
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn purpose(&self) -> &str {
        &self.purpose
    }
}

/// A purpose becomes part of physical names, so it keeps to what every AWS
/// and Kubernetes name accepts: lower-case letters, digits and inner dashes.
pub fn validate_purpose(purpose: &str) -> Result<(), String> {
    let ok_chars = purpose
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if purpose.is_empty()
        || !ok_chars
        || purpose.starts_with('-')
        || purpose.ends_with('-')
        || !purpose.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(format!(
            "`{purpose}` is not a valid resource name: use lower-case letters, digits and inner dashes, e.g. `private-a`"
        ));
    }
    Ok(())
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.purpose)
    }
}

impl TryFrom<String> for Address {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, purpose) = s.rsplit_once('.').ok_or_else(|| {
            format!("`{s}` is not an address: expected `kind.purpose`, e.g. `aws.ec2.vpc.main`")
        })?;
        if kind.is_empty() {
            return Err(format!("`{s}` has no kind: expected `kind.purpose`"));
        }
        Address::new(kind, purpose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let a: Address = "aws.ec2.subnet.private-a".parse().unwrap();
        assert_eq!(a.kind(), "aws.ec2.subnet");
        assert_eq!(a.purpose(), "private-a");
        assert_eq!(a.to_string(), "aws.ec2.subnet.private-a");
    }

    #[test]
    fn rejects_bad_purpose() {
        assert!(Address::new("aws.ec2.vpc", "Main").is_err());
        assert!(Address::new("aws.ec2.vpc", "-a").is_err());
        assert!(Address::new("aws.ec2.vpc", "").is_err());
    }
}
