//! `Address`: the one key for a resource in the graph, the plan and the state.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// `kind.purpose`, e.g. `aws.ec2.subnet.private-a`.
///
/// The kind is everything before the last dot (`aws.ec2.subnet`); the purpose
/// is the program's name for the resource (`private-a`).
///
/// One shared string: a clone (the graph, the plan and the state each hold
/// every address) is a reference count, not two copies.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Address {
    /// `kind.purpose`.
    full: Arc<str>,
    /// Where the purpose starts.
    purpose_at: usize,
}

impl Address {
    pub fn new(kind: &str, purpose: &str) -> Result<Self, String> {
        validate_purpose(purpose)?;
        Ok(Self {
            full: format!("{kind}.{purpose}").into(),
            purpose_at: kind.len() + 1,
        })
    }

    pub fn kind(&self) -> &str {
        &self.full[..self.purpose_at - 1]
    }

    pub fn purpose(&self) -> &str {
        &self.full[self.purpose_at..]
    }

    /// `kind.purpose`, as written.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.full, &other.full) || self.full == other.full
    }
}

impl Eq for Address {}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.full.hash(state);
    }
}

/// As text: by kind, then purpose (no kind is another's dotted prefix).
impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.full.cmp(&other.full)
    }
}

/// Maps keyed by address are looked up by its text, with nothing parsed
/// or allocated: hash, equality and order are the text's.
impl std::borrow::Borrow<str> for Address {
    fn borrow(&self) -> &str {
        &self.full
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("kind", &self.kind())
            .field("purpose", &self.purpose())
            .finish()
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

/// A map keyed by address, with a fast hash: addresses come from the
/// program and the state, not from anyone who could choose them to collide.
pub type AddressMap<V> = std::collections::HashMap<Address, V, foldhash::fast::RandomState>;

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
        f.write_str(&self.full)
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
        a.full.to_string()
    }
}

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, purpose) = split(s)?;
        Address::new(kind, purpose)
    }
}

/// An address's text as (kind, purpose), checked, nothing allocated unless
/// it is wrong.
pub fn split(s: &str) -> Result<(&str, &str), String> {
    let (kind, purpose) = s.rsplit_once('.').ok_or_else(|| {
        format!("`{s}` is not an address: expected `kind.purpose`, e.g. `aws.ec2.vpc.main`")
    })?;
    if kind.is_empty() {
        return Err(format!("`{s}` has no kind: expected `kind.purpose`"));
    }
    validate_purpose(purpose)?;
    Ok((kind, purpose))
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
    fn equal_hash_and_order_are_the_texts() {
        use std::collections::{BTreeMap, HashMap};
        let a: Address = "aws.ec2.route.a".parse().unwrap();
        let b: Address = "aws.ec2.route_table.a".parse().unwrap();
        assert!(a < b, "by kind first");
        assert_eq!(a, a.to_string().parse::<Address>().unwrap());
        let hashed: HashMap<Address, u8> = [(a.clone(), 1), (b.clone(), 2)].into();
        let ordered: BTreeMap<Address, u8> = [(a.clone(), 1), (b.clone(), 2)].into();
        assert_eq!(hashed.get("aws.ec2.route_table.a"), Some(&2));
        assert_eq!(ordered.get("aws.ec2.route.a"), Some(&1));
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            "\"aws.ec2.route_table.a\""
        );
        assert_eq!(
            format!("{a:?}"),
            r#"Address { kind: "aws.ec2.route", purpose: "a" }"#
        );
    }

    #[test]
    fn rejects_bad_purpose() {
        assert!(Address::new("aws.ec2.vpc", "Main").is_err());
        assert!(Address::new("aws.ec2.vpc", "-a").is_err());
        assert!(Address::new("aws.ec2.vpc", "").is_err());
    }
}
