//! Chat bots embedded in `seecret serve`: each is enabled by its own environment variables, acts
//! for one account through the engine, and hears its secrets' events from the outbox (so a read
//! served by any instance reaches the bot, after restarts too).

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use seecret_core::bots::Embedded;
use seecret_core::engine::Engine;
use seecret_core::webhook::Deliverer;
use tracing::{info, warn};

/// Environment variables the embedded bots read.
pub const ENV_VARS: &[&[&str]] = &[seecret_slack::ENV_VARS, seecret_discord::ENV_VARS];

/// Mounts the enabled bots: their routes, and their event sinks on `deliverer`.
pub async fn mount(
    engine: &Arc<Engine>,
    mut deliverer: Deliverer,
) -> anyhow::Result<(Deliverer, Router)> {
    let mut routes = Router::new();
    let public_url = engine.config().public_url.clone();
    if let Some(cfg) = seecret_slack::SlackConfig::from_env(&public_url)? {
        let backend = Embedded::new(engine.clone(), cfg.account.as_deref())
            .await
            .context("SEECRET_SLACK_ACCOUNT")?;
        info!(account = %backend.account().name, oauth = cfg.oauth.is_some(), "Slack app enabled");
        let installations = cfg.oauth.as_ref().map(|_| engine.store().clone());
        let bot = seecret_slack::SlackBot::new(cfg, Arc::new(backend), installations)?;
        deliverer = deliverer.with_sink("slack", bot.sink());
        routes = routes.merge(bot.router());
    }
    if let Some(cfg) = seecret_discord::DiscordConfig::from_env()? {
        if cfg.public_key.is_some() {
            let backend = Embedded::new(engine.clone(), cfg.account.as_deref())
                .await
                .context("SEECRET_DISCORD_ACCOUNT")?;
            info!(
                account = %backend.account().name,
                invite = %cfg.invite_url(),
                "Discord bot enabled on /discord/interactions"
            );
            if cfg.token.is_none() {
                warn!("SEECRET_DISCORD_TOKEN is not set: no command registration, no DMs");
            }
            let bot = seecret_discord::DiscordBot::new(cfg, Arc::new(backend))?;
            deliverer = deliverer.with_sink("discord", bot.sink());
            routes = routes.merge(bot.router());
            if bot.config().token.is_some() {
                bot.spawn_registration();
            }
        } else {
            warn!(
                "SEECRET_DISCORD_TOKEN is set without SEECRET_DISCORD_PUBLIC_KEY: the bot inside \
                 `seecret serve` answers Discord's HTTP interactions only; run `seecret-discord` \
                 for gateway mode"
            );
        }
    }
    Ok((deliverer, routes))
}
