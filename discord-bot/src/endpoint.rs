//! Discord's HTTP interactions endpoint: every request Ed25519-verified and checked against
//! replays before [`handle`] sees it; and a standalone bot's route for the remote server's signed
//! webhooks.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde_json::Value;
use tracing::debug;

use crate::DiscordBot;
use crate::handlers::{Unsupported, handle};

/// How far a request's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// Checks `X-Signature-Ed25519` over `timestamp || body`, and the timestamp's age.
fn verify(bot: &DiscordBot, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let Some(verifier) = bot.inner.verifier.as_ref() else {
        return Err("the HTTP interactions endpoint is not configured");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
    ) else {
        return Err("missing Discord signature headers");
    };
    verifier
        .verify(sig, ts, body)
        .map_err(|()| "invalid Discord signature")?;
    // Signed, so the timestamp is Discord's: refuse replays of old requests.
    let t: i64 = ts.trim().parse().map_err(|_| "bad X-Signature-Timestamp")?;
    if (chrono::Utc::now().timestamp() - t).abs() > MAX_SKEW_SECS {
        return Err("stale X-Signature-Timestamp");
    }
    Ok(())
}

/// `POST /discord/interactions`: Discord's HTTP interactions.
pub async fn interactions(
    State(bot): State<DiscordBot>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        debug!(why, "refused an interaction not signed by Discord");
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response(),
    };
    drop(body);
    // A signed request is valid for five minutes; within them, each interaction counts once.
    if let Some(id) = payload["id"].as_str()
        && !bot.inner.seen.first_time(id)
    {
        debug!("refused a replayed interaction");
        return (StatusCode::UNAUTHORIZED, "replayed interaction").into_response();
    }
    match handle(&bot, &payload).await {
        Ok(reply) => Json(reply.to_json()).into_response(),
        Err(Unsupported(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// Interaction ids answered in the last five minutes (the signature's lifetime), so a captured
/// request cannot be replayed to this instance.
#[derive(Debug, Default)]
pub(crate) struct Seen(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl Seen {
    /// Records `id`; `false` if it was already seen.
    pub(crate) fn first_time(&self, id: &str) -> bool {
        let now = chrono::Utc::now().timestamp();
        let mut seen = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if seen.len() > 10_000 {
            seen.retain(|_, t| now - *t <= 2 * MAX_SKEW_SECS);
        }
        match seen.get(id) {
            Some(t) if now - *t <= 2 * MAX_SKEW_SECS => false,
            _ => {
                seen.insert(id.to_string(), now);
                true
            }
        }
    }
}
