//! Storage behind one trait, chosen at start-up from the database URL. The SQL and its
//! implementation are written once (`sql`), instantiated for SQLite and PostgreSQL, which keep
//! only what really differs between the dialects. Every method that changes a secret's lifecycle
//! is a single transaction; the comments name the races each statement closes.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::api::{Usage, WebhookDelivery};
use crate::crypto::{Verifier, WebhookSecret};
use crate::model::{AccountId, Kind, PlatformIdentity, RequestStatus, SecretId, Status, ViewEntry};
use crate::request::RequestPublicKey;

mod batch;
mod error;
mod jobs_sql;
mod options;
mod postgres;
mod rows;
mod sql;
mod sqlite;

pub use error::{StoreError, StoreResult};
pub use options::{SqliteSynchronous, StoreOptions};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// What a backend's `write` must make atomic (see `sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// One statement: atomic by itself (a failed statement's changes are undone), so it needs
    /// no savepoint or transaction of its own.
    Statement,
    /// Several statements that stand or fall together.
    Statements,
    /// Several statements that stand or fall together, whose first query opens SQLite's
    /// savepoint itself (`SAVEPOINT w; …`, see `batch`), saving the round trip to sqlx's
    /// worker thread a separate `SAVEPOINT` costs. Elsewhere the same as [`Unit::Statements`].
    OpensSavepoint,
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    /// Id.
    pub id: AccountId,
    /// Unique display name.
    pub name: String,
    /// Contact address.
    pub email: Option<String>,
    /// Plan name.
    pub plan: String,
    /// Account-wide webhook URL.
    pub webhook_url: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A secret as stored. `envelope` is the sealed content (never a key), `None` once erased.
#[derive(Clone)]
pub struct SecretRecord {
    /// Id.
    pub id: SecretId,
    /// Owner.
    pub account_id: AccountId,
    /// Text or file.
    pub kind: Kind,
    /// Sealed content, or `None` once erased (or for files).
    pub envelope: Option<Vec<u8>>,
    /// Files: the blob holding the sealed stream.
    pub blob_key: Option<String>,
    /// Files: size in bytes, when known.
    pub size: Option<u64>,
    /// Files: the name, only if the owner sent it in clear.
    pub file_name: Option<String>,
    /// Owner's note.
    pub label: Option<String>,
    /// Argon2 PHC string of the passphrase.
    pub passphrase_hash: Option<String>,
    /// Allowed countries (empty: all).
    pub allowed_countries: Vec<String>,
    /// Per-secret webhook.
    pub webhook_url: Option<String>,
    /// In-process subscriber to its events (see [`Engine::create_secret_notifying`]).
    ///
    /// [`Engine::create_secret_notifying`]: crate::engine::Engine::create_secret_notifying
    pub notify: Option<String>,
    /// Views allowed.
    pub views_total: u32,
    /// Views used.
    pub views_used: u32,
    /// Lifecycle state.
    pub status: Status,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
    /// Last reveal.
    pub last_viewed_at: Option<DateTime<Utc>>,
    /// Passphrase attempts (right or wrong) claimed in the window starting at `pp_fail_window`.
    pub pp_fail_count: u32,
    /// Start of the current passphrase-attempt window.
    pub pp_fail_window: DateTime<Utc>,
    /// `SHA-256` of the reveal proof (DESIGN §7.1); `None` only for secrets stored before
    /// verifiers existed.
    pub verifier: Option<Verifier>,
    /// Bumped whenever an update replaces the sealed content; a view is only claimed for the
    /// version whose key the reveal checked.
    pub content_version: i64,
    /// The only platform user who may open it (set at creation, never changed).
    pub bound_to: Option<PlatformIdentity>,
    /// For the answer to a request (whose id it shares): the responder's ephemeral public key.
    pub ephemeral_public_key: Option<RequestPublicKey>,
}

/// A request for a secret as stored (DESIGN §7.2). Holds the asker's public key, never d.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// Id; the answer is the secret with the same id.
    pub id: SecretId,
    /// The asker's account.
    pub account_id: AccountId,
    /// The asker's X25519 public key Q.
    pub public_key: RequestPublicKey,
    /// The answer's reveal verifier, from the asker's d.
    pub verifier: Verifier,
    /// Shown to the responder.
    pub note: Option<String>,
    /// The owner's note.
    pub label: Option<String>,
    /// Webhook for its events, overriding the account's.
    pub webhook_url: Option<String>,
    /// The in-process subscriber (a bot's chat user) told of its answer; copied into the answer.
    pub notify: Option<String>,
    /// Whether a file answer is accepted.
    pub allow_files: bool,
    /// The answer's lifetime.
    pub answer_expiration: std::time::Duration,
    /// The answer's views.
    pub answer_views: u32,
    /// Stored status (see [`RequestStatus::live_at`]).
    pub status: RequestStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops accepting an answer.
    pub expires_at: DateTime<Utc>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
}

/// What happened to an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// Stored: the request is answered and the answer secret exists.
    Accepted {
        /// Outbox events written with it.
        events: usize,
    },
    /// Nothing stored: the request is not open (its stored status; `Open` means it expired).
    NotOpen(RequestStatus),
    /// No such request.
    Unknown,
}

impl std::fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("status", &self.status)
            .field("views_used", &self.views_used)
            .field("views_total", &self.views_total)
            .finish_non_exhaustive()
    }
}

/// Changes to an active secret. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct SecretPatch {
    /// New expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// New total views; the update fails if it is not above the views already used.
    pub views_total: Option<u32>,
    /// New passphrase hash.
    pub passphrase_hash: Option<Option<String>>,
    /// New label.
    pub label: Option<Option<String>>,
    /// New country list.
    pub allowed_countries: Option<Vec<String>>,
    /// New webhook URL.
    pub webhook_url: Option<Option<String>>,
    /// New sealed content.
    pub envelope: Option<Vec<u8>>,
    /// The verifier of the new content's key (set together with `envelope`).
    pub verifier: Option<Verifier>,
}

impl SecretPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.expires_at.is_none()
            && self.views_total.is_none()
            && self.passphrase_hash.is_none()
            && self.label.is_none()
            && self.allowed_countries.is_none()
            && self.webhook_url.is_none()
            && self.envelope.is_none()
            && self.verifier.is_none()
    }
}

/// A sign-in ticket as stored (under the SHA-256 of the ticket itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRecord {
    /// The one secret it may open.
    pub secret_id: SecretId,
    /// Who signed in.
    pub identity: PlatformIdentity,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
}

/// The result of trying to use one view.
#[derive(Clone)]
pub enum ViewClaim {
    /// The view was used; here is the sealed content as it was before erasure.
    Granted {
        /// The sealed content (text).
        envelope: Option<Vec<u8>>,
        /// The blob (files); delete it once the last permitted download ends.
        blob_key: Option<String>,
        /// Views left.
        views_remaining: u32,
        /// Status after this view.
        status: Status,
        /// Outbox events written with the view (0 when no webhook is set).
        events: usize,
    },
    /// No view was used: the secret is not active (or does not exist), or its content is no
    /// longer the version the caller checked.
    Refused,
}

/// The result of trying to claim one passphrase attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptClaim {
    /// The attempt is counted; the caller may now evaluate the passphrase.
    Granted {
        /// It was the window's last: if the passphrase is wrong, the secret is locked out
        /// until the window ends.
        last: bool,
    },
    /// The window's attempts are used up (or the secret is gone); nothing was counted.
    Refused {
        /// When the current window ends.
        window_end: DateTime<Utc>,
    },
}

impl std::fmt::Debug for ViewClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Granted {
                views_remaining,
                status,
                ..
            } => write!(f, "Granted({views_remaining} left, {status:?})"),
            Self::Refused => f.write_str("Refused"),
        }
    }
}

/// An outbox event claimed by a delivery worker.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    /// Event id (`evt_…`), stable across retries.
    pub id: String,
    /// Owner of the secret.
    pub account_id: AccountId,
    /// Event type.
    pub event_type: String,
    /// The exact JSON body.
    pub payload: String,
    /// Where to POST it.
    pub target_url: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Proof of this worker's claim; recording an attempt without it does nothing.
    pub lease_token: String,
}

/// What happened to one delivery attempt.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// 2xx: done.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// 410: the receiver asked us to stop; its URL is removed wherever it is set.
    EndpointGone,
    /// Failed; try again at `next_at`.
    Retry {
        /// HTTP status, if any.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// Next attempt.
        next_at: DateTime<Utc>,
    },
    /// Failed for the last time.
    Failed {
        /// HTTP status, if any.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// The secrets that sign an account's webhooks right now.
#[derive(Clone, Debug, Default)]
pub struct WebhookSecrets {
    /// The current secret.
    pub current: Option<WebhookSecret>,
    /// The previous one, while a rotation's overlap lasts.
    pub previous: Option<WebhookSecret>,
}

/// The store's side of the operator's gauges (`seecret_outbox_*`, `seecret_blob_*`,
/// `seecret_db_pool_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// Events waiting for delivery (due now or retrying later).
    pub outbox_pending: u64,
    /// When the oldest of them was written.
    pub outbox_oldest: Option<DateTime<Utc>>,
    /// Secrets whose file is still in the blob store (live ones, and ended ones not cleared yet).
    pub blobs: u64,
    /// Their files' sizes, as uploaded.
    pub blob_bytes: u64,
    /// Each connection pool's use.
    pub pools: Vec<PoolUse>,
}

/// One connection pool's use at a moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// `writer` and `reader` (SQLite), `main` (PostgreSQL).
    pub pool: &'static str,
    /// Connections open.
    pub open: u32,
    /// Of those, the ones lent out.
    pub in_use: u32,
    /// The pool's ceiling.
    pub max: u32,
}

impl PoolUse {
    /// Reads a sqlx pool.
    pub(crate) fn of<DB: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<DB>) -> Self {
        let open = p.size();
        let idle = u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
        Self {
            pool,
            open,
            in_use: open.saturating_sub(idle),
            max: p.options().get_max_connections(),
        }
    }
}

/// Storage for accounts, secrets, views and the event outbox.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates an account with the hash of its token.
    async fn insert_account(
        &self,
        account: &AccountRecord,
        token_hash: &[u8; 32],
    ) -> StoreResult<()>;
    /// Finds the account a token hash belongs to.
    async fn account_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<AccountRecord>>;
    /// Finds an account by id or name.
    async fn account_by_id_or_name(&self, key: &str) -> StoreResult<Option<AccountRecord>>;
    /// The oldest account, if any.
    async fn first_account(&self) -> StoreResult<Option<AccountRecord>>;
    /// Replaces an account's token hash; false if no such account.
    async fn set_token_hash(&self, id: AccountId, token_hash: &[u8; 32]) -> StoreResult<bool>;
    /// Counts of the account's secrets by status, and views served.
    async fn usage(&self, id: AccountId) -> StoreResult<Usage>;
    /// Sets (or clears) the account's webhook URL. When a URL is set and the account has no
    /// signing secret yet, `candidate` becomes it; returns whether that happened.
    async fn set_account_webhook(
        &self,
        id: AccountId,
        url: Option<&str>,
        candidate: &WebhookSecret,
    ) -> StoreResult<bool>;
    /// Gives the account `candidate` as signing secret if it has none; returns whether it did.
    async fn ensure_webhook_secret(
        &self,
        id: AccountId,
        candidate: &WebhookSecret,
    ) -> StoreResult<bool>;
    /// Replaces the signing secret; the old one keeps signing until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        id: AccountId,
        new: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The secrets signing the account's webhooks at `now`.
    async fn webhook_secrets(
        &self,
        id: AccountId,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookSecrets>;

    /// Stores a new secret.
    async fn insert_secret(&self, secret: &SecretRecord) -> StoreResult<()>;
    /// Reads a secret (with its envelope).
    async fn secret(&self, id: SecretId) -> StoreResult<Option<SecretRecord>>;
    /// Applies a patch to an active, unexpired secret of `account`; false if it is not one.
    async fn update_secret(
        &self,
        account: AccountId,
        id: SecretId,
        patch: &SecretPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// A page of the account's secrets, newest first, ids strictly below `before`.
    async fn list_secrets(
        &self,
        account: AccountId,
        status: Option<Status>,
        before: Option<SecretId>,
        limit: u32,
    ) -> StoreResult<Vec<SecretRecord>>;
    /// Marks an active secret deleted and erases its content; `None` if it was not active, else
    /// the blob to delete (files).
    async fn delete_secret(
        &self,
        account: AccountId,
        id: SecretId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>>;
    /// Uses one view of an active, unexpired secret whose content is still `content_version`,
    /// atomically: of N concurrent callers on a secret with k views left, exactly k get
    /// [`ViewClaim::Granted`]. The last view erases the content in the same transaction. The
    /// view log records `country` and, for a bound secret, the signed-in `viewer`.
    async fn claim_view(
        &self,
        id: SecretId,
        now: DateTime<Utc>,
        country: Option<&str>,
        viewer: Option<&PlatformIdentity>,
        content_version: i64,
    ) -> StoreResult<ViewClaim>;
    /// Claims one passphrase attempt of an active secret in one statement: granted while fewer
    /// than `max` attempts were claimed in the current one-minute window (a new window starts
    /// when the last one ended). Callers claim before evaluating the passphrase, so across
    /// instances at most `max` evaluations happen per window; a right passphrase keeps its slot.
    async fn claim_passphrase_attempt(
        &self,
        id: SecretId,
        max: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<AttemptClaim>;
    /// Enqueues `seecret.access_denied` with `reason` (passphrase, country, rate, recipient) for
    /// a refused reveal; `viewer` is the signed-in user a bound secret refused.
    async fn record_access_denied(
        &self,
        id: SecretId,
        reason: &str,
        country: Option<&str>,
        viewer: Option<&PlatformIdentity>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The reveals of a secret, oldest first.
    async fn views(&self, id: SecretId) -> StoreResult<Vec<ViewEntry>>;

    /// Expires active secrets whose time has passed, erasing their content; returns their ids
    /// and blobs to delete.
    async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(SecretId, Option<String>)>>;
    /// Blobs of secrets that ended before `before` and are still in the store.
    async fn leftover_blobs(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<(SecretId, String)>>;
    /// Forgets a blob once it is deleted from the blob store.
    async fn clear_blob(&self, id: SecretId, blob_key: &str) -> StoreResult<()>;
    /// Which of `keys` a secret's row still names as its blob (the rest are orphans).
    async fn referenced_blobs(&self, keys: &[String]) -> StoreResult<HashSet<String>>;
    /// Moves erased content out of any log it may linger in (SQLite: checkpoints and truncates
    /// the WAL, whose old frames still hold pages as they were before an erasure). PostgreSQL
    /// has no such file to clean: a no-op.
    async fn flush_erasures(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Forgets secrets that ended before `cutoff` (metadata, view log, finished events).
    async fn purge_ended(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
    /// What an operator watches: the outbox backlog, the files held, the connection pools.
    async fn gauges(&self) -> StoreResult<StoreGauges>;

    /// Claims up to `limit` due events for one worker until `lease_until`: a row claimed by a
    /// live worker is skipped by the others; a crashed worker's rows come back when the lease ends.
    /// No account ends up with more than `per_account` events leased at once, counting the leases
    /// every worker holds, so one account's slow receiver cannot take every delivery slot.
    async fn claim_due_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        per_account: u32,
    ) -> StoreResult<Vec<OutboxRow>>;
    /// Records an attempt on a claimed event (ignored if the claim was lost).
    async fn record_attempt(
        &self,
        row: &OutboxRow,
        now: DateTime<Utc>,
        attempt: Attempt,
    ) -> StoreResult<()>;
    /// Delivery state of a secret's events, newest first.
    async fn deliveries(&self, secret: SecretId) -> StoreResult<Vec<WebhookDelivery>>;
    /// Puts an event of `account` back in the queue, due now; false if there is no such event.
    async fn redeliver(
        &self,
        account: AccountId,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Stores a sign-in ticket under `hash`, the SHA-256 of the ticket.
    async fn insert_ticket(&self, hash: &[u8; 32], ticket: &TicketRecord) -> StoreResult<()>;
    /// The ticket stored under `hash`, expired or not (the caller judges), without using it.
    async fn ticket(&self, hash: &[u8; 32]) -> StoreResult<Option<TicketRecord>>;
    /// Uses up the ticket stored under `hash` for `secret`, in one statement: of concurrent
    /// callers (on any instance) exactly one gets it, the others `None`.
    async fn take_ticket(
        &self,
        hash: &[u8; 32],
        secret: SecretId,
    ) -> StoreResult<Option<TicketRecord>>;
    /// Forgets tickets that expired at or before `now`; returns how many.
    async fn purge_tickets(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Saves (or replaces) a chat-app installation's sealed credentials.
    async fn put_installation(
        &self,
        provider: &str,
        team: &str,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A chat-app installation's sealed credentials.
    async fn installation(&self, provider: &str, team: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Up to `limit` of the account's secrets created for the in-process subscriber `notify`
    /// (a chat user, `slack:T1:U1`), newest first, without their envelopes; not the answers to
    /// their requests.
    async fn secrets_notifying(
        &self,
        account: AccountId,
        notify: &str,
        limit: u32,
    ) -> StoreResult<Vec<SecretRecord>>;
    /// Saves (or replaces) a chat-app workspace's settings (a JSON object).
    async fn put_workspace_settings(
        &self,
        provider: &str,
        team: &str,
        settings: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A chat-app workspace's settings, if its admins saved any.
    async fn workspace_settings(&self, provider: &str, team: &str) -> StoreResult<Option<String>>;
    /// Stores a new request.
    async fn insert_request(&self, request: &RequestRecord) -> StoreResult<()>;
    /// Reads a request.
    async fn request(&self, id: SecretId) -> StoreResult<Option<RequestRecord>>;
    /// A page of the account's requests, newest first, ids strictly below `before`.
    async fn list_requests(
        &self,
        account: AccountId,
        before: Option<SecretId>,
        limit: u32,
    ) -> StoreResult<Vec<RequestRecord>>;
    /// Marks an open request of `account` deleted; false if it was not open.
    async fn delete_request(
        &self,
        account: AccountId,
        id: SecretId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Accepts `answer` (a secret with the request's id) for request `answer.id` if the request
    /// is still open and unexpired at `now`, in one transaction: the request's conditional move
    /// to `answered`, the secret's insert and the `seecret.request_answered` events. Of
    /// concurrent answers (from any instance) exactly one is accepted.
    async fn answer_request(
        &self,
        answer: &SecretRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<AnswerOutcome>;
    /// Marks open requests past their expiry `expired`; returns how many.
    async fn expire_requests(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Claims a platform event for handling: true the first time `key` is claimed (across
    /// instances), false for a redelivery. Claims older than `forget_before` are dropped first.
    async fn claim_bot_event(
        &self,
        key: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Opens the store a database URL names: `sqlite://path` (or a bare path) or `postgres://…`.
pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<std::sync::Arc<dyn Store>> {
    if options::is_postgres(url) {
        Ok(std::sync::Arc::new(
            PostgresStore::open(url, options).await?,
        ))
    } else {
        Ok(std::sync::Arc::new(SqliteStore::open(url, options).await?))
    }
}
