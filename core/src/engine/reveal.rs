//! What a recipient does: the status a reveal page may show, and the reveal that uses a view.

use tracing::instrument;

use super::files::FileDownload;
use super::rules::{check_proof, gone_reason, live_status};
use super::{Engine, Viewer, now};
use crate::api::{PublicStatus, RevealRequest, Revealed, StatusRequest};
use crate::audit::AuditEvent;
use crate::crypto::{self, SecretBytes, SecretKey};
use crate::error::{Error, GoneReason, Result};
use crate::model::{AccountId, SecretId};
use crate::store::ViewClaim;

impl Engine {
    /// What the reveal page may show without using a view, to a caller holding the reveal proof
    /// (DESIGN §7.1): without it, the same [`Error::NotFound`] as an unknown id. For a secret
    /// bound to a platform user, the caller must also show that user's sign-in ticket (checked,
    /// not used up), else [`Error::SignInRequired`] or [`Error::NotTheRecipient`].
    #[instrument(skip_all, fields(%id))]
    pub async fn status(
        &self,
        id: SecretId,
        req: &StatusRequest,
        viewer: &Viewer,
    ) -> Result<PublicStatus> {
        let r = self.store.secret(id).await?.ok_or(Error::NotFound)?;
        check_proof(&r, None, Some(&req.proof))?;
        let now = now();
        self.check_recipient(&r, req.ticket.as_ref(), viewer.country.as_deref(), now)
            .await?;
        Ok(PublicStatus {
            id,
            status: live_status(&r, now),
            kind: r.kind,
            passphrase_protected: r.passphrase_hash.is_some(),
            expires_at: r.expires_at,
            views_remaining: r.views_total.saturating_sub(r.views_used),
            size: r.size,
            bound_to: r.bound_to.clone(),
            ephemeral_public_key: r.ephemeral_public_key.map(|k| k.to_base64url()),
        })
    }

    /// Reveals a secret, using one view. The caller must hold the key or the reveal proof
    /// (DESIGN §7.1), checked before anything else: otherwise [`Error::NotFound`], with nothing
    /// recorded. Text comes back whole: decrypted with a key, else as the envelope for the client
    /// to open. A file comes back as a stream: decrypted with a key, else the sealed blob. A wrong
    /// key or passphrase uses no view. A secret bound to a platform user also needs that user's
    /// sign-in ticket, checked right after the proof and used up with the view; who signed in
    /// goes to the view log and the events.
    #[instrument(skip_all, fields(%id))]
    pub async fn reveal(&self, id: SecretId, req: RevealRequest, viewer: Viewer) -> Result<Reveal> {
        let country = viewer.country.clone();
        let mut owner = None;
        let result = self.reveal_counted(id, req, viewer, &mut owner).await;
        super::counters::reveal(&result);
        // Only a caller holding the proof reaches the owner's audit log: a guessed id is noise.
        if let Some(account) = owner {
            self.audit_reveal(account, id, country.as_deref(), &result);
        }
        result
    }

    fn audit_reveal(
        &self,
        account: AccountId,
        id: SecretId,
        country: Option<&str>,
        result: &Result<Reveal>,
    ) {
        let event = AuditEvent {
            country,
            ..AuditEvent::new("revealed", account, id)
        };
        let event = match result {
            Ok(r) => AuditEvent {
                views_remaining: Some(r.views_remaining()),
                ..event
            },
            Err(e) => match super::counters::denial_reason(e) {
                // Steps of the reveal's flow (the page asks for a passphrase or a sign-in), and
                // the server's own failures, are not refusals.
                "passphrase_required" | "sign_in_required" | "other" => return,
                reason => AuditEvent {
                    event: "denied",
                    reason: Some(reason),
                    ..event
                },
            },
        };
        self.audit(event);
    }

    async fn reveal_counted(
        &self,
        id: SecretId,
        req: RevealRequest,
        viewer: Viewer,
        owner: &mut Option<AccountId>,
    ) -> Result<Reveal> {
        let record = self.store.secret(id).await?.ok_or(Error::NotFound)?;
        // Before anything else (status, geo, passphrase, view, events): the id alone is nothing.
        check_proof(&record, req.key.as_ref(), req.proof.as_ref())?;
        *owner = Some(record.account_id);
        let now = now();
        // Next, for a bound secret, who is asking: a stranger learns nothing more, not even
        // whether it is still there, and uses nothing.
        let recipient = self
            .check_recipient(&record, req.ticket.as_ref(), viewer.country.as_deref(), now)
            .await?;
        if let Some(reason) = gone_reason(&record, now) {
            return Err(Error::Gone(reason));
        }
        // Geo-blocking before the passphrase: a refused country learns nothing about it, and
        // neither refusal uses a view.
        if !record.allowed_countries.is_empty() {
            let allowed = viewer
                .country
                .as_deref()
                .is_some_and(|c| record.allowed_countries.iter().any(|a| a == c));
            if !allowed {
                self.store
                    .record_access_denied(
                        id,
                        "country",
                        viewer.country.as_deref(),
                        recipient.as_ref().map(|r| &r.identity),
                        now,
                    )
                    .await?;
                self.wake.notify_one();
                return Err(Error::Forbidden {
                    code: "geo_blocked",
                    message: match &viewer.country {
                        Some(c) => format!("this secret cannot be revealed from {c}"),
                        None => "this secret cannot be revealed from an unknown country".into(),
                    },
                });
            }
        }
        if let Some(hash) = &record.passphrase_hash {
            self.check_passphrase(&record, hash, req.passphrase, now)
                .await?;
        }
        let key = req
            .key
            .as_ref()
            .map(|k| {
                k.as_str()
                    .ok_or_else(|| Error::invalid("key", "key must be base64url text"))
                    .and_then(SecretKey::from_base64url)
            })
            .transpose()?;
        // Last check before the view: the ticket opens one reveal. (A wrong passphrase or key
        // above leaves it for the next try.)
        if let Some(recipient) = &recipient {
            self.use_ticket(&record, recipient).await?;
        }
        let viewed_by = recipient.map(|r| r.identity);
        let mut record = record;
        let mut rounds = 0;
        // The text as the key check opened it: the view is claimed for that very content
        // version, so the claimed envelope is the one already opened and is not decrypted again.
        let mut opened: Option<SecretBytes>;
        let (envelope, blob, views_remaining, status) = loop {
            // Check the key before using a view: a typo must not burn the secret.
            opened = None;
            if let Some(key) = &key {
                let checked = match (&record.envelope, &record.blob_key) {
                    (Some(envelope), _) => crypto::open(key, &id, envelope).map(|plain| {
                        opened = Some(plain);
                    }),
                    (None, Some(blob)) => self.check_file_key(key, &id, blob).await,
                    (None, None) => Ok(()),
                };
                match checked {
                    // The key opened the content this reveal started with: the owner replaced
                    // it meanwhile, which is not the recipient's typo.
                    Err(Error::InvalidKey) if rounds > 0 => return Err(Error::ContentChanged),
                    other => other?,
                }
            }
            // The claim holds only for the content version just checked, so an update landing
            // between the check and the claim uses no view (issue 12, owner races).
            match self
                .store
                .claim_view(
                    id,
                    now,
                    viewer.country.as_deref(),
                    viewed_by.as_ref(),
                    record.content_version,
                )
                .await?
            {
                ViewClaim::Granted {
                    envelope,
                    blob_key,
                    views_remaining,
                    status,
                    events,
                } => {
                    if events > 0 {
                        self.wake.notify_one();
                    }
                    break (envelope, blob_key, views_remaining, status);
                }
                ViewClaim::Refused => {
                    let latest = self.store.secret(id).await?.ok_or(Error::NotFound)?;
                    if let Some(reason) = gone_reason(&latest, now) {
                        return Err(Error::Gone(reason));
                    }
                    if latest.content_version == record.content_version {
                        return Err(Error::Gone(GoneReason::Consumed));
                    }
                    // New content: check the key against it and try again, a few times at
                    // most so an owner updating in a loop cannot keep a reveal spinning.
                    rounds += 1;
                    // A proof-only reveal cannot check new content by decrypting: its proof must
                    // match the new verifier, or it would burn a view of content it cannot open.
                    if rounds > 3
                        || check_proof(&latest, req.key.as_ref(), req.proof.as_ref()).is_err()
                    {
                        return Err(Error::ContentChanged);
                    }
                    record = latest;
                }
            }
        };
        if let Some(blob) = blob {
            return self
                .open_file(id, blob, key, views_remaining, status)
                .await
                .map(Reveal::File);
        }
        let envelope = envelope.ok_or_else(|| Error::Internal("secret has no content".into()))?;
        let (content, ciphertext) = match (key, opened) {
            (Some(_), Some(plain)) => (Some(plain), None),
            // Nothing was opened before the claim (no envelope then): open what it granted.
            (Some(key), None) => (Some(crypto::open(&key, &id, &envelope)?), None),
            (None, _) => (None, Some(crypto::b64encode(&envelope))),
        };
        Ok(Reveal::Text(Revealed {
            id,
            content,
            ciphertext,
            views_remaining,
            status,
            ephemeral_public_key: record.ephemeral_public_key.map(|k| k.to_base64url()),
        }))
    }
}

/// What a reveal hands back.
#[derive(Debug)]
pub enum Reveal {
    /// A text secret.
    Text(Revealed),
    /// A file secret, as a stream.
    File(FileDownload),
}

impl Reveal {
    /// The views left after this reveal (0: it consumed the secret).
    pub fn views_remaining(&self) -> u32 {
        match self {
            Self::Text(r) => r.views_remaining,
            Self::File(f) => f.views_remaining,
        }
    }
}
