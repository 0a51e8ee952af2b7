//! Kubernetes checks at plan time: every rendered manifest's apiVersion is
//! served by the cluster's Kubernetes version, and each namespace's
//! workloads fit its ResourceQuota at the height of a rollout.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::address::Address;
use crate::check::eks::Upgrade;
use crate::eks_versions::describe_path;
use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::kube_quantity as quantity;
use crate::script::ResourceSpec;
use crate::value::{as_ref, collect_refs};

use super::Context;
use super::context::kinds::{
    ClusterArgs, DeploymentArgs, HpaArgs, IngressArgs, LimitRangeArgs, NamespaceArgs, ObjectArgs,
    ReleaseArgs, ResourceQuotaArgs, Resources, ServiceArgs,
};

/// (apiVersion, kind, first minor served, first minor no longer served) of
/// Kubernetes 1.x, from the deprecated API migration guide.
const API_VERSIONS: &[(&str, &str, u32, Option<u32>)] = &[
    ("extensions/v1beta1", "Ingress", 0, Some(22)),
    ("networking.k8s.io/v1beta1", "Ingress", 14, Some(22)),
    ("networking.k8s.io/v1", "Ingress", 19, None),
    ("policy/v1beta1", "PodDisruptionBudget", 5, Some(25)),
    ("policy/v1", "PodDisruptionBudget", 21, None),
    ("policy/v1beta1", "PodSecurityPolicy", 10, Some(25)),
    (
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        8,
        Some(25),
    ),
    (
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        12,
        Some(26),
    ),
    ("autoscaling/v2", "HorizontalPodAutoscaler", 23, None),
    ("batch/v1beta1", "CronJob", 8, Some(25)),
    ("batch/v1", "CronJob", 21, None),
    ("discovery.k8s.io/v1beta1", "EndpointSlice", 17, Some(25)),
    ("discovery.k8s.io/v1", "EndpointSlice", 21, None),
    ("events.k8s.io/v1beta1", "Event", 8, Some(25)),
    ("node.k8s.io/v1beta1", "RuntimeClass", 14, Some(25)),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", 21, Some(27)),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        20,
        Some(26),
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        23,
        Some(29),
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        26,
        Some(32),
    ),
    ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", 29, None),
    (
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        7,
        Some(22),
    ),
    ("rbac.authorization.k8s.io/v1beta1", "Role", 6, Some(22)),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        6,
        Some(22),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        6,
        Some(22),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        6,
        Some(22),
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        9,
        Some(22),
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        9,
        Some(22),
    ),
];

const GUIDE: &str = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/";

/// `1.28` → 28.
fn minor(version: &str) -> Option<u32> {
    let v = version.trim_start_matches('v');
    let (major, rest) = v.split_once('.')?;
    if major != "1" {
        return None;
    }
    rest.split('.').next()?.parse().ok()
}

/// The cluster's version: the `version` of the `kube` map, or the
/// `version` arg of the EKS cluster its refs point at; with the EKS
/// cluster's address when there is one.
fn cluster_minor(graph: &DesiredGraph, args: &Value) -> Option<(u32, Option<Address>)> {
    let cluster = &args["kube"];
    let mut refs = Vec::new();
    collect_refs(cluster, &mut refs);
    let eks = refs
        .iter()
        .find(|t| t.address.kind() == ClusterArgs::KIND)
        .map(|t| t.address.clone());
    if let Some(v) = cluster["version"].as_str() {
        return Some((minor(v)?, eks));
    }
    refs.iter()
        .filter_map(|t| Some((t, Context::args::<ClusterArgs>(graph.spec(&t.address)?)?)))
        .find_map(|(t, eks)| {
            let v = minor(&eks.version)?;
            Some((v, Some(t.address.clone())))
        })
}

fn version_findings(
    graph: &DesiredGraph,
    upgrades: &[Upgrade],
    spec: &ResourceSpec,
    out: &mut Vec<Finding>,
) {
    let address = &spec.address;
    let Some((cluster, eks)) = cluster_minor(graph, &spec.args) else {
        return;
    };
    let Some(manifest) = Context::manifest(spec) else {
        return;
    };
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let Some(&(_, _, since, removed)) = API_VERSIONS
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)
    else {
        return;
    };
    let newest = API_VERSIONS
        .iter()
        .filter(|(_, k, _, r)| *k == kind && r.is_none())
        .map(|(v, _, _, _)| *v)
        .next();
    let replace = newest
        .map(|v| format!("use {v} {kind}"))
        .unwrap_or_else(|| format!("drop {kind}"));
    let upgrade = eks
        .as_ref()
        .and_then(|eks| upgrades.iter().find(|u| &u.cluster == eks));
    if let Some(r) = removed.filter(|r| cluster >= *r) {
        let when = match upgrade.and_then(|u| {
            let step = u.steps.iter().position(|s| minor(s) == Some(r))?;
            Some((u, step))
        }) {
            Some((u, step)) => format!(
                "; the upgrade {} reaches 1.{r} at step {} of {}, so the plan stops before its first step",
                describe_path(&u.from, &u.steps),
                step + 1,
                u.steps.len()
            ),
            None => format!("; the cluster runs 1.{cluster}"),
        };
        out.push(
            Finding::error(
                "k8s-api-removed",
                format!("{address}: {api_version} {kind} is no longer served since Kubernetes 1.{r}{when}"),
            )
            .at(address)
            .remedy(replace)
            .source(GUIDE),
        );
    } else if cluster < since {
        out.push(
            Finding::error(
                "k8s-api-not-served",
                format!("{address}: {api_version} {kind} is served from Kubernetes 1.{since}; the cluster runs 1.{cluster}"),
            )
            .at(address)
            .remedy(format!("upgrade the cluster to 1.{since} or use an older apiVersion"))
            .source(GUIDE),
        );
    }
}

/// The Kubernetes name an arg denotes (a `namespace`, a `deployment`): a
/// ref to the resource, whose `name` or else purpose it is, or the name
/// itself.
pub(super) fn object_name_of(graph: &DesiredGraph, v: &Value) -> Option<String> {
    if let Some(t) = as_ref(v) {
        let spec = graph.spec(&t.address)?;
        return Some(
            spec.args["name"]
                .as_str()
                .unwrap_or(t.address.purpose())
                .to_string(),
        );
    }
    v.as_str().map(str::to_string)
}

#[derive(Default)]
struct Usage {
    /// (what, amount) per resource name, e.g. `requests.cpu`.
    totals: BTreeMap<&'static str, f64>,
    terms: BTreeMap<&'static str, Vec<String>>,
}

const DIMENSIONS: [&str; 4] = [
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

fn show(dimension: &str, amount: f64) -> String {
    if dimension.ends_with("cpu") {
        let m = (amount * 1000.0).round();
        if m % 1000.0 == 0.0 {
            format!("{}", m / 1000.0)
        } else {
            format!("{m}m")
        }
    } else {
        let mi = amount / (1024.0 * 1024.0);
        if mi >= 1024.0 && (mi / 1024.0).fract() == 0.0 {
            format!("{}Gi", mi / 1024.0)
        } else {
            format!("{}Mi", mi.round())
        }
    }
}

fn pick(r: Option<&Resources>, dimension: &str) -> Option<String> {
    let r = r?;
    if dimension.ends_with("cpu") {
        r.cpu.clone()
    } else {
        r.memory.clone()
    }
}

fn quota_findings(graph: &DesiredGraph, out: &mut Vec<Finding>) {
    let mut quotas: BTreeMap<String, (Address, ResourceQuotaArgs)> = BTreeMap::new();
    let mut defaults: BTreeMap<String, LimitRangeArgs> = BTreeMap::new();
    let mut hpa_max: BTreeMap<(String, String), u32> = BTreeMap::new();
    for spec in graph.resources() {
        let address = &spec.address;
        let Some(ns) = object_name_of(graph, &spec.args["namespace"]) else {
            continue;
        };
        match address.kind() {
            ResourceQuotaArgs::KIND => {
                if let Some(q) = Context::args::<ResourceQuotaArgs>(spec) {
                    quotas.insert(ns, (address.clone(), q));
                }
            }
            LimitRangeArgs::KIND => {
                if let Some(l) = Context::args::<LimitRangeArgs>(spec) {
                    defaults.insert(ns, l);
                }
            }
            HpaArgs::KIND => {
                if let (Some(h), Some(d)) = (
                    Context::args::<HpaArgs>(spec),
                    object_name_of(graph, &spec.args["deployment"]),
                ) {
                    hpa_max.insert((ns, d), h.max_replicas);
                }
            }
            _ => {}
        }
    }
    let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
    for (spec, d) in Context::each::<DeploymentArgs>(graph) {
        let address = &spec.address;
        let Some(ns) = object_name_of(graph, &spec.args["namespace"]) else {
            continue;
        };
        if !quotas.contains_key(&ns) {
            continue;
        }
        let name = d
            .name
            .clone()
            .unwrap_or_else(|| address.purpose().to_string());
        let replicas = hpa_max
            .get(&(ns.clone(), name.clone()))
            .copied()
            .unwrap_or(d.replicas.unwrap_or(1));
        let pods = replicas + d.surge();
        let lr = defaults.get(&ns);
        let u = usage.entry(ns.clone()).or_default();
        for dim in DIMENSIONS {
            let own = if dim.starts_with("requests") {
                // A container with limits but no requests requests its limits.
                pick(d.requests.as_ref(), dim).or_else(|| pick(d.limits.as_ref(), dim))
            } else {
                pick(d.limits.as_ref(), dim)
            };
            let from_lr = lr.and_then(|l| {
                if dim.starts_with("requests") {
                    pick(Some(&l.requests), dim)
                } else {
                    pick(Some(&l.limits), dim)
                }
            });
            let Some(per_pod) = own.or(from_lr).as_deref().and_then(quantity::parse) else {
                out.push(
                    Finding::error(
                        "k8s-quota-needs-resources",
                        format!("{address}: namespace {ns} has a ResourceQuota on {dim}, but the deployment sets no {dim} and no LimitRange gives a default; its pods would be rejected"),
                    )
                    .at(address)
                    .remedy(format!("set `{}` on the deployment or add a k8s::limit_range to {ns}", if dim.starts_with("requests") { "requests" } else { "limits" })),
                );
                continue;
            };
            *u.totals.entry(dim).or_default() += per_pod * f64::from(pods);
            u.terms.entry(dim).or_default().push(format!(
                "{name}: ({replicas} + {} surge) × {}",
                d.surge(),
                show(dim, per_pod)
            ));
        }
    }
    for (ns, u) in usage {
        let (quota_at, q) = &quotas[&ns];
        for dim in DIMENSIONS {
            let hard = if dim.ends_with("cpu") {
                &q.cpu
            } else {
                &q.memory
            };
            let (Some(hard_v), Some(&used)) = (quantity::parse(hard), u.totals.get(dim)) else {
                continue;
            };
            if used > hard_v * (1.0 + 1e-9) {
                out.push(
                    Finding::error(
                        "k8s-quota-exceeded",
                        format!(
                            "namespace {ns}: workloads need {} of {dim} at the height of a rollout ({}), but its quota allows {hard}",
                            show(dim, used),
                            u.terms[dim].join(" + ")
                        ),
                    )
                    .at(quota_at)
                    .remedy("raise the quota, lower replicas (or the HPA's max_replicas) or the pods' resources")
                    .source("https://kubernetes.io/docs/concepts/policy/resource-quotas/"),
                );
            }
        }
    }
}

/// A namespaced object that names a namespace the program declares by text
/// rather than by its handle has no edge to it: nothing orders its create
/// after the namespace, nor the namespace's delete after it.
fn namespace_edge_findings(graph: &DesiredGraph, out: &mut Vec<Finding>) {
    let declared: BTreeMap<String, &Address> = Context::each::<NamespaceArgs>(graph)
        .map(|(spec, ns)| {
            let a = &spec.address;
            (ns.name.unwrap_or_else(|| a.purpose().to_string()), a)
        })
        .collect();
    for spec in graph.resources() {
        let address = &spec.address;
        // Text or a handle: the raw args say which (typed args hold only a
        // placeholder where a handle was).
        let ns = if address.kind() == ObjectArgs::KIND {
            &spec.args["manifest"]["metadata"]["namespace"]
        } else {
            &spec.args["namespace"]
        };
        if let Some(text) = ns.as_str()
            && let Some(declared_at) = declared.get(text)
        {
            out.push(
                Finding::warning(
                    "k8s-namespace-by-name",
                    format!("{address} names namespace `{text}` as text, so it is not ordered after {declared_at}"),
                )
                .at(address)
                .remedy(format!("pass the namespace's handle: `namespace: {}`", declared_at.purpose().replace('-', "_")))
                .source(spec.pos.to_string()),
            );
        }
    }
}

/// The chart of the controller that serves ALB Ingresses, Services of
/// type LoadBalancer and TargetGroupBindings.
const LOAD_BALANCER_CONTROLLER: &str = "aws-load-balancer-controller";

/// The controller an IngressClass names for EKS Auto Mode's load balancing.
const AUTO_MODE_CONTROLLER: &str = "eks.amazonaws.com/alb";

/// What the load balancer controller serves: it puts a finalizer on each
/// and, on delete, removes the cloud resources behind it before lifting it.
fn served_by_load_balancer_controller(spec: &ResourceSpec) -> Option<&'static str> {
    let alb_ingress = |m: &Value| {
        m["spec"]["ingressClassName"] == "alb"
            || m["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "alb"
    };
    match spec.address.kind() {
        IngressArgs::KIND => Some("an ALB"),
        ServiceArgs::KIND => Context::args::<ServiceArgs>(spec)
            .filter(|s| s.service_type.as_deref() == Some("LoadBalancer"))
            .map(|_| "a load balancer"),
        ObjectArgs::KIND => {
            let m = Context::args::<ObjectArgs>(spec)?.manifest;
            match m["kind"].as_str()? {
                "Ingress" if alb_ingress(&m) => Some("an ALB"),
                "Service" if m["spec"]["type"] == "LoadBalancer" => Some("a load balancer"),
                "TargetGroupBinding" => Some("a target group binding"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Objects a controller payrun installs serves depend on that controller's
/// release: created after it runs, deleted while it still runs. Without
/// the edge a destroy may uninstall the controller first, and the ALB, its
/// target groups and security groups stay behind, holding the subnets.
///
/// On EKS Auto Mode the controller is EKS's own: it serves the Ingresses of
/// an IngressClass that names it (`eks.amazonaws.com/alb`), which plays the
/// release's part.
fn controller_order_findings(graph: &DesiredGraph, out: &mut Vec<Finding>) {
    let releases = Context::each::<ReleaseArgs>(graph)
        .filter(|(_, release)| {
            let c = &release.chart;
            c == LOAD_BALANCER_CONTROLLER || c.ends_with(&format!("/{LOAD_BALANCER_CONTROLLER}"))
        })
        .map(|(spec, _)| &spec.address);
    let classes = Context::each::<ObjectArgs>(graph)
        .filter(|(_, o)| {
            o.manifest["kind"] == "IngressClass"
                && o.manifest["spec"]["controller"] == AUTO_MODE_CONTROLLER
        })
        .map(|(spec, _)| &spec.address);
    let controllers: Vec<&Address> = releases.chain(classes).collect();
    for spec in graph.resources() {
        let address = &spec.address;
        let Some(what) = served_by_load_balancer_controller(spec) else {
            continue;
        };
        if controllers.is_empty() {
            out.push(
                Finding::warning(
                    "k8s-controller-order",
                    format!("{address} needs the AWS Load Balancer Controller for {what}, and this program installs none"),
                )
                .at(address)
                .remedy("make sure the controller runs in the cluster before apply and until this is destroyed, or install it in this program (`workloads::load_balancer_controller`) and pass its release (`controller: lbc.release`)")
                .source(spec.pos.to_string()),
            );
        } else if !controllers.iter().any(|c| graph.depends_on(address, c)) {
            let controller = controllers[0];
            out.push(
                Finding::error(
                    "k8s-controller-order",
                    format!("{address} is served by {controller} ({what}) but does not depend on it: a destroy could uninstall the controller first and leave the cloud resources behind it, holding the subnets"),
                )
                .at(address)
                .remedy(format!("make it depend on the controller: `depends_on(ingress, lbc.release)` (`workloads::ingress` does this with `controller: lbc.release`), where `lbc` is what `workloads::load_balancer_controller` returned for {controller}"))
                .source(spec.pos.to_string()),
            );
        }
    }
}

/// Findings for every Kubernetes resource of the program.
pub fn findings(graph: &DesiredGraph, upgrades: &[Upgrade]) -> Vec<Finding> {
    let mut out = Vec::new();
    namespace_edge_findings(graph, &mut out);
    controller_order_findings(graph, &mut out);
    for spec in graph
        .resources()
        .filter(|s| s.address.kind().starts_with("k8s."))
    {
        version_findings(graph, upgrades, spec, &mut out);
    }
    quota_findings(graph, &mut out);
    out
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "kubernetes",
    codes: &[
        "k8s-api-removed",
        "k8s-api-not-served",
        "k8s-controller-order",
        "k8s-namespace-by-name",
        "k8s-quota-exceeded",
        "k8s-quota-needs-resources",
    ],
    run: |cx| findings(cx.graph, &super::eks::upgrades(cx.changes)),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(minor("1.28"), Some(28));
        assert_eq!(minor("v1.28.3"), Some(28));
        assert_eq!(minor("2.0"), None);
        assert_eq!(show("requests.cpu", 2.5), "2500m");
        assert_eq!(show("requests.cpu", 2.0), "2");
        assert_eq!(show("limits.memory", 4.0 * 1024.0 * 1024.0 * 1024.0), "4Gi");
    }
}
