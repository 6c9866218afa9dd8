//! OAuth v2 installation for many workspaces, as bolt-python's OAuth flow does it.
//! `/slack/install` sends the admin to Slack with a random `state` also kept in a short-lived
//! cookie (and Slack's `team`, when given, so a direct install keeps its workspace);
//! `/slack/oauth/callback` accepts the code only when both match (slack-morphism's own OAuth
//! routes send no `state`, so install CSRF would be possible there). A callback without our state
//! (an install started on Slack's own pages, or a forged one) exchanges nothing: its page says why
//! and links to `/slack/install`, where the real install goes on. Bot tokens are sealed with
//! `SEECRET_SLACK_TOKEN_KEY`, bound to their team.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use seecret_core::crypto;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::slack::Token;
use crate::{PROVIDER, SlackBot};

const COOKIE: &str = "seecret_slack_state";
const AUTHORIZE: &str = "https://slack.com/oauth/v2/authorize";
/// The bot scopes the manifest declares: the command, posting, opening DMs, and reading whether a
/// user is an admin (`users.info`, for the workspace's settings).
const SCOPES: &str = "commands,chat:write,im:write,users:read";

/// Why an installation's token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The database failed.
    #[error("installation store: {0}")]
    Store(String),
    /// The sealed token does not open with the configured key (key changed?).
    #[error("the stored token does not decrypt with SEECRET_SLACK_TOKEN_KEY")]
    Key,
}

fn aad(team: &str) -> Vec<u8> {
    format!("{PROVIDER}:{team}").into_bytes()
}

/// The bot token of a workspace that installed the app, if any.
pub async fn token(bot: &SlackBot, team: &str) -> Result<Option<Token>, InstallError> {
    let Some(oauth) = &bot.inner.cfg.oauth else {
        return Ok(None);
    };
    let Some(sealed) = bot
        .inner
        .store
        .sealed(PROVIDER, team)
        .await
        .map_err(InstallError::Store)?
    else {
        return Ok(None);
    };
    let token =
        crypto::open_bound(&oauth.token_key, &aad(team), &sealed).map_err(|_| InstallError::Key)?;
    let token = token.as_str().ok_or(InstallError::Key)?;
    Ok(Some(Token::new(token)))
}

fn redirect_uri(bot: &SlackBot) -> String {
    format!("{}/slack/oauth/callback", bot.inner.cfg.public_url)
}

/// `/slack/install`'s query: Slack's direct-install redirect may name the workspace.
#[derive(Deserialize)]
pub struct Start {
    team: Option<String>,
}

/// `GET /slack/install`: off to Slack's consent screen.
pub async fn start(State(bot): State<SlackBot>, Query(q): Query<Start>) -> Response {
    let Some(oauth) = &bot.inner.cfg.oauth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let state = URL_SAFE_NO_PAD.encode(raw);
    let mut url = match url::Url::parse(AUTHORIZE) {
        Ok(u) => u,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    url.query_pairs_mut()
        .append_pair("client_id", &oauth.client_id)
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", &redirect_uri(&bot))
        .append_pair("state", &state);
    if let Some(team) = q.team.filter(|t| is_slack_id(t)) {
        url.query_pairs_mut().append_pair("team", &team);
    }
    let secure = if bot.inner.cfg.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={state}; Path=/slack; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// The callback's query.
#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A team id as Slack writes them (`T0123ABC`, `E…` for an organisation).
fn is_slack_id(s: &str) -> bool {
    (2..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    page_with_link(status, title, text, None)
}

/// A page saying `text`, with a link `(href, label)` after it.
fn page_with_link(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link
        .map(|(href, label)| format!("<p><a href=\"{}\">{}</a></p>", esc(href), esc(label)))
        .unwrap_or_default();
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::SET_COOKIE,
                "seecret_slack_state=; Path=/slack; Max-Age=0; HttpOnly; SameSite=Lax",
            ),
        ],
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>{t}</title><h1>{t}</h1><p>{x}</p>{link}",
            t = esc(title),
            x = esc(text)
        )),
    )
        .into_response()
}

/// `GET /slack/oauth/callback`: checks `state`, trades the code, seals and stores the token.
pub async fn callback(
    State(bot): State<SlackBot>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let Some(oauth) = &bot.inner.cfg.oauth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(e) = q.error {
        return page(
            StatusCode::BAD_REQUEST,
            "Not installed",
            &format!("Slack said: {e}"),
        );
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string());
    let install = format!("{}/slack/install", bot.inner.cfg.public_url);
    let again = Some((install.as_str(), "Install Seecret"));
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        // bolt-python's `invalid_browser`: Slack's own "Add to Slack" and App Directory pages
        // send none of our state, and neither does a forged link. Nothing is exchanged; the
        // admin finishes through our install page (Slack asks for consent once more).
        info!("Slack OAuth callback without state: sent to /slack/install");
        return page_with_link(
            StatusCode::BAD_REQUEST,
            "Finish installing Seecret",
            "This installation did not start on this server, so it cannot tell it from a forged \
             one. Continue from this server's install page: Slack asks you to allow Seecret once \
             more, and the installation completes.",
            again,
        );
    };
    let state_ok = cookie.is_some_and(|c| bool::from(state.as_bytes().ct_eq(c.as_bytes())));
    if !state_ok {
        warn!("Slack OAuth callback with a mismatched state refused");
        return page_with_link(
            StatusCode::BAD_REQUEST,
            "Not installed",
            "This installation link is invalid or expired, or it was started in another \
             browser. Start again from this server's install page, in this browser.",
            again,
        );
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not installed",
            "Slack sent no code.",
        );
    };
    let installed = match bot
        .inner
        .slack
        .oauth_access(
            &oauth.client_id,
            &oauth.client_secret,
            &code,
            &redirect_uri(&bot),
        )
        .await
    {
        Ok(i) => i,
        Err(e) => {
            warn!(error = %e, "oauth.v2.access failed");
            return page(StatusCode::BAD_GATEWAY, "Not installed", &e.to_string());
        }
    };
    let sealed = match crypto::seal_bound(
        &oauth.token_key,
        &aad(&installed.team_id),
        installed.token.as_bytes(),
    ) {
        Ok(s) => s,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if let Err(e) = bot
        .inner
        .store
        .save(PROVIDER, &installed.team_id, &sealed)
        .await
    {
        warn!(error = %e, "saving a Slack installation failed");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not installed",
            "The installation could not be saved; try again.",
        );
    }
    info!(team = %installed.team_id, "Slack workspace installed");
    page(
        StatusCode::OK,
        "Seecret is installed",
        &format!(
            "Seecret is installed in {}. Type /share-secret in any channel.",
            installed.team_name.as_deref().unwrap_or(&installed.team_id)
        ),
    )
}
