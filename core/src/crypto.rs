//! Per-secret encryption. Each secret gets a fresh random 256-bit key; the server stores only the
//! sealed envelope and never the key, which travels in the link's fragment.
//!
//! Text envelope, version 1 (see `docs/format.md`):
//! `0x01 || nonce (12 bytes) || AES-256-GCM(key, nonce, aad = secret id, plaintext) || tag (16)`.
//! The secret id as associated data stops an envelope from being replayed under another id.

use std::fmt;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::model::SecretId;

/// Version byte of the text envelope.
pub const ENVELOPE_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const ENVELOPE_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A secret's 256-bit content key. Zeroed on drop; `Debug` never prints it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A fresh key from the OS random generator.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Parses the base64url (no padding) form used in link fragments.
    pub fn from_base64url(s: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(s.trim().trim_end_matches('='))
                .map_err(|_| Error::invalid("key", "key must be 43 characters of base64url"))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::invalid("key", "key must decode to 32 bytes"))?;
        bytes.zeroize();
        Ok(Self(arr))
    }

    /// The base64url (no padding) form placed in link fragments.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// Wraps raw key bytes (e.g. a request's derived answer key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes, for the streaming file format.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Secret bytes (plaintext content, passphrases): zeroed on drop, redacted in `Debug`.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes; the caller's copy moves in and is zeroed when this is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as UTF-8, if they are.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretBytes {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Context of the reveal proof (`docs/format.md`, DESIGN §7.1).
pub const REVEAL_PROOF_CONTEXT: &[u8] = b"seecret/v1/reveal-proof";

/// The reveal proof `P = HMAC-SHA256(key = K, "seecret/v1/reveal-proof")`: shows that a client
/// holds a secret's key (or a request's private key) without giving it away. The server keeps
/// only its [`Verifier`], so a stolen database cannot produce a proof either.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RevealProof([u8; 32]);

impl RevealProof {
    /// Derives the proof from key bytes: a secret's K, or a request's X25519 private key d.
    pub fn derive(key: &[u8]) -> Self {
        use hmac::{Hmac, Mac};
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(REVEAL_PROOF_CONTEXT);
        Self(mac.finalize().into_bytes().into())
    }

    /// The proof of a secret's key.
    pub fn of_key(key: &SecretKey) -> Self {
        Self::derive(&key.0)
    }

    /// Parses the wire form (base64url, no padding, 32 bytes).
    pub fn from_base64url(s: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(s.trim().trim_end_matches('='))
                .map_err(|_| Error::invalid("proof", "proof must be 43 characters of base64url"))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::invalid("proof", "proof must decode to 32 bytes"))?;
        Ok(Self(arr))
    }

    /// The wire form.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// What the server stores to check this proof later: `W = SHA-256(P)`.
    pub fn verifier(&self) -> Verifier {
        Verifier(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for RevealProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevealProof(<redacted>)")
    }
}

/// The stored check of a [`RevealProof`]: `W = SHA-256(P)`. Not secret by itself (it cannot be
/// turned back into a proof), but it is kept out of logs anyway.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier([u8; 32]);

impl Verifier {
    /// Parses the wire form (base64url, no padding, 32 bytes), as a client sends it.
    pub fn from_base64url(s: &str) -> Result<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim().trim_end_matches('='))
            .map_err(|_| {
                Error::invalid("verifier", "verifier must be 43 characters of base64url")
            })?;
        Self::from_bytes(&bytes)
            .ok_or_else(|| Error::invalid("verifier", "verifier must decode to 32 bytes"))
    }

    /// From stored bytes; `None` unless exactly 32.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The wire form.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `proof` is the one this verifier was made from, compared in constant time.
    pub fn accepts(&self, proof: &RevealProof) -> bool {
        use subtle::ConstantTimeEq;
        let w: [u8; 32] = Sha256::digest(proof.0).into();
        w.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier(..)")
    }
}

/// Encrypts `plaintext` for secret `id` under `key` into a v1 envelope.
pub fn seal(key: &SecretKey, id: &SecretId, plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_bound(key, id.to_string().as_bytes(), plaintext)
}

/// Decrypts a v1 envelope; fails with [`Error::InvalidKey`] if the key, id or bytes do not match.
pub fn open(key: &SecretKey, id: &SecretId, envelope: &[u8]) -> Result<SecretBytes> {
    open_bound(key, id.to_string().as_bytes(), envelope)
}

/// A v1 envelope bound to `aad` (a secret's id, or e.g. a Slack team for a stored bot token):
/// it only opens with the same `aad`, so a row copied elsewhere does not decrypt.
pub fn seal_bound(key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new((&key.0).into());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Internal("encryption failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens an envelope made by [`seal_bound`] with the same `aad`.
pub fn open_bound(key: &SecretKey, aad: &[u8], envelope: &[u8]) -> Result<SecretBytes> {
    check_envelope(envelope)?;
    let cipher = Aes256Gcm::new((&key.0).into());
    cipher
        .decrypt(
            Nonce::from_slice(&envelope[1..1 + NONCE_LEN]),
            Payload {
                msg: &envelope[1 + NONCE_LEN..],
                aad,
            },
        )
        .map(SecretBytes::new)
        .map_err(|_| Error::InvalidKey)
}

/// Checks that bytes are shaped like a v1 envelope (the server cannot check more without the key).
pub fn check_envelope(envelope: &[u8]) -> Result<()> {
    if envelope.len() < ENVELOPE_OVERHEAD || envelope[0] != ENVELOPE_V1 {
        return Err(Error::invalid(
            "ciphertext",
            "ciphertext is not a Seecret v1 envelope (0x01 || 12-byte nonce || AES-GCM output)",
        ));
    }
    Ok(())
}

/// Standard base64, the encoding of ciphertext in JSON.
pub fn b64encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 (padding optional).
pub fn b64decode(field: &'static str, s: &str) -> Result<Vec<u8>> {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode(s.trim())
    .map_err(|_| Error::invalid(field, format!("{field} must be standard base64")))
}

/// An API token: a random UUID shown once; only its SHA-256 is stored.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ApiToken(String);

impl ApiToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Parses a presented token; anything that is not a UUID is refused without a lookup.
    pub fn parse(s: &str) -> Result<Self> {
        let u = uuid::Uuid::try_parse(s.trim()).map_err(|_| Error::Unauthorized)?;
        Ok(Self(u.hyphenated().to_string()))
    }

    /// The token, to show its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// A sign-in ticket: 32 random bytes (base64url on the wire) that the server hands the reveal
/// page once a platform user signed in, standing for that identity for one reveal of one secret.
/// Only its SHA-256 is stored, so a copy of the database holds no usable ticket.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SignInTicket([u8; 32]);

impl SignInTicket {
    /// A fresh random ticket.
    pub fn generate() -> Self {
        let mut t = [0u8; 32];
        OsRng.fill_bytes(&mut t);
        Self(t)
    }

    /// Parses a presented ticket: `None` for anything that is not 32 bytes of base64url, which
    /// then matches no stored hash.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(s.trim()).ok()?);
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self(arr))
    }

    /// The wire form, for the page that keeps it.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The stored form.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

impl fmt::Debug for SignInTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInTicket(<redacted>)")
    }
}

/// An account's webhook signing secret. Shown once; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A fresh `whsec_…` secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let s = Self(format!("whsec_{}", STANDARD.encode(bytes)));
        bytes.zeroize();
        s
    }

    /// Wraps a stored secret.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The secret's text, to store or show once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl Serialize for WebhookSecret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for WebhookSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveal_proof_matches_the_documented_vector() {
        // Key 00 01 .. 1f; the figures come from Python's hmac/hashlib (docs/format.md).
        let key: Vec<u8> = (0u8..32).collect();
        let proof = RevealProof::derive(&key);
        assert_eq!(
            proof.to_base64url().as_str(),
            "oWyQAJs3gFFZH3fB78-UWZh3kniUc96l2_01RpasZtQ"
        );
        let w = proof.verifier();
        assert_eq!(
            w.to_base64url(),
            "QgGH1qo-JX3oEdnUwG6YSz62j57aT1KrhNS6FMqZANk"
        );
        assert!(w.accepts(&proof));
        assert!(!w.accepts(&RevealProof::derive(&[0u8; 32])));
        let parsed = RevealProof::from_base64url(&proof.to_base64url()).map(|p| w.accepts(&p));
        assert!(matches!(parsed, Ok(true)));
    }

    #[test]
    fn envelope_round_trips_and_binds_the_id() {
        let key = SecretKey::generate();
        let id = SecretId::new();
        let env = seal(&key, &id, "héllo\nwörld".as_bytes()).unwrap_or_default();
        assert_eq!(env.len(), "héllo\nwörld".len() + ENVELOPE_OVERHEAD);
        let pt = open(&key, &id, &env).map(|p| p.expose().to_vec());
        assert_eq!(pt.ok().as_deref(), Some("héllo\nwörld".as_bytes()));
        assert!(matches!(
            open(&key, &SecretId::new(), &env),
            Err(Error::InvalidKey)
        ));
        assert!(matches!(
            open(&SecretKey::generate(), &id, &env),
            Err(Error::InvalidKey)
        ));
    }

    #[test]
    fn key_text_form_round_trips_and_debug_redacts() {
        let key = SecretKey::generate();
        let text = key.to_base64url();
        assert_eq!(text.len(), 43);
        let back = SecretKey::from_base64url(&text).map(|k| k.0);
        assert_eq!(back.ok(), Some(key.0));
        assert!(!format!("{key:?}").contains(text.as_str()));
        let s = SecretBytes::from("hunter2".to_string());
        assert!(!format!("{s:?}").contains("hunter2"));
        let t = ApiToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
    }
}
