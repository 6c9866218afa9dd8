//! The rules a request is checked against: every input check (expiration, views, sizes,
//! envelope, countries, webhook URL, labels and file names, verifiers, account names,
//! subscribers, paging, passphrase length, platform identities), the reveal-proof check, and the
//! live status of a
//! secret as every operation applies it (the rule itself is stated once, in
//! [`Status::live_at`]).

use chrono::{DateTime, Utc};

use super::Engine;
use crate::api::SecretInfo;
use crate::crypto::{self, RevealProof, SecretBytes, SecretKey, Verifier};
use crate::error::{Error, GoneReason, Result};
use crate::model::{Expiration, PlatformIdentity, Provider, SecretId, Status};
use crate::store::SecretRecord;
use crate::webhook;

impl Engine {
    pub(super) fn check_countries(&self, countries: Vec<String>) -> Result<Vec<String>> {
        if countries.is_empty() {
            return Ok(countries);
        }
        if !self.cfg.geo_available {
            // Silently ignoring the restriction would let every country in.
            return Err(Error::invalid(
                "allowed_countries",
                "geo-blocking is not available: configure SEECRET_GEOIP_DB or SEECRET_COUNTRY_HEADER",
            ));
        }
        let mut out = Vec::with_capacity(countries.len());
        for c in countries {
            let c = c.trim().to_ascii_uppercase();
            if !crate::geo::is_country_code(&c) {
                return Err(Error::invalid(
                    "allowed_countries",
                    format!("{c:?} is not an ISO 3166-1 alpha-2 country code"),
                ));
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.len() > 250 {
            return Err(Error::invalid("allowed_countries", "too many countries"));
        }
        Ok(out)
    }

    /// A create's `bound_to`: a well-formed identity of a platform this server can sign people
    /// in with. Binding to a platform without sign-in would make the secret impossible to open,
    /// or (were the check skipped) open to anyone: both are refused at creation instead.
    pub(super) fn check_bound_to(
        &self,
        bound: Option<PlatformIdentity>,
    ) -> Result<Option<PlatformIdentity>> {
        let Some(bound) = bound else {
            return Ok(None);
        };
        self.check_sign_in_available("bound_to", bound.provider)?;
        check_identity("bound_to", bound).map(Some)
    }

    /// Whether this server can sign people in with `provider`.
    pub(super) fn check_sign_in_available(
        &self,
        field: &'static str,
        provider: Provider,
    ) -> Result<()> {
        if self.cfg.sign_in_providers.contains(&provider) {
            return Ok(());
        }
        let vars = match provider {
            Provider::Slack => "SEECRET_SLACK_CLIENT_ID and SEECRET_SLACK_CLIENT_SECRET",
            Provider::Discord => "SEECRET_DISCORD_CLIENT_ID and SEECRET_DISCORD_CLIENT_SECRET",
        };
        Err(Error::invalid(
            field,
            format!(
                "sign-in with {p} is not configured on this server, so a secret cannot be bound \
                 to a {p} user (the operator sets {vars})",
                p = provider.label()
            ),
        ))
    }

    pub(super) async fn check_webhook_url(&self, url: Option<String>) -> Result<Option<String>> {
        match url.map(|u| u.trim().to_string()) {
            None => Ok(None),
            Some(u) if u.is_empty() => Ok(None),
            Some(u) => webhook::check_url(&u, &self.cfg.webhooks.allow_private)
                .await
                .map(Some),
        }
    }

    pub(super) fn check_expiration(&self, e: Expiration) -> Result<Expiration> {
        if e > self.cfg.max_expiration {
            return Err(Error::invalid(
                "expiration",
                format!("expiration must be at most {}", self.cfg.max_expiration),
            ));
        }
        if e < self.cfg.min_expiration {
            return Err(Error::invalid(
                "expiration",
                format!("expiration must be at least {}", self.cfg.min_expiration),
            ));
        }
        Ok(e)
    }

    pub(super) fn check_views(&self, v: u32) -> Result<u32> {
        if v == 0 || v > self.cfg.max_views {
            return Err(Error::invalid(
                "views",
                format!("views must be between 1 and {}", self.cfg.max_views),
            ));
        }
        Ok(v)
    }

    pub(super) fn check_text_size(&self, len: usize) -> Result<()> {
        if len == 0 {
            return Err(Error::invalid("content", "content must not be empty"));
        }
        if len > self.cfg.max_text_bytes {
            return Err(Error::TooLarge {
                message: format!(
                    "content is {len} bytes; the limit for text is {} bytes (send larger data as a file)",
                    self.cfg.max_text_bytes
                ),
            });
        }
        Ok(())
    }

    pub(super) fn check_envelope(&self, b64: &str) -> Result<Vec<u8>> {
        let envelope = crypto::b64decode("ciphertext", b64)?;
        crypto::check_envelope(&envelope)?;
        self.check_text_size(envelope.len() - crypto::ENVELOPE_OVERHEAD)
            .map_err(|e| match e {
                Error::InvalidInput { .. } => {
                    Error::invalid("ciphertext", "ciphertext seals empty content")
                }
                other => other,
            })?;
        Ok(envelope)
    }
}

/// The client's `verifier` for content it sealed itself: required, since without it nobody could
/// ever prove the right to reveal.
pub(super) fn client_verifier_of(given: Option<String>) -> Result<Verifier> {
    match given.as_deref().map(str::trim) {
        None | Some("") => Err(Error::invalid(
            "verifier",
            "verifier is required with client-sealed content: base64url of SHA-256 of the \
             reveal proof (docs/format.md)",
        )),
        Some(v) => Verifier::from_base64url(v),
    }
}

pub(super) fn verifier_with_plaintext() -> Error {
    Error::invalid(
        "verifier",
        "verifier is only for client-sealed content: the server derives it when it seals",
    )
}

/// Checks that a reveal or status call holds the secret's key or reveal proof (DESIGN §7.1),
/// in constant time against the stored verifier. Every failure is [`Error::NotFound`], the
/// answer for an unknown id, so the id alone tells nothing. A `key` stands for the proof derived
/// from it; a key that does not even parse proves nothing either. Secrets stored before
/// verifiers existed accept a key (checked later by decrypting) and refuse a bare proof.
pub(super) fn check_proof(
    record: &SecretRecord,
    key: Option<&SecretBytes>,
    proof: Option<&SecretBytes>,
) -> Result<()> {
    let derived = key.map(|k| {
        k.as_str()
            .and_then(|s| SecretKey::from_base64url(s).ok())
            .map(|k| RevealProof::of_key(&k))
    });
    let given = proof.map(|p| p.as_str().and_then(|s| RevealProof::from_base64url(s).ok()));
    let proofs = [derived, given];
    if proofs.iter().all(Option::is_none) {
        return Err(Error::NotFound);
    }
    let Some(verifier) = &record.verifier else {
        return match (key.is_some(), &proofs[0]) {
            (true, Some(Some(_))) => Ok(()),
            _ => Err(Error::NotFound),
        };
    };
    // Every proof the caller gave must hold: a right key with a wrong proof is refused too.
    let mut ok = true;
    for p in proofs.iter().flatten() {
        ok &= p.as_ref().is_some_and(|p| verifier.accepts(p));
    }
    if ok { Ok(()) } else { Err(Error::NotFound) }
}

/// An active secret past its expiry is expired even before the sweeper has erased it.
pub(super) fn live_status(r: &SecretRecord, now: DateTime<Utc>) -> Status {
    r.status.live_at(r.expires_at, now)
}

/// `info` with its status as of `now` (the same rule as [`live_status`]).
pub(super) fn with_live_status(mut info: SecretInfo, now: DateTime<Utc>) -> SecretInfo {
    info.status = info.status.live_at(info.expires_at, now);
    info
}

pub(super) fn gone_reason(r: &SecretRecord, now: DateTime<Utc>) -> Option<GoneReason> {
    match live_status(r, now) {
        Status::Active => None,
        Status::Consumed => Some(GoneReason::Consumed),
        Status::Expired => Some(GoneReason::Expired),
        Status::Deleted => Some(GoneReason::Deleted),
    }
}

pub(super) fn check_label(label: Option<String>) -> Result<Option<String>> {
    check_name("label", label)
}

/// A name the owner chose and others will read (label, clear-text file name): at most 200
/// characters, refused with a 400 naming `field` if it holds control or format characters, since
/// bidi overrides and invisible characters make a name read as something else.
pub(super) fn check_name(field: &'static str, name: Option<String>) -> Result<Option<String>> {
    check_text(field, field, 200, name)
}

/// The note a request shows its responder: at most 500 characters, like a label otherwise.
pub(super) fn check_note(note: Option<String>) -> Result<Option<String>> {
    check_text("note", "note", 500, note)
}

/// [`check_name`] for a part (`what`, e.g. `bound_to.name`) of `field`, at most `max` characters.
fn check_text(
    field: &'static str,
    what: &str,
    max: usize,
    name: Option<String>,
) -> Result<Option<String>> {
    let Some(name) = name.map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("{what} must be at most {max} characters"),
        ));
    }
    if let Some(c) = name.chars().find(|c| crate::text::is_hidden_char(*c)) {
        return Err(Error::invalid(
            field,
            format!(
                "{what} must not contain control characters or invisible formatting characters \
                 such as bidi overrides (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(Some(name))
}

/// Longest display name of a platform identity.
pub(super) const IDENTITY_NAME_MAX: usize = 100;

/// A platform identity whose ids have the platform's own form: Slack a workspace `T…` and a
/// member `U…`/`W…` (that letter and 2 to 31 upper-case letters or digits), Discord a snowflake
/// of 17 to 19 digits and no team (its user ids are global). Anything else would never match a
/// signed-in user, so the secret could never be opened: refused now, naming `field`.
pub(super) fn check_identity(
    field: &'static str,
    who: PlatformIdentity,
) -> Result<PlatformIdentity> {
    fn slack_id(s: &str, first: &[char]) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| first.contains(&c))
            && (3..=32).contains(&s.len())
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }
    let bad = |what: &str| Error::invalid(field, format!("{field}: {what}"));
    match who.provider {
        Provider::Slack => {
            let team = who.team.as_deref().ok_or_else(|| {
                bad("a Slack user needs its workspace: team (the T… id) is required")
            })?;
            if !slack_id(team, &['T']) {
                return Err(bad(
                    "team must be a Slack workspace id: T followed by 2 to 31 upper-case letters \
                     or digits",
                ));
            }
            if !slack_id(&who.user, &['U', 'W']) {
                return Err(bad(
                    "user must be a Slack member id: U or W followed by 2 to 31 upper-case \
                     letters or digits",
                ));
            }
        }
        Provider::Discord => {
            if who.team.is_some() {
                return Err(bad(
                    "team is only for Slack: a Discord user id is the same in every server",
                ));
            }
            let snowflake = (17..=19).contains(&who.user.len())
                && !who.user.starts_with('0')
                && who.user.bytes().all(|b| b.is_ascii_digit());
            if !snowflake {
                return Err(bad(
                    "user must be a Discord user id: a snowflake of 17 to 19 digits",
                ));
            }
        }
    }
    let name = check_text(field, &format!("{field}.name"), IDENTITY_NAME_MAX, who.name)?;
    Ok(PlatformIdentity { name, ..who })
}

/// An account's name: 1 to 100 characters once trimmed.
pub(super) fn check_account_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "name must be 1 to 100 characters"));
    }
    Ok(name)
}

/// An in-process subscriber (`slack:T1:U2`): at most 200 bytes, no control characters.
pub(super) fn check_notify(notify: Option<String>) -> Result<Option<String>> {
    match notify {
        Some(n) if n.is_empty() || n.len() > 200 || n.chars().any(char::is_control) => {
            Err(Error::invalid("notify", "invalid subscriber"))
        }
        n => Ok(n),
    }
}

/// A page size: 20 unless given, 1 to 100.
pub(super) fn check_page_limit(limit: Option<u32>) -> Result<u32> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid("limit", "limit must be between 1 and 100"));
    }
    Ok(limit)
}

/// A listing cursor: the last id of the previous page (empty: the first page).
pub(super) fn check_cursor(cursor: Option<&str>) -> Result<Option<SecretId>> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<SecretId>()
                .map_err(|_| Error::invalid("cursor", "cursor is not one this server issued"))
        })
        .transpose()
}

/// New total views for a secret that used `used`: more than those, or nothing is left to allow.
pub(super) fn check_views_above_used(views: u32, used: u32) -> Result<u32> {
    if views <= used {
        return Err(Error::invalid(
            "views",
            format!("views must be more than the {used} already used"),
        ));
    }
    Ok(views)
}

/// A passphrase to hash: at most 1024 bytes (Argon2 takes longer the longer it is).
pub(super) fn check_new_passphrase(p: &SecretBytes) -> Result<()> {
    if p.len() > 1024 {
        return Err(Error::invalid(
            "passphrase",
            "passphrase must be at most 1024 bytes",
        ));
    }
    Ok(())
}
