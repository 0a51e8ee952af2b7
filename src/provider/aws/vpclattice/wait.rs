//! Polls a Lattice resource until it settles (created, or gone after a
//! delete), through the provider's one poller (`aws::wait`), reporting its
//! status through the operation's progress callback.

use std::future::Future;
use std::time::Duration;

use crate::provider::aws::wait::{self, Poll};
use crate::provider::{ProgressFn, ProviderError};

/// Lattice settles associations and deletions within minutes.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Polls until `poll` answers `None` (settled); `Some(status)` means still
/// changing.
pub(super) async fn until<F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    mut poll: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    wait::until(progress, subject, TIMEOUT, || {
        let polled = poll();
        async move {
            Ok(match polled.await? {
                Some(status) => Poll::Pending(status),
                None => Poll::Ready(()),
            })
        }
    })
    .await
}

/// After a create that did not answer ACTIVE: polls `status` (the
/// resource's status, `None` while Get does not find it yet) until it is
/// ACTIVE; a `..._FAILED` status ends the wait in failure.
pub(super) async fn until_active<F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    mut status: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    until(progress, subject, || {
        let polled = status();
        async move {
            match polled.await?.as_deref() {
                Some("ACTIVE") => Ok(None),
                Some(s) if s.ends_with("FAILED") => Err(failed(subject, s)),
                Some(s) => Ok(Some(s.to_string())),
                None => Ok(Some("NOT_FOUND_YET".into())),
            }
        }
    })
    .await
}

/// A status that ends a wait for creation in failure.
fn failed(subject: &str, status: &str) -> ProviderError {
    ProviderError::new(format!("{subject}: Lattice reports `{status}`"))
        .with_code(status.to_string())
        .with_fix("the resource could not be created: check its arguments and the Lattice console, then apply again")
}

/// After an asynchronous Delete: done at once when the resource was already
/// gone, else polls until Get says it is.
pub(super) async fn deleted<T, F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    sent: Result<T, ProviderError>,
    poll: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    wait::until_deleted(progress, subject, TIMEOUT, sent, poll).await
}
