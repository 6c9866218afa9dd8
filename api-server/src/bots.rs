//! Chat bots embedded in `seecret serve`: each is enabled by its own environment variables, acts
//! for one account through the engine, and hears its secrets' events from the outbox (so a read
//! served by any instance reaches the bot, after restarts too).

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use seecret_core::bots::Embedded;
use seecret_core::engine::Engine;
use seecret_core::webhook::Deliverer;
use tracing::info;

/// Environment variables the embedded bots read.
pub const ENV_VARS: &[&str] = seecret_slack::ENV_VARS;

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
    Ok((deliverer, routes))
}
