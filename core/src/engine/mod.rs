//! The operations of Seecret and the rules behind them. Transports (HTTP, bots, CLI) call these
//! and map [`Error`] to their own replies; no rule lives anywhere else.
//!
//! One module per concern, each adding its part of `impl Engine`: `accounts` (accounts, tokens,
//! webhook settings), `secrets` (create, read, list, update, delete), `reveal` (status and
//! reveal), `files` (file uploads and downloads), `passphrase` (Argon2 and the attempt window),
//! `rules` (every input check, the proof check, and the live-status rule), `recipient` (secrets
//! bound to a platform user: sign-in tickets and the reveal rule), `requests` (requests for a
//! secret and their one answer, DESIGN §7.2) and `sweep` (expiry, retention
//! and leftovers). This file holds the engine, its settings and its construction.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};

use crate::audit::{AuditEvent, AuditSink};
use crate::blob::BlobStore;
use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::limits::{Limiter, RateLimiter, RedisLimiter};
use crate::link::Link;
use crate::model::{AccountId, Expiration, Provider, SecretId};
use crate::store::{AccountRecord, SecretRecord, Store};
use crate::webhook::WebhookConfig;

mod accounts;
mod counters;
mod files;
mod passphrase;
mod public;
mod recipient;
mod requests;
mod reveal;
mod rules;
mod secrets;
mod sweep;
#[cfg(test)]
mod tests;

pub use files::{FileDownload, FileSource};
pub use public::{PUBLIC_ACCOUNT, PublicCaps};
pub use reveal::Reveal;
pub use sweep::SweepReport;

/// The engine's settings. `Default` is what `seecret serve` uses with no configuration.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Base of share links, e.g. `https://secrets.example.com`.
    pub public_url: String,
    /// Longest expiration accepted.
    pub max_expiration: Expiration,
    /// Shortest expiration accepted (tests lower it to seconds).
    pub min_expiration: Expiration,
    /// Most views a secret may allow.
    pub max_views: u32,
    /// Largest text secret, in bytes of plaintext.
    pub max_text_bytes: usize,
    /// Largest file, in bytes of plaintext.
    pub max_file_bytes: u64,
    /// How long metadata of ended secrets is kept for their owner.
    pub retention: Duration,
    /// Age past which blobs no secret names and leftovers of interrupted uploads are removed.
    pub leftover_age: Duration,
    /// How long a token lookup is cached.
    pub token_cache_ttl: Duration,
    /// Requests per minute per account (0: unlimited).
    pub rate_limit_per_minute: u32,
    /// Requests per minute per client address on unauthenticated endpoints (0: unlimited).
    pub reveal_rate_limit_per_minute: u32,
    /// Passphrase attempts (right or wrong) evaluated per secret per minute; past them, 429.
    pub passphrase_attempts_per_minute: u32,
    /// Argon2 computations (passphrase hashing and checking) running at once; a request that
    /// needs one more is answered 503 at once instead of queueing.
    pub argon2_concurrency: usize,
    /// Webhook checks and delivery.
    pub webhooks: WebhookConfig,
    /// Whether a country source (GeoIP database or trusted header) is configured: without one,
    /// `allowed_countries` is refused rather than silently unenforceable.
    pub geo_available: bool,
    /// The platforms the server can sign people in with (their OAuth settings are present): a
    /// secret may be bound only to a user of one of them.
    pub sign_in_providers: Vec<Provider>,
    /// How long a sign-in ticket counts: from the sign-in to the reveal.
    pub sign_in_ticket_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            max_expiration: Expiration::from_duration(Duration::from_secs(30 * 86_400)),
            min_expiration: Expiration::from_duration(Duration::from_secs(60)),
            max_views: 100,
            max_text_bytes: 1024 * 1024,
            max_file_bytes: 100 * 1024 * 1024,
            retention: Duration::from_secs(30 * 86_400),
            leftover_age: Duration::from_secs(3600),
            token_cache_ttl: Duration::from_secs(2),
            rate_limit_per_minute: 1000,
            reveal_rate_limit_per_minute: 600,
            passphrase_attempts_per_minute: 5,
            argon2_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            webhooks: WebhookConfig::default(),
            geo_available: false,
            sign_in_providers: Vec::new(),
            sign_in_ticket_ttl: Duration::from_secs(600),
        }
    }
}

/// Who is revealing, as far as the transport knows.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// ISO 3166-1 alpha-2 country of the viewer, when known.
    pub country: Option<String>,
}

/// The Seecret engine. Cheap to share: wrap it in an `Arc`.
pub struct Engine {
    store: Arc<dyn Store>,
    cfg: EngineConfig,
    tokens: RwLock<HashMap<[u8; 32], (AccountRecord, Instant)>>,
    account_limiter: RateLimiter,
    address_limiter: RateLimiter,
    wake: Arc<Notify>,
    blobs: Option<BlobStore>,
    argon2: Arc<Semaphore>,
    audit: Option<Arc<dyn AuditSink>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Arc<dyn Store>, cfg: EngineConfig) -> Self {
        Self {
            account_limiter: RateLimiter::Local(Limiter::per_minute(cfg.rate_limit_per_minute)),
            address_limiter: RateLimiter::Local(Limiter::per_minute(
                cfg.reveal_rate_limit_per_minute,
            )),
            argon2: Arc::new(Semaphore::new(cfg.argon2_concurrency.max(1))),
            store,
            cfg,
            tokens: RwLock::new(HashMap::new()),
            wake: Arc::new(Notify::new()),
            blobs: None,
            audit: None,
        }
    }

    /// Shares the rate limits of every instance through Redis.
    pub async fn with_redis_limits(
        mut self,
        url: &str,
        prefix: &str,
        fail_open: bool,
    ) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| {
            Error::invalid("redis_url", format!("SEECRET_REDIS_URL is not valid: {e}"))
        })?;
        let conn = tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
            .await
            .map_err(|_| Error::Storage("cannot connect to Redis (timed out)".into()))?
            .map_err(|e| Error::Storage(format!("cannot connect to Redis: {e}")))?;
        self.account_limiter = RateLimiter::Redis(RedisLimiter::new(
            conn.clone(),
            self.cfg.rate_limit_per_minute,
            &format!("{prefix}:account"),
            fail_open,
        ));
        self.address_limiter = RateLimiter::Redis(RedisLimiter::new(
            conn,
            self.cfg.reveal_rate_limit_per_minute,
            &format!("{prefix}:address"),
            fail_open,
        ));
        Ok(self)
    }

    /// Adds the blob store that file secrets need.
    pub fn with_blobs(mut self, blobs: BlobStore) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Sends owner-visible events (created, revealed, denied, deleted) to `sink` as well.
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    fn audit(&self, event: AuditEvent<'_>) {
        if let Some(sink) = &self.audit {
            sink.record(&event);
        }
    }

    fn blobs(&self) -> Result<&BlobStore> {
        self.blobs
            .as_ref()
            .ok_or_else(|| Error::Internal("no blob store configured".into()))
    }

    /// Notified whenever committed changes wrote outbox events: the webhook worker waits on it.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn forget_cached(&self, id: AccountId) {
        if let Ok(mut cache) = self.tokens.write() {
            cache.retain(|_, (a, _)| a.id != id);
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The store, for operators' commands.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Per-account limiter.
    pub fn account_limiter(&self) -> &RateLimiter {
        &self.account_limiter
    }

    /// Per-client-address limiter for unauthenticated endpoints.
    pub fn address_limiter(&self) -> &RateLimiter {
        &self.address_limiter
    }

    /// Whether the database answers.
    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    async fn owned(&self, account: &AccountRecord, id: SecretId) -> Result<SecretRecord> {
        match self.store.secret(id).await? {
            // Someone else's secret is as unknown as a missing one: no existence oracle.
            Some(r) if r.account_id == account.id => Ok(r),
            _ => Err(Error::NotFound),
        }
    }

    fn url(&self, id: &SecretId, key: Option<&SecretKey>) -> String {
        match key {
            Some(key) => Link::format(&self.cfg.public_url, id, key),
            None => format!("{}/s/{id}", self.cfg.public_url.trim_end_matches('/')),
        }
    }
}
