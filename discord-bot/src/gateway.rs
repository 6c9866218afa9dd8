//! Gateway mode: serenity's client receives interactions over the websocket and hands them, as
//! Discord's JSON, to the same [`handle`](crate::handlers::handle) as the HTTP endpoint; the
//! answer goes back through the interaction callback. Kept thin on purpose: it cannot be tested
//! without Discord, everything it calls is.

use serenity::all::{Context, EventHandler, GatewayIntents, Interaction};
use serenity::async_trait;
use tracing::{info, warn};

use crate::discord::DiscordError;
use crate::{DiscordBot, handlers};

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
        let Ok(json) = serde_json::to_value(&interaction) else {
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
                handlers::burn(&self.bot, secret).await;
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
