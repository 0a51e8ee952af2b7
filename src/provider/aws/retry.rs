//! `RetryPolicy`: which SDK calls the SDK may retry on its own, and for how
//! long.
//!
//! A call that creates something (CreateVpc, AllocateAddress, an
//! Authorize or Associate...) is sent once: if its reply is lost or the
//! service answers 5xx, the SDK cannot know whether the resource was made,
//! and a blind re-send makes a second one. The caller (the executor) looks
//! for what the first attempt may have made before it tries again.
//! Reads and idempotent calls are retried with the SDK's adaptive, jittered
//! backoff until a time budget per call runs out, not after a fixed number
//! of attempts.

use std::time::{Duration, Instant};

use aws_smithy_runtime::client::retries::{ClientRateLimiter, RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;

/// The default time a read may keep retrying.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

/// Attempts of one call at the most; the budget ends it sooner. (Bounded:
/// the SDK sums a backoff series over it for its credential timeout.)
const MAX_ATTEMPTS: u32 = 64;

/// Longest single wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// An SDK interceptor that settles, per call, whether and how long the SDK
/// retries it.
#[derive(Clone, Debug)]
pub(crate) struct RetryPolicy {
    budget: Duration,
}

/// When the call's first attempt started.
#[derive(Clone, Copy, Debug)]
struct CallStarted(Instant);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

impl RetryPolicy {
    pub(crate) fn new(budget: Duration) -> Self {
        Self { budget }
    }

    /// Each service retries in its own partition, with no retry quota:
    /// under sustained throttling the budget, not a shared token bucket,
    /// decides when to give up (the adaptive rate limiter still slows every
    /// call of the partition down).
    pub(crate) fn partition(service: &'static str) -> RetryPartition {
        // The limiter starts from now: one built with its defaults starts at
        // the epoch and spins computing its first window.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        RetryPartition::custom(format!("payrun-{service}"))
            .token_bucket(TokenBucket::unlimited())
            .client_rate_limiter(ClientRateLimiter::new(now))
            .build()
    }
}

/// Operations that make something new each time they are sent: their
/// outcome after a lost reply is unknown, so they are never re-sent blindly.
pub(crate) fn makes_something(operation: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Create",
        "Allocate",
        "Authorize",
        "Associate",
        "Attach",
        "Run",
        "Request",
        "Import",
        "Register",
        "Replace",
        "Copy",
        "Start",
    ];
    // Tagging sets a value: sending it twice is harmless; Cloud Control's
    // writes carry a client token and answer the first request again.
    let idempotent = operation == "CreateTags" || super::cloudcontrol::idempotent(operation);
    !idempotent && PREFIXES.iter().any(|p| operation.starts_with(p))
        || operation == "UpdateClusterVersion"
}

impl Intercept for RetryPolicy {
    fn name(&self) -> &'static str {
        "payrun.RetryPolicy"
    }

    fn modify_before_retry_loop(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let once = cfg
            .load::<Metadata>()
            .is_some_and(|m| makes_something(m.name()));
        let retry = if once {
            RetryConfig::adaptive().with_max_attempts(1)
        } else {
            RetryConfig::adaptive()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_max_backoff(MAX_BACKOFF)
        };
        let layer = cfg.interceptor_state();
        layer.store_put(retry);
        layer.store_put(CallStarted(Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(started) = cfg.load::<CallStarted>().copied() else {
            return Ok(());
        };
        if started.0.elapsed() >= self.budget {
            let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
            cfg.interceptor_state()
                .store_put(RetryConfig::adaptive().with_max_attempts(attempts.max(1)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::makes_something;

    #[test]
    fn creates_are_sent_once_reads_and_modifies_retry() {
        for op in [
            "CreateVpc",
            "AllocateAddress",
            "AuthorizeSecurityGroupEgress",
            "AssociateRouteTable",
            "AttachInternetGateway",
            "ReplaceNetworkAclAssociation",
            "UpdateClusterVersion",
        ] {
            assert!(makes_something(op), "{op}");
        }
        for op in [
            "DescribeVpcs",
            "ModifySubnetAttribute",
            "DeleteVpc",
            "CreateTags",
        ] {
            assert!(!makes_something(op), "{op} is retried");
        }
    }
}
