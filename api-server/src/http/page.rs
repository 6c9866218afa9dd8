//! The reveal page. `GET /s/{id}` only shows whether a secret is waiting: link-preview bots
//! (Slack, Discord, mail scanners) fetch it and must not burn anything. The person clicks Reveal;
//! the script takes the key from the fragment, which browsers never send, calls the reveal
//! endpoint and decrypts in the browser with WebCrypto.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use seecret_core::Error;
use seecret_core::model::{Kind, SecretId, Status};

use super::{AppState, ClientAddr, limit_address};

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const REVEAL_JS: &str = include_str!("../../assets/reveal.js");
const STYLE_CSS: &str = include_str!("../../assets/style.css");
const STREAM_JS: &str = include_str!("../../assets/stream.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s/{id}", get(page))
        // Browsers ask for it on every page; a 204 keeps their consoles (and our logs) quiet.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/assets/reveal.js",
            get(|| async { asset("text/javascript; charset=utf-8", REVEAL_JS) }),
        )
        .route(
            "/assets/stream.js",
            get(|| async { asset("text/javascript; charset=utf-8", STREAM_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(state): State<AppState>, addr: ClientAddr, Path(id): Path<String>) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    let peeked = match id.parse::<SecretId>() {
        Ok(id) => state.engine.peek(id).await,
        Err(_) => Err(Error::NotFound),
    };
    let (status, body) = match peeked {
        Ok(p) if p.status == Status::Active => (
            StatusCode::OK,
            waiting(&p.id.to_string(), p.passphrase_protected, p.kind),
        ),
        Ok(p) => (
            StatusCode::GONE,
            gone(match p.status {
                Status::Consumed => "This secret was already viewed. It has been destroyed.",
                Status::Expired => "This secret has expired. It has been destroyed.",
                _ => "This secret was deleted by its sender.",
            }),
        ),
        Err(Error::NotFound) => (
            StatusCode::NOT_FOUND,
            gone("This link does not match any secret: it may be mistyped, or it ended long ago."),
        ),
        Err(e) => {
            tracing::error!(error = %e, "reveal page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                gone("Something went wrong. Try again later."),
            )
        }
    };
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn shell(main: &str, body_attrs: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>Seecret: a secret was shared with you</title>
<link rel="stylesheet" href="../assets/style.css">
</head>
<body{body_attrs}>
<main>
<h1>Seecret</h1>
{main}
</main>
<footer>Decrypted in your browser: the key is the part of the link after <code>#</code>, which is never sent to the server.</footer>
</body>
</html>
"#
    )
}

fn waiting(id: &str, passphrase: bool, kind: Kind) -> String {
    let pass = if passphrase {
        r#"<label for="passphrase">Passphrase</label>
<input id="passphrase" type="password" autocomplete="off" spellcheck="false">"#
    } else {
        ""
    };
    shell(
        &format!(
            r#"<section id="waiting">
<p id="lead">Someone shared {what} with you. Revealing it uses one of its views; after the last one it is destroyed.</p>
{pass}
<button id="reveal" type="button">{button}</button>
</section>
<p id="status" role="status" aria-live="polite"></p>
<section id="result" hidden>
<pre id="content"></pre>
<button id="copy" type="button">Copy to clipboard</button>
</section>
<script src="../assets/stream.js"></script>
<script src="../assets/reveal.js"></script>"#,
            what = if kind == Kind::File {
                "a file"
            } else {
                "a secret"
            },
            button = if kind == Kind::File {
                "Reveal and download"
            } else {
                "Reveal secret"
            },
        ),
        &format!(
            r#" data-id="{id}" data-passphrase="{passphrase}" data-kind="{}""#,
            kind.as_str()
        ),
    )
}

fn gone(message: &str) -> String {
    shell(&format!(r#"<p id="gone">{message}</p>"#), "")
}
