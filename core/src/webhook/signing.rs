//! Signing with the account's webhook secret (`whsec_` + base64 of 32 random bytes; the HMAC key
//! is the decoded bytes, as Standard Webhooks defines it):
//! - Standard Webhooks headers `webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>` (both secrets during
//!   a rotation's overlap, space-separated);
//! - `X-Seecret-Signature: sha256=<hex HMAC-SHA256(body)>` with the current secret (and
//!   `X-Seecret-Signature-Previous` with the previous one during the overlap).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::WebhookSecret;

impl WebhookSecret {
    /// The HMAC key: the base64-decoded bytes after `whsec_`.
    fn key(&self) -> Vec<u8> {
        STANDARD
            .decode(self.expose().trim_start_matches("whsec_"))
            .unwrap_or_else(|_| self.expose().as_bytes().to_vec())
    }

    /// `v1,<base64 HMAC-SHA256("{msg_id}.{timestamp}.{body}")>` (Standard Webhooks).
    pub fn sign_standard(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = hmac_of(&self.key());
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Whether `signatures` (a `webhook-signature` header: space-separated `v1,…`) holds this
    /// secret's signature of the delivery; compared in constant time.
    pub fn verify_standard(
        &self,
        msg_id: &str,
        timestamp: i64,
        signatures: &str,
        body: &[u8],
    ) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.sign_standard(msg_id, timestamp, body);
        signatures.split_whitespace().fold(false, |ok, s| {
            ok | bool::from(s.as_bytes().ct_eq(expected.as_bytes()))
        })
    }

    /// `sha256=<hex HMAC-SHA256(body)>` (the product page's `X-Seecret-Signature`).
    pub fn sign_body(&self, body: &[u8]) -> String {
        let mut mac = hmac_of(&self.key());
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

fn hmac_of(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_known_answer() {
        let s = WebhookSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(
            s.sign_standard(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(!format!("{s:?}").contains("MfKQ"));
    }
}
