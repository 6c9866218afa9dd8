//! The HTTP transport: thin handlers over the engine. `app` builds the whole app so tests can
//! drive it in-process; `main` serves it on a socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
pub use files::{create_from_multipart, reveal_response};
use seecret_core::engine::Engine;
use seecret_core::geo::{Geo, TrustedProxies};
use seecret_core::limits::Decision;
use seecret_core::store::AccountRecord;
use serde::de::DeserializeOwned;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

mod error;
mod files;
mod guard;
mod openapi;
mod page;
mod requests;
mod rest;
mod rpc;
mod signin;
mod web;

pub use error::ApiError;
pub use guard::{Deadline, Guards, HttpLimits};
pub use web::PublicCreate;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// How to tell who and where a client is.
    pub net: Arc<Net>,
    /// In-flight cap, deadlines and the failed-authentication limit.
    pub guards: Arc<Guards>,
    /// Sign-in of the recipients of bound secrets (Slack, Discord).
    pub sign_in: Arc<crate::signin::SignIn>,
    /// Anonymous sharing from the web app, when on (`SEECRET_PUBLIC_CREATE`).
    pub public: Option<Arc<PublicCreate>>,
}

/// Client address and country sources.
#[derive(Debug, Default)]
pub struct Net {
    /// Proxies whose forwarding headers count.
    pub trusted: TrustedProxies,
    /// Country lookup.
    pub geo: Geo,
}

/// The whole application with the chat bots' routes (`/slack/*`, `/discord/*`) inside the same
/// middleware as ours: deadline, in-flight cap, tracing and the security headers.
pub fn app(state: AppState, bots: Router) -> Router {
    Router::new()
        .merge(rpc::routes())
        .merge(rest::routes(state.clone()))
        .merge(requests::routes(state.clone()))
        .route("/v1/openapi.json", get(openapi::serve))
        .merge(page::routes())
        .merge(web::routes())
        .merge(signin::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state.clone())
        .merge(bots)
        // Bodies are limited where they are read: JSON by `read_body`, files while streaming.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(body_limit_as_json))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::limit_auth_failures,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::request_deadline,
        ))
        .layer(middleware::from_fn_with_state(state, guard::cap_in_flight))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        // Spans carry method and path only: paths hold ids, never keys (those stay in the
        // fragment), queries are left out (a sign-in callback's carries the platform's one-time
        // code) and bodies are never logged.
        // (Under tower-http's target, like its default span, so `tower_http=debug` shows them.)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::debug_span!(
                target: "tower_http::trace::make_span",
                "request",
                method = %req.method(),
                path = %req.uri().path(),
            )
        }))
        .layer(middleware::from_fn(access_log))
}

/// The request id a proxy sent, if it is a plain token: anything else could forge log lines.
fn forwarded_request_id(req: &Request) -> Option<String> {
    let id = req.headers().get("x-request-id")?.to_str().ok()?;
    let plain = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plain.then(|| id.to_string())
}

/// One `seecret::access` line per request (method, route template, status, latency; health probes
/// at debug), and a request id (the proxy's `X-Request-Id` when it is a plain token, else a new
/// one) in the span every log line of the request carries and in the response's `X-Request-Id`.
/// The route is the template (`/v1/secrets/{id}`), never the path: ids stay out of the log.
async fn access_log(req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = req.method().clone();
    let request_id = forwarded_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %request_id, route = %route);
    let mut resp = next.run(req).instrument(span.clone()).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    crate::metrics::request(method.as_str(), &route, status, elapsed);
    let latency_ms = elapsed * 1000.0;
    let _entered = span.enter();
    if matches!(route.as_str(), "/healthz" | "/readyz") {
        tracing::debug!(target: "seecret::access", %method, status, latency_ms, "request");
    } else {
        tracing::info!(target: "seecret::access", %method, status, latency_ms, "request");
    }
    resp
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.engine.ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "database unreachable",
            )
            .into_response()
        }
    }
}

/// axum answers an oversized body with a plain-text 413; clients get our JSON shape instead.
async fn body_limit_as_json(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE
        && resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes)
            != Some(b"application/json")
    {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "request body is too large",
        )
        .into_response();
    }
    resp
}

/// A JSON body whose failures (syntax, shape, size) answer in our error format.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a whole JSON body, mapping an overflow to 413. JSON may escape every byte of a text
/// secret (up to 6 bytes each for `\u00XX`), so the limit is generous; the engine enforces the
/// real content limit with its own clear 413.
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.engine.config().max_text_bytes * 6 + 64 * 1024;
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body is larger than {limit} bytes (send files as multipart)"),
            )
        })
}

/// Whether the request carries `multipart/form-data` (a file upload).
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Parses JSON; an empty body counts as `{}` so bodiless calls (delete, reveal) just work.
/// Bodies are objects: serde would also read a struct from an array of its fields in order.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_json(&e))
}

/// The client's address (the socket peer, or behind a trusted proxy the forwarded one) and
/// country, as far as the configured sources tell.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub IpAddr, pub Option<String>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let net = &state.net;
        let peer = peer(&parts.extensions)?;
        let ip = client_ip(&parts.headers, &parts.extensions, net)?;
        let country = match net.geo.header().filter(|_| net.trusted.contains(peer)) {
            // A country header counts only when a trusted proxy set it.
            Some(name) => match trusted_country(&parts.headers, name) {
                Ok(value) => net.geo.country(ip, value),
                // Two values mean a proxy appended to what the client sent instead of
                // overwriting it; either could be forged, so the country is unknown.
                Err(()) => {
                    tracing::warn!(
                        header = name,
                        "several values in the country header: ignored (the proxy must overwrite it)"
                    );
                    None
                }
            },
            None => net.geo.country(ip, None),
        };
        Ok(Self(ip, country))
    }
}

/// The socket peer, which the accept loop puts on every request. A request without one was not
/// served by it (a router driven in-process must add `ConnectInfo` itself): answering 500 beats
/// counting every such caller as one made-up address.
fn peer(ext: &axum::http::Extensions) -> Result<IpAddr, ApiError> {
    match ext.get::<ConnectInfo<SocketAddr>>() {
        Some(c) => Ok(c.0.ip()),
        None => {
            tracing::error!("request without a peer address (no ConnectInfo): refused");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal server error",
            ))
        }
    }
}

/// The client's address: the socket peer, or behind a trusted proxy the forwarded one.
pub fn client_ip(
    headers: &HeaderMap,
    ext: &axum::http::Extensions,
    net: &Net,
) -> Result<IpAddr, ApiError> {
    let all = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    Ok(net
        .trusted
        .client(peer(ext)?, &all("x-forwarded-for"), &all("forwarded")))
}

/// The one value of the trusted country header (`None` when absent or not text); `Err` when it
/// has several (more than one header line, or a comma-separated list).
fn trusted_country<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    match first.map(HeaderValue::to_str) {
        Some(Ok(v)) if v.contains(',') => Err(()),
        Some(Ok(v)) => Ok(Some(v)),
        _ => Ok(None),
    }
}

impl ClientAddr {
    /// The engine's view of the viewer.
    pub fn viewer(&self) -> seecret_core::engine::Viewer {
        seecret_core::engine::Viewer {
            country: self.1.clone(),
        }
    }
}

/// Counts one unauthenticated request against the client's address.
pub async fn limit_address(state: &AppState, addr: &ClientAddr) -> Result<(), ApiError> {
    let d = state
        .engine
        .address_limiter()
        .check(&addr.0.to_string())
        .await;
    if d.allowed {
        Ok(())
    } else {
        crate::metrics::rate_limited("address");
        Err(ApiError::rate_limited(retry_secs(&d)))
    }
}

fn retry_secs(d: &Decision) -> u64 {
    d.retry_after.as_secs_f64().ceil().max(1.0) as u64
}

/// The account behind the request's Bearer token, after its rate limit was counted.
#[derive(Clone, Debug)]
pub struct Authed {
    /// The account.
    pub account: AccountRecord,
    /// The rate-limit state, for the response headers.
    pub decision: Decision,
}

/// Authenticates the `Authorization: Bearer` header and counts the request.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Authed, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send your API token as Authorization: Bearer <token>",
            )
        })?;
    let account = state.engine.authenticate(token).await?;
    let decision = state
        .engine
        .account_limiter()
        .check(&account.id.to_string())
        .await;
    if !decision.allowed {
        crate::metrics::rate_limited("account");
        return Err(ApiError::rate_limited(retry_secs(&decision)).with_rate_limit(decision.limit));
    }
    Ok(Authed { account, decision })
}

/// Adds `X-RateLimit-Limit` / `X-RateLimit-Remaining` to an authenticated answer.
pub fn with_rate_headers(decision: &Decision, resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    if decision.limit > 0 {
        let h = resp.headers_mut();
        h.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(decision.limit),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(decision.remaining),
        );
    }
    resp
}
