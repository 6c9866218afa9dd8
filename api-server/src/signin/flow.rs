//! The browser's side of a sign-in round trip, kept without server state so that any instance
//! can finish a sign-in another one started.
//!
//! `start` gives the browser a random 32-byte secret in a short-lived HttpOnly cookie (SameSite
//! Lax, so it comes back on the provider's top-level redirect; `__Host-` and `Secure` on https).
//! Everything the round trip needs is derived from it with HMAC-SHA256: the `state` names the
//! secret, the time and a random part and carries a MAC over them, and the OIDC `nonce` and the
//! PKCE verifier are MACs of the state. The callback recomputes them from the cookie: a callback
//! that did not start in this browser (login CSRF: someone else's code and state), that took
//! longer than [`FLOW_LIFETIME`], or whose state was altered is refused before any call to the
//! provider. The cookie authorises nothing else, and no API call reads it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use seecret_core::model::{Provider, SecretId};
use zeroize::Zeroizing;

/// How long a sign-in may take from `start` to the callback (and the cookie's lifetime).
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// The cookie on https: `__Host-` makes browsers refuse it unless Secure, host-only, path `/`.
const SECURE_COOKIE: &str = "__Host-seecret-sign-in";
/// The cookie on plain http (a local server, the tests): the same, but without `Secure`.
const PLAIN_COOKIE: &str = "seecret-sign-in";

/// Why a callback's state is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlowError {
    /// No cookie, or one this server did not set.
    #[error("this sign-in was not started in this browser (or its cookie was blocked)")]
    NoCookie,
    /// The state does not verify against the cookie: altered, or another browser's.
    #[error("this sign-in was not started in this browser")]
    Forged,
    /// Older than [`FLOW_LIFETIME`].
    #[error("this sign-in took too long")]
    Expired,
    /// The system's random generator failed: no flow can start.
    #[error("the server could not start a sign-in")]
    NoRandom,
}

/// The secret of one browser's sign-ins: the cookie's value. Zeroed on drop.
pub struct Browser(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Browser(<redacted>)")
    }
}

/// One sign-in round trip: what goes to the provider and must come back.
pub struct Flow {
    /// The secret the sign-in is for.
    pub secret: SecretId,
    /// `state`, as sent to the provider.
    pub state: String,
    /// The OIDC `nonce` (Slack's id_token must carry it).
    pub nonce: String,
    /// The PKCE code verifier (43 characters of base64url), sent only to the token endpoint.
    pub verifier: Zeroizing<String>,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl Flow {
    /// The PKCE `code_challenge` (method S256): base64url of SHA-256 of the verifier.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            self.verifier.as_bytes(),
        ))
    }
}

fn random<const N: usize>() -> Result<[u8; N], FlowError> {
    let mut bytes = [0u8; N];
    // The system's generator failing leaves nothing safe to do; no flow starts.
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| FlowError::NoRandom)?;
    Ok(bytes)
}

impl Browser {
    /// A fresh browser secret.
    pub fn new() -> Result<Self, FlowError> {
        Ok(Self(Zeroizing::new(random()?)))
    }

    /// The secret from the request's cookies (`cookie` header values), if one is there.
    pub fn from_cookies<'a>(headers: impl Iterator<Item = &'a str>, secure: bool) -> Option<Self> {
        let name = cookie_name(secure);
        headers
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(n, _)| *n == name)
            .find_map(|(_, v)| {
                let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(v).ok()?);
                let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
                Some(Self(Zeroizing::new(arr)))
            })
    }

    /// The `Set-Cookie` value that gives this secret to the browser for [`FLOW_LIFETIME`].
    pub fn set_cookie(&self, secure: bool) -> String {
        let value = Zeroizing::new(URL_SAFE_NO_PAD.encode(*self.0));
        cookie(secure, &value, FLOW_LIFETIME.as_secs())
    }

    /// The `Set-Cookie` value that removes it (a callback used it).
    pub fn clear_cookie(secure: bool) -> String {
        cookie(secure, "", 0)
    }

    fn mac(&self, parts: &[&str]) -> hmac::Tag {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0[..]);
        hmac::sign(&key, parts.join("|").as_bytes())
    }

    fn derived(&self, what: &str, state: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&["seecret/v1/sign-in", what, state]))
    }

    /// A new round trip for `secret` with `provider`, begun at `now` (Unix seconds).
    pub fn start(&self, provider: Provider, secret: SecretId, now: i64) -> Result<Flow, FlowError> {
        let body = format!("{secret}.{now}.{}", URL_SAFE_NO_PAD.encode(random::<16>()?));
        let mac = self.mac(&["seecret/v1/sign-in/state", provider.as_str(), &body]);
        Ok(self.flow(secret, format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac))))
    }

    /// The round trip a callback's `state` belongs to, if this browser started it for
    /// `provider` within [`FLOW_LIFETIME`] of `now`.
    pub fn resume(&self, provider: Provider, state: &str, now: i64) -> Result<Flow, FlowError> {
        let (body, mac) = state.rsplit_once('.').ok_or(FlowError::Forged)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| FlowError::Forged)?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0[..]);
        let signed = ["seecret/v1/sign-in/state", provider.as_str(), body].join("|");
        // Constant time: the MAC is the only thing standing between a forged state and a flow.
        hmac::verify(&key, signed.as_bytes(), &mac).map_err(|_| FlowError::Forged)?;
        let mut parts = body.split('.');
        let (Some(id), Some(issued), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FlowError::Forged);
        };
        let secret: SecretId = id.parse().map_err(|_| FlowError::Forged)?;
        let issued: i64 = issued.parse().map_err(|_| FlowError::Forged)?;
        let lifetime = FLOW_LIFETIME.as_secs() as i64;
        if now - issued > lifetime || issued - now > 60 {
            return Err(FlowError::Expired);
        }
        Ok(self.flow(secret, state.to_string()))
    }

    fn flow(&self, secret: SecretId, state: String) -> Flow {
        Flow {
            secret,
            nonce: self.derived("nonce", &state),
            verifier: Zeroizing::new(self.derived("pkce", &state)),
            state,
        }
    }
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { PLAIN_COOKIE }
}

fn cookie(secure: bool, value: &str, max_age: u64) -> String {
    // `__Host-` requires Path=/; on plain http the cookie is kept to the sign-in routes.
    let (path, secure_attr) = if secure {
        ("/", "; Secure")
    } else {
        ("/auth/", "")
    };
    format!(
        "{}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure_attr}",
        cookie_name(secure)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_state_resumes_only_in_its_browser_for_its_provider_and_in_time() {
        let browser = Browser::new().unwrap();
        let secret = SecretId::new();
        let flow = browser.start(Provider::Slack, secret, 1_000_000).unwrap();
        let back = browser
            .resume(Provider::Slack, &flow.state, 1_000_000 + 599)
            .unwrap();
        assert_eq!(back.secret, secret);
        assert_eq!(back.nonce, flow.nonce);
        assert_eq!(*back.verifier, *flow.verifier);
        assert_eq!(
            flow.verifier.len(),
            43,
            "a PKCE verifier is 43 to 128 characters"
        );
        assert_ne!(flow.nonce, *flow.verifier);
        // Two flows of the same browser and secret differ.
        let other = browser.start(Provider::Slack, secret, 1_000_000).unwrap();
        assert_ne!(other.state, flow.state);
        assert_ne!(other.nonce, flow.nonce);

        let stranger = Browser::new().unwrap();
        assert_eq!(
            stranger
                .resume(Provider::Slack, &flow.state, 1_000_000)
                .unwrap_err(),
            FlowError::Forged
        );
        assert_eq!(
            browser
                .resume(Provider::Discord, &flow.state, 1_000_000)
                .unwrap_err(),
            FlowError::Forged
        );
        let altered = flow
            .state
            .replacen(&secret.to_string(), &SecretId::new().to_string(), 1);
        assert_eq!(
            browser
                .resume(Provider::Slack, &altered, 1_000_000)
                .unwrap_err(),
            FlowError::Forged
        );
        assert_eq!(
            browser
                .resume(Provider::Slack, &flow.state, 1_000_000 + 601)
                .unwrap_err(),
            FlowError::Expired
        );
        for junk in ["", ".", "a.b.c.d", "x"] {
            assert!(browser.resume(Provider::Slack, junk, 1_000_000).is_err());
        }
    }

    #[test]
    fn the_cookie_comes_back_from_the_header_and_is_host_only_on_https() {
        let browser = Browser::new().unwrap();
        let set = browser.set_cookie(true);
        assert!(set.starts_with("__Host-seecret-sign-in="), "{set}");
        assert!(set.contains("; Path=/;") && set.contains("; Secure") && set.contains("HttpOnly"));
        assert!(set.contains("SameSite=Lax") && set.contains("Max-Age=600"));
        let value = set.split(';').next().unwrap();
        let header = format!("other=1; {value}");
        let back = Browser::from_cookies(std::iter::once(header.as_str()), true).unwrap();
        let flow = browser
            .start(Provider::Discord, SecretId::new(), 5)
            .unwrap();
        assert!(back.resume(Provider::Discord, &flow.state, 5).is_ok());
        // The plain-http cookie has another name: an https server ignores it.
        assert!(Browser::from_cookies(std::iter::once(header.as_str()), false).is_none());
        let plain = browser.set_cookie(false);
        assert!(plain.starts_with("seecret-sign-in=") && !plain.contains("Secure"));
        assert!(plain.contains("Path=/auth/"));
        assert!(Browser::clear_cookie(false).contains("Max-Age=0"));
    }
}
