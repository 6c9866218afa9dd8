//! Server settings, each declared once: a field of [`StorageOptions`] or [`ServeOptions`] is a
//! command-line flag, a `SEECRET_*` environment variable and a key of the TOML file, with its
//! help text and default beside it. Everything else is read from those declarations through
//! clap's `Command`: the list of known variables (for the typo warning), `seecret
//! print-default-config` and the settings table of `docs/configuration.md` (checked by a test).
//!
//! Layers, in increasing precedence: built-in defaults < TOML file (`--config`) < `SEECRET_*`
//! environment < flags. A secret-bearing setting (one whose value clap hides) may also come from
//! a file named by `<VAR>_FILE`, which ranks below the variable itself and above the TOML file.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use seecret_core::engine::{EngineConfig, PublicCaps};
use seecret_core::model::Expiration;
use seecret_core::store::{self, StoreOptions};
use seecret_core::webhook::{PrivateAllowList, WebhookConfig};
use serde::{Deserialize, Serialize};

use crate::http::HttpLimits;

mod docs;
mod layered;
#[cfg(test)]
mod tests;

pub use docs::{default_toml, settings_table};
use layered::args_of;
pub use layered::{ConfigFile, Layered, Resolved, from_file_var};

/// A setting that may carry a secret (a token, a passphrase, a URL with a password): zeroed on
/// drop and never shown by `Debug`, so no struct that holds one can leak it by being printed.
#[derive(Clone, Default, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Hidden(String);

impl Hidden {
    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl FromStr for Hidden {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl From<String> for Hidden {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl<'de> Deserialize<'de> for Hidden {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// The value itself: only the layering of settings below serialises one, in memory.
impl Serialize for Hidden {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A duration as people write it (`500ms`, `10s`, `15m`, `24h`), on the command line and in
/// the TOML file alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Human(pub Duration);

impl FromStr for Human {
    type Err = humantime::DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s).map(Self)
    }
}

/// In the largest of h, m, s and ms that divides it (`24h`, `90s`, `500ms`).
impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.subsec_nanos().is_multiple_of(1_000_000) {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        let ms = self.0.as_millis();
        for (unit, len) in [("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
            if ms >= len && ms.is_multiple_of(len) {
                return write!(f, "{}{unit}", ms / len);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Human {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Human {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one line of text per event.
    Text,
    /// For log shippers: one JSON object per line, fields at the top level.
    Json,
}

/// SQLite's `synchronous` pragma in WAL mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Loses no committed transaction on a process crash; an OS crash or power loss may drop the
    /// last few.
    Normal,
    /// Syncs every commit to disk.
    Full,
}

/// Where the data lives: shared by `serve` and the `account` commands.
#[derive(Args, Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct StorageOptions {
    /// Directory for the SQLite database and local files.
    #[arg(
        long,
        env = "SEECRET_DATA_DIR",
        global = true,
        default_value = "./seecret-data"
    )]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://path or postgres://… (default: SQLite file in the data dir).
    #[arg(
        long,
        env = "SEECRET_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<Hidden>,
    /// PostgreSQL connections per server.
    #[arg(
        long,
        env = "SEECRET_DATABASE_POOL_SIZE",
        global = true,
        default_value_t = 10
    )]
    pub database_pool_size: u32,
    /// PostgreSQL `statement_timeout` of every connection, in milliseconds: a stuck query fails
    /// the request instead of holding row locks.
    #[arg(
        long,
        env = "SEECRET_DATABASE_STATEMENT_TIMEOUT_MS",
        global = true,
        default_value_t = 5000
    )]
    pub database_statement_timeout_ms: u32,
    /// SQLite durability: normal (WAL; an OS crash or power loss may drop the last commits) or
    /// full.
    #[arg(
        long,
        env = "SEECRET_SQLITE_SYNCHRONOUS",
        global = true,
        value_enum,
        ignore_case = true,
        default_value_t = SqliteSynchronous::Normal
    )]
    pub sqlite_synchronous: SqliteSynchronous,
}

/// The settings of `seecret serve` beyond storage.
#[derive(Args, Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServeOptions {
    /// Address to listen on.
    #[arg(long, env = "SEECRET_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Address of a second listener serving Prometheus metrics at /metrics (off when unset;
    /// never the public address: metrics are for the operator's network).
    #[arg(long, env = "SEECRET_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Base URL of share links (default: http://{bound address}; set it behind a proxy).
    #[arg(long, env = "SEECRET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests per minute per account (0: unlimited).
    #[arg(long, env = "SEECRET_RATE_LIMIT_PER_MINUTE",
        default_value_t = EngineConfig::default().rate_limit_per_minute)]
    pub rate_limit_per_minute: u32,
    /// Requests per minute per client address on reveal endpoints and pages (0: unlimited).
    #[arg(long, env = "SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE",
        default_value_t = EngineConfig::default().reveal_rate_limit_per_minute)]
    pub reveal_rate_limit_per_minute: u32,
    /// Passphrase hashes and checks (Argon2) running at once; more answer 503 (default: the
    /// number of cores).
    #[arg(long, env = "SEECRET_ARGON2_CONCURRENCY")]
    pub argon2_concurrency: Option<usize>,
    /// Longest expiration accepted (e.g. 30d).
    #[arg(long, env = "SEECRET_MAX_EXPIRATION",
        default_value_t = EngineConfig::default().max_expiration)]
    pub max_expiration: Expiration,
    /// Shortest expiration accepted (e.g. 1m).
    #[arg(long, env = "SEECRET_MIN_EXPIRATION",
        default_value_t = EngineConfig::default().min_expiration)]
    pub min_expiration: Expiration,
    /// Most views a secret may allow.
    #[arg(long, env = "SEECRET_MAX_VIEWS", default_value_t = EngineConfig::default().max_views)]
    pub max_views: u32,
    /// Largest text secret in bytes.
    #[arg(long, env = "SEECRET_MAX_TEXT_SIZE",
        default_value_t = EngineConfig::default().max_text_bytes)]
    pub max_text_size: usize,
    /// Largest file in bytes.
    #[arg(long, env = "SEECRET_MAX_FILE_SIZE",
        default_value_t = EngineConfig::default().max_file_bytes)]
    pub max_file_size: u64,
    /// Where file ciphertext goes: a directory (default: {data_dir}/blobs) or s3://bucket/prefix
    /// (S3 takes the AWS_* variables).
    #[arg(long, env = "SEECRET_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// How long metadata of ended secrets is kept (e.g. 30d).
    #[arg(long, env = "SEECRET_RETENTION",
        default_value_t = Expiration::from_duration(EngineConfig::default().retention))]
    pub retention: Expiration,
    /// How often expired secrets are swept (e.g. 60s, 500ms).
    #[arg(long, env = "SEECRET_SWEEP_INTERVAL", default_value = "60s")]
    pub sweep_interval: Human,
    /// Age past which the sweeper removes blobs no secret names and leftovers of interrupted
    /// uploads (longer than any upload takes).
    #[arg(long, env = "SEECRET_LEFTOVER_AGE",
        default_value_t = Human(EngineConfig::default().leftover_age))]
    pub leftover_age: Human,
    /// Tracing filter (e.g. info, seecret=debug).
    #[arg(long, env = "SEECRET_LOG", default_value = "info")]
    pub log: String,
    /// Log line format: text, or json (one object a line, with the request id and route of
    /// the request that logged it).
    #[arg(long, env = "SEECRET_LOG_FORMAT", value_enum, ignore_case = true,
        default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Audit log of owner-visible events (created, revealed with country, denied, deleted), one
    /// JSON object a line, apart from the log: `stdout`, or a file to append to (off when unset).
    #[arg(long, env = "SEECRET_AUDIT_LOG")]
    pub audit_log: Option<String>,
    /// Proxies whose X-Forwarded-For / Forwarded / country headers are believed (CIDR list).
    #[arg(long, env = "SEECRET_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// MaxMind-format country database (GeoLite2-Country.mmdb or compatible).
    #[arg(long, env = "SEECRET_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// Header carrying the viewer's country, set by a trusted proxy (e.g. CF-IPCountry).
    #[arg(long, env = "SEECRET_COUNTRY_HEADER")]
    pub country_header: Option<String>,
    /// Redis for rate limits shared by all instances (redis://host:6379/0).
    #[arg(long, env = "SEECRET_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Hidden>,
    /// When Redis is unreachable: open lets requests through, closed refuses them.
    #[arg(long, env = "SEECRET_REDIS_FAIL", default_value = "open")]
    pub redis_fail: String,
    /// Prefix of the rate-limit keys in Redis.
    #[arg(long, env = "SEECRET_REDIS_PREFIX", default_value = "seecret")]
    pub redis_prefix: String,
    /// Private CIDRs and host names webhooks may reach anyway, comma-separated
    /// (e.g. 10.0.0.0/8,hooks.internal; 0.0.0.0/0,::/0 for every address).
    #[arg(long, env = "SEECRET_WEBHOOK_ALLOW_PRIVATE")]
    #[serde(default, deserialize_with = "list_or_bool")]
    pub webhook_allow_private: Option<String>,
    /// Delays between webhook attempts (units ms, s, m, h).
    #[arg(
        long,
        env = "SEECRET_WEBHOOK_RETRY_SCHEDULE",
        default_value = "5s,30s,2m,10m,1h,6h"
    )]
    pub webhook_retry_schedule: String,
    /// Timeout of one webhook attempt (e.g. 10s).
    #[arg(long, env = "SEECRET_WEBHOOK_TIMEOUT",
        default_value_t = Human(WebhookConfig::default().timeout))]
    pub webhook_timeout: Human,
    /// Webhook deliveries in flight at once.
    #[arg(long, env = "SEECRET_WEBHOOK_CONCURRENCY",
        default_value_t = WebhookConfig::default().concurrency)]
    pub webhook_concurrency: usize,
    /// Webhook deliveries of one account in flight at once, across instances.
    #[arg(long, env = "SEECRET_WEBHOOK_ACCOUNT_CONCURRENCY",
        default_value_t = WebhookConfig::default().per_account)]
    pub webhook_account_concurrency: usize,
    /// How long the previous webhook secret still signs after a rotation (e.g. 24h).
    #[arg(long, env = "SEECRET_WEBHOOK_SECRET_OVERLAP",
        default_value_t = Human(WebhookConfig::default().secret_overlap))]
    pub webhook_secret_overlap: Human,
    /// Time a client has to send a request's headers before its connection is closed.
    #[arg(long, env = "SEECRET_HEADER_TIMEOUT", default_value = "10s")]
    pub header_timeout: Human,
    /// Deadline of a request, except authenticated file uploads (else 408).
    #[arg(long, env = "SEECRET_REQUEST_TIMEOUT",
        default_value_t = Human(HttpLimits::default().request_timeout))]
    pub request_timeout: Human,
    /// Deadline of an authenticated file upload.
    #[arg(long, env = "SEECRET_UPLOAD_TIMEOUT",
        default_value_t = Human(HttpLimits::default().upload_timeout))]
    pub upload_timeout: Human,
    /// Requests handled at once; past it the server answers 503 with Retry-After.
    #[arg(long, env = "SEECRET_MAX_IN_FLIGHT",
        default_value_t = HttpLimits::default().max_in_flight)]
    pub max_in_flight: usize,
    /// Failed authentications a minute per client address before 429 (0: unlimited).
    #[arg(long, env = "SEECRET_AUTH_FAILURES_PER_MINUTE",
        default_value_t = HttpLimits::default().auth_failures_per_minute)]
    pub auth_failures_per_minute: u32,
    /// The Slack app's client id: with the secret, recipients of secrets bound to a Slack user
    /// sign in with Slack (OpenID Connect) on the reveal page. The Slack app's OAuth install
    /// reads the same variable.
    #[arg(long, env = "SEECRET_SLACK_CLIENT_ID")]
    pub slack_client_id: Option<String>,
    /// The Slack app's client secret (see slack_client_id).
    #[arg(long, env = "SEECRET_SLACK_CLIENT_SECRET", hide_env_values = true)]
    pub slack_client_secret: Option<Hidden>,
    /// Replaces https://slack.com in Sign in with Slack's URLs (authorize, token, keys).
    #[arg(long, env = "SEECRET_SLACK_SIGN_IN_URL", default_value = crate::signin::SLACK_URL)]
    pub slack_sign_in_url: String,
    /// The Discord application's OAuth2 client id: with the secret, recipients of secrets bound
    /// to a Discord user sign in with Discord (scope identify) on the reveal page.
    #[arg(long, env = "SEECRET_DISCORD_CLIENT_ID")]
    pub discord_client_id: Option<String>,
    /// The Discord application's OAuth2 client secret (see discord_client_id).
    #[arg(long, env = "SEECRET_DISCORD_CLIENT_SECRET", hide_env_values = true)]
    pub discord_client_secret: Option<Hidden>,
    /// Replaces https://discord.com in Discord sign-in's URLs (authorize, token, users/@me).
    #[arg(long, env = "SEECRET_DISCORD_SIGN_IN_URL", default_value = crate::signin::DISCORD_URL)]
    pub discord_sign_in_url: String,
    /// How long a recipient's sign-in counts before the reveal (e.g. 10m).
    #[arg(long, env = "SEECRET_SIGN_IN_TICKET_TTL",
        default_value_t = Human(EngineConfig::default().sign_in_ticket_ttl))]
    pub sign_in_ticket_ttl: Human,
    /// Let people without a token share text from the web app at `/` (owned by the account
    /// "public", under the caps below; never files).
    #[arg(long, env = "SEECRET_PUBLIC_CREATE", default_value_t = false,
        action = clap::ArgAction::Set)]
    pub public_create: bool,
    /// Longest expiration of an anonymous secret (see public_create).
    #[arg(long, env = "SEECRET_PUBLIC_MAX_EXPIRATION",
        default_value_t = PublicCaps::default().max_expiration)]
    pub public_max_expiration: Expiration,
    /// Most views of an anonymous secret (see public_create).
    #[arg(long, env = "SEECRET_PUBLIC_MAX_VIEWS",
        default_value_t = PublicCaps::default().max_views)]
    pub public_max_views: u32,
    /// Anonymous secrets a client address may create per minute (see public_create).
    #[arg(long, env = "SEECRET_PUBLIC_CREATE_PER_MINUTE", default_value_t = 5)]
    pub public_create_per_minute: u32,
    /// Whether anonymous secrets may name a webhook (see public_create).
    #[arg(long, env = "SEECRET_PUBLIC_WEBHOOKS", default_value_t = false,
        action = clap::ArgAction::Set)]
    pub public_webhooks: bool,
}

/// The allow list as text; a TOML boolean (the former form) becomes `"true"`/`"false"` so that
/// parsing it gives the same answer as the environment variable would.
fn list_or_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrBool {
        Bool(bool),
        List(String),
    }
    Ok(Option::<ListOrBool>::deserialize(d)?.map(|v| match v {
        ListOrBool::Bool(b) => b.to_string(),
        ListOrBool::List(s) => s,
    }))
}

/// Every key the TOML file may hold: the settings' ids.
pub(crate) fn toml_keys() -> BTreeSet<String> {
    args_of::<StorageOptions>()
        .into_iter()
        .chain(args_of::<ServeOptions>())
        .map(|a| a.get_id().to_string())
        .collect()
}

/// Where the data lives; shared by `serve` and the `account` commands.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// TOML configuration file.
    #[arg(long, env = "SEECRET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub options: Layered<StorageOptions>,
}

/// Flags of `seecret serve`; each has an environment variable and a TOML key.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub options: Layered<ServeOptions>,
}

/// How the store uses its database, after layering.
#[derive(Debug, Clone)]
pub struct DatabaseTuning {
    /// PostgreSQL pool size.
    pub pool_size: u32,
    /// PostgreSQL statement timeout.
    pub statement_timeout: Duration,
    /// SQLite durability.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl DatabaseTuning {
    /// The store's options for these settings.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            pool_size: self.pool_size,
            statement_timeout: self.statement_timeout,
            sqlite_synchronous: match self.sqlite_synchronous {
                SqliteSynchronous::Normal => store::SqliteSynchronous::Normal,
                SqliteSynchronous::Full => store::SqliteSynchronous::Full,
            },
            ..StoreOptions::default()
        }
    }
}

/// Storage settings after layering.
#[derive(Debug, Clone)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub database_url: Hidden,
    pub tuning: DatabaseTuning,
}

/// Where the audit log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    /// Standard output (the log goes to standard error).
    Stdout,
    /// A file, appended to (created 0600).
    File(PathBuf),
}

impl std::fmt::Display for AuditTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A `SEECRET_LOG` filter, checked: a typo must not quietly log at another level.
fn check_log_filter(filter: String) -> anyhow::Result<String> {
    tracing_subscriber::EnvFilter::try_new(&filter)
        .with_context(|| format!("SEECRET_LOG {filter:?} is not a valid log filter"))?;
    Ok(filter)
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// Prometheus metrics listener, if any.
    pub metrics_bind: Option<SocketAddr>,
    /// Whether the public URL was configured (otherwise it follows the bound address).
    pub public_url_set: bool,
    pub data_dir: PathBuf,
    pub database_url: Hidden,
    /// Pool size, statement timeout, SQLite durability.
    pub database: DatabaseTuning,
    /// Redis for shared rate limits.
    pub redis_url: Option<Hidden>,
    /// Let requests through when Redis is down.
    pub redis_fail_open: bool,
    /// Key prefix in Redis.
    pub redis_prefix: String,
    /// Proxies whose forwarding headers count.
    pub trusted_proxies: seecret_core::geo::TrustedProxies,
    /// Country database path.
    pub geoip_db: Option<PathBuf>,
    /// Country header set by a trusted proxy.
    pub country_header: Option<String>,
    /// Blob store spec (empty: `<data_dir>/blobs`).
    pub blob_store: String,
    pub sweep_interval: Duration,
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Where audit records go, if anywhere.
    pub audit_log: Option<AuditTarget>,
    pub engine: EngineConfig,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Deadlines, in-flight cap, failed-authentication limit.
    pub http: HttpLimits,
    /// The platforms recipients of bound secrets sign in with.
    pub sign_in: crate::signin::SignInSettings,
    /// Anonymous sharing from the web app: its caps and per-address creations a minute, when on.
    pub public_create: Option<(PublicCaps, u32)>,
}

impl StorageArgs {
    /// Data directory, database URL and the store's options after layering.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, Hidden, StoreOptions)> {
        let s = self.settings(&ConfigFile::read(self.config.as_deref(), &toml_keys())?)?;
        Ok((s.data_dir, s.database_url, s.tuning.store_options()))
    }

    /// `blob_store` as the `--config` file gives it: for commands that take the storage
    /// settings but not serve's (`backup`), so they look where `serve` writes.
    pub fn configured_blob_store(&self) -> anyhow::Result<Option<String>> {
        let file = ConfigFile::read(self.config.as_deref(), &toml_keys())?;
        Ok(file.text("blob_store").map(str::to_string))
    }

    fn settings(&self, file: &ConfigFile) -> anyhow::Result<Storage> {
        let o = self.options.resolve(file)?;
        let database_url = match o.database_url {
            Some(url) => url,
            None => format!("sqlite://{}", o.data_dir.join("seecret.db").display()).into(),
        };
        if o.database_pool_size == 0 {
            bail!("SEECRET_DATABASE_POOL_SIZE must be at least 1");
        }
        if o.database_statement_timeout_ms == 0 {
            bail!("SEECRET_DATABASE_STATEMENT_TIMEOUT_MS must be at least 1");
        }
        Ok(Storage {
            data_dir: o.data_dir,
            database_url,
            tuning: DatabaseTuning {
                pool_size: o.database_pool_size,
                statement_timeout: Duration::from_millis(o.database_statement_timeout_ms.into()),
                sqlite_synchronous: o.sqlite_synchronous,
            },
        })
    }
}

impl ServeArgs {
    /// Every setting of `serve` with its value (secrets withheld) and source, through the same
    /// layering as [`ServeArgs::resolve`].
    pub fn describe(&self) -> anyhow::Result<Vec<Resolved>> {
        let file = ConfigFile::read(self.storage.config.as_deref(), &toml_keys())?;
        let mut all = self.storage.options.describe(&file)?;
        all.extend(self.options.describe(&file)?);
        Ok(all)
    }

    /// Resolves every setting and validates it.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = ConfigFile::read(self.storage.config.as_deref(), &toml_keys())?;
        let storage = self.storage.settings(&file)?;
        let o = self.options.resolve(&file)?;
        let d = EngineConfig::default();
        let public_url_set = o.public_url.is_some();
        let sign_in = crate::signin::SignInSettings::from_options(&o)?;
        if let Some(public_url) = &o.public_url {
            let parsed = url::Url::parse(public_url)
                .with_context(|| format!("SEECRET_PUBLIC_URL {public_url:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
                bail!("SEECRET_PUBLIC_URL must be an http(s) URL without a fragment");
            }
        }
        let w = d.webhooks.clone();
        let webhooks = WebhookConfig {
            allow_private: match &o.webhook_allow_private {
                Some(list) => list
                    .parse::<PrivateAllowList>()
                    .context("SEECRET_WEBHOOK_ALLOW_PRIVATE")?,
                None => w.allow_private.clone(),
            },
            retry_schedule: seecret_core::webhook::parse_schedule(&o.webhook_retry_schedule)
                .context("SEECRET_WEBHOOK_RETRY_SCHEDULE")?,
            timeout: o.webhook_timeout.0,
            concurrency: o.webhook_concurrency.max(1),
            per_account: o.webhook_account_concurrency,
            secret_overlap: o.webhook_secret_overlap.0,
            ..w
        }
        .with_lease_from_timeout();
        let engine = EngineConfig {
            // Without a public URL, links use the address actually bound (see `serve`).
            public_url: o
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", o.bind))
                .trim_end_matches('/')
                .to_string(),
            max_expiration: o.max_expiration,
            min_expiration: o.min_expiration,
            max_views: o.max_views,
            max_text_bytes: o.max_text_size,
            max_file_bytes: o.max_file_size,
            retention: o.retention.duration(),
            leftover_age: o.leftover_age.0,
            rate_limit_per_minute: o.rate_limit_per_minute,
            reveal_rate_limit_per_minute: o.reveal_rate_limit_per_minute,
            webhooks,
            argon2_concurrency: match o.argon2_concurrency {
                Some(0) => bail!("SEECRET_ARGON2_CONCURRENCY must be at least 1"),
                Some(n) => n,
                None => d.argon2_concurrency,
            },
            geo_available: o.geoip_db.is_some() || o.country_header.is_some(),
            sign_in_providers: sign_in.providers(),
            sign_in_ticket_ttl: o.sign_in_ticket_ttl.0,
            ..d
        };
        if engine.sign_in_ticket_ttl.is_zero() {
            bail!("SEECRET_SIGN_IN_TICKET_TTL must be above 0");
        }
        if engine.min_expiration > engine.max_expiration {
            bail!("SEECRET_MIN_EXPIRATION is above SEECRET_MAX_EXPIRATION");
        }
        if engine.max_views == 0 {
            bail!("SEECRET_MAX_VIEWS must be at least 1");
        }
        let http = HttpLimits {
            request_timeout: o.request_timeout.0,
            upload_timeout: o.upload_timeout.0,
            max_in_flight: o.max_in_flight,
            auth_failures_per_minute: o.auth_failures_per_minute,
        };
        let header_timeout = o.header_timeout.0;
        if header_timeout.is_zero()
            || http.request_timeout.is_zero()
            || http.upload_timeout.is_zero()
        {
            bail!(
                "SEECRET_HEADER_TIMEOUT, SEECRET_REQUEST_TIMEOUT and SEECRET_UPLOAD_TIMEOUT must be above 0"
            );
        }
        if http.max_in_flight == 0 {
            bail!("SEECRET_MAX_IN_FLIGHT must be at least 1");
        }
        if engine.webhooks.per_account == 0 {
            bail!("SEECRET_WEBHOOK_ACCOUNT_CONCURRENCY must be at least 1");
        }
        let public_create = if o.public_create {
            if o.public_max_views == 0 || o.public_max_views > engine.max_views {
                bail!("SEECRET_PUBLIC_MAX_VIEWS must be from 1 to SEECRET_MAX_VIEWS");
            }
            if o.public_max_expiration > engine.max_expiration
                || o.public_max_expiration < engine.min_expiration
            {
                bail!(
                    "SEECRET_PUBLIC_MAX_EXPIRATION must lie between SEECRET_MIN_EXPIRATION and \
                     SEECRET_MAX_EXPIRATION"
                );
            }
            let caps = PublicCaps {
                max_expiration: o.public_max_expiration,
                max_views: o.public_max_views,
                webhooks: o.public_webhooks,
            };
            Some((caps, o.public_create_per_minute))
        } else {
            None
        };
        Ok(Settings {
            bind: o.bind,
            metrics_bind: o.metrics_bind,
            public_url_set,
            data_dir: storage.data_dir,
            database_url: storage.database_url,
            database: storage.tuning,
            redis_url: o.redis_url,
            redis_fail_open: match o.redis_fail.as_str() {
                "open" => true,
                "closed" => false,
                other => bail!("SEECRET_REDIS_FAIL must be open or closed, not {other:?}"),
            },
            redis_prefix: o.redis_prefix,
            trusted_proxies: seecret_core::geo::TrustedProxies::parse(
                o.trusted_proxies.as_deref().unwrap_or(""),
            )
            .context("SEECRET_TRUSTED_PROXIES")?,
            geoip_db: o.geoip_db,
            country_header: o.country_header,
            blob_store: o.blob_store.unwrap_or_default(),
            sweep_interval: o.sweep_interval.0,
            log: check_log_filter(o.log)?,
            log_format: o.log_format,
            audit_log: match o.audit_log.as_deref() {
                None | Some("") => None,
                Some("stdout" | "-") => Some(AuditTarget::Stdout),
                Some(path) => Some(AuditTarget::File(PathBuf::from(path))),
            },
            engine,
            header_timeout,
            http,
            sign_in,
            public_create,
        })
    }
}
