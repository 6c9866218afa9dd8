//! Calls to Discord's REST API. The routes that act as the bot (command registration, DMs) go
//! through serenity's [`Http`] with the bot token (pointed elsewhere by `SEECRET_DISCORD_API_URL`
//! via [`HttpBuilder::proxy`]). The interaction routes (the callback and
//! `/webhooks/{application.id}/{interaction.token}/…`) are authorised by the interaction token in
//! their path and go through a plain HTTP client with no `Authorization` header at all: serenity
//! puts one on every request, and without a bot token it is `Bot ` with nothing after it, which
//! Discord refuses. Answers are read as plain JSON, so only the fields used matter; every call has
//! a deadline; every failure becomes a [`DiscordError`] a user can be told about, without the
//! request's URL (it holds interaction tokens) or body.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use serenity::http::{Http, HttpBuilder, HttpError, LightMethod, Request, Route};
use serenity::model::id::{ApplicationId, ChannelId, GuildId};
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use crate::config::DiscordConfig;

/// How long one REST call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to Discord failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// No bot token is configured, so the bot cannot call Discord as itself.
    #[error("the bot has no token (SEECRET_DISCORD_TOKEN), so it cannot send direct messages")]
    NoToken,
    /// Discord refused the token.
    #[error("Discord refused the bot's token; ask an admin to check SEECRET_DISCORD_TOKEN")]
    Auth,
    /// Discord refused the action (e.g. the user does not accept DMs from server members).
    #[error("Discord refused: {message}")]
    Forbidden {
        /// Discord's JSON error code (50007: cannot send messages to this user), 0 if none.
        code: i64,
        /// Discord's message.
        message: String,
    },
    /// Discord asked us to slow down.
    #[error("Discord is rate limiting the bot; try again in a minute")]
    RateLimited,
    /// Another error answer.
    #[error("Discord answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Discord's message (never a request body).
        message: String,
    },
    /// Discord could not be reached in time.
    #[error("Discord could not be reached ({0})")]
    Network(String),
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

impl From<serenity::Error> for DiscordError {
    fn from(e: serenity::Error) -> Self {
        match e {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
                let status = r.status_code.as_u16();
                let message = short(&r.error.message);
                Self::from_status(status, r.error.code as i64, message)
            }
            // Never the error's text: reqwest errors name the URL, which may hold a token.
            serenity::Error::Http(HttpError::Request(r)) if r.is_timeout() => {
                Self::Network("timed out".into())
            }
            serenity::Error::Http(HttpError::Request(_)) => {
                Self::Network("connection failed".into())
            }
            _ => Self::Network("request failed".into()),
        }
    }
}

impl DiscordError {
    /// The error for an answer with `status` and Discord's JSON error `code` and `message`.
    fn from_status(status: u16, code: i64, message: String) -> Self {
        match status {
            401 => Self::Auth,
            403 => Self::Forbidden {
                code,
                message: if message.is_empty() {
                    "missing access".into()
                } else {
                    message
                },
            },
            429 => Self::RateLimited,
            _ => Self::Api { status, message },
        }
    }

    /// Discord's "Cannot send messages to this user" (50007): the user does not accept DMs from
    /// the bot (privacy settings, no server in common, or the bot is blocked).
    pub fn is_dm_refused(&self) -> bool {
        matches!(self, Self::Forbidden { code: 50007, .. })
    }
}

/// Discord's REST API, as the bot.
#[derive(Clone)]
pub struct Discord {
    http: Arc<Http>,
    /// For the interaction routes, which take no `Authorization` header.
    plain: reqwest::Client,
    /// `https://discord.com` or its replacement, without a trailing `/`.
    api_url: String,
    application_id: ApplicationId,
    has_token: bool,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discord")
            .field("application_id", &self.application_id)
            .field("has_token", &self.has_token)
            .finish_non_exhaustive()
    }
}

impl Discord {
    /// A client with the configured token, application id and API URL.
    pub fn new(cfg: &DiscordConfig) -> Result<Self, reqwest::Error> {
        seecret_core::init_crypto();
        let plain = reqwest::Client::builder()
            .user_agent(serenity::constants::USER_AGENT)
            .connect_timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let token = cfg.token.as_ref().map(|t| t.as_str()).unwrap_or_default();
        let application_id = ApplicationId::new(cfg.application_id);
        let mut builder = HttpBuilder::new(token).application_id(application_id);
        if cfg.api_url != crate::config::DEFAULT_API_URL {
            builder = builder
                .proxy(cfg.api_url.clone())
                .ratelimiter_disabled(true);
        }
        Ok(Self {
            http: Arc::new(builder.build()),
            plain,
            api_url: cfg.api_url.clone(),
            application_id,
            has_token: cfg.token.is_some(),
        })
    }

    /// Whether the bot has a token (DMs and command registration need one).
    pub fn has_token(&self) -> bool {
        self.has_token
    }

    /// A call on an interaction route (`path` under `/api/v10`, holding the interaction token):
    /// JSON body, no `Authorization` header. Errors never carry the URL.
    async fn interaction_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<(), DiscordError> {
        let url = format!("{}/api/v10{path}", self.api_url);
        let call = async {
            let resp = self
                .plain
                .request(method, url)
                .json(body)
                .send()
                .await
                .map_err(|e| {
                    DiscordError::Network(
                        if e.is_timeout() {
                            "timed out"
                        } else {
                            "connection failed"
                        }
                        .into(),
                    )
                })?;
            let status = resp.status().as_u16();
            if resp.status().is_success() {
                return Ok(());
            }
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            let message = short(answer["message"].as_str().unwrap_or_default());
            let code = answer["code"].as_i64().unwrap_or(0);
            Err(DiscordError::from_status(status, code, message))
        };
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| DiscordError::Network("timed out".into()))?
    }

    async fn call(
        &self,
        route: Route<'_>,
        method: LightMethod,
        body: Option<&Value>,
    ) -> Result<Value, DiscordError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let req = Request::new(route, method).body(body);
        // serenity records each request (route with the interaction token, body with the link)
        // in a tracing span that any debug line inside it prints; none of that may reach a log,
        // so the call runs with tracing off. Its outcome is logged by the caller.
        let call = async {
            let resp = self.http.request(req).await?;
            let bytes = resp
                .bytes()
                .await
                .map_err(|_| DiscordError::Network("answer cut short".into()))?;
            Ok::<_, DiscordError>(bytes)
        }
        .with_subscriber(NoSubscriber::default());
        let bytes = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| DiscordError::Network("timed out".into()))??;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Replaces the application's commands (in one guild, or globally).
    pub async fn register_commands(
        &self,
        commands: &Value,
        guild: Option<u64>,
    ) -> Result<(), DiscordError> {
        if !self.has_token {
            return Err(DiscordError::NoToken);
        }
        let route = match guild {
            Some(g) => Route::GuildCommands {
                application_id: self.application_id,
                guild_id: GuildId::new(g),
            },
            None => Route::Commands {
                application_id: self.application_id,
            },
        };
        self.call(route, LightMethod::Put, Some(commands)).await?;
        Ok(())
    }

    /// Sends `message` (a create-message body) to `user` by direct message; returns the DM
    /// channel's id.
    pub async fn dm(&self, user: u64, message: &Value) -> Result<u64, DiscordError> {
        if !self.has_token {
            return Err(DiscordError::NoToken);
        }
        let channel = self
            .call(
                Route::UserMeDmChannels,
                LightMethod::Post,
                Some(&json!({"recipient_id": user.to_string()})),
            )
            .await?;
        let channel_id = channel["id"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| DiscordError::Api {
                status: 200,
                message: "no DM channel in the answer".into(),
            })?;
        self.call(
            Route::ChannelMessages {
                channel_id: ChannelId::new(channel_id),
            },
            LightMethod::Post,
            Some(message),
        )
        .await?;
        Ok(channel_id)
    }

    /// Replaces the deferred answer to an interaction (`PATCH …/messages/@original`).
    pub async fn edit_original(&self, token: &str, message: &Value) -> Result<(), DiscordError> {
        let path = format!(
            "/webhooks/{}/{token}/messages/@original",
            self.application_id
        );
        self.interaction_call(reqwest::Method::PATCH, &path, message)
            .await
    }

    /// Answers an interaction received on the gateway (`POST /interactions/{id}/{token}/callback`).
    pub async fn respond(
        &self,
        id: u64,
        token: &str,
        response: &Value,
    ) -> Result<(), DiscordError> {
        let path = format!("/interactions/{id}/{token}/callback");
        self.interaction_call(reqwest::Method::POST, &path, response)
            .await
    }
}
