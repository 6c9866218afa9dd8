//! Ownership of ids and blobs, text hygiene, remanence.
//!
//! - Another account that posts a create with a victim's id (file or text, RPC or REST) gets 409
//!   `id_taken` and the victim's recipient still gets the exact content.
//! - Labels and clear-text file names with bidi overrides or invisible characters are refused;
//!   names sealed by the server lose them.
//! - After a reveal erases an envelope and a sweep runs, its bytes are neither in the database
//!   file nor in its WAL; orphan blobs and staging leftovers older than an hour are swept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use seecret_core::client::{Client, RevealedContent};
use seecret_core::crypto::{self, RevealProof, SecretKey};
use seecret_core::filestream::{Encryptor, FileMeta};
use seecret_core::link::Link;
use seecret_core::model::SecretId;
use seecret_tests::{Server, ServerOptions, eventually, http, rpc, run, seecret_bin, stored_bytes};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Creates a second account through the operator's CLI; returns its token.
fn second_account(server: &Server, name: &str) -> String {
    let mut cmd = Command::new(seecret_bin());
    cmd.args(["account", "create", "--name", name])
        .arg("--data-dir")
        .arg(&server.data_dir);
    if let Some(url) = &server.database_url {
        cmd.arg("--database-url").arg(url);
    }
    let (code, out, err) = run(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, 0, "account create: {err}");
    out.lines().last().unwrap().trim().to_string()
}

fn cli(server: &Server, dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(
        Command::new(seecret_bin())
            .args(args)
            .current_dir(dir)
            .env("SEECRET_SERVER", &server.base)
            .env("SEECRET_TOKEN", server.token()),
        Duration::from_secs(60),
    )
}

fn pseudo_random(size: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15 ^ seed;
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    data
}

fn id_of(link: &str) -> String {
    link.split("/s/")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .to_string()
}

/// A multipart create of a client-sealed file under `id`, posted to `path` with `token`.
async fn post_sealed(
    server: &Server,
    path: &str,
    token: &str,
    id: &str,
    sealed: Vec<u8>,
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(sealed)
        .file_name("sealed")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("operation", "create_seecret")
        .text("id", id.to_string())
        .text("expiration", "1h")
        // The attacker's own key: any well-formed verifier passes the shape check.
        .text(
            "verifier",
            RevealProof::of_key(&SecretKey::generate())
                .verifier()
                .to_base64url(),
        )
        .part("ciphertext", part);
    let resp = http()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A valid Seecret file stream sealed for `id` under a key of the attacker's own.
fn sealed_stream(id: &str, content: &[u8]) -> Vec<u8> {
    let id: SecretId = id.parse().unwrap();
    let meta = FileMeta {
        name: "evil.txt".into(),
        media_type: "text/plain".into(),
        size: Some(content.len() as u64),
    };
    let mut enc = Encryptor::new(&SecretKey::generate(), &id, &meta).unwrap();
    let mut out = Vec::new();
    enc.update(content, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    out
}

fn blob_dir(server: &Server) -> PathBuf {
    server.data_dir.join("blobs")
}

fn blob_files(server: &Server) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(blob_dir(server))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Each blob file's name and the SHA-256 of its bytes.
fn blob_digests(server: &Server) -> Vec<(PathBuf, String)> {
    blob_files(server)
        .into_iter()
        .map(|p| {
            let digest = hex::encode(Sha256::digest(std::fs::read(&p).unwrap()));
            (p, digest)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_cannot_overwrite_or_delete_a_file_secret_by_its_id() {
    let server = Server::start();
    let b_token = second_account(&server, "mallory");
    let dir = tempfile::tempdir().unwrap();
    let content = pseudo_random(200_000, 1);
    let path = dir.path().join("contract.pdf");
    std::fs::write(&path, &content).unwrap();
    let (code, link, err) = cli(&server, dir.path(), &["share", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let link = link.trim().to_string();
    let id = id_of(&link);
    let before = blob_digests(&server);
    assert_eq!(before.len(), 1);

    // One byte (what the issue ran), then a well-formed stream: RPC and REST, and even the
    // owner's own account reusing its id. The damage is checked first, the answers last.
    let mut answers = Vec::new();
    for (route, token, sealed) in [
        ("/api.php", b_token.as_str(), vec![0x41]),
        ("/v1/secrets", b_token.as_str(), vec![0x41]),
        (
            "/api.php",
            b_token.as_str(),
            sealed_stream(&id, b"overwritten"),
        ),
        (
            "/v1/secrets",
            server.token(),
            sealed_stream(&id, b"overwritten"),
        ),
    ] {
        answers.push((route, post_sealed(&server, route, token, &id, sealed).await));
    }
    let after = blob_digests(&server);
    assert_eq!(after, before, "the blob store changed");

    let (_, _, got) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "get_seecret", "id": id}),
    )
    .await;
    assert_eq!(got["status"], "active", "{got}");
    let (_, _, list) = rpc(
        &server.base,
        Some(&b_token),
        json!({"operation": "list_seecrets"}),
    )
    .await;
    assert_eq!(list["seecrets"].as_array().unwrap().len(), 0, "{list}");

    let out = dir.path().join("received.pdf");
    let (code, _, err) = cli(
        &server,
        dir.path(),
        &["reveal", &link, "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "the recipient could not download: {err}");
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&out).unwrap())),
        hex::encode(Sha256::digest(&content)),
        "the recipient got other bytes"
    );
    for (route, (status, body)) in answers {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("id_taken")),
            "{route}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_create_with_a_taken_id_is_409_and_changes_nothing() {
    let server = Server::start();
    let b_token = second_account(&server, "mallory");
    let shared = server
        .client()
        .share(b"the launch code", Default::default())
        .await
        .unwrap();
    let id = shared.info.id;
    let forger = SecretKey::generate();
    let forged = crypto::b64encode(&crypto::seal(&forger, &id, b"forged").unwrap());
    let verifier = RevealProof::of_key(&forger).verifier().to_base64url();
    let body = json!({"id": id, "ciphertext": forged, "verifier": verifier, "expiration": "1h"});
    let mut rpc_body = body.clone();
    rpc_body["operation"] = json!("create_seecret");
    let (status, _, answer) = rpc(&server.base, Some(&b_token), rpc_body).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("id_taken")),
        "{answer}"
    );
    for token in [b_token.as_str(), server.token()] {
        let resp = http()
            .post(format!("{}/v1/secrets", server.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("id_taken")),
            "{answer}"
        );
    }
    let link = Link::parse(&shared.link).unwrap();
    let revealed = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(revealed.expose(), b"the launch code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_and_invisible_characters_never_reach_a_stored_name() {
    let server = Server::start();
    let token = server.token();
    let (status, _, answer) = rpc(
        &server.base,
        Some(token),
        json!({"operation": "create_seecret", "content": "x", "label": "invoice\u{202e}fdp.exe"}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "label", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("label"),
        "{answer}"
    );
    for label in [
        "pay\u{200b}roll",
        "a\u{2066}b\u{2069}",
        "\u{feff}bom",
        "soft\u{ad}hyphen",
    ] {
        let (status, _, answer) = rpc(
            &server.base,
            Some(token),
            json!({"operation": "create_seecret", "content": "x", "label": label}),
        )
        .await;
        assert_eq!(status, 400, "{label:?}: {answer}");
    }

    // Updating a label is checked the same way.
    let (status, _, created) = rpc(
        &server.base,
        Some(token),
        json!({"operation": "create_seecret", "content": "x", "label": "invoice.pdf"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (status, _, answer) = rpc(
        &server.base,
        Some(token),
        json!({"operation": "update_seecret", "id": created["id"], "label": "invoice\u{202e}fdp.exe"}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (400, Some("label")),
        "{answer}"
    );

    // A clear-text file name is refused; a name the server seals loses the characters.
    let form = reqwest::multipart::Form::new()
        .text("operation", "create_seecret")
        .text("file_name", "report\u{202e}fdp.exe")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"data".to_vec()).file_name("report.txt"),
        );
    let resp = http()
        .post(format!("{}/api.php", server.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["error"]["field"], "file_name", "{answer}");

    let form = reqwest::multipart::Form::new()
        .text("operation", "create_seecret")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"data".to_vec()).file_name("invoice\u{202e}fdp.exe"),
        );
    let resp = http()
        .post(format!("{}/api.php", server.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let file: Value = resp.json().await.unwrap();
    let link = Link::parse(file["url"].as_str().unwrap()).unwrap();
    let got = Client::reveal_link_to(&link, None, |_| async { Ok(tokio::io::sink()) }, None)
        .await
        .unwrap();
    let RevealedContent::File(meta, _) = got else {
        panic!("not a file")
    };
    assert_eq!(meta.name, "invoicefdp.exe");

    let (_, _, list) = rpc(
        &server.base,
        Some(token),
        json!({"operation": "list_seecrets"}),
    )
    .await;
    let seecrets = list["seecrets"].as_array().unwrap();
    assert_eq!(seecrets.len(), 2, "{list}");
    for s in seecrets {
        for field in ["label", "file_name"] {
            if let Some(text) = s[field].as_str() {
                assert!(
                    !text.chars().any(seecret_core::text::is_hidden_char),
                    "listed {field} {text:?}"
                );
            }
        }
    }
    assert_eq!(seecrets[1]["label"], "invoice.pdf");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_envelope_leaves_no_copy_in_the_database_or_its_wal() {
    let server =
        Server::start_with(ServerOptions::default().env("SEECRET_SWEEP_INTERVAL", "200ms"));
    let id = SecretId::new();
    let key = SecretKey::generate();
    let plain = pseudo_random(20_000, 7);
    let envelope = crypto::seal(&key, &id, &plain).unwrap();
    let client = server.client();
    let created = client
        .create(&seecret_core::api::CreateSecret {
            id: Some(id),
            ciphertext: Some(crypto::b64encode(&envelope)),
            verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.id, id);
    // Three windows of the ciphertext: any one of them found means a copy survived. As raw
    // bytes (SQLite's file and WAL) and as hex (how pg_dump writes a bytea).
    let windows: Vec<Vec<u8>> = [100, 10_000, 19_900]
        .iter()
        .flat_map(|&at| {
            let w = &envelope[at..at + 64];
            [w.to_vec(), hex::encode(w).into_bytes()]
        })
        .collect();
    let stored = stored_bytes(&server);
    assert!(
        stored
            .iter()
            .any(|(_, bytes)| windows.iter().any(|w| contains(bytes, w))),
        "the envelope should be stored before the reveal"
    );

    let link = Link::parse(&Link::format(&server.base, &id, &key)).unwrap();
    let revealed = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(revealed.expose(), &plain[..]);

    let clean = eventually(Duration::from_secs(10), || async {
        let left: Vec<String> = stored_bytes(&server)
            .into_iter()
            .filter(|(_, bytes)| windows.iter().any(|w| contains(bytes, w)))
            .map(|(name, _)| name)
            .collect();
        left.is_empty().then_some(())
    })
    .await;
    let left: Vec<String> = stored_bytes(&server)
        .into_iter()
        .filter(|(_, bytes)| windows.iter().any(|w| contains(bytes, w)))
        .map(|(name, _)| name)
        .collect();
    assert!(clean.is_some(), "envelope bytes remain in {left:?}");
}

fn age(path: &Path, by: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - by)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_blobs_and_staging_leftovers_older_than_an_hour_are_swept() {
    let server =
        Server::start_with(ServerOptions::default().env("SEECRET_SWEEP_INTERVAL", "200ms"));
    let dir = tempfile::tempdir().unwrap();
    let content = pseudo_random(100_000, 3);
    let path = dir.path().join("live.bin");
    std::fs::write(&path, &content).unwrap();
    let (code, link, err) = cli(&server, dir.path(), &["share", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let link = link.trim().to_string();
    let live = blob_files(&server);
    assert_eq!(live.len(), 1);
    // A live secret's blob is kept however old it is: a row names it.
    age(&live[0], Duration::from_secs(3 * 3600));

    let blobs = blob_dir(&server);
    let old_orphan = blobs.join(uuid::Uuid::new_v4().simple().to_string());
    let fresh_orphan = blobs.join(uuid::Uuid::new_v4().simple().to_string());
    let old_staging = blobs.join(format!("{}#1", uuid::Uuid::new_v4().simple()));
    let fresh_staging = blobs.join(format!("{}#3", uuid::Uuid::new_v4().simple()));
    for p in [&old_orphan, &fresh_orphan, &old_staging, &fresh_staging] {
        std::fs::write(p, b"leftover ciphertext").unwrap();
    }
    age(&old_orphan, Duration::from_secs(2 * 3600));
    age(&old_staging, Duration::from_secs(2 * 3600));

    let swept = eventually(Duration::from_secs(10), || async {
        (!old_orphan.exists() && !old_staging.exists()).then_some(())
    })
    .await;
    assert!(swept.is_some(), "left: {:?}", blob_files(&server));
    // Both gone means a sweep looked at everything, the fresh ones included.
    assert!(
        fresh_orphan.exists(),
        "a fresh orphan (an upload in progress) was removed"
    );
    assert!(fresh_staging.exists(), "a fresh staging file was removed");
    assert!(live[0].exists(), "a live secret's blob was removed");

    let out = dir.path().join("received.bin");
    let (code, _, err) = cli(
        &server,
        dir.path(),
        &["reveal", &link, "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs moto (python3 -m moto.server): run with --features seecret-tests/external"
)]
async fn stale_s3_multipart_uploads_are_aborted_by_the_sweeper() {
    let moto = seecret_tests::Moto::start("seecret-test").await;
    let endpoint = moto.endpoint.clone();
    // What a server killed mid-upload leaves: an incomplete multipart upload with one part.
    let started = http()
        .post(format!("{endpoint}/seecret-test/blobs/abandoned?uploads"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let upload_id = started
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .expect("an upload id")
        .to_string();
    let part = http()
        .put(format!(
            "{endpoint}/seecret-test/blobs/abandoned?partNumber=1&uploadId={upload_id}"
        ))
        .body(vec![9u8; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert!(part.status().is_success());
    let pending = || async {
        http()
            .get(format!("{endpoint}/seecret-test?uploads"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(pending().await.contains(&upload_id));

    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_BLOB_STORE", "s3://seecret-test/blobs")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("SEECRET_SWEEP_INTERVAL", "200ms")
            .env("SEECRET_LEFTOVER_AGE", "1s"),
    );
    let dir = tempfile::tempdir().unwrap();
    let content = pseudo_random(70_000, 5);
    let path = dir.path().join("live.bin");
    std::fs::write(&path, &content).unwrap();
    let (code, link, err) = cli(&server, dir.path(), &["share", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    let aborted = eventually(Duration::from_secs(15), || async {
        (!pending().await.contains(&upload_id)).then_some(())
    })
    .await;
    assert!(
        aborted.is_some(),
        "the stale upload is still pending:\n{}",
        server.log()
    );
    // Time itself is the subject here: the live blob must outlive the leftover age under a
    // few sweeps, and stay because a row names it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let out = dir.path().join("received.bin");
    let (code, _, err) = cli(
        &server,
        dir.path(),
        &["reveal", link.trim(), "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "a live blob was swept: {err}");
    assert_eq!(std::fs::read(&out).unwrap(), content);
}
