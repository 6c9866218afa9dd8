//! Operating the server: accounts from the command line, token rotation, restarts, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use seecret_tests::{Server, ServerOptions, eventually, rpc, run, seecret_bin};
use serde_json::json;

fn account_cmd(server: &Server, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(seecret_bin());
    cmd.arg("account")
        .args(args)
        .arg("--data-dir")
        .arg(&server.data_dir);
    if let Some(url) = &server.database_url {
        cmd.arg("--database-url").arg(url);
    }
    run(&mut cmd, Duration::from_secs(30))
}

#[tokio::test]
async fn accounts_are_created_and_tokens_rotated_from_the_command_line() {
    let server = Server::start();
    let (code, out, err) = account_cmd(
        &server,
        &["create", "--name", "ci", "--email", "ci@example.com"],
    );
    assert_eq!(code, 0, "{err}");
    let token = out.lines().last().unwrap().trim().to_string();
    let (s, _, acct) = rpc(
        &server.base,
        Some(&token),
        json!({"operation": "get_account"}),
    )
    .await;
    assert_eq!(
        (s, acct["name"].as_str(), acct["email"].as_str()),
        (200, Some("ci"), Some("ci@example.com"))
    );

    let (code, _, err) = account_cmd(&server, &["create", "--name", "ci"]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");

    let (code, out, err) = account_cmd(&server, &["rotate-token", "ci"]);
    assert_eq!(code, 0, "{err}");
    let new_token = out.lines().last().unwrap().trim().to_string();
    assert_ne!(new_token, token);
    let (s, _, _) = rpc(
        &server.base,
        Some(&new_token),
        json!({"operation": "get_account"}),
    )
    .await;
    assert_eq!(s, 200);
    // The old token stops within the server's token-cache lifetime (2 s), not at some later date.
    let refused = eventually(Duration::from_secs(5), || async {
        let (s, _, _) = rpc(
            &server.base,
            Some(&token),
            json!({"operation": "get_account"}),
        )
        .await;
        (s == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "the rotated-out token still works");
}

#[tokio::test]
async fn secrets_survive_a_crash_and_the_first_account_is_created_once() {
    let server = Server::start();
    let token = server.token().to_string();
    let created = server
        .client()
        .share(b"survivor", Default::default())
        .await
        .unwrap();
    let (_tmp, data_dir) = server.into_data_dir(); // SIGKILL, like a crash

    let restarted = Server::start_with(ServerOptions {
        data_dir: Some(data_dir),
        ..Default::default()
    });
    assert!(
        restarted.token.is_none(),
        "a second first account was created"
    );
    let mut link = seecret_core::link::Link::parse(&created.link).unwrap();
    link.base = restarted.base.clone(); // the new process listens on a new port
    let got = seecret_core::client::Client::reveal_link(&link, None)
        .await
        .unwrap();
    assert_eq!(got.expose(), b"survivor");
    let (s, _, _) = rpc(
        &restarted.base,
        Some(&token),
        json!({"operation": "get_account"}),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn configuration_comes_from_a_file_env_and_flags_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("seecret.toml");
    std::fs::write(&cfg, "max_views = 3\nrate_limit_per_minute = 50\n").unwrap();
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_CONFIG", cfg.display())
            .env("SEECRET_RATE_LIMIT_PER_MINUTE", 70)
            .env("SEECRET_BOGUS_SETTING", 1),
    );
    let (_, h, acct) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "get_account"}),
    )
    .await;
    assert_eq!(acct["limits"]["max_views"], 3, "file beats default");
    assert_eq!(h["x-ratelimit-limit"], "70", "env beats file");
    let (s, _, _) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "create_seecret", "content": "x", "views": 4}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        server.log().contains("SEECRET_BOGUS_SETTING"),
        "unknown variables are reported"
    );
    let (code, out, _) = run(
        Command::new(seecret_bin()).arg("print-default-config"),
        Duration::from_secs(10),
    );
    assert_eq!(code, 0);
    assert!(out.contains("max_views = 100"));
}

/// A crash in the middle of a batch of writes (SQLite commits concurrent writes in groups) loses
/// nothing that was acknowledged and revives nothing that was consumed.
#[tokio::test]
async fn a_crash_under_concurrent_writes_keeps_every_acknowledged_create_and_view() {
    use std::sync::{Arc, Mutex};

    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_RATE_LIMIT_PER_MINUTE", 0)
            .env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 0),
    );
    let token = server.token().to_string();
    let client = server.client();
    let mut to_reveal = Vec::new();
    for i in 0..60 {
        let shared = client
            .share(format!("old {i}").as_bytes(), Default::default())
            .await
            .unwrap();
        to_reveal.push(seecret_core::link::Link::parse(&shared.link).unwrap());
    }
    let to_reveal = Arc::new(to_reveal);
    let created: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let revealed: Arc<Mutex<Vec<usize>>> = Arc::default();
    let attempted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..32 {
        let (client, created, revealed, attempted, to_reveal) = (
            server.client(),
            created.clone(),
            revealed.clone(),
            attempted.clone(),
            to_reveal.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                if t % 2 == 0 {
                    let text = format!("new {t}/{n}");
                    attempted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    match client.share(text.as_bytes(), Default::default()).await {
                        Ok(s) => created.lock().unwrap().push((s.link.to_string(), text)),
                        Err(_) => return,
                    }
                } else {
                    let i = (t / 2) + 16 * n;
                    let Some(link) = to_reveal.get(i) else { return };
                    match seecret_core::client::Client::reveal_link(link, None).await {
                        Ok(_) => revealed.lock().unwrap().push(i),
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    // Kill while the writers are busy: once some creates were acknowledged.
    eventually(Duration::from_secs(30), || {
        let n = created.lock().unwrap().len();
        async move { (n >= 200).then_some(()) }
    })
    .await
    .expect("creates were acknowledged");
    let (_tmp, data_dir) = server.into_data_dir(); // SIGKILL mid-batch
    for t in tasks {
        t.await.unwrap();
    }
    let created = created.lock().unwrap().clone();
    let revealed = revealed.lock().unwrap().clone();

    let restarted = Server::start_with(ServerOptions {
        data_dir: Some(data_dir),
        ..Default::default()
    });
    for (link, text) in &created {
        let mut link = seecret_core::link::Link::parse(link).unwrap();
        link.base = restarted.base.clone();
        let got = seecret_core::client::Client::reveal_link(&link, None).await;
        assert_eq!(
            got.map(|s| s.expose().to_vec()).ok(),
            Some(text.as_bytes().to_vec()),
            "an acknowledged create is lost"
        );
    }
    for i in &revealed {
        let mut link = to_reveal[*i].clone();
        link.base = restarted.base.clone();
        assert!(
            seecret_core::client::Client::reveal_link(&link, None)
                .await
                .is_err(),
            "a consumed secret came back after the crash"
        );
    }
    // Nothing but what was asked for is stored: no more secrets than creates attempted.
    let (s, _, acct) = rpc(
        &restarted.base,
        Some(&token),
        json!({"operation": "get_account"}),
    )
    .await;
    assert_eq!(s, 200);
    let usage = &acct["usage"];
    let stored = usage["active"].as_u64().unwrap() + usage["consumed"].as_u64().unwrap();
    let asked = 60 + attempted.load(std::sync::atomic::Ordering::SeqCst) as u64;
    assert!(
        stored >= 60 + created.len() as u64 && stored <= asked,
        "{stored} secrets stored for {} acknowledged and {asked} attempted creates",
        created.len()
    );
}

#[tokio::test]
async fn json_logs_give_each_request_its_id_route_status_and_latency_and_never_a_secret() {
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_LOG_FORMAT", "json")
            .env("SEECRET_LOG", "info"),
    );
    let canary = "JSON-LOG-CANARY-s3cr3t";
    let shared = server
        .client()
        .share(
            canary.as_bytes(),
            seecret_core::client::ShareOptions {
                label: Some("label-canary".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let link = seecret_core::link::Link::parse(&shared.link).unwrap();
    let got = seecret_core::client::Client::reveal_link(&link, None)
        .await
        .unwrap();
    assert_eq!(got.expose(), canary.as_bytes());
    // A proxy's request id is kept; a forged one (a newline, a quote) is replaced.
    let http = seecret_tests::http();
    let resp = http
        .get(format!("{}/v1/secrets/{}", server.base, shared.info.id))
        .bearer_auth(server.token())
        .header("x-request-id", "proxy-id-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "proxy-id-123");
    let resp = http
        .get(format!("{}/v1/nope", server.base))
        .header("x-request-id", "a\"b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let minted = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::try_parse(&minted).is_ok(), "{minted}");

    let access = eventually(Duration::from_secs(5), || async {
        let log = server.log();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let access: Vec<serde_json::Value> = lines
            .into_iter()
            .filter(|v| v["target"] == "seecret::access")
            .collect();
        (access.len() >= 4).then_some(access)
    })
    .await
    .unwrap_or_else(|| panic!("no access lines in:\n{}", server.log()));
    // Every line of the log is JSON (nothing else was written to stderr).
    for line in server.log().lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok()
                || uuid::Uuid::try_parse(line).is_ok()
                || line.starts_with("Created the first account"),
            "not JSON: {line}"
        );
    }
    let find = |route: &str, status: u64| {
        access
            .iter()
            .find(|v| v["span"]["route"] == route && v["status"] == status)
            .unwrap_or_else(|| panic!("no {route} {status} in {access:#?}"))
    };
    let got = find("/v1/secrets/{id}", 200);
    assert_eq!(got["span"]["request_id"], "proxy-id-123");
    assert_eq!(got["method"], "GET");
    assert!(got["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        find("unmatched", 404)["span"]["request_id"],
        minted.as_str()
    );
    let log = server.log();
    for secret in [
        canary,
        shared.link.split('#').nth(1).unwrap(),
        server.token(),
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    // Paths with ids are logged as their route, never as the path.
    assert!(!log.contains(&format!("/v1/secrets/{}", shared.info.id)));
}
