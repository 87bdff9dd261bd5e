//! Which peer addresses are our own reverse proxies (`TESSERA_TRUSTED_PROXIES`), and
//! the client address behind them from `X-Forwarded-For`.
//!
//! The header is believed only when the TCP peer is a trusted proxy, and then read from
//! the right: each trusted proxy appends the address it received from, so the first
//! untrusted address from the right is the client — anything to its left was written
//! by the client itself and proves nothing. With no trusted proxy (the default) the
//! header is ignored and the peer address is the client.

use std::fmt;
use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// One address or network (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or network"))?;
        let address = address.to_canonical();
        let longest = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => longest,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= longest)
                .ok_or_else(|| format!("`{text}` has a prefix length outside 0..={longest}"))?,
        };
        Ok(Self { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Network>,
}

impl TrustedProxies {
    /// A comma-separated list of addresses and networks, e.g. `10.0.0.0/8, ::1`.
    ///
    /// # Errors
    /// A message naming the entry that is not an address or network.
    pub fn parse(text: &str) -> Result<Self, String> {
        let networks = text
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(Network::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// The client's address: the peer's, or — when the peer is a trusted proxy — the
    /// first address from the right of `X-Forwarded-For` that is not a trusted proxy.
    pub(crate) fn client_ip(&self, request: &HttpRequest) -> Option<IpAddr> {
        let peer = request.peer_addr().map(|addr| addr.ip());
        match peer {
            Some(peer) if self.trusts(peer) => Some(self.behind(peer, request)),
            _ => peer,
        }
    }

    fn behind(&self, peer: IpAddr, request: &HttpRequest) -> IpAddr {
        // Several headers are one list, in order (RFC 9110 §5.3).
        let hops: Vec<&str> = request
            .headers()
            .get_all(X_FORWARDED_FOR)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // Anything unreadable ends the trust chain: the last good address stands.
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.networks.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| {
            hop.parse::<std::net::SocketAddr>()
                .ok()
                .map(|addr| addr.ip())
        })
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let mut request = TestRequest::default().peer_addr(peer.parse().unwrap());
        for value in forwarded {
            request = request.append_header((X_FORWARDED_FOR, *value));
        }
        request.to_http_request()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let request = request("203.0.113.7:5000", &["198.51.100.1"]);
        assert_eq!(none.client_ip(&request), ip("203.0.113.7"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_claim_another_address() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let request = request("203.0.113.7:5000", &["198.51.100.1"]);
        assert_eq!(proxies.client_ip(&request), ip("203.0.113.7"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        // The client wrote `1.1.1.1` itself; the proxies appended the rest.
        let request = request(
            "10.0.0.2:443",
            &["1.1.1.1, 198.51.100.9", "192.0.2.1, 10.0.0.5"],
        );
        assert_eq!(proxies.client_ip(&request), ip("198.51.100.9"));
    }

    #[test]
    fn without_the_header_or_with_garbage_the_last_good_address_stands() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        assert_eq!(
            proxies.client_ip(&request("127.0.0.1:1", &[])),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client_ip(&request("127.0.0.1:1", &["198.51.100.9, garbage"])),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client_ip(&request("127.0.0.1:1", &["garbage, 198.51.100.9:4711"])),
            ip("198.51.100.9")
        );
        // Only trusted hops: the leftmost is as far as the chain goes.
        assert_eq!(
            proxies.client_ip(&request("127.0.0.1:1", &["127.0.0.1"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ipv6_networks_and_mapped_ipv4_addresses_match() {
        let proxies = TrustedProxies::parse("2001:db8::/32,::ffff:10.1.2.3").unwrap();
        assert_eq!(
            proxies.client_ip(&request("[2001:db8:5::1]:443", &["[2001:db9::7]:1234"])),
            ip("2001:db9::7")
        );
        assert!(proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(!proxies.trusts("10.1.2.4".parse().unwrap()));
        assert_eq!(proxies.to_string(), "2001:db8::/32,10.1.2.3/32");
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for bad in ["proxy.internal", "10.0.0.0/33", "::1/129", "10.0.0.1/x"] {
            let error = TrustedProxies::parse(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
        assert!(TrustedProxies::parse(" , ").unwrap().is_empty());
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts("8.8.8.8".parse().unwrap())
        );
    }
}
