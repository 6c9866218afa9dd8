//! Request and response bodies of the HTTP API, shared by the server and the typed client so the
//! two cannot drift. Secret-bearing fields use [`SecretBytes`]: zeroed on drop, redacted in `Debug`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::{SecretBytes, WebhookSecret};
use crate::model::{
    AccountId, Expiration, Kind, PlatformIdentity, RequestStatus, SecretId, Status, ViewEntry,
};

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(text) => s.serialize_str(text),
            None => Err(serde::ser::Error::custom("secret content is not UTF-8")),
        }
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretBytes::from)
    }
}

/// Accepts `3`, `3.0` or `"3"`: form posts and some HTTP clients send numbers as strings, and
/// JSON (like JSON Schema) does not distinguish `3.0` from `3`.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + std::str::FromStr,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<T> {
        N(T),
        F(f64),
        S(String),
    }
    match Option::<Raw<T>>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::N(n)) => Ok(Some(n)),
        Some(Raw::F(f)) if f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f) => {
            format!("{f:.0}")
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom("expected a whole number"))
        }
        Some(Raw::F(_)) => Err(serde::de::Error::custom("expected a whole number")),
        Some(Raw::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected a whole number")),
    }
}

/// Body of `create_seecret` / `POST /v1/secrets`.
///
/// Give either `content` (plaintext; the server encrypts it and forgets the key) or `id` plus
/// `ciphertext` (a v1 envelope sealed by the client, which keeps the key).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateSecret {
    /// Plaintext to share (UTF-8, up to the server's text limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub content: Option<SecretBytes>,
    /// A client-sealed v1 envelope, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
    /// The id the client sealed the envelope for (a UUIDv7); required with `ciphertext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<SecretId>,
    /// With `ciphertext` (or a client-sealed file): base64url of `SHA-256(P)`, where `P` is the
    /// reveal proof derived from the key the client kept (`docs/format.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// How long the secret lives: `30m`, `24h`, `7d`… (default `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "24h"))]
    pub expiration: Option<Expiration>,
    /// Views allowed (default 1).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub views: Option<u32>,
    /// A passphrase the recipient must also give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub passphrase: Option<SecretBytes>,
    /// A plaintext note for the owner (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// ISO 3166-1 alpha-2 codes allowed to reveal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_countries: Option<Vec<String>>,
    /// Webhook for this secret's events, overriding the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Files only: the name, stored in clear for the owner's listings (the blob has its own,
    /// encrypted copy). Omit it to keep the name private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Files uploaded as client-sealed streams: the plaintext size, for the owner's listings.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
    /// Only this platform user may open the secret: the reveal page asks them to sign in with
    /// Slack or Discord first. Needs that sign-in configured on the server; fixed once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<PlatformIdentity>,
}

/// Body of `update_seecret` / `PATCH /v1/secrets/{id}`: every field optional. An empty string
/// clears `passphrase`, `label` and `webhook_url`. New content means a new key and a new `url`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSecret {
    /// New lifetime, counted from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "7d"))]
    pub expiration: Option<Expiration>,
    /// New total of views allowed (more than the views already used).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub views: Option<u32>,
    /// New passphrase; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub passphrase: Option<SecretBytes>,
    /// New label; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// New country list; empty allows all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_countries: Option<Vec<String>>,
    /// New webhook URL; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// New plaintext content (the server re-keys and answers a new `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub content: Option<SecretBytes>,
    /// New client-sealed envelope for the same id (the client re-keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
    /// With `ciphertext`: the verifier of the new key (base64url of `SHA-256(P)`), required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
}

/// Query of `list_seecrets` / `GET /v1/secrets`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct ListQuery {
    /// Only secrets in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Page size, 1–100 (default 20).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A secret's metadata as its owner sees it: never its content or key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    /// The secret's id.
    pub id: SecretId,
    /// The link to share. Present only when the server knows the key: on creation and re-keying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Text or file.
    pub kind: Kind,
    /// Where the secret is in its life.
    pub status: Status,
    /// Total views allowed.
    pub views: u32,
    /// Views still allowed.
    pub views_remaining: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops being revealable.
    pub expires_at: DateTime<Utc>,
    /// The last reveal, if any.
    pub last_viewed_at: Option<DateTime<Utc>>,
    /// The owner's plaintext note, never the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether a passphrase is needed to reveal.
    pub passphrase_protected: bool,
    /// Countries allowed to reveal (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_countries: Vec<String>,
    /// The secret's own webhook URL, overriding the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Files: size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Files: the name, only if the owner sent it in clear (the stored name is encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The only platform user who may open it, when it is bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<PlatformIdentity>,
    /// Reveals so far (only in single-secret reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_log: Option<Vec<ViewEntry>>,
    /// Webhook deliveries of this secret's events (only in single-secret reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_deliveries: Option<Vec<WebhookDelivery>>,
    /// The account's new webhook signing secret, in the one answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub webhook_secret: Option<WebhookSecret>,
}

/// A page of secrets, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretList {
    /// This page.
    pub seecrets: Vec<SecretInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Answer to `delete_seecret` / `DELETE /v1/secrets/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// The deleted secret.
    pub id: SecretId,
    /// Always true: the content is erased.
    pub deleted: bool,
    /// Now `deleted`.
    pub status: Status,
}

/// Body of `reveal_seecret` / `POST /v1/secrets/{id}/reveal`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevealRequest {
    /// The key from the link's fragment, for clients that want the server to decrypt (it stands
    /// for the proof derived from it). With neither `key` nor a valid `proof` the answer is the
    /// unknown-id 404 and nothing is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub key: Option<SecretBytes>,
    /// The reveal proof derived from the key (base64url), for clients that decrypt themselves:
    /// the answer then carries the ciphertext. A reveal needs `key` or `proof`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub proof: Option<SecretBytes>,
    /// The passphrase, when the secret has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub passphrase: Option<SecretBytes>,
    /// For a secret bound to a platform user: the sign-in ticket the server handed the reveal
    /// page after that user signed in (single use, short-lived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ticket: Option<SecretBytes>,
}

/// Body of `POST /v1/secrets/{id}/status`: what the reveal page asks before it reveals.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusRequest {
    /// The reveal proof derived from the link's key (base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub proof: SecretBytes,
    /// For a secret bound to a platform user: the sign-in ticket (checked, not used up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ticket: Option<SecretBytes>,
}

/// Answer to a reveal: uses one view.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revealed {
    /// The secret's id.
    pub id: SecretId,
    /// The plaintext, when the request carried the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub content: Option<SecretBytes>,
    /// The v1 envelope (standard base64), when the request carried no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
    /// Views left after this one.
    pub views_remaining: u32,
    /// Status after this view.
    pub status: Status,
    /// For the answer to a request (DESIGN §7.2): the responder's ephemeral X25519 public key E
    /// (base64url); the asker derives the content key from it and the request's private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_public_key: Option<String>,
}

/// What anyone holding a link may learn without using a view (the reveal page shows it).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicStatus {
    /// The secret's id.
    pub id: SecretId,
    /// `active` or why it is gone.
    pub status: Status,
    /// Text or file.
    pub kind: Kind,
    /// Whether a passphrase will be asked.
    pub passphrase_protected: bool,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Views left.
    pub views_remaining: u32,
    /// Files: the plaintext size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// For a bound secret (shown once its recipient signed in): whom it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<PlatformIdentity>,
    /// For the answer to a request: the responder's ephemeral X25519 public key E (base64url),
    /// as in [`Revealed`]; a file answer's reveal is its raw stream, so the asker reads E here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_public_key: Option<String>,
}

/// Usage counts of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Secrets that can still be revealed.
    pub active: u64,
    /// Secrets whose views were all used.
    pub consumed: u64,
    /// Secrets that expired unread (or not fully read).
    pub expired: u64,
    /// Secrets deleted by their owner.
    pub deleted: u64,
    /// Views served in total.
    pub views: u64,
}

/// The account's rate limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimit {
    /// Requests allowed per minute.
    pub per_minute: u32,
}

/// Answer to `get_account` / `GET /v1/account`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountInfo {
    /// The account's id.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Contact address.
    pub email: Option<String>,
    /// The plan (self-hosted servers have one: `self-hosted`).
    pub plan: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The per-account rate limit.
    pub rate_limit: RateLimit,
    /// Counts of the account's secrets (within the retention period).
    pub usage: Usage,
    /// The account's default webhook URL.
    pub webhook_url: Option<String>,
    /// The webhook signing secret, present only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub webhook_secret: Option<WebhookSecret>,
    /// Limits that apply when creating secrets.
    pub limits: Limits,
}

/// Creation limits of the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Longest expiration accepted.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "30d"))]
    pub max_expiration: Expiration,
    /// Most views accepted.
    pub max_views: u32,
    /// Largest text content, in bytes.
    pub max_text_bytes: u64,
    /// Largest file, in bytes (clients check it before uploading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_bytes: Option<u64>,
}

/// Delivery state of one webhook event, as the owner sees it in `get_seecret`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Event id (`webhook-id`).
    pub event_id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// The last attempt.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Body of `update_account` / `PATCH /v1/account`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateAccount {
    /// The account's default webhook URL; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

/// Answer to `rotate_webhook_secret`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RotatedWebhookSecret {
    /// The new secret, shown once.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub webhook_secret: WebhookSecret,
    /// Until when the previous secret also signs.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

/// Body of `redeliver_webhook` / `POST /v1/webhooks/{event_id}/redeliver`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redeliver {
    /// The event to send again.
    pub event_id: String,
}

/// The error body of every failed request: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending field, for `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `unknown_operation`: the operations that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_operations: Option<Vec<String>>,
    /// For `sign_in_required` and `not_the_recipient`: whom the secret is for, so the reveal
    /// page can say so and offer the right sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<PlatformIdentity>,
}

/// Event types, as sent in `type` and `X-Seecret-Event`.
pub mod event_type {
    /// A view was used.
    pub const VIEWED: &str = "seecret.viewed";
    /// The last view was used.
    pub const CONSUMED: &str = "seecret.consumed";
    /// The secret expired (swept).
    pub const EXPIRED: &str = "seecret.expired";
    /// The owner deleted it.
    pub const DELETED: &str = "seecret.deleted";
    /// A reveal was refused (`reason`: passphrase, country, rate, recipient).
    pub const ACCESS_DENIED: &str = "seecret.access_denied";
    /// A request for a secret got its answer: `secret_id` is the answer (and the request's id).
    pub const REQUEST_ANSWERED: &str = "seecret.request_answered";
}

/// The JSON body of a webhook. Never the content or key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventPayload {
    /// Event id, the same on every retry: receivers de-duplicate on it.
    pub id: String,
    /// One of [`event_type`].
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// The secret concerned.
    pub secret_id: SecretId,
    /// The owner's label.
    pub label: Option<String>,
    /// Views allowed.
    pub views: u32,
    /// Views left after the event.
    pub views_remaining: u32,
    /// The viewer's country, when known.
    pub country: Option<String>,
    /// Why access was denied (`access_denied` only): passphrase, country, rate or recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `create_request` / `POST /v1/requests` (DESIGN §7.2): ask someone for a secret. The
/// client keeps the X25519 private key d; the server gets only Q and the verifier.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRequest {
    /// The asker's X25519 public key Q, base64url (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub public_key: String,
    /// base64url of `SHA-256(HMAC-SHA256(key = d, "seecret/v1/reveal-proof"))`: the answer's
    /// reveal verifier.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub verifier: String,
    /// Shown to the responder in clear (never a secret), at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub note: Option<String>,
    /// A plaintext note for the owner's listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How long the request stays open: `30m`, `24h`, `7d`… (default `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "7d"))]
    pub expiration: Option<Expiration>,
    /// How long the answer lives once given (default `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "24h"))]
    pub answer_expiration: Option<Expiration>,
    /// Views the answer allows (default 1).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub answer_views: Option<u32>,
    /// Webhook for the request's and its answer's events, overriding the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Whether the responder may send a file instead of text (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_files: Option<bool>,
}

/// A request for a secret as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestInfo {
    /// The request's id; its answer is the secret with the same id.
    pub id: SecretId,
    /// `{public_url}/r/{id}#{base64url(Q)}`: the link to send the responder.
    pub request_url: String,
    /// `open`, `answered`, `expired` or `deleted`.
    pub status: RequestStatus,
    /// The asker's public key Q (base64url).
    pub public_key: String,
    /// Shown to the responder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The owner's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the request stops accepting an answer.
    pub expires_at: DateTime<Utc>,
    /// How long the answer lives, e.g. `24h`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "24h"))]
    pub answer_expiration: Expiration,
    /// Views the answer allows.
    pub answer_views: u32,
    /// Whether a file answer is accepted.
    pub allow_files: bool,
    /// The webhook of its events, overriding the account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// When it was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// The answer's secret id (the request's id), once answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_id: Option<SecretId>,
    /// The account's new webhook signing secret, in the one answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub webhook_secret: Option<WebhookSecret>,
}

/// A page of requests, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestList {
    /// This page.
    pub requests: Vec<RequestInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `list_requests` / `GET /v1/requests`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
pub struct RequestListQuery {
    /// Page size, 1–100 (default 20).
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Answer to `delete_request` / `DELETE /v1/requests/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestDeleted {
    /// The request.
    pub id: SecretId,
    /// Always true: later answers are refused.
    pub deleted: bool,
    /// The request's status now (`deleted`, or `answered`/`expired` if it had ended before).
    pub status: RequestStatus,
}

/// What the responder page may learn from the id alone (`GET /v1/requests/{id}/public`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicRequest {
    /// The request's id.
    pub id: SecretId,
    /// Shown to the responder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The asker's public key Q (base64url): the page checks it equals its fragment's.
    pub public_key: String,
    /// `open`, `answered`, `expired` or `deleted`.
    pub status: RequestStatus,
    /// When the request stops accepting an answer.
    pub expires_at: DateTime<Utc>,
    /// Whether a file answer is accepted.
    pub allow_files: bool,
}

/// Body of `POST /v1/requests/{id}/answer` (no token): the responder's sealed answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerRequest {
    /// A v1 envelope (standard base64) sealed under the derived K for the request's id.
    pub ciphertext: String,
    /// The responder's ephemeral X25519 public key E, base64url (32 bytes).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub ephemeral_public_key: String,
}

/// Answer to `POST /v1/requests/{id}/answer`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answered {
    /// The answer's secret id (the request's id).
    pub id: SecretId,
    /// The request it answers.
    pub request_id: SecretId,
    /// Now `answered`.
    pub status: RequestStatus,
}
