//! The sign-in round trip of a bound secret's recipient, as pages a browser navigates:
//!
//! - `GET /auth/{provider}/start?secret={id}[&team={T…}]`: gives the browser the flow cookie and
//!   redirects (303) to the platform's authorization page. The id is not looked up: starting a
//!   sign-in tells nothing about an id.
//! - `GET /auth/{provider}/callback?code&state`: checks the state against the cookie, exchanges
//!   the code, has the engine issue a ticket for whoever the platform vouched for, and answers a
//!   small page whose script (`/assets/signin.js`) keeps the ticket in the tab's
//!   `sessionStorage` and goes back to `/s/{id}`. The ticket is never in a URL. Refusals are
//!   pages that say what happened and lead back to the secret.
//!
//! Whether the signed-in user is the recipient is decided by the engine at the status call and
//! the reveal, not here: a stranger gets a ticket too, and the reveal refuses it.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use seecret_core::model::{Provider, SecretId};
use serde::Deserialize;
use tracing::{info, warn};

use super::page::{page_head, page_headers};
use super::{AppState, ClientAddr, limit_address};
use crate::signin::flow::{Browser, FlowError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
}

#[derive(Deserialize)]
struct StartQuery {
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    team: Option<String>,
}

/// What a platform sends back: `code` and `state`, or `error` (the person said no).
#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn start(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let (provider, app) = match opening(&state, &addr, &provider).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let Some(secret) = q.secret.as_deref().and_then(|s| s.parse::<SecretId>().ok()) else {
        return page(
            StatusCode::BAD_REQUEST,
            failed(
                "This sign-in link does not name a secret. Open the secret's link again.",
                None,
            ),
        );
    };
    // A workspace hint must look like one: it goes into the platform's URL.
    let team = q.team.filter(|t| {
        provider == Provider::Slack
            && t.len() <= 32
            && t.starts_with('T')
            && t.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    let sign_in = &state.sign_in;
    let secure = sign_in.secure_cookies();
    // Reuse this browser's cookie if it has one, so sign-ins in two tabs do not undo each other.
    let browser = match Browser::from_cookies(cookies(&headers), secure) {
        Some(b) => b,
        None => match Browser::new() {
            Ok(b) => b,
            Err(e) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    failed(&e.to_string(), None),
                );
            }
        },
    };
    let flow = match browser.start(provider, secret, now()) {
        Ok(f) => f,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                failed(&e.to_string(), None),
            );
        }
    };
    let to = sign_in.authorize_url(provider, app, &flow, team.as_deref());
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    match (
        HeaderValue::from_str(&to),
        HeaderValue::from_str(&browser.set_cookie(secure)),
    ) {
        (Ok(location), Ok(cookie)) => {
            h.insert(header::LOCATION, location);
            h.insert(header::SET_COOKIE, cookie);
            resp
        }
        _ => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            failed("The sign-in could not be started.", Some(secret)),
        ),
    }
}

async fn callback(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let (provider, app) = match opening(&state, &addr, &provider).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let label = provider.label();
    let sign_in = &state.sign_in;
    let secure = sign_in.secure_cookies();
    let restart = |e: FlowError| {
        warn!(provider = provider.as_str(), error = %e, "sign-in callback refused");
        page(
            StatusCode::BAD_REQUEST,
            failed(
                &format!(
                    "Sign-in with {label} could not be checked: {e}. Open the secret's link \
                     again and sign in from there (this browser must accept cookies from this \
                     site). Nothing was used."
                ),
                None,
            ),
        )
    };
    // The state is checked first, against this browser's cookie: someone else's code and state
    // (login CSRF) or an altered state never reach the platform.
    let Some(browser) = Browser::from_cookies(cookies(&headers), secure) else {
        return restart(FlowError::NoCookie);
    };
    let flow = match browser.resume(provider, q.state.as_deref().unwrap_or(""), now()) {
        Ok(f) => f,
        Err(e) => return restart(e),
    };
    let secret = flow.secret;
    // The round trip is over: its cookie goes, so the same callback cannot be replayed here.
    let clear = Browser::clear_cookie(secure);
    let finish = |status: StatusCode, body: String| {
        let mut resp = page(status, body);
        if let Ok(v) = HeaderValue::from_str(&clear) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        resp
    };
    let code = match (q.code.as_deref(), q.error.as_deref()) {
        (Some(code), None) if !code.is_empty() && code.len() <= 1024 => code,
        (_, Some(error)) => {
            info!(
                provider = provider.as_str(),
                "sign-in declined at the platform"
            );
            let error: String = error
                .chars()
                .take(64)
                .filter(char::is_ascii_graphic)
                .collect();
            return finish(
                StatusCode::BAD_REQUEST,
                failed(
                    &format!("Sign-in with {label} was not completed ({error}). Nothing was used."),
                    Some(secret),
                ),
            );
        }
        _ => {
            return finish(
                StatusCode::BAD_REQUEST,
                failed(
                    &format!("{label} sent no sign-in code back. Nothing was used."),
                    Some(secret),
                ),
            );
        }
    };
    let who = match sign_in.identify(provider, app, code, &flow).await {
        Ok(who) => who,
        Err(e) => {
            warn!(provider = provider.as_str(), error = %e, "sign-in failed");
            return finish(
                StatusCode::BAD_GATEWAY,
                failed(&format!("{e}. Nothing was used."), Some(secret)),
            );
        }
    };
    let ticket = match state.engine.issue_ticket(secret, who.clone()).await {
        Ok(t) => t,
        Err(e) => {
            warn!(provider = provider.as_str(), error = %e, "no ticket for a signed-in user");
            return finish(
                StatusCode::BAD_GATEWAY,
                failed(
                    &format!("The identity {label} gave could not be used: {e}. Nothing was used."),
                    Some(secret),
                ),
            );
        }
    };
    let name = who.name.as_deref().unwrap_or(&who.user);
    finish(
        StatusCode::OK,
        format!(
            r#"<section id="signed-in" data-secret="{secret}" data-provider="{p}" data-name="{n}" data-ticket="{t}">
<p id="status" role="status">Signed in with {label} as {n}. Taking you back to the secret…</p>
</section>
<noscript><p>This page needs JavaScript to take you back to the secret.</p></noscript>
<script src="../../assets/signin.js"></script>"#,
            p = provider.as_str(),
            n = escape(name),
            t = ticket.to_base64url().as_str(),
        ),
    )
}

/// What both pages check first: the client's address limit (they are unauthenticated), then
/// that sign-in with the provider in the path is configured.
async fn opening<'a>(
    state: &'a AppState,
    addr: &ClientAddr,
    provider: &str,
) -> Result<(Provider, &'a crate::signin::OAuthApp), Response> {
    limit_address(state, addr)
        .await
        .map_err(IntoResponse::into_response)?;
    let parsed = provider.parse::<Provider>().ok();
    match parsed.and_then(|p| Some((p, state.sign_in.app(p)?))) {
        Some(found) => Ok(found),
        None => Err(page(
            StatusCode::NOT_FOUND,
            failed(
                &format!(
                    "Sign-in with {} is not available on this server.",
                    parsed.map_or("this platform", Provider::label)
                ),
                None,
            ),
        )),
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// A refusal: what happened, and the way back to the secret when it is known (the reveal page
/// finds the key this tab kept before it left).
fn failed(message: &str, secret: Option<SecretId>) -> String {
    let back = secret
        .map(|id| format!(r#"<p><a id="back" href="../../s/{id}">Back to the secret</a></p>"#))
        .unwrap_or_default();
    format!(
        r#"<p id="status" class="error" role="alert">{}</p>
{back}"#,
        escape(message)
    )
}

fn page(status: StatusCode, body: String) -> Response {
    let state = if status.is_success() {
        "signed-in"
    } else {
        "sign-in-failed"
    };
    let html = format!(
        r#"{head}<body data-state="{state}">
<main>
<h1>Seecret</h1>
{body}
</main>
</body>
</html>
"#,
        head = page_head!("Seecret: sign-in", "../../assets/"),
    );
    page_headers((status, Html(html)).into_response())
}

/// Text for HTML (element content and quoted attribute values).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
