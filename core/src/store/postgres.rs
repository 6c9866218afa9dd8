//! The shared backend: PostgreSQL, for several server instances behind one database.
//!
//! Every statement must stay exact when instances race each other, not just tasks within one
//! process. The tools are PostgreSQL's row locks: a conditional `UPDATE … WHERE …` waits for a
//! concurrent writer of the same row and then re-checks its WHERE clause against the committed
//! row (READ COMMITTED re-evaluation), and `FOR UPDATE SKIP LOCKED` lets batch jobs (expiry,
//! outbox claims) on several instances take disjoint rows without waiting on each other.
//!
//! Unlike SQLite's `secure_delete`, PostgreSQL leaves an erased envelope in the dead row version
//! until VACUUM reclaims it; autovacuum does, and operators who need it sooner run VACUUM.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::rows::ClaimedRow;
use super::sql::claim_update;
use super::{SecretRecord, StoreOptions, StoreResult, Unit};
use crate::model::{SecretId, Status};

/// The advisory lock that serialises outbox claims across instances ("seecoutb" in ASCII;
/// sqlx's migration lock uses a different key).
const OUTBOX_CLAIM_LOCK: i64 = 0x7365_6563_6f75_7462;

/// PostgreSQL storage.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`) and runs pending
    /// migrations. The pool has `options.pool_size` connections, each with
    /// `options.statement_timeout`, so a stuck query fails the request instead of holding row
    /// locks indefinitely.
    pub async fn open(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let timeout_ms = options.statement_timeout.as_millis().to_string();
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
            .max_connections(options.pool_size)
            // Short enough that /readyz answers 503 promptly while the database is away.
            .acquire_timeout(std::time::Duration::from_secs(5))
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

    fn pool_use(&self) -> Vec<super::PoolUse> {
        vec![super::PoolUse::of("main", &self.pool)]
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// A write a request makes, on a pooled connection: PostgreSQL takes concurrent writers (and
    /// batching them would serialise instances' row locks). Several statements get a
    /// transaction of their own; one needs no `BEGIN`/`COMMIT` round trips.
    async fn write<T, F>(&self, unit: Unit, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        match unit {
            Unit::Statement => write(&mut *self.pool.acquire().await?).await,
            Unit::Statements | Unit::OpensSavepoint => {
                let mut tx = self.pool.begin().await?;
                let v = write(&mut tx).await?;
                tx.commit().await?;
                Ok(v)
            }
        }
    }

    /// A new secret's row, one statement on a pooled connection.
    async fn insert(&self, secret: SecretRecord) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        shared::insert_secrets(&mut conn, std::slice::from_ref(&secret)).await
    }

    /// Workers on several instances claim at once, so claims take turns on one
    /// transaction-scoped advisory lock (a claim is one short statement). PostgreSQL only:
    /// SQLite's single writer serialises them already.
    async fn serialize_claims(tx: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_CLAIM_LOCK)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// A view claim is a transaction of its own.
    const CLAIM_UNIT: Unit = Unit::Statements;

    /// The claim and its `views` row in one statement (a data-modifying CTE), then, for the last
    /// view, the erasure: PostgreSQL cannot change the claimed row twice in one statement, and
    /// RETURNING can only hand back the content from a statement that left it in place. The
    /// row lock the claim took is held until the transaction ends, so nobody reads the consumed
    /// row with its content.
    async fn claim_row(
        conn: &mut PgConnection,
        now_ms: i64,
        id: SecretId,
        content_version: i64,
        country: Option<&str>,
        viewer: Option<&str>,
    ) -> StoreResult<Option<ClaimedRow>> {
        let row: Option<ClaimedRow> = sqlx::query_as(concat!(
            "WITH claimed AS (",
            claim_update!(),
            "), viewed AS (
                INSERT INTO views (secret_id, at, country, viewer)
                SELECT $2, $1, $4, $5 FROM claimed
             )
             SELECT * FROM claimed"
        ))
        .bind(now_ms)
        .bind(id.to_string())
        .bind(content_version)
        .bind(country)
        .bind(viewer)
        .fetch_optional(&mut *conn)
        .await?;
        if row
            .as_ref()
            .is_some_and(|r| r.status == Status::Consumed.as_str())
        {
            sqlx::query("UPDATE secrets SET envelope = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(row)
    }

    /// Nothing to do: PostgreSQL has no log file like SQLite's WAL to clean.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}

super::sql::store_impl! {
    store: PostgresStore,
    db: sqlx::Postgres,
    // Sweepers and outbox claimers on several instances take disjoint rows: SKIP LOCKED passes
    // over rows another instance (or a reveal) holds instead of waiting for them.
    row_lock: " FOR UPDATE SKIP LOCKED",
    // SQLite's rowid has no PostgreSQL equivalent; the schema adds an identity column.
    view_order: "seq",
}
