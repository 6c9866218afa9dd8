//! The domain: ids, durations, statuses and kinds, and the view log. These types are also the wire
//! format (flat JSON objects), shared by the server and the typed client. A leaf: it builds on the
//! error type alone, and every other module may build on it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A secret's id: a UUIDv7, so ids sort by creation time and cursors are just the last id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
pub struct SecretId(Uuid);

impl SecretId {
    /// A fresh time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Parses an id chosen by a client that encrypts locally: it must be a UUIDv7 so listings
    /// stay in creation order.
    pub fn parse_client_chosen(s: &str) -> Result<Self> {
        let id: Self = s
            .parse()
            .map_err(|_| Error::invalid("id", "id must be a UUID"))?;
        if id.0.get_version_num() != 7 {
            return Err(Error::invalid("id", "a client-chosen id must be a UUIDv7"));
        }
        Ok(id)
    }
}

impl Default for SecretId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for SecretId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| Error::invalid("id", "id must be a UUID"))
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretId({self})")
    }
}

/// An account's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
pub struct AccountId(Uuid);

impl AccountId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for AccountId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| Error::invalid("account", "account id must be a UUID"))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

/// Where a secret is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// Can still be revealed.
    Active,
    /// Its last view was used; content erased.
    Consumed,
    /// Its expiration passed; content erased.
    Expired,
    /// Its owner deleted it; content erased.
    Deleted,
}

impl Status {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }
}

impl Status {
    /// The status as of `now` of a secret stored with this status and `expires_at`: an active
    /// secret past its expiry is expired even before the sweeper has erased it. The one
    /// statement of that rule; every answer that shows a status applies it.
    pub fn live_at(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Active && expires_at <= now {
            Self::Expired
        } else {
            self
        }
    }
}

impl FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "consumed" => Ok(Self::Consumed),
            "expired" => Ok(Self::Expired),
            "deleted" => Ok(Self::Deleted),
            _ => Err(Error::invalid(
                "status",
                "status must be one of active, consumed, expired, deleted",
            )),
        }
    }
}

/// Where a request for a secret is in its life (DESIGN §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RequestStatus {
    /// Waiting for its one answer.
    Open,
    /// Answered: the answer is a secret of the asker's account with the request's id.
    Answered,
    /// Its expiration passed without an answer.
    Expired,
    /// Its owner deleted it; later answers are refused.
    Deleted,
}

impl RequestStatus {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    /// The status as of `now`: an open request past its expiry is expired even before the
    /// sweeper marks it.
    pub fn live_at(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Open && expires_at <= now {
            Self::Expired
        } else {
            self
        }
    }
}

impl FromStr for RequestStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(Self::Open),
            "answered" => Ok(Self::Answered),
            "expired" => Ok(Self::Expired),
            "deleted" => Ok(Self::Deleted),
            _ => Err(Error::invalid(
                "status",
                "status must be one of open, answered, expired, deleted",
            )),
        }
    }
}

/// What a secret holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Kind {
    /// UTF-8 text (or any bytes) up to the text limit, sealed in one envelope.
    Text,
    /// A file, sealed as a chunked stream in the blob store.
    File,
}

impl Kind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::File => "file",
        }
    }
}

/// A duration written `<n>s|m|h|d|w` (`30m`, `24h`, `7d`), as the API takes expirations.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiration(Duration);

impl Expiration {
    /// The default expiration: 24 hours.
    pub const DEFAULT: Self = Self(Duration::from_secs(24 * 3600));
    /// How long a request for a secret stays open unless told otherwise.
    pub const REQUEST_DEFAULT: Self = Self(Duration::from_secs(7 * 86_400));

    /// From a duration.
    pub fn from_duration(d: Duration) -> Self {
        Self(d)
    }

    /// The duration.
    pub fn duration(self) -> Duration {
        self.0
    }
}

impl FromStr for Expiration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "expiration",
                format!(
                    "expiration {s:?} is not a duration like 30m, 24h, 7d or 1w (units s, m, h, d, w)"
                ),
            )
        };
        let s = s.trim();
        let split = s.len().checked_sub(1).ok_or_else(bad)?;
        if !s.is_char_boundary(split) {
            return Err(bad());
        }
        let (n, unit) = s.split_at(split);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        n.checked_mul(secs)
            .filter(|s| *s > 0 && *s < 100 * 365 * 86_400)
            .map(|s| Self(Duration::from_secs(s)))
            .ok_or_else(bad)
    }
}

impl fmt::Display for Expiration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        for (unit, len) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s >= len && s.is_multiple_of(len) {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

impl fmt::Debug for Expiration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expiration({self})")
    }
}

impl Serialize for Expiration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expiration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A bare number is seconds: some HTTP clients send 3600 rather than "1h".
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Secs(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Raw::Secs(0) => Err(serde::de::Error::custom("expiration must be positive")),
            Raw::Secs(n) => Ok(Self(Duration::from_secs(n))),
        }
    }
}

/// A chat platform whose users a secret can be bound to (see [`PlatformIdentity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Provider {
    /// Slack: a user is a member id (`U…`/`W…`) in a workspace (`T…`).
    Slack,
    /// Discord: a user is a snowflake, global to Discord.
    Discord,
}

impl Provider {
    /// The wire and stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
        }
    }

    /// The platform's name as people write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Discord => "Discord",
        }
    }
}

impl FromStr for Provider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "slack" => Ok(Self::Slack),
            "discord" => Ok(Self::Discord),
            _ => Err(Error::invalid(
                "provider",
                "provider must be slack or discord",
            )),
        }
    }
}

/// A user of a chat platform: whom a secret is bound to (`bound_to`, only that user may open
/// it), and who signed in to reveal one (the view log's `viewer`). Two identities are the same
/// user when provider, team and user agree; `name` is only for people to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformIdentity {
    /// `slack` or `discord`.
    pub provider: Provider,
    /// Slack: the workspace (team) id, `T…`. Discord has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The user id: Slack `U…`/`W…`, Discord a snowflake (decimal digits).
    pub user: String,
    /// A name to show people (`@bob`); never checked, only displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl PlatformIdentity {
    /// Whether `other` is the same platform user (the name aside).
    pub fn same_user(&self, other: &Self) -> bool {
        self.provider == other.provider && self.team == other.team && self.user == other.user
    }
}

/// One reveal as the owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewEntry {
    /// When the view happened.
    pub at: DateTime<Utc>,
    /// The viewer's country (ISO 3166-1 alpha-2), when known.
    pub country: Option<String>,
    /// Who revealed it, for a secret bound to a platform user: the identity they signed in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<PlatformIdentity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_parse_and_print() {
        for (s, secs) in [
            ("30m", 1800),
            ("24h", 86_400),
            ("7d", 604_800),
            ("1w", 604_800),
            ("5s", 5),
        ] {
            let e: Expiration = s.parse().unwrap();
            assert_eq!(e.duration().as_secs(), secs, "{s}");
        }
        assert_eq!(Expiration::DEFAULT.to_string(), "1d");
        for bad in [
            "",
            "h",
            "0h",
            "-1h",
            "1y",
            "1.5h",
            "24",
            "é",
            "99999999999999w",
        ] {
            assert!(bad.parse::<Expiration>().is_err(), "{bad:?} should fail");
        }
        let e: Expiration = serde_json::from_str("3600").unwrap();
        assert_eq!(e.to_string(), "1h");
    }
}
