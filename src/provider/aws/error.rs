//! Turns AWS SDK errors into [`ProviderError`]s that name the resource, the
//! AWS error code and message and, where the code tells, the fix.

use std::error::Error as StdError;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::provider::ProviderError;

/// Converts an SDK result, naming what was being done.
pub(crate) trait AwsResultExt<T> {
    /// `subject`: the address (or, for a refresh, the kind) the call was for;
    /// `action`: the IAM action of the call, e.g. `ec2:CreateVpc`.
    fn or_fail(self, subject: &str, action: &str) -> Result<T, ProviderError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn or_fail(self, subject: &str, action: &str) -> Result<T, ProviderError> {
        self.map_err(|e| from_sdk(&e, subject, action))
    }
}

/// A NotFound error: the resource (or the one it refers to) does not exist.
pub(crate) fn is_not_found(err: &ProviderError) -> bool {
    err.code.as_deref().is_some_and(|c| {
        c.contains("NotFound") || c == "NoSuchEntity" || c == "ResourceNotFoundException"
    })
}

fn from_sdk<E>(err: &SdkError<E, HttpResponse>, subject: &str, action: &str) -> ProviderError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let Some(code) = err.code() else {
        return without_code(err, status, subject, action);
    };
    let detail = err.message().unwrap_or("(no message)");
    let mut e =
        ProviderError::new(format!("{subject}: {action} failed: {code}: {detail}")).with_code(code);
    if let Some(fix) = fix_for(code, subject, action) {
        e = e.with_fix(fix);
    }
    if is_retryable(code) || status.is_some_and(|s| s >= 500) {
        e = e.retryable();
    }
    e
}

/// Transport, timeout and credential failures carry no AWS error code, and
/// neither does an endpoint that answers with something other than AWS's
/// error shapes (an HTML page).
fn without_code<E>(
    err: &SdkError<E, HttpResponse>,
    status: Option<u16>,
    subject: &str,
    action: &str,
) -> ProviderError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let text = DisplayErrorContext(err).to_string();
    if let Some(status) =
        status.filter(|_| matches!(err, SdkError::ServiceError(_) | SdkError::ResponseError(_)))
    {
        tracing::debug!(subject, action, status, "unparsed error reply: {text}");
        let e = ProviderError::new(format!(
            "{subject}: {action} failed: the endpoint answered HTTP {status} without an AWS error"
        ))
        .with_code(format!("Http{status}"));
        return match status {
            404 | 405 | 501 => e.with_fix(format!(
                "the endpoint does not serve `{action}`: an emulator that lacks the operation, or --endpoint-url points at something that is not this AWS service (`PAYRUN_LOG=debug` shows the raw reply)"
            )),
            s if s >= 500 => e.retryable(),
            _ => e.with_fix("`PAYRUN_LOG=debug` shows the raw reply"),
        };
    }
    let e = ProviderError::new(format!("{subject}: {action} failed: {text}"));
    if text.to_lowercase().contains("credentials") {
        return e.with_code("NoCredentials").with_fix(
            "no usable AWS credentials: set AWS_PROFILE (and run `aws sso login` for an SSO profile), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        );
    }
    if text.to_lowercase().contains("region") {
        return e.with_code("NoRegion").with_fix(
            "no AWS region is configured: set AWS_REGION, or a region in the AWS profile",
        );
    }
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => e
            .with_fix("check network access to the AWS endpoint (proxy, VPN, AWS_ENDPOINT_URL) and try again")
            .retryable(),
        _ => e,
    }
}

fn is_retryable(code: &str) -> bool {
    matches!(
        code,
        "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "ServiceUnavailable"
            | "Unavailable"
            | "InternalError"
            | "IncorrectState"
            | "InvalidState"
            | "ConcurrentTagAccess"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalServerException"
            | "InternalServiceError"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "ThrottledException"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
    )
}

fn fix_for(code: &str, subject: &str, action: &str) -> Option<String> {
    let fix = match code {
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" | "UnauthorizedAccess" => {
            format!(
                "allow `{action}` in an IAM policy of the identity payrun runs as (`aws sts get-caller-identity` shows which one)"
            )
        }
        "AuthFailure" | "InvalidClientTokenId" | "SignatureDoesNotMatch" | "ExpiredToken"
        | "RequestExpired" => "AWS rejected the credentials: refresh them (`aws sso login`), or check AWS_PROFILE and the system clock".into(),
        "DependencyViolation" => format!(
            "something still depends on it: {}; delete those first (payrun deletes in dependency order, so look for resources made outside this stack)",
            dependents(subject)
        ),
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
            "AWS is throttling this account: lower `--parallelism` or retry later".into()
        }
        "InvalidSubnet.Conflict" | "InvalidSubnet.Range" | "InvalidVpc.Range" => {
            "choose a CIDR inside the VPC's range that overlaps no other subnet".into()
        }
        "InvalidPermission.Duplicate" | "RouteAlreadyExists" | "NetworkAclEntryAlreadyExists"
        | "Resource.AlreadyAssociated" | "InvalidGroup.Duplicate" => {
            "it already exists outside this stack's state: remove the existing one or change the program so they differ".into()
        }
        "EntityAlreadyExists" | "ResourceExistsException" | "ResourceAlreadyExistsException"
        | "RepositoryAlreadyExistsException" | "AlreadyExistsException" => {
            "a resource with this name exists outside this stack's state: delete it, or change the purpose or suffix so the names differ".into()
        }
        "MalformedPolicyDocument" | "MalformedPolicyDocumentException" => format!(
            "the policy document of {subject} is not valid IAM policy JSON: check `Version`, `Statement`, `Effect`, `Action` and `Resource` (`payrun plan` shows the document)"
        ),
        "DeleteConflict" => format!(
            "something still uses it: {}; delete those first",
            dependents(subject)
        ),
        "InvalidParameterValue" | "InvalidParameterCombination" | "MissingParameter" => {
            format!("check the arguments of {subject} against the EC2 `{action}` documentation")
        }
        c if c.ends_with("LimitExceeded") => {
            "an account quota is reached: delete unused resources or request an increase in Service Quotas".into()
        }
        c if c.contains("NotFound") || c == "NoSuchEntity" || c == "ResourceNotFoundException" => format!(
            "a resource named in this call does not exist: it was deleted outside payrun, or lives in another region or account; run `payrun plan` to refresh and check AWS_REGION/AWS_PROFILE ({subject})"
        ),
        "IncorrectState" | "InvalidState" => {
            "the resource is changing state; retry in a minute".into()
        }
        _ => return None,
    };
    Some(fix)
}

/// What typically keeps a resource of the subject's kind from being deleted.
fn dependents(subject: &str) -> &'static str {
    let kind = subject
        .parse::<crate::address::Address>()
        .map(|a| a.kind().to_string())
        .unwrap_or_else(|_| subject.to_string());
    match kind.as_str() {
        "aws.ec2.vpc" => {
            "subnets, internet gateways, route tables, network ACLs, security groups, VPC endpoints or network interfaces still in the VPC (`aws ec2 describe-network-interfaces --filters Name=vpc-id,Values=<vpc id>` lists what holds addresses)"
        }
        "aws.ec2.subnet" => {
            "network interfaces in the subnet: NAT gateways, interface endpoints, load balancers, Fargate pods or instances"
        }
        "aws.ec2.internet_gateway" => {
            "public addresses in the VPC (Elastic IPs of NAT gateways, load balancers, instances) that route through it"
        }
        "aws.ec2.security_group" => {
            "network interfaces that use the group, or rules in other groups that reference it"
        }
        "aws.ec2.route_table" | "aws.ec2.network_acl" => "subnet associations",
        "aws.ec2.eip" => "the NAT gateway or instance the address is associated with",
        "aws.iam.role" => "inline policies, attached policies or instance profiles of the role",
        "aws.iam.policy" => "roles, users or groups the policy is attached to",
        _ => "other resources that refer to it",
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service_error(code: &str, message: &str) -> SdkError<CreateVpcError, Response> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let status = StatusCode::try_from(400).expect("status");
        SdkError::service_error(
            CreateVpcError::generic(meta),
            Response::new(status, SdkBody::empty()),
        )
    }

    #[test]
    fn unauthorized_names_the_missing_iam_action() {
        let e = from_sdk(
            &service_error(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            ),
            "aws.ec2.vpc.main",
            "ec2:CreateVpc",
        );
        assert_eq!(e.code.as_deref(), Some("UnauthorizedOperation"));
        assert_eq!(
            e.message,
            "aws.ec2.vpc.main: ec2:CreateVpc failed: UnauthorizedOperation: You are not authorized to perform this operation."
        );
        assert!(
            e.fix
                .as_deref()
                .is_some_and(|f| f.contains("allow `ec2:CreateVpc`")),
            "{e}"
        );
        assert!(!e.retryable);
    }

    #[test]
    fn throttling_is_retryable() {
        let e = from_sdk(
            &service_error("RequestLimitExceeded", "Request limit exceeded."),
            "aws.ec2.vpc",
            "ec2:DescribeVpcs",
        );
        assert!(e.retryable);
        assert!(
            e.fix
                .as_deref()
                .is_some_and(|f| f.contains("--parallelism")),
            "{e}"
        );
    }

    #[test]
    fn dependency_violation_says_what_depends() {
        let e = from_sdk(
            &service_error(
                "DependencyViolation",
                "The subnet 'subnet-1' has dependencies and cannot be deleted.",
            ),
            "aws.ec2.subnet.private-a",
            "ec2:DeleteSubnet",
        );
        assert!(
            e.fix.as_deref().is_some_and(|f| f.contains("NAT gateways")),
            "{e}"
        );
    }
}
