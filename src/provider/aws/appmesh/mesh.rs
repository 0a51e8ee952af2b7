//! `aws.appmesh.mesh`: the boundary of a service mesh. Egress defaults to
//! `DROP_ALL`: a proxy in the mesh reaches only the virtual services its
//! node declares as backends, never the internet.

use aws_sdk_appmesh::types::{EgressFilter, EgressFilterType, MeshData, MeshSpec};
use payrun_derive::Args;
use serde::{Deserialize, Serialize};

use super::{MeshArgs, invalid, validate};
use crate::provider::ProviderError;
use crate::provider::aws::tags::Tags;
use crate::provider::schema::KindSchema;

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
enum Egress {
    #[default]
    #[serde(rename = "DROP_ALL")]
    DropAll,
    #[serde(rename = "ALLOW_ALL")]
    AllowAll,
}

#[derive(Clone, Debug, Default, Deserialize, Args, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[arg(kind = "aws.appmesh.mesh")]
pub(super) struct Args {
    #[serde(default)]
    #[arg(default = "\"DROP_ALL\"")]
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
    kind: Args::KIND,
    name_prefix: "mesh",
    name_max: 255,
    taggable: true,
    named_by_arg: false,
    create_before_destroy: false,
    args: Args::SPECS,
    outputs: &["arn", "name"],
    validate: &|args| validate::<Args>(args, |_| Ok(())),
    reads_each: Some("one Describe call per resource: App Mesh has no batched read"),
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

mesh_kind! {
    Mesh {
        data: MeshData,
        field: mesh,
        what: "the mesh",
        names: [mesh_name = 0],
        calls: [describe_mesh, create_mesh, update_mesh, delete_mesh],
        actions: ["DescribeMesh", "CreateMesh", "UpdateMesh", "DeleteMesh"],
        names_for(_args, name) => vec![name.to_string()],
        status(mesh) => mesh.status().and_then(|s| s.status()).map(|s| s.as_str()),
        live(mesh, _subject) => Ok(live_args(mesh)),
    }
}
