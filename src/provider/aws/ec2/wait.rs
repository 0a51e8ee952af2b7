//! Polls a resource until it settles, reporting its state and the time
//! spent through the operation's progress callback.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::provider::{ProgressFn, ProviderError};

pub(super) enum Poll<T> {
    Ready(T),
    /// Still changing; the state AWS reports.
    Pending(String),
}

/// Polls until `poll` is ready, at growing intervals up to 10 s.
pub(super) async fn until<T, F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    timeout: Duration,
    mut poll: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let start = Instant::now();
    let mut interval = Duration::from_millis(500);
    loop {
        let state = match poll().await? {
            Poll::Ready(t) => return Ok(t),
            Poll::Pending(state) => state,
        };
        let elapsed = start.elapsed().as_secs();
        progress(&format!("{state} ({elapsed}s)"));
        if start.elapsed() >= timeout {
            return Err(ProviderError::new(format!(
                "{subject}: still `{state}` after {elapsed}s"
            ))
            .with_code("WaitTimeout")
            .with_fix("AWS is slow to settle it: run apply again later, it picks up where it stopped")
            .retryable());
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(10));
    }
}
