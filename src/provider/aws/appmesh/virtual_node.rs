//! `aws.appmesh.virtual_node`: the proxy-side view of one workload: where
//! it is found (DNS), what it listens on (with health checks and TLS), which
//! virtual services it may call (backends; with the mesh's `DROP_ALL`
//! egress, nothing else) and where its proxy writes access logs.

use aws_sdk_appmesh::types::{
    AccessLog, Backend, BackendDefaults, ClientPolicy, ClientPolicyTls, DnsServiceDiscovery,
    FileAccessLog, HealthCheckPolicy, Listener, ListenerTls, ListenerTlsAcmCertificate,
    ListenerTlsCertificate, ListenerTlsMode, Logging, PortMapping, ServiceDiscovery,
    TlsValidationContext, TlsValidationContextAcmTrust, TlsValidationContextTrust, VirtualNodeData,
    VirtualNodeSpec, VirtualServiceBackend,
};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};

use super::{MeshArgs, Protocol, incomplete, invalid, validate};
use crate::provider::ProviderError;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::KindSchema;

#[derive(Clone, Debug, Deserialize, Args, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.appmesh.virtual_node")]
pub(super) struct Args {
    #[serde(rename = "mesh")]
    #[arg(force_new, takes = "name", formerly = "mesh_name")]
    mesh_name: String,
    /// The DNS name the node's instances are found by.
    hostname: String,
    #[serde(default)]
    listeners: Vec<ListenerArgs>,
    /// Virtual service names this node may call.
    #[serde(default)]
    backends: Vec<String>,
    /// TLS to every backend, checked against these ACM Private CA
    /// certificate authorities: the client side of listeners in STRICT
    /// mode, without which their proxies refuse this node's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backend_tls: Option<BackendTlsArgs>,
    /// Where the proxy writes access logs (`/dev/stdout` for the log
    /// pipeline); none when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_log_path: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    tags: Tags,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ListenerArgs {
    port: i32,
    protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_check: Option<HealthCheckArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls: Option<TlsArgs>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct HealthCheckArgs {
    /// Defaults to the listener's protocol and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<i32>,
    /// HTTP and HTTP/2 only; `/` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default = "interval_ms")]
    interval_ms: i64,
    #[serde(default = "timeout_ms")]
    timeout_ms: i64,
    #[serde(default = "threshold")]
    healthy_threshold: i32,
    #[serde(default = "threshold")]
    unhealthy_threshold: i32,
}

fn interval_ms() -> i64 {
    5000
}
fn timeout_ms() -> i64 {
    2000
}
fn threshold() -> i32 {
    2
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct BackendTlsArgs {
    certificate_authority_arns: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
enum TlsMode {
    #[serde(rename = "STRICT")]
    Strict,
    #[serde(rename = "PERMISSIVE")]
    Permissive,
    #[serde(rename = "DISABLED")]
    Disabled,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct TlsArgs {
    mode: TlsMode,
    /// An ACM certificate (from ACM Private CA) the proxy presents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_arn: Option<String>,
}

impl MeshArgs for Args {
    fn normalised(mut self) -> Self {
        self.tags = Tags::new();
        for l in &mut self.listeners {
            if let Some(h) = &mut l.health_check {
                let protocol = *h.protocol.get_or_insert(l.protocol);
                h.port.get_or_insert(l.port);
                if protocol.is_http() {
                    h.path.get_or_insert_with(|| "/".into());
                }
            }
        }
        self
    }
}

fn check(args: &Args) -> Result<(), String> {
    for (i, l) in args.listeners.iter().enumerate() {
        if let Some(TlsArgs {
            mode: TlsMode::Strict | TlsMode::Permissive,
            certificate_arn: None,
        }) = &l.tls
        {
            return Err(format!(
                "`listeners[{i}].tls`: mode STRICT or PERMISSIVE needs `certificate_arn` (an ACM certificate the proxy presents)"
            ));
        }
        if let Some(h) = &l.health_check {
            let protocol = h.protocol.unwrap_or(l.protocol);
            if h.path.is_some() && !protocol.is_http() {
                return Err(format!(
                    "`listeners[{i}].health_check.path`: only HTTP and HTTP/2 health checks have a path"
                ));
            }
            if h.timeout_ms >= h.interval_ms {
                return Err(format!(
                    "`listeners[{i}].health_check`: timeout_ms ({}) must be shorter than interval_ms ({})",
                    h.timeout_ms, h.interval_ms
                ));
            }
        }
    }
    if args
        .backend_tls
        .as_ref()
        .is_some_and(|t| t.certificate_authority_arns.is_empty())
    {
        return Err(
            "`backend_tls.certificate_authority_arns`: name the ACM Private CA that issued the backends' certificates"
                .into(),
        );
    }
    if args.listeners.len() > 1 {
        let mut ports: Vec<i32> = args.listeners.iter().map(|l| l.port).collect();
        ports.sort_unstable();
        if ports.windows(2).any(|w| w[0] == w[1]) {
            return Err("`listeners`: two listeners on one port".into());
        }
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: Args::KIND,
    name_prefix: "vn",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: Args::SPECS,
    outputs: &["arn", "name"],
    validate: &|args| validate::<Args>(args, check),
    reads_each: Some("one Describe call per resource: App Mesh has no batched read"),
    doc: "An App Mesh virtual node found by DNS `hostname`, with `listeners` (port, protocol, health_check, tls), `backends` (virtual service names), `backend_tls` (certificate_authority_arns) and `access_log_path`.",
};

fn spec(args: &Args, subject: &str) -> Result<VirtualNodeSpec, ProviderError> {
    let e = |e| invalid(subject, e);
    let args = Args::clone(args).normalised();
    let discovery = DnsServiceDiscovery::builder()
        .hostname(&args.hostname)
        .build()
        .map_err(e)?;
    let mut spec = VirtualNodeSpec::builder().service_discovery(ServiceDiscovery::Dns(discovery));
    for l in &args.listeners {
        let mut listener = Listener::builder().port_mapping(
            PortMapping::builder()
                .port(l.port)
                .protocol(l.protocol.to_aws())
                .build()
                .map_err(e)?,
        );
        if let Some(h) = &l.health_check {
            listener = listener.health_check(
                HealthCheckPolicy::builder()
                    .protocol(h.protocol.unwrap_or(l.protocol).to_aws())
                    .set_port(h.port)
                    .set_path(h.path.clone())
                    .interval_millis(h.interval_ms)
                    .timeout_millis(h.timeout_ms)
                    .healthy_threshold(h.healthy_threshold)
                    .unhealthy_threshold(h.unhealthy_threshold)
                    .build()
                    .map_err(e)?,
            );
        }
        if let Some(t) = &l.tls {
            let mode = match t.mode {
                TlsMode::Strict => ListenerTlsMode::Strict,
                TlsMode::Permissive => ListenerTlsMode::Permissive,
                TlsMode::Disabled => ListenerTlsMode::Disabled,
            };
            let mut tls = ListenerTls::builder().mode(mode);
            if let Some(arn) = &t.certificate_arn {
                tls = tls.certificate(ListenerTlsCertificate::Acm(
                    ListenerTlsAcmCertificate::builder()
                        .certificate_arn(arn)
                        .build()
                        .map_err(e)?,
                ));
            }
            listener = listener.tls(tls.build().map_err(e)?);
        }
        spec = spec.listeners(listener.build());
    }
    for b in &args.backends {
        spec = spec.backends(Backend::VirtualService(
            VirtualServiceBackend::builder()
                .virtual_service_name(b)
                .build()
                .map_err(e)?,
        ));
    }
    if let Some(tls) = &args.backend_tls {
        let trust = TlsValidationContextAcmTrust::builder()
            .set_certificate_authority_arns(Some(tls.certificate_authority_arns.clone()))
            .build()
            .map_err(e)?;
        let policy = ClientPolicyTls::builder()
            .enforce(true)
            .validation(
                TlsValidationContext::builder()
                    .trust(TlsValidationContextTrust::Acm(trust))
                    .build(),
            )
            .build();
        spec = spec.backend_defaults(
            BackendDefaults::builder()
                .client_policy(ClientPolicy::builder().tls(policy).build())
                .build(),
        );
    }
    if let Some(path) = &args.access_log_path {
        spec = spec.logging(
            Logging::builder()
                .access_log(AccessLog::File(
                    FileAccessLog::builder().path(path).build().map_err(e)?,
                ))
                .build(),
        );
    }
    Ok(spec.build())
}

fn live_args(node: &VirtualNodeData, subject: &str) -> Result<Args, ProviderError> {
    let spec = node
        .spec()
        .ok_or_else(|| incomplete(subject, "DescribeVirtualNode", "a spec"))?;
    let hostname = match spec.service_discovery() {
        Some(ServiceDiscovery::Dns(d)) => d.hostname().to_string(),
        _ => String::new(),
    };
    let mut listeners = Vec::new();
    for l in spec.listeners() {
        let pm = l
            .port_mapping()
            .ok_or_else(|| incomplete(subject, "DescribeVirtualNode", "a port mapping"))?;
        let health_check = l
            .health_check()
            .map(|h| -> Result<HealthCheckArgs, ProviderError> {
                Ok(HealthCheckArgs {
                    protocol: Some(Protocol::from_aws(h.protocol(), subject)?),
                    port: h.port(),
                    path: h.path().map(str::to_string),
                    interval_ms: h.interval_millis(),
                    timeout_ms: h.timeout_millis(),
                    healthy_threshold: h.healthy_threshold(),
                    unhealthy_threshold: h.unhealthy_threshold(),
                })
            })
            .transpose()?;
        let tls = l.tls().map(|t| TlsArgs {
            mode: match t.mode() {
                ListenerTlsMode::Strict => TlsMode::Strict,
                ListenerTlsMode::Permissive => TlsMode::Permissive,
                _ => TlsMode::Disabled,
            },
            certificate_arn: match t.certificate() {
                Some(ListenerTlsCertificate::Acm(c)) => Some(c.certificate_arn().to_string()),
                _ => None,
            },
        });
        listeners.push(ListenerArgs {
            port: pm.port(),
            protocol: Protocol::from_aws(pm.protocol(), subject)?,
            health_check,
            tls,
        });
    }
    let backends = spec
        .backends()
        .iter()
        .filter_map(|b| match b {
            Backend::VirtualService(v) => Some(v.virtual_service_name().to_string()),
            _ => None,
        })
        .collect();
    let backend_tls = spec
        .backend_defaults()
        .and_then(BackendDefaults::client_policy)
        .and_then(ClientPolicy::tls)
        .filter(|t| t.enforce() != Some(false))
        .and_then(ClientPolicyTls::validation)
        .and_then(TlsValidationContext::trust)
        .and_then(|t| match t {
            TlsValidationContextTrust::Acm(acm) => Some(BackendTlsArgs {
                certificate_authority_arns: acm.certificate_authority_arns().to_vec(),
            }),
            _ => None,
        });
    let access_log_path = spec
        .logging()
        .and_then(Logging::access_log)
        .and_then(|a| match a {
            AccessLog::File(f) => Some(f.path().to_string()),
            _ => None,
        });
    Ok(Args {
        mesh_name: node.mesh_name().to_string(),
        hostname,
        listeners,
        backends,
        backend_tls,
        access_log_path,
        tags: Tags::new(),
    })
}

mesh_kind! {
    VirtualNode {
        data: VirtualNodeData,
        field: virtual_node,
        what: "the virtual node",
        names: [mesh_name = 0, virtual_node_name = 1],
        calls: [describe_virtual_node, create_virtual_node, update_virtual_node, delete_virtual_node],
        actions: ["DescribeVirtualNode", "CreateVirtualNode", "UpdateVirtualNode", "DeleteVirtualNode"],
        names_for(args, name) => vec![args.mesh_name.clone(), name.to_string()],
        status(node) => node.status().map(|s| s.status().as_str()),
        live(node, subject) => live_args(node, subject),
    }
}
