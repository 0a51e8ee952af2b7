//! Naming limits: every physical name within its kind's limit.

use super::Context;
use crate::finding::Finding;

pub fn findings(cx: &Context<'_>) -> Vec<Finding> {
    let graph = cx.graph;
    let mut out = Vec::new();
    for spec in graph.resources() {
        let address = &spec.address;
        let Some(schema) = cx.schema(address.kind()) else {
            continue;
        };
        if spec.name.len() > schema.name_max {
            out.push(
                Finding::error(
                    "name-too-long",
                    format!(
                        "{address}: name `{}` is {} characters; {} allows at most {}",
                        spec.name,
                        spec.name.len(),
                        schema.kind,
                        schema.name_max
                    ),
                )
                .at(address)
                .remedy(format!(
                    "shorten the purpose `{}` or the suffix by {} characters",
                    address.purpose(),
                    spec.name.len() - schema.name_max
                ))
                .source(spec.pos.to_string()),
            );
        }
    }
    out
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "names",
    codes: &["name-too-long"],
    run: |cx| findings(cx),
};
