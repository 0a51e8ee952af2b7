//! `aws.appmesh.route`: how a virtual router splits traffic over virtual
//! nodes (weighted targets), with HTTP retries and a per-request timeout
//! where the protocol has them.

use aws_sdk_appmesh::types::{
    Duration, DurationUnit, GrpcRoute, GrpcRouteAction, GrpcRouteMatch, GrpcTimeout,
    HttpRetryPolicy, HttpRoute, HttpRouteAction, HttpRouteMatch, HttpTimeout, RouteData, RouteSpec,
    TcpRetryPolicyEvent, TcpRoute, TcpRouteAction, WeightedTarget,
};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};

use super::{MeshArgs, Protocol, incomplete, invalid, validate};
use crate::provider::ProviderError;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::KindSchema;

#[derive(Clone, Debug, Deserialize, Args, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.appmesh.route")]
pub(super) struct Args {
    #[serde(rename = "mesh")]
    #[arg(force_new, takes = "name", formerly = "mesh_name")]
    mesh_name: String,
    #[serde(rename = "virtual_router")]
    #[arg(force_new, takes = "name", formerly = "virtual_router_name")]
    virtual_router_name: String,
    protocol: Protocol,
    /// HTTP and HTTP/2: the path prefix matched; `/` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    /// gRPC: the service matched; every service when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grpc_service_name: Option<String>,
    targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
    /// HTTP and HTTP/2 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retries: Option<Retries>,
    /// HTTP, HTTP/2 and gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    per_request_timeout_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    tags: Tags,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Target {
    virtual_node: String,
    weight: i32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Retries {
    max_retries: i64,
    per_retry_timeout_ms: i64,
    /// `server-error`, `gateway-error`, `client-error`, `stream-error`.
    #[serde(default)]
    http_events: Vec<String>,
    /// `connection-error`.
    #[serde(default)]
    tcp_events: Vec<String>,
}

impl MeshArgs for Args {
    fn normalised(mut self) -> Self {
        self.tags = Tags::new();
        if self.protocol.is_http() {
            self.prefix.get_or_insert_with(|| "/".into());
        }
        self
    }
}

const HTTP_EVENTS: &[&str] = &[
    "server-error",
    "gateway-error",
    "client-error",
    "stream-error",
];

fn check(args: &Args) -> Result<(), String> {
    let http = args.protocol.is_http();
    if args.targets.is_empty() || args.targets.len() > 10 {
        return Err(format!(
            "`targets`: a route sends to 1 to 10 virtual nodes, got {}",
            args.targets.len()
        ));
    }
    if args.targets.iter().all(|t| t.weight == 0) {
        return Err("`targets`: every weight is 0, so the route sends nowhere".into());
    }
    if let Some(t) = args.targets.iter().find(|t| !(0..=100).contains(&t.weight)) {
        return Err(format!(
            "`targets`: weight {} of `{}` is outside 0..=100",
            t.weight, t.virtual_node
        ));
    }
    if args.prefix.is_some() && !http {
        return Err(format!(
            "`prefix`: only HTTP and HTTP/2 routes match a path, this one is `{}`",
            args.protocol.as_str()
        ));
    }
    if args.prefix.as_deref().is_some_and(|p| !p.starts_with('/')) {
        return Err("`prefix`: a path prefix starts with `/`".into());
    }
    if args.grpc_service_name.is_some() && args.protocol != Protocol::Grpc {
        return Err("`grpc_service_name`: only gRPC routes match a service".into());
    }
    if let Some(r) = &args.retries {
        if !http {
            return Err(format!(
                "`retries`: only HTTP and HTTP/2 routes retry here, this one is `{}`",
                args.protocol.as_str()
            ));
        }
        if let Some(e) = r
            .http_events
            .iter()
            .find(|e| !HTTP_EVENTS.contains(&e.as_str()))
        {
            return Err(format!(
                "`retries.http_events`: unknown event `{e}`; one of {}",
                HTTP_EVENTS.join(", ")
            ));
        }
        if let Some(e) = r.tcp_events.iter().find(|e| *e != "connection-error") {
            return Err(format!(
                "`retries.tcp_events`: unknown event `{e}`; the one TCP event is `connection-error`"
            ));
        }
        if r.http_events.is_empty() && r.tcp_events.is_empty() {
            return Err("`retries`: name at least one of `http_events` or `tcp_events`".into());
        }
    }
    if args.per_request_timeout_ms.is_some() && args.protocol == Protocol::Tcp {
        return Err("`per_request_timeout_ms`: TCP routes have no request timeout".into());
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: Args::KIND,
    name_prefix: "route",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: Args::SPECS,
    outputs: &["arn", "name"],
    validate: &|args| validate::<Args>(args, check),
    reads_each: Some("one Describe call per resource: App Mesh has no batched read"),
    doc: "An App Mesh route on a virtual router: `protocol`, `prefix` (HTTP), `targets` (virtual_node, weight), `retries`, `per_request_timeout_ms`.",
};

fn millis(ms: i64) -> Duration {
    Duration::builder().value(ms).unit(DurationUnit::Ms).build()
}

fn as_millis(d: &Duration) -> Option<i64> {
    let v = d.value()?;
    Some(match d.unit() {
        Some(DurationUnit::S) => v * 1000,
        _ => v,
    })
}

fn spec(args: &Args, subject: &str) -> Result<RouteSpec, ProviderError> {
    let e = |e| invalid(subject, e);
    let args = Args::clone(args).normalised();
    let targets = args
        .targets
        .iter()
        .map(|t| {
            WeightedTarget::builder()
                .virtual_node(&t.virtual_node)
                .weight(t.weight)
                .build()
                .map_err(e)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let spec = RouteSpec::builder().set_priority(args.priority);
    let spec = match args.protocol {
        Protocol::Http | Protocol::Http2 => {
            let mut route = HttpRoute::builder()
                .r#match(
                    HttpRouteMatch::builder()
                        .set_prefix(args.prefix.clone())
                        .build(),
                )
                .action(
                    HttpRouteAction::builder()
                        .set_weighted_targets(Some(targets))
                        .build()
                        .map_err(e)?,
                );
            if let Some(r) = &args.retries {
                route = route.retry_policy(
                    HttpRetryPolicy::builder()
                        .max_retries(r.max_retries)
                        .per_retry_timeout(millis(r.per_retry_timeout_ms))
                        .set_http_retry_events(
                            (!r.http_events.is_empty()).then(|| r.http_events.clone()),
                        )
                        .set_tcp_retry_events((!r.tcp_events.is_empty()).then(|| {
                            r.tcp_events
                                .iter()
                                .map(|t| TcpRetryPolicyEvent::from(t.as_str()))
                                .collect()
                        }))
                        .build()
                        .map_err(e)?,
                );
            }
            if let Some(ms) = args.per_request_timeout_ms {
                route = route.timeout(HttpTimeout::builder().per_request(millis(ms)).build());
            }
            let route = route.build();
            if args.protocol == Protocol::Http {
                spec.http_route(route)
            } else {
                spec.http2_route(route)
            }
        }
        Protocol::Grpc => {
            let mut route = GrpcRoute::builder()
                .r#match(
                    GrpcRouteMatch::builder()
                        .set_service_name(args.grpc_service_name.clone())
                        .build(),
                )
                .action(
                    GrpcRouteAction::builder()
                        .set_weighted_targets(Some(targets))
                        .build()
                        .map_err(e)?,
                );
            if let Some(ms) = args.per_request_timeout_ms {
                route = route.timeout(GrpcTimeout::builder().per_request(millis(ms)).build());
            }
            spec.grpc_route(route.build())
        }
        Protocol::Tcp => spec.tcp_route(
            TcpRoute::builder()
                .action(
                    TcpRouteAction::builder()
                        .set_weighted_targets(Some(targets))
                        .build()
                        .map_err(e)?,
                )
                .build(),
        ),
    };
    Ok(spec.build())
}

fn targets_of(targets: &[WeightedTarget]) -> Vec<Target> {
    targets
        .iter()
        .map(|t| Target {
            virtual_node: t.virtual_node().to_string(),
            weight: t.weight(),
        })
        .collect()
}

fn live_args(route: &RouteData, subject: &str) -> Result<Args, ProviderError> {
    let spec = route
        .spec()
        .ok_or_else(|| incomplete(subject, "DescribeRoute", "a spec"))?;
    let mut args = Args {
        mesh_name: route.mesh_name().to_string(),
        virtual_router_name: route.virtual_router_name().to_string(),
        protocol: Protocol::Tcp,
        prefix: None,
        grpc_service_name: None,
        targets: Vec::new(),
        priority: spec.priority(),
        retries: None,
        per_request_timeout_ms: None,
        tags: Tags::new(),
    };
    let http = spec
        .http_route()
        .map(|r| (Protocol::Http, r))
        .or_else(|| spec.http2_route().map(|r| (Protocol::Http2, r)));
    if let Some((protocol, r)) = http {
        args.protocol = protocol;
        args.prefix = r
            .r#match()
            .and_then(HttpRouteMatch::prefix)
            .map(str::to_string);
        args.targets = targets_of(r.action().map(|a| a.weighted_targets()).unwrap_or_default());
        args.retries = r.retry_policy().map(|p| Retries {
            max_retries: p.max_retries(),
            per_retry_timeout_ms: p
                .per_retry_timeout()
                .and_then(as_millis)
                .unwrap_or_default(),
            http_events: p.http_retry_events().to_vec(),
            tcp_events: p
                .tcp_retry_events()
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
        });
        args.per_request_timeout_ms = r
            .timeout()
            .and_then(|t| t.per_request())
            .and_then(as_millis);
    } else if let Some(r) = spec.grpc_route() {
        args.protocol = Protocol::Grpc;
        args.grpc_service_name = r
            .r#match()
            .and_then(GrpcRouteMatch::service_name)
            .map(str::to_string);
        args.targets = targets_of(r.action().map(|a| a.weighted_targets()).unwrap_or_default());
        args.per_request_timeout_ms = r
            .timeout()
            .and_then(|t| t.per_request())
            .and_then(as_millis);
    } else if let Some(r) = spec.tcp_route() {
        args.targets = targets_of(r.action().map(|a| a.weighted_targets()).unwrap_or_default());
    } else {
        return Err(incomplete(
            subject,
            "DescribeRoute",
            "an HTTP, HTTP/2, gRPC or TCP route",
        ));
    }
    Ok(args)
}

// Updates replace the whole spec; a change of protocol is in place too (one
// route kind replaces the other in the spec).
mesh_kind! {
    Route {
        data: RouteData,
        field: route,
        what: "the route",
        names: [mesh_name = 0, virtual_router_name = 1, route_name = 2],
        calls: [describe_route, create_route, update_route, delete_route],
        actions: ["DescribeRoute", "CreateRoute", "UpdateRoute", "DeleteRoute"],
        names_for(args, name) => vec![args.mesh_name.clone(), args.virtual_router_name.clone(), name.to_string()],
        status(route) => route.status().map(|s| s.status().as_str()),
        live(route, subject) => live_args(route, subject),
    }
}
