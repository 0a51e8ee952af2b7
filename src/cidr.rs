//! `Ipv4Block`: an IPv4 CIDR block as AWS reads one, with the questions
//! the checks ask of it (does it contain, overlap, set host bits).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// `10.0.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Block {
    pub addr: u32,
    pub prefix: u8,
}

impl Ipv4Block {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            !0u32 << (32 - u32::from(self.prefix))
        }
    }

    /// The block with its host bits cleared: what AWS would take it for.
    pub fn network(self) -> Self {
        Self {
            addr: self.addr & self.mask(),
            prefix: self.prefix,
        }
    }

    /// Bits set after the prefix (`10.0.1.0/16`).
    pub fn has_host_bits(self) -> bool {
        self.addr & !self.mask() != 0
    }

    /// Every address of `other` lies in `self`.
    pub fn contains(self, other: Self) -> bool {
        other.prefix >= self.prefix && other.addr & self.mask() == self.addr & self.mask()
    }

    pub fn overlaps(self, other: Self) -> bool {
        self.contains(other) || other.contains(self)
    }
}

impl fmt::Display for Ipv4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

impl FromStr for Ipv4Block {
    /// Why the text is not a block, for "`{text}` is not a CIDR block: {why}".
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or("it has no prefix length after a `/`")?;
        let octets: Vec<&str> = ip.split('.').collect();
        if octets.len() != 4 {
            return Err(format!(
                "`{ip}` is not an IPv4 address (four octets, as in `10.0.0.0`)"
            ));
        }
        let mut addr = 0u32;
        for o in octets {
            let valid = !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit());
            let n: u32 = if valid { o.parse().unwrap_or(256) } else { 256 };
            if n > 255 {
                return Err(format!("`{o}` is not an octet (0 to 255)"));
            }
            addr = addr << 8 | n;
        }
        let prefix: u8 = match prefix.parse() {
            Ok(p) if p <= 32 && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(format!("`/{prefix}` is not a prefix length (0 to 32)")),
        };
        Ok(Self { addr, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::Ipv4Block;

    fn b(s: &str) -> Ipv4Block {
        s.parse().unwrap()
    }

    #[test]
    fn parses_what_aws_parses() {
        assert_eq!(b("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(
            "10.0.256.0/33".parse::<Ipv4Block>().unwrap_err(),
            "`256` is not an octet (0 to 255)"
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Ipv4Block>().unwrap_err(),
            "`/33` is not a prefix length (0 to 32)"
        );
        assert!("10.0.0/16".parse::<Ipv4Block>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Block>().is_err());
        assert!("10.0.0.+1/16".parse::<Ipv4Block>().is_err());
    }

    #[test]
    fn containment_overlap_and_host_bits() {
        assert!(b("10.0.0.0/16").contains(b("10.0.16.0/20")));
        assert!(!b("10.0.0.0/16").contains(b("10.1.0.0/24")));
        assert!(!b("10.0.0.0/24").contains(b("10.0.0.0/16")));
        assert!(b("10.0.0.0/20").overlaps(b("10.0.8.0/24")));
        assert!(!b("10.0.0.0/20").overlaps(b("10.0.16.0/20")));
        assert!(b("10.0.1.0/16").has_host_bits());
        assert_eq!(b("10.0.1.0/16").network().to_string(), "10.0.0.0/16");
        assert!(!b("0.0.0.0/0").has_host_bits());
    }
}
