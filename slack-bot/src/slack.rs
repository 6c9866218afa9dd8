//! Calls to Slack: the Web API through slack-morphism's client, and `response_url` follow-ups.
//! Every call has a deadline; every failure becomes a [`SlackError`] a user can be told about.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::config::ConfigError;

/// A bot token for one workspace.
#[derive(Clone, Debug)]
pub struct Token(SlackApiToken);

impl Token {
    /// Wraps a `xoxb-…` token.
    pub fn new(value: &str) -> Self {
        Self(SlackApiToken::new(SlackApiTokenValue::new(
            value.to_string(),
        )))
    }
}

/// Why a call to Slack failed.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack asked us to slow down.
    #[error("Slack is rate limiting Seecret; try again in a minute")]
    RateLimited,
    /// The bot token was refused (`invalid_auth`, `token_revoked`, `account_inactive`…).
    #[error("Slack refused Seecret's token ({0}); ask an admin to reinstall the app")]
    Auth(String),
    /// Slack answered with another error code.
    #[error("Slack answered {0}")]
    Api(String),
    /// Slack could not be reached in time.
    #[error("Slack could not be reached ({0})")]
    Network(String),
}

impl From<SlackClientError> for SlackError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::RateLimitError(_) => Self::RateLimited,
            SlackClientError::ApiError(a) => match a.code.as_str() {
                "invalid_auth" | "not_authed" | "token_revoked" | "token_expired"
                | "account_inactive" | "missing_scope" => Self::Auth(a.code),
                "ratelimited" => Self::RateLimited,
                _ => Self::Api(a.code),
            },
            // Never the bodies these errors carry: Slack echoes posted messages, links included.
            SlackClientError::HttpError(h) => Self::Network(format!("HTTP {}", h.status_code)),
            SlackClientError::ProtocolError(_) => Self::Api("unexpected answer".into()),
            SlackClientError::HttpProtocolError(_) => Self::Network("connection failed".into()),
            _ => Self::Network("request failed".into()),
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// A message: fallback text plus Block Kit blocks. It may hold a link, so its `Debug` does not
/// show it.
#[derive(Clone, Serialize)]
pub struct Message {
    /// Fallback text (notifications, screen readers).
    pub text: String,
    /// Block Kit blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<serde_json::Value>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Message(<redacted>)")
    }
}

/// A reply for a slash command or a `response_url`: ephemeral, never unfurled.
#[derive(Serialize)]
pub struct Reply<'a> {
    response_type: &'static str,
    #[serde(flatten)]
    message: &'a Message,
    unfurl_links: bool,
    unfurl_media: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replace_original: bool,
}

impl<'a> Reply<'a> {
    /// Seen only by the user who ran the command.
    pub fn ephemeral(message: &'a Message) -> Self {
        Self {
            response_type: "ephemeral",
            message,
            unfurl_links: false,
            unfurl_media: false,
            replace_original: false,
        }
    }
}

/// A message posted in a DM.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    /// The bot's own user id, as Slack reported it with the message (to mention it as @Seecret).
    pub bot_user: Option<String>,
}

/// What an OAuth installation gave us.
pub struct Installed {
    /// The workspace.
    pub team_id: String,
    /// Its name, for the confirmation page.
    pub team_name: Option<String>,
    /// The bot token.
    pub token: zeroize::Zeroizing<String>,
}

const DEADLINE: Duration = Duration::from_secs(10);

/// Slack's Web API and `response_url`s.
#[derive(Clone)]
pub struct Slack {
    client: Arc<SlackHyperClient>,
    http: reqwest::Client,
}

impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slack").finish_non_exhaustive()
    }
}

impl Slack {
    /// A client of the Web API at `api_url` (`https://slack.com/api` in production).
    pub fn new(api_url: &str) -> Result<Self, ConfigError> {
        seecret_core::init_crypto();
        // `SlackClientHyperConnector::new()` is https-only; the same connector built here also
        // speaks plain http, so `SEECRET_SLACK_API_URL` may name a local proxy or test double.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| ConfigError::Invalid(format!("loading the system's CA roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::from(https).with_slack_api_url(api_url);
        let http = reqwest::Client::builder()
            .timeout(DEADLINE)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            http,
        })
    }

    /// Calls Web API `method` with a JSON body (Slack accepts JSON for every method used here
    /// except `users.info`), as the bot; the answer's body once Slack said `ok`.
    async fn call(
        &self,
        token: &Token,
        method: &str,
        body: &serde_json::Value,
        within: Duration,
    ) -> Result<serde_json::Value, SlackError> {
        let session = self.client.open_session(&token.0);
        let call = session.http_session_api.http_post(method, body, None);
        match tokio::time::timeout(within, call).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(SlackError::Network(format!("{method} timed out"))),
        }
    }

    /// `views.open`. The trigger expires three seconds after the command was sent, hence the
    /// short deadline.
    pub async fn open_modal(
        &self,
        token: &Token,
        trigger_id: &str,
        view: serde_json::Value,
    ) -> Result<(), SlackError> {
        let body = serde_json::json!({"trigger_id": trigger_id, "view": view});
        self.call(token, "views.open", &body, Duration::from_millis(2500))
            .await
            .map(|_| ())
    }

    /// Opens (or finds) the DM with `user` and posts `message` there, never unfurled.
    pub async fn dm(
        &self,
        token: &Token,
        user: &str,
        message: Message,
    ) -> Result<Posted, SlackError> {
        // `users` is a comma-separated string, as documented (not a JSON array).
        let open = serde_json::json!({"users": user});
        let opened = self
            .call(token, "conversations.open", &open, DEADLINE)
            .await?;
        let Some(channel) = opened["channel"]["id"].as_str() else {
            return Err(SlackError::Api("conversations.open gave no channel".into()));
        };
        let mut post = serde_json::json!({
            "channel": channel,
            "text": message.text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(b) = message.blocks {
            post["blocks"] = b;
        }
        let posted = self
            .call(token, "chat.postMessage", &post, DEADLINE)
            .await?;
        Ok(Posted {
            bot_user: posted["message"]["user"].as_str().map(String::from),
        })
    }

    /// `views.publish`: `view` (a `home` view) becomes `user`'s App Home tab.
    pub async fn publish_home(
        &self,
        token: &Token,
        user: &str,
        view: serde_json::Value,
    ) -> Result<(), SlackError> {
        let body = serde_json::json!({"user_id": user, "view": view});
        self.call(token, "views.publish", &body, DEADLINE)
            .await
            .map(|_| ())
    }

    /// Whether `user` is an admin or owner of their workspace (`users.info`, which takes no
    /// JSON body: its arguments go in the query).
    pub async fn is_admin(&self, token: &Token, user: &str) -> Result<bool, SlackError> {
        let session = self.client.open_session(&token.0);
        let params = vec![("user", Some(user))];
        let call = session
            .http_session_api
            .http_get::<serde_json::Value, _, _>("users.info", &params, None);
        let info = match tokio::time::timeout(DEADLINE, call).await {
            Ok(r) => r?,
            Err(_) => return Err(SlackError::Network("users.info timed out".into())),
        };
        let flag = |k: &str| info["user"][k].as_bool().unwrap_or(false);
        Ok(flag("is_admin") || flag("is_owner") || flag("is_primary_owner"))
    }

    /// Posts an ephemeral follow-up to a command's `response_url`.
    pub async fn respond(&self, response_url: &str, message: &Message) -> Result<(), SlackError> {
        let resp = self
            .http
            .post(response_url)
            .json(&Reply::ephemeral(message))
            .send()
            .await
            .map_err(|e| SlackError::Network(short(&without_url(e))))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            429 => Err(SlackError::RateLimited),
            404 | 410 => Err(SlackError::Api("expired_response_url".into())),
            s => Err(SlackError::Api(format!("HTTP {s}"))),
        }
    }

    /// `oauth.v2.access`: trades an installation's code for its bot token.
    pub async fn oauth_access(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Installed, SlackError> {
        let mut req = SlackOAuthV2AccessTokenRequest::new(
            SlackClientId::new(client_id.to_string()),
            SlackClientSecret::new(client_secret.to_string()),
            SlackOAuthCode::new(code.to_string()),
        );
        if let Ok(u) = url::Url::parse(redirect_uri) {
            req = req.with_redirect_uri(u);
        }
        let r = deadline(self.client.oauth2_access(&req)).await?;
        Ok(Installed {
            team_id: r.team.id.to_string(),
            team_name: r.team.name,
            token: zeroize::Zeroizing::new(r.access_token.value().clone()),
        })
    }
}

async fn deadline<T>(
    f: impl std::future::Future<Output = ClientResult<T>>,
) -> Result<T, SlackError> {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(SlackError::Network("timed out".into())),
    }
}

/// A reqwest error and its causes, without the URL: a `response_url` is a bearer capability.
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(err) = source {
        s.push_str(": ");
        s.push_str(&err.to_string());
        source = err.source();
    }
    s
}
