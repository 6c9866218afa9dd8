//! What the chat bots (Slack, Discord) share, so that a platform crate only parses its platform's
//! payloads and renders its replies:
//! - the [`Backend`] they create secrets through, and the [`Remote`] one (a Seecret server over
//!   the typed client; the engine-backed one lives in the server);
//! - [`Core`]: the form rules, the per-user limit, the time budget, "a link that cannot be
//!   delivered is burnt", and the check of a remote server's signed webhooks ([`events`]), served
//!   by [`event_router`] (feature `bot-route`);
//! - quick-mode parsing ([`parse_quick`]), the phrases both bots say ([`phrases`]), the
//!   `NAME`/`NAME_FILE` settings reader ([`settings`]), and what a bot keeps per workspace and
//!   per event ([`BotStore`]: OAuth installations, [`WorkspaceSettings`], events handled);
//! - a user's recent shares and the rule for burning one ([`Core::recent_shares`],
//!   [`Core::burn_own`]), which a backend serves through [`Backend::shares_of`].
//!
//! A bot never sees a secret again after handing it to the backend: it keeps the link only long
//! enough to deliver it, and events carry ids and counts, never content.

pub mod events;
mod flow;
mod installations;
mod limit;
pub mod phrases;
mod quick;
mod remote;
#[cfg(feature = "bot-route")]
mod route;
pub mod settings;
mod shares;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::api::SecretInfo;
use crate::client::ClientError;
use crate::crypto::SecretBytes;
use crate::model::{Expiration, PlatformIdentity, SecretId};

pub use events::{EventReply, EventRoute, Notifier, WebhookHeaders, verify_event};
pub use flow::{BUDGET, Budget, Core, Form, FormError, Refused, within_budget};
pub use installations::{
    BotStore, EVENT_MEMORY, FileInstallations, LEDGER_PER_OWNER, Ledger, WorkspaceSettings,
};
pub use limit::PerUser;
pub use phrases::{event_phrase, views_phrase};
pub use quick::{Quick, parse_quick};
pub use remote::Remote;
#[cfg(feature = "bot-route")]
pub use route::{EventReceiver, event_router};
pub use shares::{Burn, RECENT_SHARES, ShareState};

/// Expirations offered in pickers: label and value.
pub const EXPIRATION_CHOICES: &[(&str, &str)] = &[
    ("10 minutes", "10m"),
    ("1 hour", "1h"),
    ("1 day", "24h"),
    ("3 days", "3d"),
    ("7 days", "7d"),
];

/// Views offered in pickers.
pub const VIEW_CHOICES: &[u32] = &[1, 2, 3, 5, 10];

/// Longest secret a chat modal accepts (Slack's and Discord's text inputs stop at 3 000 / 4 000).
pub const MAX_CHAT_SECRET: usize = 3000;

/// A secret to create on behalf of a chat user.
pub struct Share {
    /// The content; zeroed on drop.
    pub secret: SecretBytes,
    /// Lifetime.
    pub expiration: Expiration,
    /// Views allowed.
    pub views: u32,
    /// Passphrase the recipient must also give.
    pub passphrase: Option<SecretBytes>,
    /// Owner's note (never the secret), e.g. "Slack: from U123 to U456".
    pub label: Option<String>,
    /// Who hears about its events: `"{sink}:{subscriber}"`, e.g. `slack:T1:U2`.
    pub notify: String,
    /// The one platform user who may open it ("only @bob can open it"): they sign in with their
    /// platform on the reveal page first.
    pub bound_to: Option<PlatformIdentity>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("expiration", &self.expiration)
            .field("views", &self.views)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("notify", &self.notify)
            .field("bound_to", &self.bound_to)
            .finish_non_exhaustive()
    }
}

/// A created secret: the link (key included, so it is as sensitive as the secret) and what the
/// message about it says.
pub struct Shared {
    /// Its id.
    pub id: SecretId,
    /// `{server}/s/{id}#{key}`.
    pub link: Zeroizing<String>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Views allowed.
    pub views: u32,
    /// Only this platform user may open it.
    pub bound_to: Option<PlatformIdentity>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .field("link", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("views", &self.views)
            .finish()
    }
}

/// Why the backend did not create (or delete) a secret, in words a chat user can act on.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Bad settings; `field` is the API field concerned (`expiration`, `views`, `content`…).
    #[error("{message}")]
    Invalid {
        /// The field, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Too many secrets too fast.
    #[error("too many secrets created, try again in {} s", .retry_after.as_secs().max(1))]
    RateLimited {
        /// When to retry.
        retry_after: Duration,
    },
    /// The server refused for another reason (token revoked, secret gone…).
    #[error("the Seecret server refused: {0}")]
    Refused(String),
    /// The server or its storage could not be reached.
    #[error("the Seecret server is unavailable: {0}")]
    Unavailable(String),
}

impl From<crate::Error> for BackendError {
    fn from(e: crate::Error) -> Self {
        use crate::Error as E;
        match e {
            E::InvalidInput { field, message } => Self::Invalid {
                field: field.map(String::from),
                message,
            },
            E::TooLarge { message } => Self::Invalid {
                field: Some("content".into()),
                message,
            },
            E::Rejected { message, .. } => Self::Invalid {
                field: None,
                message,
            },
            E::RateLimited { retry_after } => Self::RateLimited { retry_after },
            E::Storage(_) | E::Internal(_) => Self::Unavailable(e.to_string()),
            other => Self::Refused(other.to_string()),
        }
    }
}

impl From<ClientError> for BackendError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Api {
                status: 400 | 413 | 422,
                message,
                ..
            } => Self::Invalid {
                field: None,
                message,
            },
            ClientError::Api { status: 429, .. } => Self::RateLimited {
                retry_after: Duration::from_secs(60),
            },
            ClientError::Api {
                status: 500..,
                message,
                ..
            } => Self::Unavailable(message),
            ClientError::Api { message, .. } => Self::Refused(message),
            ClientError::Transport(m) => Self::Unavailable(m),
            ClientError::Local(e) => e.into(),
        }
    }
}

/// Longest note a request carries to its responder (DESIGN §7.2).
pub const MAX_REQUEST_NOTE: usize = 500;

/// A request for a secret made on behalf of a chat user (the reverse flow, DESIGN §7.2): the
/// backend makes the X25519 pair, keeps nothing of the private key and hands it back only inside
/// [`Asked::answer_link`].
#[derive(Debug, Clone)]
pub struct Ask {
    /// Shown to the responder (plaintext, never secret).
    pub note: Option<String>,
    /// How long the request stays open (`None`: the server's default, 7 days).
    pub expiration: Option<Expiration>,
    /// Owner's note, e.g. "Slack T1: <@U1> asks <@U2>".
    pub label: Option<String>,
    /// Who hears that it was answered: `"{sink}:{subscriber}"`, as [`Share::notify`].
    pub notify: String,
}

/// A created request: the link for the responder and the asker's own link to the answer.
pub struct Asked {
    /// The request's id (its answer will be the secret with the same id).
    pub id: SecretId,
    /// `{server}/r/{id}#{Q}`: for the responder. Q is public, but the link still goes only to
    /// the person asked.
    pub request_link: String,
    /// `{server}/a/{id}#{d}`: the asker's private key, which exists nowhere else; zeroed on drop.
    pub answer_link: Zeroizing<String>,
    /// Until when it can be answered.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for Asked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asked")
            .field("id", &self.id)
            .field("answer_link", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where a bot creates and deletes secrets: a remote server ([`Remote`]), or the engine inside
/// `seecret serve` (the server's `Embedded`).
#[async_trait::async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// Seals `share` under a fresh key and creates it; the key only ever lives in the link.
    async fn share(&self, share: Share) -> Result<Shared, BackendError>;
    /// Deletes a secret whose link could not be delivered, so none is left orphaned (or that its
    /// sender burnt); one already gone is no error.
    async fn burn(&self, id: SecretId) -> Result<(), BackendError>;
    /// Makes an X25519 pair and asks for a secret with its public half; the private half only
    /// ever lives in [`Asked::answer_link`].
    async fn request(&self, ask: Ask) -> Result<Asked, BackendError> {
        let _ = ask;
        Err(BackendError::Refused(
            "this backend cannot request secrets".into(),
        ))
    }
    /// Deletes a request whose link could not be delivered (later answers are refused); one
    /// already gone is no error.
    async fn withdraw(&self, id: SecretId) -> Result<(), BackendError> {
        let _ = id;
        Ok(())
    }
    /// Up to `limit` secrets created with `notify == owner` (a chat user), newest first, with
    /// their live status; never anyone else's. A backend that keeps no such record says so.
    async fn shares_of(&self, owner: &str, limit: u32) -> Result<Vec<SecretInfo>, BackendError> {
        let _ = (owner, limit);
        Err(BackendError::Refused(
            "this backend does not list a user's shares".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_of_share_and_link_hides_them() {
        let s = Share {
            secret: SecretBytes::new(b"hunter2".to_vec()),
            expiration: Expiration::DEFAULT,
            views: 1,
            passphrase: Some(SecretBytes::new(b"pp-word".to_vec())),
            label: None,
            notify: "slack:T:U".into(),
            bound_to: None,
        };
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && !d.contains("pp-word"), "{d}");
        let l = Shared {
            id: SecretId::new(),
            link: Zeroizing::new("https://x/s/1#KEYKEY".into()),
            expires_at: Utc::now(),
            views: 1,
            bound_to: None,
        };
        assert!(!format!("{l:?}").contains("KEYKEY"));
    }
}
