//! The background half of [`store_impl!`](super::sql::store_impl): what the sweeper and the
//! delivery worker run (expiry, blob clean-up, purge; outbox claims and attempts), and the
//! events a lifecycle change writes in its own transaction. [`jobs_fns!`] expands to a module
//! `jobs` of free functions over the backend's store type.

/// Expands to `mod jobs`, for `store_impl!` (same arguments).
macro_rules! jobs_fns {
    (store: $store:ident, db: $db:ty, row_lock: $row_lock:literal) => {
        mod jobs {
            use std::collections::HashSet;

            use chrono::{DateTime, Utc};
            use sqlx::QueryBuilder;

            use super::$store;
            use $crate::api::WebhookDelivery;
            use $crate::model::{AccountId, PlatformIdentity, SecretId};
            use $crate::store::rows::{
                ClaimRow, DeliveryRow, EndedRow, FactsRow, count, millis, parse, time,
            };
            use $crate::store::{Attempt, OutboxRow, StoreResult};
            use $crate::outbox::{EventFacts, NewEvent, event_type, events};

            type Conn = <$db as sqlx::Database>::Connection;

            /// The events `kinds` of secret `id`, to the secret's webhook or else its account's.
            pub(super) fn facts_events(
                id: SecretId,
                row: &FactsRow,
                kinds: &[&'static str],
                reason: Option<&str>,
                country: Option<&str>,
                viewer: Option<&PlatformIdentity>,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<NewEvent>> {
                let account_id: AccountId = parse(&row.account_id, "secrets.account_id")?;
                // A secret's own webhook replaces its account's.
                let account_webhook = match row.webhook_url {
                    Some(_) => None,
                    None => row.account_webhook_url.as_deref(),
                };
                let views = count(row.views_total, "secrets.views_total")?;
                let used = count(row.views_used, "secrets.views_used")?;
                let facts = EventFacts {
                    account_id,
                    secret_id: id,
                    label: row.label.as_deref(),
                    views,
                    views_remaining: views.saturating_sub(used),
                    country,
                    viewer,
                    secret_webhook: row.webhook_url.as_deref(),
                    account_webhook,
                    notify: row.notify.as_deref(),
                };
                Ok(events(&facts, kinds, reason, now))
            }

            /// Writes events to the outbox, in the caller's transaction, in one statement.
            pub(super) async fn insert_events(
                conn: &mut Conn,
                evs: &[NewEvent],
            ) -> StoreResult<()> {
                if evs.is_empty() {
                    return Ok(());
                }
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO outbox (id, account_id, secret_id, event_type, payload,
                        target_url, created_at, next_attempt_at) ",
                );
                q.push_values(evs, |mut b, e| {
                    b.push_bind(&e.id)
                        .push_bind(e.account_id.to_string())
                        .push_bind(e.secret_id.to_string())
                        .push_bind(e.kind)
                        .push_bind(&e.payload)
                        .push_bind(&e.target_url)
                        .push_bind(millis(e.created_at))
                        .push_bind(millis(e.created_at));
                });
                q.build().execute(&mut *conn).await?;
                Ok(())
            }

            pub(super) async fn claim_due_events(
                s: &$store,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: u32,
                per_account: u32,
            ) -> StoreResult<Vec<OutboxRow>> {
                let token = uuid::Uuid::new_v4().to_string();
                let mut tx = s.writer().begin().await?;
                // Two claims counting an account's live leases side by side would each see
                // room and together exceed the cap, so claims take turns (see
                // `serialize_claims`); the UPDATE, run after that, sees every earlier claim.
                // The row lock keeps a claim from waiting on rows an attempt is recording;
                // a row leased meanwhile fails the re-checked lease condition. The lease is
                // what lets a crashed worker's events come back.
                <$store>::serialize_claims(&mut tx).await?;
                let rows: Vec<ClaimRow> = sqlx::query_as(concat!(
                    "UPDATE outbox SET lease_until = $1, lease_token = $2
                 WHERE id IN (
                    SELECT id FROM outbox
                    WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < $3)
                      AND id IN (
                        WITH busy AS (
                            SELECT account_id, COUNT(*) AS n FROM outbox
                            WHERE state = 'pending' AND lease_until >= $3
                            GROUP BY account_id),
                        due AS (
                            SELECT o.id, o.next_attempt_at, COALESCE(b.n, 0) AS busy,
                                ROW_NUMBER() OVER (PARTITION BY o.account_id
                                                   ORDER BY o.next_attempt_at, o.id) AS nth
                            FROM outbox o LEFT JOIN busy b ON b.account_id = o.account_id
                            WHERE o.state = 'pending' AND o.next_attempt_at <= $3
                              AND (o.lease_until IS NULL OR o.lease_until < $3))
                        SELECT id FROM due WHERE busy + nth <= $5
                        ORDER BY next_attempt_at, id LIMIT $4)",
                    $row_lock,
                    ")
                 RETURNING id, account_id, event_type, payload, target_url, attempts"
                ))
                .bind(millis(lease_until))
                .bind(&token)
                .bind(millis(now))
                .bind(i64::from(limit))
                .bind(i64::from(per_account))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|r| r.into_outbox_row(&token))
                    .collect()
            }

            pub(super) async fn record_attempt(
                s: &$store,
                row: &OutboxRow,
                now: DateTime<Utc>,
                attempt: Attempt,
            ) -> StoreResult<()> {
                let mut tx = s.writer().begin().await?;
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
                    Attempt::Failed { status, error } => {
                        ("failed", *status, Some(error.clone()), None)
                    }
                };
                // The lease token in the WHERE clause: a worker whose lease ran out and
                // whose event was claimed by another worker records nothing.
                let res = sqlx::query(
                    "UPDATE outbox SET state = $1, attempts = attempts + 1,
                    last_attempt_at = $2, last_status = $3, last_error = $4,
                    next_attempt_at = COALESCE($5, next_attempt_at),
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
                    // 410 means "stop": remove the URL wherever the account set it, and
                    // drop what is still queued for it.
                    let account = row.account_id.to_string();
                    for sql in [
                        "UPDATE accounts SET webhook_url = NULL WHERE id = $1 AND webhook_url = $2",
                        "UPDATE secrets SET webhook_url = NULL
                         WHERE account_id = $1 AND webhook_url = $2",
                    ] {
                        sqlx::query(sql)
                            .bind(&account)
                            .bind(&row.target_url)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query(
                        "UPDATE outbox SET state = 'failed',
                        last_error = 'webhook URL removed after 410 Gone'
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

            pub(super) async fn deliveries(
                s: &$store,
                secret: SecretId,
            ) -> StoreResult<Vec<WebhookDelivery>> {
                sqlx::query_as::<_, DeliveryRow>(
                    "SELECT id, event_type, state, attempts, created_at, last_attempt_at,
                    last_status, last_error, next_attempt_at
                 FROM outbox WHERE target_url NOT LIKE 'internal:%' AND secret_id = $1
                 ORDER BY created_at DESC, id DESC LIMIT 50",
                )
                .bind(secret.to_string())
                .fetch_all(s.reader())
                .await?
                .into_iter()
                .map(DeliveryRow::into_delivery)
                .collect()
            }

            pub(super) async fn redeliver(
                s: &$store,
                account: AccountId,
                event_id: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let res = sqlx::query(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1,
                    lease_until = NULL, lease_token = NULL
                 WHERE id = $2 AND account_id = $3 AND state != 'pending'",
                )
                .bind(millis(now))
                .bind(event_id)
                .bind(account.to_string())
                .execute(s.writer())
                .await?;
                Ok(res.rows_affected() == 1)
            }

            pub(super) async fn expire_due(
                s: &$store,
                now: DateTime<Utc>,
                limit: u32,
            ) -> StoreResult<Vec<(SecretId, Option<String>)>> {
                let mut tx = s.writer().begin().await?;
                // Sweepers on several instances take disjoint rows (see `row_lock`), and a row
                // committed as no longer active by the time it is locked fails the re-checked
                // status. So each expiry yields exactly one event. The batch is picked once, in
                // a materialised CTE: as an `IN (subquery)`, PostgreSQL may rescan the subquery
                // per row and so expire more than `limit`.
                let rows: Vec<EndedRow> = sqlx::query_as(concat!(
                    "WITH due AS MATERIALIZED (
                        SELECT id FROM secrets WHERE status = 'active' AND expires_at <= $1
                        LIMIT $2",
                    $row_lock,
                    ")
                     UPDATE secrets SET status = 'expired', envelope = NULL, ended_at = $1
                     WHERE id IN (SELECT id FROM due) AND status = 'active'
                     RETURNING id, account_id, label, views_total, views_used, webhook_url,
                        notify, blob_key, (SELECT a.webhook_url FROM accounts a WHERE a.id = secrets.account_id) AS account_webhook_url"
                ))
                .bind(millis(now))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in rows {
                    let id: SecretId = parse(&row.id, "secrets.id")?;
                    let evs = facts_events(id, &row.facts, &[event_type::EXPIRED], None, None, None, now)?;
                    insert_events(&mut tx, &evs).await?;
                    ids.push((id, row.blob_key));
                }
                tx.commit().await?;
                Ok(ids)
            }

            pub(super) async fn leftover_blobs(
                s: &$store,
                before: DateTime<Utc>,
                limit: u32,
            ) -> StoreResult<Vec<(SecretId, String)>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT id, blob_key FROM secrets
                     WHERE blob_key IS NOT NULL AND status != 'active' AND ended_at < $1 LIMIT $2",
                )
                .bind(millis(before))
                .bind(i64::from(limit))
                .fetch_all(s.reader())
                .await?;
                rows.into_iter()
                    .map(|(id, key)| Ok((parse(&id, "secrets.id")?, key)))
                    .collect()
            }

            pub(super) async fn clear_blob(
                s: &$store,
                id: SecretId,
                blob_key: &str,
            ) -> StoreResult<()> {
                sqlx::query("UPDATE secrets SET blob_key = NULL WHERE id = $1 AND blob_key = $2")
                    .bind(id.to_string())
                    .bind(blob_key)
                    .execute(s.writer())
                    .await?;
                Ok(())
            }

            pub(super) async fn referenced_blobs(
                s: &$store,
                keys: &[String],
            ) -> StoreResult<HashSet<String>> {
                let mut found = HashSet::new();
                // Chunks keep each statement under SQLite's bound-parameter limit.
                for chunk in keys.chunks(500) {
                    let mut q =
                        QueryBuilder::<$db>::new("SELECT blob_key FROM secrets WHERE blob_key IN (");
                    let mut list = q.separated(", ");
                    for k in chunk {
                        list.push_bind(k);
                    }
                    q.push(")");
                    let rows: Vec<(String,)> = q.build_query_as().fetch_all(s.reader()).await?;
                    found.extend(rows.into_iter().map(|(k,)| k));
                }
                Ok(found)
            }

            /// The outbox backlog and the files held (the pools are the caller's part).
            pub(super) async fn gauges(s: &$store) -> StoreResult<$crate::store::StoreGauges> {
                let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'",
                )
                .fetch_one(s.reader())
                .await?;
                // SUM of a BIGINT is NUMERIC in PostgreSQL: cast back.
                let (blobs, bytes): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT)
                     FROM secrets WHERE blob_key IS NOT NULL",
                )
                .fetch_one(s.reader())
                .await?;
                let unsigned = |v: i64, what: &'static str| {
                    u64::try_from(v).map_err(|_| {
                        $crate::store::StoreError::corrupt(what, format!("negative: {v}"))
                    })
                };
                Ok($crate::store::StoreGauges {
                    outbox_pending: unsigned(pending, "outbox")?,
                    outbox_oldest: oldest.map(|t| time(t, "outbox.created_at")).transpose()?,
                    blobs: unsigned(blobs, "secrets.blob_key")?,
                    blob_bytes: unsigned(bytes, "secrets.size")?,
                    pools: Vec::new(),
                })
            }

            pub(super) async fn purge_ended(s: &$store, cutoff: DateTime<Utc>) -> StoreResult<u64> {
                sqlx::query("DELETE FROM outbox WHERE state != 'pending' AND created_at < $1")
                    .bind(millis(cutoff))
                    .execute(s.writer())
                    .await?;
                sqlx::query("DELETE FROM requests WHERE ended_at IS NOT NULL AND ended_at < $1")
                    .bind(millis(cutoff))
                    .execute(s.writer())
                    .await?;
                // Rows whose blob is still in the store stay until it is gone, so none is
                // forgotten.
                let res = sqlx::query(
                    "DELETE FROM secrets
                     WHERE ended_at IS NOT NULL AND ended_at < $1 AND blob_key IS NULL",
                )
                .bind(millis(cutoff))
                .execute(s.writer())
                .await?;
                Ok(res.rows_affected())
            }
        }
    };
}

pub(super) use jobs_fns;
