//! Pool and durability settings, passed in by whoever opens the store. The store reads no
//! environment variable itself; [`StoreOptions::from_vars`] turns the server's historical
//! variables into options for callers that still take them from the environment.

use std::time::Duration;

use super::StoreError;

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

impl StoreOptions {
    /// The options the server has always taken from `SEECRET_DATABASE_POOL_SIZE`,
    /// `SEECRET_DATABASE_STATEMENT_TIMEOUT_MS` (PostgreSQL) and `SEECRET_SQLITE_SYNCHRONOUS`,
    /// looked up with `var` (the caller's environment, typically). As before, the PostgreSQL
    /// settings are only checked for a PostgreSQL `url`: unset means the default, anything that
    /// is not a positive integer is an error; `SEECRET_SQLITE_SYNCHRONOUS` is `FULL` or normal.
    pub fn from_vars(url: &str, var: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let mut options = Self::default();
        if is_postgres(url) {
            let setting = |name: &str, default: u32| match var(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        StoreError::Config(format!("{name} must be a positive integer, not {v:?}"))
                    }),
            };
            options.pool_size = setting("SEECRET_DATABASE_POOL_SIZE", options.pool_size)?;
            options.statement_timeout = Duration::from_millis(
                setting("SEECRET_DATABASE_STATEMENT_TIMEOUT_MS", 5000)?.into(),
            );
        }
        if matches!(
            var("SEECRET_SQLITE_SYNCHRONOUS").as_deref(),
            Some("FULL" | "full")
        ) {
            options.sqlite_synchronous = SqliteSynchronous::Full;
        }
        Ok(options)
    }
}

/// Whether `url` names a PostgreSQL database (anything else is a SQLite path).
pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
