//! `aws.appmesh.virtual_service`: the name clients in the mesh call (a DNS
//! name such as `payment.payment.svc.cluster.local`), served by a virtual
//! router or directly by a virtual node.

use aws_sdk_appmesh::types::{
    VirtualNodeServiceProvider, VirtualRouterServiceProvider, VirtualServiceData,
    VirtualServiceProvider, VirtualServiceSpec,
};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};

use super::{MeshArgs, invalid, validate};
use crate::provider::ProviderError;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::KindSchema;

#[derive(Clone, Debug, Deserialize, Args, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.appmesh.virtual_service")]
pub(super) struct Args {
    #[serde(rename = "mesh")]
    #[arg(force_new, takes = "name", formerly = "mesh_name")]
    mesh_name: String,
    /// The DNS name clients call; App Mesh names the service by it.
    #[arg(force_new)]
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "virtual_router")]
    #[arg(takes = "name", formerly = "virtual_router_name")]
    virtual_router_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "virtual_node")]
    #[arg(takes = "name", formerly = "virtual_node_name")]
    virtual_node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    tags: Tags,
}

impl MeshArgs for Args {
    fn normalised(self) -> Self {
        Self {
            tags: Tags::new(),
            ..self
        }
    }
}

fn check(args: &Args) -> Result<(), String> {
    match (&args.virtual_router_name, &args.virtual_node_name) {
        (Some(_), None) | (None, Some(_)) => {}
        _ => {
            return Err(
                "a virtual service has one provider: set `virtual_router` or `virtual_node`, not both and not neither"
                    .into(),
            );
        }
    }
    if args.name.is_empty() || args.name.contains('/') {
        return Err(format!(
            "`name`: `{}` is not a DNS name clients can call",
            args.name
        ));
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: Args::KIND,
    name_prefix: "vs",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: Args::SPECS,
    outputs: &["arn", "name"],
    validate: &|args| validate::<Args>(args, check),
    reads_each: Some("one Describe call per resource: App Mesh has no batched read"),
    doc: "An App Mesh virtual service named by the DNS `name` clients call, provided by `virtual_router` or `virtual_node`.",
};

fn spec(args: &Args, subject: &str) -> Result<VirtualServiceSpec, ProviderError> {
    let e = |e| invalid(subject, e);
    let provider = match (&args.virtual_router_name, &args.virtual_node_name) {
        (Some(router), _) => VirtualServiceProvider::VirtualRouter(
            VirtualRouterServiceProvider::builder()
                .virtual_router_name(router)
                .build()
                .map_err(e)?,
        ),
        (None, Some(node)) => VirtualServiceProvider::VirtualNode(
            VirtualNodeServiceProvider::builder()
                .virtual_node_name(node)
                .build()
                .map_err(e)?,
        ),
        (None, None) => return Err(invalid(subject, "the virtual service has no provider")),
    };
    Ok(VirtualServiceSpec::builder().provider(provider).build())
}

fn live_args(service: &VirtualServiceData) -> Args {
    let provider = service.spec().and_then(VirtualServiceSpec::provider);
    Args {
        mesh_name: service.mesh_name().to_string(),
        name: service.virtual_service_name().to_string(),
        virtual_router_name: match provider {
            Some(VirtualServiceProvider::VirtualRouter(r)) => {
                Some(r.virtual_router_name().to_string())
            }
            _ => None,
        },
        virtual_node_name: match provider {
            Some(VirtualServiceProvider::VirtualNode(n)) => Some(n.virtual_node_name().to_string()),
            _ => None,
        },
        tags: Tags::new(),
    }
}

// App Mesh names a virtual service by the DNS name clients call. A change of
// provider is in place: clients keep calling that name while a router takes
// over from a node.
mesh_kind! {
    VirtualService {
        data: VirtualServiceData,
        field: virtual_service,
        what: "the virtual service",
        names: [mesh_name = 0, virtual_service_name = 1],
        calls: [describe_virtual_service, create_virtual_service, update_virtual_service, delete_virtual_service],
        actions: ["DescribeVirtualService", "CreateVirtualService", "UpdateVirtualService", "DeleteVirtualService"],
        names_for(args, _name) => vec![args.mesh_name.clone(), args.name.clone()],
        status(service) => service.status().map(|s| s.status().as_str()),
        live(service, _subject) => Ok(live_args(service)),
    }
}
