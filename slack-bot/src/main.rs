//! `seecret-slack`: the Slack app as its own process, in front of a remote Seecret server.
//!
//! It creates secrets with an API token (`SEECRET_SERVER`, `SEECRET_TOKEN`), encrypting them
//! here, and hears about reads through the server's webhooks on `/slack/seecret-events`
//! (`SEECRET_SLACK_WEBHOOK_SECRET`: the account's `whsec_…`). Its state (the workspaces' sealed
//! bot tokens with OAuth, their settings, who shared what for the App Home) is kept in the file
//! `SEECRET_SLACK_INSTALLATIONS_PATH` (default `seecret-slack-installations.json`): this process
//! compiles no database.

use std::sync::Arc;

use anyhow::Context;
use seecret_core::bots::{FileInstallations, Remote};
use seecret_core::client::Client;
use seecret_slack::{SlackBot, SlackConfig};
use tracing::info;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    seecret_core::init_crypto();
    let filter = std::env::var("SEECRET_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let public_url = env("SEECRET_SLACK_PUBLIC_URL")
        .context("SEECRET_SLACK_PUBLIC_URL: where Slack reaches this bot, e.g. https://slack-bot.example.com")?;
    let cfg =
        SlackConfig::from_env(&public_url)?.context("SEECRET_SLACK_SIGNING_SECRET is not set")?;
    let server = env("SEECRET_SERVER").context("SEECRET_SERVER: the Seecret server's URL")?;
    let token = env("SEECRET_TOKEN").context("SEECRET_TOKEN: an API token of the bot's account")?;
    let whsec = env("SEECRET_SLACK_WEBHOOK_SECRET");
    let events_url = whsec
        .as_ref()
        .map(|_| format!("{}/slack/seecret-events", cfg.public_url));
    let client = Client::new(&server, Some(&token))?;
    let account = client
        .account()
        .await
        .context("checking SEECRET_TOKEN with the server")?;
    info!(account = %account.name, %server, "acting for account");
    if env("SEECRET_SLACK_DATABASE_URL").is_some() {
        anyhow::bail!(
            "SEECRET_SLACK_DATABASE_URL is no longer read: the standalone bot keeps OAuth \
             installations in the file SEECRET_SLACK_INSTALLATIONS_PATH (default \
             seecret-slack-installations.json); unset it, and install the workspaces again"
        );
    }
    let path = env("SEECRET_SLACK_INSTALLATIONS_PATH")
        .unwrap_or_else(|| "seecret-slack-installations.json".into());
    let state = Arc::new(
        FileInstallations::open(&path)
            .await
            .map_err(anyhow::Error::msg)
            .context("SEECRET_SLACK_INSTALLATIONS_PATH")?,
    );
    let backend = Arc::new(Remote::new(client, events_url).with_ledger(state.clone()));
    let mut bot = SlackBot::new(cfg, backend, state)?;
    if let Some(w) = &whsec {
        bot = bot.with_webhook_secret(w);
    }
    let app = bot.router().merge(bot.webhook_router());
    let bind = env("SEECRET_SLACK_BIND").unwrap_or_else(|| "0.0.0.0:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("listening on {bind}"))?;
    info!(addr = %listener.local_addr()?, "seecret-slack listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(seecret_core::shutdown_signal())
        .await?;
    Ok(())
}
