//! `ApiCalls`: an SDK interceptor counting the operations sent, so tests can
//! check that refresh stays batched.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Operations sent, by name; clones share the counts.
#[derive(Clone, Debug, Default)]
pub(super) struct ApiCalls {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl ApiCalls {
    pub(super) fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "payrun.ApiCalls"
    }

    // Runs once per operation, retries included, and late enough for the
    // operation's metadata to be in the bag (client-level interceptors see
    // `read_before_execution` before the operation config is applied).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            *self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(meta.name().to_string())
                .or_default() += 1;
        }
        Ok(())
    }
}
