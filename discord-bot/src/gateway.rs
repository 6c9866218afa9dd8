//! Gateway mode: serenity's client receives interactions over the websocket; each is handed, as
//! Discord's JSON, to the same [`handle`](crate::handlers::handle) as the HTTP endpoint, and the
//! answer goes back through the interaction callback. No interaction is dropped unanswered:
//! - serenity reads it into its model, which is turned back into JSON; if that fails, the user is
//!   told the bot could not read it;
//! - serenity's model cannot read it at all (a shape it does not know): serenity then hands over
//!   Discord's own JSON as an unknown event, which is answered from that JSON;
//! - the model dropped what the person typed (a Label component, which serenity 0.12 reads as an
//!   empty action row): the handlers notice and say so. The modal sent over the gateway uses
//!   action rows for that reason ([`ModalLayout::ActionRows`](crate::ModalLayout)).
//!
//! Every failure is logged with its reason, never with the payload.
//! [`handle_message`] runs the whole path from one websocket message, so tests reach it.

use serde_json::Value;
use serenity::all::{Context, GatewayIntents, Interaction};
use serenity::async_trait;
use serenity::client::RawEventHandler;
use serenity::model::event::{Event, GatewayEvent};
use tracing::{info, warn};

use crate::discord::DiscordError;
use crate::handlers::Reply;
use crate::{DiscordBot, handlers};

/// Discord's JSON for an interaction serenity read. serenity's `Serialize` leaves out the
/// interaction's `type`, which is put back.
fn to_json(interaction: &Interaction) -> Result<Value, String> {
    let mut json = serde_json::to_value(interaction).map_err(|e| e.to_string())?;
    let kind: u8 = interaction.kind().into();
    json.as_object_mut()
        .ok_or("not a JSON object")?
        .insert("type".into(), kind.into());
    Ok(json)
}

/// What the person is told when their interaction cannot be read.
const UNREADABLE: &str = "Discord sent this in a form the bot could not read, so nothing was      shared. Please try again; an admin can find the reason in the bot's log.";

/// Answers one gateway event, if it is an interaction.
pub(crate) async fn dispatch(bot: &DiscordBot, event: Event) {
    let (id, token, json) = match event {
        Event::InteractionCreate(e) => {
            let i = e.interaction;
            let (id, token) = (i.id().get(), i.token().to_string());
            match to_json(&i) {
                Ok(json) => (id, token, json),
                Err(why) => {
                    warn!(
                        interaction = id,
                        why, "an interaction could not be turned back into Discord's JSON"
                    );
                    drop(i);
                    answer(bot, id, &token, Reply::error(UNREADABLE)).await;
                    return;
                }
            }
        }
        Event::Unknown(u) if u.kind == "INTERACTION_CREATE" => {
            let json = u.value;
            let id = json["id"].as_str().and_then(|s| s.parse::<u64>().ok());
            let token = json["token"].as_str().map(String::from);
            let (Some(id), Some(token)) = (id, token) else {
                warn!(
                    "an interaction serenity could not read has no id or token: it cannot be answered"
                );
                return;
            };
            warn!(
                interaction = id,
                kind = json["type"].as_u64(),
                "serenity's model could not read an interaction; answering it from Discord's JSON"
            );
            (id, token, json)
        }
        Event::Ready(r) => {
            info!(bot = %r.ready.user.name, guilds = r.ready.guilds.len(), "connected to the Discord gateway");
            return;
        }
        _ => return,
    };
    let reply = match handlers::handle(bot, &json).await {
        Ok(r) => r,
        Err(handlers::Unsupported(why)) => {
            info!(
                interaction = id,
                why, "an interaction this bot does not handle"
            );
            Reply::error(&format!("This bot does not handle that: {why}."))
        }
    };
    drop(json);
    answer(bot, id, &token, reply).await;
}

/// Sends `reply` through the interaction callback; a link it alone carried is burnt if that
/// fails.
async fn answer(bot: &DiscordBot, id: u64, token: &str, reply: Reply) {
    let body = reply.to_json();
    if let Err(e) = bot.inner.discord.respond(id, token, &body).await {
        warn!(interaction = id, error = %e, "answering an interaction failed");
        reply.lost(bot).await;
    }
}

/// One websocket message, read as serenity's shard reads it, then dispatched.
pub(crate) async fn handle_message(bot: &DiscordBot, text: &str) -> Result<(), String> {
    // serde's message may quote a value from the payload: only the position is kept.
    let event = serde_json::from_str::<GatewayEvent>(text).map_err(|e| {
        format!(
            "not a gateway message (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    match event {
        GatewayEvent::Dispatch(_, event) => {
            dispatch(bot, event).await;
            Ok(())
        }
        _ => Ok(()),
    }
}

struct Handler {
    bot: DiscordBot,
}

#[async_trait]
impl RawEventHandler for Handler {
    // The raw handler sees every event, including the interactions serenity's model could not
    // read (which its typed handler never gets).
    async fn raw_event(&self, _ctx: Context, event: Event) {
        dispatch(&self.bot, event).await;
    }
}

pub(crate) async fn run(bot: DiscordBot) -> Result<(), DiscordError> {
    let Some(token) = bot.inner.cfg.token.clone() else {
        return Err(DiscordError::NoToken);
    };
    // Interactions need no privileged intents.
    let mut client = serenity::Client::builder(token.as_str(), GatewayIntents::empty())
        .raw_event_handler(Handler { bot: bot.clone() })
        .await?;
    client.start().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Gateway mode hands `handle` serenity's re-serialization of the interaction, not Discord's
    //! bytes: these check that what the handlers read survives that round trip.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use seecret_core::bots::{Backend, BackendError, Share, Shared};
    use seecret_core::model::SecretId;
    use serde_json::{Value, json};
    use zeroize::Zeroizing;

    use super::*;
    use crate::config::DiscordConfig;

    /// Secret, views, lifetime in seconds, notify route.
    type Asked = (Vec<u8>, u32, u64, String);

    /// Records what it is asked to share (never stores anything).
    #[derive(Debug, Default)]
    struct Stub {
        shared: Mutex<Vec<Asked>>,
    }

    #[async_trait::async_trait]
    impl Backend for Stub {
        async fn share(&self, share: Share) -> Result<Shared, BackendError> {
            self.shared.lock().unwrap().push((
                share.secret.expose().to_vec(),
                share.views,
                share.expiration.duration().as_secs(),
                share.notify.clone(),
            ));
            Ok(Shared {
                id: SecretId::new(),
                link: Zeroizing::new("https://s.example/s/ID#KEY".into()),
                expires_at: chrono::Utc::now(),
                views: share.views,
                bound_to: share.bound_to,
            })
        }
        async fn burn(&self, _id: SecretId) -> Result<(), BackendError> {
            Ok(())
        }
    }

    fn bot() -> (DiscordBot, Arc<Stub>) {
        let cfg = DiscordConfig::from_lookup(|k| match k {
            "SEECRET_DISCORD_TOKEN" => Some("t".into()),
            "SEECRET_DISCORD_APPLICATION_ID" => Some("1100000000000000001".into()),
            "SEECRET_DISCORD_API_URL" => Some("http://127.0.0.1:9".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        let stub = Arc::new(Stub::default());
        let bot = DiscordBot::new(cfg, stub.clone())
            .unwrap()
            .with_modal_layout(crate::ModalLayout::ActionRows);
        (bot, stub)
    }

    fn base(kind: u64, data: Value) -> Value {
        json!({
            "id": "1300000000000000003", "application_id": "1100000000000000001", "type": kind,
            "token": "tok", "version": 1, "guild_id": "1200000000000000002",
            "channel_id": "1400000000000000004",
            "member": {
                "user": {"id": "1001", "username": "alice", "discriminator": "0"},
                "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00",
                "deaf": false, "mute": false, "permissions": "0", "flags": 0
            },
            "app_permissions": "0", "locale": "en-US", "entitlements": [], "attachment_size_limit": 1,
            "attachment_size_limit": 26214400,
            "data": data
        })
    }

    /// What the gateway handler passes on: Discord's JSON → serenity's model → JSON.
    fn through_serenity(v: Value) -> Value {
        let i: Interaction = serde_json::from_value(v).expect("serenity reads the fixture");
        to_json(&i).unwrap()
    }

    #[tokio::test]
    async fn serenity_drops_what_was_typed_in_label_components_and_the_bot_says_so() {
        // A submit of a Label modal as Discord sends it: serenity 0.12 reads each Label as an
        // action row without components. Should serenity learn Labels, this test says so.
        let (bot, stub) = bot();
        let label = |id: &str, v: &str| json!({"type": 18, "id": 1, "component": {"type": 4, "id": 2, "custom_id": id, "value": v}});
        let submit = through_serenity(base(
            5,
            json!({"custom_id": "seecret_share", "components": [label("secret", "lost-s3cret"), label("views", "1")]}),
        ));
        assert_eq!(
            submit["data"]["components"][0],
            json!({"type": 18, "components": []}),
            "{submit}"
        );
        let answer = handlers::handle(&bot, &submit).await.unwrap().to_json();
        let text = answer["data"]["content"].as_str().unwrap();
        assert!(text.contains("arrived without what you typed"), "{text}");
        assert!(stub.shared.lock().unwrap().is_empty(), "nothing created");
    }

    #[tokio::test]
    async fn a_command_and_its_modal_submit_survive_serenitys_model() {
        let (bot, stub) = bot();
        let cmd = through_serenity(base(
            2,
            json!({
                "id": "1500000000000000005", "name": "share-secret", "type": 1,
                "options": [
                    {"name": "recipient", "type": 6, "value": "2002"},
                    {"name": "expiration", "type": 3, "value": "7d"},
                    {"name": "views", "type": 4, "value": 3}
                ],
                "resolved": {"users": {"2002": {"id": "2002", "username": "bob", "discriminator": "0"}}}
            }),
        ));
        let reply = handlers::handle(&bot, &cmd).await.unwrap();
        let modal = reply.to_json();
        assert_eq!(modal["type"], 9, "{modal}");
        assert_eq!(modal["data"]["custom_id"], "seecret_share:2002");
        assert_eq!(
            modal["data"]["components"][1]["components"][0]["value"],
            "7d"
        );
        assert_eq!(
            modal["data"]["components"][2]["components"][0]["value"],
            "3"
        );

        let row = |id: &str, v: &str| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": v}]});
        let submit = through_serenity(base(
            5,
            json!({
                "custom_id": "seecret_share",
                "components": [row("secret", "gw-s3cret"), row("expiration", "1h"), row("views", "2"), row("passphrase", "")]
            }),
        ));
        let reply = handlers::handle(&bot, &submit).await.unwrap();
        let answer = reply.to_json();
        assert_eq!(answer["type"], 4, "{answer}");
        assert!(
            answer["data"]["content"]
                .as_str()
                .unwrap()
                .contains("https://s.example/s/ID#KEY")
        );
        assert!(reply.carries().is_some(), "a failed callback would burn it");
        assert!(!format!("{reply:?}").contains("KEY"), "{reply:?}");
        let shared = stub.shared.lock().unwrap().clone();
        assert_eq!(
            shared,
            [(b"gw-s3cret".to_vec(), 2, 3600, "discord:1001".to_string())]
        );
    }
}
