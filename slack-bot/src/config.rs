//! The Slack app's settings, from `SEECRET_SLACK_*` environment variables (each also readable
//! from a file named by `<NAME>_FILE`, for container secrets).

use std::fmt;

use seecret_core::bots::settings;
use seecret_core::crypto::SecretKey;
use zeroize::Zeroizing;

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// What is wrong with the Slack settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is missing or malformed.
    #[error("{0}")]
    Invalid(String),
}

/// OAuth v2 settings for installing the app in many workspaces.
#[derive(Clone)]
pub struct OAuth {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Zeroizing<String>,
    /// Seals bot tokens at rest.
    pub token_key: SecretKey,
}

/// Settings of the Slack app.
#[derive(Clone)]
pub struct SlackConfig {
    /// The app's signing secret: every request from Slack is verified with it.
    pub signing_secret: Zeroizing<String>,
    /// Single-workspace bot token (`xoxb-…`).
    pub bot_token: Option<Zeroizing<String>>,
    /// Many workspaces: OAuth v2.
    pub oauth: Option<OAuth>,
    /// Slack's Web API base (tests, proxies, Enterprise gateways point it elsewhere).
    pub api_url: String,
    /// Where Slack reaches this bot (`https://secrets.example.com`), for the OAuth redirect.
    pub public_url: String,
    /// Embedded: the account the bot acts for (default: the server's first).
    pub account: Option<String>,
    /// Secrets one Slack user may create per minute (0: unlimited).
    pub per_user_per_minute: u32,
    /// Views the modal offers at most.
    pub max_views: u32,
    /// The server's default for durable delivery: a link the sender must keep also goes to them
    /// by DM. Each workspace's admins may choose otherwise (`/share-secret settings`).
    pub dm_links: bool,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("signing_secret", &"<redacted>")
            .field("bot_token", &self.bot_token.as_ref().map(|_| "<redacted>"))
            .field("oauth", &self.oauth.as_ref().map(|o| &o.client_id))
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("account", &self.account)
            .field("per_user_per_minute", &self.per_user_per_minute)
            .field("max_views", &self.max_views)
            .field("dm_links", &self.dm_links)
            .finish()
    }
}

impl SlackConfig {
    /// Reads the settings through `get` (the process environment in production); `None` when
    /// `SEECRET_SLACK_SIGNING_SECRET` is unset, i.e. the Slack app is off.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        public_url: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let read = |name: &str| settings::read(&get, name).map_err(ConfigError::Invalid);
        let Some(signing_secret) = read("SEECRET_SLACK_SIGNING_SECRET")? else {
            return Ok(None);
        };
        let bot_token = read("SEECRET_SLACK_BOT_TOKEN")?.map(Zeroizing::new);
        // OAuth installs are on with the token key: the client id and secret alone also serve
        // Sign in with Slack on the reveal page (recipient binding), beside a bot token.
        let oauth = match (
            read("SEECRET_SLACK_CLIENT_ID")?,
            read("SEECRET_SLACK_CLIENT_SECRET")?,
            read("SEECRET_SLACK_TOKEN_KEY")?,
        ) {
            (Some(client_id), Some(secret), Some(key)) => Some(OAuth {
                client_id,
                client_secret: Zeroizing::new(secret),
                token_key: SecretKey::from_base64url(&key).map_err(|_| {
                    ConfigError::Invalid(
                        "SEECRET_SLACK_TOKEN_KEY must be 32 random bytes in base64url \
                         (e.g. `openssl rand 32 | basenc --base64url`)"
                            .into(),
                    )
                })?,
            }),
            (_, _, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "OAuth installs (SEECRET_SLACK_TOKEN_KEY) need SEECRET_SLACK_CLIENT_ID and \
                     SEECRET_SLACK_CLIENT_SECRET too"
                        .into(),
                ));
            }
        };
        if bot_token.is_some() && oauth.is_some() {
            // One bot token belongs to one workspace: beside OAuth it would answer for every
            // workspace that installed the app. Binding it to its team (auth.test) would make
            // start-up depend on Slack; with OAuth, the operator's own workspace installs through
            // /slack/install like any other.
            return Err(ConfigError::Invalid(
                "SEECRET_SLACK_BOT_TOKEN and SEECRET_SLACK_TOKEN_KEY (OAuth installs) are both \
                 set: a bot token serves one workspace, OAuth many. Keep one: with OAuth, install \
                 your own workspace through /slack/install too"
                    .into(),
            ));
        }
        if bot_token.is_none() && oauth.is_none() {
            return Err(ConfigError::Invalid(
                "SEECRET_SLACK_SIGNING_SECRET is set but there is no way to call Slack: set \
                 SEECRET_SLACK_BOT_TOKEN (one workspace) or SEECRET_SLACK_CLIENT_ID, \
                 SEECRET_SLACK_CLIENT_SECRET and SEECRET_SLACK_TOKEN_KEY (OAuth installs, many)"
                    .into(),
            ));
        }
        let number = |name: &str, default: u32| {
            settings::number(&get, name, default).map_err(ConfigError::Invalid)
        };
        let api_url = settings::base_url(&get, "SEECRET_SLACK_API_URL", DEFAULT_API_URL)
            .map_err(ConfigError::Invalid)?;
        Ok(Some(Self {
            signing_secret: Zeroizing::new(signing_secret),
            bot_token,
            oauth,
            api_url,
            public_url: read("SEECRET_SLACK_PUBLIC_URL")?
                .unwrap_or_else(|| public_url.to_string())
                .trim_end_matches('/')
                .to_string(),
            account: read("SEECRET_SLACK_ACCOUNT")?,
            per_user_per_minute: number("SEECRET_SLACK_RATE_LIMIT", 10)?,
            max_views: number("SEECRET_SLACK_MAX_VIEWS", 10)?.clamp(1, 100),
            dm_links: settings::flag(&get, "SEECRET_SLACK_DM_LINKS", true)
                .map_err(ConfigError::Invalid)?,
        }))
    }

    /// [`from_lookup`](Self::from_lookup) over the process environment.
    pub fn from_env(public_url: &str) -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok(), public_url)
    }
}

/// Environment variables the Slack app reads (for the server's unknown-variable warning).
pub const ENV_VARS: &[&str] = &[
    "SEECRET_SLACK_SIGNING_SECRET",
    "SEECRET_SLACK_BOT_TOKEN",
    "SEECRET_SLACK_CLIENT_ID",
    "SEECRET_SLACK_CLIENT_SECRET",
    "SEECRET_SLACK_TOKEN_KEY",
    "SEECRET_SLACK_API_URL",
    "SEECRET_SLACK_PUBLIC_URL",
    "SEECRET_SLACK_ACCOUNT",
    "SEECRET_SLACK_RATE_LIMIT",
    "SEECRET_SLACK_MAX_VIEWS",
    "SEECRET_SLACK_DM_LINKS",
    "SEECRET_SLACK_WEBHOOK_SECRET",
    "SEECRET_SLACK_BIND",
    "SEECRET_SLACK_INSTALLATIONS_PATH",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<SlackConfig>, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SlackConfig::from_lookup(
            |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            "https://s.example",
        )
    }

    const OAUTH: [(&str, &str); 3] = [
        ("SEECRET_SLACK_CLIENT_ID", "1.2"),
        ("SEECRET_SLACK_CLIENT_SECRET", "cs"),
        (
            "SEECRET_SLACK_TOKEN_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        ),
    ];

    #[test]
    fn one_token_or_oauth_never_both() {
        let signing = ("SEECRET_SLACK_SIGNING_SECRET", "s");
        let token = ("SEECRET_SLACK_BOT_TOKEN", "xoxb-1");
        assert!(
            config(&[]).unwrap().is_none(),
            "off without a signing secret"
        );
        assert!(config(&[signing, token]).unwrap().is_some());
        let mut oauth = vec![signing];
        oauth.extend(OAUTH);
        assert!(config(&oauth).unwrap().is_some());
        oauth.push(token);
        let err = config(&oauth).unwrap_err().to_string();
        assert!(err.contains("both set"), "{err}");
        assert!(config(&[signing]).is_err(), "no way to call Slack");
        // The client id and secret alone (Sign in with Slack) beside a bot token: one workspace.
        let sign_in = config(&[signing, token, OAUTH[0], OAUTH[1]])
            .unwrap()
            .unwrap();
        assert!(sign_in.oauth.is_none() && sign_in.bot_token.is_some());
        let err = config(&[signing, OAUTH[2]]).unwrap_err().to_string();
        assert!(err.contains("need SEECRET_SLACK_CLIENT_ID"), "{err}");
        let dm = |v: &str| config(&[signing, token, ("SEECRET_SLACK_DM_LINKS", v)]);
        assert!(
            config(&[signing, token]).unwrap().unwrap().dm_links,
            "on by default"
        );
        assert!(!dm("false").unwrap().unwrap().dm_links);
        assert!(dm("sometimes").is_err());
    }
}
