//! `seecret listen` and `integrations/rotate-postgres/rotate.sh`, end to end: a real server
//! delivers signed webhooks to a real `seecret listen`, which runs the real script against this
//! machine's PostgreSQL; and the listener's contract (signatures, de-duplication, retries,
//! timeouts, what the command gets) probed with a recording script.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seecret_core::crypto::WebhookSecret;
use seecret_tests::{
    KillOnDrop, Server, ServerOptions, eventually, free_port, http, repo_path, rpc, run,
    seecret_bin,
};
use serde_json::{Value, json};

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn psql(sql: &str) -> String {
    let (code, out, err) = run(
        Command::new("psql").args([PG, "-X", "-v", "ON_ERROR_STOP=1", "-qAtc", sql]),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "psql {sql}: {err}");
    out.trim().to_string()
}

/// A login role with a random name, dropped when the test ends, pass or fail.
struct Role(String);

impl Role {
    fn create(password: &str) -> Self {
        let name = format!(
            "seecret_rot_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        psql(&format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"));
        Self(name)
    }

    /// `pg_authid.rolpassword`: the SCRAM-SHA-256 verifier PostgreSQL checks logins against.
    fn verifier(&self) -> String {
        psql(&format!(
            "SELECT rolpassword FROM pg_authid WHERE rolname = '{}'",
            self.0
        ))
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = run(
            Command::new("psql").args([PG, "-qAtc", &format!("DROP ROLE IF EXISTS {}", self.0)]),
            Duration::from_secs(30),
        );
    }
}

/// Whether `password` logs in against a `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`
/// verifier (RFC 5802/7677: StoredKey = SHA-256(HMAC(PBKDF2(password, salt, iter), "Client Key"))).
fn scram_accepts(verifier: &str, password: &str) -> bool {
    use base64::Engine as _;
    use hmac::Mac as _;
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rest = verifier
        .strip_prefix("SCRAM-SHA-256$")
        .unwrap_or_else(|| panic!("not a SCRAM verifier: {verifier}"));
    let (params, keys) = rest.split_once('$').unwrap();
    let (iterations, salt) = params.split_once(':').unwrap();
    let (stored, server) = keys.split_once(':').unwrap();
    let mut salted = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations.parse().unwrap(),
        &b64.decode(salt).unwrap(),
        password.as_bytes(),
        &mut salted,
    );
    let hmac = |msg: &[u8]| {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&salted).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    };
    sha2::Sha256::digest(hmac(b"Client Key")).to_vec() == b64.decode(stored).unwrap()
        && hmac(b"Server Key") == b64.decode(server).unwrap()
}

/// A running `seecret listen`; its stderr is collected.
struct Listen {
    child: KillOnDrop,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Listen {
    fn start_on(port: u16, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(seecret_bin());
        cmd.arg("listen")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env_remove("SEECRET_WEBHOOK_SECRET")
            .env_remove("SEECRET_TOKEN")
            .env("SEECRET_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = KillOnDrop(cmd.spawn().unwrap());
        let stderr = child.0.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let w = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut l = w.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if line.contains("listening on http://") {
                    let _ = tx.send(line);
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(10)).is_err() {
            panic!("seecret listen did not start:\n{}", log.lock().unwrap());
        }
        Self { child, port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// POSTs `body` signed by `secret` at time `ts`.
    async fn post(&self, secret: &str, id: &str, ts: i64, body: &[u8]) -> reqwest::Response {
        post(&self.url(), secret, id, ts, body).await
    }
}

/// POSTs `body` to `url` with Standard Webhooks headers signed by `secret` at time `ts`.
async fn post(url: &str, secret: &str, id: &str, ts: i64, body: &[u8]) -> reqwest::Response {
    let sig = WebhookSecret::from_stored(secret.into()).sign_standard(id, ts, body);
    http()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn server() -> Server {
    Server::start_with(
        ServerOptions::default()
            .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
            .env(
                "SEECRET_WEBHOOK_RETRY_SCHEDULE",
                "300ms,300ms,300ms,300ms,300ms",
            )
            .env("SEECRET_WEBHOOK_TIMEOUT", "10s"),
    )
}

/// Points the account's webhook at `url`; returns the signing secret.
async fn account_webhook(server: &Server, url: &str) -> String {
    let (s, _, acct) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "update_account", "webhook_url": url}),
    )
    .await;
    assert_eq!(s, 200, "{acct}");
    acct["webhook_secret"].as_str().unwrap().to_string()
}

/// Creates a secret (sealed by the server) and reveals it once; returns the created answer.
async fn share_and_reveal(server: &Server, content: &str, label: &str) -> Value {
    let (s, _, created) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "create_seecret", "content": content, "label": label}),
    )
    .await;
    assert_eq!(s, 200, "{created}");
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let (s, _, _) = rpc(
        &server.base,
        None,
        json!({"operation": "reveal_seecret", "id": created["id"], "key": key}),
    )
    .await;
    assert_eq!(s, 200);
    created
}

/// The secret's delivery of `kind` once it is settled (`delivered` or `failed`).
async fn settled_delivery(server: &Server, id: &Value, kind: &str, attempts: u64) -> Value {
    eventually(Duration::from_secs(20), || async {
        let (_, _, s) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "get_seecret", "id": id}),
        )
        .await;
        s["webhook_deliveries"]
            .as_array()?
            .iter()
            .find(|d| {
                d["type"] == kind
                    && d["state"] != "pending"
                    && d["attempts"].as_u64() >= Some(attempts)
            })
            .cloned()
    })
    .await
    .unwrap_or_else(|| panic!("no settled {kind} delivery with {attempts}+ attempts"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn consuming_a_pg_role_credential_rotates_the_role_and_shares_the_new_password_once() {
    let initial = format!("Init{}", uuid::Uuid::new_v4().simple());
    let role = Role::create(&initial);
    assert!(scram_accepts(&role.verifier(), &initial));
    let server = server();
    let port = free_port();
    let secret = account_webhook(&server, &format!("http://127.0.0.1:{port}/hook")).await;
    let dir = tempfile::tempdir().unwrap();
    let links = dir.path().join("links");
    let state = dir.path().join("state");
    let script = repo_path("integrations/rotate-postgres/rotate.sh");
    let bin = seecret_bin();
    let env = [
        ("SEECRET_WEBHOOK_SECRET", secret.as_str()),
        ("SEECRET_SERVER", server.base.as_str()),
        ("SEECRET_TOKEN", server.token()),
        ("SEECRET_BIN", bin.to_str().unwrap()),
        ("PGHOST", "127.0.0.1"),
        ("PGUSER", "postgres"),
        ("PGDATABASE", "test"),
        ("ROTATE_LINKS_FILE", links.to_str().unwrap()),
    ];
    let args = [
        "--exec",
        script.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    let started = Instant::now();
    let mut listen = Listen::start_on(port, &args, &env);
    assert!(
        listen.log().contains("running ") && listen.log().contains("for seecret.consumed"),
        "{}",
        listen.log()
    );

    // Forgeries run nothing: another secret's signature, no signature, a replayed old one.
    let forged = serde_json::to_vec(&json!({
        "id": "evt_forged", "type": "seecret.consumed", "created_at": "2026-12-01T00:00:00Z",
        "secret_id": uuid::Uuid::new_v4(), "label": format!("pg-role:{}", role.0),
        "views": 1, "views_remaining": 0, "country": null}))
    .unwrap();
    let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let r = listen.post(other, "evt_forged", now(), &forged).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("webhook-signature"));
    let r = http()
        .post(listen.url())
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = listen
        .post(&secret, "evt_forged", now() - 600, &forged)
        .await;
    assert_eq!(r.status(), 401, "a replay older than 5 minutes");
    assert!(!links.exists() || std::fs::read_to_string(&links).unwrap().is_empty());
    assert!(scram_accepts(&role.verifier(), &initial), "nothing ran");

    // The credential is read: the role gets a new password, shared as a new link.
    let shared = share_and_reveal(&server, &initial, &format!("pg-role:{}", role.0)).await;
    let line = eventually(Duration::from_secs(20), || async {
        std::fs::read_to_string(&links)
            .ok()
            .filter(|l| !l.is_empty())
    })
    .await
    .unwrap_or_else(|| panic!("no new link; listen said:\n{}", listen.log()));
    let rotated_in = started.elapsed();
    let fields: Vec<&str> = line.trim().split(' ').collect();
    assert_eq!((fields.len(), fields[1]), (3, role.0.as_str()), "{line}");
    let link = fields[2];
    assert_eq!(
        std::fs::metadata(&links).unwrap().permissions().mode() & 0o777,
        0o600,
        "the links file is the owner's only"
    );
    let (code, new_password, err) = run(
        Command::new(seecret_bin()).arg("reveal").arg(link),
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{err}");
    let verifier = role.verifier();
    assert!(
        scram_accepts(&verifier, &new_password),
        "the shared password is the role's"
    );
    assert!(
        !scram_accepts(&verifier, &initial),
        "the old one no longer is"
    );
    assert_eq!(new_password.len(), 32);
    assert!(new_password.chars().all(|c| c.is_ascii_alphanumeric()));
    let delivery = settled_delivery(&server, &shared["id"], "seecret.consumed", 1).await;
    assert_eq!(
        (delivery["state"].as_str(), delivery["attempts"].as_u64()),
        (Some("delivered"), Some(1))
    );

    // The new link's label does not name a role: reading it rotated nothing more.
    let (_, _, list) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "list_seecrets"}),
    )
    .await;
    let relabelled = list["seecrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == format!("rotated pg-role:{}", role.0))
        .cloned()
        .expect("the new link is labelled 'rotated pg-role:NAME'");
    settled_delivery(&server, &relabelled["id"], "seecret.consumed", 1).await;
    assert_eq!(role.verifier(), verifier);

    // Restarted on the same --state, the listener answers a redelivery without rotating again.
    listen.child.kill();
    let listen = Listen::start_on(port, &args, &env);
    assert!(listen.log().contains("(2 known)"), "{}", listen.log());
    let (s, _, _) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "redeliver_webhook", "event_id": delivery["event_id"]}),
    )
    .await;
    assert_eq!(s, 200);
    // Redelivery starts the event's attempts afresh: wait for a newer attempt, answered 200.
    let again = eventually(Duration::from_secs(20), || async {
        let (_, _, s) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "get_seecret", "id": shared["id"]}),
        )
        .await;
        s["webhook_deliveries"]
            .as_array()?
            .iter()
            .find(|d| {
                d["event_id"] == delivery["event_id"]
                    && d["state"] == "delivered"
                    && d["last_attempt_at"] != delivery["last_attempt_at"]
            })
            .cloned()
    })
    .await
    .unwrap_or_else(|| panic!("redelivery not answered; listen said:\n{}", listen.log()));
    assert_eq!(again["last_status"], 200, "{again}");
    assert_eq!(role.verifier(), verifier, "not rotated twice");
    assert_eq!(std::fs::read_to_string(&links).unwrap(), line);
    assert!(listen.log().contains("already handled"), "{}", listen.log());

    // Neither password, nor the new link's key, is in any log.
    let key = link.split('#').nth(1).unwrap();
    for log in [listen.log(), server.log()] {
        for canary in [initial.as_str(), new_password.as_str(), key] {
            assert!(!log.contains(canary), "a secret reached a log:\n{log}");
        }
    }
    eprintln!("rotated {} in {rotated_in:?}", role.0);
}

/// A command that records what it got, per event id, and then does what the label says.
const PROBE: &str = r#"#!/usr/bin/env bash
set -euo pipefail
out="$PROBE_DIR/$SEECRET_EVENT_ID.$(date +%s%N)"
env > "$out.env"
cat > "$out.json"
printf '%s\n' "$@" > "$out.args"
case "$SEECRET_LABEL" in
  fail-once) [[ -e "$PROBE_DIR/$SEECRET_EVENT_ID.failed" ]] || { touch "$PROBE_DIR/$SEECRET_EVENT_ID.failed"; exit 3; } ;;
  slow) sleep 1.5 ;;
  hang) sleep 300 & echo $! > "$PROBE_DIR/hang.pid"; wait ;;
esac
"#;

fn runs(dir: &Path, id: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{id}.")) && name.ends_with(".env")
        })
        .collect();
    v.sort();
    v
}

fn event(id: &str, kind: &str, label: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "type": kind, "created_at": "2026-12-01T00:00:00.000Z",
        "secret_id": uuid::Uuid::new_v4(), "label": label,
        "views": 1, "views_remaining": 0, "country": "FR"}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_runs_its_command_once_per_signed_event_and_answers_2xx_only_when_it_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe.sh");
    std::fs::write(&probe, PROBE).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let records = dir.path().join("runs");
    std::fs::create_dir(&records).unwrap();

    // Refused at start, with the reason.
    let listen_cmd = |args: &[&str], secret: Option<&str>| {
        let mut c = Command::new(seecret_bin());
        c.arg("listen")
            .args(args)
            .env_remove("SEECRET_WEBHOOK_SECRET");
        if let Some(s) = secret {
            c.env("SEECRET_WEBHOOK_SECRET", s);
        }
        run(&mut c, Duration::from_secs(10))
    };
    let probe_s = probe.to_str().unwrap();
    let (code, _, err) = listen_cmd(&["--exec", probe_s], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("SEECRET_WEBHOOK_SECRET") && err.contains("SEECRET_WEBHOOK_SECRET_FILE"),
        "{err}"
    );
    let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for (args, says) in [
        (
            vec!["--exec", probe_s, "--events", "seecret.consume"],
            "seecret.consume",
        ),
        (vec!["--exec", "/no/such/rotate.sh"], "/no/such/rotate.sh"),
    ] {
        let (code, _, err) = listen_cmd(&args, Some(good));
        assert!(code != 0 && err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = listen_cmd(&["--exec", probe_s], Some("whsec_!!"));
    assert!(
        code != 0 && err.contains("not whsec_") && !err.contains("!!"),
        "{err}"
    );

    let server = server();
    let port = free_port();
    let secret = account_webhook(&server, &format!("http://127.0.0.1:{port}/hook")).await;
    let listen = Listen::start_on(
        port,
        &["--exec", probe_s, "--timeout", "3s", "--", "fixed-arg"],
        &[
            ("SEECRET_WEBHOOK_SECRET", secret.as_str()),
            ("SEECRET_TOKEN", "token-passed-on"),
            ("PROBE_DIR", records.to_str().unwrap()),
        ],
    );

    // A real delivery whose command fails once: 500, the server retries, the retry succeeds.
    let shared = share_and_reveal(&server, "x", "fail-once").await;
    let d = settled_delivery(&server, &shared["id"], "seecret.consumed", 2).await;
    assert_eq!(
        (
            d["state"].as_str(),
            d["attempts"].as_u64(),
            d["last_status"].as_u64()
        ),
        (Some("delivered"), Some(2), Some(200)),
        "{d}"
    );
    let id = d["event_id"].as_str().unwrap();
    let got = runs(&records, id);
    assert_eq!(got.len(), 2, "run once per attempt until it succeeded");
    let env = std::fs::read_to_string(&got[1]).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    assert_eq!(var("SEECRET_EVENT_ID").as_deref(), Some(id));
    assert_eq!(
        var("SEECRET_EVENT_TYPE").as_deref(),
        Some("seecret.consumed")
    );
    assert_eq!(var("SEECRET_SECRET_ID").as_deref(), shared["id"].as_str());
    assert_eq!(var("SEECRET_LABEL").as_deref(), Some("fail-once"));
    assert_eq!(var("SEECRET_VIEWS_REMAINING").as_deref(), Some("0"));
    assert_eq!(var("SEECRET_TOKEN").as_deref(), Some("token-passed-on"));
    assert!(
        var("SEECRET_WEBHOOK_SECRET").is_none(),
        "the webhook secret is not passed on"
    );
    assert!(!env.contains(&secret));
    let stdin = std::fs::read_to_string(got[1].with_extension("json")).unwrap();
    let json: Value = serde_json::from_str(&stdin).unwrap();
    assert_eq!(
        (json["id"].as_str(), json["secret_id"].clone()),
        (Some(id), shared["id"].clone())
    );
    assert_eq!(var("SEECRET_EVENT_JSON").as_deref(), Some(stdin.as_str()));
    let argv = std::fs::read_to_string(got[1].with_extension("args")).unwrap();
    assert_eq!(
        argv, "fixed-arg\n",
        "the fixed arguments only, never the event"
    );
    // The viewed event was answered 2xx and ran nothing (not chosen with --events).
    let viewed = settled_delivery(&server, &shared["id"], "seecret.viewed", 1).await;
    assert_eq!(viewed["last_status"], 200);
    assert!(runs(&records, viewed["event_id"].as_str().unwrap()).is_empty());

    // Signed but unreadable: 400; too large: 413; neither runs anything.
    let r = listen.post(&secret, "evt_bad", now(), b"not json").await;
    assert_eq!(r.status(), 400);
    let big = vec![b' '; 70 * 1024];
    let r = listen.post(&secret, "evt_big", now(), &big).await;
    assert_eq!(r.status(), 413);
    // The body must be the event the header names.
    let r = listen
        .post(
            &secret,
            "evt_other",
            now(),
            &event("evt_x", "seecret.consumed", ""),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(runs(&records, "evt_x").is_empty() && runs(&records, "evt_other").is_empty());

    // The same event again while its command runs: 503 with Retry-After, never a second run;
    // once it succeeded: 200 without running.
    let slow = event("evt_slow", "seecret.consumed", "slow");
    let first = {
        let (url, secret, slow) = (listen.url(), secret.clone(), slow.clone());
        tokio::spawn(async move { post(&url, &secret, "evt_slow", now(), &slow).await.status() })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = listen.post(&secret, "evt_slow", now(), &slow).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(first.await.unwrap(), 200);
    let r = listen.post(&secret, "evt_slow", now(), &slow).await;
    assert_eq!(r.status(), 200);
    assert_eq!(runs(&records, "evt_slow").len(), 1);

    // A command that hangs: 5xx after --timeout, and what it started is killed with it.
    let t = Instant::now();
    let r = listen
        .post(
            &secret,
            "evt_hang",
            now(),
            &event("evt_hang", "seecret.consumed", "hang"),
        )
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    let pid: u32 = std::fs::read_to_string(records.join("hang.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = eventually(Duration::from_secs(5), || async {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        (stat.is_empty() || stat.contains(") Z ")).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the command's child survived the timeout");
    // The log is read from the process's stderr by another thread: the line may lag the answer.
    let logged = eventually(Duration::from_secs(5), || async {
        listen.log().contains("timed out").then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", listen.log());
    assert!(!listen.log().contains(&secret[6..]));
}
