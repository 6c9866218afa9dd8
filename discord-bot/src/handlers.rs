//! The interactions: one [`handle`] for both transports (the HTTP endpoint here, the gateway in
//! `gateway.rs`). Each answers within Discord's three seconds: creating gets two, and anything
//! slower is deferred and finished by editing the answer. A link that cannot be delivered is
//! burnt, so no secret is left that nobody can open.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seecret_core::bots::{self, BackendError, MAX_CHAT_SECRET, Share};
use seecret_core::crypto::SecretBytes;
use seecret_core::model::{Expiration, SecretId};
use serde::Deserialize;
use serde_json::Value;
use serenity::builder::CreateInteractionResponse;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::DiscordBot;
use crate::messages::{self, MODAL_ID, input};

/// How long creating (and delivering) may take before the answer is deferred.
const BUDGET: Duration = Duration::from_millis(2000);
/// How far a request's timestamp may be from now.
const MAX_SKEW_SECS: i64 = 300;

/// What the bot answers to one interaction. Its `Debug` shows neither text nor form (a link, a
/// pre-filled passphrase).
pub enum Reply {
    /// PING → PONG.
    Pong,
    /// The form.
    Modal(Box<CreateInteractionResponse>),
    /// "Thinking…": the answer follows by editing it.
    Deferred,
    /// An ephemeral message.
    Text {
        /// What it says (may hold a link).
        text: Zeroizing<String>,
        /// The secret whose link it carries: burnt if the message cannot be delivered.
        carries: Option<SecretId>,
    },
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pong => f.write_str("Pong"),
            Self::Modal(_) => f.write_str("Modal(<form>)"),
            Self::Deferred => f.write_str("Deferred"),
            Self::Text { carries, .. } => f
                .debug_struct("Text")
                .field("text", &"<redacted>")
                .field("carries", carries)
                .finish(),
        }
    }
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: Zeroizing::new(text.into()),
            carries: None,
        }
    }

    fn error(text: &str) -> Self {
        Self::text(messages::error(text))
    }

    /// The interaction response Discord receives.
    pub fn response(&self) -> CreateInteractionResponse {
        match self {
            Self::Pong => CreateInteractionResponse::Pong,
            Self::Modal(m) => (**m).clone(),
            Self::Deferred => messages::deferred(),
            Self::Text { text, .. } => messages::private(text),
        }
    }

    /// The JSON body of the interaction response (`{"type":1}` for PONG, as Discord documents).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Pong => serde_json::json!({"type": 1}),
            other => serde_json::to_value(other.response()).unwrap_or(Value::Null),
        }
    }

    /// The secret whose link this reply carries.
    pub fn carries(&self) -> Option<SecretId> {
        match self {
            Self::Text { carries, .. } => *carries,
            _ => None,
        }
    }
}

/// Why an interaction is refused outright (HTTP 400).
#[derive(Debug)]
pub struct Unsupported(pub String);

fn snowflake(v: &Value) -> Option<u64> {
    v.as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| v.as_u64())
        .filter(|n| *n > 0)
}

/// Handles one interaction (Discord's JSON).
pub async fn handle(bot: &DiscordBot, i: &Value) -> Result<Reply, Unsupported> {
    match i["type"].as_u64() {
        Some(1) => Ok(Reply::Pong),
        Some(2) => Ok(command(bot, i).await),
        Some(5) => Ok(modal_submit(bot, i).await),
        Some(3) => Err(Unsupported(
            "message component interactions are not used by this bot".into(),
        )),
        Some(4) => Err(Unsupported(
            "autocomplete interactions are not used by this bot".into(),
        )),
        Some(t) => Err(Unsupported(format!("unknown interaction type {t}"))),
        None => Err(Unsupported("an interaction needs a numeric type".into())),
    }
}

/// Who ran the command (in a server: `member.user`; in a DM: `user`).
fn invoker(i: &Value) -> Option<u64> {
    snowflake(&i["member"]["user"]["id"]).or_else(|| snowflake(&i["user"]["id"]))
}

fn option<'a>(i: &'a Value, name: &str) -> Option<&'a Value> {
    i["data"]["options"]
        .as_array()?
        .iter()
        .find(|o| o["name"] == name)
        .map(|o| &o["value"])
}

async fn command(bot: &DiscordBot, i: &Value) -> Reply {
    let name = i["data"]["name"].as_str().unwrap_or_default();
    if name != messages::COMMAND {
        return Reply::error(&format!("Unknown command /{name}."));
    }
    let (Some(user), Some(token)) = (invoker(i), i["token"].as_str()) else {
        return Reply::error("This interaction has no user; nothing was shared.");
    };
    info!(user, "slash command");
    let max_views = bot.inner.cfg.max_views;
    let recipient = option(i, "recipient").and_then(snowflake);
    if let Some(r) = recipient {
        let is_bot = i["data"]["resolved"]["users"][r.to_string()]["bot"]
            .as_bool()
            .unwrap_or(false);
        if is_bot {
            return Reply::error("Bots cannot open links: pick a person as recipient.");
        }
    }
    let expiration = option(i, "expiration")
        .and_then(Value::as_str)
        .unwrap_or("24h")
        .to_string();
    if expiration.parse::<Expiration>().is_err() {
        return Reply::error("Expiration must be a duration like 10m, 1h, 24h or 7d.");
    }
    let views = match option(i, "views") {
        None => 1,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=max_views).contains(&n) => n,
            _ => return Reply::error(&format!("Views must be between 1 and {max_views}.")),
        },
    };
    let passphrase = option(i, "passphrase")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let content = option(i, "content")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty());
    let Some(content) = content else {
        return Reply::Modal(Box::new(messages::modal(
            recipient,
            &expiration,
            views,
            passphrase,
        )));
    };
    let form = Form {
        secret: Zeroizing::new(content.to_string()),
        expiration,
        views: views.to_string(),
        passphrase: passphrase.map(|p| Zeroizing::new(p.to_string())),
    };
    create(bot, user, recipient, token, form, true).await
}

/// What the person typed (in the modal, or as options).
struct Form {
    secret: Zeroizing<String>,
    expiration: String,
    views: String,
    passphrase: Option<Zeroizing<String>>,
}

async fn modal_submit(bot: &DiscordBot, i: &Value) -> Reply {
    let custom_id = i["data"]["custom_id"].as_str().unwrap_or_default();
    let Some(rest) = custom_id.strip_prefix(MODAL_ID) else {
        return Reply::error("This form is not Seecret's; nothing was shared.");
    };
    let recipient = match rest.strip_prefix(':') {
        None if rest.is_empty() => None,
        Some(r) => match r.parse::<u64>().ok().filter(|n| *n > 0) {
            Some(r) => Some(r),
            None => return Reply::error("This form is damaged; nothing was shared."),
        },
        None => return Reply::error("This form is not Seecret's; nothing was shared."),
    };
    let (Some(user), Some(token)) = (invoker(i), i["token"].as_str()) else {
        return Reply::error("This interaction has no user; nothing was shared.");
    };
    let value = |id: &str| -> Option<String> {
        i["data"]["components"]
            .as_array()?
            .iter()
            .filter_map(|row| row["components"].as_array())
            .flatten()
            .find(|c| c["custom_id"] == id)
            .and_then(|c| c["value"].as_str())
            .map(String::from)
    };
    let form = Form {
        secret: Zeroizing::new(value(input::SECRET).unwrap_or_default()),
        expiration: value(input::EXPIRES).unwrap_or_else(|| "24h".into()),
        views: value(input::VIEWS).unwrap_or_else(|| "1".into()),
        passphrase: value(input::PASSPHRASE)
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new),
    };
    info!(user, "share form submitted");
    create(bot, user, recipient, token, form, false).await
}

/// Checks the form, creates the secret and delivers the link, within the budget.
async fn create(
    bot: &DiscordBot,
    user: u64,
    recipient: Option<u64>,
    token: &str,
    form: Form,
    inline: bool,
) -> Reply {
    // Discord's modals have no per-field errors: each problem is one ephemeral message, and
    // none repeats what was typed.
    if form.secret.trim().is_empty() {
        return Reply::error("Type the secret to share; nothing was shared.");
    }
    if form.secret.chars().count() > MAX_CHAT_SECRET {
        return Reply::error(&format!(
            "The secret is longer than {MAX_CHAT_SECRET} characters: use the CLI or the web page. Nothing was shared."
        ));
    }
    let Ok(expiration) = form.expiration.trim().parse::<Expiration>() else {
        return Reply::error(
            "Expires after must be a duration like 10m, 1h, 24h or 7d; nothing was shared.",
        );
    };
    let max_views = bot.inner.cfg.max_views;
    let Some(views) = form
        .views
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (1..=max_views).contains(v))
    else {
        return Reply::error(&format!(
            "Views must be a number between 1 and {max_views}; nothing was shared."
        ));
    };
    let d = bot.inner.per_user.check(&user.to_string());
    if !d.allowed {
        return Reply::error(&format!(
            "You are creating secrets too fast; try again in {} s.",
            d.retry_after.as_secs().max(1)
        ));
    }
    let to = Delivery {
        sender: user,
        recipient,
        passphrase: form.passphrase.is_some(),
        inline,
    };
    let share = Share {
        secret: SecretBytes::new(form.secret.as_bytes().to_vec()),
        expiration,
        views,
        passphrase: form
            .passphrase
            .as_ref()
            .map(|p| SecretBytes::new(p.as_bytes().to_vec())),
        label: Some(messages::label(user, recipient)),
        notify: format!("discord:{user}"),
    };
    drop(form);
    let bot2 = bot.clone();
    let mut work = tokio::spawn(async move { create_and_deliver(&bot2, share, &to).await });
    match tokio::time::timeout(BUDGET, &mut work).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::error("Something went wrong; nothing was shared."),
        Err(_) => {
            // Past the budget: Discord shows "thinking…" until the answer replaces it.
            let bot = bot.clone();
            let token = token.to_string();
            tokio::spawn(async move {
                let reply = work
                    .await
                    .unwrap_or_else(|_| Reply::error("Something went wrong; nothing was shared."));
                finish_deferred(&bot, &token, reply).await;
            });
            Reply::Deferred
        }
    }
}

/// Where a created link goes.
struct Delivery {
    sender: u64,
    recipient: Option<u64>,
    passphrase: bool,
    inline: bool,
}

fn backend_message(e: &BackendError) -> String {
    match e {
        BackendError::Invalid { message, .. } => format!("{message}. Nothing was shared."),
        other => format!("{other}. Nothing was shared."),
    }
}

async fn create_and_deliver(bot: &DiscordBot, share: Share, to: &Delivery) -> Reply {
    let shared = match bot.inner.backend.share(share).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "creating a secret failed");
            return Reply::error(&backend_message(&e));
        }
    };
    info!(secret = %shared.id, recipient = to.recipient.is_some(), "secret created");
    let Some(r) = to.recipient else {
        return Reply::Text {
            text: Zeroizing::new(messages::link_for_sender(&shared, to.inline)),
            carries: Some(shared.id),
        };
    };
    let dm = messages::message_body(&messages::link_for_recipient(
        to.sender,
        &shared,
        to.passphrase,
    ));
    match bot.inner.discord.dm(r, &dm).await {
        Ok(()) => Reply::text(messages::sent_to(r, &shared, to.inline)),
        Err(e) => {
            warn!(error = %e, secret = %shared.id, "sending the link by DM failed; deleting the secret");
            burn(bot, shared.id).await;
            Reply::error(&format!(
                "The link could not be sent to <@{r}>: {e}. The secret was deleted; nothing was shared."
            ))
        }
    }
}

pub(crate) async fn burn(bot: &DiscordBot, id: SecretId) {
    if let Err(e) = bot.inner.backend.burn(id).await {
        warn!(error = %e, secret = %id, "deleting an undelivered secret failed");
    }
}

/// Replaces a deferred answer with `reply`; a link that cannot be shown is burnt.
async fn finish_deferred(bot: &DiscordBot, token: &str, reply: Reply) {
    let Reply::Text { text, carries } = reply else {
        return;
    };
    let body = messages::message_body(&text);
    drop(text);
    if let Err(e) = bot.inner.discord.edit_original(token, &body).await {
        warn!(error = %e, "finishing a deferred answer failed");
        if let Some(id) = carries {
            burn(bot, id).await;
        }
    }
}

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

/// `?notify=discord:USER` on a standalone bot's webhook URL.
#[derive(Deserialize)]
pub struct EventRoute {
    notify: String,
}

/// `POST /discord/seecret-events`: a remote Seecret server's webhook about one of our secrets.
pub async fn seecret_event(
    State(bot): State<DiscordBot>,
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
    let Some(subscriber) = route.notify.strip_prefix("discord:") else {
        return (StatusCode::BAD_REQUEST, "notify is not a Discord route").into_response();
    };
    match bot.tell_sender(subscriber, &event).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        // The server retries on its schedule.
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
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
