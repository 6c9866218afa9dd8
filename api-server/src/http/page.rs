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
const REQUEST_CRYPTO_JS: &str = include_str!("../../assets/request-crypto.js");
const REQUEST_ANSWER_JS: &str = include_str!("../../assets/request-answer.js");
const REQUEST_OPEN_JS: &str = include_str!("../../assets/request-open.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s/{id}", get(page))
        .route("/r/{id}", get(responder_page))
        .route("/a/{id}", get(asker_page))
        .route(
            "/assets/request-crypto.js",
            get(|| async { asset("text/javascript; charset=utf-8", REQUEST_CRYPTO_JS) }),
        )
        .route(
            "/assets/request-answer.js",
            get(|| async { asset("text/javascript; charset=utf-8", REQUEST_ANSWER_JS) }),
        )
        .route(
            "/assets/request-open.js",
            get(|| async { asset("text/javascript; charset=utf-8", REQUEST_OPEN_JS) }),
        )
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

async fn page(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    // The same bytes for every id, known or not: the page asks the status endpoint with the
    // proof it derives from the fragment, so the id alone learns nothing here.
    page_headers(Html(PAGE_HTML).into_response())
}

/// The responder's page for a request (DESIGN §7.2): the same bytes for every id; its script
/// reads the request and checks its key against the fragment.
async fn responder_page(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    page_headers(Html(RESPONDER_HTML).into_response())
}

/// The asker's page for an answer: the same bytes for every id; the private key stays in the
/// fragment.
async fn asker_page(State(state): State<AppState>, addr: ClientAddr) -> Response {
    if let Err(e) = limit_address(&state, &addr).await {
        return e.into_response();
    }
    page_headers(Html(ASKER_HTML).into_response())
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

/// The responder page: every state is in it, hidden until the script knows which applies.
const RESPONDER_HTML: &str = concat!(
    page_head!("Seecret: someone asked you for a secret", "../assets/"),
    r#"<body>
<main>
<h1>Seecret</h1>
<form id="answer-form" hidden>
<p id="note"></p>
<label for="answer-text">Your answer</label>
<textarea id="answer-text" rows="6" autocomplete="off" spellcheck="false"></textarea>
<div id="file-box" hidden>
<label for="answer-file">Or send a file</label>
<input id="answer-file" type="file">
</div>
<button id="send" type="submit">Encrypt and send</button>
</form>
<p id="gone" hidden></p>
<p id="status" role="status" aria-live="polite">Checking the link…</p>
<noscript><p>This page needs JavaScript: your answer is encrypted in your browser.</p></noscript>
<script src="../assets/stream.js"></script>
<script type="module" src="../assets/request-answer.js"></script>
</main>
<footer>Encrypted in your browser to the key in the link (after <code>#</code>): only the person who asked can read it.</footer>
</body>
</html>
"#
);

/// The asker's page.
const ASKER_HTML: &str = concat!(
    page_head!("Seecret: the answer to your request", "../assets/"),
    r#"<body>
<main>
<h1>Seecret</h1>
<section id="waiting" hidden>
<p id="lead"></p>
<button id="open" type="button">Open the answer</button>
</section>
<p id="gone" hidden></p>
<p id="status" role="status" aria-live="polite">Checking the link…</p>
<section id="result" hidden>
<pre id="content"></pre>
<button id="copy" type="button">Copy to clipboard</button>
</section>
<noscript><p>This page needs JavaScript: the answer is decrypted in your browser.</p></noscript>
<script src="../assets/stream.js"></script>
<script type="module" src="../assets/request-open.js"></script>
</main>
<footer>Decrypted in your browser with the private key in the link (after <code>#</code>), which is never sent to the server.</footer>
</body>
</html>
"#
);
