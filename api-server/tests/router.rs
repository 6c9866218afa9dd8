//! The HTTP application in-process: the real router (middleware, handlers, engine) on a temporary
//! SQLite database, driven request by request with `tower::ServiceExt::oneshot`. No socket, no
//! network; what is asserted is what a client sees: statuses, error codes and fields, headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, header};
use seecret_core::blob::BlobStore;
use seecret_core::engine::EngineConfig;
use seecret_server::{AppState, Guards, HttpLimits, Net, SignIn, SignInSettings, app, open_engine};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The application on a fresh SQLite database with its first account.
struct App {
    router: Router,
    token: String,
    _dir: tempfile::TempDir,
}

/// One answer.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `error.code` of an error answer.
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl App {
    async fn start() -> Self {
        Self::start_with(EngineConfig::default(), HttpLimits::default()).await
    }

    async fn start_with(cfg: EngineConfig, limits: HttpLimits) -> Self {
        seecret_core::init_crypto();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("seecret.db").display());
        let engine = open_engine(dir.path(), &url, &Default::default(), cfg)
            .await
            .unwrap()
            .with_blobs(BlobStore::open("", dir.path()).unwrap());
        let engine = Arc::new(engine);
        let (_, token) = engine.bootstrap().await.unwrap().expect("first account");
        let state = AppState {
            engine,
            net: Arc::new(Net::default()),
            guards: Arc::new(Guards::new(limits)),
            sign_in: Arc::new(SignIn::new(SignInSettings::default(), "http://127.0.0.1").unwrap()),
            public: None,
        };
        Self {
            router: app(state, Router::new()),
            token: token.expose().to_string(),
            _dir: dir,
        }
    }

    /// Sends one request from a loopback client address.
    async fn send(&self, mut req: Request<Body>) -> Reply {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(body).unwrap()).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Body::from(body.to_string()))
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, Body::empty()).await
    }

    /// `POST /api.php` with the first account's token.
    async fn rpc(&self, body: Value) -> Reply {
        self.post("/api.php", Some(&self.token), body).await
    }

    /// Creates a text secret through REST; returns its id and key.
    async fn create(&self, body: Value) -> (String, String) {
        let r = self.post("/v1/secrets", Some(&self.token), body).await;
        assert_eq!(r.status, 201, "{}", r.json());
        let created = r.json();
        let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
        (created["id"].as_str().unwrap().to_string(), key.to_string())
    }
}

fn reveal_path(id: &str) -> String {
    format!("/v1/secrets/{id}/reveal")
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = App::start().await;
    let r = app.get("/healthz", None).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
    let r = app.get("/readyz", None).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"ready"[..]));
}

#[tokio::test]
async fn owner_routes_without_a_token_are_401_with_a_bearer_challenge() {
    let app = App::start().await;
    for path in ["/v1/account", "/v1/secrets"] {
        let r = app.get(path, None).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{path}"
        );
        assert!(r.header("www-authenticate").starts_with("Bearer"), "{path}");
    }
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_401() {
    let app = App::start().await;
    for token in ["not-a-uuid", "6f1c1f5e-8f0e-4d55-9c52-3a3c9a8e9d11"] {
        let r = app.get("/v1/account", Some(token)).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{token}"
        );
    }
    let r = app.get("/v1/account", Some(&app.token)).await;
    assert_eq!(r.status, 200, "{}", r.json());
}

#[tokio::test]
async fn the_rpc_endpoint_without_a_token_is_401() {
    let app = App::start().await;
    let r = app
        .post("/api.php", None, json!({"operation": "get_account"}))
        .await;
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    assert!(r.header("www-authenticate").starts_with("Bearer"));
}

#[tokio::test]
async fn a_rest_secret_reveals_once_then_is_gone() {
    let app = App::start().await;
    let (id, key) = app.create(json!({"content": "via rest", "views": 1})).await;
    let r = app.post(&reveal_path(&id), None, json!({"key": key})).await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["content"], "via rest");
    let r = app.post(&reveal_path(&id), None, json!({"key": key})).await;
    assert_eq!((r.status, r.code().as_str()), (410, "consumed"));
    let r = app
        .get(&format!("/v1/secrets/{id}"), Some(&app.token))
        .await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("consumed"))
    );
}

#[tokio::test]
async fn an_rpc_secret_reveals_through_the_rpc_endpoint() {
    let app = App::start().await;
    let r = app
        .rpc(json!({"operation": "create_seecret", "content": "via rpc", "views": "2"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.header("x-ratelimit-limit"), "1000");
    let created = r.json();
    assert_eq!(created["views_remaining"], 2);
    let id = created["id"].as_str().unwrap();
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let r = app
        .post(
            "/api.php",
            None,
            json!({"operation": "reveal_seecret", "id": id, "key": key}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["content"], "via rpc");
    let r = app.rpc(json!({"operation": "get_seecret", "id": id})).await;
    assert_eq!(r.json()["views_remaining"], 1, "{}", r.json());
}

#[tokio::test]
async fn a_reveal_without_key_or_proof_looks_like_an_unknown_id_and_uses_no_view() {
    let app = App::start().await;
    let (id, key) = app.create(json!({"content": "kept", "views": 1})).await;
    let bare = app.post(&reveal_path(&id), None, json!({})).await;
    let unknown = app
        .post(
            &reveal_path(&uuid::Uuid::now_v7().to_string()),
            None,
            json!({}),
        )
        .await;
    assert_eq!((bare.status, bare.code().as_str()), (404, "not_found"));
    assert_eq!((bare.status, bare.json()), (unknown.status, unknown.json()));
    let r = app.post(&reveal_path(&id), None, json!({"key": key})).await;
    assert_eq!(
        (r.status, r.json()["content"].as_str()),
        (200, Some("kept"))
    );
}

#[tokio::test]
async fn a_passphrase_gates_the_reveal_with_403_until_it_is_right() {
    let app = App::start().await;
    let (id, key) = app
        .create(json!({"content": "x", "passphrase": "p", "views": 1}))
        .await;
    let r = app.post(&reveal_path(&id), None, json!({"key": key})).await;
    assert_eq!((r.status, r.code().as_str()), (403, "passphrase_required"));
    let r = app
        .post(
            &reveal_path(&id),
            None,
            json!({"key": key, "passphrase": "q"}),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "passphrase_invalid"));
    let r = app
        .post(
            &reveal_path(&id),
            None,
            json!({"key": key, "passphrase": "p"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = App::start().await;
    let r = app
        .call(
            Method::POST,
            "/api.php",
            Some(&app.token),
            Body::from("{\"operation\": "),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400_invalid_request() {
    let app = App::start().await;
    let r = app
        .call(
            Method::POST,
            "/v1/secrets",
            Some(&app.token),
            Body::from("[\"x\", 1]"),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
}

#[tokio::test]
async fn out_of_range_and_unknown_fields_are_400_invalid_request() {
    let app = App::start().await;
    for body in [
        json!({"operation": "create_seecret", "content": "x", "views": 0}),
        json!({"operation": "create_seecret", "content": "x", "views": 101}),
        json!({"operation": "create_seecret", "content": "x", "expiration": "31d"}),
        json!({"operation": "create_seecret", "content": "x", "expiration": "soon"}),
        json!({"operation": "create_seecret", "content": "x", "expires": "1h"}),
        json!({"operation": "list_seecrets", "limit": 1000}),
    ] {
        let r = app.rpc(body.clone()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_invalid_value_names_its_field() {
    let app = App::start().await;
    let r = app
        .post("/v1/secrets", Some(&app.token), json!({"content": ""}))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
    assert_eq!(r.json()["error"]["field"], "content", "{}", r.json());
    let r = app.get("/v1/secrets?limit=1000", Some(&app.token)).await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
    assert_eq!(r.json()["error"]["field"], "limit", "{}", r.json());
}

#[tokio::test]
async fn an_unknown_operation_is_400_and_lists_the_valid_ones() {
    let app = App::start().await;
    for body in [json!({"operation": "frobnicate"}), json!({"content": "x"})] {
        let r = app.rpc(body.clone()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "unknown_operation"),
            "{body}"
        );
        let valid = r.json()["error"]["valid_operations"].clone();
        for op in [
            "create_seecret",
            "reveal_seecret",
            "list_seecrets",
            "get_account",
        ] {
            assert!(
                valid.as_array().unwrap().iter().any(|v| v == op),
                "{op} missing from {valid}"
            );
        }
    }
}

#[tokio::test]
async fn content_over_the_text_limit_is_413_too_large() {
    let cfg = EngineConfig {
        max_text_bytes: 1000,
        ..EngineConfig::default()
    };
    let app = App::start_with(cfg, HttpLimits::default()).await;
    let r = app
        .rpc(json!({"operation": "create_seecret", "content": "x".repeat(1001)}))
        .await;
    assert_eq!((r.status, r.code().as_str()), (413, "too_large"));
    let r = app
        .rpc(json!({"operation": "create_seecret", "content": "x".repeat(1000)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json());
}

#[tokio::test]
async fn a_body_over_the_request_limit_is_413_in_the_json_error_shape() {
    let cfg = EngineConfig {
        max_text_bytes: 1000,
        ..EngineConfig::default()
    };
    let app = App::start_with(cfg, HttpLimits::default()).await;
    let body = format!(
        "{{\"operation\":\"create_seecret\",\"content\":\"{}\"}}",
        "y".repeat(200_000)
    );
    let r = app
        .call(Method::POST, "/api.php", Some(&app.token), Body::from(body))
        .await;
    assert_eq!((r.status, r.code().as_str()), (413, "too_large"));
    assert_eq!(r.header("content-type"), "application/json");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = App::start().await;
    let answers = [
        app.get("/healthz", None).await,
        app.get("/v1/account", Some(&app.token)).await,
        app.get("/v1/account", None).await,
        app.get("/no/such/route", None).await,
        app.post(&reveal_path("x"), None, json!({})).await,
    ];
    for r in &answers {
        assert_eq!(r.header("cache-control"), "no-store");
        assert_eq!(r.header("referrer-policy"), "no-referrer");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert!(
            r.header("content-security-policy")
                .contains("frame-ancestors 'none'"),
            "{:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn an_unknown_route_is_404_not_found_in_json() {
    let app = App::start().await;
    let r = app.get("/v2/nothing", Some(&app.token)).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
}

#[tokio::test]
async fn the_reveal_page_is_the_same_html_for_any_id_and_cannot_be_framed() {
    let app = App::start().await;
    let (id, _) = app.create(json!({"content": "x"})).await;
    let known = app.get(&format!("/s/{id}"), None).await;
    let unknown = app.get(&format!("/s/{}", uuid::Uuid::now_v7()), None).await;
    assert_eq!(known.status, 200);
    assert!(known.header("content-type").starts_with("text/html"));
    assert_eq!(known.header("x-frame-options"), "DENY");
    assert_eq!(known.body, unknown.body);
    // Serving the page used no view.
    let r = app
        .get(&format!("/v1/secrets/{id}"), Some(&app.token))
        .await;
    assert_eq!(r.json()["status"], "active", "{}", r.json());
}

#[tokio::test]
async fn the_request_past_the_account_limit_is_429_with_retry_after() {
    let cfg = EngineConfig {
        rate_limit_per_minute: 3,
        ..EngineConfig::default()
    };
    let app = App::start_with(cfg, HttpLimits::default()).await;
    for left in (0..3).rev() {
        let r = app.get("/v1/account", Some(&app.token)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-remaining"), left.to_string());
    }
    let r = app.get("/v1/account", Some(&app.token)).await;
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    let wait: u64 = r.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(r.header("x-ratelimit-remaining"), "0");
}

#[tokio::test]
async fn unauthenticated_reveals_past_the_address_limit_are_429_with_retry_after() {
    let cfg = EngineConfig {
        reveal_rate_limit_per_minute: 2,
        ..EngineConfig::default()
    };
    let app = App::start_with(cfg, HttpLimits::default()).await;
    let path = reveal_path(&uuid::Uuid::now_v7().to_string());
    for _ in 0..2 {
        assert_eq!(app.post(&path, None, json!({})).await.status, 404);
    }
    let r = app.post(&path, None, json!({})).await;
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    let wait: u64 = r.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn repeated_bad_tokens_from_one_address_are_cut_off_with_retry_after() {
    let limits = HttpLimits {
        auth_failures_per_minute: 2,
        ..HttpLimits::default()
    };
    let app = App::start_with(EngineConfig::default(), limits).await;
    let wrong = "6f1c1f5e-8f0e-4d55-9c52-3a3c9a8e9d11";
    for _ in 0..2 {
        assert_eq!(app.get("/v1/account", Some(wrong)).await.status, 401);
    }
    let r = app.get("/v1/account", Some(wrong)).await;
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"));
    assert!(r.header("retry-after").parse::<u64>().is_ok());
}

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_the_secrets_resource() {
    let app = App::start().await;
    let r = app.get("/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in ["/v1/secrets", "/v1/secrets/{id}/reveal", "/api.php"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn a_deleted_secret_no_longer_reveals() {
    let app = App::start().await;
    let (id, key) = app.create(json!({"content": "x"})).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/secrets/{id}"),
            Some(&app.token),
            Body::empty(),
        )
        .await;
    assert!((200..300).contains(&r.status), "{}", r.status);
    let r = app.post(&reveal_path(&id), None, json!({"key": key})).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (410, "deleted"),
        "{}",
        r.json()
    );
}

#[tokio::test]
async fn listing_shows_the_accounts_secrets_newest_first() {
    let app = App::start().await;
    let (first, _) = app.create(json!({"content": "1", "label": "one"})).await;
    let (second, _) = app.create(json!({"content": "2", "label": "two"})).await;
    let r = app.get("/v1/secrets", Some(&app.token)).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let ids: Vec<String> = r.json()["seecrets"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.json()))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![second, first]);
}
