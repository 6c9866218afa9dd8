//! The row types every query of both SQL backends decodes into, and their one conversion to
//! domain records, which refuses values no writer produces (a corrupt row) instead of guessing.
//!
//! Times are Unix milliseconds in 64-bit integer columns and counters are 32-bit `INTEGER`
//! columns on both backends, so the row types are the same for both.

use chrono::{DateTime, Utc};

use super::{
    AccountRecord, OutboxRow, RequestRecord, SecretRecord, StoreError, StoreResult, TicketRecord,
};
use crate::api::WebhookDelivery;
use crate::crypto::Verifier;
use crate::model::{Kind, PlatformIdentity, ViewEntry};
use crate::request::RequestPublicKey;

/// An `accounts` row, as the account queries select it.
#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: String,
    name: String,
    email: Option<String>,
    plan: String,
    webhook_url: Option<String>,
    created_at: i64,
}

/// A `secrets` row.
#[derive(sqlx::FromRow)]
pub(super) struct SecretRow {
    id: String,
    account_id: String,
    kind: String,
    envelope: Option<Vec<u8>>,
    blob_key: Option<String>,
    size: Option<i64>,
    file_name: Option<String>,
    label: Option<String>,
    passphrase_hash: Option<String>,
    allowed_countries: String,
    webhook_url: Option<String>,
    notify: Option<String>,
    views_total: i32,
    views_used: i32,
    status: String,
    created_at: i64,
    expires_at: i64,
    last_viewed_at: Option<i64>,
    pp_fail_count: i32,
    pp_fail_window: i64,
    verifier: Option<Vec<u8>>,
    content_version: i64,
    bound_to: Option<String>,
    /// Absent from listings' column lists (they never need it).
    #[sqlx(default)]
    ephemeral_public_key: Option<Vec<u8>>,
}

/// A `requests` row.
#[derive(sqlx::FromRow)]
pub(super) struct RequestRow {
    id: String,
    account_id: String,
    public_key: Vec<u8>,
    verifier: Vec<u8>,
    note: Option<String>,
    label: Option<String>,
    webhook_url: Option<String>,
    notify: Option<String>,
    allow_files: i32,
    answer_expiration: i64,
    answer_views: i32,
    status: String,
    created_at: i64,
    expires_at: i64,
    answered_at: Option<i64>,
}

impl RequestRow {
    pub(super) fn into_record(self) -> StoreResult<RequestRecord> {
        Ok(RequestRecord {
            id: parse(&self.id, "requests.id")?,
            account_id: parse(&self.account_id, "requests.account_id")?,
            public_key: RequestPublicKey::from_bytes(&self.public_key)
                .ok_or_else(|| StoreError::corrupt("requests.public_key", "malformed"))?,
            verifier: Verifier::from_bytes(&self.verifier)
                .ok_or_else(|| StoreError::corrupt("requests.verifier", "malformed"))?,
            note: self.note,
            label: self.label,
            webhook_url: self.webhook_url,
            notify: self.notify,
            allow_files: self.allow_files != 0,
            answer_expiration: std::time::Duration::from_secs(
                u64::try_from(self.answer_expiration)
                    .map_err(|_| StoreError::corrupt("requests.answer_expiration", "negative"))?,
            ),
            answer_views: count(self.answer_views, "requests.answer_views")?,
            status: parse(&self.status, "requests.status")?,
            created_at: time(self.created_at, "requests.created_at")?,
            expires_at: time(self.expires_at, "requests.expires_at")?,
            answered_at: self
                .answered_at
                .map(|t| time(t, "requests.answered_at"))
                .transpose()?,
        })
    }
}

/// The columns of a secret its events report (see `facts_events` in [`store_impl!`]).
#[derive(sqlx::FromRow)]
pub(super) struct FactsRow {
    pub account_id: String,
    pub label: Option<String>,
    pub views_total: i32,
    pub views_used: i32,
    pub webhook_url: Option<String>,
    pub notify: Option<String>,
    /// The owner's account-wide webhook, read by the same statement (one round trip less).
    pub account_webhook_url: Option<String>,
}

/// A secret that a statement just ended (deleted or expired).
#[derive(sqlx::FromRow)]
pub(super) struct EndedRow {
    pub id: String,
    pub blob_key: Option<String>,
    #[sqlx(flatten)]
    pub facts: FactsRow,
}

/// A secret whose view was just claimed.
#[derive(sqlx::FromRow)]
pub(super) struct ClaimedRow {
    pub envelope: Option<Vec<u8>>,
    pub blob_key: Option<String>,
    pub status: String,
    #[sqlx(flatten)]
    pub facts: FactsRow,
}

/// One line of an account's usage: secrets in one status.
#[derive(sqlx::FromRow)]
pub(super) struct UsageRow {
    pub status: String,
    pub n: i64,
    pub v: i64,
}

/// A `views` row.
#[derive(sqlx::FromRow)]
pub(super) struct ViewRow {
    at: i64,
    country: Option<String>,
    viewer: Option<String>,
}

/// A `sign_in_tickets` row.
#[derive(sqlx::FromRow)]
pub(super) struct TicketRow {
    secret_id: String,
    identity: String,
    created_at: i64,
    expires_at: i64,
}

/// An outbox event as a claim returns it.
#[derive(sqlx::FromRow)]
pub(super) struct ClaimRow {
    id: String,
    account_id: String,
    event_type: String,
    payload: String,
    target_url: String,
    attempts: i32,
}

/// An outbox event's delivery state.
#[derive(sqlx::FromRow)]
pub(super) struct DeliveryRow {
    id: String,
    event_type: String,
    state: String,
    attempts: i32,
    created_at: i64,
    last_attempt_at: Option<i64>,
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: i64,
}

/// The stored form of a time.
pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored time; one out of chrono's range is a corrupt row, not 1970.
pub(super) fn time(ms: i64, column: &'static str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(column, format!("time out of range: {ms}")))
}

/// A counter read from an `INTEGER` column; a negative one means the row was tampered with.
pub(super) fn count(v: i32, column: &'static str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(column, format!("negative: {v}")))
}

/// A count to store in an `INTEGER` column (neither database has unsigned types).
pub(super) fn to_i32(v: u32, field: &'static str) -> StoreResult<i32> {
    i32::try_from(v).map_err(|_| StoreError::OutOfRange {
        field,
        value: v.into(),
    })
}

/// A size to store in a 64-bit column.
pub(super) fn to_i64(v: u64, field: &'static str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange { field, value: v })
}

/// Parses a stored id or status; one that does not parse is a corrupt row.
pub(super) fn parse<T: std::str::FromStr>(s: &str, column: &'static str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::corrupt(column, e))
}

pub(super) fn join_countries(c: &[String]) -> String {
    c.join(",")
}

/// The stored form of a platform identity: its JSON (`bound_to`, `views.viewer`, tickets).
pub(super) fn identity_json(i: &PlatformIdentity) -> StoreResult<String> {
    // A struct of strings always serialises; the error is only mapped, never expected.
    serde_json::to_string(i).map_err(|e| StoreError::corrupt("identity", e))
}

/// A stored platform identity; JSON no writer produced is a corrupt row.
fn identity(json: &str, column: &'static str) -> StoreResult<PlatformIdentity> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(column, e))
}

fn split_countries(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

impl AccountRow {
    pub(super) fn into_record(self) -> StoreResult<AccountRecord> {
        Ok(AccountRecord {
            id: parse(&self.id, "accounts.id")?,
            name: self.name,
            email: self.email,
            plan: self.plan,
            webhook_url: self.webhook_url,
            created_at: time(self.created_at, "accounts.created_at")?,
        })
    }
}

impl SecretRow {
    pub(super) fn into_record(self) -> StoreResult<SecretRecord> {
        Ok(SecretRecord {
            id: parse(&self.id, "secrets.id")?,
            account_id: parse(&self.account_id, "secrets.account_id")?,
            kind: match self.kind.as_str() {
                "text" => Kind::Text,
                "file" => Kind::File,
                other => return Err(StoreError::corrupt("secrets.kind", other)),
            },
            envelope: self.envelope,
            blob_key: self.blob_key,
            size: self
                .size
                .map(|s| {
                    u64::try_from(s)
                        .map_err(|_| StoreError::corrupt("secrets.size", format!("negative: {s}")))
                })
                .transpose()?,
            file_name: self.file_name,
            label: self.label,
            passphrase_hash: self.passphrase_hash,
            allowed_countries: split_countries(&self.allowed_countries),
            webhook_url: self.webhook_url,
            notify: self.notify,
            views_total: count(self.views_total, "secrets.views_total")?,
            views_used: count(self.views_used, "secrets.views_used")?,
            status: parse(&self.status, "secrets.status")?,
            created_at: time(self.created_at, "secrets.created_at")?,
            expires_at: time(self.expires_at, "secrets.expires_at")?,
            last_viewed_at: self
                .last_viewed_at
                .map(|t| time(t, "secrets.last_viewed_at"))
                .transpose()?,
            pp_fail_count: count(self.pp_fail_count, "secrets.pp_fail_count")?,
            pp_fail_window: time(self.pp_fail_window, "secrets.pp_fail_window")?,
            verifier: self
                .verifier
                .map(|w| {
                    Verifier::from_bytes(&w)
                        .ok_or_else(|| StoreError::corrupt("secrets.verifier", "malformed"))
                })
                .transpose()?,
            content_version: self.content_version,
            bound_to: self
                .bound_to
                .map(|j| identity(&j, "secrets.bound_to"))
                .transpose()?,
            ephemeral_public_key: self
                .ephemeral_public_key
                .map(|k| {
                    RequestPublicKey::from_bytes(&k).ok_or_else(|| {
                        StoreError::corrupt("secrets.ephemeral_public_key", "malformed")
                    })
                })
                .transpose()?,
        })
    }
}

impl ViewRow {
    pub(super) fn into_entry(self) -> StoreResult<ViewEntry> {
        Ok(ViewEntry {
            at: time(self.at, "views.at")?,
            country: self.country,
            viewer: self
                .viewer
                .map(|j| identity(&j, "views.viewer"))
                .transpose()?,
        })
    }
}

impl TicketRow {
    pub(super) fn into_record(self) -> StoreResult<TicketRecord> {
        Ok(TicketRecord {
            secret_id: parse(&self.secret_id, "sign_in_tickets.secret_id")?,
            identity: identity(&self.identity, "sign_in_tickets.identity")?,
            created_at: time(self.created_at, "sign_in_tickets.created_at")?,
            expires_at: time(self.expires_at, "sign_in_tickets.expires_at")?,
        })
    }
}

impl ClaimRow {
    pub(super) fn into_outbox_row(self, lease_token: &str) -> StoreResult<OutboxRow> {
        Ok(OutboxRow {
            id: self.id,
            account_id: parse(&self.account_id, "outbox.account_id")?,
            event_type: self.event_type,
            payload: self.payload,
            target_url: self.target_url,
            attempts: count(self.attempts, "outbox.attempts")?,
            lease_token: lease_token.to_string(),
        })
    }
}

impl DeliveryRow {
    pub(super) fn into_delivery(self) -> StoreResult<WebhookDelivery> {
        Ok(WebhookDelivery {
            event_id: self.id,
            kind: self.event_type,
            attempts: count(self.attempts, "outbox.attempts")?,
            created_at: time(self.created_at, "outbox.created_at")?,
            last_attempt_at: self
                .last_attempt_at
                .map(|t| time(t, "outbox.last_attempt_at"))
                .transpose()?,
            // Only HTTP statuses are stored.
            last_status: self
                .last_status
                .map(|s| u16::try_from(s).map_err(|_| StoreError::corrupt("outbox.last_status", s)))
                .transpose()?,
            last_error: self.last_error,
            next_attempt_at: (self.state == "pending")
                .then(|| time(self.next_attempt_at, "outbox.next_attempt_at"))
                .transpose()?,
            state: self.state,
        })
    }
}
