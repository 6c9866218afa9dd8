//! Geo-blocking with a real MaxMind-format database generated here (127.0.0.2 → FR, 127.0.0.3 →
//! US), clients that connect from those source addresses, and the trusted-proxy path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::PathBuf;

use seecret_tests::{Receiver, Server, ServerOptions, eventually, rpc};
use serde_json::{Value, json};

fn mmdb(dir: &std::path::Path) -> PathBuf {
    let mut w = mmdb_writer::Writer::new("GeoIP2-Country");
    for (net, iso) in [("127.0.0.2/32", "FR"), ("127.0.0.3/32", "US")] {
        let net: ipnet::IpNet = net.parse().unwrap();
        w.insert(
            net,
            &json!({"country": {"iso_code": iso, "names": {"en": iso}}}),
        )
        .unwrap();
    }
    let path = dir.join("countries.mmdb");
    std::fs::write(&path, w.to_bytes().unwrap()).unwrap();
    path
}

/// Reveals from a given source address, with extra headers.
async fn reveal_from(
    server: &Server,
    created: &Value,
    from: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let mut req = client
        .post(format!(
            "{}/v1/secrets/{}/reveal",
            server.base,
            created["id"].as_str().unwrap()
        ))
        .json(&json!({ "key": key }));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_reveal_from_a_country_outside_the_list_is_refused_without_using_a_view() {
    seecret_core::init_crypto();
    let dir = tempfile::tempdir().unwrap();
    let db = mmdb(dir.path());
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_GEOIP_DB", db.display())
            .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32"),
    );
    let rec = Receiver::start(|_| 204).await;
    let t = Some(server.token());
    let (s, _, b) = rpc(
        &server.base,
        t,
        json!({"operation": "create_seecret", "content": "x",
        "allowed_countries": ["FR", "XYZ"]}),
    )
    .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("allowed_countries"))
    );
    let (s, _, created) = rpc(
        &server.base,
        t,
        json!({"operation": "create_seecret", "content": "bonjour",
        "views": 2, "allowed_countries": ["fr"], "webhook_url": rec.url}),
    )
    .await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(created["allowed_countries"], json!(["FR"]));

    let (s, b) = reveal_from(&server, &created, "127.0.0.3", &[]).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("geo_blocked")),
        "US refused"
    );
    let (s, b) = reveal_from(&server, &created, "127.0.0.1", &[]).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("geo_blocked")),
        "unknown country refused"
    );
    // A forged header from an untrusted peer changes nothing.
    let (s, _) = reveal_from(
        &server,
        &created,
        "127.0.0.3",
        &[("x-forwarded-for", "127.0.0.2"), ("cf-ipcountry", "FR")],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, b) = rpc(
        &server.base,
        t,
        json!({"operation": "get_seecret", "id": created["id"]}),
    )
    .await;
    assert_eq!(
        (s, b["views_remaining"].as_u64()),
        (200, Some(2)),
        "refusals used a view"
    );

    let (s, b) = reveal_from(&server, &created, "127.0.0.2", &[]).await;
    assert_eq!(
        (s, b["content"].as_str()),
        (200, Some("bonjour")),
        "FR allowed: {b}"
    );
    let (_, _, got) = rpc(
        &server.base,
        t,
        json!({"operation": "get_seecret", "id": created["id"]}),
    )
    .await;
    assert_eq!(got["view_log"][0]["country"], "FR");

    let events = rec.wait_for(4, std::time::Duration::from_secs(20)).await;
    let denied: Vec<Value> = events
        .iter()
        .map(|r| r.json())
        .filter(|e| e["type"] == "seecret.access_denied")
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert!(denied.iter().all(|e| e["reason"] == "country"));
    assert!(denied.iter().any(|e| e["country"] == "US"));
    let viewed = eventually(std::time::Duration::from_secs(5), || async {
        rec.received()
            .iter()
            .any(|r| r.json()["type"] == "seecret.viewed" && r.json()["country"] == "FR")
            .then_some(())
    })
    .await;
    assert!(viewed.is_some());
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_and_country_header_count() {
    seecret_core::init_crypto();
    let dir = tempfile::tempdir().unwrap();
    let db = mmdb(dir.path());
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_GEOIP_DB", db.display())
            .env("SEECRET_TRUSTED_PROXIES", "127.0.0.4/32")
            .env("SEECRET_COUNTRY_HEADER", "CF-IPCountry"),
    );
    let t = Some(server.token());
    let (_, _, created) = rpc(
        &server.base,
        t,
        json!({"operation": "create_seecret", "content": "via proxy",
        "views": 3, "allowed_countries": ["FR"]}),
    )
    .await;
    // The proxy's header says FR: believed.
    let (s, _) = reveal_from(&server, &created, "127.0.0.4", &[("cf-ipcountry", "FR")]).await;
    assert_eq!(s, 200);
    // The proxy forwards a US client (right-most hop; the spoofed left-most entry is ignored).
    let (s, _) = reveal_from(
        &server,
        &created,
        "127.0.0.4",
        &[("x-forwarded-for", "127.0.0.2, 127.0.0.3")],
    )
    .await;
    assert_eq!(s, 403);
    // The proxy forwards an FR client.
    let (s, _) = reveal_from(
        &server,
        &created,
        "127.0.0.4",
        &[("x-forwarded-for", "127.0.0.2")],
    )
    .await;
    assert_eq!(s, 200);
    // The same headers from an untrusted peer are ignored.
    let (s, _) = reveal_from(
        &server,
        &created,
        "127.0.0.5",
        &[("cf-ipcountry", "FR"), ("x-forwarded-for", "127.0.0.2")],
    )
    .await;
    assert_eq!(s, 403);
}
