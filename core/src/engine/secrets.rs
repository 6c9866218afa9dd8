//! Text secrets and what every secret has: create, read, list, update, delete.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::rules::{
    check_cursor, check_label, check_name, check_notify, check_page_limit, check_views_above_used,
    client_verifier_of, gone_reason, verifier_with_plaintext, with_live_status,
};
use super::{Engine, now, to_chrono};
use crate::api::{CreateSecret, Deleted, ListQuery, SecretInfo, SecretList, UpdateSecret};
use crate::audit::AuditEvent;
use crate::crypto::{self, RevealProof, SecretKey, WebhookSecret};
use crate::error::{Error, Result};
use crate::model::{Expiration, Kind, PlatformIdentity, SecretId, Status};
use crate::store::{AccountRecord, SecretPatch, SecretRecord};

impl Engine {
    /// Creates a secret. With plaintext `content` the server seals it under a fresh key, puts the
    /// key in the returned `url` and forgets it; with `ciphertext` the client kept the key.
    pub async fn create_secret(
        &self,
        account: &AccountRecord,
        req: CreateSecret,
    ) -> Result<SecretInfo> {
        self.create_secret_notifying(account, req, None).await
    }

    /// [`create_secret`](Self::create_secret) for an in-process client (an embedded chat bot)
    /// that wants this secret's events: they reach the [`EventSink`](crate::webhook::EventSink)
    /// registered under `notify`'s prefix (`slack:T1:U2` goes to the `slack` sink), through the
    /// same outbox as webhooks, so they survive restarts and reach the bot whichever instance
    /// served the reveal.
    #[instrument(skip_all, fields(account = %account.id))]
    pub async fn create_secret_notifying(
        &self,
        account: &AccountRecord,
        mut req: CreateSecret,
        notify: Option<String>,
    ) -> Result<SecretInfo> {
        // Only files keep a clear-text name, but a text create naming one still gets it checked:
        // a refused name is refused whatever the kind.
        check_name("file_name", req.file_name.take())?;
        let mut draft = self.draft(&mut req).await?;
        draft.notify = check_notify(notify)?;
        let client_verifier = req.verifier.take();
        let (id, envelope, key, verifier) = match (req.content, req.ciphertext, req.id) {
            (Some(_), None, None) if client_verifier.is_some() => {
                return Err(verifier_with_plaintext());
            }
            (Some(content), None, None) => {
                self.check_text_size(content.len())?;
                let id = SecretId::new();
                let key = SecretKey::generate();
                let envelope = crypto::seal(&key, &id, content.expose())?;
                let verifier = RevealProof::of_key(&key).verifier();
                (id, envelope, Some(key), verifier)
            }
            (None, Some(ct), Some(id)) => {
                let id = SecretId::parse_client_chosen(&id.to_string())?;
                self.refuse_a_requests_id(id).await?;
                let verifier = client_verifier_of(client_verifier)?;
                (id, self.check_envelope(&ct)?, None, verifier)
            }
            (None, Some(_), None) => {
                return Err(Error::invalid(
                    "id",
                    "id is required with ciphertext: the envelope is sealed for that id",
                ));
            }
            (Some(_), Some(_), _) => {
                return Err(Error::invalid(
                    "content",
                    "give either content or ciphertext, not both",
                ));
            }
            (Some(_), None, Some(_)) => {
                return Err(Error::invalid(
                    "id",
                    "id may only be chosen with client-side ciphertext",
                ));
            }
            (None, None, _) => {
                return Err(Error::invalid("content", "content is required"));
            }
        };
        let mut record = draft.record(id, account, Kind::Text, Some(envelope), None, None);
        record.verifier = Some(verifier);
        self.store.insert_secret(&record).await?;
        self.created(account, &record, key.as_ref()).await
    }

    /// A secret's metadata and view log; never its content.
    #[instrument(skip_all, fields(%id))]
    pub async fn get_secret(&self, account: &AccountRecord, id: SecretId) -> Result<SecretInfo> {
        let record = self.owned(account, id).await?;
        let mut info = info_of(&record);
        info.view_log = Some(self.store.views(id).await?);
        info.webhook_deliveries = Some(self.store.deliveries(id).await?);
        Ok(info)
    }

    /// A page of the account's secrets, newest first.
    pub async fn list_secrets(&self, account: &AccountRecord, q: ListQuery) -> Result<SecretList> {
        let limit = check_page_limit(q.limit)?;
        let before = check_cursor(q.cursor.as_deref())?;
        let mut records = self
            .store
            .list_secrets(account.id, q.status, before, limit + 1)
            .await?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let now = now();
        let seecrets: Vec<SecretInfo> = records
            .iter()
            .map(|r| with_live_status(info_of(r), now))
            .collect();
        let next_cursor = if more {
            seecrets.last().map(|s| s.id.to_string())
        } else {
            None
        };
        Ok(SecretList {
            seecrets,
            next_cursor,
        })
    }

    /// Up to `limit` (1–100) of the account's secrets created for the in-process subscriber
    /// `notify` (see [`create_secret_notifying`](Self::create_secret_notifying)), newest first,
    /// each with its live status: a chat user's "recent shares", and only theirs.
    pub async fn secrets_notifying(
        &self,
        account: &AccountRecord,
        notify: &str,
        limit: u32,
    ) -> Result<Vec<SecretInfo>> {
        let limit = check_page_limit(Some(limit))?;
        let now = now();
        Ok(self
            .store
            .secrets_notifying(account.id, notify, limit)
            .await?
            .iter()
            .map(|r| with_live_status(info_of(r), now))
            .collect())
    }

    /// Changes an active secret. New content means a new key, answered in `url`.
    #[instrument(skip_all, fields(%id))]
    pub async fn update_secret(
        &self,
        account: &AccountRecord,
        id: SecretId,
        req: UpdateSecret,
    ) -> Result<SecretInfo> {
        let current = self.owned(account, id).await?;
        let now = now();
        if let Some(reason) = gone_reason(&current, now) {
            return Err(Error::Gone(reason));
        }
        let mut patch = SecretPatch::default();
        if let Some(e) = req.expiration {
            patch.expires_at = Some(now + to_chrono(self.check_expiration(e)?.duration()));
        }
        if let Some(v) = req.views {
            patch.views_total = Some(check_views_above_used(
                self.check_views(v)?,
                current.views_used,
            )?);
        }
        if let Some(p) = req.passphrase {
            patch.passphrase_hash = Some(if p.is_empty() {
                None
            } else {
                Some(self.hash_passphrase(p).await?)
            });
        }
        if let Some(l) = req.label {
            patch.label = Some(check_label(Some(l))?);
        }
        if let Some(c) = req.allowed_countries {
            patch.allowed_countries = Some(self.check_countries(c)?);
        }
        let mut new_webhook = false;
        if let Some(w) = req.webhook_url {
            let url = self.check_webhook_url(Some(w)).await?;
            new_webhook = url.is_some();
            patch.webhook_url = Some(url);
        }
        let key = match (req.content, req.ciphertext) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "content",
                    "give either content or ciphertext, not both",
                ));
            }
            (Some(_), None) if req.verifier.is_some() => return Err(verifier_with_plaintext()),
            (Some(content), None) => {
                if content.is_empty() {
                    return Err(Error::invalid("content", "content must not be empty"));
                }
                self.check_text_size(content.len())?;
                let key = SecretKey::generate();
                patch.envelope = Some(crypto::seal(&key, &id, content.expose())?);
                patch.verifier = Some(RevealProof::of_key(&key).verifier());
                Some(key)
            }
            (None, Some(ct)) => {
                patch.envelope = Some(self.check_envelope(&ct)?);
                patch.verifier = Some(client_verifier_of(req.verifier)?);
                None
            }
            (None, None) if req.verifier.is_some() => {
                return Err(Error::invalid(
                    "verifier",
                    "verifier goes with new ciphertext: there is no new content to verify",
                ));
            }
            (None, None) => None,
        };
        if !self
            .store
            .update_secret(account.id, id, &patch, now)
            .await?
        {
            // Lost a race with a reveal, an expiry or a delete: report what happened.
            let latest = self.owned(account, id).await?;
            return Err(match gone_reason(&latest, now) {
                Some(reason) => Error::Gone(reason),
                None => Error::invalid("views", "views must be more than the views already used"),
            });
        }
        let mut info = info_of(&self.owned(account, id).await?);
        if let Some(key) = key {
            info.url = Some(self.url(&id, Some(&key)));
        }
        if new_webhook {
            info.webhook_secret = self.ensure_webhook_secret(account).await?;
        }
        Ok(info)
    }

    /// Deletes a secret: its content is erased now. Deleting a secret that already ended is a
    /// no-op that still answers `deleted: true`, so clean-up scripts can be idempotent.
    #[instrument(skip_all, fields(%id))]
    pub async fn delete_secret(&self, account: &AccountRecord, id: SecretId) -> Result<Deleted> {
        self.owned(account, id).await?;
        let status = if let Some(blob) = self.store.delete_secret(account.id, id, now()).await? {
            super::counters::deleted();
            self.audit(AuditEvent::new("deleted", account.id, id));
            self.wake.notify_one();
            if let Some(blob) = blob {
                self.drop_blob(id, &blob).await;
            }
            Status::Deleted
        } else {
            self.owned(account, id).await?.status
        };
        Ok(Deleted {
            id,
            deleted: true,
            status,
        })
    }

    /// Checks the settings every new secret has, text or file; takes them out of `req`.
    pub(super) async fn draft(&self, req: &mut CreateSecret) -> Result<Draft> {
        let created_at = now();
        let expiration = self.check_expiration(req.expiration.unwrap_or(Expiration::DEFAULT))?;
        Ok(Draft {
            created_at,
            expires_at: created_at + to_chrono(expiration.duration()),
            views: self.check_views(req.views.unwrap_or(1))?,
            allowed_countries: self
                .check_countries(req.allowed_countries.take().unwrap_or_default())?,
            label: check_label(req.label.take())?,
            webhook_url: self.check_webhook_url(req.webhook_url.take()).await?,
            passphrase_hash: match req.passphrase.take() {
                Some(p) if !p.is_empty() => Some(self.hash_passphrase(p).await?),
                _ => None,
            },
            notify: None,
            bound_to: self.check_bound_to(req.bound_to.take())?,
        })
    }

    /// The answer to a create: the metadata, the link, and the webhook secret if this secret's
    /// URL created it.
    pub(super) async fn created(
        &self,
        account: &AccountRecord,
        record: &SecretRecord,
        key: Option<&SecretKey>,
    ) -> Result<SecretInfo> {
        super::counters::created(match record.kind {
            Kind::File => "file",
            _ => "text",
        });
        self.audit(AuditEvent {
            kind: Some(record.kind),
            views: Some(record.views_total),
            expires_at: Some(record.expires_at),
            ..AuditEvent::new("created", record.account_id, record.id)
        });
        let mut info = info_of(record);
        info.url = Some(self.url(&record.id, key));
        if record.webhook_url.is_some() {
            info.webhook_secret = self.ensure_webhook_secret(account).await?;
        }
        Ok(info)
    }

    /// Creates the account's signing secret if it has none; `Some` only when created now.
    async fn ensure_webhook_secret(
        &self,
        account: &AccountRecord,
    ) -> Result<Option<WebhookSecret>> {
        let candidate = WebhookSecret::generate();
        Ok(self
            .store
            .ensure_webhook_secret(account.id, &candidate)
            .await?
            .then_some(candidate))
    }
}

fn info_of(r: &SecretRecord) -> SecretInfo {
    SecretInfo {
        id: r.id,
        url: None,
        kind: r.kind,
        status: r.status,
        views: r.views_total,
        views_remaining: r.views_total.saturating_sub(r.views_used),
        created_at: r.created_at,
        expires_at: r.expires_at,
        last_viewed_at: r.last_viewed_at,
        label: r.label.clone(),
        passphrase_protected: r.passphrase_hash.is_some(),
        allowed_countries: r.allowed_countries.clone(),
        webhook_url: r.webhook_url.clone(),
        view_log: None,
        webhook_deliveries: None,
        webhook_secret: None,
        size: r.size,
        file_name: r.file_name.clone(),
        bound_to: r.bound_to.clone(),
    }
}

/// The checked settings of a secret about to be created.
pub(super) struct Draft {
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    views: u32,
    allowed_countries: Vec<String>,
    label: Option<String>,
    webhook_url: Option<String>,
    passphrase_hash: Option<String>,
    notify: Option<String>,
    bound_to: Option<PlatformIdentity>,
}

impl Draft {
    pub(super) fn record(
        self,
        id: SecretId,
        account: &AccountRecord,
        kind: Kind,
        envelope: Option<Vec<u8>>,
        blob: Option<(String, Option<u64>)>,
        file_name: Option<String>,
    ) -> SecretRecord {
        let (blob_key, size) = blob.map_or((None, None), |(k, s)| (Some(k), s));
        SecretRecord {
            id,
            account_id: account.id,
            kind,
            envelope,
            blob_key,
            size,
            file_name,
            label: self.label,
            passphrase_hash: self.passphrase_hash,
            allowed_countries: self.allowed_countries,
            webhook_url: self.webhook_url,
            notify: self.notify,
            views_total: self.views,
            views_used: 0,
            status: Status::Active,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_viewed_at: None,
            pp_fail_count: 0,
            pp_fail_window: DateTime::<Utc>::UNIX_EPOCH,
            verifier: None,
            content_version: 0,
            bound_to: self.bound_to,
            ephemeral_public_key: None,
        }
    }
}
