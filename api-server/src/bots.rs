//! Chat bots embedded in `seecret serve`: each is enabled by its own environment variables, acts
//! for one account through the engine ([`Embedded`]), keeps Slack OAuth installations, workspace
//! settings and the events it handled in the server's database ([`StoreInstallations`]), and
//! hears its secrets' events from the outbox (so a read served by any instance reaches the bot,
//! after restarts too).

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use seecret_core::api::{CreateRequest, CreateSecret, EventPayload, SecretInfo};
use seecret_core::bots::{
    Ask, Asked, Backend, BackendError, BotStore, EVENT_MEMORY, Notifier, Share, Shared,
    WorkspaceSettings,
};
use seecret_core::crypto::{self, SecretKey};
use seecret_core::engine::Engine;
use seecret_core::link::{AnswerLink, Link};
use seecret_core::model::SecretId;
use seecret_core::request::RequestPrivateKey;
use seecret_core::store::{AccountRecord, Store};
use seecret_core::webhook::{Deliverer, EventSink};
use tracing::{info, warn};
use zeroize::Zeroizing;

/// Environment variables the embedded bots read.
pub const ENV_VARS: &[&[&str]] = &[seecret_slack::ENV_VARS, seecret_discord::ENV_VARS];

/// The engine inside `seecret serve`, acting for one account; events come back through the
/// outbox to the [`EventSink`] named by [`Share::notify`].
#[derive(Debug, Clone)]
pub struct Embedded {
    engine: Arc<Engine>,
    account: AccountRecord,
}

impl Embedded {
    /// Acts for the account named (or with the id) `account`, or the server's first account.
    pub async fn new(engine: Arc<Engine>, account: Option<&str>) -> seecret_core::Result<Self> {
        use seecret_core::Error;
        let store = engine.store().clone();
        let record = match account {
            Some(a) => store
                .account_by_id_or_name(a)
                .await?
                .ok_or_else(|| Error::invalid("account", format!("no account named {a:?}")))?,
            None => store
                .first_account()
                .await?
                .ok_or_else(|| Error::invalid("account", "the server has no account yet"))?,
        };
        Ok(Self {
            engine,
            account: record,
        })
    }

    /// The account the bot acts for.
    pub fn account(&self) -> &AccountRecord {
        &self.account
    }
}

#[async_trait::async_trait]
impl Backend for Embedded {
    async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        let id = SecretId::new();
        let key = SecretKey::generate();
        let envelope = crypto::seal(&key, &id, share.secret.expose())?;
        let req = CreateSecret {
            ciphertext: Some(crypto::b64encode(&envelope)),
            id: Some(id),
            verifier: Some(crypto::RevealProof::of_key(&key).verifier().to_base64url()),
            expiration: Some(share.expiration),
            views: Some(share.views),
            passphrase: share.passphrase,
            label: share.label,
            bound_to: share.bound_to,
            ..CreateSecret::default()
        };
        let info = self
            .engine
            .create_secret_notifying(&self.account, req, Some(share.notify))
            .await?;
        Ok(Shared {
            id,
            link: Zeroizing::new(Link::format(&self.engine.config().public_url, &id, &key)),
            expires_at: info.expires_at,
            views: info.views,
            bound_to: info.bound_to,
        })
    }

    async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
        use seecret_core::Error;
        match self.engine.delete_secret(&self.account, id).await {
            Ok(_) | Err(Error::NotFound | Error::Gone(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn request(&self, ask: Ask) -> Result<Asked, BackendError> {
        let d = RequestPrivateKey::generate();
        let req = CreateRequest {
            public_key: d.public_key().to_base64url(),
            verifier: d.verifier().to_base64url(),
            note: ask.note,
            label: ask.label,
            expiration: ask.expiration,
            ..CreateRequest::default()
        };
        // The answer carries `notify`: its answered event reaches the sink like "viewed" does.
        let info = self
            .engine
            .create_request_notifying(&self.account, req, Some(ask.notify))
            .await?;
        Ok(Asked {
            id: info.id,
            answer_link: Zeroizing::new(AnswerLink::format(
                &self.engine.config().public_url,
                &info.id,
                &d,
            )),
            request_link: info.request_url,
            expires_at: info.expires_at,
        })
    }

    async fn withdraw(&self, id: SecretId) -> Result<(), BackendError> {
        use seecret_core::Error;
        match self.engine.delete_request(&self.account, id).await {
            Ok(_) | Err(Error::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn shares_of(&self, owner: &str, limit: u32) -> Result<Vec<SecretInfo>, BackendError> {
        Ok(self
            .engine
            .secrets_notifying(&self.account, owner, limit)
            .await?)
    }
}

/// A chat app's installations (sealed), workspace settings and handled events, in the server's
/// database.
#[derive(Debug, Clone)]
pub struct StoreInstallations(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl BotStore for StoreInstallations {
    async fn save(&self, provider: &str, team: &str, sealed: &[u8]) -> Result<(), String> {
        self.0
            .put_installation(provider, team, sealed, chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())
    }

    async fn sealed(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>, String> {
        self.0
            .installation(provider, team)
            .await
            .map_err(|e| e.to_string())
    }

    async fn save_settings(
        &self,
        provider: &str,
        team: &str,
        settings: &WorkspaceSettings,
    ) -> Result<(), String> {
        self.0
            .put_workspace_settings(provider, team, &settings.to_json(), chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())
    }

    async fn settings(&self, provider: &str, team: &str) -> Result<WorkspaceSettings, String> {
        match self.0.workspace_settings(provider, team).await {
            Ok(Some(json)) => WorkspaceSettings::from_json(&json),
            Ok(None) => Ok(WorkspaceSettings::default()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn first_delivery(&self, key: &str) -> Result<bool, String> {
        let now = chrono::Utc::now();
        let forget = chrono::Duration::from_std(EVENT_MEMORY).unwrap_or(chrono::Duration::days(1));
        self.0
            .claim_bot_event(key, now, now - forget)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Hands a bot the outbox's events for the secrets it created.
#[derive(Debug)]
struct Sink(Arc<dyn Notifier>);

#[async_trait::async_trait]
impl EventSink for Sink {
    async fn deliver(&self, subscriber: &str, event: &EventPayload) -> Result<(), String> {
        self.0.notify(subscriber, event).await
    }
}

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
        let store = Arc::new(StoreInstallations(engine.store().clone()));
        let bot = seecret_slack::SlackBot::new(cfg, Arc::new(backend), store)?;
        deliverer = deliverer.with_sink("slack", Arc::new(Sink(bot.notifier())));
        routes = routes.merge(bot.router());
    }
    if let Some(cfg) = seecret_discord::DiscordConfig::from_env()? {
        if cfg.public_key.is_some() {
            let backend = Embedded::new(engine.clone(), cfg.account.as_deref())
                .await
                .context("SEECRET_DISCORD_ACCOUNT")?;
            info!(
                account = %backend.account().name,
                "Discord bot enabled on /discord/interactions"
            );
            if cfg.token.is_none() {
                warn!(
                    "SEECRET_DISCORD_TOKEN is not set: no command registration, and no DMs (links stay only in ephemeral replies)"
                );
            }
            // Servers' choices live beside the installations, in the database.
            let prefs = Arc::new(StoreInstallations(engine.store().clone()));
            let bot =
                seecret_discord::DiscordBot::new(cfg, Arc::new(backend))?.with_preferences(prefs);
            bot.log_install_urls();
            deliverer = deliverer.with_sink("discord", Arc::new(Sink(bot.notifier())));
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
