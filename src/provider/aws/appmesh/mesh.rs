//! `aws.appmesh.mesh`: the boundary of a service mesh. Egress defaults to
//! `DROP_ALL`: a proxy in the mesh reaches only the virtual services its
//! node declares as backends, never the internet.

use aws_sdk_appmesh::Client;
use aws_sdk_appmesh::types::{EgressFilter, EgressFilterType, MeshData, MeshSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    MeshArgs, as_written, found, gone_is_ok, incomplete, invalid, is_live, outputs, parse, tagging,
    validate,
};
use crate::provider::aws::error::AwsResultExt;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::{ArgSpec, KindSchema};
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
enum Egress {
    #[default]
    #[serde(rename = "DROP_ALL")]
    DropAll,
    #[serde(rename = "ALLOW_ALL")]
    AllowAll,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    egress_filter: Egress,
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

pub(super) const SCHEMA: KindSchema = KindSchema {
    kind: "aws.appmesh.mesh",
    name_prefix: "mesh",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    args: &[ArgSpec::new("egress_filter"), ArgSpec::new("tags")],
    outputs: &["arn", "name"],
    validate: |args| validate::<Args>(args, |_| Ok(())),
    doc: "An App Mesh service mesh; `egress_filter` DROP_ALL (default) or ALLOW_ALL; outputs `arn` and `name`.",
};

fn spec(args: &Args, subject: &str) -> Result<MeshSpec, ProviderError> {
    let kind = match args.egress_filter {
        Egress::DropAll => EgressFilterType::DropAll,
        Egress::AllowAll => EgressFilterType::AllowAll,
    };
    let egress = EgressFilter::builder()
        .r#type(kind)
        .build()
        .map_err(|e| invalid(subject, e))?;
    Ok(MeshSpec::builder().egress_filter(egress).build())
}

fn live_args(mesh: &MeshData) -> Args {
    let egress = mesh
        .spec()
        .and_then(MeshSpec::egress_filter)
        .map(EgressFilter::r#type);
    Args {
        egress_filter: match egress {
            Some(EgressFilterType::AllowAll) => Egress::AllowAll,
            _ => Egress::DropAll,
        },
        tags: Tags::new(),
    }
}

fn arn(mesh: &MeshData) -> &str {
    mesh.metadata().map(|m| m.arn()).unwrap_or_default()
}

async fn describe(
    client: &Client,
    subject: &str,
    name: &str,
) -> Result<Option<MeshData>, ProviderError> {
    let out = found(
        client
            .describe_mesh()
            .mesh_name(name)
            .send()
            .await
            .or_fail(subject, "appmesh:DescribeMesh"),
    )?;
    Ok(out
        .and_then(|o| o.mesh)
        .filter(|m| is_live(m.status().and_then(|s| s.status()).map(|s| s.as_str()))))
}

pub(super) async fn create(client: &Client, op: &CreateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let args: Args = parse(&op.args, &subject)?;
    let out = client
        .create_mesh()
        .mesh_name(&op.name)
        .spec(spec(&args, &subject)?)
        .set_tags(tagging::to_aws(&args.tags, &subject)?)
        .client_token(&op.token)
        .send()
        .await
        .or_fail(&subject, "appmesh:CreateMesh")?;
    let mesh = out
        .mesh()
        .ok_or_else(|| incomplete(&subject, "CreateMesh", "the mesh"))?;
    Ok(Applied {
        id: mesh.mesh_name().to_string(),
        outputs: outputs(arn(mesh), mesh.mesh_name()),
    })
}

pub(super) async fn read(
    client: &Client,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let subject = item.address.to_string();
        results.push(match describe(client, &subject, &item.id).await? {
            None => ReadResult::Gone,
            Some(mesh) => ReadResult::Found {
                args: as_written(&item.args, live_args(&mesh)),
                outputs: outputs(arn(&mesh), mesh.mesh_name()),
            },
        });
    }
    Ok(results)
}

pub(super) async fn update(client: &Client, op: &UpdateOp) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: Args = parse(&op.before, &subject)?;
    let after: Args = parse(&op.after, &subject)?;
    if before.egress_filter != after.egress_filter {
        client
            .update_mesh()
            .mesh_name(&op.id)
            .spec(spec(&after, &subject)?)
            .send()
            .await
            .or_fail(&subject, "appmesh:UpdateMesh")?;
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

/// App Mesh refuses to delete a mesh that still holds nodes, routers or
/// services; the graph deletes those first.
pub(super) async fn delete(client: &Client, op: &DeleteOp) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    gone_is_ok(
        client
            .delete_mesh()
            .mesh_name(&op.id)
            .send()
            .await
            .or_fail(&subject, "appmesh:DeleteMesh"),
    )
}

pub(super) async fn adopt(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let Some(mesh) = describe(client, &subject, &op.name).await? else {
        return Ok(None);
    };
    if !tagging::owned_by(client, &subject, arn(&mesh), &op.stack).await? {
        return Ok(None);
    }
    Ok(Some(Applied {
        id: mesh.mesh_name().to_string(),
        outputs: outputs(arn(&mesh), mesh.mesh_name()),
    }))
}
