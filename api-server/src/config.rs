//! Server settings, layered: built-in defaults < TOML file (`--config`) < `SEECRET_*` environment
//! < command-line flags. Secret-bearing settings may also come from a file named by `<VAR>_FILE`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use seecret_core::engine::EngineConfig;
use seecret_core::model::Expiration;
use seecret_core::webhook::{PrivateAllowList, WebhookConfig};
use serde::Deserialize;

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

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Hidden {
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

/// Where the data lives; shared by `serve` and the `account` commands.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArgs {
    /// TOML configuration file.
    #[arg(long, env = "SEECRET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and local files.
    #[arg(long, env = "SEECRET_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://… (default: SQLite file in the data dir).
    #[arg(
        long,
        env = "SEECRET_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<Hidden>,
}

/// Flags of `seecret serve`; each has an environment variable.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Address to listen on.
    #[arg(long, env = "SEECRET_BIND")]
    pub bind: Option<SocketAddr>,
    /// Base URL of share links (default http://{bind}).
    #[arg(long, env = "SEECRET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests per minute per account (0: unlimited).
    #[arg(long, env = "SEECRET_RATE_LIMIT_PER_MINUTE")]
    pub rate_limit_per_minute: Option<u32>,
    /// Requests per minute per client address on reveal endpoints and pages (0: unlimited).
    #[arg(long, env = "SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE")]
    pub reveal_rate_limit_per_minute: Option<u32>,
    /// Passphrase hashes and checks (Argon2) running at once; more answer 503 (default: cores).
    #[arg(long, env = "SEECRET_ARGON2_CONCURRENCY")]
    pub argon2_concurrency: Option<usize>,
    /// Longest expiration accepted (e.g. 30d).
    #[arg(long, env = "SEECRET_MAX_EXPIRATION")]
    pub max_expiration: Option<Expiration>,
    /// Shortest expiration accepted (e.g. 1m).
    #[arg(long, env = "SEECRET_MIN_EXPIRATION")]
    pub min_expiration: Option<Expiration>,
    /// Most views a secret may allow.
    #[arg(long, env = "SEECRET_MAX_VIEWS")]
    pub max_views: Option<u32>,
    /// Largest text secret in bytes.
    #[arg(long, env = "SEECRET_MAX_TEXT_SIZE")]
    pub max_text_size: Option<usize>,
    /// Largest file in bytes.
    #[arg(long, env = "SEECRET_MAX_FILE_SIZE")]
    pub max_file_size: Option<u64>,
    /// Where file ciphertext goes: a directory (default <data-dir>/blobs) or s3://bucket/prefix.
    #[arg(long, env = "SEECRET_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// How long metadata of ended secrets is kept (e.g. 30d).
    #[arg(long, env = "SEECRET_RETENTION")]
    pub retention: Option<Expiration>,
    /// How often expired secrets are swept (e.g. 60s, 500ms).
    #[arg(long, env = "SEECRET_SWEEP_INTERVAL", value_parser = humantime::parse_duration)]
    pub sweep_interval: Option<Duration>,
    /// Age past which the sweeper removes blobs no secret names and leftovers of interrupted
    /// uploads (default 1h; longer than any upload takes).
    #[arg(long, env = "SEECRET_LEFTOVER_AGE", value_parser = humantime::parse_duration)]
    pub leftover_age: Option<Duration>,
    /// Tracing filter (e.g. info, seecret=debug).
    #[arg(long, env = "SEECRET_LOG")]
    pub log: Option<String>,
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
    /// When Redis is unreachable: `open` lets requests through, `closed` refuses them.
    #[arg(long, env = "SEECRET_REDIS_FAIL")]
    pub redis_fail: Option<String>,
    /// Prefix of the rate-limit keys in Redis.
    #[arg(long, env = "SEECRET_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,
    /// Private CIDRs and host names webhooks may reach anyway, comma-separated
    /// (e.g. 10.0.0.0/8,hooks.internal; 0.0.0.0/0,::/0 for every address).
    #[arg(long, env = "SEECRET_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: Option<String>,
    /// Delays between webhook attempts, e.g. 5s,30s,2m,10m,1h,6h.
    #[arg(long, env = "SEECRET_WEBHOOK_RETRY_SCHEDULE")]
    pub webhook_retry_schedule: Option<String>,
    /// Timeout of one webhook attempt (e.g. 10s).
    #[arg(long, env = "SEECRET_WEBHOOK_TIMEOUT", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Option<Duration>,
    /// Webhook deliveries in flight at once.
    #[arg(long, env = "SEECRET_WEBHOOK_CONCURRENCY")]
    pub webhook_concurrency: Option<usize>,
    /// Webhook deliveries of one account in flight at once, across instances.
    #[arg(long, env = "SEECRET_WEBHOOK_ACCOUNT_CONCURRENCY")]
    pub webhook_account_concurrency: Option<usize>,
    /// How long the previous webhook secret still signs after a rotation (e.g. 24h).
    #[arg(long, env = "SEECRET_WEBHOOK_SECRET_OVERLAP", value_parser = humantime::parse_duration)]
    pub webhook_secret_overlap: Option<Duration>,
    /// Time a client has to send a request's headers before its connection is closed (e.g. 10s).
    #[arg(long, env = "SEECRET_HEADER_TIMEOUT", value_parser = humantime::parse_duration)]
    pub header_timeout: Option<Duration>,
    /// Deadline of a request, except authenticated file uploads (e.g. 60s).
    #[arg(long, env = "SEECRET_REQUEST_TIMEOUT", value_parser = humantime::parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Deadline of an authenticated file upload (e.g. 15m).
    #[arg(long, env = "SEECRET_UPLOAD_TIMEOUT", value_parser = humantime::parse_duration)]
    pub upload_timeout: Option<Duration>,
    /// Requests handled at once; past it the server answers 503 with Retry-After.
    #[arg(long, env = "SEECRET_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Failed authentications a minute per client address before 429 (0: unlimited).
    #[arg(long, env = "SEECRET_AUTH_FAILURES_PER_MINUTE")]
    pub auth_failures_per_minute: Option<u32>,
}

/// The TOML file: the same settings as the flags, snake_case.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Hidden>,
    public_url: Option<String>,
    rate_limit_per_minute: Option<u32>,
    reveal_rate_limit_per_minute: Option<u32>,
    max_expiration: Option<Expiration>,
    min_expiration: Option<Expiration>,
    max_views: Option<u32>,
    max_text_size: Option<usize>,
    max_file_size: Option<u64>,
    blob_store: Option<String>,
    retention: Option<Expiration>,
    #[serde(default, with = "humantime_serde_opt")]
    sweep_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    leftover_age: Option<Duration>,
    log: Option<String>,
    redis_url: Option<Hidden>,
    redis_fail: Option<String>,
    redis_prefix: Option<String>,
    trusted_proxies: Option<String>,
    geoip_db: Option<PathBuf>,
    country_header: Option<String>,
    #[serde(default, deserialize_with = "list_or_bool")]
    webhook_allow_private: Option<String>,
    webhook_retry_schedule: Option<String>,
    #[serde(default, with = "humantime_serde_opt")]
    webhook_timeout: Option<Duration>,
    webhook_concurrency: Option<usize>,
    webhook_account_concurrency: Option<usize>,
    #[serde(default, with = "humantime_serde_opt")]
    webhook_secret_overlap: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    header_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    request_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    upload_timeout: Option<Duration>,
    max_in_flight: Option<usize>,
    auth_failures_per_minute: Option<u32>,
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

mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// Whether the public URL was configured (otherwise it follows the bound address).
    pub public_url_set: bool,
    pub data_dir: PathBuf,
    pub database_url: Hidden,
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
    pub engine: EngineConfig,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Deadlines, in-flight cap, failed-authentication limit.
    pub http: crate::http::HttpLimits,
}

/// Every `SEECRET_*` variable the server or CLI reads; others get a warning (likely a typo).
pub const KNOWN_ENV: &[&str] = &[
    "SEECRET_CONFIG",
    "SEECRET_DATA_DIR",
    "SEECRET_DATABASE_URL",
    "SEECRET_DATABASE_URL_FILE",
    "SEECRET_BIND",
    "SEECRET_PUBLIC_URL",
    "SEECRET_RATE_LIMIT_PER_MINUTE",
    "SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE",
    "SEECRET_ARGON2_CONCURRENCY",
    "SEECRET_MAX_EXPIRATION",
    "SEECRET_MIN_EXPIRATION",
    "SEECRET_MAX_VIEWS",
    "SEECRET_MAX_TEXT_SIZE",
    "SEECRET_MAX_FILE_SIZE",
    "SEECRET_BLOB_STORE",
    "SEECRET_RETENTION",
    "SEECRET_SWEEP_INTERVAL",
    "SEECRET_LEFTOVER_AGE",
    "SEECRET_LOG",
    "SEECRET_REDIS_URL",
    "SEECRET_REDIS_URL_FILE",
    "SEECRET_REDIS_FAIL",
    "SEECRET_REDIS_PREFIX",
    "SEECRET_TRUSTED_PROXIES",
    "SEECRET_GEOIP_DB",
    "SEECRET_COUNTRY_HEADER",
    "SEECRET_WEBHOOK_ALLOW_PRIVATE",
    "SEECRET_WEBHOOK_RETRY_SCHEDULE",
    "SEECRET_WEBHOOK_TIMEOUT",
    "SEECRET_WEBHOOK_CONCURRENCY",
    "SEECRET_WEBHOOK_ACCOUNT_CONCURRENCY",
    "SEECRET_WEBHOOK_SECRET_OVERLAP",
    "SEECRET_HEADER_TIMEOUT",
    "SEECRET_REQUEST_TIMEOUT",
    "SEECRET_UPLOAD_TIMEOUT",
    "SEECRET_MAX_IN_FLIGHT",
    "SEECRET_AUTH_FAILURES_PER_MINUTE",
    "SEECRET_SQLITE_SYNCHRONOUS",
    "SEECRET_SERVER",
    "SEECRET_TOKEN",
    "SEECRET_TOKEN_FILE",
    "SEECRET_PASSPHRASE",
];

/// Names of `SEECRET_*` variables in the environment that nothing reads.
pub fn unknown_env_vars() -> Vec<String> {
    std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("SEECRET_") && !is_known(k))
        .collect()
}

fn is_known(var: &str) -> bool {
    let base = var.strip_suffix("_FILE").unwrap_or(var);
    KNOWN_ENV.contains(&var)
        || crate::bots::ENV_VARS
            .iter()
            .flat_map(|vars| vars.iter())
            .any(|v| *v == var || *v == base)
}

/// Reads `<var>_FILE` if set: how container secrets are usually mounted.
pub fn from_file_var(var: &str) -> anyhow::Result<Option<String>> {
    match std::env::var_os(format!("{var}_FILE")) {
        None => Ok(None),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {var}_FILE ({})", Path::new(&path).display()))?;
            Ok(Some(text.trim().to_string()))
        }
    }
}

fn read_file_config(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

impl StorageArgs {
    /// Data directory and database URL after layering.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, Hidden)> {
        let file = read_file_config(self.config.as_deref())?;
        resolve_storage(self, &file)
    }
}

fn resolve_storage(args: &StorageArgs, file: &FileConfig) -> anyhow::Result<(PathBuf, Hidden)> {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./seecret-data"));
    let database_url = match (&args.database_url, from_file_var("SEECRET_DATABASE_URL")?) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => u.into(),
        (None, None) => match &file.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", data_dir.join("seecret.db").display()).into(),
        },
    };
    Ok((data_dir, database_url))
}

impl ServeArgs {
    /// Resolves every setting and validates it.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = read_file_config(self.storage.config.as_deref())?;
        let (data_dir, database_url) = resolve_storage(&self.storage, &file)?;
        let d = EngineConfig::default();
        let bind = self
            .bind
            .or(file.bind)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = self.public_url.clone().or(file.public_url);
        let public_url_set = public_url.is_some();
        if let Some(public_url) = &public_url {
            let parsed = url::Url::parse(public_url)
                .with_context(|| format!("SEECRET_PUBLIC_URL {public_url:?} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
                bail!("SEECRET_PUBLIC_URL must be an http(s) URL without a fragment");
            }
        }
        let engine = EngineConfig {
            // Without a public URL, links use the address actually bound (see `serve`).
            public_url: public_url
                .unwrap_or_else(|| format!("http://{bind}"))
                .trim_end_matches('/')
                .to_string(),
            max_expiration: self
                .max_expiration
                .or(file.max_expiration)
                .unwrap_or(d.max_expiration),
            leftover_age: self
                .leftover_age
                .or(file.leftover_age)
                .unwrap_or(d.leftover_age),
            min_expiration: self
                .min_expiration
                .or(file.min_expiration)
                .unwrap_or(d.min_expiration),
            max_views: self.max_views.or(file.max_views).unwrap_or(d.max_views),
            max_text_bytes: self
                .max_text_size
                .or(file.max_text_size)
                .unwrap_or(d.max_text_bytes),
            max_file_bytes: self
                .max_file_size
                .or(file.max_file_size)
                .unwrap_or(d.max_file_bytes),
            retention: self
                .retention
                .or(file.retention)
                .map(Expiration::duration)
                .unwrap_or(d.retention),
            rate_limit_per_minute: self
                .rate_limit_per_minute
                .or(file.rate_limit_per_minute)
                .unwrap_or(d.rate_limit_per_minute),
            reveal_rate_limit_per_minute: self
                .reveal_rate_limit_per_minute
                .or(file.reveal_rate_limit_per_minute)
                .unwrap_or(d.reveal_rate_limit_per_minute),
            webhooks: {
                let w = d.webhooks.clone();
                WebhookConfig {
                    allow_private: match self
                        .webhook_allow_private
                        .clone()
                        .or(file.webhook_allow_private)
                    {
                        Some(list) => list
                            .parse::<PrivateAllowList>()
                            .context("SEECRET_WEBHOOK_ALLOW_PRIVATE")?,
                        None => w.allow_private.clone(),
                    },
                    retry_schedule: match self
                        .webhook_retry_schedule
                        .clone()
                        .or(file.webhook_retry_schedule)
                    {
                        Some(s) => seecret_core::webhook::parse_schedule(&s)
                            .context("SEECRET_WEBHOOK_RETRY_SCHEDULE")?,
                        None => w.retry_schedule,
                    },
                    timeout: self
                        .webhook_timeout
                        .or(file.webhook_timeout)
                        .unwrap_or(w.timeout),
                    concurrency: self
                        .webhook_concurrency
                        .or(file.webhook_concurrency)
                        .unwrap_or(w.concurrency)
                        .max(1),
                    per_account: self
                        .webhook_account_concurrency
                        .or(file.webhook_account_concurrency)
                        .unwrap_or(w.per_account),
                    secret_overlap: self
                        .webhook_secret_overlap
                        .or(file.webhook_secret_overlap)
                        .unwrap_or(w.secret_overlap),
                    ..w
                }
                .with_lease_from_timeout()
            },
            argon2_concurrency: match self.argon2_concurrency {
                Some(0) => bail!("SEECRET_ARGON2_CONCURRENCY must be at least 1"),
                Some(n) => n,
                None => d.argon2_concurrency,
            },
            geo_available: self.geoip_db.is_some()
                || file.geoip_db.is_some()
                || self.country_header.is_some()
                || file.country_header.is_some(),
            ..d
        };
        if engine.min_expiration > engine.max_expiration {
            bail!("SEECRET_MIN_EXPIRATION is above SEECRET_MAX_EXPIRATION");
        }
        if engine.max_views == 0 {
            bail!("SEECRET_MAX_VIEWS must be at least 1");
        }
        let h = crate::http::HttpLimits::default();
        let http = crate::http::HttpLimits {
            request_timeout: self
                .request_timeout
                .or(file.request_timeout)
                .unwrap_or(h.request_timeout),
            upload_timeout: self
                .upload_timeout
                .or(file.upload_timeout)
                .unwrap_or(h.upload_timeout),
            max_in_flight: self
                .max_in_flight
                .or(file.max_in_flight)
                .unwrap_or(h.max_in_flight),
            auth_failures_per_minute: self
                .auth_failures_per_minute
                .or(file.auth_failures_per_minute)
                .unwrap_or(h.auth_failures_per_minute),
        };
        let header_timeout = self
            .header_timeout
            .or(file.header_timeout)
            .unwrap_or(Duration::from_secs(10));
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
        Ok(Settings {
            bind,
            public_url_set,
            data_dir,
            database_url,
            redis_url: match (&self.redis_url, from_file_var("SEECRET_REDIS_URL")?) {
                (Some(u), _) => Some(u.clone()),
                (None, Some(u)) => Some(u.into()),
                (None, None) => file.redis_url.clone(),
            },
            redis_fail_open: match self
                .redis_fail
                .as_deref()
                .or(file.redis_fail.as_deref())
                .unwrap_or("open")
            {
                "open" => true,
                "closed" => false,
                other => bail!("SEECRET_REDIS_FAIL must be open or closed, not {other:?}"),
            },
            redis_prefix: self
                .redis_prefix
                .clone()
                .or(file.redis_prefix.clone())
                .unwrap_or_else(|| "seecret".into()),
            trusted_proxies: seecret_core::geo::TrustedProxies::parse(
                self.trusted_proxies
                    .as_deref()
                    .or(file.trusted_proxies.as_deref())
                    .unwrap_or(""),
            )
            .context("SEECRET_TRUSTED_PROXIES")?,
            geoip_db: self.geoip_db.clone().or(file.geoip_db),
            country_header: self.country_header.clone().or(file.country_header),
            blob_store: self
                .blob_store
                .clone()
                .or(file.blob_store)
                .unwrap_or_default(),
            sweep_interval: self
                .sweep_interval
                .or(file.sweep_interval)
                .unwrap_or(Duration::from_secs(60)),
            log: self
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".into()),
            engine,
            header_timeout,
            http,
        })
    }
}

/// The default configuration as a TOML file, for `seecret print-default-config`.
pub fn default_toml() -> String {
    let d = EngineConfig::default();
    format!(
        r#"# Seecret server configuration. Precedence: defaults < this file < SEECRET_* env < flags.
bind = "127.0.0.1:8080"
data_dir = "./seecret-data"
# database_url = "sqlite://./seecret-data/seecret.db"   # or postgres://user@host/db
# public_url = "https://secrets.example.com"            # default: http://{{bind}}
rate_limit_per_minute = {}
reveal_rate_limit_per_minute = {}
max_expiration = "{}"
min_expiration = "{}"
max_views = {}
max_text_size = {}
max_file_size = {}
# blob_store = "s3://bucket/prefix"   # default: <data_dir>/blobs; S3 uses the AWS_* variables
retention = "{}"
sweep_interval = "60s"
leftover_age = "1h"
log = "info"
webhook_allow_private = ""   # CIDRs and host names, e.g. "10.0.0.0/8,hooks.internal"
webhook_retry_schedule = "5s,30s,2m,10m,1h,6h"
webhook_timeout = "10s"
webhook_concurrency = 16
webhook_account_concurrency = 4
webhook_secret_overlap = "24h"
header_timeout = "10s"
request_timeout = "60s"
upload_timeout = "15m"
max_in_flight = 1024
auth_failures_per_minute = 30
"#,
        d.rate_limit_per_minute,
        d.reveal_rate_limit_per_minute,
        d.max_expiration,
        d.min_expiration,
        d.max_views,
        d.max_text_bytes,
        d.max_file_bytes,
        Expiration::from_duration(d.retention),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("seecret-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "max_views = 7\nrate_limit_per_minute = 5\nbind = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            storage: StorageArgs {
                config: Some(file),
                ..StorageArgs::default()
            },
            rate_limit_per_minute: Some(9),
            ..ServeArgs::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.engine.max_views, 7, "file beats default");
        assert_eq!(s.engine.rate_limit_per_minute, 9, "flag beats file");
        assert_eq!(s.engine.public_url, "http://127.0.0.1:9999");
        assert_eq!(s.engine.max_expiration.to_string(), "30d");
        let default: FileConfig = toml::from_str(&default_toml()).unwrap();
        assert_eq!(default.max_views, Some(100));
    }
}
