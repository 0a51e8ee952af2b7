//! Helpers every service module shares: typed args of a call, replies that
//! lack what the API promises, and deletes of what is already gone.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::provider::ProviderError;

/// The typed args of a call; the host validated them at plan time, so a
/// failure here means the args changed shape in between.
pub(crate) fn parse<T: DeserializeOwned>(args: &Value, subject: &str) -> Result<T, ProviderError> {
    serde_path_to_error::deserialize(args.clone()).map_err(|e| {
        ProviderError::new(format!(
            "{subject}: invalid arguments at `{}`: {}",
            e.path(),
            e.inner()
        ))
        .with_code("InvalidArguments")
    })
}

/// A reply that lacks what the API promises.
pub(crate) fn incomplete(subject: &str, action: &str, what: &str) -> ProviderError {
    ProviderError::new(format!("{subject}: {action} answered without {what}"))
        .with_code("IncompleteResponse")
}

/// Deleting what is already gone succeeds (whatever the call answered).
pub(crate) fn gone_is_ok<T>(result: Result<T, ProviderError>) -> Result<(), ProviderError> {
    found(result).map(drop)
}

/// `Ok(None)` for a resource that does not exist.
pub(crate) fn found<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if super::error::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
