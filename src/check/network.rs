//! Network facts across resources that AWS would refuse at the call: a
//! subnet outside its VPC's block or overlapping a sibling, a subnet in an
//! availability zone of another region. Single values (a block that does
//! not parse, a VPC of /8) are refused by the kinds themselves, at the
//! builder call.

use std::collections::BTreeMap;

use super::Context;
use super::context::kinds::{SubnetArgs, VpcArgs};
use crate::address::Address;
use crate::cidr::Ipv4Block;
use crate::finding::Finding;
use crate::graph::DesiredGraph;
use crate::script::Program;
use crate::value::{UNKNOWN, as_ref};

pub const OUTSIDE_VPC: &str = "subnet-outside-vpc";
pub const OVERLAP: &str = "subnet-overlap";
pub const AZ_REGION: &str = "az-region";

/// Is `az` a zone of `region`: `us-east-1a`, or a Local or Wavelength
/// Zone of it (`us-east-1-bos-1a`)?
pub fn az_in_region(az: &str, region: &str) -> bool {
    let Some(rest) = az.strip_prefix(region) else {
        return false;
    };
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c.is_ascii_lowercase(),
        (Some('-'), Some(_)) => rest.ends_with(|c: char| c.is_ascii_lowercase()),
        _ => false,
    }
}

/// The region of a zone name of any region (`eu-west-1a` → `eu-west-1`).
fn region_of(az: &str) -> Option<&str> {
    let region = az.strip_suffix(|c: char| c.is_ascii_lowercase())?;
    let looks_like_one = region.split('-').count() >= 3
        && region.ends_with(|c: char| c.is_ascii_digit())
        && region.starts_with(|c: char| c.is_ascii_lowercase());
    looks_like_one.then_some(region)
}

/// Findings over the subnets of `program`, in the order it declares them
/// (a later subnet overlapping an earlier one is the one at fault).
pub fn findings(graph: &DesiredGraph, program: &Program) -> Vec<Finding> {
    let region = program.region.as_str();
    let mut out = Vec::new();
    // Subnets seen so far per VPC, in declaration order.
    let mut siblings: BTreeMap<Address, Vec<(Address, Ipv4Block)>> = BTreeMap::new();
    for spec in &program.resources {
        let address = &spec.address;
        let Some(subnet) = Context::args::<SubnetArgs>(spec) else {
            continue;
        };
        let at = spec.pos.to_string();
        let az = subnet.az.as_str();
        if !region.is_empty() && az != UNKNOWN && !az_in_region(az, region) {
            out.push(
                Finding::error(
                    AZ_REGION,
                    format!(
                        "{address}: `{az}` is not an availability zone of {region}, the stack's region"
                    ),
                )
                .at(address)
                .remedy(match region_of(az) {
                    Some(other) => format!(
                        "use a zone of {region} (`{region}a`, `{region}b`, ...), or plan the stack in {other} with --region {other}"
                    ),
                    None => format!("use a zone of {region}: `{region}a`, `{region}b`, ..."),
                })
                .source(at.clone()),
            );
        }
        let Ok(block) = subnet.cidr.parse::<Ipv4Block>() else {
            continue;
        };
        // The VPC is an edge of the graph: the typed args hold only a
        // placeholder for its id.
        let Some(vpc) = spec.args.get("vpc").and_then(as_ref).map(|r| r.address) else {
            continue;
        };
        if let Some(vpc_block) = graph
            .spec(&vpc)
            .and_then(Context::args::<VpcArgs>)
            .and_then(|v| v.cidr.parse::<Ipv4Block>().ok())
            && !vpc_block.contains(block)
        {
            out.push(
                Finding::error(
                    OUTSIDE_VPC,
                    format!("{address}: `{block}` lies outside `{vpc_block}`, the block of {vpc}"),
                )
                .at(address)
                .remedy(format!(
                    "take the subnet from the VPC's block, e.g. `cidr: cidr_subnet(\"{vpc_block}\", 8, 0)`"
                ))
                .source(at.clone()),
            );
        }
        let seen = siblings.entry(vpc.clone()).or_default();
        if let Some((other, other_block)) = seen.iter().find(|(_, b)| b.overlaps(block)) {
            let declared = graph
                .spec(other)
                .map(|s| format!(" (declared at {})", s.pos))
                .unwrap_or_default();
            out.push(
                Finding::error(
                    OVERLAP,
                    format!(
                        "{address}: `{block}` overlaps `{other_block}` of {other}{declared}, another subnet of {vpc}"
                    ),
                )
                .at(address)
                .remedy(format!(
                    "give each subnet of {vpc} a block of its own (`cidr_subnet(base, newbits, index)` with a different index)"
                ))
                .source(at),
            );
        }
        seen.push((address.clone(), block));
    }
    out
}

/// The check of this module, as [`super::CHECKS`] runs it.
pub const CHECK: super::Check = super::Check {
    name: "network",
    codes: &["subnet-outside-vpc", "subnet-overlap", "az-region"],
    run: |cx| findings(cx.graph, cx.program),
};

#[cfg(test)]
mod tests {
    use super::az_in_region;

    #[test]
    fn zones_of_a_region() {
        assert!(az_in_region("us-east-1a", "us-east-1"));
        assert!(az_in_region("us-east-1-bos-1a", "us-east-1"));
        assert!(!az_in_region("eu-west-1a", "us-east-1"));
        assert!(!az_in_region("u", "us-east-1"));
        assert!(!az_in_region("us-east-1", "us-east-1"));
        assert!(!az_in_region("us-east-11a", "us-east-1"));
        assert!(!az_in_region("us-east-1A", "us-east-1"));
        assert_eq!(super::region_of("eu-west-1a"), Some("eu-west-1"));
        assert_eq!(super::region_of("u"), None);
    }
}
