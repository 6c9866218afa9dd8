//! The event model of the transactional outbox: the event types, the JSON body a webhook or an
//! in-process sink receives ([`EventPayload`]), and the rows ([`NewEvent`]) a change writes in its
//! own transaction. The store builds these; the webhook worker delivers them. Builds on the
//! domain alone, so the store needs nothing from the delivery side.

use chrono::{DateTime, Utc};

use serde::Serialize;

use crate::model::{AccountId, PlatformIdentity, SecretId};

// The wire types live with the other wire types, so clients (the bots) read them without the
// engine.
pub use crate::api::{EventPayload, event_type};

/// An event to write to the outbox, in the transaction of the change that caused it.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Event id.
    pub id: String,
    /// Owner.
    pub account_id: AccountId,
    /// The secret concerned.
    pub secret_id: SecretId,
    /// One of [`event_type`].
    pub kind: &'static str,
    /// The exact body that will be sent on every attempt.
    pub payload: String,
    /// Where to deliver it.
    pub target_url: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// Facts about a secret that events report.
#[derive(Clone, Debug)]
pub struct EventFacts<'a> {
    /// Owner.
    pub account_id: AccountId,
    /// The secret.
    pub secret_id: SecretId,
    /// Its label.
    pub label: Option<&'a str>,
    /// Views allowed.
    pub views: u32,
    /// Views left.
    pub views_remaining: u32,
    /// Viewer's country.
    pub country: Option<&'a str>,
    /// For a bound secret: the signed-in user who revealed it, or whom it refused.
    pub viewer: Option<&'a PlatformIdentity>,
    /// The secret's own webhook URL.
    pub secret_webhook: Option<&'a str>,
    /// The account's webhook URL.
    pub account_webhook: Option<&'a str>,
    /// The in-process subscriber, if any.
    pub notify: Option<&'a str>,
}

/// Outbox targets starting with this go to an in-process event sink (`webhook::EventSink`),
/// not over HTTP.
pub const INTERNAL_PREFIX: &str = "internal:";

/// The body an event is sent with: [`EventPayload`], plus for a bound secret the signed-in
/// `viewer` (a field added after the webhook contract was written, so it is additive: receivers
/// and the bots' parser of [`EventPayload`] ignore what they do not know).
#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    event: &'a EventPayload,
    #[serde(skip_serializing_if = "Option::is_none")]
    viewer: Option<&'a PlatformIdentity>,
}

/// Builds the outbox rows for `kinds` happening now to a secret: one per kind for its webhook
/// (the secret's, else the account's) and one per kind for its in-process subscriber.
pub fn events(
    facts: &EventFacts<'_>,
    kinds: &[&'static str],
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let webhook = facts
        .secret_webhook
        .or(facts.account_webhook)
        .map(String::from);
    let internal = facts.notify.map(|n| format!("{INTERNAL_PREFIX}{n}"));
    let targets: Vec<String> = webhook.into_iter().chain(internal).collect();
    targets
        .iter()
        .flat_map(|target| kinds.iter().map(move |kind| (target, kind)))
        .map(|(target, kind)| {
            let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
            let payload = EventPayload {
                id: id.clone(),
                kind: (*kind).to_string(),
                created_at: now,
                secret_id: facts.secret_id,
                label: facts.label.map(String::from),
                views: facts.views,
                views_remaining: facts.views_remaining,
                country: facts.country.map(String::from),
                reason: reason.map(String::from),
            };
            NewEvent {
                id,
                account_id: facts.account_id,
                secret_id: facts.secret_id,
                kind,
                payload: serde_json::to_string(&Body {
                    event: &payload,
                    viewer: facts.viewer,
                })
                .unwrap_or_default(),
                target_url: target.to_string(),
                created_at: now,
            }
        })
        .collect()
}
