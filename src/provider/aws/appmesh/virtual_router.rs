//! `aws.appmesh.virtual_router`: the listener a virtual service's traffic
//! arrives on before its routes pick a virtual node.

use aws_sdk_appmesh::Client;
use aws_sdk_appmesh::types::{
    PortMapping, VirtualRouterData, VirtualRouterListener, VirtualRouterSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    MeshArgs, Protocol, as_written, found, gone_is_ok, id_parts, incomplete, invalid, is_live,
    outputs, parse, tagging, validate,
};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{ArgSpec, KindSchema};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Args {
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
    kind: "aws.appmesh.virtual_router",
    name_prefix: "vr",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    args: &[
        ArgSpec::force_new("mesh_name"),
        ArgSpec::new("listeners"),
        ArgSpec::new("tags"),
    ],
    outputs: &["arn", "name"],
    validate: |args| validate::<Args>(args, check),
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

fn arn(router: &VirtualRouterData) -> &str {
    router.metadata().map(|m| m.arn()).unwrap_or_default()
}

fn applied(router: &VirtualRouterData) -> Applied {
    Applied {
        id: format!("{}/{}", router.mesh_name(), router.virtual_router_name()),
        outputs: outputs(arn(router), router.virtual_router_name()),
    }
}

async fn describe(
    client: &Client,
    subject: &str,
    mesh: &str,
    name: &str,
) -> Result<Option<VirtualRouterData>, ProviderError> {
    let out = found(
        client
            .describe_virtual_router()
            .mesh_name(mesh)
            .virtual_router_name(name)
            .send()
            .await
            .or_fail(subject, "appmesh:DescribeVirtualRouter"),
    )?;
    Ok(out
        .and_then(|o| o.virtual_router)
        .filter(|r| is_live(r.status().map(|s| s.status().as_str()))))
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: Args = parse(&op.args, &subject)?;
    let out = client
        .create_virtual_router()
        .mesh_name(&args.mesh_name)
        .virtual_router_name(&op.name)
        .spec(spec(&args, &subject)?)
        .set_tags(tagging::to_aws(&args.tags, &subject)?)
        .client_token(&op.token)
        .send()
        .await
        .or_fail(&subject, "appmesh:CreateVirtualRouter")?;
    let router = out
        .virtual_router()
        .ok_or_else(|| incomplete(&subject, "CreateVirtualRouter", "the virtual router"))?;
    Ok(applied(router))
}

pub(super) async fn read(
    client: &Client,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let subject = item.address.to_string();
        let [mesh, name] = id_parts(&item.id, &subject)?;
        results.push(match describe(client, &subject, mesh, name).await? {
            None => ReadResult::Gone,
            Some(router) => ReadResult::Found {
                args: as_written(&item.args, live_args(&router, &subject)?),
                outputs: applied(&router).outputs,
            },
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: Args = parse(&op.before, &subject)?;
    let after: Args = parse(&op.after, &subject)?;
    let [mesh, name] = id_parts(&op.id, &subject)?;
    if before.listeners != after.listeners {
        client
            .update_virtual_router()
            .mesh_name(mesh)
            .virtual_router_name(name)
            .spec(spec(&after, &subject)?)
            .send()
            .await
            .or_fail(&subject, "appmesh:UpdateVirtualRouter")?;
    }
    let arn = op
        .outputs
        .get("arn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    tagging::update(client, &subject, arn, &before.tags, &after.tags).await?;
    Ok(Applied {
        id: op.id.clone(),
        outputs: op.outputs.clone(),
    })
}

/// App Mesh refuses to delete a router that still has routes or is a
/// virtual service's provider; the graph deletes those first.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let [mesh, name] = id_parts(&op.id, &subject)?;
    gone_is_ok(
        client
            .delete_virtual_router()
            .mesh_name(mesh)
            .virtual_router_name(name)
            .send()
            .await
            .or_fail(&subject, "appmesh:DeleteVirtualRouter"),
    )
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: Args = parse(&op.args, &subject)?;
    let Some(router) = describe(client, &subject, &args.mesh_name, &op.name).await? else {
        return Ok(None);
    };
    if !tagging::owned_by(client, &subject, arn(&router), &op.stack).await? {
        return Ok(None);
    }
    Ok(Some(applied(&router)))
}
