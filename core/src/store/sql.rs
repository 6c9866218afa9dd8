//! The one implementation of [`Store`](super::Store) over SQL, which each backend instantiates
//! for its pool type with [`store_impl!`].
//!
//! The SQL is written once, in PostgreSQL's `$N` placeholder style, which sqlx-sqlite binds too
//! (a repeated `$N` is one parameter on both). Where the dialects really differ the backend
//! passes its variant in, each commented there.

/// The view claim's `UPDATE`, for the backends' `claim_row` (`$1` now in milliseconds, `$2` the
/// id, `$3` the content version the caller checked its key against).
///
/// One conditional UPDATE decides who gets a view. Concurrent reveals of the same secret queue on
/// the write lock (SQLite's single writer, PostgreSQL's row lock, from any instance); each one
/// that was waiting re-checks the WHERE clause against the row the previous one committed, so of
/// N callers on a secret with k views left exactly k match. The same re-check covers the content
/// version: an owner's update that replaced the content after the caller checked its key makes
/// this match nothing, so no view is burnt for content the key does not open. This statement does
/// not touch the envelope, so RETURNING hands back the content as it was.
macro_rules! claim_update {
    () => {
        "UPDATE secrets SET
            views_used = views_used + 1,
            last_viewed_at = $1,
            status = CASE WHEN views_used + 1 >= views_total THEN 'consumed' ELSE 'active' END,
            ended_at = CASE WHEN views_used + 1 >= views_total THEN $1 ELSE NULL END
         WHERE id = $2 AND status = 'active' AND expires_at > $1
           AND views_used < views_total
           AND (envelope IS NOT NULL OR blob_key IS NOT NULL)
           AND content_version = $3
         RETURNING envelope, blob_key, status, account_id, label, views_total, views_used,
            webhook_url, notify,
            (SELECT a.webhook_url FROM accounts a WHERE a.id = secrets.account_id)
                AS account_webhook_url"
    };
}

pub(super) use claim_update;

/// Implements [`Store`](super::Store) for `$store`, a backend with
/// - `fn writer(&self) -> &Pool<$db>` (writes and read-your-writes reads) and `fn reader(&self)`
///   (plain reads; the same pool where the backend has only one);
/// - `async fn write(&self, unit, f)`, which runs `f`, a write a request makes, with a
///   connection, as one atomic [`Unit`](super::Unit) (several statements: a savepoint of
///   SQLite's batch, see `batch`, or a transaction of its own on PostgreSQL; one statement is
///   atomic by itself). `f` owns what it binds, since it may run on another task;
/// - `async fn insert(&self, secret)`, which stores a new secret's row (SQLite: in the next
///   batch, with its neighbours' in one statement; see `insert_secrets`);
/// - `async fn serialize_claims(tx)`, run in the outbox claim's transaction before it counts
///   live leases, and `async fn flush(&self)` behind `flush_erasures`;
/// - `async fn claim_row(conn, now_ms, id, content_version, country, viewer)`, which runs
///   [`claim_update!`], records the granted view in `views` (with the country and, as JSON, the
///   signed-in viewer) and erases the content if it was the last view, in as few round trips as
///   the dialect allows, inside a write of unit `CLAIM_UNIT`;
///
/// and the dialect's text for the places the SQL differs:
/// - `row_lock`: appended to the subqueries that pick rows for batch jobs (expiry, outbox
///   claims), so that several instances take disjoint rows;
/// - `view_order`: the column that keeps views of the same millisecond in insertion order.
macro_rules! store_impl {
    (
        store: $store:ident,
        db: $db:ty,
        row_lock: $row_lock:literal,
        view_order: $view_order:literal $(,)?
    ) => {
        mod shared {
            use std::collections::HashSet;

            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::QueryBuilder;

            use super::$store;
            use $crate::api::{Usage, WebhookDelivery};
            use $crate::crypto::WebhookSecret;
            use $crate::model::{
                AccountId, PlatformIdentity, RequestStatus, SecretId, Status, ViewEntry,
            };
            use $crate::store::rows::{
                AccountRow, EndedRow, FactsRow, RequestRow, SecretRow, TicketRow, UsageRow, ViewRow, count,
                identity_json, join_countries, millis, parse, time, to_i32, to_i64,
            };
            use $crate::store::{
                AccountRecord, AnswerOutcome, Attempt, AttemptClaim, OutboxRow, RequestRecord,
                SecretPatch, SecretRecord, Store,
                StoreError, StoreGauges, StoreResult, TicketRecord, Unit, ViewClaim, WebhookSecrets,
            };
            use $crate::outbox::event_type;

            $crate::store::jobs_sql::jobs_fns!(store: $store, db: $db, row_lock: $row_lock);
            use jobs::{facts_events, insert_events};

            /// Inserts `rows` as new active secrets in one statement: SQLite's group commit
            /// sends a whole batch of creates in one round trip. A taken id fails the statement
            /// as a whole, as [`StoreError::IdTaken`].
            pub(crate) async fn insert_secrets(
                conn: &mut <$db as sqlx::Database>::Connection,
                rows: &[SecretRecord],
            ) -> StoreResult<()> {
                let mut numbers = Vec::with_capacity(rows.len());
                for s in rows {
                    numbers.push((
                        s.size.map(|v| to_i64(v, "size")).transpose()?,
                        to_i32(s.views_total, "views")?,
                        s.bound_to.as_ref().map(identity_json).transpose()?,
                    ));
                }
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO secrets (id, account_id, kind, envelope, blob_key, size,
                        file_name, label, passphrase_hash, allowed_countries, webhook_url,
                        notify, views_total, views_used, status, created_at, expires_at,
                        verifier, bound_to, request_id, ephemeral_public_key) ",
                );
                q.push_values(rows.iter().zip(numbers), |mut b, (s, (size, views, bound))| {
                    b.push_bind(s.id.to_string())
                        .push_bind(s.account_id.to_string())
                        .push_bind(s.kind.as_str())
                        .push_bind(&s.envelope)
                        .push_bind(&s.blob_key)
                        .push_bind(size)
                        .push_bind(&s.file_name)
                        .push_bind(&s.label)
                        .push_bind(&s.passphrase_hash)
                        .push_bind(join_countries(&s.allowed_countries))
                        .push_bind(&s.webhook_url)
                        .push_bind(&s.notify)
                        .push_bind(views)
                        .push_bind(0_i32)
                        .push_bind(Status::Active.as_str())
                        .push_bind(millis(s.created_at))
                        .push_bind(millis(s.expires_at))
                        .push_bind(s.verifier.as_ref().map(|w| w.as_bytes().to_vec()))
                        .push_bind(bound)
                        // An answer shares its request's id.
                        .push_bind(s.ephemeral_public_key.map(|_| s.id.to_string()))
                        .push_bind(s.ephemeral_public_key.map(|k| k.as_bytes().to_vec()));
                });
                match q.build().execute(&mut *conn).await {
                    // The primary key is the only unique constraint here: an id is someone's
                    // already.
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        Err(StoreError::IdTaken)
                    }
                    other => other.map(drop).map_err(StoreError::from),
                }
            }

            #[async_trait]
            impl Store for $store {
                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1").execute(self.reader()).await?;
                    Ok(())
                }

                async fn insert_account(
                    &self,
                    a: &AccountRecord,
                    token_hash: &[u8; 32],
                ) -> StoreResult<()> {
                    let res = sqlx::query(
                        "INSERT INTO accounts (id, name, email, plan, token_hash, webhook_url,
                            created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(a.id.to_string())
                    .bind(&a.name)
                    .bind(&a.email)
                    .bind(&a.plan)
                    .bind(&token_hash[..])
                    .bind(&a.webhook_url)
                    .bind(millis(a.created_at))
                    .execute(self.writer())
                    .await;
                    match res {
                        // The id is random and the token hash is a fresh token's: the name.
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                            Err(StoreError::AccountNameTaken(a.name.clone()))
                        }
                        other => other.map(drop).map_err(StoreError::from),
                    }
                }

                async fn account_by_token(
                    &self,
                    token_hash: &[u8; 32],
                ) -> StoreResult<Option<AccountRecord>> {
                    sqlx::query_as::<_, AccountRow>(
                        "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
                         WHERE token_hash = $1",
                    )
                    .bind(&token_hash[..])
                    .fetch_optional(self.reader())
                    .await?
                    .map(AccountRow::into_record)
                    .transpose()
                }

                async fn account_by_id_or_name(
                    &self,
                    key: &str,
                ) -> StoreResult<Option<AccountRecord>> {
                    // An id match wins over a name match (`true` sorts after `false`).
                    sqlx::query_as::<_, AccountRow>(
                        "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
                         WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1",
                    )
                        .bind(key)
                        .fetch_optional(self.reader())
                        .await?
                        .map(AccountRow::into_record)
                        .transpose()
                }

                async fn first_account(&self) -> StoreResult<Option<AccountRecord>> {
                    sqlx::query_as::<_, AccountRow>(
                        "SELECT id, name, email, plan, webhook_url, created_at FROM accounts
                         ORDER BY created_at, id LIMIT 1",
                    )
                        .fetch_optional(self.writer())
                        .await?
                        .map(AccountRow::into_record)
                        .transpose()
                }

                async fn set_token_hash(
                    &self,
                    id: AccountId,
                    token_hash: &[u8; 32],
                ) -> StoreResult<bool> {
                    let res = sqlx::query("UPDATE accounts SET token_hash = $1 WHERE id = $2")
                        .bind(&token_hash[..])
                        .bind(id.to_string())
                        .execute(self.writer())
                        .await?;
                    Ok(res.rows_affected() == 1)
                }

                async fn usage(&self, id: AccountId) -> StoreResult<Usage> {
                    // Counters kept by triggers (migration 0006), summed over their shards:
                    // a few rows, however many secrets the account has.
                    let rows: Vec<UsageRow> = sqlx::query_as(
                        "SELECT status, CAST(SUM(n) AS BIGINT) AS n,
                            CAST(SUM(views) AS BIGINT) AS v
                         FROM account_usage WHERE account_id = $1 GROUP BY status",
                    )
                    .bind(id.to_string())
                    .fetch_all(self.reader())
                    .await?;
                    let mut usage = Usage::default();
                    let unsigned = |v: i64, column: &'static str| {
                        u64::try_from(v).map_err(|_| StoreError::corrupt(column, v))
                    };
                    for row in rows {
                        let n = unsigned(row.n, "account_usage.n")?;
                        usage.views += unsigned(row.v, "account_usage.views")?;
                        match parse(&row.status, "secrets.status")? {
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
                ) -> StoreResult<bool> {
                    // One statement, so two instances setting the first URL at once agree on
                    // one secret: the second sees the first's committed secret and COALESCE
                    // keeps it.
                    let secret: Option<String> = sqlx::query_scalar(
                        "UPDATE accounts SET webhook_url = $1,
                            webhook_secret = CASE WHEN $1 IS NOT NULL
                                                  THEN COALESCE(webhook_secret, $2)
                                                  ELSE webhook_secret END
                         WHERE id = $3 RETURNING webhook_secret",
                    )
                    .bind(url)
                    .bind(candidate.expose())
                    .bind(id.to_string())
                    .fetch_optional(self.writer())
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    Ok(secret.as_deref() == Some(candidate.expose()))
                }

                async fn ensure_webhook_secret(
                    &self,
                    id: AccountId,
                    candidate: &WebhookSecret,
                ) -> StoreResult<bool> {
                    let res = sqlx::query(
                        "UPDATE accounts SET webhook_secret = $1
                         WHERE id = $2 AND webhook_secret IS NULL",
                    )
                    .bind(candidate.expose())
                    .bind(id.to_string())
                    .execute(self.writer())
                    .await?;
                    Ok(res.rows_affected() == 1)
                }

                async fn rotate_webhook_secret(
                    &self,
                    id: AccountId,
                    new: &WebhookSecret,
                    previous_until: DateTime<Utc>,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "UPDATE accounts SET webhook_secret_previous = webhook_secret,
                            webhook_secret_previous_until = $1, webhook_secret = $2
                         WHERE id = $3",
                    )
                    .bind(millis(previous_until))
                    .bind(new.expose())
                    .bind(id.to_string())
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn webhook_secrets(
                    &self,
                    id: AccountId,
                    now: DateTime<Utc>,
                ) -> StoreResult<WebhookSecrets> {
                    let (current, previous, until): (Option<String>, Option<String>, Option<i64>) =
                        sqlx::query_as(
                            "SELECT webhook_secret, webhook_secret_previous,
                                webhook_secret_previous_until
                             FROM accounts WHERE id = $1",
                        )
                        .bind(id.to_string())
                        .fetch_optional(self.writer())
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    Ok(WebhookSecrets {
                        current: current.map(WebhookSecret::from_stored),
                        previous: previous
                            .filter(|_| until.is_some_and(|u| u > millis(now)))
                            .map(WebhookSecret::from_stored),
                    })
                }

                async fn insert_secret(&self, s: &SecretRecord) -> StoreResult<()> {
                    // Checked here, so that a batch of inserts only fails on the database.
                    s.size.map(|v| to_i64(v, "size")).transpose()?;
                    to_i32(s.views_total, "views")?;
                    self.insert(s.clone()).await
                }

                async fn secret(&self, id: SecretId) -> StoreResult<Option<SecretRecord>> {
                    // Each statement outside a transaction sees every commit that finished
                    // before it (on SQLite's reader pool, a fresh WAL snapshot; on PostgreSQL,
                    // any instance's): a reveal right after a create finds the secret.
                    sqlx::query_as::<_, SecretRow>("SELECT * FROM secrets WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_optional(self.reader())
                        .await?
                        .map(SecretRow::into_record)
                        .transpose()
                }

                async fn update_secret(
                    &self,
                    account: AccountId,
                    id: SecretId,
                    p: &SecretPatch,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    if p.is_empty() {
                        return Ok(true);
                    }
                    let views_total = p.views_total.map(|v| to_i32(v, "views")).transpose()?;
                    let mut q = QueryBuilder::<$db>::new("UPDATE secrets SET ");
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
                        // A reveal that checked its key against the old content must not
                        // claim a view of the new one (see `claim_view`).
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
                        // A concurrent reveal (on any instance) may have used views since the
                        // caller checked; the write lock makes this re-check see its count.
                        q.push(" AND views_used < ").push_bind(v);
                    }
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                        let res = q.build().execute(&mut *conn).await?;
                        Ok(res.rows_affected() == 1)
                    })).await
                }

                async fn list_secrets(
                    &self,
                    account: AccountId,
                    status: Option<Status>,
                    before: Option<SecretId>,
                    limit: u32,
                ) -> StoreResult<Vec<SecretRecord>> {
                    // A typed NULL: PostgreSQL would type a bare one as TEXT.
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT id, account_id, kind, CAST(NULL AS BYTEA) AS envelope, blob_key,
                            size, file_name, label, passphrase_hash, allowed_countries,
                            webhook_url, notify, views_total, views_used, status, created_at,
                            expires_at, last_viewed_at, pp_fail_count, pp_fail_window, verifier,
                            content_version, bound_to
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
                    q.build_query_as::<SecretRow>()
                        .fetch_all(self.reader())
                        .await?
                        .into_iter()
                        .map(SecretRow::into_record)
                        .collect()
                }

                async fn delete_secret(
                    &self,
                    account: AccountId,
                    id: SecretId,
                    now: DateTime<Utc>,
                ) -> StoreResult<Option<Option<String>>> {
                    self.write(Unit::Statements, move |conn| Box::pin(async move {
                    // Conditional on `active`: racing a reveal that consumes it, or an expiry,
                    // only one of them changes the row and writes events.
                    let row: Option<EndedRow> = sqlx::query_as(
                        "UPDATE secrets SET status = 'deleted', envelope = NULL, ended_at = $1
                         WHERE id = $2 AND account_id = $3 AND status = 'active'
                         RETURNING id, account_id, label, views_total, views_used, webhook_url,
                            notify, blob_key, (SELECT a.webhook_url FROM accounts a WHERE a.id = secrets.account_id) AS account_webhook_url",
                    )
                    .bind(millis(now))
                    .bind(id.to_string())
                    .bind(account.to_string())
                    .fetch_optional(&mut *conn)
                    .await?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let evs = facts_events(id, &row.facts, &[event_type::DELETED], None, None, None, now)?;
                    insert_events(&mut *conn, &evs).await?;
                    Ok(Some(row.blob_key))
                    })).await
                }

                async fn claim_view(
                    &self,
                    id: SecretId,
                    now: DateTime<Utc>,
                    country: Option<&str>,
                    viewer: Option<&PlatformIdentity>,
                    content_version: i64,
                ) -> StoreResult<ViewClaim> {
                    let now_ms = millis(now);
                    let country = country.map(str::to_owned);
                    let viewer_json = viewer.map(identity_json).transpose()?;
                    let viewer = viewer.cloned();
                    self.write(<$store>::CLAIM_UNIT, move |conn| Box::pin(async move {
                    let country = country.as_deref();
                    let Some(row) = <$store>::claim_row(
                        &mut *conn, now_ms, id, content_version, country, viewer_json.as_deref(),
                    ).await? else {
                        return Ok(ViewClaim::Refused);
                    };
                    let remaining = count(row.facts.views_total, "secrets.views_total")?
                        .saturating_sub(count(row.facts.views_used, "secrets.views_used")?);
                    let status: Status = parse(&row.status, "secrets.status")?;
                    let kinds: &[&'static str] = if status == Status::Consumed {
                        &[event_type::VIEWED, event_type::CONSUMED]
                    } else {
                        &[event_type::VIEWED]
                    };
                    let evs = facts_events(id, &row.facts, kinds, None, country, viewer.as_ref(), now)?;
                    insert_events(&mut *conn, &evs).await?;
                    Ok(ViewClaim::Granted {
                        envelope: row.envelope,
                        blob_key: row.blob_key,
                        views_remaining: remaining,
                        status,
                        events: evs.len(),
                    })
                    })).await
                }

                async fn claim_passphrase_attempt(
                    &self,
                    id: SecretId,
                    max: u32,
                    now: DateTime<Utc>,
                ) -> StoreResult<AttemptClaim> {
                    let window_start = millis(now) - 60_000;
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                    // Check and count in one statement, before any passphrase is evaluated.
                    // Concurrent attempts (from any instance) queue on the write lock and each
                    // re-evaluates the WHERE clause against the count the previous one
                    // committed, so at most `max` evaluations get into one window.
                    let claimed: Option<i32> = sqlx::query_scalar(
                        "UPDATE secrets SET
                            pp_fail_count = CASE WHEN pp_fail_window > $1
                                                 THEN pp_fail_count + 1 ELSE 1 END,
                            pp_fail_window = CASE WHEN pp_fail_window > $1
                                                  THEN pp_fail_window ELSE $2 END
                         WHERE id = $3 AND (pp_fail_window <= $1 OR pp_fail_count < $4)
                         RETURNING pp_fail_count",
                    )
                    .bind(window_start)
                    .bind(millis(now))
                    .bind(id.to_string())
                    .bind(i64::from(max))
                    .fetch_optional(&mut *conn)
                    .await?;
                    if let Some(count) = claimed {
                        return Ok(AttemptClaim::Granted {
                            last: i64::from(count) >= i64::from(max),
                        });
                    }
                    let window: i64 =
                        sqlx::query_scalar("SELECT pp_fail_window FROM secrets WHERE id = $1")
                            .bind(id.to_string())
                            .fetch_optional(&mut *conn)
                            .await?
                            .ok_or(StoreError::NotFound)?;
                    Ok(AttemptClaim::Refused {
                        window_end: time(window + 60_000, "secrets.pp_fail_window")?,
                    })
                    })).await
                }

                async fn record_access_denied(
                    &self,
                    id: SecretId,
                    reason: &str,
                    country: Option<&str>,
                    viewer: Option<&PlatformIdentity>,
                    now: DateTime<Utc>,
                ) -> StoreResult<()> {
                    let reason = reason.to_owned();
                    let country = country.map(str::to_owned);
                    let viewer = viewer.cloned();
                    self.write(Unit::Statements, move |conn| Box::pin(async move {
                    let row: FactsRow = sqlx::query_as(
                        "SELECT account_id, label, views_total, views_used, webhook_url, notify,
                            (SELECT a.webhook_url FROM accounts a WHERE a.id = secrets.account_id) AS account_webhook_url
                         FROM secrets WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    let evs = facts_events(
                        id,
                        &row,
                        &[event_type::ACCESS_DENIED],
                        Some(&reason),
                        country.as_deref(),
                        viewer.as_ref(),
                        now,
                    )?;
                    insert_events(&mut *conn, &evs).await?;
                    Ok(())
                    })).await
                }

                async fn views(&self, id: SecretId) -> StoreResult<Vec<ViewEntry>> {
                    sqlx::query_as::<_, ViewRow>(concat!(
                        "SELECT at, country, viewer FROM views WHERE secret_id = $1 ORDER BY at, ",
                        $view_order
                    ))
                    .bind(id.to_string())
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(ViewRow::into_entry)
                    .collect()
                }

                async fn expire_due(
                    &self,
                    now: DateTime<Utc>,
                    limit: u32,
                ) -> StoreResult<Vec<(SecretId, Option<String>)>> {
                    jobs::expire_due(self, now, limit).await
                }

                async fn leftover_blobs(
                    &self,
                    before: DateTime<Utc>,
                    limit: u32,
                ) -> StoreResult<Vec<(SecretId, String)>> {
                    jobs::leftover_blobs(self, before, limit).await
                }

                async fn clear_blob(&self, id: SecretId, blob_key: &str) -> StoreResult<()> {
                    jobs::clear_blob(self, id, blob_key).await
                }

                async fn referenced_blobs(&self, keys: &[String]) -> StoreResult<HashSet<String>> {
                    jobs::referenced_blobs(self, keys).await
                }

                async fn purge_ended(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
                    jobs::purge_ended(self, cutoff).await
                }

                async fn gauges(&self) -> StoreResult<StoreGauges> {
                    let mut g = jobs::gauges(self).await?;
                    g.pools = self.pool_use();
                    Ok(g)
                }

                async fn flush_erasures(&self) -> StoreResult<()> {
                    self.flush().await
                }

                async fn claim_due_events(
                    &self,
                    now: DateTime<Utc>,
                    lease_until: DateTime<Utc>,
                    limit: u32,
                    per_account: u32,
                ) -> StoreResult<Vec<OutboxRow>> {
                    jobs::claim_due_events(self, now, lease_until, limit, per_account).await
                }

                async fn record_attempt(
                    &self,
                    row: &OutboxRow,
                    now: DateTime<Utc>,
                    attempt: Attempt,
                ) -> StoreResult<()> {
                    jobs::record_attempt(self, row, now, attempt).await
                }

                async fn deliveries(&self, secret: SecretId) -> StoreResult<Vec<WebhookDelivery>> {
                    jobs::deliveries(self, secret).await
                }

                async fn redeliver(
                    &self,
                    account: AccountId,
                    event_id: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    jobs::redeliver(self, account, event_id, now).await
                }

                async fn insert_ticket(
                    &self,
                    hash: &[u8; 32],
                    t: &TicketRecord,
                ) -> StoreResult<()> {
                    let query = sqlx::query(
                        "INSERT INTO sign_in_tickets (hash, secret_id, identity, created_at,
                            expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(hash.to_vec())
                    .bind(t.secret_id.to_string())
                    .bind(identity_json(&t.identity)?)
                    .bind(millis(t.created_at))
                    .bind(millis(t.expires_at));
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                        query.execute(&mut *conn).await?;
                        Ok(())
                    })).await
                }

                async fn ticket(&self, hash: &[u8; 32]) -> StoreResult<Option<TicketRecord>> {
                    sqlx::query_as::<_, TicketRow>(
                        "SELECT secret_id, identity, created_at, expires_at FROM sign_in_tickets
                         WHERE hash = $1",
                    )
                    .bind(hash.to_vec())
                    .fetch_optional(self.reader())
                    .await?
                    .map(TicketRow::into_record)
                    .transpose()
                }

                async fn take_ticket(
                    &self,
                    hash: &[u8; 32],
                    secret: SecretId,
                ) -> StoreResult<Option<TicketRecord>> {
                    let hash = hash.to_vec();
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                    // One statement: two reveals (on any instance) presenting the same ticket
                    // queue on the row, and the second deletes nothing.
                    sqlx::query_as::<_, TicketRow>(
                        "DELETE FROM sign_in_tickets WHERE hash = $1 AND secret_id = $2
                         RETURNING secret_id, identity, created_at, expires_at",
                    )
                    .bind(hash)
                    .bind(secret.to_string())
                    .fetch_all(&mut *conn)
                    .await?
                    .into_iter()
                    .next()
                    .map(TicketRow::into_record)
                    .transpose()
                    })).await
                }

                async fn purge_tickets(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let res = sqlx::query("DELETE FROM sign_in_tickets WHERE expires_at <= $1")
                        .bind(millis(now))
                        .execute(self.writer())
                        .await?;
                    Ok(res.rows_affected())
                }

                async fn put_installation(
                    &self,
                    provider: &str,
                    team: &str,
                    sealed: &[u8],
                    now: DateTime<Utc>,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO installations (provider, team, sealed, updated_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (provider, team) DO UPDATE SET sealed = excluded.sealed,
                            updated_at = excluded.updated_at",
                    )
                    .bind(provider)
                    .bind(team)
                    .bind(sealed)
                    .bind(millis(now))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn installation(
                    &self,
                    provider: &str,
                    team: &str,
                ) -> StoreResult<Option<Vec<u8>>> {
                    Ok(sqlx::query_scalar(
                        "SELECT sealed FROM installations WHERE provider = $1 AND team = $2",
                    )
                    .bind(provider)
                    .bind(team)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn secrets_notifying(
                    &self,
                    account: AccountId,
                    notify: &str,
                    limit: u32,
                ) -> StoreResult<Vec<SecretRecord>> {
                    // A typed NULL: PostgreSQL would type a bare one as TEXT. The answers to the
                    // user's requests carry their `notify` too, but are not shares.
                    sqlx::query_as::<_, SecretRow>(
                        "SELECT id, account_id, kind, CAST(NULL AS BYTEA) AS envelope, blob_key,
                            size, file_name, label, passphrase_hash, allowed_countries,
                            webhook_url, notify, views_total, views_used, status, created_at,
                            expires_at, last_viewed_at, pp_fail_count, pp_fail_window, verifier,
                            content_version, bound_to
                         FROM secrets WHERE notify = $1 AND account_id = $2
                            AND request_id IS NULL
                         ORDER BY id DESC LIMIT $3",
                    )
                    .bind(notify)
                    .bind(account.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?
                    .into_iter()
                    .map(SecretRow::into_record)
                    .collect()
                }

                async fn put_workspace_settings(
                    &self,
                    provider: &str,
                    team: &str,
                    settings: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO workspace_settings (provider, team, settings, updated_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (provider, team) DO UPDATE SET settings = excluded.settings,
                            updated_at = excluded.updated_at",
                    )
                    .bind(provider)
                    .bind(team)
                    .bind(settings)
                    .bind(millis(now))
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn workspace_settings(
                    &self,
                    provider: &str,
                    team: &str,
                ) -> StoreResult<Option<String>> {
                    Ok(sqlx::query_scalar(
                        "SELECT settings FROM workspace_settings WHERE provider = $1 AND team = $2",
                    )
                    .bind(provider)
                    .bind(team)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn insert_request(&self, r: &RequestRecord) -> StoreResult<()> {
                    let views = to_i32(r.answer_views, "answer_views")?;
                    let secs = to_i64(r.answer_expiration.as_secs(), "answer_expiration")?;
                    let r = r.clone();
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                    let res = sqlx::query(
                        "INSERT INTO requests (id, account_id, public_key, verifier, note, label,
                            webhook_url, allow_files, answer_expiration, answer_views, status,
                            created_at, expires_at, notify)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(r.id.to_string())
                    .bind(r.account_id.to_string())
                    .bind(r.public_key.as_bytes().to_vec())
                    .bind(r.verifier.as_bytes().to_vec())
                    .bind(&r.note)
                    .bind(&r.label)
                    .bind(&r.webhook_url)
                    .bind(i32::from(r.allow_files))
                    .bind(secs)
                    .bind(views)
                    .bind(r.status.as_str())
                    .bind(millis(r.created_at))
                    .bind(millis(r.expires_at))
                    .bind(&r.notify)
                    .execute(&mut *conn)
                    .await;
                    match res {
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                            Err(StoreError::IdTaken)
                        }
                        other => other.map(drop).map_err(StoreError::from),
                    }
                    })).await
                }

                async fn request(&self, id: SecretId) -> StoreResult<Option<RequestRecord>> {
                    sqlx::query_as::<_, RequestRow>("SELECT * FROM requests WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_optional(self.reader())
                        .await?
                        .map(RequestRow::into_record)
                        .transpose()
                }

                async fn list_requests(
                    &self,
                    account: AccountId,
                    before: Option<SecretId>,
                    limit: u32,
                ) -> StoreResult<Vec<RequestRecord>> {
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT * FROM requests WHERE account_id = ",
                    );
                    q.push_bind(account.to_string());
                    if let Some(b) = before {
                        q.push(" AND id < ").push_bind(b.to_string());
                    }
                    q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
                    q.build_query_as::<RequestRow>()
                        .fetch_all(self.reader())
                        .await?
                        .into_iter()
                        .map(RequestRow::into_record)
                        .collect()
                }

                async fn delete_request(
                    &self,
                    account: AccountId,
                    id: SecretId,
                    now: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                    // Conditional on `open`: racing an answer, only one of them changes the row
                    // (the answer's own conditional update then matches nothing).
                    let res = sqlx::query(
                        "UPDATE requests SET status = 'deleted', ended_at = $1
                         WHERE id = $2 AND account_id = $3 AND status = 'open'",
                    )
                    .bind(millis(now))
                    .bind(id.to_string())
                    .bind(account.to_string())
                    .execute(&mut *conn)
                    .await?;
                    Ok(res.rows_affected() == 1)
                    })).await
                }

                async fn answer_request(
                    &self,
                    answer: &SecretRecord,
                    now: DateTime<Utc>,
                ) -> StoreResult<AnswerOutcome> {
                    answer.size.map(|v| to_i64(v, "size")).transpose()?;
                    to_i32(answer.views_total, "views")?;
                    let answer = answer.clone();
                    self.write(Unit::Statements, move |conn| Box::pin(async move {
                    let id = answer.id;
                    // One conditional UPDATE decides which answer is kept. Concurrent answers
                    // (from any instance) queue on the write lock (SQLite's single writer,
                    // PostgreSQL's row lock); each one that waited re-checks `status = 'open'`
                    // against the row the previous one committed, so exactly one matches. The
                    // secret is inserted in the same transaction: no answered request without
                    // its answer, and no second answer.
                    let moved = sqlx::query(
                        "UPDATE requests SET status = 'answered', answered_at = $1, ended_at = $1
                         WHERE id = $2 AND status = 'open' AND expires_at > $1",
                    )
                    .bind(millis(now))
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await?;
                    if moved.rows_affected() != 1 {
                        let status: Option<(String,)> =
                            sqlx::query_as("SELECT status FROM requests WHERE id = $1")
                                .bind(id.to_string())
                                .fetch_optional(&mut *conn)
                                .await?;
                        return Ok(match status {
                            Some((s,)) => AnswerOutcome::NotOpen(parse::<RequestStatus>(
                                &s,
                                "requests.status",
                            )?),
                            None => AnswerOutcome::Unknown,
                        });
                    }
                    insert_secrets(&mut *conn, std::slice::from_ref(&answer)).await?;
                    let row: FactsRow = sqlx::query_as(
                        "SELECT account_id, label, views_total, views_used, webhook_url, notify,
                            (SELECT a.webhook_url FROM accounts a WHERE a.id = secrets.account_id) AS account_webhook_url
                         FROM secrets WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .fetch_one(&mut *conn)
                    .await?;
                    let evs = facts_events(
                        id, &row, &[event_type::REQUEST_ANSWERED], None, None, None, now,
                    )?;
                    insert_events(&mut *conn, &evs).await?;
                    Ok(AnswerOutcome::Accepted { events: evs.len() })
                    })).await
                }

                async fn expire_requests(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                    self.write(Unit::Statement, move |conn| Box::pin(async move {
                    let res = sqlx::query(
                        "UPDATE requests SET status = 'expired', ended_at = expires_at
                         WHERE status = 'open' AND expires_at <= $1",
                    )
                    .bind(millis(now))
                    .execute(&mut *conn)
                    .await?;
                    Ok(res.rows_affected())
                    })).await
                }

                async fn claim_bot_event(
                    &self,
                    key: &str,
                    now: DateTime<Utc>,
                    forget_before: DateTime<Utc>,
                ) -> StoreResult<bool> {
                    sqlx::query("DELETE FROM bot_events WHERE seen_at < $1")
                        .bind(millis(forget_before))
                        .execute(self.writer())
                        .await?;
                    // The primary key decides between racing instances: one insert wins.
                    let claimed = sqlx::query(
                        "INSERT INTO bot_events (event_key, seen_at) VALUES ($1, $2)
                         ON CONFLICT (event_key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(millis(now))
                    .execute(self.writer())
                    .await?;
                    Ok(claimed.rows_affected() == 1)
                }
            }
        }
    };
}

pub(super) use store_impl;
