//! Seecret's Slack app: `/share-secret` (or the global shortcut, or the App Home's button) opens
//! a private modal (or takes the secret inline in quick mode), creates a one-time link through a
//! [`Backend`] and delivers it by DM or ephemeral reply with unfurling off, a link the sender must
//! keep also by DM (durable delivery, per workspace); the sender hears when it is read. The App
//! Home lists each user's recent shares with their status and a Burn button, from the Events API
//! (`app_home_opened`, deduplicated across Slack's retries).
//!
//! The same [`SlackBot`] runs embedded in `seecret serve` (backend: the engine, events: an
//! in-process sink fed by the outbox) or as the `seecret-slack` binary (backend: a remote server
//! over HTTP, events: that server's webhooks). Every request from Slack is checked against the
//! app's signing secret over the raw body before anything else happens.

mod config;
mod events;
mod handlers;
mod install;
mod messages;
mod request;
mod slack;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use seecret_core::api::EventPayload;
use seecret_core::bots::{self, Backend, BotStore, Core, Notifier};
use tracing::warn;

pub use config::{ConfigError, ENV_VARS, SlackConfig};

/// The Slack app: routes for Slack, and the [`Notifier`] for its secrets' events.
#[derive(Debug, Clone)]
pub struct SlackBot {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: SlackConfig,
    core: Core,
    slack: slack::Slack,
    /// OAuth installations (sealed), workspace settings, events already handled.
    store: Arc<dyn BotStore>,
}

/// The provider name the bot's records are kept under.
const PROVIDER: &str = "slack";

impl SlackBot {
    /// A bot creating secrets through `backend`; `store` keeps the tokens of workspaces that
    /// installed the app through OAuth, their settings, and the events already handled.
    pub fn new(
        cfg: SlackConfig,
        backend: Arc<dyn Backend>,
        store: Arc<dyn BotStore>,
    ) -> Result<Self, ConfigError> {
        let slack = slack::Slack::new(&cfg.api_url)?;
        let core = Core::new(backend, cfg.per_user_per_minute, cfg.max_views);
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                core,
                slack,
                store,
            }),
        })
    }

    /// Standalone: accept Seecret webhooks signed with `whsec` on `/slack/seecret-events`.
    pub fn with_webhook_secret(mut self, whsec: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.core.set_webhook_secret(whsec);
        }
        self
    }

    /// `/slack/commands`, `/slack/interactions`, `/slack/events` (the Events API), and the OAuth
    /// routes when OAuth is configured.
    pub fn router(&self) -> Router {
        let mut r = Router::new()
            .route("/slack/commands", post(handlers::command))
            .route("/slack/interactions", post(handlers::interaction))
            .route("/slack/events", post(events::events));
        if self.inner.cfg.oauth.is_some() {
            r = r
                .route("/slack/install", get(install::start))
                .route("/slack/oauth/callback", get(install::callback));
        }
        r.with_state(self.clone())
    }

    /// `/slack/seecret-events`: Seecret webhooks for a standalone bot (signed with `whsec`).
    pub fn webhook_router(&self) -> Router {
        bots::event_router(self.clone())
    }

    /// The receiver of this bot's events (embedded mode: the server hands them over in process).
    pub fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(self.clone())
    }

    /// Whether links the sender must keep also go to them by DM in `team`: its admins' choice,
    /// else the server's default (also when the choice cannot be read, which is logged).
    async fn dm_links(&self, team: &str) -> bool {
        let default = self.inner.cfg.dm_links;
        match self.inner.store.settings(PROVIDER, team).await {
            Ok(s) => s.dm_links.unwrap_or(default),
            Err(e) => {
                warn!(error = %e, team, "reading the workspace's settings failed; using the default");
                default
            }
        }
    }

    /// The bot token for a workspace: its OAuth installation's, or (one workspace, no OAuth: the
    /// settings refuse both at once) the configured one.
    async fn token_for(&self, team: &str) -> Result<Option<slack::Token>, install::InstallError> {
        match &self.inner.cfg.bot_token {
            Some(t) if self.inner.cfg.oauth.is_none() => Ok(Some(slack::Token::new(t.as_str()))),
            _ => install::token(self, team).await,
        }
    }
}

impl bots::EventReceiver for SlackBot {
    const PREFIX: &'static str = "slack";
    const PLATFORM: &'static str = "Slack";
    fn core(&self) -> &Core {
        &self.inner.core
    }
}

#[async_trait::async_trait]
impl Notifier for SlackBot {
    /// Sends the sender of the secret a DM about `event`; `subscriber` is `TEAM:USER`.
    async fn notify(&self, subscriber: &str, event: &EventPayload) -> Result<(), String> {
        let Some((team, user)) = subscriber.split_once(':') else {
            // Not ours to retry: a malformed route never becomes valid.
            return Ok(());
        };
        let Some(text) = messages::event_text(event) else {
            return Ok(());
        };
        let token = self
            .token_for(team)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no token for team {team}"))?;
        self.inner
            .slack
            .dm(&token, user, messages::plain(&text))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
