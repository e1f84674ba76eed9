//! Who the client is behind a reverse proxy. `X-Forwarded-For` is believed only when the
//! TCP peer is one of the configured trusted proxies, and then only as far back as the
//! chain stays inside them: the client is the right-most address that is not a trusted
//! proxy. Anything a client writes into the header beyond that is ignored.

use std::net::IpAddr;
use std::str::FromStr;

/// A network (`10.0.0.0/8`, `2400:cb00::/32`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a trusted-proxy entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an IP address or network (like 10.0.0.0/8 or 2400:cb00::/32)")]
pub struct BadNet(pub String);

impl FromStr for IpNet {
    type Err = BadNet;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadNet(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address for a request from `peer` carrying these `X-Forwarded-For` header
/// values (in order), given the trusted proxies.
pub fn client_addr<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return canonical(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A garbled entry: stop at the last address a trusted proxy vouched for.
            break;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.1.2.3")));
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        assert!(!n.contains(ip("11.0.0.1")));
        let one: IpNet = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: IpNet = "2400:cb00::/32".parse().unwrap();
        assert!(v6.contains(ip("2400:cb00:1::1")) && !v6.contains(ip("2400:cb01::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129", ""] {
            assert_eq!(bad.parse::<IpNet>(), Err(BadNet(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        // An untrusted peer: the header is ignored, whatever it says.
        let got = client_addr(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted);
        assert_eq!(got, ip("203.0.113.9"));
        // A trusted proxy: the right-most untrusted hop is the client; what the client
        // itself wrote further left is not believed.
        let got = client_addr(
            ip("10.0.0.5"),
            ["6.6.6.6, 198.51.100.7", "10.0.0.4"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("198.51.100.7"));
        // No header from a trusted proxy: the proxy is all we know.
        assert_eq!(
            client_addr(ip("10.0.0.5"), std::iter::empty(), &trusted),
            ip("10.0.0.5")
        );
        // Garbage stops the walk at the last vouched-for address.
        let got = client_addr(
            ip("10.0.0.5"),
            ["198.51.100.7, garbage"].into_iter(),
            &trusted,
        );
        assert_eq!(got, ip("10.0.0.5"));
        // No trusted proxies configured: never believed.
        let got = client_addr(ip("127.0.0.1"), ["1.2.3.4"].into_iter(), &[]);
        assert_eq!(got, ip("127.0.0.1"));
    }
}
