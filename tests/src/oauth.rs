//! Loopback stand-ins for Sign in with Slack (OpenID Connect) and Sign in with Discord (OAuth2),
//! as strict as the real ones, and a driver that runs a sign-in over plain HTTP.
//!
//! What the fakes refuse, as Slack and Discord do:
//! - authorize: an unknown `client_id`, a `redirect_uri` that is not exactly a registered one
//!   (an error page, no redirect), `response_type` other than `code`, a scope without `openid`
//!   (Slack) or `identify` (Discord), a PKCE method other than S256;
//! - token: a body that is not a form, wrong client credentials (Slack: form fields; Discord:
//!   HTTP Basic or form fields), a code that is unknown, used before (each code is good for one
//!   exchange, also when that exchange failed) or older than ten minutes, a `redirect_uri` that
//!   is not the authorize request's, a `code_verifier` whose S256 is not the challenge (or none
//!   when a challenge was sent), a `grant_type` other than `authorization_code`;
//! - Discord `users/@me`: a token it did not issue.
//!
//! Slack errors are HTTP 200 `{"ok": false, "error": …}`, Discord's are 4xx `{"error": …}`, as
//! each documents. Slack's id_token is signed RS256 with a key made for these tests, published at
//! `/openid/connect/keys`; it carries the authorize request's `nonce`.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use seecret_core::model::{PlatformIdentity, Provider};
use serde_json::{Value, json};

use super::*;

/// The signing key of the fake Slack's id_tokens: a key made for these tests only.
const KEY: &[u8] = include_bytes!("../../api-server/src/signin/testdata/rsa-2048.der");
const KID: &str = "fake-slack-key-1";
/// How long an authorization code stays good (Slack documents ten minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Ways the fake Slack can spoil the id_token, to check the server verifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spoil {
    /// A nonce other than the authorize request's.
    Nonce,
    /// An audience other than the client id.
    Audience,
    /// Expired an hour ago.
    Expired,
    /// Claims changed after signing.
    Signature,
    /// Another issuer.
    Issuer,
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    user: PlatformIdentity,
    issued: Instant,
    used: bool,
}

#[derive(Default)]
struct State {
    redirect_uris: Vec<String>,
    user: Option<PlatformIdentity>,
    decline: bool,
    spoil: Option<Spoil>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, PlatformIdentity>,
    calls: Vec<Call>,
}

/// A fake Sign in with Slack or Sign in with Discord on loopback.
pub struct FakeOAuth {
    /// What replaces `https://slack.com` / `https://discord.com`: `http://127.0.0.1:PORT`.
    pub base: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    provider: Provider,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        text.to_string(),
    )
        .into_response()
}

fn json_answer(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

impl FakeOAuth {
    /// A fake Sign in with Slack.
    pub async fn slack() -> Self {
        Self::start(Provider::Slack, "4242424242.1717171717").await
    }

    /// A fake Sign in with Discord.
    pub async fn discord() -> Self {
        Self::start(Provider::Discord, "1181818181818181818").await
    }

    async fn start(provider: Provider, client_id: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let client_id = client_id.to_string();
        let client_secret = random_token("secret-");
        let (s2, id2, secret2) = (state.clone(), client_id.clone(), client_secret.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (state, id, secret) = (s2.clone(), id2.clone(), secret2.clone());
                async move {
                    let call = Call::of(&method, &uri, &headers, &body);
                    let mut st = state.lock().unwrap();
                    st.calls.push(call.clone());
                    answer(provider, &id, &secret, &mut st, &call)
                }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            client_id,
            client_secret,
            provider,
            state,
            task,
        }
    }

    /// The server's environment for this fake: client id and secret, and its URL.
    pub fn env(&self) -> Vec<(String, String)> {
        let (id, secret, url) = match self.provider {
            Provider::Slack => (
                "SEECRET_SLACK_CLIENT_ID",
                "SEECRET_SLACK_CLIENT_SECRET",
                "SEECRET_SLACK_SIGN_IN_URL",
            ),
            Provider::Discord => (
                "SEECRET_DISCORD_CLIENT_ID",
                "SEECRET_DISCORD_CLIENT_SECRET",
                "SEECRET_DISCORD_SIGN_IN_URL",
            ),
        };
        vec![
            (id.into(), self.client_id.clone()),
            (secret.into(), self.client_secret.clone()),
            (url.into(), self.base.clone()),
        ]
    }

    /// Registers the callback of the server at `base` as the app's redirect URI, as an operator
    /// does in the platform's app settings.
    pub fn register_server(&self, base: &str) {
        self.register_redirect(&format!("{base}/auth/{}/callback", self.provider.as_str()));
    }

    /// Registers a redirect URI, as the app's settings on the platform do (exact match).
    pub fn register_redirect(&self, uri: &str) {
        self.state
            .lock()
            .unwrap()
            .redirect_uris
            .push(uri.to_string());
    }

    /// From now on, whoever reaches the authorize page is `user` and consents.
    pub fn sign_in_as(&self, user: PlatformIdentity) {
        let mut st = self.state.lock().unwrap();
        st.user = Some(user);
        st.decline = false;
    }

    /// From now on, the person at the authorize page clicks Cancel.
    pub fn decline(&self) {
        self.state.lock().unwrap().decline = true;
    }

    /// From now on, Slack's id_tokens are spoilt this way (`None`: good again).
    pub fn spoil(&self, how: Option<Spoil>) {
        self.state.lock().unwrap().spoil = how;
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Calls to paths ending with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.ends_with(suffix))
            .collect()
    }
}

impl Drop for FakeOAuth {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(provider: Provider, id: &str, secret: &str, st: &mut State, c: &Call) -> Response {
    match (provider, c.method.as_str(), c.path.as_str()) {
        (Provider::Slack, "GET", "/openid/connect/authorize")
        | (Provider::Discord, "GET", "/oauth2/authorize") => authorize(provider, id, st, c),
        (Provider::Slack, "POST", "/api/openid.connect.token") => slack_token(id, secret, st, c),
        (Provider::Slack, "GET", "/openid/connect/keys") => json_answer(StatusCode::OK, jwks()),
        (Provider::Discord, "POST", "/api/oauth2/token") => discord_token(id, secret, st, c),
        (Provider::Discord, "GET", "/api/v10/users/@me") => discord_me(st, c),
        _ => page(StatusCode::NOT_FOUND, "no such route"),
    }
}

/// The authorize page: checks the request, then the person (the fake's user) consents or not,
/// and the browser is sent back to the redirect URI with a fresh code and the state.
fn authorize(provider: Provider, id: &str, st: &mut State, c: &Call) -> Response {
    let q = form(c.query.as_bytes());
    let get = |k: &str| q.get(k).map(String::as_str);
    if get("client_id") != Some(id) {
        return page(StatusCode::BAD_REQUEST, "invalid client_id");
    }
    let Some(redirect) = get("redirect_uri").filter(|r| st.redirect_uris.iter().any(|u| u == r))
    else {
        // Neither platform redirects to an unregistered URI: it shows an error.
        return page(
            StatusCode::BAD_REQUEST,
            "redirect_uri did not match any configured URIs",
        );
    };
    let scope_needed = match provider {
        Provider::Slack => "openid",
        Provider::Discord => "identify",
    };
    let scopes_ok = get("scope").is_some_and(|s| s.split(' ').any(|x| x == scope_needed));
    let pkce_ok = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => true,
        (Some(ch), Some("S256")) => ch.len() == 43,
        _ => false,
    };
    let back = |params: &[(&str, &str)]| {
        let mut url = url::Url::parse(redirect).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        let mut resp = StatusCode::FOUND.into_response();
        resp.headers_mut()
            .insert(header::LOCATION, url.as_str().parse().unwrap());
        resp
    };
    let state = get("state").unwrap_or("");
    if get("response_type") != Some("code") || !scopes_ok || !pkce_ok {
        return back(&[("error", "invalid_request"), ("state", state)]);
    }
    let Some(user) = st.user.clone().filter(|_| !st.decline) else {
        return back(&[("error", "access_denied"), ("state", state)]);
    };
    let code = random_token("code-");
    st.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect.to_string(),
            challenge: get("code_challenge").map(String::from),
            nonce: get("nonce").map(String::from),
            user,
            issued: Instant::now(),
            used: false,
        },
    );
    back(&[("code", &code), ("state", state)])
}

/// Takes a code for an exchange: good once, within its lifetime, for the same redirect URI and
/// the verifier of its challenge. A code is spent by any exchange attempt.
fn redeem(st: &mut State, f: &HashMap<String, String>) -> Result<Grant, &'static str> {
    let code = f.get("code").map(String::as_str).unwrap_or("");
    let grant = st.codes.get_mut(code).ok_or("invalid_code")?;
    if grant.used || grant.issued.elapsed() > CODE_LIFETIME {
        grant.used = true;
        return Err("invalid_code");
    }
    grant.used = true;
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err("bad_redirect_uri");
    }
    match (&grant.challenge, f.get("code_verifier")) {
        (None, _) => {}
        (Some(ch), Some(v)) if s256(v) == *ch => {}
        _ => return Err("invalid_code_verifier"),
    }
    Ok(Grant {
        redirect_uri: grant.redirect_uri.clone(),
        challenge: grant.challenge.clone(),
        nonce: grant.nonce.clone(),
        user: grant.user.clone(),
        issued: grant.issued,
        used: true,
    })
}

fn is_form(c: &Call) -> bool {
    c.header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
}

fn slack_token(id: &str, secret: &str, st: &mut State, c: &Call) -> Response {
    let fail = |e: &str| json_answer(StatusCode::OK, json!({"ok": false, "error": e}));
    if !is_form(c) {
        return fail("invalid_form_data");
    }
    let f = form(&c.body);
    if f.get("client_id").map(String::as_str) != Some(id) {
        return fail("invalid_client_id");
    }
    if f.get("client_secret").map(String::as_str) != Some(secret) {
        return fail("bad_client_secret");
    }
    if f.get("grant_type")
        .is_some_and(|g| g != "authorization_code")
    {
        return fail("invalid_grant_type");
    }
    let grant = match redeem(st, &f) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let now = chrono::Utc::now().timestamp();
    let user = &grant.user;
    let mut claims = json!({
        "iss": "https://slack.com", "sub": user.user, "aud": id, "exp": now + 300, "iat": now,
        "auth_time": now, "at_hash": "x",
        "https://slack.com/user_id": user.user,
        "https://slack.com/team_id": user.team,
        "name": user.name, "locale": "en-US",
        "https://slack.com/team_image_default": true,
    });
    if let Some(n) = &grant.nonce {
        claims["nonce"] = json!(n);
    }
    match st.spoil {
        Some(Spoil::Nonce) => claims["nonce"] = json!("not-the-nonce"),
        Some(Spoil::Audience) => claims["aud"] = json!("999.999"),
        Some(Spoil::Expired) => claims["exp"] = json!(now - 3600),
        Some(Spoil::Issuer) => claims["iss"] = json!("https://slack.example"),
        Some(Spoil::Signature) | None => {}
    }
    let mut id_token = sign_jwt(&claims);
    if st.spoil == Some(Spoil::Signature) {
        // The same signature over other claims.
        let mut parts: Vec<String> = id_token.split('.').map(String::from).collect();
        claims["https://slack.com/user_id"] = json!("U0FORGED");
        claims["sub"] = json!("U0FORGED");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        id_token = parts.join(".");
    }
    let access = random_token("xoxp-");
    st.tokens.insert(access.clone(), grant.user);
    json_answer(
        StatusCode::OK,
        json!({"ok": true, "access_token": access, "token_type": "Bearer", "id_token": id_token}),
    )
}

fn discord_token(id: &str, secret: &str, st: &mut State, c: &Call) -> Response {
    let fail = |status: StatusCode, e: &str| json_answer(status, json!({"error": e}));
    if !is_form(c) {
        return fail(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let f = form(&c.body);
    // HTTP Basic, or the id and secret in the form: Discord accepts either.
    let basic = c
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let credentials = basic.or_else(|| {
        Some(format!(
            "{}:{}",
            f.get("client_id")?,
            f.get("client_secret")?
        ))
    });
    if credentials.as_deref() != Some(&format!("{id}:{secret}")) {
        return fail(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return fail(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let grant = match redeem(st, &f) {
        Ok(g) => g,
        Err(_) => return fail(StatusCode::BAD_REQUEST, "invalid_grant"),
    };
    let access = random_token("");
    st.tokens.insert(access.clone(), grant.user);
    json_answer(
        StatusCode::OK,
        json!({"access_token": access, "token_type": "Bearer", "expires_in": 604800,
            "refresh_token": random_token(""), "scope": "identify"}),
    )
}

fn discord_me(st: &State, c: &Call) -> Response {
    let user = c
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| st.tokens.get(t));
    match user {
        Some(u) => json_answer(
            StatusCode::OK,
            json!({"id": u.user, "username": u.name.clone().unwrap_or_default().to_lowercase(),
                "global_name": u.name, "discriminator": "0", "avatar": null}),
        ),
        None => json_answer(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401: Unauthorized", "code": 0}),
        ),
    }
}

fn jwks() -> Value {
    let pair = RsaKeyPair::from_der(KEY).unwrap();
    let public: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    json!({"keys": [{"e": URL_SAFE_NO_PAD.encode(&public.e), "n": URL_SAFE_NO_PAD.encode(&public.n),
        "kty": "RSA", "kid": KID, "alg": "RS256"}]})
}

fn sign_jwt(claims: &Value) -> String {
    let pair = RsaKeyPair::from_der(KEY).unwrap();
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": KID});
    let body = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        body.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// One sign-in run over plain HTTP, as a browser does it (redirects followed by hand, the
/// cookie carried from start to callback).
#[derive(Debug)]
pub struct SignInRun {
    /// The callback page's status.
    pub status: u16,
    /// The callback page.
    pub page: String,
    /// The ticket the page holds, if the sign-in succeeded.
    pub ticket: Option<String>,
    /// The callback URL the platform sent the browser to.
    pub callback: String,
    /// The flow cookie (`name=value`) the start gave.
    pub cookie: String,
}

/// A client that follows no redirect.
pub fn browserless() -> reqwest::Client {
    seecret_core::init_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts a sign-in with `provider` for secret `id` on `server_base`, goes through the fake's
/// authorize page, and returns where it sends the browser back (with the start's cookie).
pub async fn sign_in_start(server_base: &str, provider: &str, id: &str) -> (String, String) {
    let http = browserless();
    let resp = http
        .get(format!("{server_base}/auth/{provider}/start?secret={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let cookie = resp.headers()[header::SET_COOKIE.as_str()]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let authorize = resp.headers()[header::LOCATION.as_str()]
        .to_str()
        .unwrap()
        .to_string();
    let resp = http.get(&authorize).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    let callback = resp.headers()[header::LOCATION.as_str()]
        .to_str()
        .unwrap()
        .to_string();
    (callback, cookie)
}

/// Presents a callback URL with a cookie (`None`: none), as the browser would.
pub async fn sign_in_finish(callback: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = browserless().get(callback);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A whole sign-in with `provider` for secret `id`.
pub async fn sign_in(server_base: &str, provider: &str, id: &str) -> SignInRun {
    let (callback, cookie) = sign_in_start(server_base, provider, id).await;
    let (status, page) = sign_in_finish(&callback, Some(&cookie)).await;
    SignInRun {
        status,
        ticket: ticket_in(&page),
        page,
        callback,
        cookie,
    }
}

/// The ticket a callback page holds.
pub fn ticket_in(page: &str) -> Option<String> {
    let rest = page.split("data-ticket=\"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}
