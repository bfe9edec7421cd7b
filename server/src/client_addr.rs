//! Who a request comes from, for limits and the audit log.
//!
//! Without configured proxies the address is the socket's peer, whatever a
//! request's headers claim. Behind proxies (`server.trusted_proxies`, single
//! addresses or CIDR blocks), and only when the peer is one of them, the
//! address is the rightmost `X-Forwarded-For` entry that is not a trusted
//! proxy: each proxy appends the address it saw on the right, so entries to
//! the left of the first untrusted one are whatever the client wrote and
//! prove nothing.
//!
//! Limits count IPv6 clients per /64 ([`limit_key`]): one home or phone
//! gets a whole /64, so a per-/128 limit is no limit at all.

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

/// An address block: one address (`10.0.0.7`) or a CIDR (`10.0.0.0/8`,
/// `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressBlock {
    network: IpAddr,
    prefix: u8,
}

impl AddressBlock {
    /// Parses `addr` or `addr/prefix`; `None` when it is neither.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Self {
            network: mask(network, prefix),
            prefix,
        })
    }

    /// Whether `ip` is inside the block (IPv4-mapped IPv6 counts as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

impl std::fmt::Display for AddressBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & kept).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & kept).into())
        }
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<AddressBlock>);

impl TrustedProxies {
    /// The given blocks.
    #[must_use]
    pub fn new(blocks: Vec<AddressBlock>) -> Self {
        Self(blocks)
    }

    /// Whether `ip` is one of them.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// Whether any proxy is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address for a request that reached this server from
    /// `peer` with `headers`.
    #[must_use]
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        // Every X-Forwarded-For header, in order, as one list.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                // Unreadable: nothing to its left can be believed either;
                // the last proxy that handed it on is all we know.
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly `[v6]:port` or
/// `v4:port` as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    None
}

/// The key a per-address limit counts under: the address itself for IPv4,
/// its /64 for IPv6.
#[must_use]
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            list.iter()
                .map(|b| AddressBlock::parse(b).unwrap())
                .collect(),
        )
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let block = AddressBlock::parse("10.1.2.3/8").unwrap();
        assert_eq!(block.to_string(), "10.0.0.0/8");
        assert!(block.contains(ip("10.200.0.1")));
        assert!(block.contains(ip("::ffff:10.0.0.1")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(AddressBlock::parse("fd00::/8")
            .unwrap()
            .contains(ip("fd12::1")));
        assert!(AddressBlock::parse("127.0.0.1")
            .unwrap()
            .contains(ip("127.0.0.1")));
        assert!(AddressBlock::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "fd00::/129", "nginx", "10.0.0.0/x", ""] {
            assert!(AddressBlock::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_forged_leftmost_forwarded_entry_is_not_believed() {
        let trusted = proxies(&["127.0.0.1"]);
        // The client wrote "1.2.3.4"; nginx appended the address it saw.
        let headers = forwarded(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
    }

    #[test]
    fn without_trusted_proxies_forwarded_headers_are_ignored() {
        let headers = forwarded(&["203.0.113.9"]);
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &headers), ip("127.0.0.1"));
        // Nor from a peer that is not a configured proxy.
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("198.51.100.7"), &headers),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_from_the_right() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        let headers = forwarded(&["6.6.6.6, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
        // Every hop trusted: the leftmost is the best we know.
        let headers = forwarded(&["10.0.0.9, 10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("10.0.0.9"));
        // A garbled entry stops the walk at the proxy that passed it on.
        let headers = forwarded(&["6.6.6.6, garbage, 10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("10.0.0.5"));
        let headers = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("2001:db8::1"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limit_key(ip("2001:db8:1:2::5"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:3::1")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limit_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
