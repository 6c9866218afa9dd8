//! The audit log's records: what an owner could see happen to their secrets (created, revealed
//! with the viewer's country, denied with the reason, deleted), one record each, for a sink the
//! server keeps apart from its debug log. A record names ids, never content, key, passphrase,
//! label or address.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{AccountId, Kind, SecretId};

/// One owner-visible event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent<'a> {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// `created`, `revealed`, `denied` or `deleted`.
    pub event: &'static str,
    /// The owner.
    pub account: AccountId,
    /// The secret.
    pub secret: SecretId,
    /// `created`: text or file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// `created`: the views it allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub views: Option<u32>,
    /// `created`: when it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `revealed`: the views left after this one (0: consumed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub views_remaining: Option<u32>,
    /// `revealed`, `denied`: the viewer's country (ISO 3166-1 alpha-2), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    /// `denied`: why (passphrase, passphrase_locked, geo_blocked, not_the_recipient, consumed,
    /// gone, key…), as in `seecret_reveals_denied_total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl<'a> AuditEvent<'a> {
    /// An event with only its kind, owner and secret set.
    pub fn new(event: &'static str, account: AccountId, secret: SecretId) -> Self {
        Self {
            time: Utc::now(),
            event,
            account,
            secret,
            kind: None,
            views: None,
            expires_at: None,
            views_remaining: None,
            country: None,
            reason: None,
        }
    }
}

/// Where audit records go. Recording happens after the change committed and must not fail the
/// request (a reveal's view is already used), so a sink reports its own failures.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Records one event.
    fn record(&self, event: &AuditEvent<'_>);
}
