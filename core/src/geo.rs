//! Where a viewer is: the client address behind trusted proxies, and its country from a
//! MaxMind-format database or a country header set by a trusted proxy. Geo-blocking refuses a
//! reveal from elsewhere, and from an unknown country, rather than guessing.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::{Error, Result};

/// Proxies whose forwarding headers we believe. Empty: only the socket peer counts.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated CIDR list (`10.0.0.0/8, 127.0.0.1/32`; a bare address is a /32
    /// or /128).
    pub fn parse(list: &str) -> Result<Self> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        Error::invalid(
                            "trusted_proxies",
                            format!("{s:?} is not an address or CIDR"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()
            .map(Self)
    }

    /// Whether `ip` is one of ours.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the socket peer, unless it is a trusted proxy, in which case the
    /// right-most address of `X-Forwarded-For` (or `Forwarded: for=`) that is not itself a
    /// trusted proxy. Headers from an untrusted peer are ignored: anyone can write them.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str], forwarded: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = forwarded_for
            .iter()
            .flat_map(|h| h.split(','))
            .filter_map(|s| parse_hop(s.trim()))
            .collect();
        if hops.is_empty() {
            hops = forwarded
                .iter()
                .flat_map(|h| h.split(','))
                .flat_map(|el| el.split(';'))
                .filter_map(|kv| {
                    let (k, v) = kv.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_hop(v.trim()))?
                })
                .collect();
        }
        hops.into_iter()
            .rev()
            .map(canonical)
            .find(|ip| !self.contains(*ip))
            .unwrap_or(peer)
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `"[::1]"`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    s.trim_start_matches('[').split(']').next()?.parse().ok()
}

/// Country lookup.
#[derive(Default)]
pub struct Geo {
    reader: Option<maxminddb::Reader<Vec<u8>>>,
    header: Option<String>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("mmdb", &self.reader.is_some())
            .field("header", &self.header)
            .finish()
    }
}

impl Geo {
    /// Country from a MaxMind-format database file and/or a trusted proxy's header (e.g.
    /// `CF-IPCountry`).
    pub fn new(mmdb: Option<&Path>, header: Option<&str>) -> Result<Self> {
        let reader = mmdb
            .map(|p| {
                maxminddb::Reader::open_readfile(p).map_err(|e| {
                    Error::invalid("geoip_db", format!("cannot read {}: {e}", p.display()))
                })
            })
            .transpose()?;
        Ok(Self {
            reader,
            header: header
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
        })
    }

    /// Whether any country source is configured.
    pub fn enabled(&self) -> bool {
        self.reader.is_some() || self.header.is_some()
    }

    /// The header that carries the country, if configured (lower case).
    pub fn header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    /// The viewer's country: the trusted header's value when there is one, else the database's
    /// answer for `ip`. `None` when unknown.
    pub fn country(&self, ip: IpAddr, trusted_header: Option<&str>) -> Option<String> {
        if let Some(v) = trusted_header.map(str::trim)
            && is_country_code(v)
        {
            return Some(v.to_ascii_uppercase());
        }
        let reader = self.reader.as_ref()?;
        let found = reader.lookup(canonical(ip)).ok()?;
        let country: Option<maxminddb::geoip2::Country> = found.decode().ok()?;
        country?
            .country
            .iso_code
            .filter(|c| is_country_code(c))
            .map(str::to_ascii_uppercase)
    }
}

/// ISO 3166-1 alpha-2 shape (two ASCII letters; `XX`/`T1`-style placeholders are not countries).
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) && !s.eq_ignore_ascii_case("XX")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: its headers are ignored.
        assert_eq!(
            t.client(ip("203.0.113.9"), &["1.1.1.1"], &[]),
            ip("203.0.113.9")
        );
        // Trusted peer: the right-most untrusted hop, never the (spoofable) left-most.
        assert_eq!(
            t.client(ip("10.0.0.2"), &["6.6.6.6, 8.8.8.8, 10.0.0.7"], &[]),
            ip("8.8.8.8")
        );
        assert_eq!(
            t.client(
                ip("127.0.0.1"),
                &[],
                &["for=\"[2001:db8::1]:80\";proto=https"]
            ),
            ip("2001:db8::1")
        );
        assert_eq!(
            t.client(ip("::ffff:10.0.0.2"), &["9.9.9.9"], &[]),
            ip("9.9.9.9")
        );
        assert_eq!(t.client(ip("10.0.0.2"), &["garbage"], &[]), ip("10.0.0.2"));
        assert!(TrustedProxies::parse("not a net").is_err());
    }
}
