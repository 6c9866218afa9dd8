//! The reveal page. `GET /s/{id}` is one static page for every id (DESIGN §7.1): link-preview
//! bots (Slack, Discord, mail scanners) fetch it and must neither burn anything nor learn whether
//! the id exists. The script takes the key from the fragment, which browsers never send, derives
//! the reveal proof from it, asks the status endpoint what to show, reveals with the proof when
//! the person clicks, and decrypts in the browser with WebCrypto.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{AppState, ClientAddr, limit_address};

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const REVEAL_JS: &str = include_str!("../../assets/reveal.js");
const STYLE_CSS: &str = include_str!("../../assets/style.css");
const STREAM_JS: &str = include_str!("../../assets/stream.js");
const SIGNIN_JS: &str = include_str!("../../assets/signin.js");

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
            "/assets/signin.js",
            get(|| async { asset("text/javascript; charset=utf-8", SIGNIN_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    // The same bytes for every id, known or not: the page asks the status endpoint with the
    // proof it derives from the fragment, so the id alone learns nothing here.
    page_headers(Html(PAGE_HTML).into_response())
}

/// The headers of every page a person reads (the reveal page, the sign-in pages): a strict CSP
/// (scripts and styles of this server only, no inline script), no indexing, no framing, no
/// caching.
pub(super) fn page_headers(mut resp: Response) -> Response {
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

/// The start of every page a person reads, up to `<body`: `$title`, and this server's style
/// sheet under the relative path `$assets` (pages work under any path prefix of the public URL).
macro_rules! page_head {
    ($title:literal, $assets:literal) => {
        concat!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>"#,
            $title,
            r#"</title>
<link rel="stylesheet" href=""#,
            $assets,
            r#"style.css">
</head>
"#
        )
    };
}
pub(super) use page_head;

/// The one reveal page. Every state the script can show is in it, hidden until the status call
/// says which one applies.
const PAGE_HTML: &str = concat!(
    page_head!("Seecret: a secret was shared with you", "../assets/"),
    r#"<body>
<main>
<h1>Seecret</h1>
<section id="waiting" hidden>
<p id="lead"></p>
<div id="passphrase-box" hidden>
<label for="passphrase">Passphrase</label>
<input id="passphrase" type="password" autocomplete="off" spellcheck="false">
</div>
<button id="reveal" type="button">Reveal secret</button>
</section>
<p id="gone" hidden></p>
<section id="sign-in" hidden>
<p id="sign-in-lead"></p>
<button id="sign-in-button" type="button">Sign in</button>
</section>
<p id="status" role="status" aria-live="polite">Checking the link…</p>
<section id="result" hidden>
<pre id="content"></pre>
<button id="copy" type="button">Copy to clipboard</button>
</section>
<noscript><p>This page needs JavaScript: the secret is decrypted in your browser.</p></noscript>
<script src="../assets/stream.js"></script>
<script src="../assets/reveal.js"></script>
</main>
<footer>Decrypted in your browser: the key is the part of the link after <code>#</code>, which is never sent to the server.</footer>
</body>
</html>
"#
);
