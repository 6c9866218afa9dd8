//! The delivery worker: drains the transactional outbox with leases and retries, signs each
//! attempt, and hands in-process events to their sinks.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, watch};
use tracing::{debug, info, warn};

use super::guard::{
    GuardedResolver, PrivateAllowList, REFUSED_TARGET, acceptable_form, literal_ip,
};
use crate::crypto::WebhookSecret;
use crate::error::{Error, Result};
use crate::outbox::{EventPayload, INTERNAL_PREFIX};
use crate::store::{Attempt, OutboxRow, Store};

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
        let started = std::time::Instant::now();
        let (target, outcome) = match row.target_url.strip_prefix(INTERNAL_PREFIX) {
            Some(route) => ("internal", self.deliver_internal(&row, route).await),
            None => ("webhook", self.deliver_http(&row).await),
        };
        metrics::histogram!("seecret_event_delivery_duration_seconds", "target" => target)
            .record(started.elapsed().as_secs_f64());
        self.record(&row, target, outcome).await;
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

    async fn record(&self, row: &OutboxRow, target: &'static str, outcome: Outcome) {
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
        let result = match &attempt {
            Attempt::Delivered { .. } => "delivered",
            Attempt::EndpointGone => "gone",
            Attempt::Retry { .. } => "retry",
            Attempt::Failed { .. } => "failed",
        };
        // Attempts by outcome: `retry` is a failed attempt that will be tried again, `failed`
        // the last one, after which the event is given up.
        metrics::counter!("seecret_event_deliveries_total", "target" => target, "result" => result)
            .increment(1);
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
