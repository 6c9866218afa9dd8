//! The embedded backend: one SQLite file in WAL mode with `secure_delete`, so erased envelopes are
//! overwritten on disk rather than left in free pages.
//!
//! All writes go through a single connection: SQLite has one writer anyway, and queueing in the
//! pool is cheaper and fairer than `SQLITE_BUSY` retries. Reads use their own small pool.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{
    AccountRecord, Attempt, AttemptClaim, OutboxRow, SecretPatch, SecretRecord, Store, ViewClaim,
    WebhookSecrets, from_millis, join_countries, millis, split_countries,
};
use crate::api::{Usage, WebhookDelivery};
use crate::crypto::{Verifier, WebhookSecret};
use crate::error::{Error, Result};
use crate::model::{AccountId, Kind, SecretId, Status, ViewEntry};
use crate::webhook::{EventFacts, NewEvent, event_type, events};

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`, `sqlite:path` or a bare
    /// path) and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode loses no committed transaction on a process crash; only an OS
            // crash or power loss can drop the last few. FULL is one env var away.
            .synchronous(
                match std::env::var("SEECRET_SQLITE_SYNCHRONOUS").as_deref() {
                    Ok("FULL" | "full") => SqliteSynchronous::Full,
                    _ => SqliteSynchronous::Normal,
                },
            )
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// Moves the WAL's content into the database file and truncates it, so erased envelopes do
    /// not linger in old WAL frames.
    pub async fn checkpoint(&self) -> Result<()> {
        // On the writer: no write can slip in between. Readers still on an old snapshot make it
        // stop short (busy = 1); the next sweep's checkpoint finishes the job.
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.writer)
            .await?;
        if row.try_get::<i64, _>(0)? != 0 {
            tracing::debug!("WAL checkpoint blocked by a reader; retried at the next sweep");
        }
        Ok(())
    }
}

fn account(row: &SqliteRow) -> Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.try_get::<&str, _>("id")?.parse()?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        plan: row.try_get("plan")?,
        webhook_url: row.try_get("webhook_url")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn secret(row: &SqliteRow) -> Result<SecretRecord> {
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
        views_total: row.try_get("views_total")?,
        views_used: row.try_get("views_used")?,
        status: row.try_get::<&str, _>("status")?.parse()?,
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        last_viewed_at: row
            .try_get::<Option<i64>, _>("last_viewed_at")?
            .map(from_millis),
        pp_fail_count: row.try_get("pp_fail_count")?,
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
    conn: &mut SqliteConnection,
    id: SecretId,
    row: &SqliteRow,
    kinds: &[&'static str],
    reason: Option<&str>,
    country: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>> {
    let account_id: AccountId = row.try_get::<&str, _>("account_id")?.parse()?;
    let secret_webhook: Option<String> = row.try_get("webhook_url")?;
    let account_webhook: Option<String> = if secret_webhook.is_none() {
        sqlx::query_scalar("SELECT webhook_url FROM accounts WHERE id = ?")
            .bind(account_id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .flatten()
    } else {
        None
    };
    let label: Option<String> = row.try_get("label")?;
    let notify: Option<String> = row.try_get("notify")?;
    let views: u32 = row.try_get("views_total")?;
    let used: u32 = row.try_get("views_used")?;
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

async fn insert_events(conn: &mut SqliteConnection, evs: &[NewEvent]) -> Result<()> {
    for e in evs {
        sqlx::query(
            "INSERT INTO outbox (id, account_id, secret_id, event_type, payload, target_url,
                created_at, next_attempt_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.id)
        .bind(e.account_id.to_string())
        .bind(e.secret_id.to_string())
        .bind(e.kind)
        .bind(&e.payload)
        .bind(&e.target_url)
        .bind(millis(e.created_at))
        .bind(millis(e.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn insert_account(&self, a: &AccountRecord, token_hash: &[u8; 32]) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO accounts (id, name, email, plan, token_hash, webhook_url, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.id.to_string())
        .bind(&a.name)
        .bind(&a.email)
        .bind(&a.plan)
        .bind(&token_hash[..])
        .bind(&a.webhook_url)
        .bind(millis(a.created_at))
        .execute(&self.writer)
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
            "SELECT id, name, email, plan, webhook_url, created_at FROM accounts WHERE token_hash = ?",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn account_by_id_or_name(&self, key: &str) -> Result<Option<AccountRecord>> {
        sqlx::query(
            "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
             WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
        )
        .bind(key)
        .bind(key)
        .bind(key)
        .fetch_optional(&self.reader)
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
        .fetch_optional(&self.writer)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn set_token_hash(&self, id: AccountId, token_hash: &[u8; 32]) -> Result<bool> {
        let res = sqlx::query("UPDATE accounts SET token_hash = ? WHERE id = ?")
            .bind(&token_hash[..])
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn usage(&self, id: AccountId) -> Result<Usage> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(views_used), 0) AS v
             FROM secrets WHERE account_id = ? GROUP BY status",
        )
        .bind(id.to_string())
        .fetch_all(&self.reader)
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
        let row = sqlx::query(
            "UPDATE accounts SET webhook_url = ?1,
                webhook_secret = CASE WHEN ?1 IS NOT NULL THEN COALESCE(webhook_secret, ?2)
                                      ELSE webhook_secret END
             WHERE id = ?3 RETURNING webhook_secret",
        )
        .bind(url)
        .bind(candidate.expose())
        .bind(id.to_string())
        .fetch_optional(&self.writer)
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
            "UPDATE accounts SET webhook_secret = ? WHERE id = ? AND webhook_secret IS NULL",
        )
        .bind(candidate.expose())
        .bind(id.to_string())
        .execute(&self.writer)
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
                webhook_secret_previous_until = ?, webhook_secret = ?
             WHERE id = ?",
        )
        .bind(millis(previous_until))
        .bind(new.expose())
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn webhook_secrets(&self, id: AccountId, now: DateTime<Utc>) -> Result<WebhookSecrets> {
        let row = sqlx::query(
            "SELECT webhook_secret, webhook_secret_previous, webhook_secret_previous_until
             FROM accounts WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.writer)
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
        let res = sqlx::query(
            "INSERT INTO secrets (id, account_id, kind, envelope, blob_key, size, file_name, label,
                passphrase_hash, allowed_countries, webhook_url, notify, views_total, views_used, status,
                created_at, expires_at, verifier)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'active', ?, ?, ?)",
        )
        .bind(s.id.to_string())
        .bind(s.account_id.to_string())
        .bind(s.kind.as_str())
        .bind(&s.envelope)
        .bind(&s.blob_key)
        .bind(s.size.map(|v| v as i64))
        .bind(&s.file_name)
        .bind(&s.label)
        .bind(&s.passphrase_hash)
        .bind(join_countries(&s.allowed_countries))
        .bind(&s.webhook_url)
        .bind(&s.notify)
        .bind(s.views_total)
        .bind(millis(s.created_at))
        .bind(millis(s.expires_at))
        .bind(s.verifier.as_ref().map(|w| w.as_bytes().to_vec()))
        .execute(&self.writer)
        .await;
        match res {
            // The primary key is the only unique constraint here: the id is someone's already.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::IdTaken),
            other => other.map(drop).map_err(Error::from),
        }
    }

    async fn secret(&self, id: SecretId) -> Result<Option<SecretRecord>> {
        // Each statement on the reader pool starts a fresh WAL snapshot, so it sees every commit
        // that finished before it: a reveal right after a create finds the secret.
        sqlx::query("SELECT * FROM secrets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE secrets SET ");
        let mut set = q.separated(", ");
        if let Some(t) = p.expires_at {
            set.push("expires_at = ").push_bind_unseparated(millis(t));
        }
        if let Some(v) = p.views_total {
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
        if let Some(v) = p.views_total {
            // A concurrent reveal may have used views since the caller checked.
            q.push(" AND views_used < ").push_bind(v);
        }
        let res = q.build().execute(&self.writer).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn list_secrets(
        &self,
        account: AccountId,
        status: Option<Status>,
        before: Option<SecretId>,
        limit: u32,
    ) -> Result<Vec<SecretRecord>> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, account_id, kind, NULL AS envelope, blob_key, size, file_name, label,
                passphrase_hash,
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
            .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE secrets SET status = 'deleted', envelope = NULL, ended_at = ?
             WHERE id = ? AND account_id = ? AND status = 'active'
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
        let mut tx = self.writer.begin().await?;
        // One conditional UPDATE decides who gets a view: the WHERE clause re-checks status,
        // expiry and remaining views under the write lock, so two concurrent reveals of a
        // 1-view secret cannot both match. It also re-checks the content version: an owner's
        // update that replaced the content after the caller checked its key makes this match
        // nothing, so no view is burnt for content the key does not open. RETURNING hands back
        // the envelope as it was, since this statement does not touch it.
        let row = sqlx::query(
            "UPDATE secrets SET
                views_used = views_used + 1,
                last_viewed_at = ?1,
                status = CASE WHEN views_used + 1 >= views_total THEN 'consumed' ELSE 'active' END,
                ended_at = CASE WHEN views_used + 1 >= views_total THEN ?1 ELSE NULL END
             WHERE id = ?2 AND status = 'active' AND expires_at > ?1
               AND views_used < views_total AND (envelope IS NOT NULL OR blob_key IS NOT NULL)
               AND content_version = ?3
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
        let remaining = row
            .try_get::<u32, _>("views_total")?
            .saturating_sub(row.try_get("views_used")?);
        let status: Status = row.try_get::<&str, _>("status")?.parse()?;
        if status == Status::Consumed {
            // The last view erases the content in the same transaction.
            sqlx::query("UPDATE secrets SET envelope = NULL WHERE id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO views (secret_id, at, country) VALUES (?, ?, ?)")
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
        // Check and count in one statement, before any passphrase is evaluated: the single
        // writer serialises concurrent attempts, each sees the count the previous one left, so
        // a burst cannot get more than `max` evaluations into one window.
        let claimed = sqlx::query(
            "UPDATE secrets SET
                pp_fail_count = CASE WHEN pp_fail_window > ?1 THEN pp_fail_count + 1 ELSE 1 END,
                pp_fail_window = CASE WHEN pp_fail_window > ?1 THEN pp_fail_window ELSE ?2 END
             WHERE id = ?3 AND (pp_fail_window <= ?1 OR pp_fail_count < ?4)
             RETURNING pp_fail_count",
        )
        .bind(window_start)
        .bind(millis(now))
        .bind(id.to_string())
        .bind(max)
        .fetch_optional(&self.writer)
        .await?;
        if claimed.is_some() {
            return Ok(AttemptClaim::Granted);
        }
        let window: i64 = sqlx::query_scalar("SELECT pp_fail_window FROM secrets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.writer)
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "SELECT account_id, label, views_total, views_used, webhook_url, notify FROM secrets
             WHERE id = ?",
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
        sqlx::query("SELECT at, country FROM views WHERE secret_id = ? ORDER BY at, rowid")
            .bind(id.to_string())
            .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "UPDATE secrets SET status = 'expired', envelope = NULL, ended_at = ?1
             WHERE id IN (SELECT id FROM secrets WHERE status = 'active' AND expires_at <= ?1
                          LIMIT ?2)
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
        sqlx::query("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?")
            .bind(millis(cutoff))
            .execute(&self.writer)
            .await?;
        // Rows whose blob is still in the store stay until it is gone, so none is forgotten.
        let res = sqlx::query(
            "DELETE FROM secrets WHERE ended_at IS NOT NULL AND ended_at < ? AND blob_key IS NULL",
        )
        .bind(millis(cutoff))
        .execute(&self.writer)
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
             WHERE blob_key IS NOT NULL AND status != 'active' AND ended_at < ? LIMIT ?",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<&str, _>(0)?.parse()?, r.try_get(1)?)))
        .collect()
    }

    async fn clear_blob(&self, id: SecretId, blob_key: &str) -> Result<()> {
        sqlx::query("UPDATE secrets SET blob_key = NULL WHERE id = ? AND blob_key = ?")
            .bind(id.to_string())
            .bind(blob_key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn referenced_blobs(&self, keys: &[String]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in keys.chunks(500) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT blob_key FROM secrets WHERE blob_key IN (");
            let mut list = q.separated(", ");
            for k in chunk {
                list.push_bind(k);
            }
            q.push(")");
            for row in q.build().fetch_all(&self.reader).await? {
                found.insert(row.try_get::<String, _>(0)?);
            }
        }
        Ok(found)
    }

    async fn flush_erasures(&self) -> Result<()> {
        self.checkpoint().await
    }

    async fn claim_due_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        per_account: u32,
    ) -> Result<Vec<OutboxRow>> {
        let token = uuid::Uuid::new_v4().to_string();
        // SQLite has one writer, so this UPDATE is already exclusive: the per-account count of
        // live leases (every instance's) cannot change between the count and the claim. The
        // lease is what lets a crashed worker's events come back.
        let rows = sqlx::query(
            "UPDATE outbox SET lease_until = ?1, lease_token = ?2
             WHERE id IN (
                WITH busy AS (
                    SELECT account_id, COUNT(*) AS n FROM outbox
                    WHERE state = 'pending' AND lease_until >= ?3 GROUP BY account_id),
                due AS (
                    SELECT o.id, o.next_attempt_at, COALESCE(b.n, 0) AS busy,
                        ROW_NUMBER() OVER (PARTITION BY o.account_id
                                           ORDER BY o.next_attempt_at, o.id) AS nth
                    FROM outbox o LEFT JOIN busy b ON b.account_id = o.account_id
                    WHERE o.state = 'pending' AND o.next_attempt_at <= ?3
                      AND (o.lease_until IS NULL OR o.lease_until < ?3))
                SELECT id FROM due WHERE busy + nth <= ?5
                ORDER BY next_attempt_at, id LIMIT ?4)
             RETURNING id, account_id, event_type, payload, target_url, attempts",
        )
        .bind(millis(lease_until))
        .bind(&token)
        .bind(millis(now))
        .bind(i64::from(limit))
        .bind(i64::from(per_account))
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    account_id: r.try_get::<&str, _>("account_id")?.parse()?,
                    event_type: r.try_get("event_type")?,
                    payload: r.try_get("payload")?,
                    target_url: r.try_get("target_url")?,
                    attempts: r.try_get("attempts")?,
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
        let mut tx = self.writer.begin().await?;
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
        let res = sqlx::query(
            "UPDATE outbox SET state = ?, attempts = attempts + 1, last_attempt_at = ?,
                last_status = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at),
                delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE NULL END,
                lease_until = NULL, lease_token = NULL
             WHERE id = ? AND lease_token = ?",
        )
        .bind(state)
        .bind(millis(now))
        .bind(status)
        .bind(error)
        .bind(next_at)
        .bind(state)
        .bind(millis(now))
        .bind(&row.id)
        .bind(&row.lease_token)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 1 && matches!(attempt, Attempt::EndpointGone) {
            // 410 means "stop": remove the URL wherever the account set it, and drop what is
            // still queued for it.
            let account = row.account_id.to_string();
            sqlx::query("UPDATE accounts SET webhook_url = NULL WHERE id = ? AND webhook_url = ?")
                .bind(&account)
                .bind(&row.target_url)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE secrets SET webhook_url = NULL WHERE account_id = ? AND webhook_url = ?",
            )
            .bind(&account)
            .bind(&row.target_url)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE outbox SET state = 'failed', last_error = 'webhook URL removed after 410 Gone'
                 WHERE account_id = ? AND target_url = ? AND state = 'pending'",
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
             FROM outbox WHERE target_url NOT LIKE 'internal:%' AND secret_id = ? ORDER BY created_at DESC, id DESC LIMIT 50",
        )
        .bind(secret.to_string())
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            Ok(WebhookDelivery {
                event_id: r.try_get("id")?,
                kind: r.try_get("event_type")?,
                attempts: r.try_get("attempts")?,
                created_at: from_millis(r.try_get("created_at")?),
                last_attempt_at: r
                    .try_get::<Option<i64>, _>("last_attempt_at")?
                    .map(from_millis),
                last_status: r
                    .try_get::<Option<i64>, _>("last_status")?
                    .map(|s| s as u16),
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
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,
                lease_until = NULL, lease_token = NULL
             WHERE id = ? AND account_id = ? AND state != 'pending'",
        )
        .bind(millis(now))
        .bind(event_id)
        .bind(account.to_string())
        .execute(&self.writer)
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
            "INSERT INTO installations (provider, team, sealed, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (provider, team) DO UPDATE SET sealed = excluded.sealed,
                updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(team)
        .bind(sealed)
        .bind(millis(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn installation(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT sealed FROM installations WHERE provider = ? AND team = ?")
                .bind(provider)
                .bind(team)
                .fetch_optional(&self.reader)
                .await?,
        )
    }
}
