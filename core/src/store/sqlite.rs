//! The embedded backend: one SQLite file in WAL mode with `secure_delete`, so erased envelopes are
//! overwritten on disk rather than left in free pages.
//!
//! All writes go through a single connection: SQLite has one writer anyway, and queueing in the
//! pool is cheaper and fairer than `SQLITE_BUSY` retries. Reads use their own small pool. The
//! single writer is also what makes the shared statements exact here: a conditional `UPDATE`
//! and everything else in its transaction run with no other write in between.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};
use tokio::sync::mpsc;

use super::batch::GroupCommit;
use super::rows::ClaimedRow;
use super::sql::claim_update;
use super::{SecretRecord, SqliteSynchronous, StoreOptions, StoreResult, Unit};
use crate::model::SecretId;

/// How long the WAL flusher lets commits gather after one wakes it.
const FLUSH_GATHER: Duration = Duration::from_millis(10);

/// Flushes the WAL file to disk soon after batches commit, off the writer, so that the writer's
/// automatic checkpoint finds little left to flush.
///
/// Why: with `synchronous = NORMAL` a commit writes its pages to the WAL without an fsync, and the
/// automatic checkpoint (inside the commit that takes the WAL past 1 000 pages, on the single
/// writer) fsyncs the WAL before copying it: 4 MB at once, five times a second at 1 000 req/s,
/// which held every write queued behind it for up to 23 ms. That was the fixed-rate latency tail
/// (docs/performance.md, "Checkpoints and the WAL's fsync"). Here the same bytes reach the disk a
/// few at a time on a blocking thread, through a file handle of our own (an fsync flushes the
/// file, whichever handle asks); the checkpoint itself, and when the WAL starts again from its
/// beginning, stay SQLite's own. A checkpoint on a connection beside the writer was tried twice:
/// it keeps the writer from its own checkpoint's lock, and under load the WAL grows (docs).
async fn flush_wal_behind(wal: PathBuf, mut commits: mpsc::Receiver<()>) {
    // Ends with the writer task, which holds the other end.
    while commits.recv().await.is_some() {
        tokio::time::sleep(FLUSH_GATHER).await;
        let path = wal.clone();
        let flushed = tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
            Ok(file) => file.sync_data(),
            // Between a checkpoint that removed it and the next write: nothing to flush.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "flushing the WAL failed; the next checkpoint flushes it");
            }
            Err(e) => tracing::warn!(error = %e, "the WAL flush task failed"),
        }
    }
}

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) writer: SqlitePool,
    pub(super) reader: SqlitePool,
    pub(super) batch: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`, `sqlite:path` or a bare
    /// path) and runs pending migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.sqlite_synchronous {
                SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
                SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON");
        // No `test_before_acquire`: its ping is one more round trip to the connection's worker
        // thread on every read and every batch, and a local file has no link to lose.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.sqlite_readers)
            .test_before_acquire(false)
            .connect_with(opts.clone().read_only(true))
            .await?;
        let mut wal = opts.get_filename().as_os_str().to_owned();
        wal.push("-wal");
        let (committed, commits) = mpsc::channel(1);
        tokio::spawn(flush_wal_behind(PathBuf::from(wal), commits));
        let batch = GroupCommit::start(
            writer.clone(),
            |conn, rows| Box::pin(shared::insert_secrets(conn, rows)),
            committed,
        );
        Ok(Self {
            writer,
            reader,
            batch,
        })
    }

    /// Moves the WAL's content into the database file and truncates it, so erased envelopes do
    /// not linger in old WAL frames.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        // SQLite only. On the writer: no write can slip in between. Readers still on an old
        // snapshot make it stop short (busy = 1); the next sweep's checkpoint finishes the job.
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.writer)
            .await?;
        if row.try_get::<i64, _>(0)? != 0 {
            tracing::debug!("WAL checkpoint blocked by a reader; retried at the next sweep");
        }
        Ok(())
    }

    /// The single writer connection and the readers.
    fn pool_use(&self) -> Vec<super::PoolUse> {
        vec![
            super::PoolUse::of("writer", &self.writer),
            super::PoolUse::of("reader", &self.reader),
        ]
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// A write a request makes, committed with the others queued beside it.
    async fn write<T, F>(&self, unit: Unit, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        self.batch.write(unit, write).await
    }

    /// A new secret's row, in the next batch (with the creates queued beside it, one statement).
    async fn insert(&self, secret: SecretRecord) -> StoreResult<()> {
        self.batch.insert(secret).await
    }

    /// A view claim's savepoint is opened by its own first query.
    const CLAIM_UNIT: Unit = Unit::OpensSavepoint;

    /// The whole view claim in one query, so one round trip to sqlx's worker thread rather than
    /// one per statement (that hop is what bounds reveals: docs/performance.md): the write's
    /// savepoint, the claim, its `views` row, and for the last view the erasure, which runs
    /// after RETURNING has handed back the content and before anyone else can read the row (the
    /// single writer). `changes()` is the row count of the statement before: the `views` row
    /// goes in only if the claim matched, the erasure only if that row went in.
    async fn claim_row(
        conn: &mut SqliteConnection,
        now_ms: i64,
        id: SecretId,
        content_version: i64,
        country: Option<&str>,
        viewer: Option<&str>,
    ) -> StoreResult<Option<ClaimedRow>> {
        let rows: Vec<ClaimedRow> = sqlx::query_as(concat!(
            "SAVEPOINT w; ",
            claim_update!(),
            "; INSERT INTO views (secret_id, at, country, viewer) SELECT $2, $1, $4, $5
               WHERE changes() = 1;
             UPDATE secrets SET envelope = NULL
              WHERE id = $2 AND status = 'consumed' AND changes() = 1"
        ))
        .bind(now_ms)
        .bind(id.to_string())
        .bind(content_version)
        .bind(country)
        .bind(viewer)
        // Not `fetch_optional`: sqlx stops a query at its first row when asked for one, and the
        // statements after the claim would not run.
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().next())
    }

    /// Outbox claims are already serialised: they run on the single writer.
    async fn serialize_claims(_: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }

    async fn flush(&self) -> StoreResult<()> {
        self.checkpoint().await
    }
}

super::sql::store_impl! {
    store: SqliteStore,
    db: sqlx::Sqlite,
    // SQLite has no row locks (no `FOR UPDATE`); the single writer already gives each batch
    // job's UPDATE the rows to itself.
    row_lock: "",
    // The implicit rowid is the insertion order.
    view_order: "rowid",
}
