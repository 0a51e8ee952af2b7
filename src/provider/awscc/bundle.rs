//! The CloudFormation resource schemas the `awscc` kinds are made from,
//! embedded: `schemas.bin`, which `scripts/cfn-schemas` rebuilds byte for
//! byte from a pinned cfn-lint release. An index of the type names, then
//! each type's schema compressed alone, so a program pays only for the
//! types it uses (a few kilobytes each), not for the 12 MB of them all.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

static BYTES: &[u8] = include_bytes!("schemas.bin");

const MAGIC: &[u8] = b"payrun-cfn-schemas 1\n";

/// The bundle's index.
#[derive(Debug, Deserialize)]
pub struct Bundle {
    /// The cfn-lint release the schemas come from.
    pub cfn_lint: String,
    pub region: String,
    /// When the CloudFormation registry gave them to cfn-lint.
    pub schema_date: String,
    /// (type name, offset, length) of each schema in the blob, by name.
    types: Vec<(String, usize, usize)>,
    #[serde(skip)]
    blob: usize,
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let rest = BYTES
        .strip_prefix(MAGIC)
        .expect("schemas.bin starts with its magic line");
    let len = u32::from_le_bytes(rest[..4].try_into().expect("four bytes")) as usize;
    let mut bundle: Bundle =
        serde_json::from_slice(&rest[4..4 + len]).expect("schemas.bin's index is JSON");
    bundle.blob = MAGIC.len() + 4 + len;
    bundle
});

/// The embedded bundle.
pub fn bundle() -> &'static Bundle {
    &BUNDLE
}

impl Bundle {
    /// Every type that is a kind, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.types.iter().map(|(t, _, _)| t.as_str())
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The schema of `type_name` (`AWS::SQS::Queue`).
    pub fn schema(&self, type_name: &str) -> Option<Value> {
        let i = self
            .types
            .binary_search_by(|(t, _, _)| t.as_str().cmp(type_name))
            .ok()?;
        let (_, offset, len) = &self.types[i];
        let start = self.blob + offset;
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&BYTES[start..start + len])
            .expect("each schema of schemas.bin inflates");
        Some(serde_json::from_slice(&raw).expect("each schema of schemas.bin is JSON"))
    }
}

#[cfg(test)]
mod tests {
    use super::bundle;

    #[test]
    fn the_bundle_holds_the_provisionable_types() {
        let b = bundle();
        assert_eq!(b.region, "us-east-1");
        assert!(b.len() > 1500, "{}", b.len());
        let names: Vec<&str> = b.type_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let queue = b.schema("AWS::SQS::Queue").unwrap();
        assert_eq!(queue["typeName"], "AWS::SQS::Queue");
        assert!(queue["handlers"]["create"].is_object());
        assert!(b.schema("AWS::Nothing::Here").is_none());
    }
}
