//! App Mesh kinds: a mesh, its virtual nodes, virtual routers, routes and
//! virtual services; one file per kind.
//!
//! App Mesh reached end of support on 2026-09-30 (the plan says so with the
//! remedy, VPC Lattice); these kinds exist so a platform that still runs a
//! mesh can be planned, changed and destroyed by the same tool.
//!
//! App Mesh has no batch Describe and its List calls answer names only, so
//! each resource is read with one Describe. Specs are typed args that map
//! one to one onto the API's spec shapes; a read gives back the program's
//! spelling wherever AWS's value means the same (`normalised`), so an
//! unchanged mesh replans as a no-op. Tags are not read back (one
//! ListTagsForResource per resource): they keep their recorded value and are
//! changed in place by difference.
//!
//! Ids carry the names the API addresses a resource by: `mesh`,
//! `mesh/node`, `mesh/router`, `mesh/router/route`, `mesh/service`.

mod mesh;
mod route;
mod tagging;
mod virtual_node;
mod virtual_router;
mod virtual_service;

use aws_sdk_appmesh::Client;
use aws_sdk_appmesh::types::PortProtocol;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::provider::ProviderError;

kinds!(
    Client;
    mesh,
    virtual_node,
    virtual_router,
    route,
    virtual_service,
);

/// The protocol of a listener, a health check or a route.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    Http,
    Http2,
    Grpc,
    Tcp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Http2 => "http2",
            Self::Grpc => "grpc",
            Self::Tcp => "tcp",
        }
    }

    fn to_aws(self) -> PortProtocol {
        PortProtocol::from(self.as_str())
    }

    fn from_aws(p: &PortProtocol, subject: &str) -> Result<Self, ProviderError> {
        Ok(match p {
            PortProtocol::Http => Self::Http,
            PortProtocol::Http2 => Self::Http2,
            PortProtocol::Grpc => Self::Grpc,
            PortProtocol::Tcp => Self::Tcp,
            other => {
                return Err(ProviderError::new(format!(
                    "{subject}: App Mesh answered protocol `{}`, which payrun does not know",
                    other.as_str()
                ))
                .with_code("UnknownProtocol"));
            }
        })
    }

    /// HTTP-like protocols carry paths and HTTP retry events.
    fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Http2)
    }
}

/// The typed args of a kind.
trait MeshArgs: Serialize + DeserializeOwned + PartialEq {
    /// The args with every default AWS fills in written out and without the
    /// tags (not read back), so two spellings of one spec compare equal.
    fn normalised(self) -> Self;
}

/// The typed args of a call; the host validated them at plan time, so a
/// failure here means the args changed shape in between.
fn parse<T: DeserializeOwned>(args: &Value, subject: &str) -> Result<T, ProviderError> {
    serde_path_to_error::deserialize(args.clone()).map_err(|e| {
        ProviderError::new(format!(
            "{subject}: invalid arguments at `{}`: {}",
            e.path(),
            e.inner()
        ))
        .with_code("InvalidArguments")
    })
}

/// Schema validation: the typed args parse and `check` accepts them.
fn validate<T: DeserializeOwned>(
    args: &Value,
    check: fn(&T) -> Result<(), String>,
) -> Result<(), String> {
    let typed: T = serde_path_to_error::deserialize(args.clone())
        .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))?;
    check(&typed)
}

/// The args a read gives back: per top-level argument, the program's
/// spelling when it means what AWS holds, AWS's value when it differs, and
/// nothing for a default the program left out.
fn as_written<T: MeshArgs>(recorded: &Value, live: T) -> Map<String, Value> {
    let as_map = |t: T| match serde_json::to_value(t.normalised()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let live = as_map(live);
    let written = parse::<T>(recorded, "").map(as_map).unwrap_or_default();
    let mut out = Map::new();
    for (key, value) in live {
        let same = written.get(&key) == Some(&value);
        match recorded.get(key.as_str()) {
            Some(w) if same => {
                out.insert(key, w.clone());
            }
            None if same => {}
            _ => {
                out.insert(key, value);
            }
        }
    }
    out
}

/// A reply that lacks what the API promises.
fn incomplete(subject: &str, action: &str, what: &str) -> ProviderError {
    ProviderError::new(format!("{subject}: {action} answered without {what}"))
        .with_code("IncompleteResponse")
}

/// A builder refused what the program gave (a required field missing).
fn invalid(subject: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("{subject}: {e}")).with_code("InvalidArguments")
}

/// A Describe answer: `None` when the resource is gone.
fn found<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(e) if super::error::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deleting what is already gone succeeds.
fn gone_is_ok<T>(result: Result<T, ProviderError>) -> Result<(), ProviderError> {
    found(result).map(drop)
}

/// The names in an id: `mesh/router/route` → `["mesh", "router", "route"]`.
fn id_parts<'a, const N: usize>(id: &'a str, subject: &str) -> Result<[&'a str; N], ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    parts.try_into().map_err(|_| {
        ProviderError::new(format!(
            "{subject}: recorded id `{id}` is not {N} names joined by `/`"
        ))
        .with_code("InvalidId")
        .with_fix("remove the resource from state (`payrun state rm`) and import it again")
    })
}

/// The outputs every App Mesh resource has.
fn outputs(arn: &str, name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn));
    m.insert("name".into(), json!(name));
    m
}

/// The status a Describe reports; `DELETED` and `INACTIVE` resources read as
/// gone.
fn is_live(status: Option<&str>) -> bool {
    !matches!(status, Some("DELETED" | "INACTIVE"))
}
