//! The address guard (SSRF): which webhook targets are refused when a URL is set, and the
//! resolver that keeps deliveries to checked addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::error::{Error, Result};

/// The one answer to every refused webhook target, whatever the reason (scheme, credentials,
/// port, a name that does not resolve, a private address): distinct texts would let an account
/// probe which internal names exist and where they point.
pub const REFUSED_TARGET: &str = "webhook_url is not an allowed target: it must be an http(s) URL \
     without credentials, on port 80, 443 or 1024 and above, whose host resolves only to public \
     addresses";

/// How long a webhook host may take to resolve when a URL is set; past it the URL is refused.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether an address must never receive a webhook: loopback, private, link-local (cloud
/// metadata included), unique-local, site-local, CGNAT, multicast, unspecified, broadcast,
/// documentation, benchmarking and reserved ranges, and every IPv6 form that embeds or
/// translates to an IPv4 address (mapped, compatible, translated, NAT64, 6to4, Teredo) unless
/// the embedded address is itself public (mapped, well-known NAT64 and 6to4 only).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0 // "this network" 0/8
        || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments 192.0.0/24
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast 192.88.99/24
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking 198.18/15
        || o[0] >= 240 // reserved 240/4 and broadcast
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d is how a dual-stack socket reaches that IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // Well-known NAT64 64:ff9b::/96 reaches the embedded IPv4 address through the translator.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002:a.b.c.d::/48 is routed to the embedded IPv4 address.
    if s[0] == 0x2002 {
        return forbidden_v4(embedded_v4(s[1], s[2]));
    }
    // Only global unicast 2000::/3 is reachable on the Internet. Everything else is refused
    // whole: ::/96 IPv4-compatible, ::ffff:0:a.b.c.d IPv4-translated, 64:ff9b:1::/48 local
    // NAT64, 100::/64 discard, 5f00::/16 SRv6, fc00::/7 unique local, fe80::/10 link local,
    // fec0::/10 site local, ff00::/8 multicast, ::, ::1.
    if (s[0] & 0xe000) != 0x2000 {
        return true;
    }
    // 2001::/23: IETF protocol assignments (Teredo 2001::/32, benchmarking 2001:2::/48,
    // ORCHID); 2001:db8::/32: documentation.
    (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8)) || (s[0] & 0xfff0) == 0x3ff0 // 3ff0::/12, unallocated: documentation 3fff::/20, ex-6bone 3ffe::/16
}

/// Private targets the operator lets webhooks reach (`SEECRET_WEBHOOK_ALLOW_PRIVATE`): a
/// comma-separated list of CIDRs (a bare address is a /32 or /128) and exact host names. A
/// listed CIDR admits exactly its own addresses; a listed host name may resolve to any address.
/// `0.0.0.0/0,::/0` lifts the guard entirely (tests, private deployments).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivateAllowList {
    nets: Vec<ipnet::IpNet>,
    hosts: Vec<String>,
}

impl PrivateAllowList {
    /// Parses `127.0.0.1/32, 10.0.0.0/8, hooks.internal`. The former boolean is refused with a
    /// message naming the list form (`false` still means "nothing", which is the same thing).
    pub fn parse(list: &str) -> Result<Self> {
        let invalid = |m: String| Error::invalid("webhook_allow_private", m);
        let list = list.trim();
        if list.eq_ignore_ascii_case("false") {
            return Ok(Self::default());
        }
        if list.eq_ignore_ascii_case("true") {
            return Err(invalid(
                "webhook_allow_private takes a comma-separated list of CIDRs and host names, not \
                 true: e.g. 127.0.0.1/32,10.0.0.0/8,hooks.internal (0.0.0.0/0,::/0 allows every \
                 address)"
                    .into(),
            ));
        }
        let mut out = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<ipnet::IpNet>() {
                out.nets.push(net.trunc());
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                out.nets.push(ipnet::IpNet::from(ip));
            } else if let Some(host) = host_name(entry) {
                out.hosts.push(host);
            } else {
                return Err(invalid(format!(
                    "{entry:?} is neither a CIDR nor a host name"
                )));
            }
        }
        Ok(out)
    }

    /// Whether `ip` is inside a listed CIDR.
    pub fn admits_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether `host` (a DNS name) is listed.
    pub fn admits_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether a webhook may connect to `ip`.
    pub(super) fn permits(&self, ip: IpAddr) -> bool {
        !is_forbidden(ip) || self.admits_ip(ip)
    }
}

/// A host name as listed: lower case, LDH labels, without a trailing dot.
fn host_name(entry: &str) -> Option<String> {
    let host = entry.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(host)
}

impl std::str::FromStr for PrivateAllowList {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn refused() -> Error {
    Error::Rejected {
        code: "webhook_url_forbidden",
        message: REFUSED_TARGET.into(),
    }
}

/// Whether a URL has an acceptable form before any address is looked at: http(s), no
/// credentials, and port 80, 443 or unprivileged (no SMTP, SSH, … even on a public address),
/// unless the operator listed the host name or the literal address.
pub(super) fn acceptable_form(url: &url::Url, allow: &PrivateAllowList) -> bool {
    let listed = match url.host() {
        Some(url::Host::Domain(d)) => allow.admits_host(d),
        Some(_) => literal_ip(url).is_some_and(|ip| allow.admits_ip(ip)),
        None => return false,
    };
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && (listed
            || url
                .port_or_known_default()
                .is_some_and(|p| p == 80 || p == 443 || p >= 1024))
}

/// The IP address written in a URL's host, if it is one.
pub(super) fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

/// Validates a webhook URL: http(s), no credentials, an acceptable port, and a host whose every
/// address is public or admitted by `allow`. Every refusal carries [`REFUSED_TARGET`]; only a
/// string that is not a URL at all (or is too long) gets its own `invalid_request`. Returns the
/// normalised URL.
pub async fn check_url(raw: &str, allow: &PrivateAllowList) -> Result<String> {
    if raw.len() > 2048 {
        return Err(Error::invalid(
            "webhook_url",
            "webhook_url is longer than 2048 characters",
        ));
    }
    let url = url::Url::parse(raw.trim())
        .map_err(|_| Error::invalid("webhook_url", "webhook_url is not a valid URL"))?;
    if !acceptable_form(&url, allow) {
        return Err(refused());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => vec![IpAddr::V4(v4)],
        Some(url::Host::Ipv6(v6)) => vec![IpAddr::V6(v6)],
        Some(url::Host::Domain(d)) if allow.admits_host(d) => return Ok(url.to_string()),
        Some(url::Host::Domain(d)) => {
            match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((d, port))).await {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                _ => return Err(refused()),
            }
        }
        None => return Err(refused()),
    };
    if addrs.is_empty() || !addrs.iter().all(|a| allow.permits(*a)) {
        return Err(refused());
    }
    Ok(url.to_string())
}

/// Resolves names for delivery and drops addresses the guard refuses, so the connection goes
/// only to an address that was checked: a DNS answer that changes between check and connect
/// (rebinding) cannot smuggle in a private one.
#[derive(Debug)]
pub(super) struct GuardedResolver {
    pub(super) allow: PrivateAllowList,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host_listed = allow.admits_host(name.as_str());
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| host_listed || allow.permits(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(REFUSED_TARGET.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "ff02::1",
            // The examples: local NAT64, 6to4 and IPv4-translated metadata, site local.
            "64:ff9b:1::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "::ffff:0:a9fe:a9fe",
            "fec0::1",
            "::8.8.8.8",
            "2002:7f00:1::1",
            "2002:c0a8:101::",
            "64:ff9b::7f00:1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "5f00::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::a9fe:a9fe",
            "ff0e::1",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "240.0.0.1",
            "0.1.2.3",
        ] {
            assert!(
                is_forbidden(ip.parse().unwrap()),
                "{ip} should be forbidden"
            );
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2a00:1450:4001:82a::200e",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[tokio::test]
    async fn urls_to_our_own_network_are_refused_with_one_message() {
        let none = PrivateAllowList::default();
        for url in [
            "http://127.0.0.1:9/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[::ffff:0:a9fe:a9fe]/",
            "http://[fec0::1]/",
            "http://localhost:9/",
            "http://2130706433/",
            "http://0x7f.1/",
            "ftp://example.com/",
            "http://user:pw@example.com/",
            "http://8.8.8.8:25/",
            "http://does-not-exist.invalid/",
        ] {
            let err = check_url(url, &none).await.unwrap_err();
            assert_eq!(
                (err.code(), err.to_string().as_str()),
                ("webhook_url_forbidden", REFUSED_TARGET),
                "{url}"
            );
        }
        assert_eq!(
            check_url("http://8.8.8.8:8443/x", &none).await.unwrap(),
            "http://8.8.8.8:8443/x"
        );
    }

    #[tokio::test]
    async fn the_allow_list_admits_exactly_what_it_lists() {
        let allow = PrivateAllowList::parse("127.0.0.1/32, 10.1.0.0/16,Hooks.Internal.").unwrap();
        for ok in [
            "http://127.0.0.1:9/",
            "http://10.1.2.3/",
            "http://hooks.internal:25/",
        ] {
            assert!(check_url(ok, &allow).await.is_ok(), "{ok}");
        }
        for refused in [
            "http://127.0.0.2/",
            "http://10.2.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://other.internal/",
        ] {
            assert!(check_url(refused, &allow).await.is_err(), "{refused}");
        }
        let all = PrivateAllowList::parse("0.0.0.0/0,::/0").unwrap();
        assert!(check_url("http://[fec0::1]:9/", &all).await.is_ok());
        assert_eq!(PrivateAllowList::parse("false").unwrap(), none_list());
        assert_eq!(PrivateAllowList::parse("").unwrap(), none_list());
        let err = PrivateAllowList::parse("true").unwrap_err().to_string();
        assert!(err.contains("127.0.0.1/32"), "{err}");
        assert!(PrivateAllowList::parse("10.0.0.0/8,not a host").is_err());
    }

    fn none_list() -> PrivateAllowList {
        PrivateAllowList::default()
    }
}
