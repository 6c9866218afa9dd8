//! `seecret-discord`: the Discord bot as its own process, in front of a remote Seecret server.
//!
//! It creates secrets with an API token (`SEECRET_SERVER`, `SEECRET_TOKEN`), encrypting them
//! here, and runs in one of two modes (`SEECRET_DISCORD_MODE`, default `http` when
//! `SEECRET_DISCORD_PUBLIC_KEY` is set, else `gateway`):
//! - `http`: Discord's HTTP interactions endpoint on `SEECRET_DISCORD_BIND`
//!   (`/discord/interactions`);
//! - `gateway`: a websocket connection with `SEECRET_DISCORD_TOKEN`, no public URL needed.
//!
//! Either way it listens on `SEECRET_DISCORD_BIND` for the server's webhooks on
//! `/discord/seecret-events` when `SEECRET_DISCORD_WEBHOOK_SECRET` (the account's `whsec_…`) and
//! `SEECRET_DISCORD_PUBLIC_URL` are set, to tell senders their secret was read. Servers' own
//! choices (`/share-secret-settings`) are kept in the file `SEECRET_DISCORD_PREFERENCES_PATH`
//! (default `seecret-discord-preferences.json`).

use std::sync::Arc;

use anyhow::Context;
use seecret_core::bots::{FileInstallations, Remote};
use seecret_core::client::Client;
use seecret_discord::{DiscordBot, DiscordConfig, ModalLayout};
use tracing::info;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    seecret_core::init_crypto();
    let filter = std::env::var("SEECRET_LOG").unwrap_or_else(|_| "info".into());
    let mut env_filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    if !filter.contains("serenity") {
        // serenity's gateway logs events (modal submissions included) at debug and below, and a
        // websocket message it cannot parse, whole, as a warning.
        for directive in ["serenity=info", "serenity::gateway::ws=error"] {
            if let Ok(d) = directive.parse() {
                env_filter = env_filter.add_directive(d);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let cfg = DiscordConfig::from_env()?.context(
        "set SEECRET_DISCORD_PUBLIC_KEY (HTTP interactions) or SEECRET_DISCORD_TOKEN (gateway)",
    )?;
    let mode = env("SEECRET_DISCORD_MODE").unwrap_or_else(|| {
        if cfg.public_key.is_some() {
            "http"
        } else {
            "gateway"
        }
        .to_string()
    });
    if mode != "http" && mode != "gateway" {
        anyhow::bail!("SEECRET_DISCORD_MODE must be http or gateway, not {mode:?}");
    }
    if mode == "http" && cfg.public_key.is_none() {
        anyhow::bail!("HTTP interactions mode needs SEECRET_DISCORD_PUBLIC_KEY");
    }
    if mode == "gateway" && cfg.token.is_none() {
        anyhow::bail!("gateway mode needs SEECRET_DISCORD_TOKEN");
    }
    let server = env("SEECRET_SERVER").context("SEECRET_SERVER: the Seecret server's URL")?;
    let token = env("SEECRET_TOKEN").context("SEECRET_TOKEN: an API token of the bot's account")?;
    let whsec = env("SEECRET_DISCORD_WEBHOOK_SECRET");
    let events_url = match (&whsec, env("SEECRET_DISCORD_PUBLIC_URL")) {
        (Some(_), Some(url)) => Some(format!(
            "{}/discord/seecret-events",
            url.trim_end_matches('/')
        )),
        (Some(_), None) => anyhow::bail!(
            "SEECRET_DISCORD_WEBHOOK_SECRET is set: SEECRET_DISCORD_PUBLIC_URL must say where the server reaches this bot"
        ),
        _ => None,
    };
    let client = Client::new(&server, Some(&token))?;
    let account = client
        .account()
        .await
        .context("checking SEECRET_TOKEN with the server")?;
    info!(account = %account.name, %server, %mode, "acting for account");
    let backend = Arc::new(Remote::new(client, events_url));
    let prefs_path = env("SEECRET_DISCORD_PREFERENCES_PATH")
        .unwrap_or_else(|| "seecret-discord-preferences.json".into());
    let prefs = FileInstallations::open(&prefs_path)
        .await
        .map_err(anyhow::Error::msg)
        .context("SEECRET_DISCORD_PREFERENCES_PATH")?;
    let mut bot = DiscordBot::new(cfg, backend)?.with_preferences(Arc::new(prefs));
    if let Some(w) = &whsec {
        bot = bot.with_webhook_secret(w);
    }
    if mode == "gateway" {
        bot = bot.with_modal_layout(ModalLayout::ActionRows);
    }
    bot.log_install_urls();
    if bot.config().token.is_some() {
        bot.spawn_registration();
    } else {
        tracing::warn!(
            "SEECRET_DISCORD_TOKEN is not set: no command registration, and no DMs (links stay only in ephemeral replies)"
        );
    }
    let mut app = bot.webhook_router();
    if mode == "http" {
        app = app.merge(bot.router());
    }
    let listen = mode == "http" || whsec.is_some();
    let http_task = if listen {
        let bind = env("SEECRET_DISCORD_BIND").unwrap_or_else(|| "0.0.0.0:3001".into());
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .with_context(|| format!("listening on {bind}"))?;
        info!(addr = %listener.local_addr()?, "seecret-discord listening");
        Some(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(seecret_core::shutdown_signal())
                .await
        }))
    } else {
        None
    };
    if mode == "gateway" {
        tokio::select! {
            r = bot.run_gateway() => r.context("Discord gateway")?,
            () = seecret_core::shutdown_signal() => {}
        }
    } else if let Some(task) = http_task {
        task.await??;
    }
    Ok(())
}
