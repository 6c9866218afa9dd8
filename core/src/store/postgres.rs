//! The shared backend: PostgreSQL, for several server instances behind one database.
//!
//! Every statement here must stay exact when instances race each other, not just tasks within one
//! process. The tools are PostgreSQL's row locks: a conditional `UPDATE … WHERE …` waits for a
//! concurrent writer of the same row and then re-checks its WHERE clause against the committed
//! row (READ COMMITTED re-evaluation), and `FOR UPDATE SKIP LOCKED` lets batch jobs (expiry,
//! outbox claims) on several instances take disjoint rows without waiting on each other.
//!
//! Unlike SQLite's `secure_delete`, PostgreSQL leaves an erased envelope in the dead row version
//! until VACUUM reclaims it; autovacuum does, and operators who need it sooner run VACUUM.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use super::{
    AccountRecord, Attempt, AttemptClaim, OutboxRow, SecretPatch, SecretRecord, Store, ViewClaim,
    WebhookSecrets, from_millis, join_countries, millis, split_countries,
};
use crate::api::{Usage, WebhookDelivery};
use crate::crypto::{Verifier, WebhookSecret};
use crate::error::{Error, Result};
use crate::model::{AccountId, Kind, SecretId, Status, ViewEntry};
use crate::webhook::{EventFacts, NewEvent, event_type, events};

/// The advisory lock that serialises outbox claims across instances ("seecoutb" in ASCII;
/// sqlx's migration lock uses a different key).
const OUTBOX_CLAIM_LOCK: i64 = 0x7365_6563_6f75_7462;

/// PostgreSQL storage.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Reads a positive integer setting from the environment; unset means `default`, anything else
/// that is not a positive integer is a configuration error reported at start-up.
fn env_setting(name: &str, default: u32) -> Result<u32> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::InvalidInput {
                field: None,
                message: format!("{name} must be a positive integer, not {v:?}"),
            }),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`) and runs pending
    /// migrations. The pool size comes from `SEECRET_DATABASE_POOL_SIZE` (default 10) and every
    /// connection gets `statement_timeout` from `SEECRET_DATABASE_STATEMENT_TIMEOUT_MS` (default
    /// 5000), so a stuck query fails the request instead of holding row locks indefinitely.
    pub async fn open(url: &str) -> Result<Self> {
        let pool_size = env_setting("SEECRET_DATABASE_POOL_SIZE", 10)?;
        let timeout_ms = env_setting("SEECRET_DATABASE_STATEMENT_TIMEOUT_MS", 5000)?.to_string();
        // Migrations run first, on their own connection without the statement timeout: a long
        // migration, or waiting for another instance's (sqlx serialises migrators with an
        // advisory lock), must not fail start-up.
        // (A one-connection pool rather than a bare connection: `run(&mut PgConnection)` makes
        // this future not `Send` for callers that spawn it.)
        let migrator_pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&migrator_pool)
            .await?;
        migrator_pool.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            // Short enough that /readyz answers 503 promptly while the database is away.
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                let timeout_ms = timeout_ms.clone();
                Box::pin(async move {
                    // set_config takes the value as a bound parameter, so no SQL is built from
                    // text; `false` makes it last for the session like `SET`.
                    sqlx::query("SELECT set_config('statement_timeout', $1, false)")
                        .bind(timeout_ms)
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

/// A counter read from an INTEGER column; negative values mean the row was tampered with.
fn to_u32(v: i32, column: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Storage(format!("negative {column} in the database: {v}")))
}

/// A count to store in an INTEGER column; PostgreSQL has no unsigned types.
fn to_i32(v: u32, field: &'static str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::invalid(field, format!("{field} is too large: {v}")))
}

fn account(row: &PgRow) -> Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.try_get::<&str, _>("id")?.parse()?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        plan: row.try_get("plan")?,
        webhook_url: row.try_get("webhook_url")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn secret(row: &PgRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        id: row.try_get::<&str, _>("id")?.parse()?,
        account_id: row.try_get::<&str, _>("account_id")?.parse()?,
        kind: match row.try_get::<&str, _>("kind")? {
            "file" => Kind::File,
            _ => Kind::Text,
        },
        envelope: row.try_get("envelope")?,
        blob_key: row.try_get("blob_key")?,
        size: row
            .try_get::<Option<i64>, _>("size")?
            .map(|s| s.unsigned_abs()),
        file_name: row.try_get("file_name")?,
        label: row.try_get("label")?,
        passphrase_hash: row.try_get("passphrase_hash")?,
        allowed_countries: split_countries(row.try_get("allowed_countries")?),
        webhook_url: row.try_get("webhook_url")?,
        notify: row.try_get("notify")?,
        views_total: to_u32(row.try_get("views_total")?, "views_total")?,
        views_used: to_u32(row.try_get("views_used")?, "views_used")?,
        status: row.try_get::<&str, _>("status")?.parse()?,
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        last_viewed_at: row
            .try_get::<Option<i64>, _>("last_viewed_at")?
            .map(from_millis),
        pp_fail_count: to_u32(row.try_get("pp_fail_count")?, "pp_fail_count")?,
        pp_fail_window: from_millis(row.try_get("pp_fail_window")?),
        verifier: row
            .try_get::<Option<Vec<u8>>, _>("verifier")?
            .map(|w| {
                Verifier::from_bytes(&w)
                    .ok_or_else(|| Error::Internal("stored verifier is malformed".into()))
            })
            .transpose()?,
        content_version: row.try_get("content_version")?,
    })
}

/// The facts events report, from a row RETURNING `account_id, label, views_total, views_used,
/// webhook_url` (and the account's webhook URL when the secret has none).
async fn facts_events(
    conn: &mut PgConnection,
    id: SecretId,
    row: &PgRow,
    kinds: &[&'static str],
    reason: Option<&str>,
    country: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>> {
    let account_id: AccountId = row.try_get::<&str, _>("account_id")?.parse()?;
    let secret_webhook: Option<String> = row.try_get("webhook_url")?;
    let account_webhook: Option<String> = if secret_webhook.is_none() {
        sqlx::query_scalar("SELECT webhook_url FROM accounts WHERE id = $1")
            .bind(account_id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .flatten()
    } else {
        None
    };
    let label: Option<String> = row.try_get("label")?;
    let notify: Option<String> = row.try_get("notify")?;
    let views = to_u32(row.try_get("views_total")?, "views_total")?;
    let used = to_u32(row.try_get("views_used")?, "views_used")?;
    let facts = EventFacts {
        account_id,
        secret_id: id,
        label: label.as_deref(),
        views,
        views_remaining: views.saturating_sub(used),
        country,
        secret_webhook: secret_webhook.as_deref(),
        account_webhook: account_webhook.as_deref(),
        notify: notify.as_deref(),
    };
    Ok(events(&facts, kinds, reason, now))
}

async fn insert_events(conn: &mut PgConnection, evs: &[NewEvent]) -> Result<()> {
    for e in evs {
        sqlx::query(
            "INSERT INTO outbox (id, account_id, secret_id, event_type, payload, target_url,
                created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&e.id)
        .bind(e.account_id.to_string())
        .bind(e.secret_id.to_string())
        .bind(e.kind)
        .bind(&e.payload)
        .bind(&e.target_url)
        .bind(millis(e.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_account(&self, a: &AccountRecord, token_hash: &[u8; 32]) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO accounts (id, name, email, plan, token_hash, webhook_url, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.id.to_string())
        .bind(&a.name)
        .bind(&a.email)
        .bind(&a.plan)
        .bind(&token_hash[..])
        .bind(&a.webhook_url)
        .bind(millis(a.created_at))
        .execute(&self.pool)
        .await;
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::invalid(
                "name",
                format!("an account named {:?} already exists", a.name),
            )),
            other => other.map(drop).map_err(Error::from),
        }
    }

    async fn account_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<AccountRecord>> {
        sqlx::query(
            "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
             WHERE token_hash = $1",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn account_by_id_or_name(&self, key: &str) -> Result<Option<AccountRecord>> {
        // An id match wins over a name match, as in SQLite (`true` sorts after `false`).
        sqlx::query(
            "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
             WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn first_account(&self) -> Result<Option<AccountRecord>> {
        sqlx::query(
            "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
             ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn set_token_hash(&self, id: AccountId, token_hash: &[u8; 32]) -> Result<bool> {
        let res = sqlx::query("UPDATE accounts SET token_hash = $1 WHERE id = $2")
            .bind(&token_hash[..])
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn usage(&self, id: AccountId) -> Result<Usage> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(views_used), 0)::BIGINT AS v
             FROM secrets WHERE account_id = $1 GROUP BY status",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut usage = Usage::default();
        for row in rows {
            let n = row.try_get::<i64, _>("n")?.unsigned_abs();
            usage.views += row.try_get::<i64, _>("v")?.unsigned_abs();
            match row.try_get::<&str, _>("status")?.parse()? {
                Status::Active => usage.active = n,
                Status::Consumed => usage.consumed = n,
                Status::Expired => usage.expired = n,
                Status::Deleted => usage.deleted = n,
            }
        }
        Ok(usage)
    }

    async fn set_account_webhook(
        &self,
        id: AccountId,
        url: Option<&str>,
        candidate: &WebhookSecret,
    ) -> Result<bool> {
        // One statement, so two instances setting the first URL at once agree on one secret:
        // the second sees the first's committed secret and COALESCE keeps it.
        let row = sqlx::query(
            "UPDATE accounts SET webhook_url = $1,
                webhook_secret = CASE WHEN $1 IS NOT NULL THEN COALESCE(webhook_secret, $2)
                                      ELSE webhook_secret END
             WHERE id = $3 RETURNING webhook_secret",
        )
        .bind(url)
        .bind(candidate.expose())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound)?;
        Ok(row.try_get::<Option<&str>, _>(0)? == Some(candidate.expose()))
    }

    async fn ensure_webhook_secret(
        &self,
        id: AccountId,
        candidate: &WebhookSecret,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE accounts SET webhook_secret = $1 WHERE id = $2 AND webhook_secret IS NULL",
        )
        .bind(candidate.expose())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn rotate_webhook_secret(
        &self,
        id: AccountId,
        new: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET webhook_secret_previous = webhook_secret,
                webhook_secret_previous_until = $1, webhook_secret = $2
             WHERE id = $3",
        )
        .bind(millis(previous_until))
        .bind(new.expose())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_secrets(&self, id: AccountId, now: DateTime<Utc>) -> Result<WebhookSecrets> {
        let row = sqlx::query(
            "SELECT webhook_secret, webhook_secret_previous, webhook_secret_previous_until
             FROM accounts WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound)?;
        let until: Option<i64> = row.try_get(2)?;
        Ok(WebhookSecrets {
            current: row
                .try_get::<Option<String>, _>(0)?
                .map(WebhookSecret::from_stored),
            previous: row
                .try_get::<Option<String>, _>(1)?
                .filter(|_| until.is_some_and(|u| u > millis(now)))
                .map(WebhookSecret::from_stored),
        })
    }

    async fn insert_secret(&self, s: &SecretRecord) -> Result<()> {
        let size = s
            .size
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::invalid("size", "the file is too large"))?;
        let res = sqlx::query(
            "INSERT INTO secrets (id, account_id, kind, envelope, blob_key, size, file_name, label,
                passphrase_hash, allowed_countries, webhook_url, notify, views_total, views_used, status,
                created_at, expires_at, verifier)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 'active', $14, $15,
                $16)",
        )
        .bind(s.id.to_string())
        .bind(s.account_id.to_string())
        .bind(s.kind.as_str())
        .bind(&s.envelope)
        .bind(&s.blob_key)
        .bind(size)
        .bind(&s.file_name)
        .bind(&s.label)
        .bind(&s.passphrase_hash)
        .bind(join_countries(&s.allowed_countries))
        .bind(&s.webhook_url)
        .bind(&s.notify)
        .bind(to_i32(s.views_total, "views")?)
        .bind(millis(s.created_at))
        .bind(millis(s.expires_at))
        .bind(s.verifier.as_ref().map(|w| w.as_bytes().to_vec()))
        .execute(&self.pool)
        .await;
        match res {
            // The primary key is the only unique constraint here: the id is someone's already.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::IdTaken),
            other => other.map(drop).map_err(Error::from),
        }
    }

    async fn secret(&self, id: SecretId) -> Result<Option<SecretRecord>> {
        // Each statement outside a transaction sees every commit that finished before it, on
        // any instance: a reveal right after a create finds the secret.
        sqlx::query("SELECT * FROM secrets WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(secret)
            .transpose()
    }

    async fn update_secret(
        &self,
        account: AccountId,
        id: SecretId,
        p: &SecretPatch,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if p.is_empty() {
            return Ok(true);
        }
        let views_total = p.views_total.map(|v| to_i32(v, "views")).transpose()?;
        let mut q = QueryBuilder::<Postgres>::new("UPDATE secrets SET ");
        let mut set = q.separated(", ");
        if let Some(t) = p.expires_at {
            set.push("expires_at = ").push_bind_unseparated(millis(t));
        }
        if let Some(v) = views_total {
            set.push("views_total = ").push_bind_unseparated(v);
        }
        if let Some(h) = &p.passphrase_hash {
            set.push("passphrase_hash = ")
                .push_bind_unseparated(h.clone());
        }
        if let Some(l) = &p.label {
            set.push("label = ").push_bind_unseparated(l.clone());
        }
        if let Some(c) = &p.allowed_countries {
            set.push("allowed_countries = ")
                .push_bind_unseparated(join_countries(c));
        }
        if let Some(w) = &p.webhook_url {
            set.push("webhook_url = ").push_bind_unseparated(w.clone());
        }
        if let Some(e) = &p.envelope {
            set.push("envelope = ").push_bind_unseparated(e.clone());
            // A reveal that checked its key against the old content must not claim a view of
            // the new one (see `claim_view`).
            set.push("content_version = content_version + 1");
        }
        if let Some(w) = &p.verifier {
            set.push("verifier = ")
                .push_bind_unseparated(w.as_bytes().to_vec());
        }
        q.push(" WHERE id = ")
            .push_bind(id.to_string())
            .push(" AND account_id = ")
            .push_bind(account.to_string())
            .push(" AND status = 'active' AND expires_at > ")
            .push_bind(millis(now));
        if let Some(v) = views_total {
            // A concurrent reveal (on any instance) may have used views since the caller
            // checked; the row lock makes this re-check see its committed count.
            q.push(" AND views_used < ").push_bind(v);
        }
        let res = q.build().execute(&self.pool).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn list_secrets(
        &self,
        account: AccountId,
        status: Option<Status>,
        before: Option<SecretId>,
        limit: u32,
    ) -> Result<Vec<SecretRecord>> {
        // `NULL::BYTEA`: an untyped NULL would come back as TEXT.
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, account_id, kind, NULL::BYTEA AS envelope, blob_key, size, file_name,
                label, passphrase_hash,
                allowed_countries, webhook_url, notify, views_total, views_used, status, created_at,
                expires_at, last_viewed_at, pp_fail_count, pp_fail_window, verifier, content_version
             FROM secrets WHERE account_id = ",
        );
        q.push_bind(account.to_string());
        if let Some(s) = status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(b) = before {
            q.push(" AND id < ").push_bind(b.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(secret)
            .collect()
    }

    async fn delete_secret(
        &self,
        account: AccountId,
        id: SecretId,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.pool.begin().await?;
        // Conditional on `active`: racing a reveal that consumes it, or an expiry, only one of
        // them changes the row and writes events.
        let row = sqlx::query(
            "UPDATE secrets SET status = 'deleted', envelope = NULL, ended_at = $1
             WHERE id = $2 AND account_id = $3 AND status = 'active'
             RETURNING account_id, label, views_total, views_used, webhook_url, notify, blob_key",
        )
        .bind(millis(now))
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let evs = facts_events(&mut tx, id, &row, &[event_type::DELETED], None, None, now).await?;
        insert_events(&mut tx, &evs).await?;
        tx.commit().await?;
        Ok(Some(row.try_get("blob_key")?))
    }

    async fn claim_view(
        &self,
        id: SecretId,
        now: DateTime<Utc>,
        country: Option<&str>,
        content_version: i64,
    ) -> Result<ViewClaim> {
        let now_ms = millis(now);
        let mut tx = self.pool.begin().await?;
        // One conditional UPDATE decides who gets a view. Concurrent reveals of the same secret,
        // from any instance, queue on its row lock; each one that was waiting re-checks the WHERE
        // clause against the row the previous one committed, so of N callers on a secret with k
        // views left exactly k match. The same re-check covers the content version: an owner's
        // update that replaced the content after the caller checked its key (on any instance)
        // makes this match nothing, so no view is burnt for content the key does not open. RETURNING gives the new row; this statement does not touch
        // the envelope, so that is still the content to hand back.
        let row = sqlx::query(
            "UPDATE secrets SET
                views_used = views_used + 1,
                last_viewed_at = $1,
                status = CASE WHEN views_used + 1 >= views_total THEN 'consumed' ELSE 'active' END,
                ended_at = CASE WHEN views_used + 1 >= views_total THEN $1 ELSE NULL END
             WHERE id = $2 AND status = 'active' AND expires_at > $1
               AND views_used < views_total AND (envelope IS NOT NULL OR blob_key IS NOT NULL)
               AND content_version = $3
             RETURNING envelope, blob_key, status, account_id, label, views_total, views_used,
                webhook_url, notify",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .bind(content_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ViewClaim::Refused);
        };
        let envelope: Option<Vec<u8>> = row.try_get("envelope")?;
        let blob_key: Option<String> = row.try_get("blob_key")?;
        let remaining = to_u32(row.try_get("views_total")?, "views_total")?
            .saturating_sub(to_u32(row.try_get("views_used")?, "views_used")?);
        let status: Status = row.try_get::<&str, _>("status")?.parse()?;
        if status == Status::Consumed {
            // The last view erases the content in the same transaction; we still hold the row
            // lock, so nobody reads the consumed row with its envelope.
            sqlx::query("UPDATE secrets SET envelope = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO views (secret_id, at, country) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(now_ms)
            .bind(country)
            .execute(&mut *tx)
            .await?;
        let kinds: &[&'static str] = if status == Status::Consumed {
            &[event_type::VIEWED, event_type::CONSUMED]
        } else {
            &[event_type::VIEWED]
        };
        let evs = facts_events(&mut tx, id, &row, kinds, None, country, now).await?;
        insert_events(&mut tx, &evs).await?;
        tx.commit().await?;
        Ok(ViewClaim::Granted {
            envelope,
            blob_key,
            views_remaining: remaining,
            status,
            events: evs.len(),
        })
    }

    async fn claim_passphrase_attempt(
        &self,
        id: SecretId,
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<AttemptClaim> {
        let window_start = millis(now) - 60_000;
        // Check and count in one statement, before any passphrase is evaluated. Concurrent
        // attempts from any instance queue on the row lock and each re-evaluates the WHERE clause
        // against the count the previous one committed, so at most `max` evaluations get into
        // one window.
        let claimed = sqlx::query(
            "UPDATE secrets SET
                pp_fail_count = CASE WHEN pp_fail_window > $1 THEN pp_fail_count + 1 ELSE 1 END,
                pp_fail_window = CASE WHEN pp_fail_window > $1 THEN pp_fail_window ELSE $2 END
             WHERE id = $3 AND (pp_fail_window <= $1 OR pp_fail_count < $4)
             RETURNING pp_fail_count",
        )
        .bind(window_start)
        .bind(millis(now))
        .bind(id.to_string())
        .bind(to_i32(max, "passphrase_attempts_per_minute")?)
        .fetch_optional(&self.pool)
        .await?;
        if claimed.is_some() {
            return Ok(AttemptClaim::Granted);
        }
        let window: i64 = sqlx::query_scalar("SELECT pp_fail_window FROM secrets WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        Ok(AttemptClaim::Refused {
            window_end: from_millis(window + 60_000),
        })
    }

    async fn record_access_denied(
        &self,
        id: SecretId,
        reason: &str,
        country: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT account_id, label, views_total, views_used, webhook_url, notify FROM secrets
             WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound)?;
        let evs = facts_events(
            &mut tx,
            id,
            &row,
            &[event_type::ACCESS_DENIED],
            Some(reason),
            country,
            now,
        )
        .await?;
        insert_events(&mut tx, &evs).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn views(&self, id: SecretId) -> Result<Vec<ViewEntry>> {
        sqlx::query("SELECT at, country FROM views WHERE secret_id = $1 ORDER BY at, seq")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ViewEntry {
                    at: from_millis(r.try_get("at")?),
                    country: r.try_get("country")?,
                })
            })
            .collect()
    }

    async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(SecretId, Option<String>)>> {
        let mut tx = self.pool.begin().await?;
        // Sweepers on several instances take disjoint rows: SKIP LOCKED passes over rows another
        // sweeper (or a reveal) holds, and a row committed as no longer active by the time we
        // lock it fails the re-checked condition. So each expiry yields exactly one event.
        let rows = sqlx::query(
            "UPDATE secrets SET status = 'expired', envelope = NULL, ended_at = $1
             WHERE id IN (SELECT id FROM secrets WHERE status = 'active' AND expires_at <= $1
                          LIMIT $2 FOR UPDATE SKIP LOCKED)
               AND status = 'active'
             RETURNING id, account_id, label, views_total, views_used, webhook_url, notify, blob_key",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: SecretId = row.try_get::<&str, _>("id")?.parse()?;
            let evs =
                facts_events(&mut tx, id, row, &[event_type::EXPIRED], None, None, now).await?;
            insert_events(&mut tx, &evs).await?;
            ids.push((id, row.try_get("blob_key")?));
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn purge_ended(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        sqlx::query("DELETE FROM outbox WHERE state != 'pending' AND created_at < $1")
            .bind(millis(cutoff))
            .execute(&self.pool)
            .await?;
        // Rows whose blob is still in the store stay until it is gone, so none is forgotten.
        let res = sqlx::query(
            "DELETE FROM secrets WHERE ended_at IS NOT NULL AND ended_at < $1 AND blob_key IS NULL",
        )
        .bind(millis(cutoff))
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }

    async fn leftover_blobs(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(SecretId, String)>> {
        sqlx::query(
            "SELECT id, blob_key FROM secrets
             WHERE blob_key IS NOT NULL AND status != 'active' AND ended_at < $1 LIMIT $2",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<&str, _>(0)?.parse()?, r.try_get(1)?)))
        .collect()
    }

    async fn clear_blob(&self, id: SecretId, blob_key: &str) -> Result<()> {
        sqlx::query("UPDATE secrets SET blob_key = NULL WHERE id = $1 AND blob_key = $2")
            .bind(id.to_string())
            .bind(blob_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn referenced_blobs(&self, keys: &[String]) -> Result<HashSet<String>> {
        let rows = sqlx::query("SELECT blob_key FROM secrets WHERE blob_key = ANY($1)")
            .bind(keys)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    async fn claim_due_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        per_account: u32,
    ) -> Result<Vec<OutboxRow>> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut tx = self.pool.begin().await?;
        // Workers on several instances claim at once. Two claims counting an account's live
        // leases side by side would each see room and together exceed the cap, so claims take
        // turns on one transaction-scoped advisory lock (a claim is one short statement); the
        // UPDATE's snapshot, taken after the lock, sees every earlier claim. SKIP LOCKED keeps a
        // claim from waiting on rows an attempt is recording; a row leased meanwhile fails the
        // re-checked lease condition. The lease is what lets a crashed worker's events come back.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_CLAIM_LOCK)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "UPDATE outbox SET lease_until = $1, lease_token = $2
             WHERE id IN (
                SELECT id FROM outbox
                WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < $3)
                  AND id IN (
                    WITH busy AS (
                        SELECT account_id, COUNT(*) AS n FROM outbox
                        WHERE state = 'pending' AND lease_until >= $3 GROUP BY account_id),
                    due AS (
                        SELECT o.id, o.next_attempt_at, COALESCE(b.n, 0) AS busy,
                            ROW_NUMBER() OVER (PARTITION BY o.account_id
                                               ORDER BY o.next_attempt_at, o.id) AS nth
                        FROM outbox o LEFT JOIN busy b ON b.account_id = o.account_id
                        WHERE o.state = 'pending' AND o.next_attempt_at <= $3
                          AND (o.lease_until IS NULL OR o.lease_until < $3))
                    SELECT id FROM due WHERE busy + nth <= $5
                    ORDER BY next_attempt_at, id LIMIT $4)
                FOR UPDATE SKIP LOCKED)
             RETURNING id, account_id, event_type, payload, target_url, attempts",
        )
        .bind(millis(lease_until))
        .bind(&token)
        .bind(millis(now))
        .bind(i64::from(limit))
        .bind(i64::from(per_account))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    account_id: r.try_get::<&str, _>("account_id")?.parse()?,
                    event_type: r.try_get("event_type")?,
                    payload: r.try_get("payload")?,
                    target_url: r.try_get("target_url")?,
                    attempts: to_u32(r.try_get("attempts")?, "attempts")?,
                    lease_token: token.clone(),
                })
            })
            .collect()
    }

    async fn record_attempt(
        &self,
        row: &OutboxRow,
        now: DateTime<Utc>,
        attempt: Attempt,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (state, status, error, next_at) = match &attempt {
            Attempt::Delivered { status } => ("delivered", Some(*status), None, None),
            Attempt::EndpointGone => (
                "failed",
                Some(410),
                Some("the receiver answered 410 Gone: webhook URL removed".to_string()),
                None,
            ),
            Attempt::Retry {
                status,
                error,
                next_at,
            } => (
                "pending",
                *status,
                Some(error.clone()),
                Some(millis(*next_at)),
            ),
            Attempt::Failed { status, error } => ("failed", *status, Some(error.clone()), None),
        };
        // The lease token in the WHERE clause: a worker whose lease ran out and whose event was
        // claimed by another instance records nothing.
        let res = sqlx::query(
            "UPDATE outbox SET state = $1, attempts = attempts + 1, last_attempt_at = $2,
                last_status = $3, last_error = $4, next_attempt_at = COALESCE($5, next_attempt_at),
                delivered_at = CASE WHEN $1 = 'delivered' THEN $2 ELSE NULL END,
                lease_until = NULL, lease_token = NULL
             WHERE id = $6 AND lease_token = $7",
        )
        .bind(state)
        .bind(millis(now))
        .bind(status.map(i32::from))
        .bind(error)
        .bind(next_at)
        .bind(&row.id)
        .bind(&row.lease_token)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 1 && matches!(attempt, Attempt::EndpointGone) {
            // 410 means "stop": remove the URL wherever the account set it, and drop what is
            // still queued for it.
            let account = row.account_id.to_string();
            sqlx::query(
                "UPDATE accounts SET webhook_url = NULL WHERE id = $1 AND webhook_url = $2",
            )
            .bind(&account)
            .bind(&row.target_url)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE secrets SET webhook_url = NULL WHERE account_id = $1 AND webhook_url = $2",
            )
            .bind(&account)
            .bind(&row.target_url)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE outbox SET state = 'failed', last_error = 'webhook URL removed after 410 Gone'
                 WHERE account_id = $1 AND target_url = $2 AND state = 'pending'",
            )
            .bind(&account)
            .bind(&row.target_url)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(&self, secret: SecretId) -> Result<Vec<WebhookDelivery>> {
        sqlx::query(
            "SELECT id, event_type, state, attempts, created_at, last_attempt_at, last_status,
                last_error, next_attempt_at
             FROM outbox WHERE target_url NOT LIKE 'internal:%' AND secret_id = $1 ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(secret.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            Ok(WebhookDelivery {
                event_id: r.try_get("id")?,
                kind: r.try_get("event_type")?,
                attempts: to_u32(r.try_get("attempts")?, "attempts")?,
                created_at: from_millis(r.try_get("created_at")?),
                last_attempt_at: r
                    .try_get::<Option<i64>, _>("last_attempt_at")?
                    .map(from_millis),
                // Only HTTP statuses are stored, so this never drops a real value.
                last_status: r
                    .try_get::<Option<i32>, _>("last_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                last_error: r.try_get("last_error")?,
                next_attempt_at: (state == "pending")
                    .then(|| r.try_get::<i64, _>("next_attempt_at").map(from_millis))
                    .transpose()?,
                state,
            })
        })
        .collect()
    }

    async fn redeliver(
        &self,
        account: AccountId,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1,
                lease_until = NULL, lease_token = NULL
             WHERE id = $2 AND account_id = $3 AND state != 'pending'",
        )
        .bind(millis(now))
        .bind(event_id)
        .bind(account.to_string())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn put_installation(
        &self,
        provider: &str,
        team: &str,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO installations (provider, team, sealed, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (provider, team) DO UPDATE SET sealed = excluded.sealed,
                updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(team)
        .bind(sealed)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn installation(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar(
                "SELECT sealed FROM installations WHERE provider = $1 AND team = $2",
            )
            .bind(provider)
            .bind(team)
            .fetch_optional(&self.pool)
            .await?,
        )
    }
}
