//! The one JWT this server reads: Slack's OpenID Connect `id_token`, signed RS256 with a key of
//! Slack's JWKS. A few careful lines over `ring` rather than a JWT crate: the well-kept ones
//! either had claim-validation advisories in the versions built on `ring` (type confusion in
//! `exp`/`nbf`, fixed only in releases that need `aws-lc-rs` or the `rsa` crate) or pull in
//! crypto backends this build keeps out.
//!
//! What is accepted: three base64url segments (no padding), a header with `alg` exactly `RS256`
//! and a `kid` naming an RSA key of the set (2048 to 8192 bits), a valid PKCS#1 v1.5 SHA-256
//! signature over the first two segments. The claims are then parsed into the caller's type,
//! whose field types are strict (a string `exp` fails to parse rather than being skipped).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A key of a JSON Web Key Set (only what RS256 verification uses).
#[derive(Clone, Debug, Deserialize)]
pub struct Jwk {
    /// Key type; only `RSA` keys verify.
    pub kty: String,
    /// Key id, matched against the token header's `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// Intended algorithm, when the set says.
    #[serde(default)]
    pub alg: Option<String>,
    /// Intended use, when the set says (`sig`).
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default)]
    pub e: Option<String>,
}

/// A JSON Web Key Set.
#[derive(Clone, Debug, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a token is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url segments of JSON.
    #[error("the id_token is not a well-formed JWT")]
    Malformed,
    /// `alg` is not RS256 (`none`, HMAC and the rest are refused).
    #[error("the id_token is not signed with RS256")]
    Algorithm,
    /// No key of the set has the header's `kid` (the set may have rotated).
    #[error("the id_token's key is not in the provider's key set")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the id_token's signature does not verify")]
    Signature,
    /// The claims are not what the caller expects.
    #[error("the id_token's claims are malformed: {0}")]
    Claims(String),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn segment(s: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)
}

/// The `kid` a token names, to pick (or fetch) the key set before verifying.
pub fn key_id(token: &str) -> Result<Option<String>, JwtError> {
    let header = token.split('.').next().ok_or(JwtError::Malformed)?;
    let header: Header =
        serde_json::from_slice(&segment(header)?).map_err(|_| JwtError::Malformed)?;
    Ok(header.kid)
}

/// Verifies `token`'s RS256 signature with the key of `keys` its header names, then parses its
/// claims as `C`. The caller checks what the claims mean (issuer, audience, expiry, nonce).
pub fn verify<C: DeserializeOwned>(token: &str, keys: &JwkSet) -> Result<C, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header =
        serde_json::from_slice(&segment(header_b64)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm);
    }
    let kid = header.kid.ok_or(JwtError::UnknownKey)?;
    let key = keys
        .keys
        .iter()
        .find(|k| {
            k.kid.as_deref() == Some(kid.as_str())
                && k.kty == "RSA"
                && k.alg.as_deref().is_none_or(|a| a == "RS256")
                && k.use_.as_deref().is_none_or(|u| u == "sig")
        })
        .ok_or(JwtError::UnknownKey)?;
    let (Some(n), Some(e)) = (&key.n, &key.e) else {
        return Err(JwtError::UnknownKey);
    };
    let public = RsaPublicKeyComponents {
        n: segment(n)?,
        e: segment(e)?,
    };
    let signed_len = header_b64.len() + 1 + claims_b64.len();
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            &token.as_bytes()[..signed_len],
            &segment(sig_b64)?,
        )
        .map_err(|_| JwtError::Signature)?;
    serde_json::from_slice(&segment(claims_b64)?).map_err(|e| JwtError::Claims(e.to_string()))
}

/// Signing for the tests (of this module and its callers), with an RSA key (PKCS#1 DER) made for
/// these tests only.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    pub(crate) const KEY: &[u8] = include_bytes!("testdata/rsa-2048.der");

    /// The test key's JWKS entry, under `kid`.
    pub(crate) fn jwks(kid: &str) -> JwkSet {
        let pair = RsaKeyPair::from_der(KEY).unwrap();
        let public: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        serde_json::from_value(serde_json::json!({"keys": [{"kty": "RSA", "kid": kid,
            "alg": "RS256", "use": "sig", "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e)}]}))
        .unwrap()
    }

    /// A JWT of `header` and `claims`, signed RS256 with the test key.
    pub(crate) fn sign(header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let pair = RsaKeyPair::from_der(KEY).unwrap();
        let body = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            body.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::{Value, json};

    use super::testing::{jwks, sign};
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    fn header() -> Value {
        json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})
    }

    #[test]
    fn a_token_verifies_only_with_its_key_its_algorithm_and_untouched() {
        let keys = jwks("k1");
        let good = sign(&header(), &json!({"sub": "U1", "exp": 5}));
        let claims: Claims = verify(&good, &keys).unwrap();
        assert_eq!((claims.sub.as_str(), claims.exp), ("U1", 5));
        assert_eq!(key_id(&good).unwrap().as_deref(), Some("k1"));

        // Another kid, or the set without it.
        assert_eq!(
            verify::<Claims>(&good, &jwks("k2")).unwrap_err(),
            JwtError::UnknownKey
        );
        // Claims swapped under the same signature.
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(json!({"sub": "U2", "exp": 5}).to_string()),
            parts[2]
        );
        assert_eq!(
            verify::<Claims>(&forged, &keys).unwrap_err(),
            JwtError::Signature
        );
        // `none` and HMAC are refused whatever the signature.
        for alg in ["none", "HS256", "RS512", "rs256"] {
            let t = sign(
                &json!({"alg": alg, "kid": "k1"}),
                &json!({"sub": "U1", "exp": 5}),
            );
            assert_eq!(
                verify::<Claims>(&t, &keys).unwrap_err(),
                JwtError::Algorithm
            );
        }
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(
            verify::<Claims>(&unsigned, &keys).unwrap_err(),
            JwtError::Signature
        );
        // No kid.
        let t = sign(&json!({"alg": "RS256"}), &json!({"sub": "U1", "exp": 5}));
        assert_eq!(
            verify::<Claims>(&t, &keys).unwrap_err(),
            JwtError::UnknownKey
        );
        // Padding, extra segments, junk.
        for junk in [
            format!("{good}="),
            format!("{good}.x"),
            "a.b".to_string(),
            String::new(),
        ] {
            assert!(verify::<Claims>(&junk, &keys).is_err(), "{junk}");
        }
        // Claims of the wrong type fail to parse instead of being skipped.
        let t = sign(&header(), &json!({"sub": "U1", "exp": "never"}));
        assert!(matches!(
            verify::<Claims>(&t, &keys).unwrap_err(),
            JwtError::Claims(_)
        ));
    }
}
