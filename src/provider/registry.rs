//! `Registry`: which provider serves which kind, and every kind's schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{KindSchema, PlatformFacts, Provider};

/// Providers keyed by the first segment of a kind (`aws`, `k8s`, `fake`).
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    schemas: BTreeMap<&'static str, &'static KindSchema>,
    facts: Option<Arc<dyn PlatformFacts>>,
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

    /// Every provider, by the prefix of its kinds.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &Arc<dyn Provider>)> {
        self.providers.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Ask `facts` for what the checks judge programs by.
    #[must_use]
    pub fn with_facts(mut self, facts: Arc<dyn PlatformFacts>) -> Self {
        self.facts = Some(facts);
        self
    }

    /// The EKS release calendar from the provider that can read it, or
    /// `None` when no provider can.
    pub async fn eks_calendar(&self, today: &str) -> Option<crate::eks_versions::Calendar> {
        Some(self.facts.as_ref()?.eks_calendar(today).await)
    }

    /// The schema of `kind`: declared when its provider was added, or made
    /// by its provider on first use (the generated `awscc` kinds).
    pub fn schema(&self, kind: &str) -> Option<&'static KindSchema> {
        self.schemas
            .get(kind)
            .copied()
            .or_else(|| self.provider(kind)?.schema(kind))
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
