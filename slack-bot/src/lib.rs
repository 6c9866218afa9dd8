//! Seecret's Slack app: `/share-secret` opens a private modal (or takes the secret inline in
//! quick mode), creates a one-time link through a [`Backend`] and delivers it by DM or ephemeral
//! reply with unfurling off; the sender hears when it is read.
//!
//! The same [`SlackBot`] runs embedded in `seecret serve` (backend: the engine, events: an
//! in-process sink fed by the outbox) or as the `seecret-slack` binary (backend: a remote server
//! over HTTP, events: that server's webhooks). Every request from Slack is checked against the
//! app's signing secret over the raw body before anything else happens.

mod config;
mod handlers;
mod install;
mod messages;
mod slack;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use seecret_core::api::EventPayload;
use seecret_core::bots::{self, Backend, Core, Installations, Notifier};

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
    /// Where OAuth installations are kept (`None`: single workspace, token from the config).
    installations: Option<Arc<dyn Installations>>,
}

impl SlackBot {
    /// A bot creating secrets through `backend`; `installations` stores the tokens of workspaces
    /// that installed the app through OAuth.
    pub fn new(
        cfg: SlackConfig,
        backend: Arc<dyn Backend>,
        installations: Option<Arc<dyn Installations>>,
    ) -> Result<Self, ConfigError> {
        let slack = slack::Slack::new(&cfg.api_url)?;
        let core = Core::new(backend, cfg.per_user_per_minute, cfg.max_views);
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                core,
                slack,
                installations,
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

    /// `/slack/commands`, `/slack/interactions`, and the OAuth routes when OAuth is configured.
    pub fn router(&self) -> Router {
        let mut r = Router::new()
            .route("/slack/commands", post(handlers::command))
            .route("/slack/interactions", post(handlers::interaction));
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
            .map_err(|e| e.to_string())
    }
}
