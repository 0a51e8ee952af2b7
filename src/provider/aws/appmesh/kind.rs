//! What every App Mesh kind does the same way, once: the five provider
//! operations written against [`MeshKind`], which each kind implements with
//! its own SDK calls and spec shapes.
//!
//! A resource is addressed by names (`mesh`, `mesh/node`,
//! `mesh/router/route`): they are its id, and its outputs are its ARN and
//! its last name.

use async_trait::async_trait;
use aws_sdk_appmesh::Client;

use super::{MeshArgs, as_written, found, gone_is_ok, outputs, parse, tagging};
use crate::provider::aws::tags::Tags;
use crate::provider::{Applied, CreateOp, DeleteOp, ProviderError, ReadItem, ReadResult, UpdateOp};

#[async_trait]
pub(super) trait MeshKind {
    type Args: MeshArgs + Clone + Send + Sync;
    type Data: Send + Sync;

    /// How many names address a resource of this kind.
    const NAMES: usize;

    /// The names of the resource a create with `args` makes under the
    /// physical name `name`.
    fn names(args: &Self::Args, name: &str) -> Vec<String>;
    fn tags(args: &Self::Args) -> &Tags;

    /// The names the API answers with; `arn` and `status` of the answer.
    fn names_of(data: &Self::Data) -> Vec<String>;
    fn arn(data: &Self::Data) -> &str;
    fn status(data: &Self::Data) -> Option<&str>;
    /// The args the live resource has (without tags, which are not read).
    fn live(data: &Self::Data, subject: &str) -> Result<Self::Args, ProviderError>;

    async fn describe(
        client: &Client,
        subject: &str,
        names: &[&str],
    ) -> Result<Self::Data, ProviderError>;
    async fn create(
        client: &Client,
        op: &CreateOp,
        args: &Self::Args,
        names: &[&str],
    ) -> Result<Self::Data, ProviderError>;
    /// Replaces the whole spec with `after`'s.
    async fn update(
        client: &Client,
        subject: &str,
        names: &[&str],
        after: &Self::Args,
    ) -> Result<(), ProviderError>;
    async fn delete(client: &Client, subject: &str, names: &[&str]) -> Result<(), ProviderError>;
}

/// The names in a recorded id: `mesh/router/route` → `["mesh", "router", "route"]`.
fn names<'a, K: MeshKind>(id: &'a str, subject: &str) -> Result<Vec<&'a str>, ProviderError> {
    let names: Vec<&str> = id.split('/').collect();
    if names.len() == K::NAMES {
        return Ok(names);
    }
    Err(ProviderError::new(format!(
        "{subject}: recorded id `{id}` is not {} names joined by `/`",
        K::NAMES
    ))
    .with_code("InvalidId")
    .with_fix("remove the resource from state (`payrun state rm`) and apply again"))
}

/// The resource, unless it is gone (deleted, or `DELETED`/`INACTIVE`).
async fn live<K: MeshKind>(
    client: &Client,
    subject: &str,
    names: &[&str],
) -> Result<Option<K::Data>, ProviderError> {
    let data = found(K::describe(client, subject, names).await)?;
    Ok(data.filter(|d| !matches!(K::status(d), Some("DELETED" | "INACTIVE"))))
}

fn applied<K: MeshKind>(data: &K::Data) -> Applied {
    let names = K::names_of(data);
    Applied {
        id: names.join("/"),
        outputs: outputs(K::arn(data), names.last().map_or("", String::as_str)),
    }
}

pub(super) async fn create<K: MeshKind>(
    client: &Client,
    op: &CreateOp,
) -> Result<Applied, ProviderError> {
    let args: K::Args = parse(&op.args, &op.address.to_string())?;
    let owned = K::names(&args, &op.name);
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    Ok(applied::<K>(&K::create(client, op, &args, &names).await?))
}

/// One Describe per resource: App Mesh has no batch read.
pub(super) async fn read<K: MeshKind>(
    client: &Client,
    items: &[ReadItem],
) -> Result<Vec<ReadResult>, ProviderError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let subject = item.address.to_string();
        let names = names::<K>(&item.id, &subject)?;
        results.push(match live::<K>(client, &subject, &names).await? {
            None => ReadResult::Gone,
            Some(data) => ReadResult::Found {
                args: as_written(&item.args, K::live(&data, &subject)?),
                outputs: applied::<K>(&data).outputs,
            },
        });
    }
    Ok(results)
}

/// The spec when it changed (in its meaning, not its spelling), then the
/// tags by difference.
pub(super) async fn update<K: MeshKind>(
    client: &Client,
    op: &UpdateOp,
) -> Result<Applied, ProviderError> {
    let subject = op.address.to_string();
    let before: K::Args = parse(&op.before, &subject)?;
    let after: K::Args = parse(&op.after, &subject)?;
    let names = names::<K>(&op.id, &subject)?;
    if before.clone().normalised() != after.clone().normalised() {
        K::update(client, &subject, &names, &after).await?;
    }
    let arn = op.recorded("arn");
    tagging::update(client, &subject, arn, K::tags(&before), K::tags(&after)).await?;
    Ok(op.unchanged())
}

/// Deleting what is already gone succeeds. App Mesh refuses to delete what
/// others still use (a mesh with nodes, a router with routes); the graph
/// deletes those first.
pub(super) async fn delete<K: MeshKind>(
    client: &Client,
    op: &DeleteOp,
) -> Result<(), ProviderError> {
    let subject = op.address.to_string();
    let names = names::<K>(&op.id, &subject)?;
    gone_is_ok(K::delete(client, &subject, &names).await)
}

/// What an interrupted create made: the resource under the names the
/// create would use, if its tags say this stack and address made it.
pub(super) async fn adopt<K: MeshKind>(
    client: &Client,
    op: &CreateOp,
) -> Result<Option<Applied>, ProviderError> {
    let subject = op.address.to_string();
    let args: K::Args = parse(&op.args, &subject)?;
    let owned = K::names(&args, &op.name);
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    let Some(data) = live::<K>(client, &subject, &names).await? else {
        return Ok(None);
    };
    if !tagging::owned_by(client, &subject, K::arn(&data), &op.stack).await? {
        return Ok(None);
    }
    Ok(Some(applied::<K>(&data)))
}

/// The five operations of a kind module, forwarding to the generic ones
/// above for the kind's [`MeshKind`] type.
macro_rules! mesh_operations {
    ($kind:ty) => {
        pub(super) async fn create(
            client: &aws_sdk_appmesh::Client,
            op: &$crate::provider::CreateOp,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            super::kind::create::<$kind>(client, op).await
        }

        pub(super) async fn read(
            client: &aws_sdk_appmesh::Client,
            _cx: &$crate::provider::aws::refresh::Refresh<'_>,
            items: &[$crate::provider::ReadItem],
        ) -> Result<Vec<$crate::provider::ReadResult>, $crate::provider::ProviderError> {
            super::kind::read::<$kind>(client, items).await
        }

        pub(super) async fn update(
            client: &aws_sdk_appmesh::Client,
            op: &$crate::provider::UpdateOp,
        ) -> Result<$crate::provider::Applied, $crate::provider::ProviderError> {
            super::kind::update::<$kind>(client, op).await
        }

        pub(super) async fn delete(
            client: &aws_sdk_appmesh::Client,
            op: &$crate::provider::DeleteOp,
        ) -> Result<(), $crate::provider::ProviderError> {
            super::kind::delete::<$kind>(client, op).await
        }

        pub(super) async fn adopt(
            client: &aws_sdk_appmesh::Client,
            op: &$crate::provider::CreateOp,
        ) -> Result<Option<$crate::provider::Applied>, $crate::provider::ProviderError> {
            super::kind::adopt::<$kind>(client, op).await
        }
    };
}

/// A kind's [`MeshKind`] implementation and its five operations, from the
/// names of its SDK calls: App Mesh addresses every resource by the same
/// builder setters that its answers have as getters (`mesh_name`,
/// `virtual_node_name`, ...), so describe, create, update and delete differ
/// only in those names. The kind module supplies `spec(args, subject)` and
/// what differs in substance: the names a create uses, the status, the
/// args read back.
macro_rules! mesh_kind {
    (
        $kind:ident {
            data: $data:ty,
            field: $field:ident,
            what: $what:literal,
            names: [$($name:ident = $i:literal),+ $(,)?],
            calls: [$describe:ident, $create:ident, $update:ident, $delete:ident],
            actions: [$dact:literal, $cact:literal, $uact:literal, $xact:literal],
            names_for($args:ident, $physical:ident) => $names_for:expr,
            status($sd:ident) => $status:expr,
            live($ld:ident, $subject:ident) => $live:expr $(,)?
        }
    ) => {
        pub(super) struct $kind;

        #[async_trait::async_trait]
        impl super::kind::MeshKind for $kind {
            type Args = Args;
            type Data = $data;
            const NAMES: usize = [$($i),+].len();

            fn names($args: &Args, $physical: &str) -> Vec<String> {
                $names_for
            }
            fn tags(args: &Args) -> &$crate::provider::aws::tags::Tags {
                &args.tags
            }
            fn names_of(data: &$data) -> Vec<String> {
                vec![$(data.$name().to_string()),+]
            }
            fn arn(data: &$data) -> &str {
                data.metadata().map(|m| m.arn()).unwrap_or_default()
            }
            fn status($sd: &$data) -> Option<&str> {
                $status
            }
            fn live(
                $ld: &$data,
                $subject: &str,
            ) -> Result<Args, $crate::provider::ProviderError> {
                $live
            }

            async fn describe(
                client: &aws_sdk_appmesh::Client,
                subject: &str,
                names: &[&str],
            ) -> Result<$data, $crate::provider::ProviderError> {
                use $crate::provider::aws::error::AwsResultExt;
                let out = client
                    .$describe()
                    $(.$name(names[$i]))+
                    .send()
                    .await
                    .or_fail(subject, concat!("appmesh:", $dact))?;
                out.$field
                    .ok_or_else(|| super::incomplete(subject, $dact, $what))
            }

            async fn create(
                client: &aws_sdk_appmesh::Client,
                op: &$crate::provider::CreateOp,
                args: &Args,
                names: &[&str],
            ) -> Result<$data, $crate::provider::ProviderError> {
                use $crate::provider::aws::error::AwsResultExt;
                let subject = op.address.to_string();
                let out = client
                    .$create()
                    $(.$name(names[$i]))+
                    .spec(spec(args, &subject)?)
                    .set_tags(super::tagging::to_aws(&args.tags, &subject)?)
                    .client_token(&op.token)
                    .send()
                    .await
                    .or_fail(&subject, concat!("appmesh:", $cact))?;
                out.$field
                    .ok_or_else(|| super::incomplete(&subject, $cact, $what))
            }

            async fn update(
                client: &aws_sdk_appmesh::Client,
                subject: &str,
                names: &[&str],
                after: &Args,
            ) -> Result<(), $crate::provider::ProviderError> {
                use $crate::provider::aws::error::AwsResultExt;
                client
                    .$update()
                    $(.$name(names[$i]))+
                    .spec(spec(after, subject)?)
                    .send()
                    .await
                    .or_fail(subject, concat!("appmesh:", $uact))
                    .map(drop)
            }

            async fn delete(
                client: &aws_sdk_appmesh::Client,
                subject: &str,
                names: &[&str],
            ) -> Result<(), $crate::provider::ProviderError> {
                use $crate::provider::aws::error::AwsResultExt;
                client
                    .$delete()
                    $(.$name(names[$i]))+
                    .send()
                    .await
                    .or_fail(subject, concat!("appmesh:", $xact))
                    .map(drop)
            }
        }

        mesh_operations!($kind);
    };
}
