//! The operations of Seecret and the rules behind them. Transports (HTTP, bots, CLI) call these
//! and map [`Error`] to their own replies; no rule lives anywhere else.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::{info, instrument, warn};

use crate::api::{
    AccountInfo, CreateSecret, Deleted, Limits, ListQuery, PublicStatus, RateLimit, RevealRequest,
    Revealed, RotatedWebhookSecret, SecretList, UpdateAccount, UpdateSecret,
};
use crate::blob::{BlobStore, UploadError};
use crate::crypto::{self, ApiToken, RevealProof, SecretBytes, SecretKey, Verifier, WebhookSecret};
use crate::error::{Error, GoneReason, Result};
use crate::filestream::{self, Decryptor, Encryptor, FileMeta};
use crate::limits::{Limiter, RateLimiter, RedisLimiter};
use crate::model::{AccountId, Expiration, Kind, Link, SecretId, SecretInfo, Status};
use crate::store::{AccountRecord, AttemptClaim, SecretPatch, SecretRecord, Store, ViewClaim};
use crate::webhook::{self, WebhookConfig};

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
        }
    }
}

/// Who is revealing, as far as the transport knows.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// ISO 3166-1 alpha-2 country of the viewer, when known.
    pub country: Option<String>,
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Secrets that expired and had their content erased.
    pub expired: usize,
    /// Ended secrets whose metadata passed the retention period and was forgotten.
    pub purged: u64,
    /// Blobs no secret names (a crash between an upload and its row), past the leftover age.
    pub orphan_blobs: usize,
    /// Leftovers of interrupted uploads (staging files, incomplete multipart uploads).
    pub stale_uploads: usize,
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

    fn blobs(&self) -> Result<&BlobStore> {
        self.blobs
            .as_ref()
            .ok_or_else(|| Error::Internal("no blob store configured".into()))
    }

    /// Deletes a blob and forgets it; a failure is logged and left to the sweeper.
    async fn drop_blob(&self, id: SecretId, key: &str) {
        drop_blob(self.blobs.clone(), self.store.clone(), id, key.to_string()).await;
    }

    /// Deletes the blob of an upload no row links to (its create failed). Only that upload's own
    /// random key is touched; a failure leaves an orphan for the sweeper.
    async fn discard_upload(&self, key: &str) {
        if let Some(blobs) = &self.blobs
            && let Err(e) = blobs.delete(key).await
        {
            warn!(error = %e, "deleting a refused upload failed; the sweeper will remove it");
        }
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

    // ---- accounts ------------------------------------------------------------------------

    /// Creates an account and its first token (shown once).
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(AccountRecord, ApiToken)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("name", "name must be 1 to 100 characters"));
        }
        let account = AccountRecord {
            id: AccountId::new(),
            name: name.to_string(),
            email: email
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(String::from),
            plan: "self-hosted".into(),
            webhook_url: None,
            created_at: now(),
        };
        let token = ApiToken::generate();
        self.store.insert_account(&account, &token.hash()).await?;
        info!(account = %account.id, "account created");
        Ok((account, token))
    }

    /// On first start with an empty database, creates the one account and returns its token.
    pub async fn bootstrap(&self) -> Result<Option<(AccountRecord, ApiToken)>> {
        if self.store.first_account().await?.is_some() {
            return Ok(None);
        }
        self.create_account("admin", None).await.map(Some)
    }

    /// Replaces an account's token (by id or name); the old one stops working at once here and
    /// within the token cache's lifetime on other instances.
    pub async fn rotate_token(&self, account: &str) -> Result<(AccountRecord, ApiToken)> {
        let record = self
            .store
            .account_by_id_or_name(account)
            .await?
            .ok_or(Error::NotFound)?;
        let token = ApiToken::generate();
        if !self.store.set_token_hash(record.id, &token.hash()).await? {
            return Err(Error::NotFound);
        }
        self.forget_cached(record.id);
        info!(account = %record.id, "token rotated");
        Ok((record, token))
    }

    /// Finds the account a Bearer token belongs to. Lookups are cached briefly so most requests
    /// never touch the database.
    pub async fn authenticate(&self, bearer: &str) -> Result<AccountRecord> {
        let hash = ApiToken::parse(bearer)?.hash();
        if let Ok(cache) = self.tokens.read()
            && let Some((account, at)) = cache.get(&hash)
            && at.elapsed() < self.cfg.token_cache_ttl
        {
            return Ok(account.clone());
        }
        let account = self
            .store
            .account_by_token(&hash)
            .await?
            .ok_or(Error::Unauthorized)?;
        if let Ok(mut cache) = self.tokens.write() {
            cache.insert(hash, (account.clone(), Instant::now()));
        }
        Ok(account)
    }

    /// The account's profile, limits and usage.
    pub async fn account_info(&self, account: &AccountRecord) -> Result<AccountInfo> {
        Ok(AccountInfo {
            id: account.id,
            name: account.name.clone(),
            email: account.email.clone(),
            plan: account.plan.clone(),
            created_at: account.created_at,
            rate_limit: RateLimit {
                per_minute: self.cfg.rate_limit_per_minute,
            },
            usage: self.store.usage(account.id).await?,
            webhook_url: account.webhook_url.clone(),
            webhook_secret: None,
            limits: Limits {
                max_expiration: self.cfg.max_expiration,
                max_views: self.cfg.max_views,
                max_text_bytes: self.cfg.max_text_bytes as u64,
                max_file_bytes: Some(self.cfg.max_file_bytes),
            },
        })
    }

    /// Sets or clears the account's webhook URL. The first URL ever set creates the signing
    /// secret, returned once in this answer.
    pub async fn update_account(
        &self,
        account: &AccountRecord,
        req: UpdateAccount,
    ) -> Result<AccountInfo> {
        let mut created = None;
        if let Some(url) = req.webhook_url {
            let url = self.check_webhook_url(Some(url)).await?;
            let candidate = WebhookSecret::generate();
            if self
                .store
                .set_account_webhook(account.id, url.as_deref(), &candidate)
                .await?
            {
                created = Some(candidate);
            }
            self.forget_cached(account.id);
        }
        let fresh = self
            .store
            .account_by_id_or_name(&account.id.to_string())
            .await?
            .ok_or(Error::NotFound)?;
        let mut info = self.account_info(&fresh).await?;
        info.webhook_secret = created;
        Ok(info)
    }

    /// Replaces the webhook signing secret. The previous one keeps signing for the configured
    /// overlap, so receivers can switch without losing events.
    pub async fn rotate_webhook_secret(
        &self,
        account: &AccountRecord,
    ) -> Result<RotatedWebhookSecret> {
        let now = now();
        let had = self
            .store
            .webhook_secrets(account.id, now)
            .await?
            .current
            .is_some();
        let new = WebhookSecret::generate();
        let until = now + to_chrono(self.cfg.webhooks.secret_overlap);
        self.store
            .rotate_webhook_secret(account.id, &new, until)
            .await?;
        Ok(RotatedWebhookSecret {
            webhook_secret: new,
            previous_secret_valid_until: had.then_some(until),
        })
    }

    /// Queues a webhook event again (after its deliveries failed, or to replay it).
    pub async fn redeliver_webhook(&self, account: &AccountRecord, event_id: &str) -> Result<()> {
        if !self.store.redeliver(account.id, event_id, now()).await? {
            return Err(Error::NotFound);
        }
        self.wake.notify_one();
        Ok(())
    }

    // ---- secrets -------------------------------------------------------------------------

    /// Creates a secret. With plaintext `content` the server seals it under a fresh key, puts the
    /// key in the returned `url` and forgets it; with `ciphertext` the client kept the key.
    pub async fn create_secret(
        &self,
        account: &AccountRecord,
        req: CreateSecret,
    ) -> Result<SecretInfo> {
        self.create_secret_notifying(account, req, None).await
    }

    /// [`create_secret`](Self::create_secret) for an in-process client (an embedded chat bot)
    /// that wants this secret's events: they reach the [`EventSink`](crate::webhook::EventSink)
    /// registered under `notify`'s prefix (`slack:T1:U2` goes to the `slack` sink), through the
    /// same outbox as webhooks, so they survive restarts and reach the bot whichever instance
    /// served the reveal.
    #[instrument(skip_all, fields(account = %account.id))]
    pub async fn create_secret_notifying(
        &self,
        account: &AccountRecord,
        mut req: CreateSecret,
        notify: Option<String>,
    ) -> Result<SecretInfo> {
        // Only files keep a clear-text name, but a text create naming one still gets it checked:
        // a refused name is refused whatever the kind.
        check_name("file_name", req.file_name.take())?;
        let mut draft = self.draft(&mut req).await?;
        draft.notify = match notify {
            Some(n) if n.is_empty() || n.len() > 200 || n.chars().any(char::is_control) => {
                return Err(Error::invalid("notify", "invalid subscriber"));
            }
            n => n,
        };
        let client_verifier = req.verifier.take();
        let (id, envelope, key, verifier) = match (req.content, req.ciphertext, req.id) {
            (Some(_), None, None) if client_verifier.is_some() => {
                return Err(verifier_with_plaintext());
            }
            (Some(content), None, None) => {
                self.check_text_size(content.len())?;
                let id = SecretId::new();
                let key = SecretKey::generate();
                let envelope = crypto::seal(&key, &id, content.expose())?;
                let verifier = RevealProof::of_key(&key).verifier();
                (id, envelope, Some(key), verifier)
            }
            (None, Some(ct), Some(id)) => {
                let id = SecretId::parse_client_chosen(&id.to_string())?;
                let verifier = client_verifier_of(client_verifier)?;
                (id, self.check_envelope(&ct)?, None, verifier)
            }
            (None, Some(_), None) => {
                return Err(Error::invalid(
                    "id",
                    "id is required with ciphertext: the envelope is sealed for that id",
                ));
            }
            (Some(_), Some(_), _) => {
                return Err(Error::invalid(
                    "content",
                    "give either content or ciphertext, not both",
                ));
            }
            (Some(_), None, Some(_)) => {
                return Err(Error::invalid(
                    "id",
                    "id may only be chosen with client-side ciphertext",
                ));
            }
            (None, None, _) => {
                return Err(Error::invalid("content", "content is required"));
            }
        };
        let mut record = draft.record(id, account, Kind::Text, Some(envelope), None, None);
        record.verifier = Some(verifier);
        self.store.insert_secret(&record).await?;
        self.created(account, &record, key.as_ref()).await
    }

    /// A secret's metadata and view log; never its content.
    #[instrument(skip_all, fields(%id))]
    pub async fn get_secret(&self, account: &AccountRecord, id: SecretId) -> Result<SecretInfo> {
        let record = self.owned(account, id).await?;
        let mut info = info_of(&record);
        info.view_log = Some(self.store.views(id).await?);
        info.webhook_deliveries = Some(self.store.deliveries(id).await?);
        Ok(info)
    }

    /// A page of the account's secrets, newest first.
    pub async fn list_secrets(&self, account: &AccountRecord, q: ListQuery) -> Result<SecretList> {
        let limit = q.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid("limit", "limit must be between 1 and 100"));
        }
        let before = q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<SecretId>()
                    .map_err(|_| Error::invalid("cursor", "cursor is not one this server issued"))
            })
            .transpose()?;
        let mut records = self
            .store
            .list_secrets(account.id, q.status, before, limit + 1)
            .await?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let now = now();
        let seecrets: Vec<SecretInfo> = records
            .iter()
            .map(|r| with_live_status(info_of(r), now))
            .collect();
        let next_cursor = if more {
            seecrets.last().map(|s| s.id.to_string())
        } else {
            None
        };
        Ok(SecretList {
            seecrets,
            next_cursor,
        })
    }

    /// Changes an active secret. New content means a new key, answered in `url`.
    #[instrument(skip_all, fields(%id))]
    pub async fn update_secret(
        &self,
        account: &AccountRecord,
        id: SecretId,
        req: UpdateSecret,
    ) -> Result<SecretInfo> {
        let current = self.owned(account, id).await?;
        let now = now();
        if let Some(reason) = gone_reason(&current, now) {
            return Err(Error::Gone(reason));
        }
        let mut patch = SecretPatch::default();
        if let Some(e) = req.expiration {
            patch.expires_at = Some(now + to_chrono(self.check_expiration(e)?.duration()));
        }
        if let Some(v) = req.views {
            let v = self.check_views(v)?;
            if v <= current.views_used {
                return Err(Error::invalid(
                    "views",
                    format!(
                        "views must be more than the {} already used",
                        current.views_used
                    ),
                ));
            }
            patch.views_total = Some(v);
        }
        if let Some(p) = req.passphrase {
            patch.passphrase_hash = Some(if p.is_empty() {
                None
            } else {
                Some(self.hash_passphrase(p).await?)
            });
        }
        if let Some(l) = req.label {
            patch.label = Some(check_label(Some(l))?);
        }
        if let Some(c) = req.allowed_countries {
            patch.allowed_countries = Some(self.check_countries(c)?);
        }
        let mut new_webhook = false;
        if let Some(w) = req.webhook_url {
            let url = self.check_webhook_url(Some(w)).await?;
            new_webhook = url.is_some();
            patch.webhook_url = Some(url);
        }
        let key = match (req.content, req.ciphertext) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "content",
                    "give either content or ciphertext, not both",
                ));
            }
            (Some(_), None) if req.verifier.is_some() => return Err(verifier_with_plaintext()),
            (Some(content), None) => {
                if content.is_empty() {
                    return Err(Error::invalid("content", "content must not be empty"));
                }
                self.check_text_size(content.len())?;
                let key = SecretKey::generate();
                patch.envelope = Some(crypto::seal(&key, &id, content.expose())?);
                patch.verifier = Some(RevealProof::of_key(&key).verifier());
                Some(key)
            }
            (None, Some(ct)) => {
                patch.envelope = Some(self.check_envelope(&ct)?);
                patch.verifier = Some(client_verifier_of(req.verifier)?);
                None
            }
            (None, None) if req.verifier.is_some() => {
                return Err(Error::invalid(
                    "verifier",
                    "verifier goes with new ciphertext: there is no new content to verify",
                ));
            }
            (None, None) => None,
        };
        if !self
            .store
            .update_secret(account.id, id, &patch, now)
            .await?
        {
            // Lost a race with a reveal, an expiry or a delete: report what happened.
            let latest = self.owned(account, id).await?;
            return Err(match gone_reason(&latest, now) {
                Some(reason) => Error::Gone(reason),
                None => Error::invalid("views", "views must be more than the views already used"),
            });
        }
        let mut info = info_of(&self.owned(account, id).await?);
        if let Some(key) = key {
            info.url = Some(self.url(&id, Some(&key)));
        }
        if new_webhook {
            info.webhook_secret = self.ensure_webhook_secret(account).await?;
        }
        Ok(info)
    }

    /// Deletes a secret: its content is erased now. Deleting a secret that already ended is a
    /// no-op that still answers `deleted: true`, so clean-up scripts can be idempotent.
    #[instrument(skip_all, fields(%id))]
    pub async fn delete_secret(&self, account: &AccountRecord, id: SecretId) -> Result<Deleted> {
        self.owned(account, id).await?;
        let status = if let Some(blob) = self.store.delete_secret(account.id, id, now()).await? {
            self.wake.notify_one();
            if let Some(blob) = blob {
                self.drop_blob(id, &blob).await;
            }
            Status::Deleted
        } else {
            self.owned(account, id).await?.status
        };
        Ok(Deleted {
            id,
            deleted: true,
            status,
        })
    }

    /// What the reveal page may show without using a view, to a caller holding the reveal proof
    /// (DESIGN §7.1): without it, the same [`Error::NotFound`] as an unknown id.
    #[instrument(skip_all, fields(%id))]
    pub async fn status(&self, id: SecretId, proof: &SecretBytes) -> Result<PublicStatus> {
        let r = self.store.secret(id).await?.ok_or(Error::NotFound)?;
        check_proof(&r, None, Some(proof))?;
        let now = now();
        Ok(PublicStatus {
            id,
            status: live_status(&r, now),
            kind: r.kind,
            passphrase_protected: r.passphrase_hash.is_some(),
            expires_at: r.expires_at,
            views_remaining: r.views_total.saturating_sub(r.views_used),
            size: r.size,
        })
    }

    /// Reveals a secret, using one view. The caller must hold the key or the reveal proof
    /// (DESIGN §7.1), checked before anything else: otherwise [`Error::NotFound`], with nothing
    /// recorded. Text comes back whole: decrypted with a key, else as the envelope for the client
    /// to open. A file comes back as a stream: decrypted with a key, else the sealed blob. A wrong
    /// key or passphrase uses no view.
    #[instrument(skip_all, fields(%id))]
    pub async fn reveal(&self, id: SecretId, req: RevealRequest, viewer: Viewer) -> Result<Reveal> {
        let record = self.store.secret(id).await?.ok_or(Error::NotFound)?;
        // Before anything else (status, geo, passphrase, view, events): the id alone is nothing.
        check_proof(&record, req.key.as_ref(), req.proof.as_ref())?;
        let now = now();
        if let Some(reason) = gone_reason(&record, now) {
            return Err(Error::Gone(reason));
        }
        // Geo-blocking before the passphrase: a refused country learns nothing about it, and
        // neither refusal uses a view.
        if !record.allowed_countries.is_empty() {
            let allowed = viewer
                .country
                .as_deref()
                .is_some_and(|c| record.allowed_countries.iter().any(|a| a == c));
            if !allowed {
                self.store
                    .record_access_denied(id, "country", viewer.country.as_deref(), now)
                    .await?;
                self.wake.notify_one();
                return Err(Error::Forbidden {
                    code: "geo_blocked",
                    message: match &viewer.country {
                        Some(c) => format!("this secret cannot be revealed from {c}"),
                        None => "this secret cannot be revealed from an unknown country".into(),
                    },
                });
            }
        }
        if let Some(hash) = &record.passphrase_hash {
            self.check_passphrase(&record, hash, req.passphrase, now)
                .await?;
        }
        let key = req
            .key
            .as_ref()
            .map(|k| {
                k.as_str()
                    .ok_or_else(|| Error::invalid("key", "key must be base64url text"))
                    .and_then(SecretKey::from_base64url)
            })
            .transpose()?;
        let mut record = record;
        let mut rounds = 0;
        let (envelope, blob, views_remaining, status) = loop {
            // Check the key before using a view: a typo must not burn the secret.
            if let Some(key) = &key {
                let checked = match (&record.envelope, &record.blob_key) {
                    (Some(envelope), _) => crypto::open(key, &id, envelope).map(drop),
                    (None, Some(blob)) => self.check_file_key(key, &id, blob).await,
                    (None, None) => Ok(()),
                };
                match checked {
                    // The key opened the content this reveal started with: the owner replaced
                    // it meanwhile, which is not the recipient's typo.
                    Err(Error::InvalidKey) if rounds > 0 => return Err(Error::ContentChanged),
                    other => other?,
                }
            }
            // The claim holds only for the content version just checked, so an update landing
            // between the check and the claim uses no view (issue 12, owner races).
            match self
                .store
                .claim_view(id, now, viewer.country.as_deref(), record.content_version)
                .await?
            {
                ViewClaim::Granted {
                    envelope,
                    blob_key,
                    views_remaining,
                    status,
                    events,
                } => {
                    if events > 0 {
                        self.wake.notify_one();
                    }
                    break (envelope, blob_key, views_remaining, status);
                }
                ViewClaim::Refused => {
                    let latest = self.store.secret(id).await?.ok_or(Error::NotFound)?;
                    if let Some(reason) = gone_reason(&latest, now) {
                        return Err(Error::Gone(reason));
                    }
                    if latest.content_version == record.content_version {
                        return Err(Error::Gone(GoneReason::Consumed));
                    }
                    // New content: check the key against it and try again, a few times at
                    // most so an owner updating in a loop cannot keep a reveal spinning.
                    rounds += 1;
                    // A proof-only reveal cannot check new content by decrypting: its proof must
                    // match the new verifier, or it would burn a view of content it cannot open.
                    if rounds > 3
                        || check_proof(&latest, req.key.as_ref(), req.proof.as_ref()).is_err()
                    {
                        return Err(Error::ContentChanged);
                    }
                    record = latest;
                }
            }
        };
        if let Some(blob) = blob {
            return self
                .open_file(id, blob, key, views_remaining, status)
                .await
                .map(Reveal::File);
        }
        let envelope = envelope.ok_or_else(|| Error::Internal("secret has no content".into()))?;
        let (content, ciphertext) = match key {
            Some(key) => (Some(crypto::open(&key, &id, &envelope)?), None),
            None => (None, Some(crypto::b64encode(&envelope))),
        };
        Ok(Reveal::Text(Revealed {
            id,
            content,
            ciphertext,
            views_remaining,
            status,
        }))
    }

    /// Shares a file, streamed into the blob store: sealed here from plaintext, or stored as the
    /// client sealed it. Nothing is recorded unless the whole upload arrives within the size
    /// limit; an interrupted or oversized upload leaves no row and no blob.
    #[instrument(skip_all, fields(account = %account.id))]
    pub async fn create_file<S>(
        &self,
        account: &AccountRecord,
        req: CreateSecret,
        source: FileSource<S>,
    ) -> Result<SecretInfo>
    where
        S: Stream<Item = Result<Bytes, String>> + Send,
    {
        let blobs = self.blobs()?;
        let mut req = req;
        let draft = self.draft(&mut req).await?;
        let file_name = check_name("file_name", req.file_name.take())?;
        if req.content.is_some() || req.ciphertext.is_some() {
            return Err(Error::invalid(
                "file",
                "send either content or a file, not both",
            ));
        }
        // Checked before a byte is stored: a client-sealed file needs the client's verifier.
        let client_verifier = match (&source, req.verifier.take()) {
            (FileSource::Sealed { .. }, v) => Some(client_verifier_of(v)?),
            (FileSource::Plain { .. }, None) => None,
            (FileSource::Plain { .. }, Some(_)) => return Err(verifier_with_plaintext()),
        };
        let max_file = self.cfg.max_file_bytes;
        let too_large = || Error::TooLarge {
            message: format!("the file is larger than this server's limit of {max_file} bytes"),
        };
        // A fresh random key per upload, never the id: an upload can only ever write its own
        // blob, so a create that loses (taken id, bad stream) cannot touch anyone's file.
        let blob_key = BlobStore::new_key();
        let (id, key, size, stored) = match source {
            FileSource::Plain {
                name,
                media_type,
                stream,
            } => {
                if req.id.is_some() {
                    return Err(Error::invalid(
                        "id",
                        "id may only be chosen with a client-sealed file",
                    ));
                }
                let id = SecretId::new();
                let key = SecretKey::generate();
                let meta = FileMeta {
                    name: clean_file_name(&name),
                    media_type: clean_media_type(&media_type),
                    size: None,
                };
                let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let sealed = seal_stream(
                    stream,
                    Encryptor::new(&key, &id, &meta)?,
                    max_file,
                    counted.clone(),
                );
                let stored = blobs
                    .put(&blob_key, sealed, filestream::max_sealed_len(max_file))
                    .await;
                let size = counted.load(std::sync::atomic::Ordering::Relaxed);
                (id, Some(key), Some(size), stored)
            }
            FileSource::Sealed { stream } => {
                let id = req.id.ok_or_else(|| {
                    Error::invalid("id", "id is required with a client-sealed file")
                })?;
                let id = SecretId::parse_client_chosen(&id.to_string())?;
                // Refuse a taken id before storing a byte. The row insert below stays the
                // arbiter: two uploads racing for one free id both pass here, one insert wins.
                if self.store.secret(id).await?.is_some() {
                    return Err(Error::IdTaken);
                }
                let stream = stream.map(|r| r.map_err(UploadError::Source));
                let stored = blobs
                    .put(&blob_key, stream, filestream::max_sealed_len(max_file))
                    .await;
                (id, None, req.size, stored)
            }
        };
        let blob_len = match stored {
            Ok(n) => n,
            Err(UploadError::TooLarge) => return Err(too_large()),
            Err(UploadError::Source(e)) => {
                return Err(Error::invalid(
                    "file",
                    format!("the upload did not complete: {e}"),
                ));
            }
            Err(UploadError::Store(e)) => return Err(Error::Storage(format!("blob store: {e}"))),
        };
        if key.is_none() && filestream::payload_len(blob_len).is_none() {
            self.discard_upload(&blob_key).await;
            return Err(Error::invalid(
                "ciphertext",
                "the upload is not a Seecret file stream",
            ));
        }
        let mut record = draft.record(
            id,
            account,
            Kind::File,
            None,
            Some((blob_key.clone(), size)),
            file_name,
        );
        record.verifier = match (client_verifier, &key) {
            (Some(w), _) => Some(w),
            (None, Some(k)) => Some(RevealProof::of_key(k).verifier()),
            (None, None) => return Err(Error::Internal("a file without a verifier".into())),
        };
        // Inserting the row is what links the staged blob to the secret; until then it is this
        // upload's alone (and an orphan the sweeper removes if the process dies here).
        if let Err(e) = self.store.insert_secret(&record).await {
            self.discard_upload(&blob_key).await;
            return Err(e.into());
        }
        self.created(account, &record, key.as_ref()).await
    }

    async fn check_file_key(&self, key: &SecretKey, id: &SecretId, blob: &str) -> Result<()> {
        let (_, mut stream) = self.blobs()?.get(blob).await?;
        let mut dec = Decryptor::new(key, id);
        let mut sink = Vec::new();
        let mut seen = 0usize;
        // The first chunk is enough to tell a wrong key; a one-chunk file is checked whole.
        while dec.meta().is_none()
            && seen <= filestream::HEADER_LEN + filestream::CHUNK_SIZE + filestream::TAG_LEN
        {
            match stream.next().await {
                Some(bytes) => {
                    let bytes = bytes?;
                    seen += bytes.len();
                    dec.update(&bytes, &mut sink)
                        .map_err(|_| Error::InvalidKey)?;
                    sink.clear();
                }
                None => {
                    dec.finish(&mut sink).map_err(|_| Error::InvalidKey)?;
                    return Ok(());
                }
            }
        }
        if dec.meta().is_none() {
            return Err(Error::InvalidKey);
        }
        Ok(())
    }

    async fn open_file(
        &self,
        id: SecretId,
        blob: String,
        key: Option<SecretKey>,
        views_remaining: u32,
        status: Status,
    ) -> Result<FileDownload> {
        let blobs = self.blobs()?.clone();
        let (blob_len, stream) = blobs.get(&blob).await?;
        let stream = cut_on_delete(stream, self.store.clone(), id);
        // The last permitted download deletes the blob when it ends, finished or abandoned.
        let guard = (status == Status::Consumed).then(|| BlobGuard {
            blobs: Some(blobs.clone()),
            store: self.store.clone(),
            id,
            key: blob.clone(),
        });
        let Some(key) = key else {
            return Ok(FileDownload {
                id,
                views_remaining,
                status,
                len: blob_len,
                meta: None,
                stream: Guarded {
                    inner: stream,
                    _guard: guard,
                }
                .boxed(),
            });
        };
        // Open the first chunk now so the answer can carry the file's name and type.
        let mut dec = Decryptor::new(&key, &id);
        let mut first = Vec::new();
        let mut stream = stream;
        while dec.meta().is_none() {
            match stream.next().await {
                Some(bytes) => dec.update(&bytes?, &mut first)?,
                None => break,
            }
        }
        let ended = dec.meta().is_none();
        let (meta, first, rest): (FileMeta, Vec<u8>, BoxStream<'static, Result<Bytes>>) = if ended {
            let meta = dec.finish(&mut first)?;
            (meta, first, futures::stream::empty().boxed())
        } else {
            let meta = dec
                .meta()
                .cloned()
                .ok_or_else(|| Error::Internal("no metadata".into()))?;
            (meta, first, open_stream(stream, dec))
        };
        let len = filestream::file_len(blob_len, &meta).unwrap_or_default();
        let plain = futures::stream::once(async move { Ok(Bytes::from(first)) }).chain(rest);
        Ok(FileDownload {
            id,
            views_remaining,
            status,
            len,
            meta: Some(meta),
            stream: Guarded {
                inner: plain.boxed(),
                _guard: guard,
            }
            .boxed(),
        })
    }

    /// Expires due secrets (erasing their content) and forgets ended ones past retention.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let now = now();
        let mut report = SweepReport::default();
        loop {
            let expired = self.store.expire_due(now, 500).await?;
            report.expired += expired.len();
            if !expired.is_empty() {
                self.wake.notify_one();
            }
            for (id, blob) in &expired {
                if let Some(blob) = blob {
                    self.drop_blob(*id, blob).await;
                }
            }
            if expired.len() < 500 {
                break;
            }
        }
        // Blobs whose deletion failed, or whose download was cut by a crash: give downloads in
        // progress an hour, then delete.
        for (id, blob) in self
            .store
            .leftover_blobs(now - chrono::Duration::hours(1), 500)
            .await?
        {
            self.drop_blob(id, &blob).await;
        }
        report.purged = self
            .store
            .purge_ended(now - to_chrono(self.cfg.retention))
            .await?;
        if let Some(blobs) = &self.blobs {
            // An hour (the default) is far longer than any upload takes between its last byte
            // and its row, or from its first part to its last.
            let cutoff = now - to_chrono(self.cfg.leftover_age);
            // A blob store failure must not stop the rest of the sweep (the WAL checkpoint).
            match self.remove_orphan_blobs(blobs, cutoff).await {
                Ok(n) => report.orphan_blobs = n,
                Err(e) => warn!(error = %e, "removing orphan blobs failed; will retry"),
            }
            match blobs.remove_stale_uploads(cutoff).await {
                Ok(n) => report.stale_uploads = n,
                Err(e) => warn!(error = %e, "removing interrupted uploads failed; will retry"),
            }
        }
        // Last, so the erasures of this sweep (and every reveal and delete since the previous
        // one) leave no copy in the write-ahead log.
        self.store.flush_erasures().await?;
        if let Ok(mut cache) = self.tokens.write() {
            let ttl = self.cfg.token_cache_ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        self.account_limiter.prune();
        self.address_limiter.prune();
        Ok(report)
    }

    /// Deletes the blobs last written before `cutoff` that no secret names.
    async fn remove_orphan_blobs(&self, blobs: &BlobStore, cutoff: DateTime<Utc>) -> Result<usize> {
        let old = blobs.keys_older_than(cutoff).await?;
        let mut removed = 0;
        for chunk in old.chunks(500) {
            let named = self.store.referenced_blobs(chunk).await?;
            for key in chunk.iter().filter(|k| !named.contains(*k)) {
                blobs.delete(key).await?;
                removed += 1;
            }
        }
        if removed > 0 {
            info!(removed, "orphan blobs removed");
        }
        Ok(removed)
    }

    // ---- helpers -------------------------------------------------------------------------

    async fn owned(&self, account: &AccountRecord, id: SecretId) -> Result<SecretRecord> {
        match self.store.secret(id).await? {
            // Someone else's secret is as unknown as a missing one: no existence oracle.
            Some(r) if r.account_id == account.id => Ok(r),
            _ => Err(Error::NotFound),
        }
    }

    async fn check_passphrase(
        &self,
        record: &SecretRecord,
        hash: &str,
        given: Option<SecretBytes>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let max = self.cfg.passphrase_attempts_per_minute;
        let Some(given) = given.filter(|p| !p.is_empty()) else {
            // Nothing to evaluate, so nothing is counted; a locked secret still says so, so
            // the client does not prompt for a passphrase it would refuse.
            let window_end = record.pp_fail_window + chrono::Duration::seconds(60);
            if record.pp_fail_count >= max && window_end > now {
                return self.refuse_attempt(record.id, window_end, now).await;
            }
            return Err(Error::PassphraseRequired);
        };
        // Admission before the claim: a request turned away for lack of capacity must not use
        // one of the window's attempts.
        let permit = self.argon2_permit()?;
        // The attempt is counted before Argon2 runs, in one statement that also checks the
        // window, so concurrent requests (on any instance) cannot all pass a check made on a
        // stale count. A right passphrase keeps its slot: successes do not reopen the window.
        if let AttemptClaim::Refused { window_end } = self
            .store
            .claim_passphrase_attempt(record.id, max, now)
            .await?
        {
            drop(permit);
            return self.refuse_attempt(record.id, window_end, now).await;
        }
        if verify_passphrase(permit, given, hash.to_string()).await? {
            return Ok(());
        }
        self.store
            .record_access_denied(record.id, "passphrase", None, now)
            .await?;
        self.wake.notify_one();
        warn!(id = %record.id, "wrong passphrase");
        Err(Error::PassphraseInvalid)
    }

    /// The answer to an attempt past the window's limit, with its `rate` event.
    async fn refuse_attempt(
        &self,
        id: SecretId,
        window_end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.store
            .record_access_denied(id, "rate", None, now)
            .await?;
        self.wake.notify_one();
        // A concurrent request may have opened the window with a slightly later `now` than
        // ours; the wait is never longer than the window itself.
        let window = Duration::from_secs(60);
        Err(Error::RateLimited {
            retry_after: (window_end - now).to_std().unwrap_or_default().min(window),
        })
    }

    /// A slot for one Argon2 computation, or `Busy` at once: Argon2 costs ~19 MiB and a core for
    /// a noticeable time, so waiting requests would pile up blocking threads and memory.
    fn argon2_permit(&self) -> Result<OwnedSemaphorePermit> {
        self.argon2
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy {
                retry_after: Duration::from_secs(1),
            })
    }

    async fn hash_passphrase(&self, p: SecretBytes) -> Result<String> {
        if p.len() > 1024 {
            return Err(Error::invalid(
                "passphrase",
                "passphrase must be at most 1024 bytes",
            ));
        }
        let permit = self.argon2_permit()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(p.expose(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| Error::Internal("passphrase hashing failed".into()))
        })
        .await
        .map_err(|_| Error::Internal("passphrase hashing task failed".into()))?
    }

    /// Checks the settings every new secret has, text or file; takes them out of `req`.
    async fn draft(&self, req: &mut CreateSecret) -> Result<Draft> {
        let created_at = now();
        let expiration = self.check_expiration(req.expiration.unwrap_or(Expiration::DEFAULT))?;
        Ok(Draft {
            created_at,
            expires_at: created_at + to_chrono(expiration.duration()),
            views: self.check_views(req.views.unwrap_or(1))?,
            allowed_countries: self
                .check_countries(req.allowed_countries.take().unwrap_or_default())?,
            label: check_label(req.label.take())?,
            webhook_url: self.check_webhook_url(req.webhook_url.take()).await?,
            passphrase_hash: match req.passphrase.take() {
                Some(p) if !p.is_empty() => Some(self.hash_passphrase(p).await?),
                _ => None,
            },
            notify: None,
        })
    }

    /// The answer to a create: the metadata, the link, and the webhook secret if this secret's
    /// URL created it.
    async fn created(
        &self,
        account: &AccountRecord,
        record: &SecretRecord,
        key: Option<&SecretKey>,
    ) -> Result<SecretInfo> {
        let mut info = info_of(record);
        info.url = Some(self.url(&record.id, key));
        if record.webhook_url.is_some() {
            info.webhook_secret = self.ensure_webhook_secret(account).await?;
        }
        Ok(info)
    }

    fn check_countries(&self, countries: Vec<String>) -> Result<Vec<String>> {
        if countries.is_empty() {
            return Ok(countries);
        }
        if !self.cfg.geo_available {
            // Silently ignoring the restriction would let every country in.
            return Err(Error::invalid(
                "allowed_countries",
                "geo-blocking is not available: configure SEECRET_GEOIP_DB or SEECRET_COUNTRY_HEADER",
            ));
        }
        let mut out = Vec::with_capacity(countries.len());
        for c in countries {
            let c = c.trim().to_ascii_uppercase();
            if !crate::geo::is_country_code(&c) {
                return Err(Error::invalid(
                    "allowed_countries",
                    format!("{c:?} is not an ISO 3166-1 alpha-2 country code"),
                ));
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.len() > 250 {
            return Err(Error::invalid("allowed_countries", "too many countries"));
        }
        Ok(out)
    }

    async fn check_webhook_url(&self, url: Option<String>) -> Result<Option<String>> {
        match url.map(|u| u.trim().to_string()) {
            None => Ok(None),
            Some(u) if u.is_empty() => Ok(None),
            Some(u) => webhook::check_url(&u, &self.cfg.webhooks.allow_private)
                .await
                .map(Some),
        }
    }

    /// Creates the account's signing secret if it has none; `Some` only when created now.
    async fn ensure_webhook_secret(
        &self,
        account: &AccountRecord,
    ) -> Result<Option<WebhookSecret>> {
        let candidate = WebhookSecret::generate();
        Ok(self
            .store
            .ensure_webhook_secret(account.id, &candidate)
            .await?
            .then_some(candidate))
    }

    fn url(&self, id: &SecretId, key: Option<&SecretKey>) -> String {
        match key {
            Some(key) => Link::format(&self.cfg.public_url, id, key),
            None => format!("{}/s/{id}", self.cfg.public_url.trim_end_matches('/')),
        }
    }

    fn check_expiration(&self, e: Expiration) -> Result<Expiration> {
        if e > self.cfg.max_expiration {
            return Err(Error::invalid(
                "expiration",
                format!("expiration must be at most {}", self.cfg.max_expiration),
            ));
        }
        if e < self.cfg.min_expiration {
            return Err(Error::invalid(
                "expiration",
                format!("expiration must be at least {}", self.cfg.min_expiration),
            ));
        }
        Ok(e)
    }

    fn check_views(&self, v: u32) -> Result<u32> {
        if v == 0 || v > self.cfg.max_views {
            return Err(Error::invalid(
                "views",
                format!("views must be between 1 and {}", self.cfg.max_views),
            ));
        }
        Ok(v)
    }

    fn check_text_size(&self, len: usize) -> Result<()> {
        if len == 0 {
            return Err(Error::invalid("content", "content must not be empty"));
        }
        if len > self.cfg.max_text_bytes {
            return Err(Error::TooLarge {
                message: format!(
                    "content is {len} bytes; the limit for text is {} bytes (send larger data as a file)",
                    self.cfg.max_text_bytes
                ),
            });
        }
        Ok(())
    }

    fn check_envelope(&self, b64: &str) -> Result<Vec<u8>> {
        let envelope = crypto::b64decode("ciphertext", b64)?;
        crypto::check_envelope(&envelope)?;
        self.check_text_size(envelope.len() - crypto::ENVELOPE_OVERHEAD)
            .map_err(|e| match e {
                Error::InvalidInput { .. } => {
                    Error::invalid("ciphertext", "ciphertext seals empty content")
                }
                other => other,
            })?;
        Ok(envelope)
    }
}

/// The client's `verifier` for content it sealed itself: required, since without it nobody could
/// ever prove the right to reveal.
fn client_verifier_of(given: Option<String>) -> Result<Verifier> {
    match given.as_deref().map(str::trim) {
        None | Some("") => Err(Error::invalid(
            "verifier",
            "verifier is required with client-sealed content: base64url of SHA-256 of the \
             reveal proof (docs/format.md)",
        )),
        Some(v) => Verifier::from_base64url(v),
    }
}

fn verifier_with_plaintext() -> Error {
    Error::invalid(
        "verifier",
        "verifier is only for client-sealed content: the server derives it when it seals",
    )
}

/// Checks that a reveal or status call holds the secret's key or reveal proof (DESIGN §7.1),
/// in constant time against the stored verifier. Every failure is [`Error::NotFound`], the
/// answer for an unknown id, so the id alone tells nothing. A `key` stands for the proof derived
/// from it; a key that does not even parse proves nothing either. Secrets stored before
/// verifiers existed accept a key (checked later by decrypting) and refuse a bare proof.
fn check_proof(
    record: &SecretRecord,
    key: Option<&SecretBytes>,
    proof: Option<&SecretBytes>,
) -> Result<()> {
    let derived = key.map(|k| {
        k.as_str()
            .and_then(|s| SecretKey::from_base64url(s).ok())
            .map(|k| RevealProof::of_key(&k))
    });
    let given = proof.map(|p| p.as_str().and_then(|s| RevealProof::from_base64url(s).ok()));
    let proofs = [derived, given];
    if proofs.iter().all(Option::is_none) {
        return Err(Error::NotFound);
    }
    let Some(verifier) = &record.verifier else {
        return match (key.is_some(), &proofs[0]) {
            (true, Some(Some(_))) => Ok(()),
            _ => Err(Error::NotFound),
        };
    };
    // Every proof the caller gave must hold: a right key with a wrong proof is refused too.
    let mut ok = true;
    for p in proofs.iter().flatten() {
        ok &= p.as_ref().is_some_and(|p| verifier.accepts(p));
    }
    if ok { Ok(()) } else { Err(Error::NotFound) }
}

fn info_of(r: &SecretRecord) -> SecretInfo {
    SecretInfo {
        id: r.id,
        url: None,
        kind: r.kind,
        status: r.status,
        views: r.views_total,
        views_remaining: r.views_total.saturating_sub(r.views_used),
        created_at: r.created_at,
        expires_at: r.expires_at,
        last_viewed_at: r.last_viewed_at,
        label: r.label.clone(),
        passphrase_protected: r.passphrase_hash.is_some(),
        allowed_countries: r.allowed_countries.clone(),
        webhook_url: r.webhook_url.clone(),
        view_log: None,
        webhook_deliveries: None,
        webhook_secret: None,
        size: r.size,
        file_name: r.file_name.clone(),
    }
}

/// An active secret past its expiry is expired even before the sweeper has erased it.
fn live_status(r: &SecretRecord, now: DateTime<Utc>) -> Status {
    if r.status == Status::Active && r.expires_at <= now {
        Status::Expired
    } else {
        r.status
    }
}

fn with_live_status(mut info: SecretInfo, now: DateTime<Utc>) -> SecretInfo {
    if info.status == Status::Active && info.expires_at <= now {
        info.status = Status::Expired;
    }
    info
}

fn gone_reason(r: &SecretRecord, now: DateTime<Utc>) -> Option<GoneReason> {
    match live_status(r, now) {
        Status::Active => None,
        Status::Consumed => Some(GoneReason::Consumed),
        Status::Expired => Some(GoneReason::Expired),
        Status::Deleted => Some(GoneReason::Deleted),
    }
}

fn check_label(label: Option<String>) -> Result<Option<String>> {
    check_name("label", label)
}

/// A name the owner chose and others will read (label, clear-text file name): at most 200
/// characters, refused with a 400 naming `field` if it holds control or format characters, since
/// bidi overrides and invisible characters make a name read as something else.
fn check_name(field: &'static str, name: Option<String>) -> Result<Option<String>> {
    let Some(name) = name.map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 200 {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most 200 characters"),
        ));
    }
    if let Some(c) = name.chars().find(|c| crate::text::is_hidden_char(*c)) {
        return Err(Error::invalid(
            field,
            format!(
                "{field} must not contain control characters or invisible formatting characters \
                 such as bidi overrides (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(Some(name))
}

/// Checks a passphrase on a blocking thread, holding `permit` until Argon2 is done.
async fn verify_passphrase(
    permit: OwnedSemaphorePermit,
    p: SecretBytes,
    hash: String,
) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let parsed = PasswordHash::new(&hash)
            .map_err(|_| Error::Internal("stored passphrase hash is malformed".into()))?;
        Ok(Argon2::default()
            .verify_password(p.expose(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|_| Error::Internal("passphrase check task failed".into()))?
}

/// What a reveal hands back.
#[derive(Debug)]
pub enum Reveal {
    /// A text secret.
    Text(Revealed),
    /// A file secret, as a stream.
    File(FileDownload),
}

/// A file being revealed.
pub struct FileDownload {
    /// The secret.
    pub id: SecretId,
    /// Views left after this one.
    pub views_remaining: u32,
    /// Status after this view.
    pub status: Status,
    /// Bytes `stream` will yield: the sealed blob's length, or the file's when decrypting.
    pub len: u64,
    /// The file's name and type, when the server decrypts.
    pub meta: Option<FileMeta>,
    /// The bytes. An `Err` item means the blob is damaged or the store failed: the transport
    /// must abort, never present a partial file as complete.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("id", &self.id)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Where an uploaded file comes from.
#[derive(Debug)]
pub enum FileSource<S> {
    /// The plaintext file; the server seals it as it streams in and forgets the key.
    Plain {
        /// Its name (kept only inside the sealed stream).
        name: String,
        /// Its media type (likewise).
        media_type: String,
        /// Its bytes.
        stream: S,
    },
    /// A stream the client sealed for `CreateSecret::id`.
    Sealed {
        /// The sealed bytes.
        stream: S,
    },
}

/// Deletes a blob when dropped: the last download's stream carries it, so the blob goes whether
/// the download finishes or is abandoned.
struct BlobGuard {
    blobs: Option<BlobStore>,
    store: Arc<dyn Store>,
    id: SecretId,
    key: String,
}

impl Drop for BlobGuard {
    fn drop(&mut self) {
        let (blobs, store, id, key) = (
            self.blobs.take(),
            self.store.clone(),
            self.id,
            std::mem::take(&mut self.key),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(drop_blob(blobs, store, id, key));
        }
    }
}

async fn drop_blob(blobs: Option<BlobStore>, store: Arc<dyn Store>, id: SecretId, key: String) {
    let Some(blobs) = blobs else { return };
    match blobs.delete(&key).await {
        Ok(()) => {
            if let Err(e) = store.clear_blob(id, &key).await {
                warn!(%id, error = %e, "blob deleted but not forgotten; the sweeper will retry");
            }
        }
        Err(e) => warn!(%id, error = %e, "deleting a blob failed; the sweeper will retry"),
    }
}

struct Guarded {
    inner: BoxStream<'static, Result<Bytes>>,
    _guard: Option<BlobGuard>,
}

impl Stream for Guarded {
    type Item = Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Seals a plaintext upload chunk by chunk, refusing it once it passes `max` bytes.
fn seal_stream<S>(
    source: S,
    enc: Encryptor,
    max: u64,
    counted: Arc<std::sync::atomic::AtomicU64>,
) -> impl Stream<Item = std::result::Result<Bytes, UploadError>> + Send
where
    S: Stream<Item = std::result::Result<Bytes, String>> + Send,
{
    futures::stream::unfold(
        (Box::pin(source), Some(enc)),
        move |(mut source, mut enc)| {
            let counted = counted.clone();
            async move {
                let e = enc.as_mut()?;
                let mut out = Vec::new();
                match source.next().await {
                    Some(Ok(bytes)) => {
                        let total = counted
                            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed)
                            + bytes.len() as u64;
                        if total > max {
                            return Some((Err(UploadError::TooLarge), (source, None)));
                        }
                        if e.update(&bytes, &mut out).is_err() {
                            return Some((
                                Err(UploadError::Store("encryption failed".into())),
                                (source, None),
                            ));
                        }
                        Some((Ok(Bytes::from(out)), (source, enc)))
                    }
                    Some(Err(err)) => Some((Err(UploadError::Source(err)), (source, None))),
                    None => {
                        let last = enc.take()?;
                        match last.finish(&mut out) {
                            Ok(()) => Some((Ok(Bytes::from(out)), (source, None))),
                            Err(_) => Some((
                                Err(UploadError::Store("encryption failed".into())),
                                (source, None),
                            )),
                        }
                    }
                }
            }
        },
    )
}

/// Bytes a download streams between two checks that its secret was not deleted.
const LIVENESS_EVERY: u64 = 1024 * 1024;

/// Ends `source` with an error once its secret is deleted (or forgotten), checked every
/// [`LIVENESS_EVERY`] bytes against the store, so an owner's delete stops downloads in flight on
/// every instance. Deleting the blob alone would not: an open file keeps its bytes readable.
fn cut_on_delete(
    source: BoxStream<'static, Result<Bytes>>,
    store: Arc<dyn Store>,
    id: SecretId,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold((Some(source), 0u64), move |(source, mut since)| {
        let store = store.clone();
        async move {
            let mut source = source?;
            if since >= LIVENESS_EVERY {
                since = 0;
                match store.secret(id).await {
                    Ok(Some(r)) if r.status != Status::Deleted => {}
                    Ok(_) => {
                        info!(%id, "secret deleted during its download: download cut");
                        return Some((Err(Error::Gone(GoneReason::Deleted)), (None, 0)));
                    }
                    Err(e) => return Some((Err(e.into()), (None, 0))),
                }
            }
            let item = source.next().await?;
            match &item {
                Ok(bytes) => since += bytes.len() as u64,
                Err(_) => return Some((item, (None, 0))),
            }
            Some((item, (Some(source), since)))
        }
    })
    .boxed()
}

/// Opens a sealed blob stream; a damaged chunk ends it with an error.
fn open_stream(
    source: BoxStream<'static, Result<Bytes>>,
    dec: Decryptor,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold((source, Some(dec)), |(mut source, mut dec)| async move {
        let d = dec.as_mut()?;
        let mut out = Vec::new();
        match source.next().await {
            Some(Ok(bytes)) => match d.update(&bytes, &mut out) {
                Ok(()) => Some((Ok(Bytes::from(out)), (source, dec))),
                Err(e) => Some((Err(e), (source, None))),
            },
            Some(Err(e)) => Some((Err(e), (source, None))),
            None => {
                let last = dec.take()?;
                match last.finish(&mut out) {
                    Ok(_) => Some((Ok(Bytes::from(out)), (source, None))),
                    Err(e) => Some((Err(e), (source, None))),
                }
            }
        }
    })
    .boxed()
}

/// A file name without directories, control or format characters, at most 255 characters.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // Nobody checks a name sealed inside the stream but its recipient: strip what would make it
    // display as another name.
    let cleaned: String = base
        .chars()
        .filter(|c| !crate::text::is_hidden_char(*c))
        .take(255)
        .collect();
    if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
        "file".into()
    } else {
        cleaned
    }
}

fn clean_media_type(t: &str) -> String {
    let t = t.trim();
    if !t.is_empty()
        && t.len() <= 255
        && t.contains('/')
        && t.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        t.to_string()
    } else {
        "application/octet-stream".into()
    }
}

/// The checked settings of a secret about to be created.
struct Draft {
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    views: u32,
    allowed_countries: Vec<String>,
    label: Option<String>,
    webhook_url: Option<String>,
    passphrase_hash: Option<String>,
    notify: Option<String>,
}

impl Draft {
    fn record(
        self,
        id: SecretId,
        account: &AccountRecord,
        kind: Kind,
        envelope: Option<Vec<u8>>,
        blob: Option<(String, Option<u64>)>,
        file_name: Option<String>,
    ) -> SecretRecord {
        let (blob_key, size) = blob.map_or((None, None), |(k, s)| (Some(k), s));
        SecretRecord {
            id,
            account_id: account.id,
            kind,
            envelope,
            blob_key,
            size,
            file_name,
            label: self.label,
            passphrase_hash: self.passphrase_hash,
            allowed_countries: self.allowed_countries,
            webhook_url: self.webhook_url,
            notify: self.notify,
            views_total: self.views,
            views_used: 0,
            status: Status::Active,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_viewed_at: None,
            pp_fail_count: 0,
            pp_fail_window: DateTime::<Utc>::UNIX_EPOCH,
            verifier: None,
            content_version: 0,
        }
    }
}
