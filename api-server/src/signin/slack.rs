//! Sign in with Slack (OpenID Connect): authorize at `/openid/connect/authorize` (scope
//! `openid profile`, `state`, `nonce`, PKCE), exchange the code with the Web API method
//! `openid.connect.token`, and read the user from the id_token it returns.
//!
//! The id_token is verified in full rather than trusted for arriving over TLS (which OIDC would
//! allow for a token fetched straight from the token endpoint): RS256 signature with a key of
//! Slack's JWKS (`/openid/connect/keys`), `iss` exactly `https://slack.com`, `aud` our client
//! id, `exp` not past, and `nonce` the one this browser's flow sent. That makes the check
//! independent of where the token endpoint is (a proxy, a misconfigured URL), and the nonce
//! ties the token to this round trip. `openid.connect.userInfo` would need one more call and
//! carries no nonce. The user is the claims `https://slack.com/user_id` (which must equal
//! `sub`) and `https://slack.com/team_id`.

use std::time::{Duration, Instant};

use seecret_core::model::{PlatformIdentity, Provider};
use serde::Deserialize;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::flow::Flow;
use super::jwt::{self, JwkSet, JwtError};
use super::{FORM, OAuthApp, SignInError, fetch_json, form_body, with_query};

const SLACK: &str = "Slack";
/// The issuer Slack's id_tokens carry, wherever the endpoints are configured to be.
const ISSUER: &str = "https://slack.com";
/// How long Slack's key set is kept before it is fetched again (also fetched when a token names
/// a key it does not hold: keys rotate).
const KEYS_FOR: Duration = Duration::from_secs(3600);
/// Clock difference tolerated on `exp` and `iat`.
const LEEWAY_SECS: i64 = 60;

/// Slack's key set, fetched when needed and kept for [`KEYS_FOR`].
#[derive(Debug, Default)]
pub(super) struct KeyCache(Mutex<Option<(Instant, JwkSet)>>);

pub(super) fn authorize_url(
    app: &OAuthApp,
    redirect_uri: &str,
    flow: &Flow,
    team: Option<&str>,
) -> String {
    let challenge = flow.challenge();
    let mut params = vec![
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("client_id", app.client_id.as_str()),
        ("state", flow.state.as_str()),
        ("nonce", flow.nonce.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(team) = team {
        params.push(("team", team));
    }
    with_query(&format!("{}/openid/connect/authorize", app.base), &params)
}

#[derive(Deserialize)]
struct TokenAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// `aud`: one client id, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: Audience,
    exp: i64,
    iat: i64,
    #[serde(default)]
    nonce: Option<String>,
    sub: String,
    #[serde(rename = "https://slack.com/user_id")]
    user_id: String,
    #[serde(rename = "https://slack.com/team_id")]
    team_id: String,
    #[serde(default)]
    name: Option<String>,
}

fn unverified(reason: impl Into<String>) -> SignInError {
    SignInError::Unverified {
        provider: SLACK,
        reason: reason.into(),
    }
}

pub(super) async fn identify(
    http: &reqwest::Client,
    keys: &KeyCache,
    app: &OAuthApp,
    redirect_uri: &str,
    code: &str,
    flow: &Flow,
) -> Result<PlatformIdentity, SignInError> {
    let form = [
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("grant_type", "authorization_code"),
        ("code_verifier", flow.verifier.as_str()),
    ];
    let answer: TokenAnswer = fetch_json(
        SLACK,
        "openid.connect.token",
        http.post(format!("{}/api/openid.connect.token", app.base))
            .header(reqwest::header::CONTENT_TYPE, FORM)
            .body(form_body(&form)),
    )
    .await?;
    // Slack's Web API answers 200 with `ok: false` and an error code.
    if !answer.ok {
        return Err(SignInError::Refused {
            provider: SLACK,
            reason: answer.error.unwrap_or_else(|| "no reason given".into()),
        });
    }
    let token = Zeroizing::new(
        answer
            .id_token
            .ok_or_else(|| unverified("openid.connect.token returned no id_token"))?,
    );
    let claims: Claims = verify_with_keys(http, keys, app, &token).await?;
    check_claims(&claims, app, flow, chrono::Utc::now().timestamp())?;
    if claims.user_id != claims.sub {
        return Err(unverified("the id_token's user_id is not its subject"));
    }
    Ok(PlatformIdentity {
        provider: Provider::Slack,
        team: Some(claims.team_id),
        user: claims.user_id,
        name: claims.name,
    })
}

/// Verifies `token` with Slack's keys, fetching them when the cache is empty, stale, or lacks
/// the token's key.
async fn verify_with_keys(
    http: &reqwest::Client,
    keys: &KeyCache,
    app: &OAuthApp,
    token: &str,
) -> Result<Claims, SignInError> {
    let kid = jwt::key_id(token).map_err(|e| unverified(e.to_string()))?;
    let mut cache = keys.0.lock().await;
    let fresh = cache
        .as_ref()
        .is_some_and(|(at, set)| at.elapsed() < KEYS_FOR && set.keys.iter().any(|k| k.kid == kid));
    if !fresh {
        let set: JwkSet = fetch_json(
            SLACK,
            "its key set",
            http.get(format!("{}/openid/connect/keys", app.base)),
        )
        .await?;
        *cache = Some((Instant::now(), set));
    }
    let set = cache
        .as_ref()
        .map(|(_, set)| set)
        .ok_or_else(|| unverified("no key set"))?;
    jwt::verify(token, set).map_err(|e: JwtError| unverified(e.to_string()))
}

fn check_claims(c: &Claims, app: &OAuthApp, flow: &Flow, now: i64) -> Result<(), SignInError> {
    if c.iss != ISSUER {
        return Err(unverified(format!(
            "the id_token's issuer is {:?}, not {ISSUER}",
            c.iss
        )));
    }
    let for_us = match &c.aud {
        Audience::One(a) => *a == app.client_id,
        Audience::Many(all) => all.contains(&app.client_id),
    };
    if !for_us {
        return Err(unverified("the id_token was issued to another app"));
    }
    if c.exp <= now - LEEWAY_SECS {
        return Err(unverified("the id_token has expired"));
    }
    if c.iat > now + LEEWAY_SECS {
        return Err(unverified("the id_token was issued in the future"));
    }
    if c.nonce.as_deref() != Some(flow.nonce.as_str()) {
        return Err(unverified(
            "the id_token's nonce is not this sign-in's (a replayed token?)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::super::flow::Browser;
    use super::super::jwt::testing::{jwks, sign};
    use super::*;

    fn app() -> OAuthApp {
        OAuthApp {
            client_id: "111.222".into(),
            client_secret: Zeroizing::new("s3cret".into()),
            base: "https://slack.com".into(),
        }
    }

    #[test]
    fn the_id_token_must_be_slacks_for_us_current_and_for_this_flow() {
        let now = 1_800_000_000;
        let flow = Browser::new()
            .unwrap()
            .start(Provider::Slack, seecret_core::model::SecretId::new(), now)
            .unwrap();
        let claims = |patch: serde_json::Value| {
            let mut c = json!({"iss": "https://slack.com", "aud": "111.222", "exp": now + 300,
                "iat": now, "nonce": flow.nonce, "sub": "U1", "https://slack.com/user_id": "U1",
                "https://slack.com/team_id": "T1", "name": "Bob"});
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            let token = sign(&json!({"alg": "RS256", "kid": "k"}), &c);
            jwt::verify::<Claims>(&token, &jwks("k")).map(|c| check_claims(&c, &app(), &flow, now))
        };
        assert!(claims(json!({})).unwrap().is_ok());
        assert!(
            claims(json!({"aud": ["other", "111.222"]}))
                .unwrap()
                .is_ok()
        );
        for (patch, says) in [
            (json!({"iss": "https://evil.example"}), "issuer"),
            (json!({"aud": "333.444"}), "another app"),
            (json!({"exp": now - 61}), "expired"),
            (json!({"iat": now + 3600}), "future"),
            (json!({"nonce": "other"}), "nonce"),
            (json!({"nonce": null}), "nonce"),
        ] {
            let err = claims(patch.clone()).unwrap().unwrap_err().to_string();
            assert!(err.contains(says), "{patch}: {err}");
        }
        // A wrongly typed or missing claim does not parse at all.
        assert!(claims(json!({"exp": "never"})).is_err());
        assert!(claims(json!({"https://slack.com/team_id": null})).is_err());
    }
}
