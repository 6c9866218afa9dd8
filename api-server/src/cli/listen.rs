//! `seecret listen`: receives the account's webhooks, verifies their Standard Webhooks signature
//! and timestamp, and runs a command once per chosen event (rotation on read). The event's fields
//! go to the command in environment variables and its raw JSON on standard input, never in its
//! arguments. The server keeps retrying until the command succeeds: this answers 2xx only then.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Args;
use seecret_core::api::{EventPayload, event_type};
use seecret_core::crypto::WebhookSecret;
use tokio::io::AsyncWriteExt as _;
use tracing::{debug, info, warn};

/// Largest body accepted; events are a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;
/// Accepted clock difference, as the Standard Webhooks libraries do.
const TOLERANCE_SECS: u64 = 5 * 60;
/// Succeeded event ids remembered (in memory and in the state file).
const REMEMBERED: usize = 10_000;
/// The variables holding the webhook secret: read here, never passed to the command.
const SECRET_VARS: [&str; 2] = ["SEECRET_WEBHOOK_SECRET", "SEECRET_WEBHOOK_SECRET_FILE"];
/// Every event type the server sends.
const EVENT_TYPES: [&str; 6] = [
    event_type::VIEWED,
    event_type::CONSUMED,
    event_type::EXPIRED,
    event_type::DELETED,
    event_type::ACCESS_DENIED,
    event_type::REQUEST_ANSWERED,
];

/// `seecret listen`'s options. The webhook secret comes from `SEECRET_WEBHOOK_SECRET` or the file
/// `SEECRET_WEBHOOK_SECRET_FILE` names (never a flag: argv is visible to every local user).
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Address to listen on (the account's webhook URL points here).
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: SocketAddr,
    /// Program to run once per chosen event (run directly, no shell); fixed arguments go after `--`.
    #[arg(long, value_name = "PROGRAM")]
    exec: PathBuf,
    /// Fixed arguments for the program.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<OsString>,
    /// Event types that run the program, comma-separated; others are answered 2xx and ignored.
    #[arg(long, value_delimiter = ',', default_value = event_type::CONSUMED)]
    events: Vec<String>,
    /// Longest run of the program (30s, 2m…); on timeout its process group is killed and the
    /// delivery answered 5xx, so the server retries.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// File that keeps the ids of events whose program succeeded (the last 10 000), so a
    /// redelivery after a restart does not run it twice (default: kept in memory only).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

/// Why a delivery is refused before anything runs (401).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A Standard Webhooks header is absent or not text.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is more than five minutes from this machine's clock.
    #[error(
        "webhook-timestamp is more than 5 minutes from this machine's clock (replay, or clocks apart)"
    )]
    Stale,
    /// No signature in `webhook-signature` matches the secret.
    #[error("no webhook-signature matches the webhook secret")]
    Signature,
}

/// Checks a delivery as the Standard Webhooks libraries do: headers present, timestamp within
/// five minutes of `now`, one of the signatures made with `secret` (constant-time compare).
/// Returns the `webhook-id`.
pub fn verify<'h>(
    secret: &WebhookSecret,
    headers: &'h HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<&'h str, Refusal> {
    let get = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::Missing(name))
    };
    let id = get("webhook-id")?;
    let ts: i64 = get("webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    let signatures = get("webhook-signature")?;
    if now.abs_diff(ts) > TOLERANCE_SECS {
        return Err(Refusal::Stale);
    }
    if !secret.verify_standard(id, ts, signatures, body) {
        return Err(Refusal::Signature);
    }
    Ok(id)
}

/// Whether an event id can be a line of the state file and a log field as it is.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// The webhook secret from the environment, checked for shape; the error names the variables,
/// never the value.
fn webhook_secret() -> anyhow::Result<WebhookSecret> {
    let value = match std::env::var("SEECRET_WEBHOOK_SECRET") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
        _ => crate::config::from_file_var("SEECRET_WEBHOOK_SECRET")?.unwrap_or_default(),
    };
    if value.is_empty() {
        bail!(
            "no webhook secret: set SEECRET_WEBHOOK_SECRET (the whsec_… value the server returned \
             with the account's webhook URL) or SEECRET_WEBHOOK_SECRET_FILE (a file holding it)"
        );
    }
    use base64::Engine as _;
    let key = value.strip_prefix("whsec_").unwrap_or(&value);
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if bytes.len() >= 16 => Ok(WebhookSecret::from_stored(value)),
        _ => bail!(
            "the webhook secret (SEECRET_WEBHOOK_SECRET or SEECRET_WEBHOOK_SECRET_FILE) is not \
             whsec_ followed by the base64 of 16 bytes or more"
        ),
    }
}

/// Where `program` would be run from: itself when it names a path, else the first match in PATH.
fn resolve_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 || program.is_absolute() {
        return runnable(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| runnable(p))
}

/// The ids of events already handled, and those being handled right now.
#[derive(Debug, Default)]
struct Ledger {
    /// How many succeeded ids are kept.
    bound: usize,
    done: HashSet<String>,
    order: VecDeque<String>,
    running: HashSet<String>,
    file: Option<StateFile>,
}

/// The append-only state file: one succeeded event id a line, rewritten to the last
/// `bound` ids when it holds twice as many.
#[derive(Debug)]
struct StateFile {
    path: PathBuf,
    lines: usize,
}

impl Ledger {
    /// Loads the succeeded ids of the state file, if any (a missing file is an empty one).
    fn load(path: Option<PathBuf>, bound: usize) -> anyhow::Result<Self> {
        let mut ledger = Self {
            bound,
            ..Self::default()
        };
        let Some(path) = path else {
            return Ok(ledger);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("reading --state {}", path.display()));
            }
        };
        let mut lines = 0;
        for id in text.lines().filter(|l| plausible_id(l)) {
            lines += 1;
            ledger.remember(id);
        }
        let shown = path.display().to_string();
        ledger.file = Some(StateFile { path, lines });
        // Fail at start, not after the first rotation, when the file cannot be written.
        ledger
            .append(None)
            .with_context(|| format!("opening --state {} for writing", shown.escape_debug()))?;
        Ok(ledger)
    }

    fn remember(&mut self, id: &str) {
        if self.done.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > self.bound
                && let Some(old) = self.order.pop_front()
            {
                self.done.remove(&old);
            }
        }
    }

    /// Appends `id` (or only opens the file, with `None`) and compacts the file when due.
    fn append(&mut self, id: Option<&str>) -> std::io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file.path)?;
        let Some(id) = id else {
            return Ok(());
        };
        writeln!(f, "{id}")?;
        f.sync_data()?;
        file.lines += 1;
        if file.lines > 2 * self.bound {
            let tmp = file.path.with_extension("tmp");
            let mut out = std::fs::File::create(&tmp)?;
            for id in &self.order {
                writeln!(out, "{id}")?;
            }
            out.sync_all()?;
            std::fs::rename(&tmp, &file.path)?;
            file.lines = self.order.len();
        }
        Ok(())
    }

    /// Records a success: in memory, then in the state file.
    fn succeeded(&mut self, id: &str) {
        self.running.remove(id);
        self.remember(id);
        if let Err(e) = self.append(Some(id)) {
            warn!(event = id, error = %e, "could not record the event in the --state file: a redelivery after a restart would run the command again");
        }
    }
}

/// What one run of the command came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
}

#[derive(Debug)]
struct Listener {
    secret: WebhookSecret,
    program: PathBuf,
    args: Vec<OsString>,
    events: Vec<String>,
    timeout: Duration,
    ledger: Mutex<Ledger>,
}

fn answer(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// Runs `seecret listen` until Ctrl-C.
pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let secret = webhook_secret()?;
    for e in &args.events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            bail!(
                "--events: unknown event type {e:?}; the server sends {}",
                EVENT_TYPES.join(", ")
            );
        }
    }
    if args.timeout.is_zero() {
        bail!("--timeout must be more than 0");
    }
    let Some(program) = resolve_program(&args.exec) else {
        bail!(
            "--exec {}: no such executable file",
            args.exec.display().to_string().escape_debug()
        );
    };
    let ledger = Ledger::load(args.state.clone(), REMEMBERED)?;
    let remembered = ledger.done.len();
    let listener = Arc::new(Listener {
        secret,
        program,
        args: args.args,
        events: args.events,
        timeout: args.timeout,
        ledger: Mutex::new(ledger),
    });
    let socket = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("--bind {}", args.bind))?;
    let addr = socket.local_addr()?;
    let memory = match &args.state {
        Some(p) => format!(
            "event ids kept in {} ({remembered} known)",
            p.display().to_string().escape_debug()
        ),
        None => "event ids kept in memory only (--state FILE keeps them across restarts)".into(),
    };
    eprintln!(
        "seecret listen: listening on http://{addr}, running {} for {}; {memory}",
        args.exec.display().to_string().escape_debug(),
        listener.events.join(", "),
    );
    let app = axum::Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(listener);
    axum::serve(socket, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}

async fn receive(
    State(l): State<Arc<Listener>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED, "webhooks are POSTed");
    }
    let now = chrono::Utc::now().timestamp();
    let id = match verify(&l.secret, &headers, &body, now) {
        Ok(id) => id.to_string(),
        Err(refusal) => {
            warn!(%refusal, "delivery refused; nothing run");
            return answer(StatusCode::UNAUTHORIZED, &refusal.to_string());
        }
    };
    // Signed: from here on the body is the server's, but still checked before use.
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    if json["id"].as_str() != Some(id.as_str()) || !plausible_id(&id) {
        return answer(
            StatusCode::BAD_REQUEST,
            "the body's id is not the webhook-id header, or not an event id",
        );
    }
    let kind = json["type"].as_str().unwrap_or_default();
    if !l.events.iter().any(|e| e == kind) {
        debug!(event = %id, kind, "event type not chosen with --events; nothing run");
        return answer(StatusCode::OK, "event type not chosen; nothing run");
    }
    let event = match serde_json::from_value::<EventPayload>(json) {
        Ok(e) => e,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a Seecret event: {e}"),
            );
        }
    };
    {
        let Ok(mut ledger) = l.ledger.lock() else {
            return answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        };
        if ledger.done.contains(&id) {
            info!(event = %id, "already handled; not run again");
            return answer(StatusCode::OK, "already handled");
        }
        if !ledger.running.insert(id.clone()) {
            let wait = l.timeout.as_secs().max(1).to_string();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, wait)],
                "this event's command is still running\n",
            )
                .into_response();
        }
    }
    // Its own task: when the server gives up waiting and hangs up, the run still finishes and
    // is recorded, and a redelivery finds it.
    let task = {
        let l = l.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let outcome = run_command(&l, &event, body).await;
            if let Ok(mut ledger) = l.ledger.lock() {
                if outcome == Outcome::Succeeded {
                    ledger.succeeded(&event.id);
                } else {
                    ledger.running.remove(&event.id);
                }
            }
            outcome
        })
    };
    match task.await {
        Ok(Outcome::Succeeded) => answer(StatusCode::OK, "done"),
        Ok(Outcome::TimedOut) => answer(StatusCode::GATEWAY_TIMEOUT, "the command timed out"),
        _ => answer(StatusCode::INTERNAL_SERVER_ERROR, "the command failed"),
    }
}

/// The environment a run gets on top of listen's own (minus the webhook secret's variables).
fn event_env(event: &EventPayload, raw: &str) -> Vec<(&'static str, String)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        ("SEECRET_EVENT_ID", event.id.clone()),
        ("SEECRET_EVENT_TYPE", event.kind.clone()),
        (
            "SEECRET_EVENT_CREATED_AT",
            event
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        ("SEECRET_SECRET_ID", event.secret_id.to_string()),
        ("SEECRET_LABEL", opt(&event.label)),
        ("SEECRET_VIEWS", event.views.to_string()),
        ("SEECRET_VIEWS_REMAINING", event.views_remaining.to_string()),
        ("SEECRET_COUNTRY", opt(&event.country)),
        ("SEECRET_REASON", opt(&event.reason)),
        ("SEECRET_EVENT_JSON", raw.to_string()),
    ]
}

async fn run_command(l: &Listener, event: &EventPayload, body: Bytes) -> Outcome {
    let started = Instant::now();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let mut cmd = tokio::process::Command::new(&l.program);
    cmd.args(&l.args)
        .envs(event_env(event, &raw))
        .stdin(Stdio::piped())
        // Its own process group, so a timeout ends whatever it started too.
        .process_group(0);
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            warn!(event = %event.id, error = %e, "could not start the command");
            return Outcome::Failed;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input must not block the run.
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    let kind = event.kind.as_str();
    match tokio::time::timeout(l.timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            info!(event = %event.id, kind, %status, elapsed = ?started.elapsed(), "command succeeded");
            Outcome::Succeeded
        }
        Ok(Ok(status)) => {
            warn!(event = %event.id, kind, %status, "command failed; the delivery is answered 500 so the server retries");
            Outcome::Failed
        }
        Ok(Err(e)) => {
            warn!(event = %event.id, kind, error = %e, "waiting for the command failed");
            Outcome::Failed
        }
        Err(_) => {
            if let Some(pid) = child.id() {
                kill_group(pid).await;
            }
            let _ = child.kill().await;
            warn!(event = %event.id, kind, timeout = ?l.timeout, "command timed out; its process group was killed");
            Outcome::TimedOut
        }
    }
}

/// Kills the process group `pgid` (SIGKILL). Through kill(1): signalling a group from Rust needs
/// `unsafe` (forbidden here) or a crate this binary does not otherwise need.
async fn kill_group(pgid: u32) {
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !status.is_ok_and(|s| s.success()) {
        warn!(pgid, "could not kill the command's process group");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn signed(id: &str, ts: i64, body: &[u8], extra: &str) -> HeaderMap {
        let s = WebhookSecret::from_stored(SECRET.into());
        let mut h = HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        let sig = format!("{extra}{}", s.sign_standard(id, ts, body));
        h.insert("webhook-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn verification_accepts_only_a_fresh_matching_signature() {
        let s = WebhookSecret::from_stored(SECRET.into());
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        assert_eq!(
            verify(&s, &signed("evt_1", now, body, ""), body, now),
            Ok("evt_1")
        );
        // One of several signatures (a rotation's overlap) is enough, wherever it is.
        let h = signed("evt_1", now, body, "v1,AAAA v1a,xyz ");
        assert_eq!(verify(&s, &h, body, now), Ok("evt_1"));
        // Within five minutes either way, not beyond.
        assert!(verify(&s, &signed("evt_1", now - 300, body, ""), body, now).is_ok());
        assert!(verify(&s, &signed("evt_1", now + 300, body, ""), body, now).is_ok());
        for ts in [now - 301, now + 301, 0, i64::MIN, i64::MAX] {
            let h = signed("evt_1", ts, body, "");
            assert_eq!(verify(&s, &h, body, now), Err(Refusal::Stale));
        }
        // Another body, id or secret: refused.
        let h = signed("evt_1", now, body, "");
        assert_eq!(
            verify(&s, &h, br#"{"id":"evt_2"}"#, now),
            Err(Refusal::Signature)
        );
        let mut other_id = h.clone();
        other_id.insert("webhook-id", "evt_2".parse().unwrap());
        assert_eq!(verify(&s, &other_id, body, now), Err(Refusal::Signature));
        let other = WebhookSecret::from_stored("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
        assert_eq!(verify(&other, &h, body, now), Err(Refusal::Signature));
        // The signature with its "v1," dropped, or only a prefix of it: refused.
        let full = h["webhook-signature"].to_str().unwrap().to_string();
        for sig in [&full[3..], &full[..full.len() - 2], "v1,", " "] {
            let mut bad = h.clone();
            bad.insert("webhook-signature", sig.parse().unwrap());
            assert!(verify(&s, &bad, body, now).is_err(), "{sig:?}");
        }
    }

    #[test]
    fn verification_names_the_missing_or_malformed_header() {
        let s = WebhookSecret::from_stored(SECRET.into());
        let now = 1_800_000_000;
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut h = signed("evt_1", now, b"{}", "");
            h.remove(name);
            assert_eq!(verify(&s, &h, b"{}", now), Err(Refusal::Missing(name)));
        }
        for ts in ["12.5", "soon", "-", "99999999999999999999"] {
            let mut h = signed("evt_1", now, b"{}", "");
            h.insert("webhook-timestamp", ts.parse().unwrap());
            assert_eq!(verify(&s, &h, b"{}", now), Err(Refusal::BadTimestamp));
        }
        // The refusal never carries the secret or the expected signature.
        let h = signed("evt_1", now, b"{}", "");
        let expected = h["webhook-signature"].to_str().unwrap().to_string();
        let msg = verify(&s, &h, b"{ }", now).unwrap_err().to_string();
        assert!(
            !msg.contains("MfKQ") && !msg.contains(&expected[3..]),
            "{msg}"
        );
    }

    #[test]
    fn event_ids_that_could_break_the_state_file_are_refused() {
        assert!(plausible_id("evt_01a2236f0b5d7c1e9a4b2f6d8e0c3a57"));
        for id in ["", "a\nb", "a b", "évt", &"x".repeat(201)] {
            assert!(!plausible_id(id), "{id:?}");
        }
    }

    #[test]
    fn the_state_file_survives_a_restart_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut ledger = Ledger::load(Some(path.clone()), 50).unwrap();
        ledger.running.insert("evt_a".into());
        ledger.succeeded("evt_a");
        assert!(ledger.running.is_empty());
        let again = Ledger::load(Some(path.clone()), 50).unwrap();
        assert!(again.done.contains("evt_a"));
        // Past the bound: the oldest ids go, the file is compacted, the newest stay.
        let mut ledger = again;
        for i in 0..(2 * 50 + 5) {
            ledger.succeeded(&format!("evt_{i}"));
        }
        assert_eq!(ledger.done.len(), 50);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 2 * 50, "{lines}");
        let reloaded = Ledger::load(Some(path), 50).unwrap();
        assert!(reloaded.done.contains(&format!("evt_{}", 2 * 50 + 4)));
        assert!(!reloaded.done.contains("evt_a"));
        assert_eq!(reloaded.done.len(), 50);
    }

    #[test]
    fn an_unwritable_state_file_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = Ledger::load(Some(dir.path().join("no/such/dir/state")), 50).unwrap_err();
        assert!(format!("{err:#}").contains("no/such/dir/state"), "{err:#}");
    }

    #[test]
    fn the_event_reaches_the_command_as_variables() {
        let raw = r#"{"id":"evt_1","type":"seecret.consumed","created_at":"2026-11-28T16:40:00.123Z",
            "secret_id":"01a2236f-0b5d-7c1e-9a4b-2f6d8e0c3a57","label":"pg-role:app","views":1,
            "views_remaining":0,"country":null}"#;
        let event: EventPayload = serde_json::from_str(raw).unwrap();
        let env: std::collections::HashMap<_, _> = event_env(&event, raw).into_iter().collect();
        assert_eq!(env["SEECRET_EVENT_TYPE"], "seecret.consumed");
        assert_eq!(env["SEECRET_EVENT_CREATED_AT"], "2026-11-28T16:40:00.123Z");
        assert_eq!(
            env["SEECRET_SECRET_ID"],
            "01a2236f-0b5d-7c1e-9a4b-2f6d8e0c3a57"
        );
        assert_eq!(env["SEECRET_LABEL"], "pg-role:app");
        assert_eq!(env["SEECRET_VIEWS_REMAINING"], "0");
        assert_eq!(env["SEECRET_COUNTRY"], "");
        assert_eq!(env["SEECRET_EVENT_JSON"], raw);
    }
}
