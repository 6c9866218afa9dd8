//! What the store reports: facts about rows and the database, never user-facing wording. The
//! engine's [`crate::Error`] words them (see the `From` impl below), so the HTTP statuses and
//! messages clients see are decided in one place above the store.

use crate::error::Error;

/// Result alias for store operations.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the operation needs (an account, a secret) does not exist.
    #[error("no such row")]
    NotFound,
    /// A secret with this id exists already (the primary key is the only unique constraint).
    #[error("a secret with this id already exists")]
    IdTaken,
    /// An account with this name exists already.
    #[error("an account named {0:?} already exists")]
    AccountNameTaken(String),
    /// A value does not fit the column it goes to (the databases have no unsigned integers).
    #[error("{field} is out of range: {value}")]
    OutOfRange {
        /// The field the value came in.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// A row holds a value no writer of this store produces: tampered with, or written by a
    /// newer version. Reading it fails instead of guessing.
    #[error("corrupt row: {column}: {detail}")]
    Corrupt {
        /// The column holding the bad value.
        column: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A store option is unusable.
    #[error("{0}")]
    Config(String),
    /// The database failed. (sqlx errors carry SQL text and driver messages, never bound values.)
    #[error("storage error: {0}")]
    Database(#[from] sqlx::Error),
    /// The batch a write ran in failed to commit (SQLite's group commit): the write is not
    /// stored.
    #[error("storage error: commit failed: {0}")]
    CommitFailed(String),
    /// The store's writer has stopped (the server is shutting down).
    #[error("storage error: the writer has stopped")]
    WriterStopped,
    /// A migration failed.
    #[error("storage error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A [`StoreError::Corrupt`] about `column`.
    pub(crate) fn corrupt(column: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            column,
            detail: detail.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::IdTaken => Self::IdTaken,
            StoreError::AccountNameTaken(name) => {
                Self::invalid("name", format!("an account named {name:?} already exists"))
            }
            StoreError::OutOfRange { field: "size", .. } => {
                Self::invalid("size", "the file is too large")
            }
            StoreError::OutOfRange { field, value } => {
                Self::invalid(field, format!("{field} is too large: {value}"))
            }
            StoreError::Config(message) => Self::InvalidInput {
                field: None,
                message,
            },
            StoreError::Corrupt { .. } => Self::Internal(e.to_string()),
            StoreError::Database(e) => Self::Storage(e.to_string()),
            StoreError::Migrate(e) => Self::Storage(e.to_string()),
            StoreError::CommitFailed(_) | StoreError::WriterStopped => Self::Storage(e.to_string()),
        }
    }
}
