//! Clients (CLI, bots, desktop) derive and send the reveal proof; the CLI never prints control characters it did not choose.
//!
//! Also the attacks of someone who holds a link's id but not its key (DESIGN §7.1): a keyless
//! reveal, keyless wrong passphrases, a keyless status call, and the reveal page as an oracle.

use std::process::Command;
use std::time::Duration;

use seecret_core::client::{Client, ShareOptions};
use seecret_core::crypto::{RevealProof, SecretKey};
use seecret_core::filestream::FileMeta;
use seecret_core::link::Link;
use seecret_tests::{Server, http, rpc, run};
use serde_json::{Value, json};

/// A text secret the server seals; returns the link.
async fn text_secret(server: &Server, extra: Value) -> Link {
    let mut body = json!({"operation": "create_seecret", "content": "the real secret", "views": 2});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, _, created) = rpc(&server.base, Some(server.token()), body).await;
    assert_eq!(s, 200, "{created}");
    Link::parse(created["url"].as_str().unwrap()).unwrap()
}

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn proof(key: &SecretKey) -> String {
    RevealProof::of_key(key).to_base64url().to_string()
}

/// What the owner sees of a secret: views left and how many views were logged.
async fn owner_view(server: &Server, link: &Link) -> (u64, usize) {
    let (s, _, got) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "get_seecret", "id": link.id.to_string()}),
    )
    .await;
    assert_eq!(s, 200, "{got}");
    (
        got["views_remaining"].as_u64().unwrap(),
        got["view_log"].as_array().map_or(0, Vec::len),
    )
}

/// The answer for an id that does not exist, to compare refusals with.
async fn unknown_id_answer(server: &Server) -> (u16, Value) {
    post(
        server,
        &format!("/v1/secrets/{}/reveal", uuid::Uuid::now_v7()),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn a_reveal_without_the_key_is_an_unknown_id_and_uses_no_view() {
    let server = Server::start();
    let link = text_secret(&server, json!({})).await;
    let id = link.id.to_string();
    let unknown = unknown_id_answer(&server).await;
    assert_eq!(unknown.0, 404);
    let wrong = SecretKey::generate();
    let attempts = [
        json!({}),
        json!({"proof": proof(&wrong)}),
        json!({"proof": "not a proof"}),
        json!({"key": wrong.to_base64url().as_str()}),
    ];
    for body in attempts {
        let got = post(&server, &format!("/v1/secrets/{id}/reveal"), body.clone()).await;
        assert_eq!(got, unknown, "{body}: the id alone revealed something");
        let mut rpc_body = body.clone();
        rpc_body["operation"] = json!("reveal_seecret");
        rpc_body["id"] = json!(id);
        let (s, _, b) = rpc(&server.base, None, rpc_body).await;
        assert_eq!((s, &b), (404, &unknown.1), "{body} through /api.php");
    }
    assert_eq!(owner_view(&server, &link).await, (2, 0), "a view was used");
    // The link holder is unharmed, with the key or with the proof only.
    let (s, b) = post(
        &server,
        &format!("/v1/secrets/{id}/reveal"),
        json!({"proof": proof(&link.key)}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["ciphertext"].is_string() && b.get("content").is_none(),
        "{b}"
    );
    let got = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(got.expose(), b"the real secret");
}

#[tokio::test]
async fn wrong_passphrases_without_the_key_cannot_lock_out_the_recipient() {
    let server = Server::start();
    let link = text_secret(&server, json!({"passphrase": "correct horse"})).await;
    let id = link.id.to_string();
    let unknown = unknown_id_answer(&server).await;
    for i in 0..7 {
        let got = post(
            &server,
            &format!("/v1/secrets/{id}/reveal"),
            json!({"passphrase": format!("guess {i}")}),
        )
        .await;
        assert_eq!(got, unknown, "keyless attempt {i} was evaluated");
    }
    assert_eq!(owner_view(&server, &link).await, (2, 0));
    let got = Client::reveal_link(&link, Some("correct horse".to_string().into()))
        .await
        .expect("the recipient was locked out by someone without the key");
    assert_eq!(got.expose(), b"the real secret");
}

#[tokio::test]
async fn the_status_and_the_page_tell_nothing_without_the_proof() {
    let server = Server::start();
    let link = text_secret(&server, json!({"passphrase": "pw"})).await;
    let id = link.id.to_string();
    // The page is the same document for a live id and an unknown one.
    let page = |id: String| {
        let base = server.base.clone();
        async move {
            let r = http().get(format!("{base}/s/{id}")).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let live = page(id.clone()).await;
    let unknown = page(uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(
        live, unknown,
        "the page tells a live id from an unknown one"
    );
    assert_eq!(live.0, 200);

    let status = format!("/v1/secrets/{id}/status");
    let (s, _) = post(&server, &status, json!({})).await;
    assert!(
        s == 400 || s == 404 || s == 422,
        "status without a proof: {s}"
    );
    let (s, b) = post(
        &server,
        &status,
        json!({"proof": proof(&SecretKey::generate())}),
    )
    .await;
    let (us, ub) = post(
        &server,
        &format!("/v1/secrets/{}/status", uuid::Uuid::now_v7()),
        json!({"proof": proof(&SecretKey::generate())}),
    )
    .await;
    assert_eq!((s, &b), (404, &ub), "a wrong proof learned something");
    assert_eq!(us, 404);
    let (s, b) = post(&server, &status, json!({"proof": proof(&link.key)})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["kind"], "text");
    assert_eq!(b["passphrase_protected"], true);
    assert_eq!(b["views_remaining"], 2);
    assert_eq!(
        owner_view(&server, &link).await,
        (2, 0),
        "status used a view"
    );
}

#[tokio::test]
async fn a_client_sealed_secret_without_a_verifier_is_refused() {
    let server = Server::start();
    let key = SecretKey::generate();
    let id = seecret_core::model::SecretId::new();
    let envelope = seecret_core::crypto::seal(&key, &id, b"sealed here").unwrap();
    let body = json!({"operation": "create_seecret", "id": id.to_string(),
        "ciphertext": seecret_core::crypto::b64encode(&envelope)});
    let (s, _, b) = rpc(&server.base, Some(server.token()), body.clone()).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("verifier"),
        "{b}"
    );

    // A sealed file upload without one stores nothing.
    let form = reqwest::multipart::Form::new()
        .text("id", seecret_core::model::SecretId::new().to_string())
        .part(
            "ciphertext",
            reqwest::multipart::Part::bytes(vec![0u8; 200]).file_name("sealed"),
        );
    let resp = http()
        .post(format!("{}/v1/secrets", server.base))
        .bearer_auth(server.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let b: Value = resp.json().await.unwrap();
    assert!(
        b["error"]["message"].as_str().unwrap().contains("verifier"),
        "{b}"
    );

    // With its verifier the same secret is accepted, and only its proof reveals it.
    let mut with = body;
    with["verifier"] = json!(RevealProof::of_key(&key).verifier().to_base64url());
    let (s, _, b) = rpc(&server.base, Some(server.token()), with).await;
    assert_eq!(s, 200, "{b}");
    let link = Link {
        base: server.base.clone(),
        id,
        key,
    };
    let got = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(got.expose(), b"sealed here");
}

#[tokio::test]
async fn the_cli_never_prints_control_characters_from_a_sealed_file_name() {
    let server = Server::start();
    let client = server.client();
    let evil = "../evil\u{1b}[31m\u{202e}gpj.exe";
    let share = || async {
        let data = b"payload".to_vec();
        client
            .share_file(
                std::io::Cursor::new(data.clone()),
                FileMeta {
                    name: evil.to_string(),
                    media_type: "text/plain\u{1b}[2J".to_string(),
                    size: Some(data.len() as u64),
                },
                ShareOptions::default(),
                None,
            )
            .await
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        run(
            Command::new(seecret_tests::seecret_bin()).args(args),
            Duration::from_secs(30),
        )
    };
    let unsafe_char = |c: char| c == '\u{1b}' || c == '\u{202e}';

    // To a path the user chose: the report line shows the name, escaped.
    let shared = share().await;
    let out = dir.path().join("chosen.bin");
    let (code, stdout, stderr) =
        cli(&["reveal", shared.link.as_str(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"payload");
    assert!(
        !stderr.chars().any(unsafe_char) && !stdout.chars().any(unsafe_char),
        "raw control characters reached the terminal: {stderr:?}"
    );
    assert!(stderr.contains("gpj.exe"), "{stderr:?}");

    // Into a directory: saved under a cleaned base name, inside it.
    let shared = share().await;
    let into = dir.path().join("inbox");
    std::fs::create_dir(&into).unwrap();
    let (code, _, stderr) = cli(&["reveal", shared.link.as_str(), "-o", into.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.chars().any(unsafe_char), "{stderr:?}");
    let names: Vec<String> = std::fs::read_dir(&into)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["evil[31mgpj.exe".to_string()]);
    assert!(!dir.path().join("evil[31mgpj.exe").exists());
}

/// Makes a secret look as if it was stored before verifiers existed.
fn forget_verifier(server: &Server, id: &str) {
    let sql = format!("UPDATE secrets SET verifier = NULL WHERE id = '{id}'");
    let (code, _, err) = match &server.database_url {
        Some(url) => run(
            Command::new("psql")
                .arg(url)
                .arg("-v")
                .arg("ON_ERROR_STOP=1")
                .arg("-qAtc")
                .arg(&sql),
            Duration::from_secs(30),
        ),
        None => {
            seecret_tests::sqlite(&server.db_path(), &sql);
            (0, String::new(), String::new())
        }
    };
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn a_secret_stored_before_verifiers_reveals_with_its_key_only() {
    let server = Server::start();
    let link = text_secret(&server, json!({})).await;
    let id = link.id.to_string();
    forget_verifier(&server, &id);
    let unknown = unknown_id_answer(&server).await;
    let reveal = format!("/v1/secrets/{id}/reveal");
    // A bare proof cannot be checked without a verifier, so it proves nothing.
    let got = post(&server, &reveal, json!({"proof": proof(&link.key)})).await;
    assert_eq!(got, unknown);
    let got = post(
        &server,
        &format!("/v1/secrets/{id}/status"),
        json!({"proof": proof(&link.key)}),
    )
    .await;
    assert_eq!(got.0, 404);
    let got = post(&server, &reveal, json!({})).await;
    assert_eq!(got, unknown);
    assert_eq!(owner_view(&server, &link).await, (2, 0));
    // The key still works, checked by decrypting: a wrong one uses no view.
    let (s, b) = post(
        &server,
        &reveal,
        json!({"key": SecretKey::generate().to_base64url().as_str()}),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_key")));
    let (s, b) = post(
        &server,
        &reveal,
        json!({"key": link.key.to_base64url().as_str()}),
    )
    .await;
    assert_eq!(
        (s, b["content"].as_str()),
        (200, Some("the real secret")),
        "{b}"
    );
    assert_eq!(owner_view(&server, &link).await, (1, 1));
}
