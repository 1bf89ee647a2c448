//! Who the client is: the peer address, or behind a trusted load balancer (`api.trusted_proxies`)
//! the nearest address in `X-Forwarded-For` that is not one of them. An untrusted peer's
//! `X-Forwarded-For` is ignored: anyone can write one.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address for rate limits and the audit log.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer.ip().to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    // Right to left: each hop appended the address it saw; the first one not ours is the client.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|hop| hop.parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let lb: SocketAddr = "10.1.2.3:4000".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A stranger cannot choose its address.
        assert_eq!(
            client_ip(stranger, &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        // Behind the balancer: the rightmost untrusted hop, however the client padded the left.
        assert_eq!(
            client_ip(
                lb,
                &headers(&["6.6.6.6, 198.51.100.7", "10.9.9.9"]),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Nothing usable: the balancer itself.
        assert_eq!(
            client_ip(lb, &headers(&["garbage"]), &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(client_ip(lb, &headers(&[]), &[]), ip("10.1.2.3"));
    }
}
