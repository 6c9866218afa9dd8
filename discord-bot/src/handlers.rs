//! The interactions: one [`handle`] for both transports (the HTTP endpoint in `endpoint.rs`, the
//! gateway in `gateway.rs`). Each answers within Discord's three seconds: creating gets the bot
//! core's budget, and anything slower is deferred and finished by editing the answer. A link that
//! cannot be delivered is burnt, so no secret is left that nobody can open.

use seecret_core::bots::{
    self, Budget, FormError, MAX_CHAT_SECRET, Refused, Share, phrases, within_budget,
};
use seecret_core::model::{Expiration, SecretId};
use serde_json::Value;
use serenity::builder::CreateInteractionResponse;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::DiscordBot;
use crate::messages::{self, MODAL_ID, input};

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
            Some(n) if bot.inner.core.views_allowed(n) => n,
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
    // Discord's modals have no per-field errors: each problem is one ephemeral message.
    let core = &bot.inner.core;
    let typed = bots::Form {
        secret: &form.secret,
        expiration: &form.expiration,
        views: &form.views,
        passphrase: form.passphrase.as_deref().map(String::as_str),
    };
    let label = messages::label(user, recipient);
    let share = match core.accept(typed, &user.to_string(), label, format!("discord:{user}")) {
        Ok(share) => share,
        Err(Refused::Form(e)) => return Reply::error(&form_message(e, core.max_views())),
        Err(Refused::TooFast(msg)) => return Reply::error(&msg),
    };
    drop(form);
    let to = Delivery {
        sender: user,
        recipient,
        passphrase: share.passphrase.is_some(),
        inline,
    };
    let bot2 = bot.clone();
    match within_budget(async move { create_and_deliver(&bot2, share, &to).await }).await {
        Budget::Done(reply) => reply,
        Budget::Failed => Reply::error(phrases::SOMETHING_WENT_WRONG),
        Budget::Late(work) => {
            // Past the budget: Discord shows "thinking…" until the answer replaces it.
            let bot = bot.clone();
            let token = token.to_string();
            tokio::spawn(async move {
                let reply = work
                    .await
                    .unwrap_or_else(|_| Reply::error(phrases::SOMETHING_WENT_WRONG));
                finish_deferred(&bot, &token, reply).await;
            });
            Reply::Deferred
        }
    }
}

/// A refused form, in a sentence that does not repeat what was typed.
fn form_message(e: FormError, max_views: u32) -> String {
    match e {
        FormError::NoSecret => "Type the secret to share; nothing was shared.".into(),
        FormError::TooLong => format!(
            "The secret is longer than {MAX_CHAT_SECRET} characters: use the CLI or the web page. Nothing was shared."
        ),
        FormError::Expiration => {
            "Expires after must be a duration like 10m, 1h, 24h or 7d; nothing was shared.".into()
        }
        FormError::Views => {
            format!("Views must be a number between 1 and {max_views}; nothing was shared.")
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

async fn create_and_deliver(bot: &DiscordBot, share: Share, to: &Delivery) -> Reply {
    let shared = match bot.inner.core.share(share).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "creating a secret failed");
            return Reply::error(&phrases::backend_message(&e));
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
    let delivery = bot.inner.discord.dm(r, &dm);
    match bot.inner.core.deliver_or_burn(shared.id, delivery).await {
        Ok(()) => Reply::text(messages::sent_to(r, &shared, to.inline)),
        Err(e) => Reply::error(&phrases::undelivered(&format!("sent to <@{r}>"), &e)),
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
            bot.inner.core.burn(id).await;
        }
    }
}
