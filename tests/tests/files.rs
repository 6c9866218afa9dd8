//! Files: 100 MB streamed through the product page's multipart API and back, on the local blob
//! store and on a real S3-compatible server; nothing readable at rest; limits and interrupted
//! uploads leave nothing behind; a damaged blob fails loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use seecret_tests::{
    Moto, Server, ServerOptions, eventually, http, rpc, run, s3_keys, seecret_bin,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A file of pseudo-random bytes (fast to make, incompressible enough) and its SHA-256.
fn random_file(dir: &Path, name: &str, size: usize) -> (PathBuf, String) {
    let path = dir.join(name);
    let mut data = Vec::with_capacity(size);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ size as u64;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(&path, &data).unwrap();
    (path, hex::encode(Sha256::digest(&data)))
}

async fn upload(server: &Server, path: &Path, views: u32) -> (u16, Value) {
    let file = tokio::fs::File::open(path).await.unwrap();
    let len = file.metadata().await.unwrap().len();
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), len)
        .file_name(path.file_name().unwrap().to_string_lossy().into_owned())
        .mime_str("application/pdf")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("operation", "create_seecret")
        .text("expiration", "1h")
        .text("views", views.to_string())
        .part("file", part);
    let resp = http()
        .post(format!("{}/api.php", server.base))
        .bearer_auth(server.token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Downloads through the reveal endpoint with the key (the server decrypts as it streams);
/// returns status, SHA-256 of the body (if complete) and headers.
async fn download(
    server: &Server,
    created: &Value,
) -> (u16, Option<String>, reqwest::header::HeaderMap) {
    let url = created["url"].as_str().unwrap();
    let key = url.split('#').nth(1).unwrap();
    let sent = http()
        .post(format!(
            "{}/v1/secrets/{}/reveal",
            server.base,
            created["id"].as_str().unwrap()
        ))
        .json(&json!({ "key": key }))
        .send()
        .await;
    // An aborted connection (what a damaged blob must cause) counts as no status at all.
    let Ok(resp) = sent else {
        return (0, None, reqwest::header::HeaderMap::new());
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut hasher = Sha256::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => hasher.update(&c),
            Err(_) => return (status, None, headers),
        }
    }
    (status, Some(hex::encode(hasher.finalize())), headers)
}

fn blob_files(server: &Server) -> Vec<PathBuf> {
    std::fs::read_dir(server.data_dir.join("blobs"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_file_round_trips_through_the_multipart_api_and_is_really_gone() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = random_file(dir.path(), "quarterly-report-secret.pdf", 100 * 1000 * 1000);
    let (status, created) = upload(&server, &path, 1).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["kind"], "file");
    assert_eq!(created["size"], 100_000_000);
    assert!(
        created.get("file_name").is_none(),
        "the name is not stored in clear unless asked"
    );

    // At rest: one blob, larger than the file by the format's overhead, holding neither the
    // file's bytes nor its name.
    let blobs = blob_files(&server);
    assert_eq!(blobs.len(), 1);
    let blob = std::fs::read(&blobs[0]).unwrap();
    let plain = std::fs::read(&path).unwrap();
    for offset in [0, 4096, 65_536 * 7 + 123, 50_000_000, 99_990_000] {
        let window = &plain[offset..offset + 4096];
        assert!(
            memchr_find(&blob, window).is_none(),
            "plaintext at offset {offset} found in the blob"
        );
    }
    assert!(
        memchr_find(&blob, b"quarterly-report-secret").is_none(),
        "file name found in the blob"
    );
    assert!(
        memchr_find(&blob, b"application/pdf").is_none(),
        "media type found in the blob"
    );
    drop(blob);
    drop(plain);

    let (status, got, headers) = download(&server, &created).await;
    assert_eq!(status, 200);
    assert_eq!(got.as_deref(), Some(sha.as_str()), "SHA-256 differs");
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("quarterly-report-secret.pdf")
    );

    let (status, _, _) = download(&server, &created).await;
    assert_eq!(status, 410);
    let gone = eventually(Duration::from_secs(10), || async {
        blob_files(&server).is_empty().then_some(())
    })
    .await;
    assert!(gone.is_some(), "the blob outlived its last download");
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs moto (python3 -m moto.server): run with --features seecret-tests/external"
)]
async fn the_same_round_trip_on_an_s3_compatible_server() {
    let moto = Moto::start("seecret-test").await;
    let endpoint = moto.endpoint.clone();
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_BLOB_STORE", "s3://seecret-test/blobs")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1"),
    );
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = random_file(dir.path(), "backup.zip", 100 * 1000 * 1000);
    let (status, created) = upload(&server, &path, 1).await;
    assert_eq!(status, 200, "{created}");
    // Blob keys are random, not the id: the bucket's one object under the prefix is the blob.
    let stored = s3_keys(&format!("{endpoint}/seecret-test"), "blobs/").await;
    assert_eq!(stored.len(), 1, "the blob is in the bucket: {stored:?}");
    assert!(
        !stored[0].contains(created["id"].as_str().unwrap()),
        "the blob key is not the id"
    );
    let key = format!("{endpoint}/seecret-test/{}", stored[0]);
    assert_eq!(http().head(&key).send().await.unwrap().status(), 200);
    assert!(blob_files(&server).is_empty(), "nothing on local disk");
    let (status, got, _) = download(&server, &created).await;
    assert_eq!((status, got.as_deref()), (200, Some(sha.as_str())));
    assert_eq!(download(&server, &created).await.0, 410);
    let gone = eventually(Duration::from_secs(10), || async {
        (http().head(&key).send().await.unwrap().status() == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the object outlived its last download");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_interrupted_uploads_leave_nothing_behind() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "too-big.bin", 101 * 1024 * 1024);
    let (status, body) = upload(&server, &path, 1).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );

    // A client that disconnects halfway through its upload.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let boundary = "XyZ";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operation\"\r\n\r\ncreate_seecret\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let req = format!(
        "POST /api.php HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        server.token(),
        head.len() + 10_000_000
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    sock.write_all(&vec![7u8; 3_000_000]).await.unwrap();
    drop(sock);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let settled = eventually(Duration::from_secs(10), || async {
        let empty = std::fs::read_dir(server.data_dir.join("blobs"))
            .unwrap()
            .next()
            .is_none();
        empty.then_some(())
    })
    .await;
    assert!(
        settled.is_some(),
        "a partial blob remains: {:?}",
        std::fs::read_dir(server.data_dir.join("blobs"))
            .unwrap()
            .collect::<Vec<_>>()
    );
    let (_, _, list) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "list_seecrets"}),
    )
    .await;
    assert_eq!(list["seecrets"].as_array().unwrap().len(), 0, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_truncated_blob_fails_loudly_never_silently_short() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "key.pem", 300_000);
    let cli = |args: &[&str]| {
        run(
            Command::new(seecret_bin())
                .args(args)
                .current_dir(dir.path())
                .env("SEECRET_SERVER", &server.base)
                .env("SEECRET_TOKEN", server.token()),
            Duration::from_secs(60),
        )
    };
    for damage in ["flip", "truncate"] {
        let before = blob_files(&server);
        let (code, link, err) = cli(&["share", path.to_str().unwrap(), "--views", "3"]);
        assert_eq!(code, 0, "{err}");
        let link = link.trim().to_string();
        let id = link
            .split("/s/")
            .nth(1)
            .unwrap()
            .split('#')
            .next()
            .unwrap()
            .to_string();
        // Blob keys are random, not the id: the blob is the one this share added.
        let added: Vec<PathBuf> = blob_files(&server)
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        assert_eq!(added.len(), 1, "{added:?}");
        let blob = added[0].clone();
        let mut bytes = std::fs::read(&blob).unwrap();
        if damage == "flip" {
            bytes[17 + 65_552 * 2 + 100] ^= 0x01; // inside the third chunk
        } else {
            let last = (bytes.len() - 17) % 65_552;
            bytes.truncate(bytes.len() - last); // the last chunk removed
        }
        std::fs::write(&blob, &bytes).unwrap();

        let out = dir.path().join(format!("out-{damage}.pem"));
        let (code, _, err) = cli(&["reveal", &link, "-o", out.to_str().unwrap()]);
        assert_ne!(code, 0, "{damage}: the CLI accepted a damaged file");
        assert!(err.contains("decryption failed"), "{damage}: {err}");
        assert!(!out.exists(), "{damage}: a partial file was left behind");

        // The server-side decryption path aborts the response instead of ending it early.
        let created = json!({"id": id, "url": link});
        let (status, complete, _) = download(&server, &created).await;
        assert!(
            status != 200 || complete.is_none(),
            "{damage}: the server sent a complete-looking body"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn the_browser_decrypts_and_saves_a_file_then_it_is_gone() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = random_file(dir.path(), "deploy-key.pem", 3_000_000);
    let (status, created) = upload(&server, &path, 1).await;
    assert_eq!(status, 200);
    let link = created["url"].as_str().unwrap().to_string();
    let saved = dir.path().join("saved.pem");
    let (code, out, err) = run(
        Command::new("node")
            .arg(seecret_tests::repo_path("tests/js/reveal-page.mjs"))
            .arg(&link)
            .arg("reveal-file")
            .env("DOWNLOAD_TO", &saved)
            .env(
                "SCREENSHOT_DIR",
                seecret_tests::repo_path("tests/artifacts"),
            ),
        Duration::from_secs(120),
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let page: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(page["name"], "deploy-key.pem");
    assert!(
        page["info"].as_str().unwrap().contains("deploy-key.pem"),
        "{page}"
    );
    assert!(page["errors"].as_array().unwrap().is_empty(), "{page}");
    let got = hex::encode(Sha256::digest(std::fs::read(&saved).unwrap()));
    assert_eq!(got, sha, "the saved file differs");
    let gone = eventually(Duration::from_secs(10), || async {
        blob_files(&server).is_empty().then_some(())
    })
    .await;
    assert!(gone.is_some(), "the blob outlived its last download");
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn the_browser_code_and_the_rust_code_read_the_same_bytes() {
    let js = seecret_tests::repo_path("tests/js");
    let (code, out, err) = run(
        Command::new("node")
            .arg("stream-selftest.mjs")
            .current_dir(&js),
        Duration::from_secs(180),
    );
    assert_eq!(code, 0, "JS self-test failed: {err}\n{out}");

    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = random_file(dir.path(), "cross.bin", 200_001);
    let key = seecret_core::crypto::SecretKey::generate();
    let id = seecret_core::model::SecretId::new();
    // Rust seals, JS opens.
    let meta = seecret_core::filestream::FileMeta {
        name: "cross.bin".into(),
        media_type: "application/zip".into(),
        size: Some(200_001),
    };
    let mut enc = seecret_core::filestream::Encryptor::new(&key, &id, &meta).unwrap();
    let mut blob = Vec::new();
    enc.update(&std::fs::read(&path).unwrap(), &mut blob)
        .unwrap();
    enc.finish(&mut blob).unwrap();
    std::fs::write(dir.path().join("rust.blob"), &blob).unwrap();
    let out_file = dir.path().join("js-opened.bin");
    let (code, out, err) = run(
        Command::new("node")
            .arg(js.join("stream-tool.mjs"))
            .arg("decrypt")
            .arg(key.to_base64url().as_str())
            .arg(id.to_string())
            .arg(dir.path().join("rust.blob"))
            .arg(&out_file),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"application/zip\""), "{out}");
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&out_file).unwrap())),
        sha
    );
    // JS seals, Rust opens.
    let (code, _, err) = run(
        Command::new("node")
            .arg(js.join("stream-tool.mjs"))
            .arg("encrypt")
            .arg(key.to_base64url().as_str())
            .arg(id.to_string())
            .arg(&path)
            .arg(dir.path().join("js.blob"))
            .arg("cross.bin")
            .arg("text/plain"),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let mut dec = seecret_core::filestream::Decryptor::new(&key, &id);
    let mut plain = Vec::new();
    dec.update(
        &std::fs::read(dir.path().join("js.blob")).unwrap(),
        &mut plain,
    )
    .unwrap();
    let meta = dec.finish(&mut plain).unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.media_type.as_str()),
        ("cross.bin", "text/plain")
    );
    assert_eq!(hex::encode(Sha256::digest(&plain)), sha);
}
