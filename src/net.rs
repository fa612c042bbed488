//! CIDR blocks for IPv4 and IPv6, for allowlists and "open to the world" checks.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has an invalid prefix length (0-{max})"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(u128::from(u32::MAX), 32, self.prefix);
                (u128::from(u32::from(net)) & mask) == (u128::from(u32::from(ip)) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(u128::MAX, 128, self.prefix);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            // an IPv4-mapped IPv6 address is the IPv4 address
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(ip)) => self.contains(IpAddr::V6(ip.to_ipv6_mapped())),
        }
    }

    /// Whether every address of `other` is in `self`.
    pub fn covers(&self, other: &Cidr) -> bool {
        other.addr.is_ipv4() == self.addr.is_ipv4()
            && other.prefix >= self.prefix
            && self.contains(other.addr)
    }

    /// `0.0.0.0/0` or `::/0`: the whole internet.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    /// First and last address of the block, as integers of its family.
    pub fn range(&self) -> (u128, u128) {
        let (start, bits) = match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        let host_bits = bits - u32::from(self.prefix).min(bits);
        let span = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let start = start & !span;
        (start, start.saturating_add(span))
    }
}

/// Addresses of one family, as sorted, disjoint, inclusive ranges: what
/// several blocks cover together, less what others take out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressSet {
    ranges: Vec<(u128, u128)>,
}

impl AddressSet {
    /// The union of blocks (all of one family: the caller keeps them apart).
    pub fn of<'c>(blocks: impl IntoIterator<Item = &'c Cidr>) -> AddressSet {
        AddressSet::from_ranges(blocks.into_iter().map(Cidr::range).collect())
    }

    /// The union of inclusive ranges, in any order: sorted and merged once,
    /// n log n however many (a policy can list tens of thousands of blocks).
    pub fn from_ranges(mut ranges: Vec<(u128, u128)>) -> AddressSet {
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        AddressSet { ranges: merged }
    }

    /// Its sorted, disjoint ranges.
    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }

    pub fn add(&mut self, range: (u128, u128)) {
        let mut ranges = std::mem::take(&mut self.ranges);
        ranges.push(range);
        *self = AddressSet::from_ranges(ranges);
    }

    pub fn union(&mut self, other: &AddressSet) {
        let mut ranges = std::mem::take(&mut self.ranges);
        ranges.extend_from_slice(&other.ranges);
        *self = AddressSet::from_ranges(ranges);
    }

    /// The set less every address of `other`.
    pub fn subtract(&mut self, other: &AddressSet) {
        let mut out = Vec::with_capacity(self.ranges.len());
        for &(mut s, e) in &self.ranges {
            let mut alive = true;
            for &(os, oe) in &other.ranges {
                if oe < s || os > e {
                    continue;
                }
                if os > s {
                    out.push((s, os - 1));
                }
                if oe >= e {
                    alive = false;
                    break;
                }
                s = oe + 1;
            }
            if alive {
                out.push((s, e));
            }
        }
        self.ranges = out;
    }

    /// How many addresses, saturating at u128::MAX for the whole IPv6 space.
    pub fn size(&self) -> u128 {
        self.ranges
            .iter()
            .fold(0u128, |n, (s, e)| n.saturating_add(e - s).saturating_add(1))
    }

    /// More than half of its family's addresses: as good as the whole
    /// internet, however the blocks were cut.
    pub fn most_of(&self, v4: bool) -> bool {
        let half = if v4 { 1u128 << 31 } else { 1u128 << 127 };
        self.size() > half
    }
}

fn mask(all: u128, bits: u32, prefix: u8) -> u128 {
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        0
    } else {
        (all >> (bits - prefix)) << (bits - prefix) & all
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_and_v6_membership() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(ip("203.0.113.7")));
        assert!(!net.contains(ip("203.0.114.7")));
        assert!(Cidr::parse("203.0.113.0/32")
            .unwrap()
            .contains(ip("203.0.113.0")));
        assert!(!Cidr::parse("203.0.113.0/32")
            .unwrap()
            .contains(ip("203.0.113.1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().is_everything());
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        assert!(net.contains(ip("::ffff:203.0.113.9")));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
        assert!(Cidr::parse("banana").is_err());
        assert!(Cidr::parse("::/129").is_err());
    }

    fn set(blocks: &[&str]) -> AddressSet {
        let cidrs: Vec<Cidr> = blocks.iter().map(|b| Cidr::parse(b).unwrap()).collect();
        AddressSet::of(&cidrs)
    }

    #[test]
    fn unions_and_differences_count_each_address_once() {
        assert!(set(&["0.0.0.0/1", "128.0.0.0/1"]).most_of(true));
        assert_eq!(set(&["0.0.0.0/1", "128.0.0.0/1"]).size(), 1u128 << 32);
        assert!(!set(&["0.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"]).most_of(true));
        assert!(set(&["::/0"]).most_of(false));
        assert!(!set(&["::/1"]).most_of(false));
        let mut all = set(&["0.0.0.0/0"]);
        all.subtract(&set(&["10.0.0.0/8", "128.0.0.0/1"]));
        assert!(!all.most_of(true));
        assert_eq!(all.size(), (1u128 << 31) - (1u128 << 24));
        let mut v6 = set(&["::/1"]);
        v6.union(&set(&["8000::/1"]));
        v6.subtract(&set(&["fd00::/8"]));
        assert!(v6.most_of(false));
        let mut edge = set(&["10.0.0.0/8"]);
        edge.subtract(&set(&["10.0.0.0/9", "10.255.255.255/32"]));
        assert_eq!(edge.size(), (1u128 << 23) - 1);
    }

    #[test]
    fn covers_subnets() {
        let big = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(big.covers(&Cidr::parse("10.1.0.0/16").unwrap()));
        assert!(!big.covers(&Cidr::parse("0.0.0.0/0").unwrap()));
    }
}
