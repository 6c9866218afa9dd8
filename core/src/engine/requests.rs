//! Requests for a secret (DESIGN §7.2): the asker's create, read, list and delete, what the
//! responder page may read, and the one answer, which becomes a secret of the asker's account
//! with the request's id.

use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};
use tracing::instrument;

use super::rules::{check_cursor, check_label, check_note, check_notify, check_page_limit};
use super::{Engine, now, to_chrono};
use crate::api::{
    AnswerRequest, Answered, CreateRequest, PublicRequest, RequestDeleted, RequestInfo,
    RequestList, RequestListQuery,
};
use crate::blob::{BlobStore, UploadError};
use crate::crypto::{Verifier, WebhookSecret};
use crate::error::{Error, RequestGoneReason, Result};
use crate::filestream;
use crate::model::{Expiration, Kind, RequestStatus, SecretId, Status};
use crate::request::RequestPublicKey;
use crate::store::{AccountRecord, AnswerOutcome, RequestRecord, SecretRecord};

impl Engine {
    /// Refuses a client-chosen secret id that is a request's: a request's answer takes its id,
    /// which travels in the `/r/` link's path, so whoever learns it could otherwise take the id
    /// first and have the real answer refused. (Request ids are made by the server, so the
    /// request always exists before anyone can learn its id.)
    pub(super) async fn refuse_a_requests_id(&self, id: SecretId) -> Result<()> {
        match self.store.request(id).await? {
            Some(_) => Err(Error::IdTaken),
            None => Ok(()),
        }
    }

    /// Creates a request: the client kept d and sends Q and the verifier of the proof from d.
    pub async fn create_request(
        &self,
        account: &AccountRecord,
        req: CreateRequest,
    ) -> Result<RequestInfo> {
        self.create_request_notifying(account, req, None).await
    }

    /// [`create_request`](Self::create_request) whose answer is also announced to the in-process
    /// subscriber `notify` (a bot's chat user, as for
    /// [`create_secret_notifying`](Self::create_secret_notifying)): the answer's secret carries it,
    /// so its `seecret.request_answered` event reaches that bot like a share's "viewed" notice.
    #[instrument(skip_all, fields(account = %account.id))]
    pub async fn create_request_notifying(
        &self,
        account: &AccountRecord,
        req: CreateRequest,
        notify: Option<String>,
    ) -> Result<RequestInfo> {
        let notify = check_notify(notify)?;
        let public_key = RequestPublicKey::from_base64url("public_key", &req.public_key)?;
        let verifier = Verifier::from_base64url(&req.verifier)?;
        let expiration =
            self.check_expiration(req.expiration.unwrap_or(Expiration::REQUEST_DEFAULT))?;
        let answer_expiration = self
            .check_expiration(req.answer_expiration.unwrap_or(Expiration::DEFAULT))
            .map_err(|e| rename_field(e, "answer_expiration"))?;
        let answer_views = self
            .check_views(req.answer_views.unwrap_or(1))
            .map_err(|e| rename_field(e, "answer_views"))?;
        let created_at = now();
        let record = RequestRecord {
            id: SecretId::new(),
            account_id: account.id,
            public_key,
            verifier,
            note: check_note(req.note)?,
            label: check_label(req.label)?,
            webhook_url: self.check_webhook_url(req.webhook_url).await?,
            notify,
            allow_files: req.allow_files.unwrap_or(false),
            answer_expiration: answer_expiration.duration(),
            answer_views,
            status: RequestStatus::Open,
            created_at,
            expires_at: created_at + to_chrono(expiration.duration()),
            answered_at: None,
        };
        self.store.insert_request(&record).await?;
        let mut info = self.request_info(&record);
        if record.webhook_url.is_some() {
            let candidate = WebhookSecret::generate();
            if self
                .store
                .ensure_webhook_secret(account.id, &candidate)
                .await?
            {
                info.webhook_secret = Some(candidate);
            }
        }
        Ok(info)
    }

    /// One of the account's requests.
    #[instrument(skip_all, fields(%id))]
    pub async fn get_request(&self, account: &AccountRecord, id: SecretId) -> Result<RequestInfo> {
        let r = self.owned_request(account, id).await?;
        Ok(self.request_info(&r))
    }

    /// A page of the account's requests, newest first.
    pub async fn list_requests(
        &self,
        account: &AccountRecord,
        q: RequestListQuery,
    ) -> Result<RequestList> {
        let limit = check_page_limit(q.limit)?;
        let before = check_cursor(q.cursor.as_deref())?;
        let mut records = self
            .store
            .list_requests(account.id, before, limit + 1)
            .await?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let requests: Vec<RequestInfo> = records.iter().map(|r| self.request_info(r)).collect();
        let next_cursor = if more {
            requests.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(RequestList {
            requests,
            next_cursor,
        })
    }

    /// Deletes an open request: later answers are refused with 410 `request_deleted`. A request
    /// that ended already is left as it is (its answer, if any, is an ordinary secret to burn).
    #[instrument(skip_all, fields(%id))]
    pub async fn delete_request(
        &self,
        account: &AccountRecord,
        id: SecretId,
    ) -> Result<RequestDeleted> {
        self.owned_request(account, id).await?;
        self.store.delete_request(account.id, id, now()).await?;
        let r = self.owned_request(account, id).await?;
        Ok(RequestDeleted {
            id,
            deleted: true,
            status: r.status.live_at(r.expires_at, now()),
        })
    }

    /// What the responder page may show from the id alone: the note, Q (which the page checks
    /// against its fragment), the status, the expiry and whether files are accepted.
    #[instrument(skip_all, fields(%id))]
    pub async fn public_request(&self, id: SecretId) -> Result<PublicRequest> {
        let r = self.store.request(id).await?.ok_or(Error::NotFound)?;
        Ok(PublicRequest {
            id,
            note: r.note.clone(),
            public_key: r.public_key.to_base64url(),
            status: r.status.live_at(r.expires_at, now()),
            expires_at: r.expires_at,
            allow_files: r.allow_files,
        })
    }

    /// Stores the one answer to an open request: a v1 envelope the responder sealed under the
    /// derived key for the request's id, and its ephemeral public key. A second answer is
    /// [`Error::AlreadyAnswered`]; an expired or deleted request [`Error::RequestGone`].
    #[instrument(skip_all, fields(%id))]
    pub async fn answer_request(&self, id: SecretId, req: AnswerRequest) -> Result<Answered> {
        let request = self.answerable(id).await?;
        let ephemeral =
            RequestPublicKey::from_base64url("ephemeral_public_key", &req.ephemeral_public_key)?;
        let envelope = self.check_envelope(&req.ciphertext)?;
        let answer = answer_record(&request, Kind::Text, Some(envelope), None, ephemeral);
        self.store_answer(&request, &answer).await
    }

    /// Stores the one answer to an open request that accepts files: a file stream the responder
    /// sealed under the derived key for the request's id (`docs/format.md`), streamed into the
    /// blob store. Nothing is recorded unless the whole stream arrives within the size limit.
    #[instrument(skip_all, fields(%id))]
    pub async fn answer_request_file<S>(
        &self,
        id: SecretId,
        ephemeral_public_key: &str,
        size: Option<u64>,
        stream: S,
    ) -> Result<Answered>
    where
        S: Stream<Item = Result<Bytes, String>> + Send,
    {
        let request = self.answerable(id).await?;
        if !request.allow_files {
            return Err(Error::Forbidden {
                code: "files_not_allowed",
                message: "this request accepts text only: its owner did not allow files".into(),
            });
        }
        let ephemeral =
            RequestPublicKey::from_base64url("ephemeral_public_key", ephemeral_public_key)?;
        let blobs = self.blobs()?;
        let max_file = self.cfg.max_file_bytes;
        let blob_key = BlobStore::new_key();
        let stored = blobs
            .put(
                &blob_key,
                stream.map(|r| r.map_err(UploadError::Source)),
                filestream::max_sealed_len(max_file),
            )
            .await;
        let blob_len = match stored {
            Ok(n) => n,
            Err(UploadError::TooLarge) => {
                return Err(Error::TooLarge {
                    message: format!(
                        "the file is larger than this server's limit of {max_file} bytes"
                    ),
                });
            }
            Err(UploadError::Source(e)) => {
                return Err(Error::invalid(
                    "file",
                    format!("the upload did not complete: {e}"),
                ));
            }
            Err(UploadError::Store(e)) => return Err(Error::Storage(format!("blob store: {e}"))),
        };
        if filestream::payload_len(blob_len).is_none() {
            self.discard_upload(&blob_key).await;
            return Err(Error::invalid(
                "file",
                "the upload is not a Seecret file stream",
            ));
        }
        let answer = answer_record(
            &request,
            Kind::File,
            None,
            Some((blob_key.clone(), size)),
            ephemeral,
        );
        let out = self.store_answer(&request, &answer).await;
        if out.is_err() {
            // The row did not go in: the blob is nobody's.
            self.discard_upload(&blob_key).await;
        }
        out
    }

    /// The request behind an answer, refused as the answer would be if it is not open.
    pub(super) async fn answerable(&self, id: SecretId) -> Result<RequestRecord> {
        let r = self.store.request(id).await?.ok_or(Error::NotFound)?;
        check_open(r.status.live_at(r.expires_at, now()))?;
        Ok(r)
    }

    /// Stores a checked answer, atomically with the request's move to `answered`.
    pub(super) async fn store_answer(
        &self,
        request: &RequestRecord,
        answer: &SecretRecord,
    ) -> Result<Answered> {
        match self.store.answer_request(answer, now()).await? {
            AnswerOutcome::Accepted { events } => {
                if events > 0 {
                    self.wake.notify_one();
                }
                Ok(Answered {
                    id: request.id,
                    request_id: request.id,
                    status: RequestStatus::Answered,
                })
            }
            // Still `open` in the row: it expired between the read and the update.
            AnswerOutcome::NotOpen(RequestStatus::Open) => {
                Err(Error::RequestGone(RequestGoneReason::Expired))
            }
            AnswerOutcome::NotOpen(s) => {
                check_open(s)?;
                Err(Error::AlreadyAnswered)
            }
            AnswerOutcome::Unknown => Err(Error::NotFound),
        }
    }

    async fn owned_request(&self, account: &AccountRecord, id: SecretId) -> Result<RequestRecord> {
        match self.store.request(id).await? {
            // Someone else's request is as unknown as a missing one.
            Some(r) if r.account_id == account.id => Ok(r),
            _ => Err(Error::NotFound),
        }
    }

    fn request_info(&self, r: &RequestRecord) -> RequestInfo {
        let status = r.status.live_at(r.expires_at, Utc::now());
        RequestInfo {
            id: r.id,
            request_url: format!(
                "{}/r/{}#{}",
                self.cfg.public_url.trim_end_matches('/'),
                r.id,
                r.public_key.to_base64url()
            ),
            status,
            public_key: r.public_key.to_base64url(),
            note: r.note.clone(),
            label: r.label.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            answer_expiration: Expiration::from_duration(r.answer_expiration),
            answer_views: r.answer_views,
            allow_files: r.allow_files,
            webhook_url: r.webhook_url.clone(),
            answered_at: r.answered_at,
            answer_id: (status == RequestStatus::Answered).then_some(r.id),
            webhook_secret: None,
        }
    }
}

/// The refusal for a request that is not open.
fn check_open(status: RequestStatus) -> Result<()> {
    match status {
        RequestStatus::Open => Ok(()),
        RequestStatus::Answered => Err(Error::AlreadyAnswered),
        RequestStatus::Expired => Err(Error::RequestGone(RequestGoneReason::Expired)),
        RequestStatus::Deleted => Err(Error::RequestGone(RequestGoneReason::Deleted)),
    }
}

/// The answer's secret: the request's id, owner, answer expiry, views, webhook and verifier.
pub(super) fn answer_record(
    request: &RequestRecord,
    kind: Kind,
    envelope: Option<Vec<u8>>,
    blob: Option<(String, Option<u64>)>,
    ephemeral: RequestPublicKey,
) -> SecretRecord {
    let created_at = now();
    let (blob_key, size) = blob.map_or((None, None), |(k, s)| (Some(k), s));
    SecretRecord {
        id: request.id,
        account_id: request.account_id,
        kind,
        envelope,
        blob_key,
        size,
        file_name: None,
        label: request.label.clone(),
        passphrase_hash: None,
        allowed_countries: Vec::new(),
        webhook_url: request.webhook_url.clone(),
        notify: request.notify.clone(),
        views_total: request.answer_views,
        views_used: 0,
        status: Status::Active,
        created_at,
        expires_at: created_at + to_chrono(request.answer_expiration),
        last_viewed_at: None,
        pp_fail_count: 0,
        pp_fail_window: chrono::DateTime::<Utc>::UNIX_EPOCH,
        verifier: Some(request.verifier.clone()),
        content_version: 0,
        bound_to: None,
        ephemeral_public_key: Some(ephemeral),
    }
}

/// An error about `expiration`/`views` reported under the request's own field name.
fn rename_field(e: Error, field: &'static str) -> Error {
    match e {
        Error::InvalidInput { message, .. } => Error::InvalidInput {
            field: Some(field),
            message: message
                .replacen("expiration", field, 1)
                .replacen("views", field, 1),
        },
        other => other,
    }
}
