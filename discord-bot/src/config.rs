//! The Discord bot's settings, from `SEECRET_DISCORD_*` environment variables (each also readable
//! from a file named by `<NAME>_FILE`, for container secrets).

use std::fmt;

use seecret_core::bots::settings;
use zeroize::Zeroizing;

/// What `https://discord.com` is replaced with when `SEECRET_DISCORD_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://discord.com";

/// What is wrong with the Discord settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is missing or malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Settings of the Discord bot.
#[derive(Clone)]
pub struct DiscordConfig {
    /// The application's Ed25519 public key (hex): every HTTP interaction is verified with it.
    /// `None`: no HTTP interactions endpoint (gateway only).
    pub public_key: Option<[u8; 32]>,
    /// The application (client) id.
    pub application_id: u64,
    /// The bot token, for REST calls (command registration, DMs) and the gateway.
    pub token: Option<Zeroizing<String>>,
    /// Replaces `https://discord.com` in REST calls (tests, proxies).
    pub api_url: String,
    /// Register `/share-secret` in this guild only (instant updates) instead of globally.
    pub guild_id: Option<u64>,
    /// Embedded: the account the bot acts for (default: the server's first).
    pub account: Option<String>,
    /// Secrets one Discord user may create per minute (0: unlimited).
    pub per_user_per_minute: u32,
    /// Views allowed at most.
    pub max_views: u32,
    /// The server-wide default for sending the sender a DM copy of the link they must keep (a
    /// guild's managers may override it with `/share-secret-settings`).
    pub dm_copy: bool,
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("public_key", &self.public_key.map(hex::encode))
            .field("application_id", &self.application_id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("api_url", &self.api_url)
            .field("guild_id", &self.guild_id)
            .field("account", &self.account)
            .field("per_user_per_minute", &self.per_user_per_minute)
            .field("max_views", &self.max_views)
            .field("dm_copy", &self.dm_copy)
            .finish()
    }
}

/// Reads `name`, or the file named by `name_FILE`.
fn read_var(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    settings::read(get, name).map_err(ConfigError::Invalid)
}

fn snowflake(name: &str, v: &str) -> Result<u64, ConfigError> {
    v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ConfigError::Invalid(format!("{name} must be a Discord id (digits), not {v:?}"))
    })
}

/// Parses a hex Ed25519 public key as shown in the Developer Portal.
pub fn parse_public_key(v: &str) -> Result<[u8; 32], ConfigError> {
    let bad = || {
        ConfigError::Invalid(
            "SEECRET_DISCORD_PUBLIC_KEY must be the application's public key: 64 hex digits \
             (Developer Portal → General Information)"
                .into(),
        )
    };
    let bytes = hex::decode(v.trim()).map_err(|_| bad())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    // A key that is not a curve point would make every request fail: refuse it at start.
    serenity::interactions_endpoint::Verifier::try_new(key).map_err(|_| bad())?;
    Ok(key)
}

impl DiscordConfig {
    /// Reads the settings through `get` (the process environment in production); `None` when
    /// neither `SEECRET_DISCORD_PUBLIC_KEY` nor `SEECRET_DISCORD_TOKEN` is set (the bot is off).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let public_key = read_var(&get, "SEECRET_DISCORD_PUBLIC_KEY")?;
        let token = read_var(&get, "SEECRET_DISCORD_TOKEN")?.map(Zeroizing::new);
        if public_key.is_none() && token.is_none() {
            return Ok(None);
        }
        let public_key = public_key.as_deref().map(parse_public_key).transpose()?;
        let application_id = read_var(&get, "SEECRET_DISCORD_APPLICATION_ID")?
            .ok_or_else(|| {
                ConfigError::Invalid(
                    "SEECRET_DISCORD_APPLICATION_ID is required (Developer Portal → General \
                     Information → Application ID)"
                        .into(),
                )
            })
            .and_then(|v| snowflake("SEECRET_DISCORD_APPLICATION_ID", &v))?;
        let guild_id = read_var(&get, "SEECRET_DISCORD_GUILD_ID")?
            .map(|v| snowflake("SEECRET_DISCORD_GUILD_ID", &v))
            .transpose()?;
        let number = |name: &str, default: u32| {
            settings::number(&get, name, default).map_err(ConfigError::Invalid)
        };
        let api_url = settings::base_url(&get, "SEECRET_DISCORD_API_URL", DEFAULT_API_URL)
            .map_err(ConfigError::Invalid)?;
        Ok(Some(Self {
            public_key,
            application_id,
            token,
            api_url,
            guild_id,
            account: read_var(&get, "SEECRET_DISCORD_ACCOUNT")?,
            per_user_per_minute: number("SEECRET_DISCORD_RATE_LIMIT", 10)?,
            max_views: number("SEECRET_DISCORD_MAX_VIEWS", 10)?.clamp(1, 100),
            dm_copy: match read_var(&get, "SEECRET_DISCORD_DM_LINKS")?.as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(v) => {
                    return Err(ConfigError::Invalid(format!(
                        "SEECRET_DISCORD_DM_LINKS must be true or false, not {v:?}"
                    )));
                }
            },
        }))
    }

    /// [`from_lookup`](Self::from_lookup) over the process environment.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Where a server manager adds the app to a server (guild install, `integration_type=0`):
    /// the command and the bot user (which sends DMs), with no special permissions.
    pub fn guild_install_url(&self) -> String {
        format!(
            "https://discord.com/oauth2/authorize?client_id={}&scope=applications.commands+bot&permissions=0&integration_type=0",
            self.application_id
        )
    }

    /// Where a person adds the app to their own account (user install, `integration_type=1`), to
    /// use `/share-secret` in any server, DM or group DM.
    pub fn user_install_url(&self) -> String {
        format!(
            "https://discord.com/oauth2/authorize?client_id={}&scope=applications.commands&integration_type=1",
            self.application_id
        )
    }
}

/// Environment variables the Discord bot reads (for the server's unknown-variable warning).
pub const ENV_VARS: &[&str] = &[
    "SEECRET_DISCORD_PUBLIC_KEY",
    "SEECRET_DISCORD_APPLICATION_ID",
    "SEECRET_DISCORD_TOKEN",
    "SEECRET_DISCORD_API_URL",
    "SEECRET_DISCORD_GUILD_ID",
    "SEECRET_DISCORD_ACCOUNT",
    "SEECRET_DISCORD_RATE_LIMIT",
    "SEECRET_DISCORD_MAX_VIEWS",
    "SEECRET_DISCORD_DM_LINKS",
    "SEECRET_DISCORD_PREFERENCES_PATH",
    "SEECRET_DISCORD_WEBHOOK_SECRET",
    "SEECRET_DISCORD_PUBLIC_URL",
    "SEECRET_DISCORD_BIND",
    "SEECRET_DISCORD_MODE",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PK: &str = "67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089";

    fn cfg(vars: &[(&str, &str)]) -> Result<Option<DiscordConfig>, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DiscordConfig::from_lookup(move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn off_unless_a_key_or_token_is_set_and_checked_when_on() {
        assert!(cfg(&[]).unwrap().is_none());
        let c = cfg(&[
            ("SEECRET_DISCORD_PUBLIC_KEY", PK),
            ("SEECRET_DISCORD_APPLICATION_ID", "1234"),
            ("SEECRET_DISCORD_TOKEN", "tok-en"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.application_id, 1234);
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(!format!("{c:?}").contains("tok-en"));
        assert_eq!(
            c.guild_install_url(),
            "https://discord.com/oauth2/authorize?client_id=1234&scope=applications.commands+bot&permissions=0&integration_type=0"
        );
        assert_eq!(
            c.user_install_url(),
            "https://discord.com/oauth2/authorize?client_id=1234&scope=applications.commands&integration_type=1"
        );
        assert!(c.dm_copy, "on by default");
        for bad in [
            vec![("SEECRET_DISCORD_PUBLIC_KEY", PK)],
            vec![
                ("SEECRET_DISCORD_PUBLIC_KEY", "abcd"),
                ("SEECRET_DISCORD_APPLICATION_ID", "1"),
            ],
            vec![
                ("SEECRET_DISCORD_PUBLIC_KEY", PK),
                ("SEECRET_DISCORD_APPLICATION_ID", "x1"),
            ],
            vec![
                ("SEECRET_DISCORD_TOKEN", "t"),
                ("SEECRET_DISCORD_APPLICATION_ID", "1"),
                ("SEECRET_DISCORD_API_URL", "ftp://x"),
            ],
            vec![
                ("SEECRET_DISCORD_TOKEN", "t"),
                ("SEECRET_DISCORD_APPLICATION_ID", "1"),
                ("SEECRET_DISCORD_DM_LINKS", "yes"),
            ],
        ] {
            assert!(cfg(&bad).is_err(), "{bad:?}");
        }
    }
}
