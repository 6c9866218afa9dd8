//! The web app at `/` (DESIGN §7.3): one static page whose script seals secrets in the browser
//! with the CLI's formats and talks to `/v1` with the account's token, kept in the tab's
//! `sessionStorage`. `GET /v1/web-config` tells it, before anyone signs in, whether people
//! without a token may share text (`SEECRET_PUBLIC_CREATE`), which they do through
//! `POST /v1/public/secrets` as the dedicated public account, under its caps.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use seecret_core::api::{CreateSecret, ErrorBody, PublicLimits, SecretInfo, WebConfig};
use seecret_core::engine::PublicCaps;
use seecret_core::limits::Limiter;
use seecret_core::store::AccountRecord;

use super::page::{asset, page_head, page_headers};
use super::{ApiError, AppState, ClientAddr, JsonBody, is_multipart, limit_address};

const APP_JS: &str = include_str!("../../assets/app.js");
const ZIP_JS: &str = include_str!("../../assets/zip.js");
const QRCODE_JS: &str = include_str!("../../assets/vendor/qrcode-generator/qrcode.js");

/// Anonymous sharing, when the operator turned it on: the account that owns the secrets, the
/// caps, and each client address's creations.
#[derive(Debug)]
pub struct PublicCreate {
    /// The public account.
    pub account: AccountRecord,
    /// What an anonymous create may ask for.
    pub caps: PublicCaps,
    /// Creations per minute per client address (in this process).
    pub limiter: Limiter,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(app_page))
        .route("/v1/web-config", get(web_config))
        .route("/v1/public/secrets", post(create_public))
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/zip.js",
            get(|| async { asset("text/javascript; charset=utf-8", ZIP_JS) }),
        )
        .route(
            "/assets/vendor/qrcode.js",
            get(|| async { asset("text/javascript; charset=utf-8", QRCODE_JS) }),
        )
}

async fn app_page(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    page_headers(Html(APP_HTML).into_response())
}

/// What the web app needs before anyone signs in: the server's limits and whether people
/// without a token may share text.
#[utoipa::path(get, path = "/v1/web-config", tag = "web",
    responses((status = 200, body = WebConfig), (status = 429, body = ErrorBody)))]
pub async fn web_config(
    State(state): State<AppState>,
    addr: ClientAddr,
) -> Result<Json<WebConfig>, ApiError> {
    limit_address(&state, &addr).await?;
    let cfg = state.engine.config();
    Ok(Json(WebConfig {
        public_create: state.public.is_some(),
        max_expiration: cfg.max_expiration,
        max_views: cfg.max_views,
        max_text_bytes: cfg.max_text_bytes,
        max_file_bytes: cfg.max_file_bytes,
        public: state.public.as_ref().map(|p| PublicLimits {
            max_expiration: p.caps.max_expiration,
            max_views: p.caps.max_views,
            creates_per_minute: p.limiter.limit(),
            files: false,
        }),
    }))
}

// Not in `/v1/openapi.json` yet: listed there, it makes schemathesis 4.32.5's coverage phase
// fail with an internal hypothesis error (on another operation); docs/api.md describes it.
/// Create a text secret without a token, when the server allows anonymous sharing
/// (`SEECRET_PUBLIC_CREATE`): sealed by the client (`id`, `ciphertext`, `verifier`), within the
/// anonymous caps (`public_limit` otherwise), counted per client address. Off: 401.
#[utoipa::path(post, path = "/v1/public/secrets", tag = "web", request_body = CreateSecret,
    responses((status = 201, body = SecretInfo, description = "Created; `url` is the link to share"),
        (status = 400, body = ErrorBody, description = "`public_limit`: beyond the anonymous caps \
        (expiry, views, files, webhooks), or not sealed by the client"),
        (status = 401, body = ErrorBody, description = "anonymous sharing is off on this server"),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn create_public(
    State(state): State<AppState>,
    addr: ClientAddr,
    req: Request,
) -> Result<Response, ApiError> {
    let Some(public) = state.public.clone() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "anonymous sharing is off on this server: sign in with your API token",
        ));
    };
    // Counted before the body is read: an address over its limit costs no body read.
    let d = public.limiter.check(&addr.0.to_string());
    if !d.allowed {
        crate::metrics::rate_limited("anonymous");
        return Err(ApiError::rate_limited(
            d.retry_after.as_secs_f64().ceil().max(1.0) as u64,
        ));
    }
    if is_multipart(req.headers()) {
        return Err(seecret_core::Error::Rejected {
            code: "public_limit",
            message: "anonymous sharing takes text only; sign in with an API token to share files"
                .into(),
        }
        .into());
    }
    let JsonBody(body) = JsonBody::<CreateSecret>::from_request(req, &state).await?;
    let info = state
        .engine
        .create_public_secret(&public.account, &public.caps, body)
        .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// The web app. Every panel is in the page; the script shows what applies.
const APP_HTML: &str = concat!(
    page_head!("Seecret: share a secret", "assets/"),
    r#"<body class="app">
<header class="bar">
<h1>Seecret</h1>
<div id="account" data-signed-in="no">
<span id="who"></span>
<button id="sign-out" type="button" hidden>Sign out</button>
</div>
</header>
<main>
<section id="sign-in" aria-labelledby="sign-in-title" hidden>
<h2 id="sign-in-title">Sign in</h2>
<p id="sign-in-lead">Paste your account's API token. It stays in this browser tab only (never in a cookie) and is forgotten when the tab closes.</p>
<form id="sign-in-form">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
<button id="sign-in-button" type="submit">Sign in</button>
</form>
<p id="sign-in-status" role="status" aria-live="polite"></p>
</section>
<div id="app" hidden>
<div role="tablist" aria-label="What to do" id="tabs">
<button role="tab" type="button" id="tab-share" aria-controls="panel-share" aria-selected="true">Share</button>
<button role="tab" type="button" id="tab-request" aria-controls="panel-request" aria-selected="false" tabindex="-1">Request a secret</button>
<button role="tab" type="button" id="tab-mine" aria-controls="panel-mine" aria-selected="false" tabindex="-1">My secrets</button>
</div>
<section role="tabpanel" id="panel-share" aria-labelledby="tab-share" tabindex="0">
<form id="share-form" novalidate>
<fieldset>
<legend>What to share</legend>
<div class="choice">
<input type="radio" name="what" id="what-text" value="text" checked><label for="what-text">Text</label>
<input type="radio" name="what" id="what-files" value="files"><label for="what-files">Files</label>
</div>
<div id="text-box">
<label for="text">Secret text</label>
<textarea id="text" rows="6" spellcheck="false" autocomplete="off"></textarea>
</div>
<div id="files-box" hidden>
<div id="drop" class="drop">
<p id="drop-hint">Drop files or a folder here, or choose them.</p>
<label for="files" class="picker">Choose files</label>
<input id="files" type="file" multiple>
<label for="folder" class="picker">Choose a folder</label>
<input id="folder" type="file" webkitdirectory>
</div>
<ul id="file-list" aria-label="Chosen files"></ul>
<p class="hint">Several files or a folder are put in one zip archive, in this browser.</p>
</div>
</fieldset>
<fieldset>
<legend>Options</legend>
<div class="row">
<div><label for="expiration">Expires after</label>
<select id="expiration">
<option value="1h">1 hour</option>
<option value="24h" selected>1 day</option>
<option value="7d">7 days</option>
<option value="30d">30 days</option>
</select></div>
<div><label for="views">Views</label>
<input id="views" type="number" min="1" max="10" value="1" inputmode="numeric"></div>
</div>
<label for="passphrase">Passphrase (optional)</label>
<input id="passphrase" type="password" autocomplete="new-password" spellcheck="false">
<label for="label">Label, for you only (optional, not encrypted)</label>
<input id="label" type="text" autocomplete="off" maxlength="200">
</fieldset>
<button id="share" type="submit">Encrypt and share</button>
<progress id="progress" max="100" value="0" hidden aria-label="Upload progress"></progress>
<p id="share-status" role="status" aria-live="polite"></p>
</form>
<section id="result" aria-labelledby="result-title" hidden>
<h2 id="result-title" tabindex="-1">Your link</h2>
<p>Send this link. Whoever opens it can read the secret; the key is the part after <code>#</code>, which never reaches the server.</p>
<label for="link">Link</label>
<input id="link" type="text" readonly>
<div class="actions">
<button id="copy" type="button">Copy</button>
<button id="burn" type="button" class="danger">Burn now</button>
<button id="again" type="button" class="secondary">Share another</button>
</div>
<figure id="qr-box"><div id="qr"></div><figcaption>QR code of the link, made in this browser</figcaption></figure>
<p id="result-status" role="status" aria-live="polite"></p>
</section>
</section>
<section role="tabpanel" id="panel-request" aria-labelledby="tab-request" tabindex="0" hidden>
<p id="request-lead">Ask someone for a secret: they type it (or choose a file) on the page of the link you send them, it is encrypted in their browser for a key that only this browser made, and only your private link can read it.</p>
<form id="request-form" novalidate>
<fieldset>
<legend>The request</legend>
<label for="request-note">Note shown to the person you ask (optional, not encrypted, at most 500 characters)</label>
<textarea id="request-note" rows="3" maxlength="500"></textarea>
<label for="request-label">Label, for you only (optional, not encrypted)</label>
<input id="request-label" type="text" autocomplete="off" maxlength="200">
<div class="row">
<div><label for="request-expiration">Request open for</label>
<select id="request-expiration">
<option value="1h">1 hour</option>
<option value="24h">1 day</option>
<option value="7d" selected>7 days</option>
<option value="30d">30 days</option>
</select></div>
<div><label for="answer-expiration">Answer kept for</label>
<select id="answer-expiration">
<option value="1h">1 hour</option>
<option value="24h" selected>1 day</option>
<option value="7d">7 days</option>
<option value="30d">30 days</option>
</select></div>
<div><label for="answer-views">Answer views</label>
<input id="answer-views" type="number" min="1" max="10" value="1" inputmode="numeric"></div>
</div>
<div class="choice"><input id="allow-files" type="checkbox"><label for="allow-files">Allow a file as the answer</label></div>
</fieldset>
<button id="request-create" type="submit">Create the request</button>
<p id="request-status" role="status" aria-live="polite"></p>
</form>
<section id="request-result" aria-labelledby="request-result-title" hidden>
<h2 id="request-result-title" tabindex="-1">Your request</h2>
<p>Send this link to the person you ask. It carries only a public key: it lets them send, not read.</p>
<label for="request-link">Link to send</label>
<input id="request-link" type="text" readonly>
<div class="actions">
<button id="request-copy" type="button">Copy</button>
<button id="request-delete" type="button" class="danger">Delete request</button>
<button id="request-again" type="button" class="secondary">Ask for another</button>
</div>
<figure id="request-qr-box"><div id="request-qr"></div><figcaption>QR code of the link to send, made in this browser</figcaption></figure>
<div class="warning" id="private-box">
<h3 id="private-title">Your private link: keep it, it is shown only once</h3>
<p>This link is the <strong>only</strong> way to read the answer. Its key was made in this browser and never sent to the server; if you lose it, nobody can read the answer. Do not send it to anyone.</p>
<label for="private-link">Private link to read the answer</label>
<input id="private-link" type="text" readonly>
<div class="actions"><button id="private-copy" type="button">Copy private link</button></div>
</div>
<p id="request-result-status" role="status" aria-live="polite"></p>
</section>
</section>
<section role="tabpanel" id="panel-mine" aria-labelledby="tab-mine" tabindex="0" hidden>
<div class="actions"><button id="refresh" type="button" class="secondary">Refresh</button></div>
<p id="mine-status" role="status" aria-live="polite"></p>
<table id="mine" hidden>
<caption>Your secrets, newest first</caption>
<thead><tr><th scope="col">Label</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Views left</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody id="mine-rows"></tbody>
</table>
<table id="mine-requests" hidden>
<caption>Your requests, newest first</caption>
<thead><tr><th scope="col">Label</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Answer</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody id="mine-request-rows"></tbody>
</table>
</section>
</div>
<noscript><p>This page needs JavaScript: secrets are encrypted in your browser.</p></noscript>
<script src="assets/stream.js"></script>
<script src="assets/zip.js"></script>
<script src="assets/vendor/qrcode.js"></script>
<script src="assets/app.js"></script>
</main>
<footer>Encrypted in your browser: the server stores only ciphertext and never sees the key.</footer>
</body>
</html>
"#
);
