//! `seecret check-config`: resolves the settings through the very code `serve` uses, prints them
//! with their sources (secrets only said to be set), and checks what is cheap to check without
//! side effects: the data directory is writable, the database and Redis hosts accept a TCP
//! connection, the country database is readable. It opens no listener and runs no migration.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;

use crate::config::{ServeArgs, Settings};
use crate::vars::unknown_env_vars;

/// How long a reachability probe waits for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `seecret check-config`.
pub async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    // The embedded bots read their settings at start-up: validate them the same way.
    let slack = seecret_slack::SlackConfig::from_env(&settings.engine.public_url)?;
    let discord = seecret_discord::DiscordConfig::from_env()?;
    for r in args.describe()? {
        let name = r
            .var
            .unwrap_or_else(|| format!("--{}", r.id.replace('_', "-")));
        let value = match (r.value, r.secret_set) {
            (_, true) => "<redacted>".to_string(),
            (Some(v), false) => v,
            (None, false) => "<unset>".to_string(),
        };
        println!("{name} = {value}  ({})", r.source);
    }
    let bot_vars: Vec<String> = crate::bots::ENV_VARS
        .iter()
        .flat_map(|vars| vars.iter())
        .flat_map(|v| [v.to_string(), format!("{v}_FILE")])
        .filter(|v| std::env::var_os(v).is_some())
        .collect();
    for var in &bot_vars {
        // Bot settings include tokens: only whether they are set is shown.
        println!("{var} = <set>  (env {var})");
    }
    println!("database: {}", describe_url(settings.database_url.expose()));
    println!(
        "Slack app: {}; Discord bot: {}",
        if slack.is_some() { "on" } else { "off" },
        if discord.is_some() { "on" } else { "off" }
    );
    for var in unknown_env_vars() {
        eprintln!("warning: unknown SEECRET_* environment variable {var} is ignored (typo?)");
    }
    let problems = reachability(&settings).await;
    for p in &problems {
        eprintln!("seecret: {p}");
    }
    if !problems.is_empty() {
        bail!(
            "the configuration has {} problem(s), listed above",
            problems.len()
        );
    }
    println!("configuration OK");
    Ok(())
}

/// Scheme, host and port of a database URL: never its user, password or query.
fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "sqlite" => {
            format!("SQLite {}", url.trim_start_matches("sqlite://"))
        }
        Ok(u) => format!(
            "{} on {}:{}",
            u.scheme(),
            u.host_str().unwrap_or("(local socket)"),
            u.port()
                .map_or_else(|| "default port".into(), |p| p.to_string())
        ),
        Err(_) => "an unparsable URL".to_string(),
    }
}

/// What `serve` would stumble on at start-up, as sentences naming the setting.
async fn reachability(s: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    let url = s.database_url.expose();
    if url.starts_with("postgres") {
        if let Err(e) = connects(url, 5432).await {
            problems.push(format!("SEECRET_DATABASE_URL: the database server {e}"));
        }
    } else if let Err(e) = writable(&s.data_dir) {
        problems.push(format!(
            "SEECRET_DATA_DIR: {} is not a writable directory: {e}",
            s.data_dir.display()
        ));
    }
    if !s.blob_store.is_empty()
        && !s.blob_store.starts_with("s3://")
        && let Err(e) = writable(Path::new(&s.blob_store))
    {
        problems.push(format!(
            "SEECRET_BLOB_STORE: {} is not a writable directory: {e}",
            s.blob_store
        ));
    }
    if let Some(redis) = &s.redis_url
        && let Err(e) = connects(redis.expose(), 6379).await
    {
        problems.push(format!("SEECRET_REDIS_URL: the Redis server {e}"));
    }
    if let Some(db) = &s.geoip_db
        && let Err(e) = std::fs::File::open(db)
    {
        problems.push(format!("SEECRET_GEOIP_DB: {}: {e}", db.display()));
    }
    // Opened as `serve` opens it (created 0600 if missing, appended to): nothing is written.
    if let Some(target) = &s.audit_log
        && let Err(e) = crate::logging::AuditLog::open(target)
    {
        problems.push(format!("{e:#}"));
    }
    problems
}

/// Creates `dir` if missing (as `serve` would) and proves it takes a file.
fn writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".seecret-check-config-{}", std::process::id()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)
}

/// Whether the URL's host accepts a TCP connection (authentication is not tried: that would
/// need the driver's handshake, and `serve` reports it clearly at start).
async fn connects(url: &str, default_port: u16) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "URL does not parse".to_string())?;
    let Some(host) = parsed.host_str() else {
        // A Unix socket (host in the query): nothing cheap to probe.
        return Ok(());
    };
    let port = parsed.port().unwrap_or(default_port);
    let target = format!("{host}:{port}");
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| format!("{target} does not resolve: {e}"))?
        .collect();
    let mut last = format!("{target} does not resolve");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = format!("at {target} refuses connections: {e}"),
            Err(_) => last = format!("at {target} does not answer within {CONNECT_TIMEOUT:?}"),
        }
    }
    Err(last)
}
