//! `aws.appmesh.virtual_service`: the name clients in the mesh call (a DNS
//! name such as `payment.payment.svc.cluster.local`), served by a virtual
//! router or directly by a virtual node.

use aws_sdk_appmesh::Client;
use aws_sdk_appmesh::types::{
    VirtualNodeServiceProvider, VirtualRouterServiceProvider, VirtualServiceData,
    VirtualServiceProvider, VirtualServiceSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    MeshArgs, as_written, found, gone_is_ok, id_parts, incomplete, invalid, is_live, outputs,
    parse, tagging, validate,
};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{ArgSpec, KindSchema};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Args {
    mesh_name: String,
    /// The DNS name clients call; App Mesh names the service by it.
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    virtual_router_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
                "a virtual service has one provider: set `virtual_router_name` or `virtual_node_name`, not both and not neither"
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
    kind: "aws.appmesh.virtual_service",
    name_prefix: "vs",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    args: &[
        ArgSpec::force_new("mesh_name"),
        ArgSpec::force_new("name"),
        ArgSpec::new("virtual_router_name"),
        ArgSpec::new("virtual_node_name"),
        ArgSpec::new("tags"),
    ],
    outputs: &["arn", "name"],
    validate: |args| validate::<Args>(args, check),
    doc: "An App Mesh virtual service named by the DNS `name` clients call, provided by `virtual_router_name` or `virtual_node_name`.",
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

fn arn(service: &VirtualServiceData) -> &str {
    service.metadata().map(|m| m.arn()).unwrap_or_default()
}

fn applied(service: &VirtualServiceData) -> Applied {
    Applied {
        id: format!("{}/{}", service.mesh_name(), service.virtual_service_name()),
        outputs: outputs(arn(service), service.virtual_service_name()),
    }
}

async fn describe(
    client: &Client,
    subject: &str,
    mesh: &str,
    name: &str,
) -> Result<Option<VirtualServiceData>, ProviderError> {
    let out = found(
        client
            .describe_virtual_service()
            .mesh_name(mesh)
            .virtual_service_name(name)
            .send()
            .await
            .or_fail(subject, "appmesh:DescribeVirtualService"),
    )?;
    Ok(out
        .and_then(|o| o.virtual_service)
        .filter(|s| is_live(s.status().map(|s| s.status().as_str()))))
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: Args = parse(&op.args, &subject)?;
    let out = client
        .create_virtual_service()
        .mesh_name(&args.mesh_name)
        .virtual_service_name(&args.name)
        .spec(spec(&args, &subject)?)
        .set_tags(tagging::to_aws(&args.tags, &subject)?)
        .client_token(&op.token)
        .send()
        .await
        .or_fail(&subject, "appmesh:CreateVirtualService")?;
    let service = out
        .virtual_service()
        .ok_or_else(|| incomplete(&subject, "CreateVirtualService", "the virtual service"))?;
    Ok(applied(service))
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
            Some(service) => ReadResult::Found {
                args: as_written(&item.args, live_args(&service)),
                outputs: applied(&service).outputs,
            },
        });
    }
    Ok(results)
}

/// A change of provider is in place (UpdateVirtualService): clients keep
/// calling the same name while a router takes over from a node.
pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: Args = parse(&op.before, &subject)?;
    let after: Args = parse(&op.after, &subject)?;
    let [mesh, name] = id_parts(&op.id, &subject)?;
    if before.clone().normalised() != after.clone().normalised() {
        client
            .update_virtual_service()
            .mesh_name(mesh)
            .virtual_service_name(name)
            .spec(spec(&after, &subject)?)
            .send()
            .await
            .or_fail(&subject, "appmesh:UpdateVirtualService")?;
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

pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let [mesh, name] = id_parts(&op.id, &subject)?;
    gone_is_ok(
        client
            .delete_virtual_service()
            .mesh_name(mesh)
            .virtual_service_name(name)
            .send()
            .await
            .or_fail(&subject, "appmesh:DeleteVirtualService"),
    )
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: Args = parse(&op.args, &subject)?;
    let Some(service) = describe(client, &subject, &args.mesh_name, &args.name).await? else {
        return Ok(None);
    };
    if !tagging::owned_by(client, &subject, arn(&service), &op.stack).await? {
        return Ok(None);
    }
    Ok(Some(applied(&service)))
}
