//! Consultation webhooks: the signed payload, the SSRF guard, and the delivery worker that drains
//! the transactional outbox with retries.
//!
//! Every event is signed twice with the account's webhook secret (`whsec_` + base64 of 32 random
//! bytes; the HMAC key is the decoded bytes, as Standard Webhooks defines it):
//! - Standard Webhooks headers `webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>` (both secrets during
//!   a rotation's overlap, space-separated);
//! - `X-Seecret-Signature: sha256=<hex HMAC-SHA256(body)>` with the current secret (and
//!   `X-Seecret-Signature-Previous` with the previous one during the overlap).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{debug, info, warn};

pub use crate::crypto::WebhookSecret;
use crate::error::{Error, Result};
use crate::model::{AccountId, SecretId};
use crate::store::{Attempt, OutboxRow, Store};

impl WebhookSecret {
    /// The HMAC key: the base64-decoded bytes after `whsec_`.
    fn key(&self) -> Vec<u8> {
        STANDARD
            .decode(self.expose().trim_start_matches("whsec_"))
            .unwrap_or_else(|_| self.expose().as_bytes().to_vec())
    }

    /// `v1,<base64 HMAC-SHA256("{msg_id}.{timestamp}.{body}")>` (Standard Webhooks).
    pub fn sign_standard(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = hmac_of(&self.key());
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Whether `signatures` (a `webhook-signature` header: space-separated `v1,…`) holds this
    /// secret's signature of the delivery; compared in constant time.
    pub fn verify_standard(
        &self,
        msg_id: &str,
        timestamp: i64,
        signatures: &str,
        body: &[u8],
    ) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.sign_standard(msg_id, timestamp, body);
        signatures.split_whitespace().fold(false, |ok, s| {
            ok | bool::from(s.as_bytes().ct_eq(expected.as_bytes()))
        })
    }

    /// `sha256=<hex HMAC-SHA256(body)>` (the product page's `X-Seecret-Signature`).
    pub fn sign_body(&self, body: &[u8]) -> String {
        let mut mac = hmac_of(&self.key());
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

fn hmac_of(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

pub use crate::api::{EventPayload, event_type};

/// An event to write to the outbox, in the transaction of the change that caused it.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Event id.
    pub id: String,
    /// Owner.
    pub account_id: AccountId,
    /// The secret concerned.
    pub secret_id: SecretId,
    /// One of [`event_type`].
    pub kind: &'static str,
    /// The exact body that will be sent on every attempt.
    pub payload: String,
    /// Where to deliver it.
    pub target_url: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// Facts about a secret that events report.
#[derive(Clone, Debug)]
pub struct EventFacts<'a> {
    /// Owner.
    pub account_id: AccountId,
    /// The secret.
    pub secret_id: SecretId,
    /// Its label.
    pub label: Option<&'a str>,
    /// Views allowed.
    pub views: u32,
    /// Views left.
    pub views_remaining: u32,
    /// Viewer's country.
    pub country: Option<&'a str>,
    /// The secret's own webhook URL.
    pub secret_webhook: Option<&'a str>,
    /// The account's webhook URL.
    pub account_webhook: Option<&'a str>,
    /// The in-process subscriber, if any.
    pub notify: Option<&'a str>,
}

/// Outbox targets starting with this go to an in-process [`EventSink`], not over HTTP.
pub const INTERNAL_PREFIX: &str = "internal:";

/// Builds the outbox rows for `kinds` happening now to a secret: one per kind for its webhook
/// (the secret's, else the account's) and one per kind for its in-process subscriber.
pub fn events(
    facts: &EventFacts<'_>,
    kinds: &[&'static str],
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let webhook = facts
        .secret_webhook
        .or(facts.account_webhook)
        .map(String::from);
    let internal = facts.notify.map(|n| format!("{INTERNAL_PREFIX}{n}"));
    let targets: Vec<String> = webhook.into_iter().chain(internal).collect();
    targets
        .iter()
        .flat_map(|target| kinds.iter().map(move |kind| (target, kind)))
        .map(|(target, kind)| {
            let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
            let payload = EventPayload {
                id: id.clone(),
                kind: (*kind).to_string(),
                created_at: now,
                secret_id: facts.secret_id,
                label: facts.label.map(String::from),
                views: facts.views,
                views_remaining: facts.views_remaining,
                country: facts.country.map(String::from),
                reason: reason.map(String::from),
            };
            NewEvent {
                id,
                account_id: facts.account_id,
                secret_id: facts.secret_id,
                kind,
                payload: serde_json::to_string(&payload).unwrap_or_default(),
                target_url: target.to_string(),
                created_at: now,
            }
        })
        .collect()
}

// ---- SSRF guard ----------------------------------------------------------------------------

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
    fn permits(&self, ip: IpAddr) -> bool {
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
fn acceptable_form(url: &url::Url, allow: &PrivateAllowList) -> bool {
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
fn literal_ip(url: &url::Url) -> Option<IpAddr> {
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
struct GuardedResolver {
    allow: PrivateAllowList,
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

// ---- delivery ------------------------------------------------------------------------------

/// Webhook delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Private addresses and hosts webhooks may reach anyway (tests, private deployments).
    pub allow_private: PrivateAllowList,
    /// Delays before the 2nd, 3rd… attempts; after the last one the event is marked failed.
    pub retry_schedule: Vec<Duration>,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
    /// Deliveries of one account in flight at once, across all instances: a slow receiver holds
    /// at most this many of the slots, so the other accounts' events keep flowing.
    pub per_account: usize,
    /// How long a claimed event is reserved for this instance's worker.
    pub lease: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_overlap: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private: PrivateAllowList::default(),
            retry_schedule: [5, 30, 120, 600, 3600, 6 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            timeout: Duration::from_secs(10),
            concurrency: 16,
            per_account: 4,
            lease: Duration::from_secs(20),
            secret_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

impl WebhookConfig {
    /// Sets the claim lease from the attempt timeout: long enough that a live worker never loses
    /// its claim mid-attempt, short enough that a crashed worker's events come back soon.
    pub fn with_lease_from_timeout(mut self) -> Self {
        self.lease = self.timeout + Duration::from_secs(10);
        self
    }
}

/// Parses `5s,30s,2m` (units s, m, h; `ms` for tests).
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, mult) = if let Some(n) = p.strip_suffix("ms") {
                (n, 1)
            } else if let Some(n) = p.strip_suffix('s') {
                (n, 1000)
            } else if let Some(n) = p.strip_suffix('m') {
                (n, 60_000)
            } else if let Some(n) = p.strip_suffix('h') {
                (n, 3_600_000)
            } else {
                (p, 1000)
            };
            n.parse::<u64>()
                .map(|n| Duration::from_millis(n * mult))
                .map_err(|_| {
                    Error::invalid(
                        "retry_schedule",
                        format!("{p:?} is not a delay like 5s, 2m, 1h"),
                    )
                })
        })
        .collect()
}

/// An in-process receiver of events: a chat bot embedded in the server, told about the secrets
/// it created without a webhook URL. Delivery is at least once, like webhooks.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Handles `event` for `subscriber` (what followed `name:` in the secret's `notify`).
    /// An error is retried on the webhook schedule.
    async fn deliver(
        &self,
        subscriber: &str,
        event: &EventPayload,
    ) -> std::result::Result<(), String>;
}

/// Drains the outbox: claims due events with a lease, POSTs them (or hands them to an in-process
/// [`EventSink`]), records each attempt.
pub struct Deliverer {
    store: Arc<dyn Store>,
    cfg: WebhookConfig,
    http: reqwest::Client,
    wake: Arc<Notify>,
    sinks: HashMap<String, Arc<dyn EventSink>>,
}

impl fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliverer")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// The outcome of one HTTP attempt.
enum Outcome {
    Delivered(u16),
    Gone,
    Retry {
        status: Option<u16>,
        error: String,
        after: Option<Duration>,
    },
}

impl Deliverer {
    /// A deliverer over `store`; `wake` is notified when new events are committed.
    pub fn new(store: Arc<dyn Store>, cfg: WebhookConfig, wake: Arc<Notify>) -> Result<Self> {
        crate::init_crypto();
        let http = reqwest::Client::builder()
            .user_agent(concat!("Seecret-Webhooks/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: cfg.allow_private.clone(),
            }))
            .build()
            .map_err(|e| Error::Internal(format!("webhook client: {e}")))?;
        Ok(Self {
            store,
            cfg,
            http,
            wake,
            sinks: HashMap::new(),
        })
    }

    /// Hands events whose secret was created with `notify = "{name}:…"` to `sink`.
    pub fn with_sink(mut self, name: &str, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.insert(name.to_string(), sink);
        self
    }

    async fn deliver_internal(&self, row: &OutboxRow, route: &str) -> Outcome {
        let (name, subscriber) = route.split_once(':').unwrap_or((route, ""));
        let Some(sink) = self.sinks.get(name) else {
            return Outcome::Retry {
                status: None,
                error: format!("no {name:?} event sink on this instance"),
                after: None,
            };
        };
        let event: EventPayload = match serde_json::from_str(&row.payload) {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Retry {
                    status: None,
                    error: format!("unreadable event: {e}"),
                    after: None,
                };
            }
        };
        match sink.deliver(subscriber, &event).await {
            Ok(()) => Outcome::Delivered(200),
            Err(error) => Outcome::Retry {
                status: None,
                error,
                after: None,
            },
        }
    }

    /// Runs until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.cfg.concurrency.max(1)));
        let freed = Arc::new(Notify::new());
        let per_account = self.cfg.per_account.clamp(1, self.cfg.concurrency.max(1)) as u32;
        loop {
            // Claim only what can start now: a claimed row waiting for a slot would hold its
            // lease, and its account's share of the cap, while doing nothing.
            let free = slots.available_permits();
            if free > 0 {
                let now = Utc::now();
                let lease_until =
                    now + chrono::Duration::from_std(self.cfg.lease).unwrap_or_default();
                let claimed = match self
                    .store
                    .claim_due_events(now, lease_until, free as u32, per_account)
                    .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        warn!(error = %e, "claiming webhook events failed");
                        Vec::new()
                    }
                };
                let full = claimed.len() == free;
                for row in claimed {
                    // Only this loop takes slots, so one is free for every claimed row.
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let me = self.clone();
                    let freed = freed.clone();
                    tokio::spawn(async move {
                        me.deliver(row).await;
                        drop(permit);
                        freed.notify_one();
                    });
                }
                if full {
                    continue;
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = freed.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn deliver(&self, row: OutboxRow) {
        let outcome = match row.target_url.strip_prefix(INTERNAL_PREFIX) {
            Some(route) => self.deliver_internal(&row, route).await,
            None => self.deliver_http(&row).await,
        };
        self.record(&row, outcome).await;
    }

    async fn deliver_http(&self, row: &OutboxRow) -> Outcome {
        let secrets = match self.store.webhook_secrets(row.account_id, Utc::now()).await {
            Ok(s) => s,
            Err(e) => {
                return Outcome::Retry {
                    status: None,
                    error: format!("loading the webhook secret failed: {e}"),
                    after: None,
                };
            }
        };
        match secrets.current {
            None => Outcome::Retry {
                status: None,
                error: "the account has no webhook secret".into(),
                after: None,
            },
            Some(current) => self.attempt(row, &current, secrets.previous.as_ref()).await,
        }
    }

    async fn record(&self, row: &OutboxRow, outcome: Outcome) {
        let now = Utc::now();
        let attempts = row.attempts + 1;
        let attempt = match outcome {
            Outcome::Delivered(status) => {
                debug!(event = %row.id, status, "webhook delivered");
                Attempt::Delivered { status }
            }
            Outcome::Gone => {
                info!(event = %row.id, "receiver answered 410 Gone: webhook endpoint disabled");
                Attempt::EndpointGone
            }
            Outcome::Retry {
                status,
                error,
                after,
            } => match self.cfg.retry_schedule.get(row.attempts as usize) {
                Some(base) if attempts <= self.cfg.retry_schedule.len() as u32 => {
                    let delay = after.unwrap_or_else(|| jitter(*base));
                    debug!(event = %row.id, ?status, %error, ?delay, "webhook attempt failed; will retry");
                    Attempt::Retry {
                        status,
                        error,
                        next_at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                    }
                }
                _ => {
                    warn!(event = %row.id, ?status, %error, attempts, "webhook delivery gave up");
                    Attempt::Failed { status, error }
                }
            },
        };
        if let Err(e) = self.store.record_attempt(row, now, attempt).await {
            warn!(error = %e, event = %row.id, "recording a webhook attempt failed");
        }
    }

    async fn attempt(
        &self,
        row: &OutboxRow,
        current: &WebhookSecret,
        previous: Option<&WebhookSecret>,
    ) -> Outcome {
        // Checked again at every attempt: the rules or the allow list may have tightened since
        // the URL was stored. reqwest does not resolve IP-literal hosts, so the resolver cannot
        // guard those: they are checked here.
        let target_ok = url::Url::parse(&row.target_url).is_ok_and(|u| {
            acceptable_form(&u, &self.cfg.allow_private)
                && literal_ip(&u).is_none_or(|ip| self.cfg.allow_private.permits(ip))
        });
        if !target_ok {
            return Outcome::Retry {
                status: None,
                error: REFUSED_TARGET.into(),
                after: Some(Duration::from_secs(3600)),
            };
        }
        let ts = Utc::now().timestamp();
        let body = row.payload.as_bytes();
        let mut standard = current.sign_standard(&row.id, ts, body);
        if let Some(p) = previous {
            standard.push(' ');
            standard.push_str(&p.sign_standard(&row.id, ts, body));
        }
        let mut req = self
            .http
            .post(&row.target_url)
            .header("content-type", "application/json")
            .header("webhook-id", &row.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", standard)
            .header("x-seecret-signature", current.sign_body(body))
            .header("x-seecret-event", &row.event_type);
        if let Some(p) = previous {
            req = req.header("x-seecret-signature-previous", p.sign_body(body));
        }
        match req.body(row.payload.clone()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(24 * 3600)));
                match status {
                    200..=299 => Outcome::Delivered(status),
                    410 => Outcome::Gone,
                    429 | 503 => Outcome::Retry {
                        status: Some(status),
                        error: format!("HTTP {status}"),
                        after: retry_after,
                    },
                    _ => Outcome::Retry {
                        status: Some(status),
                        error: format!("HTTP {status}"),
                        after: None,
                    },
                }
            }
            Err(e) => {
                let e = e.without_url();
                let mut error = e.to_string();
                if let Some(src) = std::error::Error::source(&e) {
                    error = format!("{error}: {src}");
                }
                Outcome::Retry {
                    status: None,
                    error,
                    after: None,
                }
            }
        }
    }
}

/// ±10 % around the scheduled delay, so a receiver that comes back is not hit by every retry at
/// the same instant.
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    d.mul_f64(rand::thread_rng().gen_range(0.9..1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_known_answer() {
        let s = WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(
            s.sign_standard(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(!format!("{s:?}").contains("MfKQ"));
    }

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
            // The issue's examples: local NAT64, 6to4 and IPv4-translated metadata, site local.
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

    #[test]
    fn schedules_parse() {
        assert_eq!(
            parse_schedule("1s, 2m,500ms").unwrap(),
            vec![
                Duration::from_secs(1),
                Duration::from_secs(120),
                Duration::from_millis(500)
            ]
        );
        assert!(parse_schedule("soon").is_err());
    }
}
