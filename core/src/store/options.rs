//! Pool and durability settings, passed in by whoever opens the store (the server builds them
//! from its declared settings). The store reads no environment variable itself.

use std::time::Duration;

/// How hard SQLite pushes each commit to the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// In WAL mode no committed transaction is lost on a process crash; only an OS crash or
    /// power loss can drop the last few.
    #[default]
    Normal,
    /// Every commit reaches the disk before it returns.
    Full,
}

/// Settings for [`super::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL: connections in the pool.
    pub pool_size: u32,
    /// PostgreSQL: every connection's `statement_timeout`, so a stuck query fails the request
    /// instead of holding row locks indefinitely.
    pub statement_timeout: Duration,
    /// SQLite: connections of the read-only pool (writes always go through one connection).
    pub sqlite_readers: u32,
    /// SQLite: the `synchronous` pragma.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 10,
            statement_timeout: Duration::from_millis(5000),
            sqlite_readers: 4,
            sqlite_synchronous: SqliteSynchronous::Normal,
        }
    }
}

/// Whether `url` names a PostgreSQL database (anything else is a SQLite path).
pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
