//! Nothing secret at rest or in logs: after a session of real use with the log at `trace`, no
//! plaintext, key, token or passphrase appears in the SQLite file, its WAL, or the server's log.
//! The CLI encrypts locally: a recording proxy shows it never sends plaintext or key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seecret_core::api::CreateSecret;
use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_tests::{Server, ServerOptions, rpc, run, seecret_bin};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_plaintext_key_token_or_passphrase_reaches_the_database_or_the_log() {
    let mut server = Server::start_with(ServerOptions::default().env("SEECRET_LOG", "trace"));
    let token = server.token().to_string();
    let client = server.client();
    let mut needles: Vec<String> = vec![token.clone()];
    for i in 0..20 {
        let plaintext = format!("PLAINTEXT-CANARY-{i}-{}", uuid::Uuid::new_v4());
        let passphrase = format!("PASSPHRASE-CANARY-{i}");
        let created = client
            .create(&CreateSecret {
                content: Some(plaintext.clone().into()),
                passphrase: Some(passphrase.clone().into()),
                views: Some(2),
                ..Default::default()
            })
            .await
            .unwrap();
        let url = created.url.unwrap();
        let link = Link::parse(&url).unwrap();
        needles.push(url.split('#').nth(1).unwrap().to_string());
        needles.push(plaintext.clone());
        needles.push(passphrase.clone());
        // Reveal once by the server-decrypt path, once by the ciphertext path, plus misses.
        let (s, _, b) = rpc(
            &server.base,
            None,
            json!({"operation": "reveal_seecret",
            "id": link.id.to_string(), "key": url.split('#').nth(1).unwrap(),
            "passphrase": passphrase}),
        )
        .await;
        assert_eq!((s, b["content"].as_str()), (200, Some(plaintext.as_str())));
        let (s, _, _) = rpc(
            &server.base,
            None,
            json!({"operation": "reveal_seecret",
            "id": link.id.to_string(), "key": url.split('#').nth(1).unwrap(),
            "passphrase": "wrong-guess"}),
        )
        .await;
        assert_eq!(s, 403);
        let got = Client::reveal_link(&link, Some(passphrase.into()))
            .await
            .unwrap();
        assert_eq!(got.expose(), plaintext.as_bytes());
        // Client-side encryption: the server only ever holds ciphertext.
        let shared = client
            .share(format!("LOCAL-CANARY-{i}").as_bytes(), Default::default())
            .await
            .unwrap();
        needles.push(format!("LOCAL-CANARY-{i}"));
        needles.push(shared.link.split('#').nth(1).unwrap().to_string());
    }
    // Unrevealed ones too: their ciphertext is at rest, their plaintext must not be.
    let pending = client
        .create(&CreateSecret {
            content: Some("PENDING-CANARY".to_string().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    needles.push("PENDING-CANARY".into());
    needles.push(pending.url.unwrap().split('#').nth(1).unwrap().to_string());

    let status = server.terminate();
    assert!(status.success(), "SIGTERM should exit 0, got {status}");
    let log = server.log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "log was not at trace level"
    );
    for (name, bytes) in seecret_tests::stored_bytes(&server) {
        for n in &needles {
            assert!(!contains(&bytes, n.as_bytes()), "{n} found in {name}");
        }
    }
    for n in &needles {
        assert!(!log.contains(n.as_str()), "{n} found in the server log");
    }
}

/// A TCP relay that records what the client sends.
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let seen = seen2.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(&target).await.unwrap();
                let (mut ri, mut wi) = inbound.split();
                let (mut ro, mut wo) = outbound.split();
                let up = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = ri.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            let _ = wo.shutdown().await;
                            break;
                        }
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = tokio::io::copy(&mut ro, &mut wi);
                let _ = tokio::join!(up, down);
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_round_trips_through_a_pipe_and_never_sends_plaintext_or_key() {
    let server = Server::start();
    let target = server.base.trim_start_matches("http://").to_string();
    let (proxy, seen) = recording_proxy(target).await;
    let secret = "cli-canary-ünï\nsecond line";
    let script = format!(
        "printf '%s' \"$SECRET\" | {bin} share --views 2 --label cli | xargs {bin} reveal",
        bin = seecret_bin().display()
    );
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("SECRET", secret)
                .env("SEECRET_SERVER", &proxy)
                .env("SEECRET_TOKEN", server.token()),
            Duration::from_secs(60),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, secret);
    let sent = seen.lock().unwrap().clone();
    assert!(
        contains(&sent, b"POST /v1/secrets"),
        "the CLI did not go through the proxy"
    );
    assert!(contains(&sent, b"/reveal"));
    assert!(!contains(&sent, b"cli-canary"), "the CLI sent plaintext");
    assert!(!contains(&sent, "ünï".as_bytes()));
}

#[tokio::test]
async fn the_cli_lists_shows_status_and_burns() {
    let server = Server::start();
    let bin = seecret_bin();
    let cli = |args: &[&str]| {
        run(
            Command::new(&bin)
                .args(args)
                .env("SEECRET_SERVER", &server.base)
                .env("SEECRET_TOKEN", server.token()),
            Duration::from_secs(30),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.pem");
    std::fs::write(&file, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n").unwrap();
    let (code, link, err) = cli(&[
        "share",
        file.to_str().unwrap(),
        "--expires",
        "1h",
        "--label",
        "deploy key",
    ]);
    assert_eq!(code, 0, "{err}");
    let link = link.trim();
    let (code, out, _) = cli(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("deploy key") && out.contains("active"),
        "{out}"
    );
    let (code, out, _) = cli(&["status", link, "--json"]);
    assert_eq!(code, 0);
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["views_remaining"], 1);
    let (code, out, _) = cli(&["burn", link]);
    assert_eq!((code, out.trim().ends_with("deleted")), (0, true), "{out}");
    let (code, _, err) = cli(&["reveal", link]);
    assert_ne!(code, 0);
    assert!(err.contains("deleted"), "{err}");
    let (code, _, err) = cli(&["share", "/nonexistent/file"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/file"), "{err}");
}
