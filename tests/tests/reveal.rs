//! Revealing: views are exact under concurrency, expiry and passphrases behave as promised.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::future::join_all;
use seecret_core::api::CreateSecret;
use seecret_tests::{Server, ServerOptions, eventually, http, rpc};
use serde_json::json;

async fn create(server: &Server, views: u32) -> (String, String) {
    let (status, _, body) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "create_seecret", "content": "race me", "views": views}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap().to_string();
    let key = url.split('#').nth(1).unwrap().to_string();
    (body["id"].as_str().unwrap().to_string(), key)
}

async fn concurrent_reveals(server: &Server, id: &str, key: &str, n: usize) -> (usize, usize) {
    let client = http();
    let url = format!("{}/v1/secrets/{id}/reveal", server.base);
    let results = join_all((0..n).map(|_| {
        let req = client.post(&url).json(&json!({ "key": key }));
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            if status == 200 {
                assert_eq!(body["content"], "race me");
            }
            status
        }
    }))
    .await;
    let ok = results.iter().filter(|s| **s == 200).count();
    let gone = results.iter().filter(|s| **s == 410).count();
    assert_eq!(ok + gone, n, "unexpected statuses: {results:?}");
    (ok, gone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reveals_use_exactly_the_views_allowed() {
    let server =
        Server::start_with(ServerOptions::default().env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 0));
    let (id, key) = create(&server, 1).await;
    assert_eq!(concurrent_reveals(&server, &id, &key, 200).await, (1, 199));
    let (id, key) = create(&server, 3).await;
    assert_eq!(concurrent_reveals(&server, &id, &key, 200).await, (3, 197));
    let info = server.client().get(id.parse().unwrap()).await.unwrap();
    assert_eq!(info.view_log.unwrap().len(), 3);
    assert_eq!(info.views_remaining, 0);
}

#[tokio::test]
async fn an_expired_secret_is_refused_and_its_ciphertext_erased() {
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_MIN_EXPIRATION", "1s")
            .env("SEECRET_SWEEP_INTERVAL", "100ms"),
    );
    let client = server.client();
    let short = client
        .create(&CreateSecret {
            content: Some("short-lived".to_string().into()),
            expiration: Some("1s".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    let long = client
        .create(&CreateSecret {
            content: Some("long-lived".to_string().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let envelope = |id: String| {
        let (has, status) = seecret_tests::stored_secret(&server, &id);
        async move { (has.then_some(()), status) }
    };
    assert!(envelope(short.id.to_string()).await.0.is_some());

    let swept = eventually(Duration::from_secs(10), || async {
        let (env, status) = envelope(short.id.to_string()).await;
        (env.is_none() && status == "expired").then_some(())
    })
    .await;
    assert!(
        swept.is_some(),
        "the sweeper did not erase the expired secret"
    );
    let err = seecret_core::client::Client::reveal_link(
        &seecret_core::link::Link::parse(short.url.as_ref().unwrap()).unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(410), Some("expired")));
    assert_eq!(
        client.get(short.id).await.unwrap().status.as_str(),
        "expired"
    );
    assert!(
        envelope(long.id.to_string()).await.0.is_some(),
        "the sweeper erased a live secret"
    );
}

#[tokio::test]
async fn passphrases_gate_reveals_without_using_views_and_lock_after_five_misses() {
    let server = Server::start();
    let (status, _, body) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "create_seecret", "content": "behind a passphrase", "views": 1,
               "passphrase": "open sesame"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["passphrase_protected"], true);
    let id = body["id"].as_str().unwrap();
    let key = body["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let reveal = |pass: Option<&str>| {
        let mut b = json!({"operation": "reveal_seecret", "id": id, "key": key});
        if let Some(p) = pass {
            b["passphrase"] = json!(p);
        }
        rpc(&server.base, None, b)
    };
    let (s, _, b) = reveal(None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("passphrase_required"))
    );
    for _ in 0..5 {
        let (s, _, b) = reveal(Some("wrong")).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (403, Some("passphrase_invalid"))
        );
    }
    // The sixth try within the minute is refused before the passphrase is even checked.
    let (s, h, _) = reveal(Some("open sesame")).await;
    assert_eq!(s, 429);
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    let info = server.client().get(id.parse().unwrap()).await.unwrap();
    assert_eq!(info.views_remaining, 1, "refused reveals used a view");

    // A wrong key is refused before a view is used, too: it does not match the verifier, so the
    // id is as unknown as a missing one (DESIGN §7.1).
    let other = seecret_core::crypto::SecretKey::generate();
    let (s, _, b) = rpc(
        &server.base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": other.to_base64url().as_str(),
               "passphrase": "open sesame"}),
    )
    .await;
    assert!(s == 404 && b["error"]["code"] == "not_found", "{s} {b}");
}
