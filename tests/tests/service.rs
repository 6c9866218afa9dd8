//! Running Seecret as a service: `seecret check-config`, the systemd unit (checked by
//! `systemd-analyze`), the consistency of the unit, the Dockerfile and the compose file, and the
//! Prometheus metrics listener, scraped after real traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use seecret_tests::{free_port, repo_path, run, seecret_bin};

const DB_CANARY: &str = "DBPASS-CANARY-7f3a";
const SLACK_CANARY: &str = "SLACK-SECRET-CANARY-91c2";

/// `seecret check-config` with only the given environment (nothing inherited from the test's).
fn check_config(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(seecret_bin());
    cmd.env_clear().arg("check-config").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(30))
}

fn assert_no_canary(texts: &[&str]) {
    for t in texts {
        for canary in [DB_CANARY, SLACK_CANARY] {
            assert!(!t.contains(canary), "{canary} shown in:\n{t}");
        }
    }
}

#[test]
fn check_config_prints_what_serve_would_use_and_names_what_is_wrong() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let config = dir.path().join("seecret.toml");
    std::fs::write(&config, "max_views = 7\nlog = \"debug\"\n").unwrap();
    let url_file = dir.path().join("database-url");
    // A real PostgreSQL (trust authentication: the password is not checked, only never shown).
    std::fs::write(
        &url_file,
        format!("postgres://seecret:{DB_CANARY}@127.0.0.1:5432/test\n"),
    )
    .unwrap();
    // The port is taken: check-config must not try to listen on it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let config_s = config.to_str().unwrap();
    let url_file_s = url_file.to_str().unwrap();
    let good = [
        ("SEECRET_CONFIG", config_s),
        ("SEECRET_DATABASE_URL_FILE", url_file_s),
        ("SEECRET_PUBLIC_URL", "https://secrets.example"),
        ("SEECRET_SLACK_CLIENT_ID", "1.2"),
        ("SEECRET_SLACK_CLIENT_SECRET", SLACK_CANARY),
        ("SEECRET_LOG", "warn"),
    ];
    let (code, out, err) = check_config(&good, &["--bind", &bind, "--data-dir", data_s]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    for line in [
        format!("SEECRET_BIND = {bind}  (flag)"),
        format!("SEECRET_MAX_VIEWS = 7  (config file {config_s})"),
        // The environment outranks the file.
        "SEECRET_LOG = warn  (env SEECRET_LOG)".to_string(),
        "SEECRET_PUBLIC_URL = https://secrets.example  (env SEECRET_PUBLIC_URL)".to_string(),
        "SEECRET_DATABASE_URL = <redacted>  (file named by SEECRET_DATABASE_URL_FILE)".to_string(),
        "SEECRET_SLACK_CLIENT_SECRET = <redacted>  (env SEECRET_SLACK_CLIENT_SECRET)".to_string(),
        "SEECRET_SLACK_CLIENT_ID = 1.2  (env SEECRET_SLACK_CLIENT_ID)".to_string(),
        "SEECRET_REDIS_URL = <unset>  (default)".to_string(),
        "SEECRET_MAX_EXPIRATION = 30d  (default)".to_string(),
        "database: postgres on 127.0.0.1:5432".to_string(),
        "configuration OK".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "no line {line:?} in:\n{out}"
        );
    }
    assert_no_canary(&[&out, &err]);

    // A bad value in the environment: refused before anything else, naming the variable, by
    // check-config and serve alike (one resolution).
    for cmd in ["check-config", "serve"] {
        let mut c = Command::new(seecret_bin());
        c.env_clear()
            .arg(cmd)
            .args(["--bind", &bind, "--data-dir", data_s])
            .env("SEECRET_MAX_VIEWS", "abc");
        let (code, out, err) = run(&mut c, Duration::from_secs(30));
        assert_ne!(code, 0, "{cmd}: {out}");
        assert!(
            err.contains("SEECRET_MAX_VIEWS: invalid value \"abc\""),
            "{cmd}: {err}"
        );
    }
    // A value of the right type that serve would refuse.
    let mut zero = good.to_vec();
    zero.push(("SEECRET_MAX_VIEWS", "0"));
    let (code, out, err) = check_config(&zero, &["--data-dir", data_s]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("SEECRET_MAX_VIEWS must be at least 1"),
        "{err}"
    );
    assert!(!out.contains("configuration OK"));

    // The database server is not there: named, without its password.
    let gone = dir.path().join("gone-url");
    std::fs::write(
        &gone,
        format!(
            "postgres://seecret:{DB_CANARY}@127.0.0.1:{}/test",
            free_port()
        ),
    )
    .unwrap();
    let (code, out, err) = check_config(
        &[("SEECRET_DATABASE_URL_FILE", gone.to_str().unwrap())],
        &["--data-dir", data_s],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("SEECRET_DATABASE_URL: the database server at 127.0.0.1:"),
        "{err}"
    );
    assert_no_canary(&[&out, &err]);

    // Each refused, naming the setting.
    let refused = |env: &[(&str, &str)], data: &str, says: &str| {
        let (code, out, err) = check_config(env, &["--data-dir", data]);
        assert_ne!(code, 0, "{out}");
        assert!(err.contains(says), "{says:?} not in {err}");
    };
    // SQLite in a data directory that cannot be written (a file stands where a directory must).
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let bad_data = blocker.join("data");
    refused(
        &[],
        bad_data.to_str().unwrap(),
        &format!(
            "SEECRET_DATA_DIR: {} is not a writable directory",
            bad_data.display()
        ),
    );
    // A log filter with a typo, not quietly replaced by another level.
    refused(
        &[("SEECRET_LOG", "seecret=verbose")],
        data_s,
        "SEECRET_LOG \"seecret=verbose\" is not a valid log filter",
    );
    // An audit log that cannot be opened to append.
    let audit = blocker.join("audit.jsonl");
    refused(
        &[("SEECRET_AUDIT_LOG", audit.to_str().unwrap())],
        data_s,
        &format!("SEECRET_AUDIT_LOG: opening {} to append", audit.display()),
    );
    // The same data directory, writable: fine on SQLite, and the probe leaves nothing behind.
    let (code, out, err) = check_config(&[], &["--data-dir", data_s]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("database: SQLite "), "{out}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    println!("check-config test: {:?}", started.elapsed());
}

/// The unit with its binary replaced by `bin` (verify insists the binary exists).
fn unit_with_binary(bin: &Path) -> String {
    std::fs::read_to_string(repo_path("deploy/systemd/seecret.service"))
        .unwrap()
        .replace("/usr/local/bin/seecret", bin.to_str().unwrap())
}

fn systemd_analyze(args: &[&str], unit: &Path) -> (i32, String, String) {
    run(
        Command::new("systemd-analyze").args(args).arg(unit),
        Duration::from_secs(30),
    )
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("seecret.service");
    std::fs::write(&unit, unit_with_binary(&seecret_bin())).unwrap();
    let (code, out, err) = systemd_analyze(&["verify"], &unit);
    assert_eq!(
        (code, err.as_str()),
        (0, ""),
        "systemd-analyze verify:\n{out}"
    );
    // The check can fail: a misspelt key and a bad value are reported.
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        unit_with_binary(&seecret_bin())
            .replace("ProtectSystem=strict", "ProtectSystem=stric")
            .replace("UMask=0077", "UMsk=0077"),
    )
    .unwrap();
    let (_, _, err) = systemd_analyze(&["verify"], &broken);
    assert!(
        err.contains("UMsk") && err.contains("stric"),
        "broken unit passed: {err}"
    );

    // systemd's own exposure score: 0 (locked down) to 10 (unprotected); < 2 is its "OK" band's
    // lower half. Measured 1.2 for this unit.
    let (code, out, err) = systemd_analyze(&["security", "--offline=yes"], &unit);
    assert_eq!(code, 0, "{out}\n{err}");
    let score: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for seecret.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"))
        .parse()
        .unwrap();
    println!("systemd-analyze security: exposure {score}");
    assert!(score < 2.0, "exposure {score}:\n{out}");
}

/// `KEY=VALUE` pairs of the unit's `Environment=` lines and the Dockerfile's `ENV` lines.
fn assignments<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    lines
        .flat_map(str::split_whitespace)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_unit_the_dockerfile_and_the_compose_file_agree() {
    let unit = std::fs::read_to_string(repo_path("deploy/systemd/seecret.service")).unwrap();
    let dockerfile = std::fs::read_to_string(repo_path("deploy/Dockerfile")).unwrap();
    let compose = std::fs::read_to_string(repo_path("deploy/compose.yaml")).unwrap();
    let env_example =
        std::fs::read_to_string(repo_path("deploy/systemd/seecret.env.example")).unwrap();

    let unit_env = assignments(unit.lines().filter_map(|l| l.strip_prefix("Environment=")));
    let docker_env = assignments(dockerfile.lines().filter_map(|l| l.strip_prefix("ENV ")));
    // compose's `environment:` maps: `      SEECRET_X: value` lines (comments skipped).
    let compose_env: BTreeMap<String, String> = compose
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.starts_with("SEECRET_") || k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let example_env: BTreeMap<String, String> = env_example
        .lines()
        .map(|l| l.trim_start_matches("# "))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("SEECRET_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    // The same data directory and port.
    assert_eq!(unit_env["SEECRET_DATA_DIR"], "/var/lib/seecret");
    assert_eq!(docker_env["SEECRET_DATA_DIR"], "/var/lib/seecret");
    assert!(unit.lines().any(|l| l == "StateDirectory=seecret"));
    let port = |bind: &str| bind.rsplit_once(':').unwrap().1.to_string();
    assert_eq!(port(&unit_env["SEECRET_BIND"]), "8080");
    assert_eq!(port(&docker_env["SEECRET_BIND"]), "8080");
    assert!(dockerfile.lines().any(|l| l == "EXPOSE 8080"));
    // Only the container listens on every address; the host service stays on loopback.
    assert!(unit_env["SEECRET_BIND"].starts_with("127.0.0.1:"));
    for (what, env) in [("compose", &compose_env), ("env example", &example_env)] {
        for fixed in ["SEECRET_DATA_DIR", "SEECRET_BIND"] {
            assert!(!env.contains_key(fixed), "{what} overrides {fixed}");
        }
    }

    // Never root: a dynamic user for the unit, a system user for the image, no override in
    // compose.
    assert!(unit.lines().any(|l| l == "DynamicUser=yes"));
    assert!(!unit.lines().any(|l| l.starts_with("User=")));
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("the image sets a USER");
    assert!(user != "root" && user != "0", "image runs as {user}");
    assert!(dockerfile.contains("useradd --system"));
    assert!(
        !compose.lines().any(|l| l.trim_start().starts_with("user:")),
        "compose overrides the image's user"
    );

    // Every variable they set is one the server reads, and no secret is set in clear: secrets
    // go through `<VAR>_FILE` (Docker secrets in compose, credentials in the unit).
    let known = seecret_server::known_env_vars();
    let secret_vars: Vec<&String> = known.iter().filter(|v| v.ends_with("_FILE")).collect();
    let mut file_vars = 0;
    for (what, env) in [
        ("unit", &unit_env),
        ("Dockerfile", &docker_env),
        ("compose", &compose_env),
        ("env example", &example_env),
    ] {
        for (var, value) in env.iter().filter(|(k, _)| k.starts_with("SEECRET_")) {
            assert!(known.contains(var), "{what} sets unknown {var}");
            // A secret-bearing setting may be set in clear only without a credential in it
            // (compose's Redis URL has no password).
            assert!(
                !secret_vars.contains(&&format!("{var}_FILE")) || !value.contains('@'),
                "{what} sets the secret {var} in clear: use {var}_FILE"
            );
            if var.ends_with("_FILE") {
                file_vars += 1;
                let dir = match what {
                    "unit" => "%d/",
                    _ => "/run/secrets/",
                };
                assert!(value.starts_with(dir), "{what}: {var}={value}");
            }
        }
    }
    assert!(
        unit.lines().any(|l| l
            == "LoadCredential=slack-token-key:/etc/seecret/credentials/slack-token-key")
    );
    assert_eq!(
        unit_env["SEECRET_SLACK_TOKEN_KEY_FILE"],
        "%d/slack-token-key"
    );
    assert_eq!(
        compose_env["SEECRET_DATABASE_URL_FILE"],
        "/run/secrets/database_url"
    );
    assert!(file_vars >= 2);

    // The unit's environment with the example file, as systemd would pass it (the data directory
    // and the credentials directory moved to a temporary one), passes check-config cleanly.
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(
        creds.join("slack-token-key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
    )
    .unwrap();
    let data = dir.path().join("state");
    let mut cmd = Command::new(seecret_bin());
    cmd.env_clear().arg("check-config");
    for (k, v) in &example_env {
        if !env_example
            .lines()
            .any(|l| l.starts_with(&format!("# {k}=")))
        {
            cmd.env(k, v);
        }
    }
    for (k, v) in &unit_env {
        let v = v
            .replace("/var/lib/seecret", data.to_str().unwrap())
            .replace("%d", creds.to_str().unwrap());
        cmd.env(k, v);
    }
    let (code, out, err) = run(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(err, "", "warnings for the unit's environment");
    assert!(
        out.lines()
            .any(|l| l
                == "SEECRET_PUBLIC_URL = https://secrets.example.com  (env SEECRET_PUBLIC_URL)"),
        "{out}"
    );
    assert!(
        out.contains("SEECRET_SLACK_TOKEN_KEY_FILE = <set>"),
        "{out}"
    );
}

/// The samples of a scrape, as the official Prometheus Python client's parser reads them.
fn parse_exposition(text: &str) -> Vec<serde_json::Value> {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .arg(repo_path("tests/metrics/parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_count_real_traffic() {
    use seecret_core::client::{Client, ShareOptions};
    use seecret_core::link::Link;
    let port = free_port();
    let server = seecret_tests::Server::start_with(
        seecret_tests::ServerOptions::default()
            .env("SEECRET_METRICS_BIND", format!("127.0.0.1:{port}"))
            .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
            // The second retry waits long enough to stay in the outbox during the test.
            .env("SEECRET_WEBHOOK_RETRY_SCHEDULE", "200ms,60s")
            .env("SEECRET_AUTH_FAILURES_PER_MINUTE", "2"),
    );
    // The webhook receiver fails the first attempt and takes the others.
    let receiver = seecret_tests::Receiver::start(|n| if n == 0 { 500 } else { 200 }).await;
    // This one fails every attempt: its events wait in the outbox.
    let down = seecret_tests::Receiver::start(|_| 503).await;
    let client = server.client();
    let label = "METRICS-LABEL-CANARY";
    let once = client
        .share(
            b"one view",
            ShareOptions {
                views: Some(1),
                label: Some(label.into()),
                webhook_url: Some(receiver.url.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let guarded = client
        .share(
            b"guarded",
            ShareOptions {
                passphrase: Some(seecret_core::crypto::SecretBytes::new(b"right".to_vec())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let burnt = client
        .share(b"burnt", ShareOptions::default())
        .await
        .unwrap();
    Client::reveal_link(&Link::parse(&once.link).unwrap(), None)
        .await
        .unwrap();
    assert!(
        Client::reveal_link(&Link::parse(&once.link).unwrap(), None)
            .await
            .is_err()
    );
    client.delete(burnt.info.id).await.unwrap();
    // Six wrong passphrases: five evaluated in the minute, the fifth locking the secret; the
    // sixth refused without being evaluated.
    for _ in 0..6 {
        assert!(
            Client::reveal_link(
                &Link::parse(&guarded.link).unwrap(),
                Some(seecret_core::crypto::SecretBytes::new(b"wrong".to_vec()))
            )
            .await
            .is_err()
        );
    }
    // The reveal's two events go to a receiver that is down.
    let stuck = client
        .share(
            b"stuck",
            ShareOptions {
                webhook_url: Some(down.url.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Client::reveal_link(&Link::parse(&stuck.link).unwrap(), None)
        .await
        .unwrap();
    // Files: one read once of its two views; one whose blob is lost under the database.
    let srv = &server;
    let file = |n: usize| async move {
        let meta = seecret_core::filestream::FileMeta {
            name: "f.bin".into(),
            media_type: "application/octet-stream".into(),
            size: Some(n as u64),
        };
        let opts = ShareOptions {
            views: Some(2),
            ..Default::default()
        };
        srv.client()
            .share_file(std::io::Cursor::new(vec![7u8; n]), meta, opts, None)
            .await
            .unwrap()
    };
    let blobs_dir = server.data_dir.join("blobs");
    let blob_names = || -> std::collections::BTreeSet<std::path::PathBuf> {
        std::fs::read_dir(&blobs_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect()
    };
    let kept = file(5000).await;
    let before = blob_names();
    let lost = file(3000).await;
    let lost_blob: Vec<_> = blob_names().difference(&before).cloned().collect();
    assert_eq!(lost_blob.len(), 1, "{lost_blob:?}");
    std::fs::remove_file(&lost_blob[0]).unwrap();
    let read_file = |link: String| async move {
        let out = tempfile::NamedTempFile::new().unwrap();
        let path = out.path().to_path_buf();
        Client::reveal_link_to(
            &Link::parse(&link).unwrap(),
            None,
            move |_| async move { tokio::fs::File::create(path).await },
            None,
        )
        .await
        .map(|_| std::fs::read(out.path()).unwrap())
    };
    assert_eq!(
        read_file(kept.link.to_string()).await.unwrap(),
        vec![7u8; 5000]
    );
    assert!(read_file(lost.link.to_string()).await.is_err());

    let http = seecret_tests::http();

    // The reveal's two events (viewed, consumed) are delivered after one failed attempt: wait
    // until both deliveries are counted.
    let delivered = seecret_tests::eventually(Duration::from_secs(10), || async {
        let text = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let done: f64 = text
            .lines()
            .filter(|l| {
                l.starts_with("seecret_event_deliveries_total{") && l.contains("\"delivered\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (done >= 2.0).then_some(())
    })
    .await;
    assert!(delivered.is_some(), "deliveries not counted");

    // Two failed authentications from one address, then 429 (last: it blocks the address's
    // authenticated requests for a minute).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(format!("{}/v1/secrets", server.base))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
    // Not on the public listener.
    let public = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let scrape = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    let samples = parse_exposition(&text);
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .iter()
            .filter(|s| s["name"] == name)
            .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
            .sum()
    };
    assert_eq!(
        value("seecret_secrets_created_total", &[("kind", "text")]),
        4.0
    );
    assert_eq!(
        value("seecret_secrets_created_total", &[("kind", "file")]),
        2.0
    );
    assert_eq!(value("seecret_secrets_revealed_total", &[]), 3.0);
    assert_eq!(value("seecret_secrets_consumed_total", &[]), 2.0);
    assert_eq!(value("seecret_secrets_deleted_total", &[]), 1.0);
    assert_eq!(
        value("seecret_reveals_denied_total", &[("reason", "passphrase")]),
        5.0
    );
    assert_eq!(
        value(
            "seecret_reveals_denied_total",
            &[("reason", "passphrase_locked")]
        ),
        1.0
    );
    assert_eq!(value("seecret_passphrase_lockouts_total", &[]), 1.0);
    assert_eq!(
        value("seecret_rate_limited_total", &[("limit", "auth_failures")]),
        1.0
    );
    assert_eq!(
        value("seecret_rate_limited_total", &[("limit", "account")]),
        0.0
    );
    // The stuck reveal's two events wait; the oldest was written moments ago.
    assert_eq!(value("seecret_outbox_pending_events", &[]), 2.0, "{text}");
    let age = value("seecret_outbox_oldest_pending_age_seconds", &[]);
    assert!(age > 0.0 && age < 60.0, "{age}");
    // Both files are still held (two views each); the lost one's read is an error.
    assert_eq!(value("seecret_blobs_stored", &[]), 2.0);
    assert_eq!(value("seecret_blob_stored_bytes", &[]), 8000.0);
    assert!(value("seecret_blob_bytes_total", &[("op", "write")]) >= 8000.0);
    assert!(value("seecret_blob_bytes_total", &[("op", "read")]) >= 5000.0);
    assert_eq!(
        value("seecret_blob_errors_total", &[("op", "read")]),
        1.0,
        "{text}"
    );
    assert_eq!(value("seecret_blob_errors_total", &[("op", "write")]), 0.0);
    // The pools: SQLite's one writer beside its readers, or PostgreSQL's one pool.
    let pools: &[(&str, f64)] = if seecret_tests::on_postgres() {
        &[("main", 0.0)]
    } else {
        &[("writer", 1.0), ("reader", 0.0)]
    };
    for (pool, max) in pools {
        let ceiling = value("seecret_db_pool_max_connections", &[("pool", pool)]);
        assert!(
            ceiling >= 1.0 && (*max == 0.0 || ceiling == *max),
            "{pool}: {text}"
        );
        let open = value("seecret_db_pool_connections", &[("pool", pool)]);
        assert!(
            open >= 1.0 && open <= ceiling,
            "{pool}: {open} of {ceiling}"
        );
    }
    assert_eq!(value("seecret_store_up", &[]), 1.0);
    let deliveries = |result: &str| {
        value(
            "seecret_event_deliveries_total",
            &[("target", "webhook"), ("result", result)],
        )
    };
    assert_eq!(deliveries("delivered"), 2.0, "{text}");
    assert!(deliveries("retry") >= 1.0, "{text}");
    assert!(
        value(
            "seecret_event_delivery_duration_seconds_count",
            &[("target", "webhook")]
        ) >= 3.0
    );
    assert!(value("seecret_reveals_denied_total", &[]) >= 2.0, "{text}");
    // Requests by route template and status, with a latency histogram whose buckets include
    // the product page's 80 ms.
    let routes: Vec<&str> = samples
        .iter()
        .filter(|s| s["name"] == "seecret_http_requests_total")
        .filter_map(|s| s["labels"]["route"].as_str())
        .collect();
    assert!(routes.iter().any(|r| r.contains("{id}")), "{routes:?}");
    assert!(
        value("seecret_http_requests_total", &[("status", "201")]) >= 3.0,
        "{text}"
    );
    assert!(
        samples.iter().any(
            |s| s["name"] == "seecret_http_request_duration_seconds_bucket"
                && s["labels"]["le"] == "0.08"
        ),
        "{text}"
    );
    assert!(value("seecret_http_request_duration_seconds_count", &[]) >= 7.0);
    // Every metric the alert rules and the dashboard use is one the server exposes.
    let rules = std::fs::read_to_string(repo_path("deploy/prometheus/alerts.yml")).unwrap()
        + &std::fs::read_to_string(repo_path("deploy/grafana/seecret.json")).unwrap();
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("seecret_") && !w.ends_with('_'))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 3, "{used:?}");
    for name in used {
        assert!(
            samples.iter().any(|s| s["name"] == name),
            "alerts.yml or the dashboard uses {name}, which the server does not expose"
        );
    }
    // No id, label, token or key in any label or help text.
    for secret in [
        stuck.info.id.to_string(),
        kept.info.id.to_string(),
        once.info.id.to_string(),
        guarded.info.id.to_string(),
        burnt.info.id.to_string(),
        label.to_string(),
        server.token().to_string(),
        once.link.split('#').nth(1).unwrap().to_string(),
    ] {
        assert!(!text.contains(&secret), "{secret} in the exposition");
    }
}

#[test]
fn metrics_are_refused_on_the_public_address() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        Command::new(seecret_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(data.path())
            .env("SEECRET_BIND", format!("127.0.0.1:{port}"))
            .env("SEECRET_METRICS_BIND", format!("0.0.0.0:{port}")),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("SEECRET_METRICS_BIND") && err.contains("public listener"),
        "{err}"
    );
}

/// Reveals `created` (an `create_seecret` answer) over REST as a client in `country`.
async fn reveal_in(
    server: &seecret_tests::Server,
    created: &serde_json::Value,
    country: &str,
    passphrase: Option<&str>,
) -> u16 {
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let mut body = serde_json::json!({ "key": key });
    if let Some(p) = passphrase {
        body["passphrase"] = p.into();
    }
    seecret_tests::http()
        .post(format!(
            "{}/v1/secrets/{}/reveal",
            server.base,
            created["id"].as_str().unwrap()
        ))
        .header("cf-ipcountry", country)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The audit log's records, one JSON object a line.
fn audit_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn the_audit_log_records_what_owners_see_and_nothing_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let server = seecret_tests::Server::start_with(
        seecret_tests::ServerOptions::default()
            .env("SEECRET_AUDIT_LOG", audit.display())
            .env("SEECRET_TRUSTED_PROXIES", "127.0.0.1/32")
            .env("SEECRET_COUNTRY_HEADER", "CF-IPCountry"),
    );
    let t = Some(server.token());
    const CONTENT: &str = "AUDIT-CONTENT-CANARY";
    const LABEL: &str = "AUDIT-LABEL-CANARY";
    const PASSPHRASE: &str = "AUDIT-PASSPHRASE-CANARY";
    let base = server.base.as_str();
    let create = |body: serde_json::Value| async move {
        let (status, _, created) = seecret_tests::rpc(base, t, body).await;
        assert_eq!(status, 200, "{created}");
        created
    };
    let delete = |id: serde_json::Value| async move {
        let body = serde_json::json!({"operation": "delete_seecret", "id": id});
        let (status, _, deleted) = seecret_tests::rpc(base, t, body).await;
        assert_eq!(status, 200, "{deleted}");
    };
    let two = create(
        serde_json::json!({"operation": "create_seecret", "content": CONTENT,
        "views": 2, "label": LABEL}),
    )
    .await;
    let french = create(
        serde_json::json!({"operation": "create_seecret", "content": CONTENT,
        "allowed_countries": ["FR"]}),
    )
    .await;
    let guarded = create(
        serde_json::json!({"operation": "create_seecret", "content": CONTENT,
        "passphrase": PASSPHRASE}),
    )
    .await;
    assert_eq!(reveal_in(&server, &two, "FR", None).await, 200);
    assert_eq!(reveal_in(&server, &french, "DE", None).await, 403);
    assert_ne!(reveal_in(&server, &guarded, "SE", Some("wrong")).await, 200);
    // A guessed id (no key, no proof) is not the owner's business: nothing recorded.
    let mut stranger = two.clone();
    stranger["id"] = seecret_core::model::SecretId::new().to_string().into();
    assert_eq!(reveal_in(&server, &stranger, "FR", None).await, 404);
    delete(two["id"].clone()).await;

    let records = audit_records(&audit);
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap().to_string();
    let seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_string(),
                r["secret"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("created", id(&two)),
        ("created", id(&french)),
        ("created", id(&guarded)),
        ("revealed", id(&two)),
        ("denied", id(&french)),
        ("denied", id(&guarded)),
        ("deleted", id(&two)),
    ]
    .into_iter()
    .map(|(e, s)| (e.to_string(), s))
    .collect();
    assert_eq!(seen, expected, "{records:#?}");
    assert_eq!(records[0]["kind"], "text");
    assert_eq!(records[0]["views"], 2);
    assert!(records[0]["expires_at"].is_string());
    assert_eq!(records[3]["country"], "FR");
    assert_eq!(records[3]["views_remaining"], 1);
    assert_eq!(
        (&records[4]["country"], &records[4]["reason"]),
        (&"DE".into(), &"geo_blocked".into())
    );
    assert_eq!(
        (&records[5]["country"], &records[5]["reason"]),
        (&"SE".into(), &"passphrase".into())
    );
    let account = records[0]["account"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(account).is_ok());
    assert!(records.iter().all(|r| r["account"] == account));
    assert!(records.iter().all(|r| r["time"].is_string()));
    // Nothing secret in it, readable by its owner only, and not in the debug log.
    let text = std::fs::read_to_string(&audit).unwrap();
    let key = two["url"].as_str().unwrap().split('#').nth(1).unwrap();
    for canary in [CONTENT, LABEL, PASSPHRASE, server.token(), key, "127.0.0.1"] {
        assert!(!text.contains(canary), "{canary} in the audit log");
    }
    let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let log = server.log();
    assert!(!log.contains(text.lines().next().unwrap()), "{log}");

    // logrotate moves the file away and sends SIGHUP: the next record goes to a new file.
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&audit, &rotated).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let reopened = seecret_tests::eventually(Duration::from_secs(10), || async {
        server.log().contains("audit log reopened").then_some(())
    })
    .await;
    assert!(reopened.is_some(), "{}", server.log());
    delete(french["id"].clone()).await;
    let after = audit_records(&audit);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        (&after[0]["event"], &after[0]["secret"]),
        (&"deleted".into(), &french["id"])
    );
    assert_eq!(audit_records(&rotated).len(), records.len());
}

#[test]
fn the_alert_rules_pass_promtool_and_each_has_a_test_that_fires_it() {
    let dir = repo_path("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool (scripts/setup-test-deps installs it)");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts.test.yml")).unwrap();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    for name in names {
        assert!(
            tests.contains(&format!(
                "alertname: {name}\n        exp_alerts:\n          - exp_labels"
            )),
            "alerts.test.yml has no test in which {name} fires"
        );
        assert!(
            tests.contains(&format!("alertname: {name}, exp_alerts: [] }}")),
            "alerts.test.yml has no healthy case for {name}"
        );
    }
}
