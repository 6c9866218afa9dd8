//! Secrets bound to one platform user ("only @bob can open it"): the sign-in tickets that stand
//! for a signed-in user, and the rule every status call and reveal of a bound secret passes
//! right after the reveal proof.
//!
//! The server that ran the sign-in (any instance) stores a ticket: the SHA-256 of 32 random
//! bytes, with the secret it is for, who signed in, and an expiry. The reveal page holds the
//! ticket itself and sends it with the status call (which checks it) and the reveal (which uses
//! it up just before claiming the view). So whichever instance serves the reveal can check it,
//! and a ticket opens one secret once.

use chrono::{DateTime, Utc};
use tracing::warn;

use super::rules::{IDENTITY_NAME_MAX, check_identity};
use super::{Engine, now, to_chrono};
use crate::crypto::{SecretBytes, SignInTicket};
use crate::error::{Error, Result};
use crate::model::{PlatformIdentity, SecretId};
use crate::store::{SecretRecord, TicketRecord};

/// The signed-in recipient of a bound secret, as a status call or reveal proved it.
#[derive(Debug)]
pub(super) struct Recipient {
    /// The stored form of the ticket that proved it, to use it up at the reveal.
    hash: [u8; 32],
    /// Who signed in (with the name the platform gave).
    pub(super) identity: PlatformIdentity,
}

impl Engine {
    /// Issues a sign-in ticket for `secret` to `who`, a user the platform has just vouched for
    /// (the server's sign-in callback). The secret is not looked up: issuing tells nothing about
    /// an id (DESIGN §7.1), and a ticket opens nothing without the link's key. An identity not in
    /// the platform's own form is refused rather than stored; the name is cleaned for display
    /// (platforms allow characters a stored name may not hold).
    pub async fn issue_ticket(
        &self,
        secret: SecretId,
        who: PlatformIdentity,
    ) -> Result<SignInTicket> {
        self.check_sign_in_available("provider", who.provider)?;
        let who = check_identity(
            "identity",
            PlatformIdentity {
                name: who.name.as_deref().and_then(display_name),
                ..who
            },
        )?;
        let ticket = SignInTicket::generate();
        let created_at = now();
        self.store
            .insert_ticket(
                &ticket.hash(),
                &TicketRecord {
                    secret_id: secret,
                    identity: who,
                    created_at,
                    expires_at: created_at + to_chrono(self.cfg.sign_in_ticket_ttl),
                },
            )
            .await?;
        Ok(ticket)
    }

    /// The rule of a bound secret, run right after the reveal proof and before anything else
    /// (status, geo, passphrase, view, events): `Ok(None)` for a secret anyone with the link may
    /// open; `Ok(Some)` when `ticket` proves its recipient signed in (the ticket is not used up
    /// here). Without a ticket that counts ([`Error::SignInRequired`]) nothing is recorded. With
    /// someone else's ([`Error::NotTheRecipient`]) the ticket is used up and the owner gets an
    /// `access_denied` event (reason `recipient`), once per ticket: each attempt costs the
    /// stranger a sign-in, so events cannot be replayed in a loop.
    pub(super) async fn check_recipient(
        &self,
        record: &SecretRecord,
        ticket: Option<&SecretBytes>,
        country: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Recipient>> {
        let Some(bound) = &record.bound_to else {
            return Ok(None);
        };
        let Some(given) = ticket else {
            return Err(sign_in_required(
                bound,
                format!(
                    "this secret is only for {}: sign in with {} to open it",
                    who(bound),
                    bound.provider.label()
                ),
            ));
        };
        let found = match given.as_str().and_then(SignInTicket::parse) {
            Some(t) => {
                let hash = t.hash();
                self.store.ticket(&hash).await?.map(|stored| (hash, stored))
            }
            None => None,
        };
        let Some((hash, stored)) = found.filter(|(_, t)| {
            // A ticket of another secret is the page's mix-up, not a stranger: sign in again.
            t.secret_id == record.id && t.expires_at > now
        }) else {
            return Err(sign_in_required(
                bound,
                format!(
                    "this sign-in has expired or was already used: sign in with {} again",
                    bound.provider.label()
                ),
            ));
        };
        if stored.identity.same_user(bound) {
            return Ok(Some(Recipient {
                hash,
                identity: stored.identity,
            }));
        }
        warn!(id = %record.id, provider = bound.provider.as_str(), "a bound secret refused another user");
        if self.store.take_ticket(&hash, record.id).await?.is_some() {
            self.store
                .record_access_denied(record.id, "recipient", country, Some(&stored.identity), now)
                .await?;
            self.wake.notify_one();
        }
        Err(Error::NotTheRecipient {
            bound_to: Box::new(bound.clone()),
        })
    }

    /// Uses up the ticket that proved `recipient`, right before the view is claimed: a ticket
    /// opens one secret once, also when two reveals present it at the same time (on any
    /// instance); the one that loses is asked to sign in again and uses no view.
    pub(super) async fn use_ticket(
        &self,
        record: &SecretRecord,
        recipient: &Recipient,
    ) -> Result<()> {
        match self.store.take_ticket(&recipient.hash, record.id).await? {
            Some(t) if t.identity.same_user(&recipient.identity) => Ok(()),
            _ => Err(sign_in_required(
                record.bound_to.as_ref().unwrap_or(&recipient.identity),
                "this sign-in was already used: sign in again".into(),
            )),
        }
    }
}

fn sign_in_required(bound: &PlatformIdentity, message: String) -> Error {
    Error::SignInRequired {
        bound_to: Box::new(bound.clone()),
        message,
    }
}

/// The bound user as a sentence names them: their name when the sender gave one.
fn who(bound: &PlatformIdentity) -> String {
    match &bound.name {
        Some(name) => format!("{name} on {}", bound.provider.label()),
        None => format!("one {} user", bound.provider.label()),
    }
}

/// A display name a platform sent, fit to store and show: without control or format characters,
/// trimmed, at most [`IDENTITY_NAME_MAX`] characters; `None` if nothing is left.
fn display_name(name: &str) -> Option<String> {
    let clean: String = crate::text::strip_hidden(name)
        .trim()
        .chars()
        .take(IDENTITY_NAME_MAX)
        .collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}
