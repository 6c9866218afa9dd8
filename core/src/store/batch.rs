//! Group commit for SQLite's single writer: every write a request makes (create, view claim with
//! its outbox rows, delete, update, passphrase attempt, denial) is queued here, and one task
//! commits whatever is queued in one transaction.
//!
//! Why: SQLite has one writer, so concurrent writes queue anyway; committed one by one, each pays
//! its own `BEGIN`/`COMMIT`, WAL append and (with `synchronous = FULL`) fsync. Batched, a burst
//! of N writes pays them once.
//!
//! The guarantees each caller relies on:
//! - **Isolation of failures**: each write of several statements runs inside its own
//!   `SAVEPOINT`; a write that fails is rolled back to it, and its neighbours commit as if it had
//!   never run. A one-statement write needs none: SQLite undoes a failed statement by itself.
//! - **Its own result**: a caller gets exactly what its write returned, or the commit's error.
//! - **Nothing acknowledged before its commit**: results are handed out only after `COMMIT`
//!   returned. A crash before that loses the batch, and no caller was told it succeeded.
//! - **Order**: writes run in the order they were queued, one after the other, on one
//!   connection: each sees the effect of the ones before it, as with one commit per write.
//!
//! - **Creates in one statement**: consecutive creates in a batch go to the database as one
//!   multi-row `INSERT` (one round trip to sqlx's worker thread instead of one each, which is
//!   what bounded the writer: `cargo bench -p seecret-core --bench sqlite_writer`). Should that
//!   statement fail on a row (a taken id), each create of the group runs again on its own, so
//!   only that one fails.
//!
//! The batch closes when the queue is empty (after letting the tasks woken alongside the first
//! write queue theirs) or at [`MAX_BATCH`] writes; so an idle server commits a lone write at once,
//! and a busy one commits at most one batch behind. A batch of one write is that write's own
//! transaction, with no `BEGIN`/`COMMIT` around it (see `commit_alone`).

use std::collections::VecDeque;

use futures::future::BoxFuture;
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{SecretRecord, StoreError, StoreResult, Unit};

/// Most writes in one transaction: bounds how long a batch holds the write lock, and how many
/// callers one failed commit fails.
pub(super) const MAX_BATCH: usize = 128;

/// Writes waiting for the writer task; past it, callers wait to queue (backpressure).
const QUEUE: usize = 4 * MAX_BATCH;

/// What a queued write hands back once it ran: how to answer its caller, given the commit's
/// outcome, and whether the connection is still fit to run the rest of the batch.
struct Ran {
    answer: Answer,
    healthy: bool,
}

/// Hands a write's result to its caller, given the commit's outcome.
type Answer = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A queued write. Called with the batch's transaction, it runs; called with `None` (the batch
/// could not begin), it only prepares the answer, which then carries the batch's error.
type Job = Box<dyn for<'c> FnOnce(Option<&'c mut SqliteConnection>) -> BoxFuture<'c, Ran> + Send>;

/// Stores new secrets' rows in one statement, on the batch's transaction.
pub(super) type InsertRows =
    for<'c> fn(&'c mut SqliteConnection, &'c [SecretRecord]) -> BoxFuture<'c, StoreResult<()>>;

/// What waits in the queue: any write, or a create (which the writer groups with its
/// neighbours).
enum Queued {
    Write(Job),
    Insert(Box<SecretRecord>, oneshot::Sender<StoreResult<()>>),
}

/// The handle writes are queued on. Cloning it shares the one writer task.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Queued>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer task, which takes `writer`'s connection for each batch (so jobs that
    /// use the pool directly, like the sweeper's, take turns with batches), and tells
    /// `committed` after each batch (a full channel already holds the news).
    pub(super) fn start(
        writer: SqlitePool,
        insert_rows: InsertRows,
        committed: mpsc::Sender<()>,
    ) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(writer, insert_rows, rx, committed));
        Self { jobs }
    }

    /// Stores a new secret's row in the next batch and returns once the batch committed.
    pub(super) async fn insert(&self, secret: SecretRecord) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Queued::Insert(Box::new(secret), tx))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Runs `write` in the next batch and returns its result once the batch committed; in a
    /// savepoint of its own if it is several statements.
    pub(super) async fn write<T, F>(&self, unit: Unit, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = match (conn, unit) {
                    (Some(conn), Unit::Statement) => Some(write(conn).await),
                    (Some(conn), Unit::Statements) => Some(in_savepoint(conn, false, write).await),
                    (Some(conn), Unit::OpensSavepoint) => {
                        Some(in_savepoint(conn, true, write).await)
                    }
                    (None, _) => None,
                };
                // A failure of the database itself (I/O, a full disk) may have ended the whole
                // transaction; a rule the write checked (a taken id, a missing row) has not.
                let healthy = result.as_ref().is_none_or(leaves_transaction_usable);
                Ran {
                    answer: answer(result, tx),
                    healthy,
                }
            })
        });
        self.jobs
            .send(Queued::Write(job))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// The savepoint a write of several statements runs in: `SAVEPOINT w` (SQLite lets one name
/// nest; each write releases its own before the next one runs). A write whose unit is
/// [`Unit::OpensSavepoint`] starts its first query with the same text (`SqliteStore::claim_row`).
const SAVEPOINT: &str = "SAVEPOINT w";

/// Runs `write` inside a savepoint of the batch's transaction (opened here, or by `write`'s first
/// query if `opened_by_write`): released if it succeeds, rolled back to if it fails, so a failed
/// write leaves nothing behind.
async fn in_savepoint<T, F>(
    conn: &mut SqliteConnection,
    opened_by_write: bool,
    write: F,
) -> StoreResult<T>
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>,
{
    // Plain statements rather than sqlx's nested `begin`, so that a write can open the
    // savepoint in its own first query.
    if !opened_by_write {
        sqlx::raw_sql(SAVEPOINT).execute(&mut *conn).await?;
    }
    match write(&mut *conn).await {
        Ok(v) => {
            sqlx::raw_sql("RELEASE w").execute(&mut *conn).await?;
            Ok(v)
        }
        Err(e) => {
            // If `write` failed on its very first statement, the `SAVEPOINT` itself, there is
            // none to go back to, and this fails too; that failure was the database's own,
            // which ends the batch either way.
            sqlx::raw_sql("ROLLBACK TO w; RELEASE w")
                .execute(&mut *conn)
                .await?;
            Err(e)
        }
    }
}

/// How to answer a caller whose write gave `result` (`None`: never ran), once the batch's commit
/// gave its outcome.
fn answer<T: Send + 'static>(
    result: Option<StoreResult<T>>,
    tx: oneshot::Sender<StoreResult<T>>,
) -> Answer {
    Box::new(move |committed| {
        let answer = match (result, committed) {
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StoreError::CommitFailed(e.to_string())),
            (None, Ok(())) => Err(StoreError::CommitFailed("not run".into())),
        };
        // The caller may have gone (its request was cancelled): the write stands all the
        // same, as a committed write does.
        let _ = tx.send(answer);
    })
}

/// Whether the transaction can go on after a write gave `result`: a failure of the database
/// itself (I/O, a full disk) may have ended it; a rule the write checked (a taken id, a missing
/// row) has not.
fn leaves_transaction_usable<T>(result: &StoreResult<T>) -> bool {
    !matches!(result, Err(StoreError::Database(e)) if !is_row_level(e))
}

/// Whether a database error concerns the rows of one statement (a constraint), leaving the
/// transaction usable.
fn is_row_level(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::RowNotFound)
        || matches!(e, sqlx::Error::Database(d) if d.is_unique_violation()
            || d.is_foreign_key_violation() || d.is_check_violation())
}

async fn run(
    writer: SqlitePool,
    insert_rows: InsertRows,
    mut rx: mpsc::Receiver<Queued>,
    committed: mpsc::Sender<()>,
) {
    let mut queued: VecDeque<Queued> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match rx.recv().await {
                Some(job) => queued.push_back(job),
                None => return,
            }
            // The requests that arrived with this one are being polled right now; let them
            // queue their writes before the batch closes.
            tokio::task::yield_now().await;
        }
        while queued.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => queued.push_back(job),
                Err(_) => break,
            }
        }
        commit_batch(&writer, insert_rows, &mut queued).await;
        // Full: a flush is already due, and will take this batch's pages too.
        let _ = committed.try_send(());
    }
}

/// Runs up to [`MAX_BATCH`] of `queued` in one transaction and answers their callers. Writes
/// behind one that broke the transaction stay queued for the next batch; if the batch cannot
/// even begin (the database is away), every queued write is answered with that error rather
/// than left waiting.
async fn commit_batch(writer: &SqlitePool, insert_rows: InsertRows, queued: &mut VecDeque<Queued>) {
    let mut conn = match writer.acquire().await {
        Ok(conn) => conn,
        Err(e) => return refuse_all(queued, &e.into()).await,
    };
    if queued.len() == 1
        && let Some(lone) = queued.pop_front()
    {
        return commit_alone(&mut conn, insert_rows, lone).await;
    }
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return refuse_all(queued, &e.into()).await,
    };
    let mut answers = Vec::new();
    while answers.len() < MAX_BATCH {
        let healthy = match queued.pop_front() {
            None => break,
            Some(Queued::Write(job)) => {
                let ran = job(Some(&mut tx)).await;
                answers.push(ran.answer);
                ran.healthy
            }
            Some(Queued::Insert(first, reply)) => {
                let mut rows = vec![*first];
                let mut replies = vec![reply];
                while answers.len() + rows.len() < MAX_BATCH {
                    match queued.pop_front() {
                        Some(Queued::Insert(row, reply)) => {
                            rows.push(*row);
                            replies.push(reply);
                        }
                        // Not a create: it runs after this group, in order.
                        Some(other) => {
                            queued.push_front(other);
                            break;
                        }
                        None => break,
                    }
                }
                insert_group(&mut tx, insert_rows, rows, replies, &mut answers).await
            }
        };
        if !healthy {
            break;
        }
    }
    let outcome: StoreResult<()> = tx.commit().await.map_err(StoreError::from);
    if let Err(e) = &outcome {
        tracing::warn!(error = %e, writes = answers.len(), "a batch of writes failed to commit");
    }
    for answer in answers {
        answer(outcome.as_ref().map(|_| ()));
    }
}

/// Runs a write that has the batch to itself as its own transaction, without `BEGIN` and
/// `COMMIT`: one statement commits by itself, and a write of several opens its savepoint outside
/// any transaction, which makes the savepoint the transaction and its `RELEASE` the commit. At a
/// moderate load most batches are one write, and this takes two of the round trips to sqlx's
/// worker thread off each (a create: one instead of three; a view claim: two instead of four).
async fn commit_alone(conn: &mut SqliteConnection, insert_rows: InsertRows, lone: Queued) {
    let (reply, healthy) = match lone {
        Queued::Write(job) => {
            let ran = job(Some(&mut *conn)).await;
            (ran.answer, ran.healthy)
        }
        Queued::Insert(row, reply) => {
            let result = insert_rows(&mut *conn, std::slice::from_ref(&*row)).await;
            let healthy = leaves_transaction_usable(&result);
            (answer(Some(result), reply), healthy)
        }
    };
    if !healthy {
        // The database failed under the write, possibly between its savepoint and the release
        // that would have committed it: end whatever is left open, so the next batch can begin.
        // With nothing open, SQLite refuses the ROLLBACK, which is what it should do.
        if let Err(e) = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await {
            tracing::debug!(error = %e, "no transaction left open after a failed write");
        }
    }
    // Its result is its commit's: a write that returned has committed, one that failed has not.
    reply(Ok(()));
}

/// Inserts a group of consecutive creates in one statement, or each on its own if the group's
/// statement failed on a row, and queues their answers. Returns whether the transaction is
/// still usable.
async fn insert_group(
    conn: &mut SqliteConnection,
    insert_rows: InsertRows,
    rows: Vec<SecretRecord>,
    replies: Vec<oneshot::Sender<StoreResult<()>>>,
    answers: &mut Vec<Answer>,
) -> bool {
    let together = insert_rows(conn, &rows).await;
    let healthy = leaves_transaction_usable(&together);
    match together {
        Ok(()) => {
            for reply in replies {
                answers.push(answer(Some(Ok(())), reply));
            }
            return true;
        }
        Err(e) if rows.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                answers.push(answer(Some(Err(e)), reply));
            }
            return healthy;
        }
        // The database itself failed: no row went in, and none would now.
        Err(e) if !healthy => {
            for reply in replies {
                answers.push(answer(
                    Some(Err(StoreError::CommitFailed(e.to_string()))),
                    reply,
                ));
            }
            return false;
        }
        Err(_) => {}
    }
    // SQLite undid the failed statement by itself: none of the group's rows is in. Each runs
    // again alone, so only the row at fault fails.
    for (row, reply) in rows.iter().zip(replies) {
        let result = insert_rows(conn, std::slice::from_ref(row)).await;
        let healthy = leaves_transaction_usable(&result);
        answers.push(answer(Some(result), reply));
        if !healthy {
            return false;
        }
    }
    true
}

async fn refuse_all(queued: &mut VecDeque<Queued>, e: &StoreError) {
    tracing::warn!(error = %e, writes = queued.len(), "a batch of writes could not begin");
    while let Some(job) = queued.pop_front() {
        match job {
            Queued::Write(job) => (job(None).await.answer)(Err(e)),
            Queued::Insert(_, reply) => answer::<()>(None, reply)(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{SqliteStore, StoreOptions};

    async fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("seecret-batch-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("seecret.db").display());
        (
            SqliteStore::open(&url, &StoreOptions::default())
                .await
                .unwrap(),
            dir,
        )
    }

    #[tokio::test]
    async fn one_failing_write_in_a_batch_leaves_its_neighbours_committed() {
        let (store, dir) = store().await;
        let batch = Arc::new(store.batch.clone());
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .execute(&store.writer)
            .await
            .unwrap();
        // 200 concurrent writes of two rows each; every fifth fails at its second row, after
        // its first went in: the savepoint must take that first row back out. Every other
        // write opens the savepoint itself, in one query with both rows, as the SQLite view
        // claim does.
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let batch = batch.clone();
            let second = if i % 5 == 4 { i } else { 1000 + i };
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    return batch
                        .write(Unit::OpensSavepoint, move |c| {
                            Box::pin(async move {
                                sqlx::query(
                                    "SAVEPOINT w; INSERT INTO t (k) VALUES ($1);
                                     INSERT INTO t (k) VALUES ($2)",
                                )
                                .bind(i)
                                .bind(second)
                                .execute(&mut *c)
                                .await?;
                                Ok(i)
                            })
                        })
                        .await;
                }
                batch
                    .write(Unit::Statements, move |c| {
                        Box::pin(async move {
                            for k in [i, second] {
                                sqlx::query("INSERT INTO t (k) VALUES ($1)")
                                    .bind(k)
                                    .execute(&mut *c)
                                    .await?;
                            }
                            Ok(i)
                        })
                    })
                    .await
            }));
        }
        let mut ok = 0;
        let mut taken = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Database(e)) if is_row_level(&e) => taken += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!((ok, taken, rows), (160, 40, 320));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn lone_writes_commit_on_their_own_and_a_failed_one_leaves_nothing_open() {
        let (store, dir) = store().await;
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .execute(&store.writer)
            .await
            .unwrap();
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM t")
                .fetch_one(&store.reader)
                .await
                .unwrap()
        };
        // One write at a time, each awaited: every batch is a lone write, with no BEGIN/COMMIT
        // around it. Each kind of write, then one that fails after its first row went in.
        let two_rows = |a: i64, b: i64, unit: Unit| {
            let batch = store.batch.clone();
            async move {
                batch
                    .write(unit, move |c| {
                        Box::pin(async move {
                            let sql = if unit == Unit::OpensSavepoint {
                                "SAVEPOINT w; INSERT INTO t (k) VALUES ($1); INSERT INTO t (k) VALUES ($2)"
                            } else {
                                "INSERT INTO t (k) VALUES ($1); INSERT INTO t (k) VALUES ($2)"
                            };
                            sqlx::query(sql).bind(a).bind(b).execute(&mut *c).await?;
                            Ok(())
                        })
                    })
                    .await
            }
        };
        two_rows(1, 2, Unit::Statements).await.unwrap();
        two_rows(3, 4, Unit::OpensSavepoint).await.unwrap();
        // A reader sees them: they committed, and were answered only then.
        assert_eq!(count().await, 4);
        for unit in [Unit::Statements, Unit::OpensSavepoint] {
            let refused = two_rows(10, 1, unit).await;
            assert!(
                matches!(&refused, Err(StoreError::Database(e)) if is_row_level(e)),
                "{refused:?}"
            );
            assert_eq!(
                count().await,
                4,
                "row 10 stayed behind after {unit:?} failed"
            );
        }
        // Nothing was left open: the next writes, lone or batched, begin and commit.
        two_rows(5, 6, Unit::OpensSavepoint).await.unwrap();
        let batch = store.batch.clone();
        let grouped: Vec<_> = (20..40)
            .map(|k| {
                let batch = batch.clone();
                tokio::spawn(async move {
                    batch
                        .write(Unit::Statement, move |c| {
                            Box::pin(async move {
                                sqlx::query("INSERT INTO t (k) VALUES ($1)")
                                    .bind(k)
                                    .execute(&mut *c)
                                    .await?;
                                Ok(())
                            })
                        })
                        .await
                })
            })
            .collect();
        for t in grouped {
            t.await.unwrap().unwrap();
        }
        assert_eq!(count().await, 26);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_taken_id_among_grouped_creates_fails_only_that_create() {
        use crate::model::{AccountId, Kind, SecretId, Status};
        use crate::store::{AccountRecord, Store};

        let (store, dir) = store().await;
        let now =
            chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
        let account = AccountRecord {
            id: AccountId::new(),
            name: "batch".into(),
            email: None,
            plan: "self-hosted".into(),
            webhook_url: None,
            created_at: now,
        };
        store.insert_account(&account, &[7; 32]).await.unwrap();
        let secret = |id: SecretId| SecretRecord {
            id,
            account_id: account.id,
            kind: Kind::Text,
            envelope: Some(vec![1, 2, 3]),
            blob_key: None,
            size: None,
            file_name: None,
            label: None,
            passphrase_hash: None,
            allowed_countries: Vec::new(),
            webhook_url: None,
            notify: None,
            views_total: 1,
            views_used: 0,
            status: Status::Active,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            last_viewed_at: None,
            pp_fail_count: 0,
            pp_fail_window: chrono::DateTime::UNIX_EPOCH,
            verifier: None,
            content_version: 0,
            bound_to: None,
            ephemeral_public_key: None,
        };
        let taken = SecretId::new();
        store.insert_secret(&secret(taken)).await.unwrap();
        // 120 concurrent creates, grouped into multi-row INSERTs; the 60th reuses a stored id.
        let store = Arc::new(store);
        let mut tasks = Vec::new();
        for i in 0..120 {
            let (store, s) = (
                store.clone(),
                secret(if i == 60 { taken } else { SecretId::new() }),
            );
            tasks.push(tokio::spawn(async move { store.insert_secret(&s).await }));
        }
        let mut outcomes = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => outcomes.0 += 1,
                Err(StoreError::IdTaken) => outcomes.1 += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secrets")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!((outcomes, rows), ((119, 1), 120));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_wal_stays_small_while_readers_never_stop() {
        let (store, dir) = store().await;
        sqlx::query("CREATE TABLE b (v BLOB NOT NULL)")
            .execute(&store.writer)
            .await
            .unwrap();
        // Readers on snapshots of their own all the time, as under load: a checkpoint that is
        // always overtaken by the next commit never lets the WAL start again, and it grows.
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (pool, reading) = (store.reader.clone(), reading.clone());
                tokio::spawn(async move {
                    while reading.load(std::sync::atomic::Ordering::Relaxed) {
                        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM b")
                            .fetch_one(&pool)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        // 16 MB through the WAL.
        for _ in 0..10 {
            let mut tasks = Vec::new();
            for _ in 0..400 {
                let batch = store.batch.clone();
                tasks.push(tokio::spawn(async move {
                    batch
                        .write(Unit::Statement, |c| {
                            Box::pin(async move {
                                sqlx::query("INSERT INTO b (v) VALUES ($1)")
                                    .bind(vec![7u8; 4096])
                                    .execute(&mut *c)
                                    .await?;
                                Ok(())
                            })
                        })
                        .await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        }
        reading.store(false, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        let wal = std::fs::metadata(dir.join("seecret.db-wal")).unwrap().len();
        assert!(wal < 8 << 20, "the WAL holds {wal} bytes");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM b")
            .fetch_one(&store.reader)
            .await
            .unwrap();
        assert_eq!(rows, 4000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_write_sees_the_writes_queued_before_it() {
        let (store, dir) = store().await;
        sqlx::query("CREATE TABLE c (n INTEGER NOT NULL)")
            .execute(&store.writer)
            .await
            .unwrap();
        sqlx::query("INSERT INTO c (n) VALUES (0)")
            .execute(&store.writer)
            .await
            .unwrap();
        let batch = store.batch.clone();
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let batch = batch.clone();
            tasks.push(tokio::spawn(async move {
                batch
                    .write(Unit::Statement, |c| {
                        Box::pin(async move {
                            let n: i64 = sqlx::query_scalar("UPDATE c SET n = n + 1 RETURNING n")
                                .fetch_one(&mut *c)
                                .await?;
                            Ok(n)
                        })
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut seen: Vec<i64> = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=100).collect::<Vec<_>>());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
