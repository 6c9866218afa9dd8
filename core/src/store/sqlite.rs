//! The embedded backend: one SQLite file in WAL mode with `secure_delete`, so erased envelopes are
//! overwritten on disk rather than left in free pages.
//!
//! All writes go through a single connection: SQLite has one writer anyway, and queueing in the
//! pool is cheaper and fairer than `SQLITE_BUSY` retries. Reads use their own small pool.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{
    AccountRecord, SecretPatch, SecretRecord, Store, ViewClaim, from_millis, join_countries,
    millis, split_countries,
};
use crate::api::Usage;
use crate::error::{Error, Result};
use crate::model::{AccountId, Kind, SecretId, Status, ViewEntry};

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
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await?;
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
        label: row.try_get("label")?,
        passphrase_hash: row.try_get("passphrase_hash")?,
        allowed_countries: split_countries(row.try_get("allowed_countries")?),
        webhook_url: row.try_get("webhook_url")?,
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
    })
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

    async fn insert_secret(&self, s: &SecretRecord) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO secrets (id, account_id, kind, envelope, label, passphrase_hash,
                allowed_countries, webhook_url, views_total, views_used, status, created_at,
                expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'active', ?, ?)",
        )
        .bind(s.id.to_string())
        .bind(s.account_id.to_string())
        .bind(s.kind.as_str())
        .bind(&s.envelope)
        .bind(&s.label)
        .bind(&s.passphrase_hash)
        .bind(join_countries(&s.allowed_countries))
        .bind(&s.webhook_url)
        .bind(s.views_total)
        .bind(millis(s.created_at))
        .bind(millis(s.expires_at))
        .execute(&self.writer)
        .await;
        match res {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Error::invalid("id", "a secret with this id already exists"))
            }
            other => other.map(drop).map_err(Error::from),
        }
    }

    async fn secret(&self, id: SecretId) -> Result<Option<SecretRecord>> {
        // Read from the writer so a reveal right after a create sees it even before the
        // reader pool's snapshot moves on.
        sqlx::query("SELECT * FROM secrets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.writer)
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
            "SELECT id, account_id, kind, NULL AS envelope, label, passphrase_hash,
                allowed_countries, webhook_url, views_total, views_used, status, created_at,
                expires_at, last_viewed_at, pp_fail_count, pp_fail_window
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
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE secrets SET status = 'deleted', envelope = NULL, ended_at = ?
             WHERE id = ? AND account_id = ? AND status = 'active'",
        )
        .bind(millis(now))
        .bind(id.to_string())
        .bind(account.to_string())
        .execute(&self.writer)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn claim_view(
        &self,
        id: SecretId,
        now: DateTime<Utc>,
        country: Option<&str>,
    ) -> Result<ViewClaim> {
        let now_ms = millis(now);
        let mut tx = self.writer.begin().await?;
        // One conditional UPDATE decides who gets a view: the WHERE clause re-checks status,
        // expiry and remaining views under the write lock, so two concurrent reveals of a
        // 1-view secret cannot both match. RETURNING hands back the envelope as it was, since
        // this statement does not touch it.
        let row = sqlx::query(
            "UPDATE secrets SET
                views_used = views_used + 1,
                last_viewed_at = ?1,
                status = CASE WHEN views_used + 1 >= views_total THEN 'consumed' ELSE 'active' END,
                ended_at = CASE WHEN views_used + 1 >= views_total THEN ?1 ELSE NULL END
             WHERE id = ?2 AND status = 'active' AND expires_at > ?1
               AND views_used < views_total AND envelope IS NOT NULL
             RETURNING envelope, views_total - views_used AS remaining, status",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ViewClaim::Refused);
        };
        let envelope: Vec<u8> = row.try_get("envelope")?;
        let remaining: u32 = row.try_get("remaining")?;
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
        tx.commit().await?;
        Ok(ViewClaim::Granted {
            envelope,
            views_remaining: remaining,
            status,
        })
    }

    async fn record_passphrase_failure(
        &self,
        id: SecretId,
        now: DateTime<Utc>,
    ) -> Result<(u32, DateTime<Utc>)> {
        let row = sqlx::query(
            "UPDATE secrets SET
                pp_fail_count = CASE WHEN pp_fail_window > ?1 THEN pp_fail_count + 1 ELSE 1 END,
                pp_fail_window = CASE WHEN pp_fail_window > ?1 THEN pp_fail_window ELSE ?2 END
             WHERE id = ?3
             RETURNING pp_fail_count, pp_fail_window",
        )
        .bind(millis(now) - 60_000)
        .bind(millis(now))
        .bind(id.to_string())
        .fetch_optional(&self.writer)
        .await?
        .ok_or(Error::NotFound)?;
        Ok((
            row.try_get("pp_fail_count")?,
            from_millis(row.try_get("pp_fail_window")?),
        ))
    }

    async fn views(&self, id: SecretId) -> Result<Vec<ViewEntry>> {
        sqlx::query("SELECT at, country FROM views WHERE secret_id = ? ORDER BY at, rowid")
            .bind(id.to_string())
            .fetch_all(&self.writer)
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

    async fn expire_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<SecretId>> {
        sqlx::query(
            "UPDATE secrets SET status = 'expired', envelope = NULL, ended_at = ?1
             WHERE id IN (SELECT id FROM secrets WHERE status = 'active' AND expires_at <= ?1
                          LIMIT ?2)
             RETURNING id",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(|r| r.try_get::<&str, _>("id")?.parse())
        .collect()
    }

    async fn purge_ended(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        let res = sqlx::query("DELETE FROM secrets WHERE ended_at IS NOT NULL AND ended_at < ?")
            .bind(millis(cutoff))
            .execute(&self.writer)
            .await?;
        Ok(res.rows_affected())
    }
}
