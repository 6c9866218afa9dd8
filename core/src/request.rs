//! The cryptography of "request a secret" (DESIGN §7.2, `docs/format.md`).
//!
//! The asker holds an X25519 key pair (d, Q) and publishes Q in the request link's fragment. The
//! responder makes an ephemeral pair (e, E) and derives the answer's content key
//! `K = HKDF-SHA256(ikm = X25519(e, Q), salt = request id, info = "seecret/v1/request")`, where the
//! request id is its canonical text (36 ASCII bytes, lowercase, hyphenated). The answer is an
//! ordinary secret whose id is the request's id, sealed under K (v1 envelope or file stream), and
//! whose verifier is the one the asker sent: `SHA-256(HMAC-SHA256(key = d, "seecret/v1/reveal-proof"))`.
//! The asker derives the same K from `X25519(d, E)` and the reveal proof from d.

use std::fmt;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{RevealProof, SecretKey, Verifier};
use crate::error::{Error, Result};
use crate::model::SecretId;

/// HKDF `info` of the answer key.
pub const REQUEST_KDF_INFO: &[u8] = b"seecret/v1/request";

/// An X25519 public key: a request's Q, or an answer's ephemeral E.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestPublicKey([u8; 32]);

impl RequestPublicKey {
    /// Parses the wire form (base64url without padding, 32 bytes); `field` names it in errors.
    pub fn from_base64url(field: &'static str, s: &str) -> Result<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim().trim_end_matches('='))
            .map_err(|_| {
                Error::invalid(field, format!("{field} must be 43 characters of base64url"))
            })?;
        Self::from_bytes(&bytes)
            .ok_or_else(|| Error::invalid(field, format!("{field} must decode to 32 bytes")))
    }

    /// From stored bytes; `None` unless exactly 32.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The wire form.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RequestPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestPublicKey({})", self.to_base64url())
    }
}

/// An X25519 private key: the asker's d. Zeroed on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct RequestPrivateKey(StaticSecret);

impl RequestPrivateKey {
    /// A fresh key from the OS random generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(StaticSecret::from(*bytes))
    }

    /// Parses the wire form (base64url without padding, 32 bytes), as in an `/a/` link.
    pub fn from_base64url(s: &str) -> Result<Self> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(s.trim().trim_end_matches('='))
                .map_err(|_| Error::invalid("key", "key must be 43 characters of base64url"))?,
        );
        let mut arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::invalid("key", "key must decode to 32 bytes"))?;
        let key = Self(StaticSecret::from(arr));
        arr.zeroize();
        Ok(key)
    }

    /// The wire form, for an `/a/` link's fragment or a key file.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_bytes()))
    }

    /// The public key Q.
    pub fn public_key(&self) -> RequestPublicKey {
        RequestPublicKey(PublicKey::from(&self.0).to_bytes())
    }

    /// The reveal proof of the answer: `HMAC-SHA256(key = d, "seecret/v1/reveal-proof")`, with d
    /// as stored (the 32 bytes of the wire form).
    pub fn proof(&self) -> RevealProof {
        RevealProof::derive(self.0.as_bytes())
    }

    /// The verifier sent with the request: `SHA-256` of [`proof`](Self::proof).
    pub fn verifier(&self) -> Verifier {
        self.proof().verifier()
    }

    /// The answer's content key, from the answer's ephemeral public key E.
    pub fn answer_key(&self, id: &SecretId, ephemeral: &RequestPublicKey) -> Result<SecretKey> {
        let shared = self.0.diffie_hellman(&PublicKey::from(ephemeral.0));
        derive_key(id, &shared)
    }
}

impl fmt::Debug for RequestPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestPrivateKey(<redacted>)")
    }
}

/// The responder's side: a fresh ephemeral pair (e, E); returns K and E (e is dropped, zeroed).
pub fn answer_key_for(
    id: &SecretId,
    public_key: &RequestPublicKey,
) -> Result<(SecretKey, RequestPublicKey)> {
    let e = RequestPrivateKey::generate();
    let shared = e.0.diffie_hellman(&PublicKey::from(public_key.0));
    Ok((derive_key(id, &shared)?, e.public_key()))
}

fn derive_key(id: &SecretId, shared: &x25519_dalek::SharedSecret) -> Result<SecretKey> {
    // A low-order public key makes the shared secret all zeros, which anyone can compute:
    // refused, as WebCrypto refuses it.
    if !shared.was_contributory() {
        return Err(Error::invalid(
            "public_key",
            "the public key is not a usable X25519 key",
        ));
    }
    let hk = hkdf::Hkdf::<Sha256>::new(Some(id.to_string().as_bytes()), shared.as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(REQUEST_KDF_INFO, okm.as_mut())
        .map_err(|_| Error::Internal("HKDF output length".into()))?;
    Ok(SecretKey::from_bytes(*okm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto;

    // The figures come from Python's `cryptography` (X25519, HKDF) and hmac/hashlib.
    /// The vector `docs/format.md` prints: d = 00 01 .. 1f, e = 20 21 .. 3f, request id
    /// 01890a5d-ac96-774b-bcce-b302099a8057. Run with `--nocapture` to see it.
    #[test]
    fn request_crypto_matches_the_documented_vector() {
        let d_bytes: Vec<u8> = (0u8..32).collect();
        let e_bytes: Vec<u8> = (32u8..64).collect();
        let d = RequestPrivateKey::from_base64url(&URL_SAFE_NO_PAD.encode(&d_bytes)).unwrap();
        let e = RequestPrivateKey::from_base64url(&URL_SAFE_NO_PAD.encode(&e_bytes)).unwrap();
        let id: SecretId = "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap();
        let q = d.public_key();
        let big_e = e.public_key();
        let k_asker = d.answer_key(&id, &big_e).unwrap();
        let k_responder = e.answer_key(&id, &q).unwrap();
        assert_eq!(k_asker.as_bytes(), k_responder.as_bytes());
        println!("Q = {}", q.to_base64url());
        println!("E = {}", big_e.to_base64url());
        println!("K = {}", k_asker.to_base64url().as_str());
        println!("P = {}", d.proof().to_base64url().as_str());
        println!("W = {}", d.verifier().to_base64url());
        assert_eq!(q.to_base64url(), VECTOR_Q);
        assert_eq!(big_e.to_base64url(), VECTOR_E);
        assert_eq!(k_asker.to_base64url().as_str(), VECTOR_K);
        assert_eq!(d.verifier().to_base64url(), VECTOR_W);
    }

    const VECTOR_Q: &str = "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8";
    const VECTOR_E: &str = "NYBy1jZYgNGu6jKa35EhODhR7SGijjt16WXQ0s0WYlQ";
    const VECTOR_K: &str = "5lGqlMCdTakgejzfqbRWlsy_JnH8MyShP85C907Q9H4";
    const VECTOR_W: &str = "QgGH1qo-JX3oEdnUwG6YSz62j57aT1KrhNS6FMqZANk";

    #[test]
    fn both_sides_derive_the_same_key_and_the_envelope_opens() {
        let d = RequestPrivateKey::generate();
        let id = SecretId::new();
        let (k, e) = answer_key_for(&id, &d.public_key()).unwrap();
        let env = crypto::seal(&k, &id, b"db password").unwrap();
        let k2 = d.answer_key(&id, &e).unwrap();
        assert_eq!(
            crypto::open(&k2, &id, &env).unwrap().expose(),
            b"db password"
        );
        // Another request id derives another key.
        let other = d.answer_key(&SecretId::new(), &e).unwrap();
        assert_ne!(other.as_bytes(), k.as_bytes());
        assert!(!format!("{d:?}").contains(d.to_base64url().as_str()));
    }

    #[test]
    fn a_low_order_public_key_is_refused() {
        let zero = RequestPublicKey::from_bytes(&[0u8; 32]).unwrap();
        assert!(answer_key_for(&SecretId::new(), &zero).is_err());
    }
}
