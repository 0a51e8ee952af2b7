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
//! `mesh/node`, `mesh/router`, `mesh/router/route`, `mesh/service`. The
//! five operations are written once (`kind.rs`) against a trait each kind
//! implements with its own SDK calls.

#[macro_use]
mod kind;
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
use crate::provider::aws::call::{found, gone_is_ok, incomplete, parse};

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

/// Schema validation: the typed args parse and `check` accepts them.
fn validate<T: DeserializeOwned>(
    args: &Value,
    check: fn(&T) -> Result<(), String>,
) -> Result<(), crate::provider::ArgError> {
    let typed: T = crate::provider::schema::typed(args)?;
    Ok(check(&typed)?)
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

/// A builder refused what the program gave (a required field missing).
fn invalid(subject: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("{subject}: {e}")).with_code("InvalidArguments")
}

/// The outputs every App Mesh resource has.
fn outputs(arn: &str, name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn));
    m.insert("name".into(), json!(name));
    m
}
