//! Signing in the recipient of a bound secret with Slack (OpenID Connect) or Discord (OAuth2,
//! scope `identify`), so the engine can check that the person revealing is the user the secret
//! is bound to. This module talks to the providers; the routes and pages are in
//! `http::signin`, the rule (tickets, the reveal check) in the engine.
//!
//! Both providers: authorization code flow with `state` bound to the browser (see [`flow`]),
//! PKCE (S256), and a redirect URI that is exactly `{public_url}/auth/{provider}/callback`, the
//! same string in the authorization request and the token request.

use std::time::Duration;

use anyhow::bail;
use seecret_core::model::{PlatformIdentity, Provider};
use zeroize::Zeroizing;

use crate::config::ServeOptions;

mod discord;
pub mod flow;
pub mod jwt;
mod slack;

/// What `SEECRET_SLACK_SIGN_IN_URL` replaces.
pub const SLACK_URL: &str = "https://slack.com";
/// What `SEECRET_DISCORD_SIGN_IN_URL` replaces.
pub const DISCORD_URL: &str = "https://discord.com";

/// One platform's OAuth client: the app's id and secret, and where the platform is.
#[derive(Clone)]
pub struct OAuthApp {
    /// The client id.
    pub client_id: String,
    client_secret: Zeroizing<String>,
    /// `https://slack.com` or `https://discord.com` (a proxy, or the tests' fake).
    pub base: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("base", &self.base)
            .finish()
    }
}

/// The sign-in settings: which platforms recipients can sign in with.
#[derive(Clone, Debug, Default)]
pub struct SignInSettings {
    /// Sign in with Slack.
    pub slack: Option<OAuthApp>,
    /// Sign in with Discord.
    pub discord: Option<OAuthApp>,
}

impl SignInSettings {
    /// From the server's options: a platform is on when both its client id and secret are set;
    /// one without the other is refused, and so is a base URL that is not http(s).
    pub fn from_options(o: &ServeOptions) -> anyhow::Result<Self> {
        fn app(
            id: &Option<String>,
            secret: Option<&str>,
            base: &str,
            vars: [&str; 3],
        ) -> anyhow::Result<Option<OAuthApp>> {
            let id = id.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let secret = secret.map(str::trim).filter(|s| !s.is_empty());
            let base = base.trim().trim_end_matches('/');
            match url::Url::parse(base) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => bail!("{} must be an http(s) URL, not {base:?}", vars[2]),
            }
            match (id, secret) {
                (Some(id), Some(secret)) => Ok(Some(OAuthApp {
                    client_id: id.to_string(),
                    client_secret: Zeroizing::new(secret.to_string()),
                    base: base.to_string(),
                })),
                (None, None) => Ok(None),
                _ => bail!(
                    "sign-in needs both {} and {} (or neither)",
                    vars[0],
                    vars[1]
                ),
            }
        }
        Ok(Self {
            slack: app(
                &o.slack_client_id,
                o.slack_client_secret.as_ref().map(|s| s.expose()),
                &o.slack_sign_in_url,
                [
                    "SEECRET_SLACK_CLIENT_ID",
                    "SEECRET_SLACK_CLIENT_SECRET",
                    "SEECRET_SLACK_SIGN_IN_URL",
                ],
            )?,
            discord: app(
                &o.discord_client_id,
                o.discord_client_secret.as_ref().map(|s| s.expose()),
                &o.discord_sign_in_url,
                [
                    "SEECRET_DISCORD_CLIENT_ID",
                    "SEECRET_DISCORD_CLIENT_SECRET",
                    "SEECRET_DISCORD_SIGN_IN_URL",
                ],
            )?,
        })
    }

    /// The platforms that are on.
    pub fn providers(&self) -> Vec<Provider> {
        let mut p = Vec::new();
        if self.slack.is_some() {
            p.push(Provider::Slack);
        }
        if self.discord.is_some() {
            p.push(Provider::Discord);
        }
        p
    }
}

/// Why a sign-in did not produce an identity. The message is shown to the person signing in:
/// it names what went wrong, never a code, token or secret.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The platform refused the exchange (an expired or used code, a wrong client secret…).
    #[error("{provider} refused the sign-in ({reason})")]
    Refused {
        /// The platform.
        provider: &'static str,
        /// Its error code (`invalid_code`, `invalid_grant`…).
        reason: String,
    },
    /// The platform could not be reached, or answered something unexpected.
    #[error("{provider} could not be asked who you are: {reason}")]
    Unreachable {
        /// The platform.
        provider: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The platform's answer did not hold up (an id_token that does not verify, a nonce that
    /// does not match, an identity in no known form).
    #[error("{provider}'s answer could not be verified: {reason}")]
    Unverified {
        /// The platform.
        provider: &'static str,
        /// What did not hold.
        reason: String,
    },
}

/// Signs recipients in with the configured platforms.
#[derive(Debug)]
pub struct SignIn {
    settings: SignInSettings,
    public_url: String,
    http: reqwest::Client,
    slack_keys: slack::KeyCache,
}

impl SignIn {
    /// Sign-in for `settings`, with redirect URIs under `public_url`. (No platform configured:
    /// every sign-in route answers that it is not available.)
    pub fn new(settings: SignInSettings, public_url: &str) -> anyhow::Result<Self> {
        seecret_core::init_crypto();
        let http = reqwest::Client::builder()
            .user_agent(concat!("seecret/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(15))
            // A token endpoint that redirects is not one to send credentials after.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            settings,
            public_url: public_url.trim_end_matches('/').to_string(),
            http,
            slack_keys: slack::KeyCache::default(),
        })
    }

    /// The app of `provider`, when sign-in with it is configured.
    pub fn app(&self, provider: Provider) -> Option<&OAuthApp> {
        match provider {
            Provider::Slack => self.settings.slack.as_ref(),
            Provider::Discord => self.settings.discord.as_ref(),
        }
    }

    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The redirect URI registered with `provider`: exactly this string, in both requests.
    pub fn redirect_uri(&self, provider: Provider) -> String {
        format!("{}/auth/{}/callback", self.public_url, provider.as_str())
    }

    /// Where to send the browser to sign in with `app`'s `provider` for `flow`.
    /// `team` (Slack only) preselects the workspace of the user the secret is bound to.
    pub fn authorize_url(
        &self,
        provider: Provider,
        app: &OAuthApp,
        flow: &flow::Flow,
        team: Option<&str>,
    ) -> String {
        let redirect = self.redirect_uri(provider);
        match provider {
            Provider::Slack => slack::authorize_url(app, &redirect, flow, team),
            Provider::Discord => discord::authorize_url(app, &redirect, flow),
        }
    }

    /// Exchanges the callback's `code` and returns who signed in, as the platform vouches.
    pub async fn identify(
        &self,
        provider: Provider,
        app: &OAuthApp,
        code: &str,
        flow: &flow::Flow,
    ) -> Result<PlatformIdentity, SignInError> {
        let redirect = self.redirect_uri(provider);
        match provider {
            Provider::Slack => {
                slack::identify(&self.http, &self.slack_keys, app, &redirect, code, flow).await
            }
            Provider::Discord => discord::identify(&self.http, app, &redirect, code, flow).await,
        }
    }
}

/// The content type of token requests: OAuth token endpoints take form bodies only.
const FORM: &str = "application/x-www-form-urlencoded";

/// `params` as a form body.
fn form_body(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// A URL with `params` in its query, encoded.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{base}?{query}")
}

/// Sends `req` to `provider` and reads its JSON answer; anything but a 2xx is `Unreachable`,
/// naming `what` was asked.
async fn fetch_json<T: serde::de::DeserializeOwned>(
    provider: &'static str,
    what: &str,
    req: reqwest::RequestBuilder,
) -> Result<T, SignInError> {
    let resp = req.send().await.map_err(|e| unreachable(provider, e))?;
    if !resp.status().is_success() {
        return Err(SignInError::Unreachable {
            provider,
            reason: format!("{what} answered HTTP {}", resp.status()),
        });
    }
    resp.json().await.map_err(|e| unreachable(provider, e))
}

/// What a failed HTTP call to `provider` means for the person signing in: the reason without
/// the URL (reqwest puts it in its messages; ours hold no secret, but it is noise).
fn unreachable(provider: &'static str, e: reqwest::Error) -> SignInError {
    SignInError::Unreachable {
        provider,
        reason: e.without_url().to_string(),
    }
}
