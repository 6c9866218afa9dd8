//! The web app at `/` in headless Chromium (tests/js/web-app.mjs): sign in with the token, share
//! text and files sealed in the browser, links that reveal the exact bytes, Burn, My secrets,
//! anonymous sharing on and off, and axe-core finding no serious or critical violation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use seecret_tests::{Server, ServerOptions, http, repo_path, run};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback proxy in front of the server that records every byte browsers send through it:
/// what the server received, to search for plaintext and keys.
struct Recorder {
    base: String,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let upstream = target.trim_start_matches("http://").to_string();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    let up = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().unwrap().extend_from_slice(&buf[..n]);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Self { base, sent }
    }

    fn bytes(&self) -> Vec<u8> {
        self.sent.lock().unwrap().clone()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs tests/js/web-app.mjs; its JSON answer.
fn browser(base: &str, mode: &str, env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(repo_path("tests/js/web-app.mjs"))
        .arg(base)
        .arg(mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let artifacts = repo_path("tests/artifacts");
    let _ = std::fs::create_dir_all(&artifacts);
    cmd.env("SCREENSHOT_DIR", artifacts);
    let (code, out, err) = run(&mut cmd, Duration::from_secs(180));
    assert_eq!(code, 0, "browser ({mode}) failed: {err}\n{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("browser said {out:?}"))
}

/// The reveal page (tests/js/reveal-page.mjs) in `mode`.
fn reveal_page(link: &str, mode: &str, env: &[(&str, &Path)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(repo_path("tests/js/reveal-page.mjs"))
        .arg(link)
        .arg(mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out, err) = run(&mut cmd, Duration::from_secs(120));
    assert_eq!(code, 0, "reveal page ({mode}) failed: {err}\n{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("reveal page said {out:?}"))
}

fn no_serious_violations(axe: &Value, what: &str) {
    assert_eq!(
        axe.as_array().map(Vec::len),
        Some(0),
        "axe-core found serious or critical violations on {what}: {axe}"
    );
}

fn random_file(dir: &Path, name: &str, size: usize) -> (PathBuf, Vec<u8>) {
    let path = dir.join(name);
    let mut data = Vec::with_capacity(size);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ size as u64;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

fn key_of(link: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(link.split('#').nth(1).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_shares_text_and_a_5_mb_file_that_reveal_exactly_and_the_server_sees_neither() {
    let server = Server::start();
    let proxy = Recorder::start(&server.base).await;
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = random_file(dir.path(), "backup.tar", 5 * 1024 * 1024);
    let text = "db: postgres://app:Sup3r-s3cret-ünïcödé@db.internal/app\nsecond line";
    let shared = browser(
        &proxy.base,
        "share",
        &[
            ("TOKEN", server.token()),
            ("TEXT", text),
            ("LABEL", "staging database"),
            ("FILE", file.to_str().unwrap()),
        ],
    );
    for state in ["signed_out", "signed_in", "result"] {
        no_serious_violations(&shared["axe"][state], state);
    }
    assert!(shared["qr"].as_u64().unwrap() > 0, "no QR code: {shared}");
    let text_link = shared["text_link"].as_str().unwrap().to_string();
    let file_link = shared["file_link"].as_str().unwrap().to_string();
    assert!(
        text_link.starts_with(&format!("{}/s/", server.base)),
        "{text_link}"
    );

    // What went through the proxy: the requests, with neither plaintext nor any key.
    let sent = proxy.bytes();
    assert!(
        contains(&sent, b"POST /v1/secrets"),
        "the browser did not create through the proxy"
    );
    assert!(
        !contains(&sent, text.as_bytes()),
        "the text reached the server"
    );
    assert!(!contains(&sent, "Sup3r-s3cret".as_bytes()));
    for at in [0, 1 << 20, 3 << 20, bytes.len() - 64] {
        assert!(
            !contains(&sent, &bytes[at..at + 48]),
            "file bytes at {at} reached the server"
        );
    }
    for link in [&text_link, &file_link] {
        let key = key_of(link);
        let fragment = link.split('#').nth(1).unwrap();
        assert!(
            !contains(&sent, fragment.as_bytes()),
            "a key reached the server"
        );
        assert!(!contains(&sent, &key), "raw key bytes reached the server");
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(&key);
        assert!(!contains(&sent, std_b64.trim_end_matches('=').as_bytes()));
        assert!(
            !server.log().contains(fragment),
            "a key is in the server log"
        );
    }

    // The links reveal the exact bytes, in the reveal page.
    let revealed = reveal_page(&text_link, "reveal", &[]);
    assert_eq!(revealed["content"], text);
    let saved = dir.path().join("saved.tar");
    let got = reveal_page(&file_link, "reveal-file", &[("DOWNLOAD_TO", &saved)]);
    assert_eq!(got["name"], "backup.tar", "{got}");
    let saved = std::fs::read(&saved).unwrap();
    assert_eq!(saved.len(), bytes.len());
    assert_eq!(
        hex::encode(Sha256::digest(&saved)),
        hex::encode(Sha256::digest(&bytes)),
        "the revealed file differs"
    );
    // The label is the owner's note, kept in clear; the list shows it.
    let list = server.client().list(&Default::default()).await.unwrap();
    assert!(
        list.seecrets
            .iter()
            .any(|s| s.label.as_deref() == Some("staging database"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burn_from_the_result_erases_the_secret_and_my_secrets_lists_it_by_keyboard() {
    let server = Server::start();
    let client = server.client();
    // One more, made elsewhere, that the list shows as active with a Burn button.
    let other = client
        .create(&seecret_core::api::CreateSecret {
            content: Some("from the API".to_string().into()),
            label: Some("api-made".into()),
            views: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    let page = browser(
        &server.base,
        "mine",
        &[
            ("TOKEN", server.token()),
            ("TEXT", "burn me"),
            ("LABEL", "to burn"),
        ],
    );
    assert!(
        page["burned"].as_str().unwrap().starts_with("Burned"),
        "{page}"
    );
    assert_eq!(page["selected"], "true", "End did not select My secrets");
    assert_eq!(page["focused"], "tab-mine");
    no_serious_violations(&page["axe"], "My secrets");
    let rows = page["rows"].as_array().unwrap();
    let burned = rows.iter().find(|r| r["label"] == "to burn").unwrap();
    assert_eq!(burned["status"], "deleted");
    assert_eq!(burned["burn"], false);
    let active = rows.iter().find(|r| r["label"] == "api-made").unwrap();
    assert_eq!(
        (&active["status"], &active["views"], &active["burn"]),
        (&json!("active"), &json!("3 of 3"), &json!(true))
    );
    assert_eq!(active["id"], other.id.to_string());
    // The server agrees, and the link is dead.
    let link = page["link"].as_str().unwrap();
    let id = link.split("/s/").nth(1).unwrap().split('#').next().unwrap();
    let info = client.get(id.parse().unwrap()).await.unwrap();
    assert_eq!(info.status.as_str(), "deleted");
    let gone = reveal_page(link, "gone", &[]);
    assert_eq!(gone["state"], "gone", "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sharing_on_takes_text_within_its_caps_and_refuses_files() {
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_PUBLIC_CREATE", "true")
            .env("SEECRET_PUBLIC_CREATE_PER_MINUTE", 8),
    );
    let c = http();
    let cfg: Value = c
        .get(format!("{}/v1/web-config", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["public_create"], true);
    assert_eq!(
        (
            &cfg["public"]["max_views"],
            &cfg["public"]["max_expiration"]
        ),
        (&json!(10), &json!("1w"))
    );

    let page = browser(&server.base, "anonymous", &[("TEXT", "no account needed")]);
    assert_eq!(page["mode"], "anonymous", "{page}");
    assert_eq!(page["files_disabled"], true);
    assert_eq!(page["tabs"], json!(["Share"]));
    assert_eq!(page["burn_hidden"], true);
    no_serious_violations(&page["axe"], "/ in anonymous mode");
    let link = page["link"].as_str().unwrap_or_else(|| panic!("{page}"));
    let revealed = reveal_page(link, "reveal", &[]);
    assert_eq!(revealed["content"], "no account needed");
    // Owned by the public account, not by the admin's.
    let mine = server.client().list(&Default::default()).await.unwrap();
    assert!(
        mine.seecrets.is_empty(),
        "the admin owns an anonymous secret"
    );

    // The caps, each with a message that says what to do.
    let sealed = |views: u32, expiration: &str| {
        let key = seecret_core::crypto::SecretKey::generate();
        let id = seecret_core::model::SecretId::new();
        let env = seecret_core::crypto::seal(&key, &id, b"capped").unwrap();
        json!({"id": id.to_string(), "ciphertext": seecret_core::crypto::b64encode(&env),
               "verifier": seecret_core::crypto::RevealProof::of_key(&key).verifier().to_base64url(),
               "views": views, "expiration": expiration})
    };
    let post = |body: Value| {
        let c = c.clone();
        let url = format!("{}/v1/public/secrets", server.base);
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").cloned();
            let body: Value = r.json().await.unwrap();
            (status, body, retry)
        }
    };
    let (s, b, _) = post(sealed(11, "1h")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("public_limit"))
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10 views"),
        "{b}"
    );
    let (s, b, _) = post(sealed(1, "8d")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("public_limit"))
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("within 1w"),
        "{b}"
    );
    let mut hooked = sealed(1, "1h");
    hooked["webhook_url"] = json!("https://hooks.example.com/x");
    let (s, b, _) = post(hooked).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("public_limit"))
    );
    let (s, b, _) = post(json!({"content": "plaintext to the server"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("public_limit"))
    );
    let form = reqwest::multipart::Form::new().text("views", "1").part(
        "file",
        reqwest::multipart::Part::bytes(b"a file".to_vec()).file_name("a.txt"),
    );
    let r = c
        .post(format!("{}/v1/public/secrets", server.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text only"),
        "{b}"
    );

    // Per address: creations (refused ones included) are counted; within the minute's 8 the
    // next ones pass, then 429 with Retry-After (the budget refills as time passes, so only the
    // bound is exact).
    let mut created = 0;
    let (s, b, retry) = loop {
        let (s, b, retry) = post(sealed(10, "7d")).await;
        if s != 201 {
            break (s, b, retry);
        }
        created += 1;
        assert!(created <= 8, "more than 8 anonymous creates in a minute");
    };
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(retry.is_some(), "429 without Retry-After");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sharing_off_the_page_asks_for_a_token_and_the_api_answers_401() {
    let server = Server::start();
    let c = http();
    let cfg: Value = c
        .get(format!("{}/v1/web-config", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["public_create"], false);
    assert!(cfg.get("public").is_none());
    for path in ["/v1/public/secrets", "/v1/secrets"] {
        let r = c
            .post(format!("{}{path}", server.base))
            .json(&json!({"content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let page = browser(&server.base, "signed-out", &[]);
    assert_eq!(page["mode"], "signed-out", "{page}");
    assert_eq!(page["app_hidden"], true);
    assert!(
        page["lead"].as_str().unwrap().contains("API token"),
        "{page}"
    );
    assert!(
        page["refused"].as_str().unwrap().contains("not valid"),
        "{page}"
    );
    assert_eq!(page["kept"], Value::Null, "a refused token was kept");
    no_serious_violations(&page["axe"], "/ signed out, after a refused token");

    // The page's headers are the reveal page's.
    let r = c.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>"), "inline script in the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reveal_page_has_no_serious_accessibility_violation() {
    let server = Server::start();
    let created = server
        .client()
        .create(&seecret_core::api::CreateSecret {
            content: Some("for axe".to_string().into()),
            passphrase: Some("pass".to_string().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let page = browser(created.url.as_deref().unwrap(), "axe", &[]);
    no_serious_violations(&page["axe"], "/s/{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_files_are_zipped_in_the_browser_and_reveal_as_one_archive() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, a_bytes) = random_file(dir.path(), "id_ed25519", 3000);
    let (b, b_bytes) = random_file(dir.path(), "notes ü.txt", 70_000);
    let files = format!("{},{}", a.display(), b.display());
    let page = browser(
        &server.base,
        "share-files",
        &[("TOKEN", server.token()), ("FILES", &files)],
    );
    assert_eq!(page["listed"].as_array().unwrap().len(), 2, "{page}");
    let link = page["link"].as_str().unwrap();
    let saved = dir.path().join("saved.zip");
    let got = reveal_page(link, "reveal-file", &[("DOWNLOAD_TO", &saved)]);
    assert_eq!(got["name"], "files.zip", "{got}");
    // Python's zipfile is the referee: entries, sizes, CRCs and bytes.
    let (code, out, err) = run(
        Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile, hashlib\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None\n\
             for i in z.infolist(): print(i.filename, hashlib.sha256(z.read(i)).hexdigest())",
            )
            .arg(&saved),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let expected = format!(
        "id_ed25519 {}\nnotes ü.txt {}\n",
        hex::encode(Sha256::digest(&a_bytes)),
        hex::encode(Sha256::digest(&b_bytes))
    );
    assert_eq!(out, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_made_in_the_web_app_is_answered_elsewhere_and_read_with_the_private_link_only() {
    let server = Server::start();
    let proxy = Recorder::start(&server.base).await;
    let text = "the vault's recovery code: 7Q-ünï-42\nline two";
    let page = browser(
        &proxy.base,
        "request",
        &[
            ("TOKEN", server.token()),
            ("NOTE", "The staging vault recovery code, please"),
            ("LABEL", "vault code"),
            ("TEXT", text),
        ],
    );
    assert_eq!(page["errors"], json!([]), "{page}");
    for (state, what) in [
        ("request", "/ with a request shown"),
        ("answer", "/r/{id}"),
        ("open", "/a/{id} opened"),
        ("mine", "My secrets with requests"),
    ] {
        no_serious_violations(&page["axe"][state], what);
    }
    assert!(page["qr"].as_u64().unwrap() > 0, "no QR code: {page}");
    let request_link = page["request_link"].as_str().unwrap();
    let private_link = page["private_link"].as_str().unwrap();
    let id = request_link
        .split("/r/")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap();
    assert!(
        request_link.starts_with(&format!("{}/r/{id}#", server.base)),
        "{request_link}"
    );
    assert!(
        private_link.starts_with(&format!("{}/a/{id}#", proxy.base)),
        "{private_link}"
    );
    // The responder saw the note, sent; the asker read exactly the text.
    assert_eq!(page["answer_state"], "open", "{page}");
    assert_eq!(page["note"], "The staging vault recovery code, please");
    assert_eq!(page["sent"], "sent", "{page}");
    assert_eq!(page["waiting"], "waiting", "{page}");
    assert_eq!(page["opened"], "opened", "{page}");
    assert_eq!(page["content"], text);
    // Neither the private key (as text or bytes) nor the answer's plaintext reached the server;
    // the public key did (the proxy does see what the browsers sent).
    let private_key = private_link.split('#').nth(1).unwrap();
    let public_key = request_link.split('#').nth(1).unwrap();
    let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(private_key)
        .unwrap();
    assert_eq!(d.len(), 32);
    let sent = proxy.bytes();
    assert!(
        contains(&sent, public_key.as_bytes()),
        "the proxy saw nothing"
    );
    assert!(contains(
        &sent,
        format!("/v1/requests/{id}/answer").as_bytes()
    ));
    assert!(
        !contains(&sent, private_key.as_bytes()),
        "the private key reached the server"
    );
    assert!(
        !contains(&sent, &d),
        "the private key's bytes reached the server"
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for needle in [b64.encode(&d), b64u.encode(&d)] {
        assert!(!contains(&sent, needle.trim_end_matches('=').as_bytes()));
    }
    assert!(
        !contains(&sent, text.as_bytes()),
        "the plaintext reached the server"
    );
    assert!(!contains(&sent, "recovery code: 7Q".as_bytes()));
    // Deleted from its result; My secrets lists both, and neither can be deleted any more.
    assert!(
        page["deleted"].as_str().unwrap().starts_with("Deleted"),
        "{page}"
    );
    let deleted_link = page["deleted_link"].as_str().unwrap();
    let deleted_id = deleted_link
        .split("/r/")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap();
    let rows = page["rows"].as_array().unwrap();
    let answered = rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(
        (&answered["label"], &answered["status"], &answered["delete"]),
        (&json!("vault code"), &json!("answered"), &json!(false))
    );
    let gone = rows.iter().find(|r| r["id"] == deleted_id).unwrap();
    assert_eq!(
        (&gone["label"], &gone["status"], &gone["delete"]),
        (&json!("to delete"), &json!("deleted"), &json!(false))
    );
    // The server agrees.
    let c = http();
    for (rid, status) in [(id, "answered"), (deleted_id, "deleted")] {
        let info: Value = c
            .get(format!("{}/v1/requests/{rid}", server.base))
            .bearer_auth(server.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["status"], status, "{info}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_secrets_lists_an_open_request_with_a_delete_button_that_works() {
    let server = Server::start();
    let page = browser(&server.base, "mine-requests", &[("TOKEN", server.token())]);
    assert_eq!(page["errors"], json!([]), "{page}");
    let before = page["before"].as_array().unwrap();
    assert_eq!(before.len(), 1, "{page}");
    assert_eq!(
        (
            &before[0]["label"],
            &before[0]["status"],
            &before[0]["delete"]
        ),
        (&json!("open one"), &json!("open"), &json!(true))
    );
    assert_eq!(page["after"][0]["status"], "deleted", "{page}");
    let id = before[0]["id"].as_str().unwrap();
    let info: Value = http()
        .get(format!("{}/v1/requests/{id}", server.base))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["status"], "deleted", "{info}");
}
