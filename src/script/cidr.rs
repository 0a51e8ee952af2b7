//! `cidr_subnet(base, newbits, index)`, as in Terraform.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub fn cidr_subnet(base: &str, newbits: i64, index: i64) -> Result<String, String> {
    let (ip, prefix) = base
        .split_once('/')
        .ok_or_else(|| format!("`{base}` is not a CIDR block, e.g. `10.0.0.0/16`"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("`{base}` is not a CIDR block, e.g. `10.0.0.0/16`"))?;
    let prefix: u32 = prefix
        .parse()
        .map_err(|_| format!("`{base}` has no valid prefix length"))?;
    let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
    if prefix > width {
        return Err(format!("`{base}` has a prefix longer than {width} bits"));
    }
    if newbits < 0 || index < 0 {
        return Err("newbits and index must not be negative".into());
    }
    let new_prefix = prefix + newbits as u32;
    if new_prefix > width {
        return Err(format!(
            "`{base}` has no room for {newbits} more bits (a /{new_prefix} is longer than {width} bits)"
        ));
    }
    if newbits < 64 && (index as u128) >= (1u128 << newbits) {
        return Err(format!(
            "index {index} does not fit in {newbits} new bits of `{base}` (at most {})",
            (1u128 << newbits) - 1
        ));
    }
    let base_bits: u128 = match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let host_bits = width - new_prefix;
    let net_mask: u128 = if prefix == 0 {
        0
    } else {
        (!0u128 >> (128 - width)) & !((1u128 << (width - prefix)) - 1)
    };
    let net = (base_bits & net_mask) | ((index as u128) << host_bits);
    Ok(match ip {
        IpAddr::V4(_) => format!("{}/{new_prefix}", Ipv4Addr::from(net as u32)),
        IpAddr::V6(_) => format!("{}/{new_prefix}", Ipv6Addr::from(net)),
    })
}

#[cfg(test)]
mod tests {
    use super::cidr_subnet;

    #[test]
    fn like_terraform() {
        assert_eq!(cidr_subnet("10.0.0.0/16", 4, 0).unwrap(), "10.0.0.0/20");
        assert_eq!(cidr_subnet("10.0.0.0/16", 4, 3).unwrap(), "10.0.48.0/20");
        assert_eq!(cidr_subnet("10.0.0.0/16", 8, 101).unwrap(), "10.0.101.0/24");
        assert_eq!(cidr_subnet("fd00::/56", 8, 1).unwrap(), "fd00:0:0:1::/64");
        assert!(cidr_subnet("10.0.0.0/16", 4, 16).is_err());
        assert!(cidr_subnet("10.0.0.0/30", 4, 0).is_err());
    }
}
