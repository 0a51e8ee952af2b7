//! Polls a Lattice resource until it settles (created, or gone after a
//! delete), reporting its status through the operation's progress callback.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::provider::aws::call::{found, gone_is_ok};
use crate::provider::{ProgressFn, ProviderError};

/// Lattice settles associations and deletions within minutes.
pub(super) const TIMEOUT: Duration = Duration::from_secs(600);

/// Polls until `poll` answers `None` (settled); `Some(status)` means still
/// changing. Intervals grow from 0.5 s to 10 s.
pub(super) async fn until<F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    mut poll: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    let start = Instant::now();
    let mut interval = Duration::from_millis(500);
    loop {
        let Some(status) = poll().await? else {
            return Ok(());
        };
        let elapsed = start.elapsed().as_secs();
        progress(&format!("{status} ({elapsed}s)"));
        if start.elapsed() >= TIMEOUT {
            return Err(ProviderError::new(format!(
                "{subject}: still `{status}` after {elapsed}s"
            ))
            .with_code("WaitTimeout")
            .with_fix(
                "AWS is slow to settle it: run apply again later, it picks up where it stopped",
            )
            .retryable());
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(10));
    }
}

/// A status that ends a wait for creation in failure.
pub(super) fn failed(subject: &str, status: &str) -> ProviderError {
    ProviderError::new(format!("{subject}: Lattice reports `{status}`"))
        .with_code(status.to_string())
        .with_fix("the resource could not be created: check its arguments and the Lattice console, then apply again")
}

/// After an asynchronous Delete: done at once when the resource was already
/// gone, else polls (as [`until`]) until Get says it is.
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
    if found(sent)?.is_none() {
        return Ok(());
    }
    gone_is_ok(until(progress, subject, poll).await)
}
