//! Sign in with Discord (OAuth2, scope `identify`): authorize at `/oauth2/authorize` (with
//! `state` and PKCE), exchange the code at `/api/oauth2/token` (form body only, client
//! credentials as HTTP Basic, as Discord documents), and ask `GET /api/v10/users/@me` with the
//! access token who it is. Discord has no id_token: the user comes straight from its API over
//! TLS, with the token just issued for this code.

use seecret_core::model::{PlatformIdentity, Provider};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::flow::Flow;
use super::{FORM, OAuthApp, SignInError, fetch_json, form_body, unreachable, with_query};

const DISCORD: &str = "Discord";

pub(super) fn authorize_url(app: &OAuthApp, redirect_uri: &str, flow: &Flow) -> String {
    let challenge = flow.challenge();
    with_query(
        &format!("{}/oauth2/authorize", app.base),
        &[
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("scope", "identify"),
            ("state", flow.state.as_str()),
            ("redirect_uri", redirect_uri),
            // Someone who authorised the app before is not asked again.
            ("prompt", "none"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    #[serde(default)]
    scope: String,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    global_name: Option<String>,
}

pub(super) async fn identify(
    http: &reqwest::Client,
    app: &OAuthApp,
    redirect_uri: &str,
    code: &str,
    flow: &Flow,
) -> Result<PlatformIdentity, SignInError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", flow.verifier.as_str()),
    ];
    let resp = http
        .post(format!("{}/api/oauth2/token", app.base))
        .basic_auth(&app.client_id, Some(app.client_secret.as_str()))
        .header(reqwest::header::CONTENT_TYPE, FORM)
        .body(form_body(&form))
        .send()
        .await
        .map_err(|e| unreachable(DISCORD, e))?;
    let status = resp.status();
    if status.is_client_error() {
        // `{"error": "invalid_grant", …}`: a used or expired code, a wrong verifier or secret.
        let reason = resp
            .json::<TokenError>()
            .await
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(SignInError::Refused {
            provider: DISCORD,
            reason,
        });
    }
    if !status.is_success() {
        return Err(SignInError::Unreachable {
            provider: DISCORD,
            reason: format!("its token endpoint answered HTTP {status}"),
        });
    }
    let token: TokenAnswer = resp.json().await.map_err(|e| unreachable(DISCORD, e))?;
    let access = Zeroizing::new(token.access_token);
    if !token.token_type.eq_ignore_ascii_case("bearer")
        || !token.scope.split(' ').any(|s| s == "identify")
    {
        return Err(SignInError::Unverified {
            provider: DISCORD,
            reason: "the token is not a Bearer token for the identify scope".into(),
        });
    }
    let user: User = fetch_json(
        DISCORD,
        "users/@me",
        http.get(format!("{}/api/v10/users/@me", app.base))
            .bearer_auth(access.as_str()),
    )
    .await?;
    Ok(PlatformIdentity {
        provider: Provider::Discord,
        team: None,
        user: user.id,
        name: Some(user.global_name.unwrap_or(user.username)),
    })
}
