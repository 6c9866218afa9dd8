//! The engine's error type. Each variant has a stable machine-readable [`Error::code`]; the server
//! maps variants to HTTP statuses in exactly one place. No variant carries secret material.

use std::time::Duration;

use crate::model::PlatformIdentity;

/// Result alias for engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a secret can no longer be revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// Its last permitted view was used.
    Consumed,
    /// Its expiration passed.
    Expired,
    /// Its owner deleted it.
    Deleted,
}

/// Why a request for a secret can no longer be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestGoneReason {
    /// Its expiration passed.
    Expired,
    /// Its owner deleted it.
    Deleted,
}

/// Everything an engine operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the caller; `field` names the offending field when there is one.
    #[error("{message}")]
    InvalidInput {
        field: Option<&'static str>,
        message: String,
    },
    /// No token, or a token that matches no account.
    #[error("missing or invalid API token")]
    Unauthorized,
    /// The secret needs a passphrase and none was given.
    #[error("this secret is protected by a passphrase")]
    PassphraseRequired,
    /// The passphrase did not match. No view was used.
    #[error("wrong passphrase")]
    PassphraseInvalid,
    /// The decryption key given does not open this secret. No view was used.
    #[error("the key does not decrypt this secret")]
    InvalidKey,
    /// Input refused for a reason with its own code (e.g. `webhook_url_forbidden`): a 400.
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    /// The caller may not do this (for example, reveal from a blocked country).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The secret is bound to a platform user and the request carries no valid sign-in ticket
    /// (none, unknown, expired, used, or for another secret). Nothing was used or recorded.
    #[error("{message}")]
    SignInRequired {
        /// Whom the secret is for: the page offers that provider's sign-in.
        bound_to: Box<PlatformIdentity>,
        message: String,
    },
    /// The signed-in user is not the one the secret is bound to. No view was used; the owner
    /// gets an `access_denied` event (reason `recipient`).
    #[error("{}", not_the_recipient_message(.bound_to))]
    NotTheRecipient {
        /// Whom the secret is for.
        bound_to: Box<PlatformIdentity>,
    },
    /// No secret (or account) with that id belongs to the caller.
    #[error("no such secret")]
    NotFound,
    /// A create chose an id that a secret (of any account) already has; nothing was changed.
    #[error("a secret with this id already exists: choose a new random id")]
    IdTaken,
    /// The secret existed but can no longer be revealed or changed.
    #[error("{}", gone_message(*.0))]
    Gone(GoneReason),
    /// A request for a secret was answered already; this answer was not stored.
    #[error("this request was already answered; only its first answer is kept")]
    AlreadyAnswered,
    /// A request for a secret can no longer be answered: it expired or its owner deleted it.
    #[error("{}", request_gone_message(*.0))]
    RequestGone(RequestGoneReason),
    /// Content or request larger than the configured limit.
    #[error("{message}")]
    TooLarge { message: String },
    /// Too many requests; try again after `retry_after`.
    #[error("rate limit exceeded, retry in {} s", .retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// The server is at its limit of concurrent passphrase work; nothing was counted or used.
    /// Try again after `retry_after`.
    #[error("the server is busy, retry in {} s", .retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    /// The owner replaced the content while this reveal was checking the key; no view was used.
    #[error("the secret's content was changed by its owner during this reveal; no view was used")]
    ContentChanged,
    /// The storage backend failed. The cause is logged by the server, never shown to clients.
    #[error("storage error: {0}")]
    Storage(String),
    /// Something that should not happen; the cause is logged, never shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

fn not_the_recipient_message(bound_to: &PlatformIdentity) -> String {
    format!(
        "this secret is for another {} user; nothing was used",
        bound_to.provider.label()
    )
}

fn gone_message(reason: GoneReason) -> &'static str {
    match reason {
        GoneReason::Consumed => "this secret was already viewed",
        GoneReason::Expired => "this secret has expired",
        GoneReason::Deleted => "this secret was deleted",
    }
}

fn request_gone_message(reason: RequestGoneReason) -> &'static str {
    match reason {
        RequestGoneReason::Expired => "this request has expired: ask the person for a new link",
        RequestGoneReason::Deleted => "this request was deleted by the person who made it",
    }
}

impl Error {
    /// An [`Error::InvalidInput`] about one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: Some(field),
            message: message.into(),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::PassphraseRequired => "passphrase_required",
            Self::PassphraseInvalid => "passphrase_invalid",
            Self::InvalidKey => "invalid_key",
            Self::Forbidden { code, .. } | Self::Rejected { code, .. } => code,
            Self::SignInRequired { .. } => "sign_in_required",
            Self::NotTheRecipient { .. } => "not_the_recipient",
            Self::NotFound => "not_found",
            Self::IdTaken => "id_taken",
            Self::Gone(GoneReason::Consumed) => "consumed",
            Self::Gone(GoneReason::Expired) => "expired",
            Self::Gone(GoneReason::Deleted) => "deleted",
            Self::AlreadyAnswered => "already_answered",
            Self::RequestGone(RequestGoneReason::Expired) => "request_expired",
            Self::RequestGone(RequestGoneReason::Deleted) => "request_deleted",
            Self::TooLarge { .. } => "too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Busy { .. } => "busy",
            Self::ContentChanged => "content_changed",
            Self::Storage(_) | Self::Internal(_) => "internal",
        }
    }
}

#[cfg(feature = "engine")]
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors carry SQL text and driver messages, never bound values.
        Self::Storage(e.to_string())
    }
}

#[cfg(feature = "engine")]
impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Storage(e.to_string())
    }
}
