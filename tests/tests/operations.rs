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
