//! Share links: `{base}/s/{id}#{key}`, the key in the fragment so it never reaches a server.

use crate::crypto::SecretKey;
use crate::error::{Error, Result};
use crate::model::SecretId;
use crate::request::RequestPrivateKey;

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
        let (base, id, key) = split(
            link,
            "/s/",
            "a Seecret link looks like https://host/s/<id>#<key>",
        )?;
        Ok(Self {
            base,
            id,
            key: SecretKey::from_base64url(key)?,
        })
    }
}

/// The asker's link to the answer of a request: `{base}/a/{id}#{d}`, the private key d in the
/// fragment (DESIGN §7.2).
#[derive(Clone, Debug)]
pub struct AnswerLink {
    /// The server's public base URL, without trailing slash.
    pub base: String,
    /// The request's id (its answer's too).
    pub id: SecretId,
    /// The asker's private key.
    pub key: RequestPrivateKey,
}

impl AnswerLink {
    /// Builds the text of an answer link.
    pub fn format(base: &str, id: &SecretId, key: &RequestPrivateKey) -> String {
        format!(
            "{}/a/{id}#{}",
            base.trim_end_matches('/'),
            key.to_base64url().as_str()
        )
    }

    /// Parses a link as printed by [`AnswerLink::format`].
    pub fn parse(link: &str) -> Result<Self> {
        let (base, id, key) = split(
            link,
            "/a/",
            "an answer link looks like https://host/a/<id>#<private key>",
        )?;
        Ok(Self {
            base,
            id,
            key: RequestPrivateKey::from_base64url(key)?,
        })
    }
}

/// Splits `{base}{segment}{id}#{key}` into its base, id and the fragment's text; `shape` is the
/// error's message, naming the link's expected form (never the link itself: it holds a key).
fn split<'a>(
    link: &'a str,
    segment: &str,
    shape: &'static str,
) -> Result<(String, SecretId, &'a str)> {
    let bad = || Error::invalid("link", shape);
    let (rest, key) = link.trim().split_once('#').ok_or_else(bad)?;
    let (base, id) = rest.rsplit_once(segment).ok_or_else(bad)?;
    if base.is_empty() {
        return Err(bad());
    }
    Ok((base.to_string(), id.trim_end_matches('/').parse()?, key))
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
        let d = RequestPrivateKey::generate();
        let a = AnswerLink::parse(&AnswerLink::format("http://h:1/p", &id, &d)).unwrap();
        assert_eq!((a.base.as_str(), a.id), ("http://h:1/p", id));
        assert_eq!(a.key.to_base64url().as_str(), d.to_base64url().as_str());
        assert!(AnswerLink::parse(&text).is_err());
    }
}
