//! Polls a resource until it settles, reporting its state and the time
//! spent through the operation's progress callback.

use std::future::Future;
use std::time::{Duration, Instant};

use super::call::{found, gone_is_ok};
use crate::provider::{ProgressFn, ProviderError};

pub(crate) enum Poll<T> {
    Ready(T),
    /// Still changing; the state AWS reports.
    Pending(String),
}

/// Polls until `poll` is ready, at growing intervals up to 10 s.
pub(crate) async fn until<T, F, Fut>(
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

/// After an asynchronous delete call (`sent`): done at once when the
/// resource was already gone, else polls (as [`until`]) until `status`
/// answers `None`; `Some(status)` is what the resource reports meanwhile. A
/// poll that finds the resource gone mid-wait (NotFound) also ends it.
pub(crate) async fn until_deleted<S, F, Fut>(
    progress: &ProgressFn,
    subject: &str,
    timeout: Duration,
    sent: Result<S, ProviderError>,
    mut status: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    if found(sent)?.is_none() {
        return Ok(());
    }
    gone_is_ok(
        until(progress, subject, timeout, || {
            let polled = status();
            async move {
                Ok(match polled.await? {
                    Some(state) => Poll::Pending(state),
                    None => Poll::Ready(()),
                })
            }
        })
        .await,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    // moto makes NAT gateways available at once, so the progress a slow
    // gateway reports is checked here.
    #[tokio::test]
    async fn reports_state_and_elapsed_seconds_until_ready() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let progress: ProgressFn = Arc::new(move |m: &str| sink.lock().unwrap().push(m.into()));
        let mut polls = 0;
        let got = until(
            &progress,
            "aws.ec2.nat_gateway.a",
            Duration::from_secs(60),
            || {
                polls += 1;
                let n = polls;
                async move {
                    Ok(if n < 3 {
                        Poll::Pending("pending".into())
                    } else {
                        Poll::Ready(n)
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(got, 3);
        assert_eq!(*seen.lock().unwrap(), ["pending (0s)", "pending (0s)"]);
    }

    #[tokio::test]
    async fn gives_up_with_a_retryable_error() {
        let progress: ProgressFn = Arc::new(|_: &str| {});
        let err = until(
            &progress,
            "aws.ec2.nat_gateway.a",
            Duration::from_millis(600),
            || async { Ok(Poll::<()>::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("WaitTimeout"));
        assert!(err.retryable);
        assert!(
            err.message
                .starts_with("aws.ec2.nat_gateway.a: still `pending` after 1s"),
            "{err}"
        );
    }
}
