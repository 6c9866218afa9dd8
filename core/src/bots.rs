//! What the chat bots (Slack, Discord) share: the [`Backend`] they create secrets through (the
//! engine inside `seecret serve`, or a remote server over the typed client: one code path, two
//! transports), the parsing of what a person types, and the receiving end of view events.
//!
//! A bot never sees a secret again after handing it to the backend: it keeps the link only long
//! enough to deliver it, and events carry ids and counts, never content.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::api::CreateSecret;
use crate::client::{Client, ClientError, ShareOptions};
use crate::crypto::{self, SecretBytes, SecretKey, WebhookSecret};
use crate::engine::Engine;
use crate::model::{Expiration, Link, SecretId};
use crate::store::AccountRecord;
use crate::webhook::EventPayload;

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

/// Where a bot creates and deletes secrets.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// Seals `share` under a fresh key and creates it; the key only ever lives in the link.
    async fn share(&self, share: Share) -> Result<Shared, BackendError>;
    /// Deletes a secret whose link could not be delivered, so none is left orphaned.
    async fn burn(&self, id: SecretId) -> Result<(), BackendError>;
}

/// The engine inside `seecret serve`, acting for one account; events come back through the
/// outbox to the [`EventSink`](crate::webhook::EventSink) named by [`Share::notify`].
#[derive(Debug, Clone)]
pub struct Embedded {
    engine: Arc<Engine>,
    account: AccountRecord,
}

impl Embedded {
    /// Acts for the account named (or with the id) `account`, or the server's first account.
    pub async fn new(engine: Arc<Engine>, account: Option<&str>) -> crate::Result<Self> {
        let store = engine.store().clone();
        let record = match account {
            Some(a) => store.account_by_id_or_name(a).await?.ok_or_else(|| {
                crate::Error::invalid("account", format!("no account named {a:?}"))
            })?,
            None => store
                .first_account()
                .await?
                .ok_or_else(|| crate::Error::invalid("account", "the server has no account yet"))?,
        };
        Ok(Self {
            engine,
            account: record,
        })
    }

    /// The account the bot acts for.
    pub fn account(&self) -> &AccountRecord {
        &self.account
    }
}

#[async_trait::async_trait]
impl Backend for Embedded {
    async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        let id = SecretId::new();
        let key = SecretKey::generate();
        let envelope = crypto::seal(&key, &id, share.secret.expose())?;
        let req = CreateSecret {
            ciphertext: Some(crypto::b64encode(&envelope)),
            id: Some(id),
            verifier: Some(crypto::RevealProof::of_key(&key).verifier().to_base64url()),
            expiration: Some(share.expiration),
            views: Some(share.views),
            passphrase: share.passphrase,
            label: share.label,
            ..CreateSecret::default()
        };
        let info = self
            .engine
            .create_secret_notifying(&self.account, req, Some(share.notify))
            .await?;
        Ok(Shared {
            id,
            link: Zeroizing::new(Link::format(&self.engine.config().public_url, &id, &key)),
            expires_at: info.expires_at,
            views: info.views,
        })
    }

    async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
        match self.engine.delete_secret(&self.account, id).await {
            Ok(_) | Err(crate::Error::NotFound | crate::Error::Gone(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A remote Seecret server reached with an API token. Each secret gets its own webhook URL,
/// `{events_url}?notify=…`, so its events come back to the bot that created it.
#[derive(Debug, Clone)]
pub struct Remote {
    client: Client,
    events_url: Option<String>,
}

impl Remote {
    /// `events_url`: where this bot receives Seecret webhooks (`None`: no "was viewed" messages).
    pub fn new(client: Client, events_url: Option<String>) -> Self {
        Self { client, events_url }
    }

    fn webhook_for(&self, notify: &str) -> Option<String> {
        let mut url = url::Url::parse(self.events_url.as_deref()?).ok()?;
        url.query_pairs_mut().append_pair("notify", notify);
        Some(url.into())
    }
}

#[async_trait::async_trait]
impl Backend for Remote {
    async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        let opts = ShareOptions {
            expiration: Some(share.expiration),
            views: Some(share.views),
            passphrase: share.passphrase,
            label: share.label,
            webhook_url: self.webhook_for(&share.notify),
        };
        let shared = self.client.share(share.secret.expose(), opts).await?;
        Ok(Shared {
            id: shared.info.id,
            expires_at: shared.info.expires_at,
            views: shared.info.views,
            link: shared.link,
        })
    }

    async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
        match self.client.delete(id).await {
            Ok(_) => Ok(()),
            Err(ClientError::Api {
                status: 404 | 410, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The headers of a Standard Webhooks delivery.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp`.
    pub timestamp: &'a str,
    /// `webhook-signature`.
    pub signature: &'a str,
}

/// Checks a webhook a remote Seecret server sent to a standalone bot and returns its event:
/// signature by `secret`, timestamp within five minutes of `now`.
pub fn verify_event(
    secret: &WebhookSecret,
    headers: WebhookHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<EventPayload, &'static str> {
    let ts: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| "bad webhook-timestamp")?;
    if (now.timestamp() - ts).abs() > 300 {
        return Err("stale webhook-timestamp");
    }
    if !secret.verify_standard(headers.id, ts, headers.signature, body) {
        return Err("bad webhook-signature");
    }
    serde_json::from_slice(body).map_err(|_| "unreadable event")
}

/// Parsed `/share-secret <text>` quick mode.
#[derive(PartialEq, Eq)]
pub struct Quick {
    /// The secret, flags removed.
    pub secret: Zeroizing<String>,
    /// `--views N`.
    pub views: Option<u32>,
    /// `--expires 1h`.
    pub expiration: Option<Expiration>,
}

impl fmt::Debug for Quick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quick")
            .field("views", &self.views)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Parses quick-mode text: `--views N` and `--expires D` (also `--expiration`, `--views=N`) at
/// the start or the end; everything between is the secret, inner spacing kept. `--` ends the
/// leading flags, for a secret that itself starts with `--`.
pub fn parse_quick(text: &str) -> Result<Quick, String> {
    let mut rest = text.trim();
    let mut views = None;
    let mut expiration = None;
    let mut apply = |flag: &str, value: &str| -> Result<(), String> {
        match flag {
            "--views" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| format!("--views takes a number, not {value:?}"))?;
                views = Some(n);
            }
            _ => {
                expiration = Some(value.parse::<Expiration>().map_err(|_| {
                    format!("--expires takes a duration like 30m, 1h, 7d, not {value:?}")
                })?);
            }
        }
        Ok(())
    };
    // Leading flags.
    loop {
        if let Some(r) = rest
            .strip_prefix("--")
            .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        {
            rest = r.trim_start();
            break;
        }
        let Some((flag, value, after)) = leading_flag(rest)? else {
            break;
        };
        apply(flag, value)?;
        rest = after;
    }
    // Trailing flags.
    while let Some((flag, value, before)) = trailing_flag(rest) {
        apply(flag, value)?;
        rest = before;
    }
    if rest.is_empty() {
        return Err("nothing to share: put the secret after the command".into());
    }
    Ok(Quick {
        secret: Zeroizing::new(rest.to_string()),
        views,
        expiration,
    })
}

const FLAGS: &[&str] = &["--views", "--expires", "--expiration"];

fn canonical(flag: &str) -> Option<&'static str> {
    match flag {
        "--views" => Some("--views"),
        "--expires" | "--expiration" => Some("--expires"),
        _ => None,
    }
}

/// `--flag value rest` or `--flag=value rest` at the start of `s`.
#[allow(clippy::type_complexity)]
fn leading_flag(s: &str) -> Result<Option<(&'static str, &str, &str)>, String> {
    if !s.starts_with("--") {
        return Ok(None);
    }
    let (word, after) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    let after = after.trim_start();
    if let Some((flag, value)) = word.split_once('=') {
        return match canonical(flag) {
            Some(f) => Ok(Some((f, value, after))),
            None => Err(unknown(flag)),
        };
    }
    let Some(flag) = canonical(word) else {
        return Err(unknown(word));
    };
    let (value, after) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
    if value.is_empty() {
        return Err(format!("{word} needs a value"));
    }
    Ok(Some((flag, value, after.trim_start())))
}

/// `rest --flag value` or `rest --flag=value` at the end of `s`.
fn trailing_flag(s: &str) -> Option<(&'static str, &str, &str)> {
    let (before, last) = s.rsplit_once(char::is_whitespace)?;
    if let Some((flag, value)) = last.split_once('=') {
        return canonical(flag).map(|f| (f, value, before.trim_end()));
    }
    let (before2, flag) = before.trim_end().rsplit_once(char::is_whitespace)?;
    canonical(flag).map(|f| (f, last, before2.trim_end()))
}

fn unknown(flag: &str) -> String {
    format!(
        "unknown option {flag:?}: use {} (or put `--` before a secret that starts with --)",
        FLAGS.join(", ")
    )
}

/// "1 view" / "3 views".
pub fn views_phrase(n: u32) -> String {
    if n == 1 {
        "1 view".into()
    } else {
        format!("{n} views")
    }
}

/// A short "what happened" line for an event: `viewed (1 of 1, from FR)`.
pub fn event_phrase(e: &EventPayload) -> Option<String> {
    use crate::webhook::event_type as t;
    let used = e.views.saturating_sub(e.views_remaining);
    let from = e
        .country
        .as_deref()
        .map(|c| format!(", from {c}"))
        .unwrap_or_default();
    match e.kind.as_str() {
        t::VIEWED => Some(format!("was viewed ({used} of {}{from})", e.views)),
        t::ACCESS_DENIED => Some(format!(
            "was refused to a visitor ({}{from})",
            e.reason.as_deref().unwrap_or("denied")
        )),
        t::EXPIRED => Some("expired unread".to_string()).filter(|_| used == 0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quick {
        parse_quick(s).unwrap()
    }

    #[test]
    fn quick_mode_flags_at_either_end_and_the_secret_kept_verbatim() {
        let a = q("--views 3 --expires 1h hunter2  with  spaces");
        assert_eq!(a.secret.as_str(), "hunter2  with  spaces");
        assert_eq!(a.views, Some(3));
        assert_eq!(a.expiration, Some("1h".parse().unwrap()));
        let b = q("s3cr3t --views=2 --expiration 7d");
        assert_eq!(b.secret.as_str(), "s3cr3t");
        assert_eq!(b.views, Some(2));
        assert_eq!(b.expiration, Some("7d".parse().unwrap()));
        let c = q("-- --views 3");
        assert_eq!(c.secret.as_str(), "--views 3");
        assert_eq!(c.views, None);
        assert_eq!(q("plain").secret.as_str(), "plain");
    }

    #[test]
    fn quick_mode_refuses_bad_flags_without_echoing_the_secret() {
        for bad in [
            "--views many hunter2",
            "--expires soon hunter2",
            "--color red hunter2",
            "--views 3",
            "",
            "hunter2 --views x",
        ] {
            let err = parse_quick(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn debug_of_share_and_link_hides_them() {
        let s = Share {
            secret: SecretBytes::new(b"hunter2".to_vec()),
            expiration: Expiration::DEFAULT,
            views: 1,
            passphrase: Some(SecretBytes::new(b"pp-word".to_vec())),
            label: None,
            notify: "slack:T:U".into(),
        };
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && !d.contains("pp-word"), "{d}");
        let l = Shared {
            id: SecretId::new(),
            link: Zeroizing::new("https://x/s/1#KEYKEY".into()),
            expires_at: Utc::now(),
            views: 1,
        };
        assert!(!format!("{l:?}").contains("KEYKEY"));
    }
}
