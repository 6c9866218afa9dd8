//! "Request a secret" end to end (DESIGN §7.2): the CLI asks, a person answers in the
//! responder page, the CLI prints the answer; one answer only; expired and deleted requests;
//! a responder page that refuses a swapped key; the browser and the Rust code open each other's
//! answers; anonymous answers are rate-limited; the answer's webhook is signed and delivered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use seecret_core::api::CreateRequest;
use seecret_core::link::AnswerLink;
use seecret_core::model::RequestStatus;
use seecret_core::request::{RequestPrivateKey, RequestPublicKey};
use seecret_tests::{Receiver, Server, ServerOptions, http, repo_path, run, seecret_bin};
use serde_json::{Value, json};

fn ask(note: &str) -> CreateRequest {
    CreateRequest {
        note: Some(note.into()),
        ..CreateRequest::default()
    }
}

/// The request pages in headless Chromium (tests/js/request-page.mjs).
fn page(mode: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(repo_path("tests/js/request-page.mjs")).arg(mode);
    for a in args {
        cmd.arg(a);
    }
    let artifacts = repo_path("tests/artifacts");
    let _ = std::fs::create_dir_all(&artifacts);
    cmd.env("SCREENSHOT_DIR", artifacts);
    let (code, out, err) = run(&mut cmd, Duration::from_secs(90));
    assert_eq!(code, 0, "browser ({mode}) failed: {err}\n{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("browser said {out:?}"))
}

/// Posts a sealed text answer the way the responder page does, from Rust.
async fn answer(server: &Server, id: &str, public_key: &str, text: &str) -> (u16, Value) {
    let id_parsed = id.parse().unwrap();
    let q = RequestPublicKey::from_base64url("public_key", public_key).unwrap();
    let (k, e) = seecret_core::request::answer_key_for(&id_parsed, &q).unwrap();
    let envelope = seecret_core::crypto::seal(&k, &id_parsed, text.as_bytes()).unwrap();
    let resp = http()
        .post(format!("{}/v1/requests/{id}/answer", server.base))
        .json(&json!({
            "ciphertext": seecret_core::crypto::b64encode(&envelope),
            "ephemeral_public_key": e.to_base64url(),
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn a_cli_request_with_wait_is_answered_in_the_browser_and_printed_by_the_cli() {
    let server = Server::start();
    let mut child = seecret_tests::KillOnDrop(
        Command::new(seecret_bin())
            .args(["request", "--note", "staging DB password", "--wait"])
            .env("SEECRET_SERVER", &server.base)
            .env("SEECRET_TOKEN", server.token())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut link = String::new();
    stdout.read_line(&mut link).unwrap();
    let link = link.trim().to_string();
    assert!(link.starts_with(&format!("{}/r/", server.base)), "{link}");

    let secret = "pässwörd ✓ with spaces\nand a second line";
    let answered = page("answer", &[&link, secret]);
    assert_eq!(answered["state"], "sent", "{answered}");
    assert_eq!(answered["note"], "staging DB password");
    assert_eq!(answered["posted"].as_array().unwrap().len(), 1);
    assert!(
        answered["errors"].as_array().unwrap().is_empty(),
        "{answered}"
    );
    assert!(
        answered["csp"]
            .as_str()
            .unwrap()
            .contains("script-src 'self'"),
        "{answered}"
    );

    // The CLI sees the answer, reveals it with the key it kept in memory, prints it, exits.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        let _ = tx.send(rest);
    });
    let printed = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the CLI printed nothing");
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    let _ = child.0.stderr.take().unwrap().read_to_string(&mut err);
    assert!(status.success(), "{err}");
    assert_eq!(printed, secret);

    // One view: the answer is gone for anyone now, and the responder page says answered.
    let again = page("load", &[&link]);
    assert_eq!(again["state"], "answered", "{again}");
    assert!(again["gone"].as_str().unwrap().contains("already answered"));
    assert!(
        !server.log().contains(secret),
        "the plaintext reached the server log"
    );
}

#[tokio::test]
async fn a_second_answer_is_409_already_answered() {
    let server = Server::start();
    let (req, _d) = server
        .client()
        .request_secret(ask("api key"))
        .await
        .unwrap();
    let id = req.id.to_string();
    let (s, b) = answer(&server, &id, &req.public_key, "first").await;
    assert_eq!((s, b["id"].as_str()), (201, Some(id.as_str())), "{b}");
    let (s, b) = answer(&server, &id, &req.public_key, "second").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("already_answered")),
        "{b}"
    );
    let info = server.client().get_request(req.id).await.unwrap();
    assert_eq!(info.status, RequestStatus::Answered);
}

#[tokio::test]
async fn an_expired_request_is_410_request_expired() {
    let server = Server::start_with(ServerOptions::default().env("SEECRET_MIN_EXPIRATION", "1s"));
    let (req, _d) = server
        .client()
        .request_secret(CreateRequest {
            expiration: Some("1s".parse().unwrap()),
            ..ask("soon gone")
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, b) = answer(&server, &req.id.to_string(), &req.public_key, "late").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (410, Some("request_expired")),
        "{b}"
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_deleted_request_is_410_request_deleted() {
    let server = Server::start();
    let client = server.client();
    let (req, _d) = client.request_secret(ask("never mind")).await.unwrap();
    let deleted = client.delete_request(req.id).await.unwrap();
    assert_eq!(deleted.status, RequestStatus::Deleted);
    let (s, b) = answer(&server, &req.id.to_string(), &req.public_key, "late").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (410, Some("request_deleted")),
        "{b}"
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("deleted"));
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn a_responder_page_whose_fragment_key_differs_refuses_to_encrypt_and_posts_nothing() {
    let server = Server::start();
    let (req, _d) = server
        .client()
        .request_secret(ask("swap me"))
        .await
        .unwrap();
    let other = RequestPrivateKey::generate().public_key().to_base64url();
    let link = format!("{}/r/{}#{other}", server.base, req.id);
    let shown = page("answer", &[&link, "must not leave"]);
    assert_eq!(shown["state"], "keymismatch", "{shown}");
    assert!(
        shown["gone"].as_str().unwrap().contains("different key"),
        "{shown}"
    );
    assert!(shown["posted"].as_array().unwrap().is_empty(), "{shown}");
    let info = server.client().get_request(req.id).await.unwrap();
    assert_eq!(info.status, RequestStatus::Open);
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn a_rust_sealed_answer_opens_in_the_browser_asker_page() {
    let server = Server::start();
    let client = server.client();
    let (req, d) = client.request_secret(ask("interop")).await.unwrap();
    let q = RequestPublicKey::from_base64url("public_key", &req.public_key).unwrap();
    let secret = "sealed by Rust 🦀";
    client
        .answer_request_text(req.id, &q, secret.as_bytes())
        .await
        .unwrap();
    let link = AnswerLink::format(&server.base, &req.id, &d);
    let opened = page("open", &[&link]);
    assert_eq!(opened["state"], "opened", "{opened}");
    assert_eq!(opened["content"], secret);
    assert!(opened["errors"].as_array().unwrap().is_empty(), "{opened}");
    // The private key left the address bar.
    assert!(!opened["url"].as_str().unwrap().contains('#'), "{opened}");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn browser_made_request_keys_and_sealed_answers_open_in_rust() {
    let server = Server::start();
    // newRequestKeys() in the browser: Q and W are those Rust derives from d.
    let keys = page("keys", &[&format!("{}/r/x", server.base)]);
    let d = RequestPrivateKey::from_base64url(keys["privateKey"].as_str().unwrap()).unwrap();
    assert_eq!(
        keys["publicKey"].as_str().unwrap(),
        d.public_key().to_base64url()
    );
    assert_eq!(
        keys["verifier"].as_str().unwrap(),
        d.verifier().to_base64url()
    );
    // sealAnswer() in the browser, posted as is; the Rust CLI opens it with the /a/ link.
    let client = server.client();
    let (req, d) = client.request_secret(ask("interop")).await.unwrap();
    let secret = "sealed by the browser ✓";
    let mut cmd = Command::new("node");
    cmd.arg(repo_path("tests/js/request-page.mjs"))
        .args(["seal", &req.public_key, &req.id.to_string()])
        .arg(format!("{}/r/{}", server.base, req.id))
        .env("TEXT", secret);
    let (code, out, err) = run(&mut cmd, Duration::from_secs(90));
    assert_eq!(code, 0, "{err}");
    let body: Value = serde_json::from_str(out.trim()).unwrap();
    let resp = http()
        .post(format!("{}/v1/requests/{}/answer", server.base, req.id))
        .json(&json!({"ciphertext": body["ciphertext"], "ephemeral_public_key": body["ephemeral_public_key"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let link = AnswerLink::format(&server.base, &req.id, &d);
    let (code, out, err) = run(
        Command::new(seecret_bin()).args(["reveal", &link]),
        Duration::from_secs(30),
    );
    assert_eq!((code, out.as_str()), (0, secret), "{err}");
}

#[tokio::test]
async fn the_cli_keeps_the_key_in_a_private_file_and_reveal_takes_the_request_id() {
    let server = Server::start();
    let config = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        Command::new(seecret_bin())
            .args(["request", "--note", "ci token"])
            .env("SEECRET_SERVER", &server.base)
            .env("SEECRET_TOKEN", server.token())
            .env("XDG_CONFIG_HOME", config.path()),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let link = out.trim();
    let (rest, q) = link.split_once('#').unwrap();
    let id = rest.rsplit('/').next().unwrap();
    assert!(err.contains(&format!("seecret reveal {id}")), "{err}");
    let key_file = config.path().join("seecret/requests").join(id);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (s, _) = answer(&server, id, q, "from the file").await;
    assert_eq!(s, 201);
    let (code, out, err) = run(
        Command::new(seecret_bin())
            .args(["reveal", id])
            .env("XDG_CONFIG_HOME", config.path()),
        Duration::from_secs(30),
    );
    assert_eq!((code, out.as_str()), (0, "from the file"), "{err}");
}

#[tokio::test]
async fn anonymous_answers_are_rate_limited_per_address() {
    let server =
        Server::start_with(ServerOptions::default().env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 3));
    let (req, _d) = server.client().request_secret(ask("flood")).await.unwrap();
    let id = req.id.to_string();
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(
            answer(&server, &id, &req.public_key, &format!("try {i}"))
                .await
                .0,
        );
    }
    assert_eq!(statuses, vec![201, 409, 409, 429]);
    // The limited answer told when to come back.
    let resp = http()
        .post(format!("{}/v1/requests/{id}/answer", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_answer_sends_a_signed_request_answered_webhook() {
    let server = Server::start_with(
        ServerOptions::default().env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32"),
    );
    let receiver = Receiver::start(|_| 204).await;
    let (req, _d) = server
        .client()
        .request_secret(CreateRequest {
            webhook_url: Some(receiver.url.clone()),
            label: Some("for ops".into()),
            ..ask("hooked")
        })
        .await
        .unwrap();
    let secret = req
        .webhook_secret
        .clone()
        .expect("the first webhook URL creates the secret");
    let (s, _) = answer(
        &server,
        &req.id.to_string(),
        &req.public_key,
        "hooked answer",
    )
    .await;
    assert_eq!(s, 201);
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["type"], "seecret.request_answered");
    assert_eq!(body["secret_id"], req.id.to_string());
    assert_eq!(body["label"], "for ops");
    assert_eq!(
        got[0].header("x-seecret-event"),
        Some("seecret.request_answered")
    );
    // X-Seecret-Signature: sha256=hex(HMAC-SHA256(key = bytes after whsec_, raw body)).
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.expose().strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(&got[0].body);
    assert_eq!(
        got[0].header("x-seecret-signature").unwrap(),
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert!(!String::from_utf8_lossy(&got[0].body).contains("hooked answer"));
}
