//! Which SQLite writer serves group commit better: the store's own (sqlx-sqlite, one writer task,
//! each statement a round trip to sqlx's worker thread) or rusqlite on a dedicated thread (the
//! whole batch runs there, prepared statements cached, one hop in and one out per write)?
//!
//! Both take the same creates from the same number of concurrent tasks, into the same schema
//! (migrated by the store), with the same pragmas and the same batch bound, and answer each
//! caller only after its batch committed. Figures are printed, never asserted:
//!
//! ```text
//! cargo bench -p seecret-core --bench sqlite_writer            # 32 tasks x 2 000 creates
//! WRITER_TASKS=8 WRITER_CREATES=5000 cargo bench -p seecret-core --bench sqlite_writer
//! ```

#![allow(clippy::expect_used)] // a benchmark: a failed setup step should stop it loudly

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use seecret_core::model::{AccountId, Kind, SecretId, Status};
use seecret_core::store::{
    AccountRecord, SecretRecord, SqliteStore, Store, StoreError, StoreOptions,
};
use tokio::sync::{mpsc, oneshot};

/// The store's own bound, so both writers close batches at the same size.
const MAX_BATCH: usize = 128;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(Utc::now().timestamp_millis())
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn secret(account: AccountId) -> SecretRecord {
    let t = now();
    SecretRecord {
        id: SecretId::new(),
        account_id: account,
        kind: Kind::Text,
        // The size of a sealed one-line password with its envelope header.
        envelope: Some(vec![7; 120]),
        blob_key: None,
        size: None,
        file_name: None,
        label: Some("bench".into()),
        passphrase_hash: None,
        allowed_countries: Vec::new(),
        webhook_url: None,
        notify: None,
        views_total: 1,
        views_used: 0,
        status: Status::Active,
        created_at: t,
        expires_at: t + chrono::Duration::hours(1),
        last_viewed_at: None,
        pp_fail_count: 0,
        pp_fail_window: DateTime::UNIX_EPOCH,
        verifier: None,
        content_version: 0,
        bound_to: None,
        ephemeral_public_key: None,
    }
}

/// A fresh database file with the store's schema and one account; the store is closed again.
async fn prepared(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, AccountId) {
    let path = dir.join(name);
    let store = SqliteStore::open(&path.display().to_string(), &StoreOptions::default())
        .await
        .expect("open the store");
    let account = AccountRecord {
        id: AccountId::new(),
        name: "bench".into(),
        email: None,
        plan: "self-hosted".into(),
        webhook_url: None,
        created_at: now(),
    };
    store
        .insert_account(&account, &[1; 32])
        .await
        .expect("insert the account");
    (path, account.id)
}

/// What one run measured.
struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `tasks` concurrent tasks of `each` creates through `create` and times each one.
async fn drive<F, Fut>(tasks: usize, each: usize, account: AccountId, create: F) -> Figures
where
    F: Fn(SecretRecord) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send,
{
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let create = create.clone();
        handles.push(tokio::spawn(async move {
            let mut took = Vec::with_capacity(each);
            for _ in 0..each {
                let s = secret(account);
                let t = Instant::now();
                create(s).await.expect("create");
                took.push(t.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    let elapsed = start.elapsed();
    all.sort();
    Figures {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// rusqlite on its own thread: takes what is queued (up to [`MAX_BATCH`]), runs it in one
/// transaction with the cached prepared statement, commits, then answers.
fn rusqlite_writer(path: std::path::PathBuf) -> mpsc::Sender<(SecretRecord, Reply)> {
    let (tx, mut rx) = mpsc::channel::<(SecretRecord, Reply)>(4 * MAX_BATCH);
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open with rusqlite");
        conn.busy_timeout(Duration::from_secs(10)).expect("busy");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        )
        .expect("pragmas");
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            let mut results = Vec::with_capacity(batch.len());
            for (s, _) in &batch {
                let mut stmt = conn
                    .prepare_cached(
                        "INSERT INTO secrets (id, account_id, kind, envelope, blob_key, size,
                            file_name, label, passphrase_hash, allowed_countries, webhook_url,
                            notify, views_total, views_used, status, created_at, expires_at,
                            verifier)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0,
                            'active', $14, $15, $16)",
                    )
                    .expect("prepare");
                let r = stmt.execute(rusqlite::params![
                    s.id.to_string(),
                    s.account_id.to_string(),
                    s.kind.as_str(),
                    s.envelope,
                    s.blob_key,
                    s.size.map(|v| v as i64),
                    s.file_name,
                    s.label,
                    s.passphrase_hash,
                    s.allowed_countries.join(","),
                    s.webhook_url,
                    s.notify,
                    s.views_total,
                    s.created_at.timestamp_millis(),
                    s.expires_at.timestamp_millis(),
                    s.verifier.as_ref().map(|w| w.as_bytes().to_vec()),
                ]);
                results.push(
                    r.map(drop)
                        .map_err(|e| StoreError::CommitFailed(e.to_string())),
                );
            }
            let committed = conn.execute_batch("COMMIT");
            for ((_, reply), r) in batch.drain(..).zip(results) {
                let _ = reply.send(match &committed {
                    Ok(()) => r,
                    Err(e) => Err(StoreError::CommitFailed(e.to_string())),
                });
            }
        }
    });
    tx
}

/// sqlx-sqlite, but each batch's creates as one multi-row `INSERT`: one hop to sqlx's worker per
/// batch instead of one per create.
fn sqlx_multirow_writer(pool: sqlx::SqlitePool) -> mpsc::Sender<(SecretRecord, Reply)> {
    use sqlx::{Connection, QueryBuilder, Sqlite};
    let (tx, mut rx) = mpsc::channel::<(SecretRecord, Reply)>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let mut conn = pool.acquire().await.expect("acquire");
            let mut txn = conn.begin().await.expect("begin");
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO secrets (id, account_id, kind, envelope, blob_key, size, file_name,
                    label, passphrase_hash, allowed_countries, webhook_url, notify, views_total,
                    views_used, status, created_at, expires_at, verifier) ",
            );
            q.push_values(batch.iter(), |mut b, (s, _)| {
                b.push_bind(s.id.to_string())
                    .push_bind(s.account_id.to_string())
                    .push_bind(s.kind.as_str())
                    .push_bind(s.envelope.clone())
                    .push_bind(s.blob_key.clone())
                    .push_bind(s.size.map(|v| v as i64))
                    .push_bind(s.file_name.clone())
                    .push_bind(s.label.clone())
                    .push_bind(s.passphrase_hash.clone())
                    .push_bind(s.allowed_countries.join(","))
                    .push_bind(s.webhook_url.clone())
                    .push_bind(s.notify.clone())
                    .push_bind(s.views_total as i32)
                    .push_bind(0)
                    .push_bind("active")
                    .push_bind(s.created_at.timestamp_millis())
                    .push_bind(s.expires_at.timestamp_millis())
                    .push_bind(s.verifier.as_ref().map(|w| w.as_bytes().to_vec()));
            });
            let r = q.build().execute(&mut *txn).await;
            let committed = txn.commit().await;
            let ok = r.is_ok() && committed.is_ok();
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(if ok {
                    Ok(())
                } else {
                    Err(StoreError::CommitFailed("multi-row insert".into()))
                });
            }
        }
    });
    tx
}

/// Queues a create on one of the bench's own writers and waits for its answer.
async fn via(
    writer: &mpsc::Sender<(SecretRecord, Reply)>,
    s: SecretRecord,
) -> Result<(), StoreError> {
    let (tx, rx) = oneshot::channel();
    writer
        .send((s, tx))
        .await
        .map_err(|_| StoreError::WriterStopped)?;
    rx.await.map_err(|_| StoreError::WriterStopped)?
}

#[tokio::main]
async fn main() {
    let tasks = knob("WRITER_TASKS", 32);
    let each = knob("WRITER_CREATES", 2000);
    let dir = std::env::temp_dir().join(format!("seecret-writer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!(
        "{tasks} tasks x {each} creates, batches of at most {MAX_BATCH}, synchronous = NORMAL, {} worker threads",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    for round in 1..=2 {
        let (path, account) = prepared(&dir, &format!("sqlx-{round}.db")).await;
        let store = Arc::new(
            SqliteStore::open(&path.display().to_string(), &StoreOptions::default())
                .await
                .expect("reopen"),
        );
        let sqlx = drive(tasks, each, account, move |s| {
            let store = store.clone();
            async move { store.insert_secret(&s).await }
        })
        .await;

        let (path, account) = prepared(&dir, &format!("rusqlite-{round}.db")).await;
        let writer = rusqlite_writer(path);
        let rusqlite = drive(tasks, each, account, move |s| {
            let writer = writer.clone();
            async move { via(&writer, s).await }
        })
        .await;

        let (path, account) = prepared(&dir, &format!("multirow-{round}.db")).await;
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .pragma("secure_delete", "ON"),
            )
            .await
            .expect("pool");
        let writer = sqlx_multirow_writer(pool);
        let multirow = drive(tasks, each, account, move |s| {
            let writer = writer.clone();
            async move { via(&writer, s).await }
        })
        .await;

        for (name, f) in [
            ("sqlx-sqlite (the store)", &sqlx),
            ("rusqlite thread", &rusqlite),
            ("sqlx multi-row INSERT", &multirow),
        ] {
            println!(
                "round {round}  {name:<24} {:>8.0} creates/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
                f.rate,
                f.p50.as_secs_f64() * 1e3,
                f.p99.as_secs_f64() * 1e3
            );
        }
        println!(
            "round {round}  rusqlite / store: {:.2}x   multi-row / store: {:.2}x creates/s",
            rusqlite.rate / sqlx.rate,
            multirow.rate / sqlx.rate
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
