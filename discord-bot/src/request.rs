//! `/request-secret user:@alice note:…`: asks Alice for a secret that only the asker can read
//! (DESIGN §7.2). Alice gets the request link by DM; the asker gets their private answer link by
//! DM (it holds the key and exists nowhere else) and hears by DM when Alice answered. A request
//! that could not reach Alice is deleted.

use seecret_core::bots::{Ask, Budget, phrases, within_budget};
use serde_json::Value;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::DiscordBot;
use crate::handlers::Reply;
use crate::messages;

/// Handles `/request-secret`; `user` ran it, `i` is the interaction.
pub(crate) async fn command(bot: &DiscordBot, i: &Value, user: u64, token: &str) -> Reply {
    let Some(responder) = crate::handlers::option(i, messages::REQUEST_USER_OPTION)
        .and_then(crate::handlers::snowflake)
    else {
        return Reply::error(
            "Name who should send you the secret (the user option); nothing was requested.",
        );
    };
    let is_bot = i["data"]["resolved"]["users"][responder.to_string()]["bot"]
        .as_bool()
        .unwrap_or(false);
    if is_bot {
        return Reply::error("Bots cannot answer requests: pick a person; nothing was requested.");
    }
    if !bot.inner.discord.has_token() {
        return Reply::error(
            "This bot runs without a bot token, and requests travel by direct message; nothing was requested.",
        );
    }
    let core = &bot.inner.core;
    let note = crate::handlers::option(i, messages::REQUEST_NOTE_OPTION)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let note = match core.check_note(note) {
        Ok(n) => n,
        Err(why) => return Reply::error(&why),
    };
    if let Err(msg) = core.check_rate(&user.to_string()) {
        return Reply::error(&msg);
    }
    info!(user, responder, "asking for a secret");
    let ask = Ask {
        note,
        expiration: None,
        label: Some(phrases::request_label(
            "Discord",
            &user.to_string(),
            &responder.to_string(),
        )),
        notify: format!("discord:{user}"),
    };
    let bot2 = bot.clone();
    match within_budget(async move { ask_and_deliver(&bot2, user, responder, ask).await }).await {
        Budget::Done(reply) => reply,
        Budget::Failed => Reply::error(phrases::SOMETHING_WENT_WRONG),
        Budget::Late(work) => {
            let bot = bot.clone();
            let token = token.to_string();
            tokio::spawn(async move {
                let reply = work
                    .await
                    .unwrap_or_else(|_| Reply::error(phrases::SOMETHING_WENT_WRONG));
                crate::handlers::finish_deferred(&bot, &token, reply).await;
            });
            Reply::Deferred
        }
    }
}

/// Creates the request, DMs the responder (or deletes it), then DMs the asker their private
/// link; the reply carries that link only when the DM failed.
async fn ask_and_deliver(bot: &DiscordBot, asker: u64, responder: u64, ask: Ask) -> Reply {
    let core = &bot.inner.core;
    let note = ask.note.clone();
    let asked = match core.request(ask).await {
        Ok(a) => a,
        Err(e) => {
            warn!(error = %e, "creating a request failed");
            return Reply::error(&phrases::request_backend_message(&e));
        }
    };
    let discord = &bot.inner.discord;
    let dm = messages::message_body(&messages::request_for_responder(
        asker,
        note.as_deref(),
        &asked,
    ));
    let delivery = async { discord.dm(responder, &dm).await.map(|_| ()) };
    if let Err(e) = core.deliver_or_withdraw(asked.id, delivery).await {
        let mut text = phrases::request_undelivered(&responder.to_string(), &e);
        if e.is_dm_refused() {
            text.push_str(" They may not accept DMs from this app (or share no server with it).");
        }
        return Reply::error(&text);
    }
    let keep = messages::message_body(&messages::answer_link_for_asker(responder, &asked));
    match discord.dm(asker, &keep).await {
        Ok(channel) => Reply::text_plain(messages::asked(responder, Ok(channel), &asked)),
        Err(e) => {
            warn!(error = %e, "sending the asker their answer link by DM failed");
            let why = if e.is_dm_refused() {
                "Discord does not let me message you: check Privacy Settings → Direct Messages"
                    .to_string()
            } else {
                e.to_string()
            };
            Reply::Text {
                text: Zeroizing::new(messages::asked(responder, Err(&why), &asked)),
                carries: None,
                carries_request: Some(asked.id),
            }
        }
    }
}
