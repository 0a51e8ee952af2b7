//! The AWS Cloud Control API, for the generated `awscc` kinds: every
//! CloudFormation type through one set of calls. A write (create, update,
//! delete) answers a request, followed here until it succeeds or fails;
//! each carries a client token, so a write re-sent after a lost reply
//! answers the first request rather than making a second resource.

use std::time::{Duration, Instant};

use aws_sdk_cloudcontrol::Client;
use aws_sdk_cloudcontrol::types::{
    Operation, OperationStatus, ProgressEvent, ResourceRequestStatusFilter,
};
use serde_json::Value;

use super::AwsProvider;
use super::dispatch::Service;
use super::error::AwsResultExt;
use crate::provider::{ProgressFn, ProviderError};

/// The Cloud Control client, built on first use with the provider's
/// settings.
pub(crate) async fn client(aws: &AwsProvider) -> &Client {
    <Client as Service>::of(aws).await
}

/// How long a request is followed at the most (CloudFormation gives a
/// handler hours at most; a cluster or a distribution takes half of one).
const SETTLE: Duration = Duration::from_secs(2 * 60 * 60);

/// What a finished request says.
#[derive(Clone, Debug)]
pub(crate) struct Done {
    pub identifier: String,
    pub model: Option<Value>,
}

/// A request that failed, in the cloud's words.
fn failed(subject: &str, type_name: &str, e: &ProgressEvent) -> ProviderError {
    let code = e.error_code().map_or("Failed", |c| c.as_str()).to_string();
    let op = e.operation().map_or("request", |o| o.as_str());
    let message = e.status_message().unwrap_or("no message");
    // Worth trying again: the service was busy or broke, not the request.
    let retryable = matches!(
        code.as_str(),
        "Throttling"
            | "ServiceInternalError"
            | "NetworkFailure"
            | "InternalFailure"
            | "NotStabilized"
            | "ServiceTimeout"
            | "GeneralServiceException"
    );
    let code = match code.as_str() {
        // The executor's word for "it exists already: look for it".
        "AlreadyExists" => "AlreadyExistsException".to_string(),
        _ => code,
    };
    let mut err = ProviderError::new(format!(
        "{subject}: Cloud Control {op} of {type_name} failed: {code}: {message}"
    ))
    .with_code(code);
    if retryable {
        err = err.retryable();
    }
    err
}

/// Follows the request of `started` until it succeeds (its identifier and
/// model) or fails (an error naming the type and the handler's message),
/// polling with backoff and reporting its status.
pub(crate) async fn settle(
    cc: &Client,
    progress: &ProgressFn,
    subject: &str,
    type_name: &str,
    started: ProgressEvent,
) -> Result<Done, ProviderError> {
    let deadline = Instant::now() + SETTLE;
    let mut event = started;
    let mut pause = Duration::from_millis(200);
    loop {
        match event.operation_status() {
            Some(OperationStatus::Success) => {
                return Ok(Done {
                    identifier: event.identifier().unwrap_or_default().to_string(),
                    model: event
                        .resource_model()
                        .and_then(|m| serde_json::from_str(m).ok()),
                });
            }
            Some(OperationStatus::Failed | OperationStatus::CancelComplete) => {
                return Err(failed(subject, type_name, &event));
            }
            other => progress(&format!(
                "Cloud Control: {}",
                other.map_or("PENDING", OperationStatus::as_str)
            )),
        }
        if Instant::now() >= deadline {
            return Err(ProviderError::new(format!(
                "{subject}: the Cloud Control request {} of {type_name} did not finish in {} minutes",
                event.request_token().unwrap_or_default(),
                SETTLE.as_secs() / 60
            ))
            .with_code("Timeout")
            .retryable());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(5));
        let token = event.request_token().unwrap_or_default().to_string();
        event = cc
            .get_resource_request_status()
            .request_token(&token)
            .send()
            .await
            .or_fail(subject, "cloudformation:GetResourceRequestStatus")?
            .progress_event()
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "{subject}: GetResourceRequestStatus answered no event"
                ))
            })?;
    }
}

/// CreateResource with the intent's client token, followed to its end.
pub(crate) async fn create(
    cc: &Client,
    progress: &ProgressFn,
    subject: &str,
    type_name: &str,
    desired: &Value,
    token: &str,
) -> Result<Done, ProviderError> {
    let started = cc
        .create_resource()
        .type_name(type_name)
        .desired_state(desired.to_string())
        .client_token(token)
        .send()
        .await
        .or_fail(subject, "cloudformation:CreateResource")?;
    let event = started.progress_event().cloned().ok_or_else(|| {
        ProviderError::new(format!("{subject}: CreateResource answered no event"))
    })?;
    settle(cc, progress, subject, type_name, event).await
}

/// UpdateResource with an RFC 6902 patch, followed to its end.
pub(crate) async fn update(
    cc: &Client,
    progress: &ProgressFn,
    subject: &str,
    type_name: &str,
    identifier: &str,
    patch: &Value,
) -> Result<Done, ProviderError> {
    let started = cc
        .update_resource()
        .type_name(type_name)
        .identifier(identifier)
        .patch_document(patch.to_string())
        .client_token(uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .or_fail(subject, "cloudformation:UpdateResource")?;
    let event = started.progress_event().cloned().ok_or_else(|| {
        ProviderError::new(format!("{subject}: UpdateResource answered no event"))
    })?;
    settle(cc, progress, subject, type_name, event).await
}

/// DeleteResource, followed to its end; what is already gone is deleted.
pub(crate) async fn delete(
    cc: &Client,
    progress: &ProgressFn,
    subject: &str,
    type_name: &str,
    identifier: &str,
) -> Result<(), ProviderError> {
    let started = gone_as_none(
        cc.delete_resource()
            .type_name(type_name)
            .identifier(identifier)
            .client_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .or_fail(subject, "cloudformation:DeleteResource"),
    )?;
    let Some(started) = started else {
        return Ok(());
    };
    let Some(event) = started.progress_event().cloned() else {
        return Ok(());
    };
    match settle(cc, progress, subject, type_name, event).await {
        Err(e) if e.code.as_deref() == Some("NotFound") => Ok(()),
        other => other.map(drop),
    }
}

/// The resource's properties (the schema's names), or `None` when it is
/// gone.
pub(crate) async fn get(
    cc: &Client,
    subject: &str,
    type_name: &str,
    identifier: &str,
) -> Result<Option<Value>, ProviderError> {
    let out = gone_as_none(
        cc.get_resource()
            .type_name(type_name)
            .identifier(identifier)
            .send()
            .await
            .or_fail(subject, "cloudformation:GetResource"),
    )?;
    Ok(out.map(|o| {
        o.resource_description()
            .and_then(|d| d.properties())
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null)
    }))
}

/// Every resource of `type_name` in the account and region, with its
/// properties: ListResources, all pages.
pub(crate) async fn list(
    cc: &Client,
    type_name: &str,
) -> Result<Vec<(String, Value)>, ProviderError> {
    let pages: Vec<_> = cc
        .list_resources()
        .type_name(type_name)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .or_fail(type_name, "cloudformation:ListResources")?;
    Ok(pages
        .iter()
        .flat_map(|p| p.resource_descriptions())
        .filter_map(|d| {
            let properties = d
                .properties()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null);
            Some((d.identifier()?.to_string(), properties))
        })
        .collect())
}

/// Create requests of `type_name` Cloud Control still knows (seven days),
/// newest first, whose model `matches`.
pub(crate) async fn creates_of(
    cc: &Client,
    subject: &str,
    type_name: &str,
    matches: impl Fn(&Value) -> bool,
) -> Result<Vec<ProgressEvent>, ProviderError> {
    let filter = ResourceRequestStatusFilter::builder()
        .operations(Operation::Create)
        .build();
    let mut pages = cc
        .list_resource_requests()
        .resource_request_status_filter(filter)
        .max_results(100)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.or_fail(subject, "cloudformation:ListResourceRequests")?;
        for e in page.resource_request_status_summaries() {
            let model = e
                .resource_model()
                .and_then(|m| serde_json::from_str(m).ok());
            if e.type_name() == Some(type_name) && model.as_ref().is_some_and(&matches) {
                out.push(e.clone());
            }
        }
    }
    out.sort_by(|a, b| b.event_time().cmp(&a.event_time()));
    Ok(out)
}

/// `Ok(None)` for a resource that is not there; a type the region does
/// not know (`TypeNotFoundException`) is an error, not a missing resource.
fn gone_as_none<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Cloud Control's writes carry a client token: re-sent, they answer the
/// first request (for 36 hours), so the SDK may retry them.
pub(crate) fn idempotent(operation: &str) -> bool {
    matches!(
        operation,
        "CreateResource" | "UpdateResource" | "DeleteResource"
    )
}
