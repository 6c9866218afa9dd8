//! The receiving end of view events. Embedded in `seecret serve`, a bot is handed its events in
//! process (the server adapts a [`Notifier`] to its outbox's sink); standalone, it receives the
//! remote server's signed webhooks on `/{platform}/seecret-events?notify=…`, checked here.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api::EventPayload;
use crate::crypto::WebhookSecret;

/// How far a webhook's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// Tells the sender of a secret about one of its events.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// `subscriber` is what followed `{platform}:` in the secret's `notify` (e.g. `T1:U2` for
    /// Slack). An error is retried on the webhook schedule; a route that can never be valid is
    /// `Ok` (nothing to retry).
    async fn notify(&self, subscriber: &str, event: &EventPayload) -> Result<(), String>;
}

/// `?notify=…` on a standalone bot's webhook URL.
#[derive(Debug, serde::Deserialize)]
pub struct EventRoute {
    /// `{platform}:{subscriber}`.
    pub notify: String,
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

impl<'a> WebhookHeaders<'a> {
    /// Reads the three headers through `header` (absent: empty, which fails verification).
    pub fn from_fn(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            id: header("webhook-id").unwrap_or(""),
            timestamp: header("webhook-timestamp").unwrap_or(""),
            signature: header("webhook-signature").unwrap_or(""),
        }
    }
}

/// What the event route answers: an HTTP status and a short text (empty for 204).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReply {
    /// 204 delivered, 400 not this platform's route, 401 not signed, 404 webhooks off, 503 retry.
    pub status: u16,
    /// Why, for anything but 204.
    pub text: String,
}

impl EventReply {
    fn new(status: u16, text: impl Into<String>) -> Self {
        Self {
            status,
            text: text.into(),
        }
    }
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
    if (now.timestamp() - ts).abs() > MAX_SKEW_SECS {
        return Err("stale webhook-timestamp");
    }
    if !signed_by(secret, headers.id, ts, headers.signature, body) {
        return Err("bad webhook-signature");
    }
    serde_json::from_slice(body).map_err(|_| "unreadable event")
}

/// Whether `signatures` (space-separated `v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`) holds
/// `secret`'s signature, compared in constant time. This is the Standard Webhooks scheme the
/// server signs with (its signing code lives with the engine, which a standalone bot does not
/// compile; a test below checks the two agree).
fn signed_by(secret: &WebhookSecret, id: &str, ts: i64, signatures: &str, body: &[u8]) -> bool {
    let raw = secret.expose();
    let key = STANDARD
        .decode(raw.trim_start_matches("whsec_"))
        .unwrap_or_else(|_| raw.as_bytes().to_vec());
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
        return false;
    };
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signatures.split_whitespace().fold(false, |ok, s| {
        ok | bool::from(s.as_bytes().ct_eq(expected.as_bytes()))
    })
}

/// The signed event route: verifies the delivery with `secret` (`None`: webhooks are off),
/// strips `{prefix}:` from `notify` (`platform` names it in the refusal) and hands the event to
/// `to`.
pub async fn receive(
    secret: Option<&WebhookSecret>,
    prefix: &str,
    platform: &str,
    notify: &str,
    headers: WebhookHeaders<'_>,
    body: &[u8],
    to: &dyn Notifier,
) -> EventReply {
    let Some(secret) = secret else {
        return EventReply::new(404, "webhooks are not configured");
    };
    let event = match verify_event(secret, headers, body, Utc::now()) {
        Ok(e) => e,
        Err(why) => return EventReply::new(401, why),
    };
    let Some(subscriber) = notify
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix(':'))
    else {
        return EventReply::new(400, format!("notify is not a {platform} route"));
    };
    match to.notify(subscriber, &event).await {
        Ok(()) => EventReply::new(204, ""),
        // The server retries on its schedule.
        Err(e) => EventReply::new(503, e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Heard(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Notifier for Heard {
        async fn notify(&self, subscriber: &str, event: &EventPayload) -> Result<(), String> {
            self.0
                .lock()
                .unwrap()
                .push(format!("{subscriber} {}", event.kind));
            Ok(())
        }
    }

    const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn body() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_1", "type": "seecret.viewed", "created_at": "2026-01-01T00:00:00Z",
            "secret_id": "01890a5d-ac96-774b-bcce-b302099a8057", "label": null, "views": 1,
            "views_remaining": 0, "country": null
        }))
        .unwrap()
    }

    fn sign(id: &str, ts: i64, body: &[u8]) -> String {
        let key = STANDARD.decode(WHSEC.trim_start_matches("whsec_")).unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    async fn status(
        secret: Option<&WebhookSecret>,
        notify: &str,
        signature: &str,
        timestamp: &str,
        heard: &Heard,
    ) -> u16 {
        let h = WebhookHeaders {
            id: "evt_1",
            timestamp,
            signature,
        };
        receive(secret, "slack", "Slack", notify, h, &body(), heard)
            .await
            .status
    }

    #[tokio::test]
    async fn the_event_route_checks_signature_age_and_platform_before_telling() {
        let secret = WebhookSecret::from_stored(WHSEC.to_string());
        let s = Some(&secret);
        let heard = Heard::default();
        let now = Utc::now().timestamp();
        let (ts, old) = (now.to_string(), (now - 301).to_string());
        let good = sign("evt_1", now, &body());
        let stale = sign("evt_1", now - 301, &body());
        assert_eq!(status(s, "slack:T1:U1", &good, &ts, &heard).await, 204);
        assert_eq!(status(s, "slack:T1:U1", "v1,AAAA", &ts, &heard).await, 401);
        assert_eq!(status(s, "slack:T1:U1", &stale, &old, &heard).await, 401);
        assert_eq!(status(s, "discord:1", &good, &ts, &heard).await, 400);
        assert_eq!(status(s, "slackT1:U1", &good, &ts, &heard).await, 400);
        assert_eq!(status(None, "slack:T1", &good, &ts, &heard).await, 404);
        assert_eq!(*heard.0.lock().unwrap(), ["T1:U1 seecret.viewed"]);
    }

    #[cfg(feature = "engine")]
    #[test]
    fn verification_agrees_with_the_servers_signing() {
        let secret = WebhookSecret::from_stored(WHSEC.to_string());
        let b = body();
        let sig = secret.sign_standard("evt_9", 1_700_000_000, &b);
        assert_eq!(sig, sign("evt_9", 1_700_000_000, &b));
        assert!(signed_by(&secret, "evt_9", 1_700_000_000, &sig, &b));
        assert!(!signed_by(&secret, "evt_8", 1_700_000_000, &sig, &b));
    }
}
