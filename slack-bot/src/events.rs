//! The Events API endpoint (`/slack/events`) and the App Home tab it serves.
//!
//! Each request is checked against the signing secret first. `url_verification` gets its
//! challenge back; an `event_callback` is claimed by its `event_id` in the bot's store (across
//! instances) and acknowledged at once, and only the first delivery is acted on: Slack redelivers
//! an event it thinks was lost (`X-Slack-Retry-Num`, `X-Slack-Retry-Reason`), and a retry must
//! never publish or post twice. `app_home_opened` on the Home tab publishes the user's home view:
//! their recent shares with status, a "Share a secret" button and a Burn button per live share.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seecret_core::bots::{Burn, phrases};
use seecret_core::model::SecretId;
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::handlers::{Who, bad_request, unauthorized, verify};
use crate::messages;
use crate::{PROVIDER, SlackBot};

/// `POST /slack/events`.
pub async fn events(State(bot): State<SlackBot>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        return unauthorized(why);
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("not an Events API payload: {e}")),
    };
    match payload["type"].as_str().unwrap_or_default() {
        // Slack checks the request URL when it is saved in the app's settings.
        "url_verification" => match payload["challenge"].as_str() {
            Some(c) => Json(json!({"challenge": c})).into_response(),
            None => bad_request("url_verification without a challenge".into()),
        },
        "event_callback" => callback(bot, &headers, payload).await,
        // app_rate_limited and anything newer: nothing to do.
        other => {
            debug!(kind = other, "an Events API request ignored");
            StatusCode::OK.into_response()
        }
    }
}

async fn callback(bot: SlackBot, headers: &HeaderMap, payload: Value) -> Response {
    let Some(event_id) = payload["event_id"].as_str() else {
        return bad_request("event_callback without event_id".into());
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let retry = header("x-slack-retry-num");
    match bot
        .inner
        .store
        .first_delivery(&format!("{PROVIDER}:{event_id}"))
        .await
    {
        Ok(true) => {
            if let Some(n) = retry {
                info!(
                    event_id,
                    retry = n,
                    reason = header("x-slack-retry-reason"),
                    "a redelivered event seen first"
                );
            }
            // Acknowledged now; the work (Slack calls) follows in its own task.
            tokio::spawn(handle(bot, payload));
            StatusCode::OK.into_response()
        }
        Ok(false) => {
            info!(
                event_id,
                retry,
                reason = header("x-slack-retry-reason"),
                "a redelivered event, already handled"
            );
            StatusCode::OK.into_response()
        }
        // Unclaimed: Slack delivers it again later.
        Err(e) => {
            warn!(error = %e, event_id, "claiming an event failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn handle(bot: SlackBot, payload: Value) {
    let event = &payload["event"];
    let (Some(team), Some(user)) = (payload["team_id"].as_str(), event["user"].as_str()) else {
        return;
    };
    if event["type"] == "app_home_opened" && event["tab"] == "home" {
        let who = Who {
            team: team.to_string(),
            user: user.to_string(),
        };
        publish_home(&bot, &who, None).await;
    }
}

/// Publishes `who`'s App Home: their recent shares (or why they cannot be listed), with `notice`
/// on top.
pub async fn publish_home(bot: &SlackBot, who: &Who, notice: Option<&str>) {
    let token = match bot.token_for(&who.team).await {
        Ok(Some(t)) => t,
        Ok(None) => return debug!(team = %who.team, "not installed"),
        Err(e) => return warn!(error = %e, "loading the workspace's token failed"),
    };
    let shares = bot.inner.core.recent_shares(&who.owner()).await;
    let view = match &shares {
        Ok(list) => messages::home(Ok(list), notice),
        Err(e) => {
            warn!(error = %e, "listing a user's shares failed");
            messages::home(Err(&e.to_string()), notice)
        }
    };
    if let Err(e) = bot.inner.slack.publish_home(&token, &who.user, view).await {
        warn!(error = %e, "views.publish failed");
    }
}

/// The Home tab's Burn button: deletes `id` if it is one of `who`'s live shares (a forged
/// payload naming someone else's secret burns nothing), then publishes their home again.
pub async fn burn(bot: SlackBot, who: Who, id: String) {
    let notice = match id.parse::<SecretId>() {
        Err(_) => ":warning: Not burnt: that is not a share of yours.".to_string(),
        Ok(id) => match bot.inner.core.burn_own(&who.owner(), id).await {
            Ok(Burn::Burnt) => {
                info!(secret = %id, user = %who.user, "burnt from the App Home");
                ":fire: Burnt: its link no longer opens.".to_string()
            }
            Ok(Burn::NotYours) => {
                warn!(secret = %id, user = %who.user, "a Burn for a share not theirs refused");
                ":warning: Not burnt: that is not a share of yours.".to_string()
            }
            Ok(Burn::NotLive) => "That share was already used up, expired or burnt.".to_string(),
            Err(e) => format!(":warning: Not burnt: {}", phrases::backend_message(&e)),
        },
    };
    publish_home(&bot, &who, Some(&notice)).await;
}
