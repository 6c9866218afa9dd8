//! Seecret's Discord bot: `/share-secret` opens a private modal (or takes the secret as a
//! command option), creates a one-time link through a [`Backend`] and answers ephemerally with
//! link previews off, or sends the link to a recipient by DM; the sender hears when it is read.
//!
//! The same [`DiscordBot`] handles interactions from Discord's HTTP interactions endpoint
//! (`POST /discord/interactions`, every request Ed25519-verified first) and from the gateway
//! ([`DiscordBot::run_gateway`]); it runs embedded in `seecret serve` (backend: the engine,
//! events: an in-process sink fed by the outbox) or as the `seecret-discord` binary (backend: a
//! remote server, events: its webhooks).

mod config;
mod discord;
mod endpoint;
mod gateway;
mod handlers;
mod messages;
mod prefs;
mod request;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use seecret_core::api::EventPayload;
use seecret_core::bots::{self, Backend, BotStore, Core, Notifier};
use serenity::interactions_endpoint::Verifier;
use tracing::{info, warn};

pub use config::{ConfigError, DEFAULT_API_URL, DiscordConfig, ENV_VARS, parse_public_key};
pub use discord::DiscordError;
pub use handlers::{Reply, Unsupported};
pub use messages::ModalLayout;

/// The Discord bot: routes for Discord, the gateway handler, and the sink for its events.
#[derive(Debug, Clone)]
pub struct DiscordBot {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: DiscordConfig,
    core: Core,
    discord: discord::Discord,
    verifier: Option<Verifier>,
    /// Interactions already answered (replay guard).
    seen: endpoint::Seen,
    /// Where guilds' choices are kept (`None`: nowhere, `/share-secret-settings` says so).
    prefs: Option<Arc<dyn BotStore>>,
    /// How the modal is laid out (Labels, or action rows for the gateway).
    layout: ModalLayout,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("cfg", &self.cfg)
            .field("core", &self.core)
            .field("discord", &self.discord)
            .finish_non_exhaustive()
    }
}

impl DiscordBot {
    /// A bot creating secrets through `backend`.
    pub fn new(cfg: DiscordConfig, backend: Arc<dyn Backend>) -> Result<Self, ConfigError> {
        let verifier = cfg
            .public_key
            .map(Verifier::try_new)
            .transpose()
            .map_err(|e| ConfigError::Invalid(format!("SEECRET_DISCORD_PUBLIC_KEY: {e}")))?;
        let discord = discord::Discord::new(&cfg)
            .map_err(|e| ConfigError::Invalid(format!("the HTTP client for Discord: {e}")))?;
        let core = Core::new(backend, cfg.per_user_per_minute, cfg.max_views);
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                core,
                discord,
                verifier,
                seen: endpoint::Seen::default(),
                prefs: None,
                layout: ModalLayout::Labels,
            }),
        })
    }

    /// Standalone: accept Seecret webhooks signed with `whsec` on `/discord/seecret-events`.
    pub fn with_webhook_secret(mut self, whsec: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.core.set_webhook_secret(whsec);
        }
        self
    }

    /// Keeps guilds' choices (`/share-secret-settings`) in `prefs`. Like every `with_…`, call
    /// it before the bot is shared (cloned, or its router or notifier taken).
    pub fn with_preferences(mut self, prefs: Arc<dyn BotStore>) -> Self {
        let inner = Arc::get_mut(&mut self.inner);
        debug_assert!(inner.is_some(), "with_preferences on a shared bot");
        if let Some(inner) = inner {
            inner.prefs = Some(prefs);
        }
        self
    }

    /// Lays the modal out as `layout` says: [`ModalLayout::ActionRows`] for a bot that answers
    /// on the gateway, where serenity's model cannot read Label components back.
    pub fn with_modal_layout(mut self, layout: ModalLayout) -> Self {
        let inner = Arc::get_mut(&mut self.inner);
        debug_assert!(inner.is_some(), "with_modal_layout on a shared bot");
        if let Some(inner) = inner {
            inner.layout = layout;
        }
        self
    }

    /// The settings.
    pub fn config(&self) -> &DiscordConfig {
        &self.inner.cfg
    }

    /// `POST /discord/interactions` (Discord's "Interactions Endpoint URL").
    pub fn router(&self) -> Router {
        Router::new()
            .route("/discord/interactions", post(endpoint::interactions))
            .with_state(self.clone())
    }

    /// `POST /discord/seecret-events`: Seecret webhooks for a standalone bot.
    pub fn webhook_router(&self) -> Router {
        bots::event_router(self.clone())
    }

    /// The receiver of this bot's events (embedded mode: the server hands them over in process).
    pub fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(self.clone())
    }

    /// Handles one interaction given as Discord's JSON (both transports end here).
    pub async fn handle(&self, interaction: &serde_json::Value) -> Result<Reply, Unsupported> {
        handlers::handle(self, interaction).await
    }

    /// Logs where to install the app: to a server (guild install) and to a person's account
    /// (user install).
    pub fn log_install_urls(&self) {
        let cfg = &self.inner.cfg;
        info!(url = %cfg.guild_install_url(), "add the Discord app to a server with this URL (guild install)");
        info!(url = %cfg.user_install_url(), "add the Discord app to your own account with this URL (user install)");
    }

    /// Registers `/share-secret`, `/share-secret-settings` and `/request-secret` (in `SEECRET_DISCORD_GUILD_ID`, or
    /// globally, where they can be used in every installation context).
    pub async fn register_commands(&self) -> Result<(), DiscordError> {
        let cfg = &self.inner.cfg;
        let global = cfg.guild_id.is_none();
        self.inner
            .discord
            .register_commands(
                &messages::commands_body(cfg.max_views, global),
                cfg.guild_id,
            )
            .await?;
        match cfg.guild_id {
            Some(g) => info!(guild = g, "registered /share-secret in the guild"),
            None => info!(
                "registered /share-secret globally, for servers, DMs and user installs (may take a while to appear)"
            ),
        }
        Ok(())
    }

    /// [`register_commands`](Self::register_commands) in the background, logging a failure.
    pub fn spawn_registration(&self) {
        let bot = self.clone();
        tokio::spawn(async move {
            if let Err(e) = bot.register_commands().await {
                warn!(error = %e, "registering /share-secret with Discord failed");
            }
        });
    }

    /// Connects to the gateway with the bot token and answers interactions there, until the
    /// connection ends for good.
    pub async fn run_gateway(&self) -> Result<(), DiscordError> {
        gateway::run(self.clone()).await
    }

    /// Handles one gateway message (`{"op":0,"t":…,"d":…}`, as the websocket delivers it) the
    /// way the gateway connection does: read by serenity, then answered through the interaction
    /// callback. For tests, which cannot reach Discord's gateway.
    pub async fn handle_gateway_message(&self, text: &str) -> Result<(), String> {
        gateway::handle_message(self, text).await
    }
}

impl bots::EventReceiver for DiscordBot {
    const PREFIX: &'static str = "discord";
    const PLATFORM: &'static str = "Discord";
    fn core(&self) -> &Core {
        &self.inner.core
    }
}

#[async_trait::async_trait]
impl Notifier for DiscordBot {
    /// Sends the sender of the secret a DM about `event`; `subscriber` is the sender's user id.
    async fn notify(&self, subscriber: &str, event: &EventPayload) -> Result<(), String> {
        let Some(user) = subscriber.parse::<u64>().ok().filter(|u| *u > 0) else {
            // Not ours to retry: a malformed route never becomes valid.
            return Ok(());
        };
        let Some(text) = messages::event_text(event) else {
            return Ok(());
        };
        self.inner
            .discord
            .dm(user, &messages::message_body(&text))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
