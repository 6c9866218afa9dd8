//! The interactions: one [`handle`] for both transports (the HTTP endpoint in `endpoint.rs`, the
//! gateway in `gateway.rs`). Each answers within Discord's three seconds: creating gets the bot
//! core's budget, and anything slower is deferred and finished by editing the answer. A link that
//! reached nobody is burnt, so no secret is left that nobody can open; a link that reached the
//! sender somewhere (their DMs) is never burnt.

use seecret_core::bots::{
    self, Budget, FormError, MAX_CHAT_SECRET, Refused, Share, phrases, within_budget,
};
use seecret_core::model::{Expiration, PlatformIdentity, Provider, SecretId};
use serde_json::Value;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::DiscordBot;
use crate::messages::{self, MODAL_ID, input};
use crate::prefs;

/// What the bot answers to one interaction. Its `Debug` shows neither text nor form (a link, a
/// pre-filled passphrase).
pub enum Reply {
    /// PING → PONG.
    Pong,
    /// The form (an interaction response of type 9).
    Modal(Value),
    /// "Thinking…": the answer follows by editing it.
    Deferred,
    /// An ephemeral message.
    Text {
        /// What it says (may hold a link).
        text: Zeroizing<String>,
        /// The secret whose link it carries and nothing else does: burnt if the message cannot
        /// be delivered.
        carries: Option<SecretId>,
        /// The request whose private answer link it carries and nothing else does: deleted if
        /// the message cannot be delivered.
        carries_request: Option<SecretId>,
    },
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pong => f.write_str("Pong"),
            Self::Modal(_) => f.write_str("Modal(<form>)"),
            Self::Deferred => f.write_str("Deferred"),
            Self::Text {
                carries,
                carries_request,
                ..
            } => f
                .debug_struct("Text")
                .field("text", &"<redacted>")
                .field("carries", carries)
                .field("carries_request", carries_request)
                .finish(),
        }
    }
}

impl Reply {
    fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: Zeroizing::new(text.into()),
            carries: None,
            carries_request: None,
        }
    }

    /// A message carrying no link.
    pub(crate) fn text_plain(text: String) -> Self {
        Self::text(text)
    }

    pub(crate) fn error(text: &str) -> Self {
        Self::text(messages::error(text))
    }

    /// The JSON body of the interaction response (`{"type":1}` for PONG, as Discord documents).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Pong => serde_json::json!({"type": 1}),
            Self::Modal(m) => m.clone(),
            Self::Deferred => messages::deferred(),
            Self::Text { text, .. } => messages::private(text),
        }
    }

    /// The secret whose link this reply alone carries.
    pub fn carries(&self) -> Option<SecretId> {
        match self {
            Self::Text { carries, .. } => *carries,
            _ => None,
        }
    }

    /// Deletes what only this reply could have given anyone (its delivery failed): the secret
    /// its link opens, or the request its private answer link reads.
    pub(crate) async fn lost(&self, bot: &DiscordBot) {
        if let Self::Text {
            carries,
            carries_request,
            ..
        } = self
        {
            if let Some(id) = carries {
                bot.inner.core.burn(*id).await;
            }
            if let Some(id) = carries_request {
                bot.inner.core.withdraw(*id).await;
            }
        }
    }
}

/// Why an interaction is refused outright (HTTP 400).
#[derive(Debug)]
pub struct Unsupported(pub String);

pub(crate) fn snowflake(v: &Value) -> Option<u64> {
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

/// Who ran the command (in a server: `member.user`; in a DM or a private channel, where the app
/// may be installed to the user alone: `user`).
fn invoker(i: &Value) -> Option<u64> {
    snowflake(&i["member"]["user"]["id"]).or_else(|| snowflake(&i["user"]["id"]))
}

/// Where the interaction happened, for the log: Discord's `context` (0 server, 1 DM with the
/// bot, 2 another DM or group DM) and whether the app is installed to the user
/// (`authorizing_integration_owners` key `"1"`) or to the server (key `"0"`).
fn log_context(i: &Value, user: u64) {
    let owners = &i["authorizing_integration_owners"];
    info!(
        user,
        context = i["context"].as_u64(),
        user_install = owners.get("1").is_some(),
        guild_install = owners.get("0").is_some(),
        "slash command"
    );
}

pub(crate) fn option<'a>(i: &'a Value, name: &str) -> Option<&'a Value> {
    i["data"]["options"]
        .as_array()?
        .iter()
        .find(|o| o["name"] == name)
        .map(|o| &o["value"])
}

async fn command(bot: &DiscordBot, i: &Value) -> Reply {
    let name = i["data"]["name"].as_str().unwrap_or_default();
    if name == messages::SETTINGS_COMMAND {
        return prefs::command(bot, i).await;
    }
    if name == messages::REQUEST_COMMAND {
        let (Some(user), Some(token)) = (invoker(i), i["token"].as_str()) else {
            return Reply::error("This interaction has no user; nothing was requested.");
        };
        log_context(i, user);
        return crate::request::command(bot, i, user, token).await;
    }
    if name != messages::COMMAND {
        return Reply::error(&format!("Unknown command /{name}."));
    }
    let (Some(user), Some(token)) = (invoker(i), i["token"].as_str()) else {
        return Reply::error("This interaction has no user; nothing was shared.");
    };
    log_context(i, user);
    let max_views = bot.inner.cfg.max_views;
    let recipient = option(i, "recipient").and_then(snowflake);
    let only = option(i, messages::ONLY_OPTION)
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if only && recipient.is_none() {
        return Reply::error(
            "Pick a recipient: with only-recipient, only they will be able to open the link.",
        );
    }
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
        return Reply::Modal(messages::modal(
            bot.inner.layout,
            recipient,
            only,
            &expiration,
            views,
            passphrase,
        ));
    };
    let form = Form {
        secret: Zeroizing::new(content.to_string()),
        expiration,
        views: views.to_string(),
        passphrase: passphrase.map(|p| Zeroizing::new(p.to_string())),
    };
    let to = Delivery {
        sender: user,
        recipient,
        only,
        guild: snowflake(&i["guild_id"]),
        passphrase: false,
        inline: true,
    };
    create(bot, to, token, form).await
}

/// What the person typed (in the modal, or as options).
struct Form {
    secret: Zeroizing<String>,
    expiration: String,
    views: String,
    passphrase: Option<Zeroizing<String>>,
}

/// The text inputs of a submitted modal, by `custom_id`. Discord sends a submit in the shape of
/// the modal it answers: Label components (type 18) with one `component` each, as this bot sends
/// them; or action rows (type 1) with a `components` list, for a form opened over the gateway or
/// before the bot sent Labels. A Label without its `component` means the values were lost on the
/// way (serenity's gateway model drops them): `Err`, so nothing is created from an empty form.
fn submitted(i: &Value) -> Result<Vec<(&str, &str)>, &'static str> {
    let mut inputs = Vec::new();
    for c in i["data"]["components"].as_array().into_iter().flatten() {
        let children: Vec<&Value> = match c["type"].as_u64() {
            Some(18) => match c.get("component") {
                Some(child) if child.is_object() => vec![child],
                _ => return Err("a Label component arrived without its input"),
            },
            Some(1) => c["components"].as_array().into_iter().flatten().collect(),
            _ => continue,
        };
        for child in children {
            if let (Some(id), Some(v)) = (child["custom_id"].as_str(), child["value"].as_str()) {
                inputs.push((id, v));
            }
        }
    }
    Ok(inputs)
}

async fn modal_submit(bot: &DiscordBot, i: &Value) -> Reply {
    let custom_id = i["data"]["custom_id"].as_str().unwrap_or_default();
    let Some(rest) = custom_id.strip_prefix(MODAL_ID) else {
        return Reply::error("This form is not Seecret's; nothing was shared.");
    };
    let (recipient, only) = match rest.strip_prefix(':') {
        None if rest.is_empty() => (None, false),
        Some(r) => {
            let (r, only) = match r.split_once(':') {
                Some((r, messages::ONLY_SUFFIX)) => (r, true),
                Some(_) => return Reply::error("This form is damaged; nothing was shared."),
                None => (r, false),
            };
            match r.parse::<u64>().ok().filter(|n| *n > 0) {
                Some(r) => (Some(r), only),
                None => return Reply::error("This form is damaged; nothing was shared."),
            }
        }
        None => return Reply::error("This form is not Seecret's; nothing was shared."),
    };
    let (Some(user), Some(token)) = (invoker(i), i["token"].as_str()) else {
        return Reply::error("This interaction has no user; nothing was shared.");
    };
    let inputs = match submitted(i) {
        Ok(inputs) => inputs,
        Err(why) => {
            warn!(user, why, "a share form could not be read");
            return Reply::error(
                "The form arrived without what you typed, so nothing was shared. Please try again; \
                 if it keeps happening, an admin can find the reason in the bot's log.",
            );
        }
    };
    let value = |id: &str| -> Option<String> {
        inputs
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, v)| v.to_string())
    };
    let form = Form {
        secret: Zeroizing::new(value(input::SECRET).unwrap_or_default()),
        expiration: value(input::EXPIRES).unwrap_or_else(|| "24h".into()),
        views: value(input::VIEWS).unwrap_or_else(|| "1".into()),
        passphrase: value(input::PASSPHRASE)
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new),
    };
    drop(inputs);
    info!(user, "share form submitted");
    let to = Delivery {
        sender: user,
        recipient,
        only,
        guild: snowflake(&i["guild_id"]),
        passphrase: form.passphrase.is_some(),
        inline: false,
    };
    create(bot, to, token, form).await
}

/// Checks the form, creates the secret and delivers the link, within the budget.
async fn create(bot: &DiscordBot, to: Delivery, token: &str, form: Form) -> Reply {
    // Discord's modals have no per-field errors: each problem is one ephemeral message.
    let core = &bot.inner.core;
    let typed = bots::Form {
        secret: &form.secret,
        expiration: &form.expiration,
        views: &form.views,
        passphrase: form.passphrase.as_deref().map(String::as_str),
    };
    let label = messages::label(to.sender, to.recipient);
    let notify = format!("discord:{}", to.sender);
    let mut share = match core.accept(typed, &to.sender.to_string(), label, notify) {
        Ok(share) => share,
        Err(Refused::Form(e)) => return Reply::error(&form_message(e, core.max_views())),
        Err(Refused::TooFast(msg)) => return Reply::error(&msg),
    };
    drop(form);
    if let (true, Some(r)) = (to.only, to.recipient) {
        share.bound_to = Some(PlatformIdentity {
            provider: Provider::Discord,
            team: None,
            user: r.to_string(),
            name: None,
        });
    }
    let to = Delivery {
        passphrase: share.passphrase.is_some(),
        ..to
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
#[derive(Clone, Copy)]
struct Delivery {
    sender: u64,
    recipient: Option<u64>,
    /// Only the recipient may open the link (it is bound to them).
    only: bool,
    /// The server it was shared in (`None` in DMs): whose DM-copy setting applies.
    guild: Option<u64>,
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
    let copy = prefs::dm_copy(bot, to.guild).await;
    let Some(r) = to.recipient else {
        let mut text = messages::link_for_sender(&shared, to.inline);
        // The ephemeral answer is lost on a reload: the link also goes to the sender's DMs.
        let reached = copy && keep_a_copy(bot, to.sender, &mut text, "This link").await;
        return Reply::Text {
            text: Zeroizing::new(text),
            carries: (!reached).then_some(shared.id),
            carries_request: None,
        };
    };
    let dm = messages::message_body(&messages::link_for_recipient(
        to.sender,
        &shared,
        to.passphrase,
    ));
    let delivery = async { bot.inner.discord.dm(r, &dm).await.map(|_| ()) };
    match bot.inner.core.deliver_or_burn(shared.id, delivery).await {
        Ok(_) => {
            let mut text = messages::sent_to(r, &shared, to.inline);
            if copy {
                keep_a_copy(bot, to.sender, &mut text, "This confirmation").await;
            }
            Reply::text(text)
        }
        Err(e) => {
            let mut text = phrases::undelivered(&format!("sent to <@{r}>"), &e);
            if e.is_dm_refused() {
                // Typical of a user install: the bot shares no server with the recipient.
                text.push_str(
                    " They may not accept DMs from this app (or share no server with it): share \
                     without a recipient and pass the link on yourself.",
                );
            }
            Reply::error(&text)
        }
    }
}

/// Sends `text` to `sender` by DM and says under it where the copy went (or why it could not
/// go). `true` if the DM was delivered.
async fn keep_a_copy(bot: &DiscordBot, sender: u64, text: &mut String, what: &str) -> bool {
    if !bot.inner.discord.has_token() {
        text.push_str(&messages::copy_failed(
            &format!("a copy of {}", what.to_lowercase()),
            "this bot runs without a bot token, which DMs need",
        ));
        return false;
    }
    match bot
        .inner
        .discord
        .dm(sender, &messages::message_body(text))
        .await
    {
        Ok(channel) => {
            text.push_str(&messages::copy_sent(what, channel));
            true
        }
        Err(e) => {
            warn!(error = %e, "sending the sender a copy by DM failed");
            let why = if e.is_dm_refused() {
                "Discord does not let me message you: check Privacy Settings → Direct Messages"
                    .to_string()
            } else {
                e.to_string()
            };
            text.push_str(&messages::copy_failed(
                &format!("a copy of {}", what.to_lowercase()),
                &why,
            ));
            false
        }
    }
}

/// Replaces a deferred answer with `reply`; a link that reached nobody else is burnt.
pub(crate) async fn finish_deferred(bot: &DiscordBot, token: &str, reply: Reply) {
    let Reply::Text { text, .. } = &reply else {
        return;
    };
    let body = messages::message_body(text);
    if let Err(e) = bot.inner.discord.edit_original(token, &body).await {
        warn!(error = %e, "finishing a deferred answer failed");
        reply.lost(bot).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn a_submit_is_read_from_labels_and_from_action_rows_and_a_label_without_input_is_refused() {
        let labels = json!({"data": {"components": [
            {"type": 18, "id": 1, "component": {"type": 4, "id": 2, "custom_id": "secret", "value": "s"}},
            {"type": 18, "id": 3, "component": {"type": 4, "id": 4, "custom_id": "views", "value": "2"}},
            {"type": 10, "id": 5, "content": "text display, no value"}
        ]}});
        assert_eq!(
            submitted(&labels).unwrap(),
            [("secret", "s"), ("views", "2")]
        );
        let rows = json!({"data": {"components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "secret", "value": "r"}]}
        ]}});
        assert_eq!(submitted(&rows).unwrap(), [("secret", "r")]);
        // What serenity's model makes of a Label: an "action row" of type 18 with no children.
        let lost = json!({"data": {"components": [{"type": 18, "components": []}]}});
        assert!(submitted(&lost).is_err());
    }
}
