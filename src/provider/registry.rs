//! `Registry`: which provider serves which kind, and every kind's schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{KindSchema, Provider};

/// Providers keyed by the first segment of a kind (`aws`, `k8s`, `fake`).
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    schemas: BTreeMap<&'static str, &'static KindSchema>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve every kind of `provider`'s schemas; their kinds must start with
    /// `prefix.`.
    pub fn with(mut self, prefix: &str, provider: Arc<dyn Provider>) -> Self {
        for schema in provider.schemas() {
            debug_assert!(schema.kind.starts_with(&format!("{prefix}.")));
            self.schemas.insert(schema.kind, schema);
        }
        self.providers.insert(prefix.to_string(), provider);
        self
    }

    pub fn schema(&self, kind: &str) -> Option<&'static KindSchema> {
        self.schemas.get(kind).copied()
    }

    pub fn schemas(&self) -> impl Iterator<Item = &'static KindSchema> + '_ {
        self.schemas.values().copied()
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.schemas.keys().copied()
    }

    pub fn provider(&self, kind: &str) -> Option<&Arc<dyn Provider>> {
        let prefix = kind.split('.').next()?;
        self.providers.get(prefix)
    }
}
