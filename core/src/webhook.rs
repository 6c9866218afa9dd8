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
use serde::Serialize;
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

/// Event types, as sent in `type` and `X-Seecret-Event`.
pub mod event_type {
    /// A view was used.
    pub const VIEWED: &str = "seecret.viewed";
    /// The last view was used.
    pub const CONSUMED: &str = "seecret.consumed";
    /// The secret expired (swept).
    pub const EXPIRED: &str = "seecret.expired";
    /// The owner deleted it.
    pub const DELETED: &str = "seecret.deleted";
    /// A reveal was refused (`reason`: passphrase, country, rate).
    pub const ACCESS_DENIED: &str = "seecret.access_denied";
}

/// The JSON body of a webhook. Never the content or key.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EventPayload {
    /// Event id, the same on every retry: receivers de-duplicate on it.
    pub id: String,
    /// One of [`event_type`].
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// The secret concerned.
    pub secret_id: SecretId,
    /// The owner's label.
    pub label: Option<String>,
    /// Views allowed.
    pub views: u32,
    /// Views left after the event.
    pub views_remaining: u32,
    /// The viewer's country, when known.
    pub country: Option<String>,
    /// Why access was denied (`access_denied` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

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

/// Whether an address must never receive a webhook: loopback, private, link-local (cloud
/// metadata included), unique-local, CGNAT, multicast, unspecified, documentation and reserved
/// ranges, and IPv4 embedded in IPv6 (mapped, compatible, NAT64) pointing at any of those.
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
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF 192.0.0/24
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking 198.18/15
        || o[0] >= 240 // reserved 240/4
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) carry an IPv4 address.
    if (s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback())
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard 100::/64
}

fn forbidden(message: impl Into<String>) -> Error {
    Error::Rejected {
        code: "webhook_url_forbidden",
        message: message.into(),
    }
}

/// Validates a webhook URL: http(s), no credentials, and (unless `allow_private`) a host whose
/// every address is public. Returns the normalised URL.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|_| Error::invalid("webhook_url", "webhook_url is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(forbidden("webhook_url must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(forbidden("webhook_url must not carry credentials"));
    }
    let host = url
        .host()
        .ok_or_else(|| Error::invalid("webhook_url", "webhook_url has no host"))?;
    if raw.len() > 2048 {
        return Err(Error::invalid(
            "webhook_url",
            "webhook_url is longer than 2048 characters",
        ));
    }
    if !allow_private {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<IpAddr> = match host {
            url::Host::Ipv4(v4) => vec![IpAddr::V4(v4)],
            url::Host::Ipv6(v6) => vec![IpAddr::V6(v6)],
            url::Host::Domain(d) => tokio::net::lookup_host((d, port))
                .await
                .map_err(|_| {
                    Error::invalid(
                        "webhook_url",
                        format!("webhook host {d:?} does not resolve"),
                    )
                })?
                .map(|a| a.ip())
                .collect(),
        };
        if addrs.is_empty() || addrs.iter().any(|a| is_forbidden(*a)) {
            return Err(forbidden(
                "webhook_url points to a loopback, private, link-local or reserved address",
            ));
        }
    }
    Ok(url.to_string())
}

/// Resolves names for delivery and drops forbidden addresses, so the connection goes only to an
/// address that was checked: a DNS answer that changes between check and connect (rebinding)
/// cannot smuggle in a private one.
#[derive(Debug)]
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("webhook host resolves only to forbidden addresses".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

// ---- delivery ------------------------------------------------------------------------------

/// Webhook delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Lift the address check (tests, private deployments).
    pub allow_private: bool,
    /// Delays before the 2nd, 3rd… attempts; after the last one the event is marked failed.
    pub retry_schedule: Vec<Duration>,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Deliveries in flight at once, per instance.
    pub concurrency: usize,
    /// How long a claimed event is reserved for this instance's worker.
    pub lease: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_overlap: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_schedule: [5, 30, 120, 600, 3600, 6 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            timeout: Duration::from_secs(10),
            concurrency: 16,
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
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Seecret-Webhooks/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !cfg.allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let http = builder
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
        loop {
            let batch = self.cfg.concurrency.max(1) as u32;
            let now = Utc::now();
            let lease_until = now + chrono::Duration::from_std(self.cfg.lease).unwrap_or_default();
            let claimed = match self.store.claim_due_events(now, lease_until, batch).await {
                Ok(rows) => rows,
                Err(e) => {
                    warn!(error = %e, "claiming webhook events failed");
                    Vec::new()
                }
            };
            let full = claimed.len() as u32 == batch;
            for row in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.deliver(row).await;
                    drop(permit);
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
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
        if !self.cfg.allow_private {
            // reqwest does not resolve IP-literal hosts, so the resolver cannot guard them.
            let literal = url::Url::parse(&row.target_url)
                .ok()
                .and_then(|u| match u.host() {
                    Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                    Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                    _ => None,
                });
            if literal.is_some_and(is_forbidden) {
                return Outcome::Retry {
                    status: None,
                    error: "webhook_url points to a forbidden address".into(),
                    after: Some(Duration::from_secs(3600)),
                };
            }
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
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[tokio::test]
    async fn urls_to_our_own_network_are_refused_before_any_connection() {
        for url in [
            "http://127.0.0.1:9/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:9/",
            "http://2130706433/",
            "http://0x7f.1/",
            "ftp://example.com/",
            "http://user:pw@example.com/",
        ] {
            let err = check_url(url, false).await.unwrap_err();
            assert_eq!(err.code(), "webhook_url_forbidden", "{url}: {err}");
        }
        assert!(check_url("http://127.0.0.1:9/", true).await.is_ok());
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
