//! `aws.appmesh.virtual_router`: the listener a virtual service's traffic
//! arrives on before its routes pick a virtual node.

use aws_sdk_appmesh::types::{
    PortMapping, VirtualRouterData, VirtualRouterListener, VirtualRouterSpec,
};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};

use super::{MeshArgs, Protocol, incomplete, invalid, validate};
use crate::provider::ProviderError;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::KindSchema;

#[derive(Clone, Debug, Deserialize, Args, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.appmesh.virtual_router")]
pub(super) struct Args {
    #[serde(rename = "mesh")]
    #[arg(force_new, takes = "name", formerly = "mesh_name")]
    mesh_name: String,
    listeners: Vec<ListenerArgs>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    tags: Tags,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ListenerArgs {
    port: i32,
    protocol: Protocol,
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
    if args.listeners.len() != 1 {
        return Err(format!(
            "`listeners`: App Mesh takes exactly one virtual router listener, got {}",
            args.listeners.len()
        ));
    }
    Ok(())
}

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: Args::KIND,
    name_prefix: "vr",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: Args::SPECS,
    outputs: &["arn", "name"],
    validate: &|args| validate::<Args>(args, check),
    reads_each: Some("one Describe call per resource: App Mesh has no batched read"),
    doc: "An App Mesh virtual router with one listener (`port`, `protocol`); routes attach to it.",
};

fn spec(args: &Args, subject: &str) -> Result<VirtualRouterSpec, ProviderError> {
    let mut spec = VirtualRouterSpec::builder();
    for l in &args.listeners {
        let mapping = PortMapping::builder()
            .port(l.port)
            .protocol(l.protocol.to_aws())
            .build()
            .map_err(|e| invalid(subject, e))?;
        spec = spec.listeners(
            VirtualRouterListener::builder()
                .port_mapping(mapping)
                .build(),
        );
    }
    Ok(spec.build())
}

fn live_args(router: &VirtualRouterData, subject: &str) -> Result<Args, ProviderError> {
    let spec = router
        .spec()
        .ok_or_else(|| incomplete(subject, "DescribeVirtualRouter", "a spec"))?;
    let listeners = spec
        .listeners()
        .iter()
        .filter_map(VirtualRouterListener::port_mapping)
        .map(|pm| {
            Ok(ListenerArgs {
                port: pm.port(),
                protocol: Protocol::from_aws(pm.protocol(), subject)?,
            })
        })
        .collect::<Result<_, ProviderError>>()?;
    Ok(Args {
        mesh_name: router.mesh_name().to_string(),
        listeners,
        tags: Tags::new(),
    })
}

mesh_kind! {
    VirtualRouter {
        data: VirtualRouterData,
        field: virtual_router,
        what: "the virtual router",
        names: [mesh_name = 0, virtual_router_name = 1],
        calls: [describe_virtual_router, create_virtual_router, update_virtual_router, delete_virtual_router],
        actions: ["DescribeVirtualRouter", "CreateVirtualRouter", "UpdateVirtualRouter", "DeleteVirtualRouter"],
        names_for(args, name) => vec![args.mesh_name.clone(), name.to_string()],
        status(router) => router.status().map(|s| s.status().as_str()),
        live(router, subject) => live_args(router, subject),
    }
}
