//! Gateway mode: serenity's client receives interactions over the websocket and hands them, as
//! Discord's JSON, to the same [`handle`](crate::handlers::handle) as the HTTP endpoint; the
//! answer goes back through the interaction callback. Kept thin on purpose: it cannot be tested
//! without Discord, everything it calls is.

use serenity::all::{Context, EventHandler, GatewayIntents, Interaction};
use serenity::async_trait;
use tracing::{info, warn};

use crate::discord::DiscordError;
use crate::{DiscordBot, handlers};

/// Discord's JSON for an interaction serenity received. serenity's `Serialize` leaves out the
/// interaction's `type`, which is put back.
fn to_json(interaction: &Interaction) -> Option<serde_json::Value> {
    let mut json = serde_json::to_value(interaction).ok()?;
    let kind: u8 = interaction.kind().into();
    json.as_object_mut()?.insert("type".into(), kind.into());
    Some(json)
}

struct Handler {
    bot: DiscordBot,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: serenity::model::gateway::Ready) {
        info!(bot = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let id = interaction.id().get();
        let token = interaction.token().to_string();
        let Some(json) = to_json(&interaction) else {
            warn!("an interaction could not be read");
            return;
        };
        drop(interaction);
        let reply = match handlers::handle(&self.bot, &json).await {
            Ok(r) => r,
            Err(handlers::Unsupported(why)) => {
                info!(why, "ignored an interaction");
                return;
            }
        };
        drop(json);
        let body = reply.to_json();
        if let Err(e) = self.bot.inner.discord.respond(id, &token, &body).await {
            warn!(error = %e, "answering an interaction failed");
            if let Some(secret) = reply.carries() {
                self.bot.inner.core.burn(secret).await;
            }
        }
    }
}

pub(crate) async fn run(bot: DiscordBot) -> Result<(), DiscordError> {
    let Some(token) = bot.inner.cfg.token.clone() else {
        return Err(DiscordError::NoToken);
    };
    // Interactions need no privileged intents.
    let mut client = serenity::Client::builder(token.as_str(), GatewayIntents::empty())
        .event_handler(Handler { bot: bot.clone() })
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
        (DiscordBot::new(cfg, stub.clone()).unwrap(), stub)
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
            "app_permissions": "0", "locale": "en-US", "entitlements": [],
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
