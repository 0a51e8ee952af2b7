//! Single argument values the cloud would refuse, checked by the kinds'
//! [`CheckArgs`](super::schema::CheckArgs): CIDR blocks, ports and
//! protocols, members of enumerations. Each refusal names the argument and
//! what to write instead.

use std::ops::RangeInclusive;

use crate::cidr::Ipv4Block;
use crate::value::UNKNOWN;

use super::schema::ArgError;

/// The value, unless it is known only after apply (a ref).
pub fn known(value: &str) -> Option<&str> {
    (value != UNKNOWN).then_some(value)
}

/// `value` of `arg` as an IPv4 block; `None` when it is a ref.
pub fn block(arg: &str, value: &str) -> Result<Option<Ipv4Block>, ArgError> {
    let Some(value) = known(value) else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|why| {
        ArgError::new(
            format!("`{arg}`: `{value}` is not a CIDR block: {why}"),
            format!("write `{arg}` as an IPv4 block such as `10.0.0.0/16`"),
        )
    })
}

/// A block AWS takes as a network of `what` (a VPC, a subnet): its prefix
/// within `prefixes` and no host bits set.
pub fn network_block(
    arg: &str,
    value: &str,
    what: &str,
    prefixes: RangeInclusive<u8>,
) -> Result<Option<Ipv4Block>, ArgError> {
    let Some(b) = block(arg, value)? else {
        return Ok(None);
    };
    let (min, max) = (*prefixes.start(), *prefixes.end());
    if !prefixes.contains(&b.prefix) {
        let example = Ipv4Block {
            addr: b.addr,
            prefix: b.prefix.clamp(min, max),
        }
        .network();
        return Err(ArgError::new(
            format!(
                "`{arg}`: `{value}` is a /{}; AWS takes a {what} of /{min} to /{max} only",
                b.prefix
            ),
            format!("use a /{min} to /{max} block, e.g. `{example}`"),
        ));
    }
    if b.has_host_bits() {
        return Err(ArgError::new(
            format!(
                "`{arg}`: `{value}` sets bits after its /{} prefix: it is not the address of a network",
                b.prefix
            ),
            format!("write the network's own address: `{}`", b.network()),
        ));
    }
    Ok(Some(b))
}

/// `value` of `arg` is one of `allowed` (an SDK enumeration's values).
pub fn one_of(arg: &str, value: &str, allowed: &[&str]) -> Result<(), ArgError> {
    let Some(value) = known(value) else {
        return Ok(());
    };
    if allowed.contains(&value) {
        return Ok(());
    }
    let listed = allowed
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = match crate::suggest::did_you_mean(value, allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? `{arg}` takes {listed}"),
        None => format!("`{arg}` takes {listed}"),
    };
    Err(ArgError::new(
        format!("`{arg}`: `{value}` is not one of the values AWS accepts"),
        fix,
    ))
}

/// An IP protocol as EC2 takes it in security group rules and network ACL
/// entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpProtocol {
    /// `-1` / `all`: every protocol, ports ignored.
    All,
    /// TCP (6) and UDP (17): ports 0 to 65535.
    Ported,
    /// ICMP (1) and ICMPv6 (58): `from_port` is the type, `to_port` the
    /// code, -1 for any.
    Icmp,
    /// Any other protocol number: ports ignored.
    Other,
}

impl IpProtocol {
    pub fn parse(value: &str) -> Result<Option<Self>, ArgError> {
        let Some(value) = known(value) else {
            return Ok(None);
        };
        Ok(Some(match value.to_ascii_lowercase().as_str() {
            "-1" | "all" => Self::All,
            "tcp" | "udp" | "6" | "17" => Self::Ported,
            "icmp" | "icmpv6" | "1" | "58" => Self::Icmp,
            n if n.parse::<u8>().is_ok() => Self::Other,
            _ => {
                return Err(ArgError::new(
                    format!("`protocol`: `{value}` is not an IP protocol"),
                    "write `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (every protocol) or a protocol number from 0 to 255",
                ));
            }
        }))
    }
}

/// `from_port` and `to_port` of a rule for `protocol`: 0 to 65535 and
/// `from_port <= to_port` for TCP and UDP; a type and a code from -1 to
/// 255 for ICMP.
pub fn port_range(
    protocol: Option<IpProtocol>,
    from: Option<i32>,
    to: Option<i32>,
) -> Result<(), ArgError> {
    let range: RangeInclusive<i32> = match protocol {
        Some(IpProtocol::Ported) => 0..=65535,
        Some(IpProtocol::Icmp) => -1..=255,
        _ => -1..=65535,
    };
    for (arg, port) in [("from_port", from), ("to_port", to)] {
        if let Some(p) = port
            && !range.contains(&p)
        {
            let what = if protocol == Some(IpProtocol::Icmp) {
                "an ICMP type or code is -1 to 255"
            } else {
                "a port is 0 to 65535"
            };
            return Err(ArgError::new(
                format!("`{arg}`: {p} is out of range: {what}"),
                format!(
                    "give `{arg}` a value from {} to {}",
                    range.start(),
                    range.end()
                ),
            ));
        }
    }
    if protocol == Some(IpProtocol::Ported)
        && let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ArgError::new(
            format!("`from_port` {f} is above `to_port` {t}: the range is empty"),
            format!("write the lower port first: `from_port: {t}, to_port: {f}`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        assert_eq!(
            block("cidr", "10.0.256.0/33").unwrap_err().message,
            "`cidr`: `10.0.256.0/33` is not a CIDR block: `256` is not an octet (0 to 255)"
        );
        assert_eq!(block("cidr", UNKNOWN).unwrap(), None);
        let e = network_block("cidr", "10.0.0.0/8", "VPC", 16..=28).unwrap_err();
        assert_eq!(
            e.message,
            "`cidr`: `10.0.0.0/8` is a /8; AWS takes a VPC of /16 to /28 only"
        );
        assert_eq!(e.fix, "use a /16 to /28 block, e.g. `10.0.0.0/16`");
        let e = network_block("cidr", "10.0.1.0/16", "VPC", 16..=28).unwrap_err();
        assert_eq!(e.fix, "write the network's own address: `10.0.0.0/16`");
    }

    #[test]
    fn ports_and_protocols() {
        let tcp = IpProtocol::parse("tcp").unwrap();
        assert!(port_range(tcp, Some(443), Some(443)).is_ok());
        assert!(port_range(tcp, Some(0), Some(65535)).is_ok());
        assert_eq!(
            port_range(tcp, Some(0), Some(65536)).unwrap_err().message,
            "`to_port`: 65536 is out of range: a port is 0 to 65535"
        );
        assert_eq!(
            port_range(tcp, Some(443), Some(80)).unwrap_err().fix,
            "write the lower port first: `from_port: 80, to_port: 443`"
        );
        let icmp = IpProtocol::parse("icmp").unwrap();
        assert!(port_range(icmp, Some(-1), Some(-1)).is_ok());
        assert!(port_range(IpProtocol::parse("-1").unwrap(), Some(0), Some(0)).is_ok());
        assert!(IpProtocol::parse("tpc").is_err());
        assert_eq!(IpProtocol::parse("50").unwrap(), Some(IpProtocol::Other));
    }
}
