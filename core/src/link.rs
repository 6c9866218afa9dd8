//! Share links: `{base}/s/{id}#{key}`, the key in the fragment so it never reaches a server.

use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::model::SecretId;

/// A parsed share link: `{base}/s/{id}#{key}`.
#[derive(Clone, Debug)]
pub struct Link {
    /// The server's public base URL (scheme, host, optional path prefix), without trailing slash.
    pub base: String,
    /// The secret's id.
    pub id: SecretId,
    /// The key from the fragment.
    pub key: SecretKey,
}

impl Link {
    /// Builds the text of a link.
    pub fn format(base: &str, id: &SecretId, key: &SecretKey) -> String {
        format!(
            "{}/s/{id}#{}",
            base.trim_end_matches('/'),
            key.to_base64url().as_str()
        )
    }

    /// Parses a link as printed by [`Link::format`].
    pub fn parse(link: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "link",
                "a Seecret link looks like https://host/s/<id>#<key>",
            )
        };
        let link = link.trim();
        let (rest, key) = link.split_once('#').ok_or_else(bad)?;
        let (base, id) = rest.rsplit_once("/s/").ok_or_else(bad)?;
        if base.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            base: base.to_string(),
            id: id.trim_end_matches('/').parse()?,
            key: SecretKey::from_base64url(key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip() {
        let id = SecretId::new();
        let key = SecretKey::generate();
        let text = Link::format("http://127.0.0.1:8080/", &id, &key);
        let link = Link::parse(&text).unwrap();
        assert_eq!(link.base, "http://127.0.0.1:8080");
        assert_eq!(link.id, id);
        assert_eq!(link.key.as_bytes(), key.as_bytes());
        assert!(Link::parse("http://x/s/not-a-uuid#abc").is_err());
        assert!(Link::parse("http://x/s/0193").is_err());
    }
}
