//! The HTTP endpoints Slack calls. Each checks Slack's signature over the raw body first, answers
//! within Slack's three seconds, and does slow work (creating, delivering) after the answer.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seecret_core::bots::{self, BackendError, Share, Shared};
use seecret_core::crypto::SecretBytes;
use seecret_core::model::Expiration;
use serde::Deserialize;
use serde_json::{Value, json};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::SlackBot;
use crate::messages::{self, ACTION, MODAL_ID, block};
use crate::slack::{Message, Reply, SlackError, Token};

/// Checks `X-Slack-Signature` over the raw body and the timestamp's age (5 minutes).
fn verify(bot: &SlackBot, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
    ) else {
        return Err("missing Slack signature headers");
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return Err("invalid Slack signature");
    };
    let secret = SlackSigningSecret::new(bot.inner.cfg.signing_secret.to_string());
    SlackEventSignatureVerifier::new(&secret)
        .verify(sig, body, ts)
        .map_err(|_| "invalid or expired Slack signature")
}

fn unauthorized(why: &'static str) -> Response {
    debug!(why, "refused a request not signed by Slack");
    (StatusCode::UNAUTHORIZED, why).into_response()
}

fn bad_request(why: String) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

/// An immediate ephemeral answer to a slash command.
fn answer(message: &Message) -> Response {
    Json(Reply::ephemeral(message)).into_response()
}

/// The slash command's form. `text` may hold a secret (quick mode): zeroed, never printed.
#[derive(Deserialize)]
struct Command {
    team_id: String,
    channel_id: String,
    user_id: String,
    command: String,
    #[serde(default)]
    text: String,
    response_url: String,
    trigger_id: String,
}

/// What the modal carries from the command to its submission.
#[derive(serde::Serialize, Deserialize)]
struct Metadata {
    /// Where to answer the sender ephemerally (the command's channel).
    response_url: Option<String>,
    channel_id: Option<String>,
}

/// `POST /slack/commands`.
pub async fn command(State(bot): State<SlackBot>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        return unauthorized(why);
    }
    let mut cmd: Command = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(format!("not a slash command: {e}")),
    };
    info!(team = %cmd.team_id, user = %cmd.user_id, command = %cmd.command, "slash command");
    let token = match bot.token_for(&cmd.team_id).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return answer(&messages::error(
                "Seecret is not installed in this workspace yet: ask an admin to install it.",
            ));
        }
        Err(e) => {
            warn!(error = %e, team = %cmd.team_id, "loading the workspace's token failed");
            return answer(&messages::error(
                "Seecret cannot use this workspace's installation right now.",
            ));
        }
    };
    let raw = Zeroizing::new(std::mem::take(&mut cmd.text));
    let text = raw.trim();
    let max_views = bot.inner.cfg.max_views;
    if text.eq_ignore_ascii_case("help") {
        return answer(&messages::help(max_views));
    }
    if text.is_empty() {
        let meta = Metadata {
            response_url: Some(cmd.response_url.clone()),
            channel_id: Some(cmd.channel_id.clone()),
        };
        let view = messages::modal(&serde_json::to_string(&meta).unwrap_or_default(), max_views);
        // Inside the handler: the trigger id dies three seconds after Slack sent it.
        return match bot
            .inner
            .slack
            .open_modal(&token, &cmd.trigger_id, view)
            .await
        {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => {
                warn!(error = %e, "views.open failed");
                answer(&messages::error(&format!(
                    "Could not open the form: {e}. Try again, or use `/share-secret help`."
                )))
            }
        };
    }
    let quick = match bots::parse_quick(text) {
        Ok(q) => q,
        Err(e) => return answer(&messages::error(&format!("{e}. See `/share-secret help`."))),
    };
    let views = quick.views.unwrap_or(1);
    if !(1..=max_views).contains(&views) {
        return answer(&messages::error(&format!(
            "--views must be between 1 and {max_views}."
        )));
    }
    if let Err(msg) = check_rate(&bot, &cmd.team_id, &cmd.user_id) {
        return answer(&messages::error(&msg));
    }
    let share = Share {
        secret: SecretBytes::new(quick.secret.as_bytes().to_vec()),
        expiration: quick.expiration.unwrap_or(Expiration::DEFAULT),
        views,
        passphrase: None,
        label: Some(messages::label(&cmd.team_id, &cmd.user_id, None)),
        notify: format!("slack:{}:{}", cmd.team_id, cmd.user_id),
    };
    let mut pending = tokio::spawn(create(bot.clone(), share));
    // Answer within Slack's deadline; past it, the link follows through `response_url`.
    match tokio::time::timeout(Duration::from_millis(2000), &mut pending).await {
        Ok(Ok(Ok(shared))) => answer(&messages::link_for_sender(&shared)),
        Ok(Ok(Err(e))) => answer(&messages::error(&backend_message(&e))),
        Ok(Err(_)) => answer(&messages::error(
            "Something went wrong; nothing was shared.",
        )),
        Err(_) => {
            let to = Delivery {
                team: cmd.team_id.clone(),
                sender: cmd.user_id.clone(),
                recipient: None,
                response_url: Some(cmd.response_url.clone()),
                passphrase: false,
            };
            tokio::spawn(async move {
                match pending.await {
                    Ok(Ok(shared)) => deliver(&bot, &to, shared).await,
                    Ok(Err(e)) => {
                        let _ =
                            tell_sender(&bot, &to, &messages::error(&backend_message(&e))).await;
                    }
                    Err(_) => {}
                }
            });
            StatusCode::OK.into_response()
        }
    }
}

fn check_rate(bot: &SlackBot, team: &str, user: &str) -> Result<(), String> {
    let d = bot.inner.per_user.check(&format!("{team}:{user}"));
    if d.allowed {
        Ok(())
    } else {
        Err(format!(
            "You are creating secrets too fast; try again in {} s.",
            d.retry_after.as_secs().max(1)
        ))
    }
}

async fn create(bot: SlackBot, share: Share) -> Result<Shared, BackendError> {
    bot.inner.backend.share(share).await
}

fn backend_message(e: &BackendError) -> String {
    match e {
        BackendError::Invalid { message, .. } => format!("{message}. Nothing was shared."),
        other => format!("{other}. Nothing was shared."),
    }
}

/// `POST /slack/interactions`: the modal's submission (other interactions are acknowledged).
pub async fn interaction(State(bot): State<SlackBot>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        return unauthorized(why);
    }
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(format!("not an interaction: {e}")),
    };
    let form = Zeroizing::new(form.payload);
    let payload: Value = match serde_json::from_str(&form) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("interaction payload is not JSON: {e}")),
    };
    let kind = payload["type"].as_str().unwrap_or_default();
    let callback = payload["view"]["callback_id"].as_str().unwrap_or_default();
    if kind != "view_submission" || callback != MODAL_ID {
        // block_actions (the link button), view_closed…: nothing to do but acknowledge.
        return StatusCode::OK.into_response();
    }
    match submission(&bot, &payload).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Refusal::Fields(errors)) => {
            Json(json!({"response_action": "errors", "errors": errors})).into_response()
        }
        Err(Refusal::Bad(why)) => bad_request(why),
    }
}

enum Refusal {
    /// Shown next to the modal's inputs.
    Fields(serde_json::Map<String, Value>),
    /// Not a well-formed submission.
    Bad(String),
}

fn field(block: &str, message: impl Into<String>) -> Refusal {
    let mut m = serde_json::Map::new();
    m.insert(block.to_string(), Value::String(message.into()));
    Refusal::Fields(m)
}

async fn submission(bot: &SlackBot, payload: &Value) -> Result<(), Refusal> {
    let team = payload["team"]["id"]
        .as_str()
        .or_else(|| payload["user"]["team_id"].as_str())
        .ok_or_else(|| Refusal::Bad("submission without team".into()))?
        .to_string();
    let user = payload["user"]["id"]
        .as_str()
        .ok_or_else(|| Refusal::Bad("submission without user".into()))?
        .to_string();
    let values = &payload["view"]["state"]["values"];
    if !values.is_object() {
        return Err(Refusal::Bad("submission without state".into()));
    }
    let input = |b: &str| &values[b][ACTION];
    let secret = Zeroizing::new(
        input(block::SECRET)["value"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    );
    if secret.trim().is_empty() {
        return Err(field(block::SECRET, "Type the secret to share."));
    }
    if secret.chars().count() > seecret_core::bots::MAX_CHAT_SECRET {
        return Err(field(
            block::SECRET,
            "That is too long for the form; use the CLI or the web.",
        ));
    }
    let expiration: Expiration = input(block::EXPIRES)["selected_option"]["value"]
        .as_str()
        .unwrap_or("24h")
        .parse()
        .map_err(|_| field(block::EXPIRES, "Pick how long the link lives."))?;
    let max_views = bot.inner.cfg.max_views;
    let views: u32 = input(block::VIEWS)["selected_option"]["value"]
        .as_str()
        .unwrap_or("1")
        .parse()
        .ok()
        .filter(|v| (1..=max_views).contains(v))
        .ok_or_else(|| {
            field(
                block::VIEWS,
                format!("Views must be between 1 and {max_views}."),
            )
        })?;
    let recipient = input(block::RECIPIENT)["selected_user"]
        .as_str()
        .map(String::from);
    let passphrase = input(block::PASSPHRASE)["value"]
        .as_str()
        .filter(|p| !p.is_empty())
        .map(|p| SecretBytes::new(p.as_bytes().to_vec()));
    let meta: Metadata =
        serde_json::from_str(payload["view"]["private_metadata"].as_str().unwrap_or("{}"))
            .unwrap_or(Metadata {
                response_url: None,
                channel_id: None,
            });
    check_rate(bot, &team, &user).map_err(|m| field(block::SECRET, m))?;
    let has_passphrase = passphrase.is_some();
    let share = Share {
        secret: SecretBytes::new(secret.as_bytes().to_vec()),
        expiration,
        views,
        passphrase,
        label: Some(messages::label(&team, &user, recipient.as_deref())),
        notify: format!("slack:{team}:{user}"),
    };
    drop(secret);
    let to = Delivery {
        team,
        sender: user,
        recipient,
        response_url: meta.response_url,
        passphrase: has_passphrase,
    };
    let bot2 = bot.clone();
    let work = tokio::spawn(async move {
        let shared = create(bot2.clone(), share).await?;
        deliver(&bot2, &to, shared).await;
        Ok::<(), BackendError>(())
    });
    // Settings the server refuses are shown in the form, if the answer comes in time; anything
    // later is reported by message.
    match tokio::time::timeout(Duration::from_millis(2000), work).await {
        Ok(Ok(Err(BackendError::Invalid { field: f, message }))) => {
            let b = match f.as_deref() {
                Some("expiration") => block::EXPIRES,
                Some("views") => block::VIEWS,
                Some("passphrase") => block::PASSPHRASE,
                _ => block::SECRET,
            };
            Err(field(b, message))
        }
        Ok(Ok(Err(e))) => Err(field(block::SECRET, backend_message(&e))),
        _ => Ok(()),
    }
}

/// Where a created link goes.
struct Delivery {
    team: String,
    sender: String,
    recipient: Option<String>,
    response_url: Option<String>,
    passphrase: bool,
}

/// Delivers the link: by DM to the recipient (the sender is told), or to the sender. If it
/// cannot be delivered the secret is deleted, so no link to it exists anywhere, and the sender
/// is told why.
async fn deliver(bot: &SlackBot, to: &Delivery, shared: Shared) {
    let result = deliver_link(bot, to, &shared).await;
    let Err(e) = result else {
        return;
    };
    warn!(error = %e, secret = %shared.id, "delivering a link failed; deleting the secret");
    if let Err(b) = bot.inner.backend.burn(shared.id).await {
        warn!(error = %b, secret = %shared.id, "deleting the undelivered secret failed");
    }
    let msg = messages::error(&format!(
        "The link could not be delivered: {e}. The secret was deleted; nothing was shared."
    ));
    let _ = tell_sender(bot, to, &msg).await;
}

async fn deliver_link(bot: &SlackBot, to: &Delivery, shared: &Shared) -> Result<(), SlackError> {
    match &to.recipient {
        Some(r) => {
            let token = token(bot, &to.team).await?;
            bot.inner
                .slack
                .dm(
                    &token,
                    r,
                    messages::link_for_recipient(&to.sender, shared, to.passphrase),
                )
                .await?;
            // The recipient has it; failing to confirm to the sender is no reason to burn it.
            if let Err(e) = tell_sender(bot, to, &messages::sent_to(r, shared)).await {
                warn!(error = %e, "confirming to the sender failed");
            }
            Ok(())
        }
        None => tell_sender(bot, to, &messages::link_for_sender(shared)).await,
    }
}

async fn token(bot: &SlackBot, team: &str) -> Result<Token, SlackError> {
    match bot.token_for(team).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(SlackError::Auth("not_installed".into())),
        Err(e) => Err(SlackError::Api(e.to_string())),
    }
}

/// Ephemerally in the command's channel when possible, else by DM.
async fn tell_sender(bot: &SlackBot, to: &Delivery, msg: &Message) -> Result<(), SlackError> {
    if let Some(url) = &to.response_url {
        match bot.inner.slack.respond(url, msg).await {
            Ok(()) => return Ok(()),
            Err(e) => debug!(error = %e, "response_url failed; falling back to a DM"),
        }
    }
    let token = token(bot, &to.team).await?;
    bot.inner.slack.dm(&token, &to.sender, msg.clone()).await
}

/// `?notify=slack:TEAM:USER` on a standalone bot's webhook URL.
#[derive(Deserialize)]
pub struct EventRoute {
    notify: String,
}

/// `POST /slack/seecret-events`: a remote Seecret server's webhook about one of our secrets.
pub async fn seecret_event(
    State(bot): State<SlackBot>,
    Query(route): Query<EventRoute>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = bot.inner.webhook_secret.as_ref() else {
        return (StatusCode::NOT_FOUND, "webhooks are not configured").into_response();
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let h = bots::WebhookHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let event = match bots::verify_event(secret, h, &body, chrono::Utc::now()) {
        Ok(e) => e,
        Err(why) => return (StatusCode::UNAUTHORIZED, why).into_response(),
    };
    let Some(subscriber) = route.notify.strip_prefix("slack:") else {
        return bad_request("notify is not a Slack route".into());
    };
    match bot.tell_sender(subscriber, &event).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        // The server retries on its schedule.
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}
