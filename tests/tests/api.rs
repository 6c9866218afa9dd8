//! The API contract: every operation through `/api.php` and `/v1`, every error status, rate limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seecret_core::api::{ListQuery, UpdateSecret};
use seecret_core::model::Status;
use seecret_tests::{Server, ServerOptions, http, rpc};
use serde_json::json;

#[tokio::test]
async fn every_rpc_operation_works_and_answers_flat_objects() {
    let server = Server::start();
    let t = Some(server.token());
    let base = &server.base;

    let (s, h, created) = rpc(
        base,
        t,
        json!({"operation": "create_seecret", "content": "v1",
        "expiration": "7d", "views": "3", "label": "db password"}),
    )
    .await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(h["x-ratelimit-limit"], "1000");
    for field in [
        "id",
        "url",
        "expires_at",
        "views",
        "views_remaining",
        "status",
    ] {
        assert!(created.get(field).is_some(), "missing {field}: {created}");
    }
    assert_eq!(
        (
            created["views"].as_u64(),
            created["views_remaining"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let id = created["id"].as_str().unwrap();

    // New content means a new key and a new URL; the old link no longer opens.
    let (s, _, updated) = rpc(
        base,
        t,
        json!({"operation": "update_seecret", "id": id,
        "content": "v2", "views": 5, "label": "rotated", "expiration": "1h"}),
    )
    .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["views"], 5);
    assert_eq!(updated["label"], "rotated");
    let new_url = updated["url"].as_str().unwrap();
    assert_ne!(new_url, created["url"].as_str().unwrap());
    let old_key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let (s, _, b) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": old_key}),
    )
    .await;
    // The old key no longer matches the verifier: as unknown as a missing id (DESIGN §7.1).
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    let new_key = new_url.split('#').nth(1).unwrap();
    let (s, _, b) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": new_key}),
    )
    .await;
    assert_eq!(
        (s, b["content"].as_str(), b["views_remaining"].as_u64()),
        (200, Some("v2"), Some(4))
    );

    let (s, _, got) = rpc(base, t, json!({"operation": "get_seecret", "id": id})).await;
    assert_eq!(s, 200);
    assert!(got.get("content").is_none() && got.get("url").is_none());
    assert_eq!(got["view_log"].as_array().unwrap().len(), 1);
    assert!(got["last_viewed_at"].is_string());
    assert!(got["created_at"].is_string());

    let (s, _, acct) = rpc(base, t, json!({"operation": "get_account"})).await;
    assert_eq!(s, 200);
    assert_eq!(acct["rate_limit"]["per_minute"], 1000);
    assert_eq!(acct["usage"]["active"], 1);
    assert_eq!(acct["usage"]["views"], 1);

    let (s, _, del) = rpc(base, t, json!({"operation": "delete_seecret", "id": id})).await;
    assert_eq!((s, del["deleted"].as_bool()), (200, Some(true)));
    let (s, _, b) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": new_key}),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (410, Some("deleted")));
    let (s, _, del) = rpc(base, t, json!({"operation": "delete_seecret", "id": id})).await;
    assert_eq!(
        (s, del["deleted"].as_bool()),
        (200, Some(true)),
        "delete is idempotent"
    );

    let (s, _, list) = rpc(
        base,
        t,
        json!({"operation": "list_seecrets", "status": "deleted"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["seecrets"][0]["id"], id);
    assert!(list["next_cursor"].is_null());
}

#[tokio::test]
async fn listing_pages_through_every_secret_once_newest_first() {
    let server = Server::start();
    let client = server.client();
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            client
                .share(format!("s{i}").as_bytes(), Default::default())
                .await
                .unwrap()
                .info
                .id,
        );
    }
    client.delete(ids[0]).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list(&ListQuery {
                status: None,
                limit: Some(3),
                cursor: cursor.clone(),
            })
            .await
            .unwrap();
        assert!(page.seecrets.len() <= 3);
        seen.extend(page.seecrets.iter().map(|s| s.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let active = client
        .list(&ListQuery {
            status: Some(Status::Active),
            limit: Some(100),
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!(active.seecrets.len(), 6);
}

#[tokio::test]
async fn the_v1_resources_and_openapi_document() {
    let server = Server::start();
    let client = server.client();
    let c = http();
    let resp = c
        .post(format!("{}/v1/secrets", server.base))
        .bearer_auth(server.token())
        .json(&json!({"content": "via rest", "views": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: serde_json::Value = resp.json().await.unwrap();
    let id: seecret_core::model::SecretId = created["id"].as_str().unwrap().parse().unwrap();
    let patched = client
        .update(
            id,
            &UpdateSecret {
                label: Some("patched".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.label.as_deref(), Some("patched"));
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    // With the reveal proof instead of the key the server hands over ciphertext only.
    let proof = seecret_core::crypto::RevealProof::of_key(
        &seecret_core::crypto::SecretKey::from_base64url(key).unwrap(),
    )
    .to_base64url();
    let r: serde_json::Value = c
        .post(format!("{}/v1/secrets/{id}/reveal", server.base))
        .json(&json!({ "proof": proof.as_str() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["ciphertext"].is_string() && r.get("content").is_none());
    let r: serde_json::Value = c
        .post(format!("{}/v1/secrets/{id}/reveal", server.base))
        .json(&json!({ "key": key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["content"], "via rest");
    assert_eq!(client.get(id).await.unwrap().status, Status::Consumed);
    assert_eq!(client.account().await.unwrap().usage.consumed, 1);

    let doc: serde_json::Value = c
        .get(format!("{}/v1/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api.php",
        "/v1/secrets",
        "/v1/secrets/{id}",
        "/v1/secrets/{id}/reveal",
        "/v1/account",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} undocumented");
    }
    assert!(doc["components"]["schemas"]["CreateSecret"].is_object());
    for (path, status) in [("/healthz", 200), ("/readyz", 200)] {
        assert_eq!(
            c.get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap()
                .status(),
            status
        );
    }
}

#[tokio::test]
async fn each_error_status_of_the_contract_through_http() {
    let server = Server::start_with(ServerOptions::default().env("SEECRET_MAX_TEXT_SIZE", 1000));
    let base = &server.base;
    let t = Some(server.token());
    let c = http();
    let code = |b: &serde_json::Value| b["error"]["code"].as_str().unwrap_or_default().to_string();

    // 400: malformed JSON, wrong types, out-of-range values, unknown fields and operations.
    let resp = c
        .post(format!("{base}/api.php"))
        .bearer_auth(server.token())
        .header("content-type", "application/json")
        .body("{\"operation\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(code(&resp.json().await.unwrap()), "invalid_json");
    for (body, expect) in [
        (
            json!({"operation": "create_seecret", "content": "x", "views": 0}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": "x", "views": 101}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": "x", "expiration": "31d"}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": "x", "expiration": "soon"}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": ""}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": "x", "expires": "1h"}),
            "invalid_request",
        ),
        (
            json!({"operation": "create_seecret", "content": "x", "allowed_countries": ["FR"]}),
            "invalid_request",
        ),
        (
            json!({"operation": "list_seecrets", "limit": 1000}),
            "invalid_request",
        ),
        (json!({"operation": "frobnicate"}), "unknown_operation"),
        (json!({"content": "x"}), "unknown_operation"),
    ] {
        let (s, _, b) = rpc(base, t, body.clone()).await;
        assert_eq!((s, code(&b)), (400, expect.to_string()), "{body} → {b}");
    }
    let (_, _, b) = rpc(base, t, json!({"operation": "frobnicate"})).await;
    let valid: Vec<&str> = b["error"]["valid_operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for op in [
        "create_seecret",
        "update_seecret",
        "get_seecret",
        "list_seecrets",
        "delete_seecret",
        "get_account",
        "reveal_seecret",
        "update_account",
    ] {
        assert!(valid.contains(&op), "{op} missing from {valid:?}");
    }

    // 401: no token, a malformed one, an unknown one.
    for token in [
        None,
        Some("not-a-uuid"),
        Some("6f1c1f5e-8f0e-4d55-9c52-3a3c9a8e9d11"),
    ] {
        let (s, h, b) = rpc(base, token, json!({"operation": "get_account"})).await;
        assert_eq!((s, code(&b)), (401, "unauthorized".to_string()));
        assert!(h.contains_key("www-authenticate"));
    }

    // 404: unknown ids, and other accounts' secrets look the same.
    let (s, _, b) = rpc(
        base,
        t,
        json!({"operation": "get_seecret", "id": uuid::Uuid::now_v7().to_string()}),
    )
    .await;
    assert_eq!((s, code(&b)), (404, "not_found".to_string()));
    let (s, _, _) = rpc(
        base,
        t,
        json!({"operation": "get_seecret", "id": "../../etc"}),
    )
    .await;
    assert_eq!(s, 404);

    // 413: content over the text limit, and a body over the request limit.
    let (s, _, b) = rpc(
        base,
        t,
        json!({"operation": "create_seecret", "content": "x".repeat(1001)}),
    )
    .await;
    assert_eq!((s, code(&b)), (413, "too_large".to_string()));
    let resp = c
        .post(format!("{base}/api.php"))
        .bearer_auth(server.token())
        .body(format!(
            "{{\"operation\":\"create_seecret\",\"content\":\"{}\"}}",
            "y".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(code(&resp.json().await.unwrap()), "too_large");

    // 403 and 410.
    let (_, _, created) = rpc(
        base,
        t,
        json!({"operation": "create_seecret", "content": "x", "passphrase": "p"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let (s, _, b) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": key, "passphrase": "q"}),
    )
    .await;
    assert_eq!((s, code(&b)), (403, "passphrase_invalid".to_string()));
    let (s, _, _) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": key, "passphrase": "p"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, b) = rpc(
        base,
        None,
        json!({"operation": "reveal_seecret", "id": id, "key": key, "passphrase": "p"}),
    )
    .await;
    assert_eq!((s, code(&b)), (410, "consumed".to_string()));
    let (s, _, b) = rpc(
        base,
        t,
        json!({"operation": "update_seecret", "id": id, "views": 5}),
    )
    .await;
    assert_eq!((s, code(&b)), (410, "consumed".to_string()));
}

#[tokio::test]
async fn the_request_after_the_account_limit_gets_429_with_retry_after() {
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_RATE_LIMIT_PER_MINUTE", 5)
            .env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 3),
    );
    let t = Some(server.token());
    for i in 0..5 {
        let (s, h, _) = rpc(&server.base, t, json!({"operation": "get_account"})).await;
        assert_eq!(s, 200);
        assert_eq!(
            h["x-ratelimit-remaining"].to_str().unwrap(),
            (4 - i).to_string()
        );
    }
    let (s, h, b) = rpc(&server.base, t, json!({"operation": "get_account"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(h["x-ratelimit-remaining"], "0");

    // The unauthenticated reveal endpoint is limited per client address.
    let c = http();
    let url = format!("{}/v1/secrets/{}/reveal", server.base, uuid::Uuid::now_v7());
    let statuses: Vec<u16> = futures::future::join_all((0..4).map(|_| async {
        c.post(&url)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
}
