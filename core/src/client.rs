//! The typed HTTP client of the `/v1` API: the one the CLI, the bots and the desktop app use.
//! Sharing through it encrypts locally, so the server only ever sees ciphertext.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::api::SecretInfo;
use crate::api::{
    AccountInfo, AnswerRequest, Answered, CreateRequest, CreateSecret, Deleted, ErrorBody,
    ListQuery, PublicRequest, PublicStatus, RequestDeleted, RequestInfo, RequestList,
    RevealRequest, Revealed, SecretList, StatusRequest, UpdateSecret,
};
use crate::crypto::{self, RevealProof, SecretBytes, SecretKey};
use crate::filestream::{self, Decryptor, Encryptor, FileMeta};
use crate::link::{AnswerLink, Link};
use crate::model::{Expiration, PlatformIdentity, SecretId};
use crate::request::{RequestPrivateKey, RequestPublicKey};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: what it means is in `code` (and `field`), not in the
    /// status.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code (see the API docs), e.g. `invalid_request`, `rate_limited`.
        code: String,
        /// The server's explanation.
        message: String,
        /// The offending field, for `invalid_request`.
        field: Option<String>,
        /// How long to wait before asking again (`Retry-After`), on 429 and 503.
        retry_after: Option<Duration>,
    },
    /// The server could not be reached or the answer was not understood.
    #[error("cannot reach the Seecret server: {0}")]
    Transport(String),
    /// A local check or decryption failed.
    #[error(transparent)]
    Local(#[from] crate::Error),
}

impl ClientError {
    /// The API error code, if the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The field the server found wrong, if it named one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        Self::Transport(e.to_string())
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        // Strip the URL: harmless (no key is ever in it) but noisy. Keep the causes: "error
        // sending request" alone does not tell a refused connection from a TLS failure.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        Self::Transport(msg)
    }
}

/// Options for sharing.
#[derive(Clone, Debug, Default)]
pub struct ShareOptions {
    /// Lifetime (server default when `None`).
    pub expiration: Option<Expiration>,
    /// Views allowed (server default when `None`).
    pub views: Option<u32>,
    /// Passphrase the recipient must give.
    pub passphrase: Option<SecretBytes>,
    /// Owner's note.
    pub label: Option<String>,
    /// Webhook for this secret's events (the account's otherwise).
    pub webhook_url: Option<String>,
}

/// A secret shared through the client: its metadata and the full link, key included.
#[derive(Debug)]
pub struct Shared {
    /// Metadata as the server stored it.
    pub info: SecretInfo,
    /// The link to hand over (`{server}/s/{id}#{key}`); treat it as the secret itself.
    pub link: Zeroizing<String>,
}

/// A client of one Seecret server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// A client of the server at `base` (e.g. `https://secrets.example.com`), with an API token
    /// for owner operations (reveal needs none).
    pub fn new(base: &str, token: Option<&str>) -> Result<Self, ClientError> {
        crate::init_crypto();
        let parsed = url::Url::parse(base.trim())
            .map_err(|e| ClientError::Transport(format!("invalid server URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::Transport(format!(
                "server URL must be http(s): {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("seecret-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base: base.trim().trim_end_matches('/').to_string(),
            token: token.map(|t| Zeroizing::new(t.trim().to_string())),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.as_str());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(api_error(resp).await);
        }
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Transport(format!("unexpected answer from the server: {e}")))
    }

    /// Creates a secret as given (plaintext `content` is encrypted by the server).
    pub async fn create(&self, req: &CreateSecret) -> Result<SecretInfo, ClientError> {
        self.call(Method::POST, "/v1/secrets", Some(req)).await
    }

    /// Encrypts `plaintext` here and shares it; the server never sees the plaintext or key.
    pub async fn share(&self, plaintext: &[u8], opts: ShareOptions) -> Result<Shared, ClientError> {
        self.share_to(plaintext, opts, None).await
    }

    /// [`share`](Self::share), bound to one platform user when `bound_to` is set: only they may
    /// open the link, after signing in with that platform on the reveal page.
    pub async fn share_to(
        &self,
        plaintext: &[u8],
        opts: ShareOptions,
        bound_to: Option<PlatformIdentity>,
    ) -> Result<Shared, ClientError> {
        let id = SecretId::new();
        let key = SecretKey::generate();
        let envelope = crypto::seal(&key, &id, plaintext)?;
        let req = CreateSecret {
            ciphertext: Some(crypto::b64encode(&envelope)),
            id: Some(id),
            verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
            expiration: opts.expiration,
            views: opts.views,
            passphrase: opts.passphrase,
            label: opts.label,
            webhook_url: opts.webhook_url,
            bound_to,
            ..CreateSecret::default()
        };
        let info = self.create(&req).await?;
        let link = Zeroizing::new(Link::format(&self.base, &id, &key));
        Ok(Shared { info, link })
    }

    /// A secret's metadata and view log.
    pub async fn get(&self, id: SecretId) -> Result<SecretInfo, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/secrets/{id}"), None)
            .await
    }

    /// A page of the account's secrets.
    pub async fn list(&self, q: &ListQuery) -> Result<SecretList, ClientError> {
        let mut path = "/v1/secrets?".to_string();
        if let Some(s) = q.status {
            path.push_str(&format!("status={}&", s.as_str()));
        }
        if let Some(l) = q.limit {
            path.push_str(&format!("limit={l}&"));
        }
        if let Some(c) = &q.cursor {
            path.push_str(&format!(
                "cursor={}&",
                url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            ));
        }
        self.call::<(), _>(Method::GET, path.trim_end_matches(['&', '?']), None)
            .await
    }

    /// Changes a secret.
    pub async fn update(
        &self,
        id: SecretId,
        req: &UpdateSecret,
    ) -> Result<SecretInfo, ClientError> {
        self.call(Method::PATCH, &format!("/v1/secrets/{id}"), Some(req))
            .await
    }

    /// Deletes a secret now.
    pub async fn delete(&self, id: SecretId) -> Result<Deleted, ClientError> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/secrets/{id}"), None)
            .await
    }

    /// The account behind the token.
    pub async fn account(&self) -> Result<AccountInfo, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/account", None).await
    }

    /// Uses one view and returns the ciphertext. Only the reveal proof derived from `key` is
    /// sent, never the key.
    pub async fn reveal_ciphertext(
        &self,
        id: SecretId,
        key: &SecretKey,
        passphrase: Option<SecretBytes>,
    ) -> Result<Revealed, ClientError> {
        let req = RevealRequest {
            key: None,
            proof: Some(proof_of(key)),
            passphrase,
            ticket: None,
        };
        self.call(
            Method::POST,
            &format!("/v1/secrets/{id}/reveal"),
            Some(&req),
        )
        .await
    }

    /// What a link's secret looks like now (status, kind, passphrase, views left), using no
    /// view: proves the key with the reveal proof, never sends it.
    pub async fn status_link(link: &Link) -> Result<PublicStatus, ClientError> {
        let client = Self::new(&link.base, None)?;
        client
            .call(
                Method::POST,
                &format!("/v1/secrets/{}/status", link.id),
                Some(&StatusRequest {
                    proof: proof_of(&link.key),
                    ticket: None,
                }),
            )
            .await
    }

    /// Reveals a link: uses one view, decrypts here with the key from the fragment.
    pub async fn reveal_link(
        link: &Link,
        passphrase: Option<SecretBytes>,
    ) -> Result<SecretBytes, ClientError> {
        let client = Self::new(&link.base, None)?;
        let revealed = client
            .reveal_ciphertext(link.id, &link.key, passphrase)
            .await?;
        let ct = revealed
            .ciphertext
            .ok_or_else(|| ClientError::Transport("the server sent no ciphertext".into()))?;
        let envelope = crypto::b64decode("ciphertext", &ct)?;
        Ok(crypto::open(&link.key, &link.id, &envelope)?)
    }
}

/// What a reveal produced.
#[derive(Debug)]
pub enum RevealedContent {
    /// A text secret.
    Text(SecretBytes),
    /// A file secret, written to the sink; its metadata and the bytes written.
    File(FileMeta, u64),
}

/// Progress callback: bytes done, bytes expected (0 when unknown).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

impl Client {
    /// Shares a file: seals it here chunk by chunk while uploading, so neither side ever holds
    /// it whole and the server never sees its bytes, name or type.
    pub async fn share_file<R>(
        &self,
        reader: R,
        meta: FileMeta,
        opts: ShareOptions,
        progress: Option<std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>>,
    ) -> Result<Shared, ClientError>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let size = meta
            .size
            .ok_or_else(|| ClientError::Transport("the file size is needed to upload".into()))?;
        let id = SecretId::new();
        let key = SecretKey::generate();
        let sealed_len = filestream::sealed_len(&meta, size);
        let enc = Encryptor::new(&key, &id, &meta)?;
        let stream = futures::stream::unfold(
            (Some(enc), 0u64, reader),
            move |(mut enc, mut done, mut reader)| {
                let progress = progress.clone();
                async move {
                    let e = enc.as_mut()?;
                    let mut buf = vec![0u8; filestream::CHUNK_SIZE];
                    let mut out = Vec::new();
                    let n = match reader.read(&mut buf).await {
                        Ok(n) => n,
                        Err(err) => return Some((Err(err), (None, done, reader))),
                    };
                    if n == 0 {
                        let last = enc.take()?;
                        return Some((
                            last.finish(&mut out)
                                .map(|()| out)
                                .map_err(std::io::Error::other),
                            (None, done, reader),
                        ));
                    }
                    done += n as u64;
                    if let Some(p) = &progress {
                        p(done, size);
                    }
                    let r = e
                        .update(&buf[..n], &mut out)
                        .map(|()| out)
                        .map_err(std::io::Error::other);
                    Some((r, (enc, done, reader)))
                }
            },
        )
        .map(|r| r.map(bytes::Bytes::from));
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::wrap_stream(stream),
            sealed_len,
        )
        .file_name("sealed")
        .mime_str("application/octet-stream")?;
        let mut form = reqwest::multipart::Form::new()
            .text("id", id.to_string())
            .text(
                "verifier",
                RevealProof::of_key(&key).verifier().to_base64url(),
            )
            .text("size", size.to_string());
        if let Some(e) = opts.expiration {
            form = form.text("expiration", e.to_string());
        }
        if let Some(v) = opts.views {
            form = form.text("views", v.to_string());
        }
        if let Some(p) = &opts.passphrase {
            let p = p
                .as_str()
                .ok_or_else(|| ClientError::Transport("the passphrase must be UTF-8".into()))?;
            form = form.text("passphrase", p.to_string());
        }
        if let Some(l) = opts.label {
            form = form.text("label", l);
        }
        if let Some(w) = opts.webhook_url {
            form = form.text("webhook_url", w);
        }
        form = form.part("ciphertext", part);
        let mut req = self
            .http
            .post(format!("{}/v1/secrets", self.base))
            .multipart(form);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.as_str());
        }
        let resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(api_error(resp).await);
        }
        let bytes = resp.bytes().await?;
        let info: SecretInfo = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Transport(format!("unexpected answer from the server: {e}"))
        })?;
        Ok(Shared {
            info,
            link: Zeroizing::new(Link::format(&self.base, &id, &key)),
        })
    }

    /// Reveals a link, text or file, using one view and decrypting here. A file is streamed into
    /// the sink `open_sink` returns once its name and type are known; it fails loudly, never
    /// silently truncated, if the blob was tampered with or cut.
    pub async fn reveal_link_to<F, Fut, W>(
        link: &Link,
        passphrase: Option<SecretBytes>,
        open_sink: F,
        progress: Option<Progress<'_>>,
    ) -> Result<RevealedContent, ClientError>
    where
        F: FnOnce(&FileMeta) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<W>>,
        W: AsyncWrite + Unpin,
    {
        Self::reveal_to(
            &link.base,
            link.id,
            &link.key,
            proof_of(&link.key),
            passphrase,
            open_sink,
            progress,
        )
        .await
    }

    /// Opens the answer to a request (DESIGN §7.2) with the asker's private key d: asks the
    /// answer's status with the proof from d for the responder's ephemeral key E, derives the
    /// content key from d and E, then reveals (one view) and decrypts here, text or file, as
    /// [`reveal_link_to`](Self::reveal_link_to) does.
    pub async fn reveal_answer_to<F, Fut, W>(
        link: &AnswerLink,
        open_sink: F,
        progress: Option<Progress<'_>>,
    ) -> Result<RevealedContent, ClientError>
    where
        F: FnOnce(&FileMeta) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<W>>,
        W: AsyncWrite + Unpin,
    {
        let client = Self::new(&link.base, None)?;
        let proof = SecretBytes::new(link.key.proof().to_base64url().as_bytes().to_vec());
        let status: PublicStatus = client
            .call(
                Method::POST,
                &format!("/v1/secrets/{}/status", link.id),
                Some(&StatusRequest {
                    proof: proof.clone(),
                    ticket: None,
                }),
            )
            .await?;
        let e = status.ephemeral_public_key.ok_or_else(|| {
            ClientError::Transport("this secret is not the answer to a request".into())
        })?;
        let e = RequestPublicKey::from_base64url("ephemeral_public_key", &e)?;
        let key = link.key.answer_key(&link.id, &e)?;
        Self::reveal_to(&link.base, link.id, &key, proof, None, open_sink, progress).await
    }

    /// What a request's responder page reads (no token): note, public key, status.
    pub async fn public_request(&self, id: SecretId) -> Result<PublicRequest, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/requests/{id}/public"), None)
            .await
    }

    /// Answers a request with text, sealed here to the request's public key (no token). The
    /// caller checks `public_key` against the one in the request link.
    pub async fn answer_request_text(
        &self,
        id: SecretId,
        public_key: &RequestPublicKey,
        plaintext: &[u8],
    ) -> Result<Answered, ClientError> {
        let (key, e) = crate::request::answer_key_for(&id, public_key)?;
        let envelope = crypto::seal(&key, &id, plaintext)?;
        self.call(
            Method::POST,
            &format!("/v1/requests/{id}/answer"),
            Some(&AnswerRequest {
                ciphertext: crypto::b64encode(&envelope),
                ephemeral_public_key: e.to_base64url(),
            }),
        )
        .await
    }

    /// Creates a request for a secret with a fresh key pair; returns the request and d, which
    /// the caller keeps (it is never sent).
    pub async fn request_secret(
        &self,
        mut req: CreateRequest,
    ) -> Result<(RequestInfo, RequestPrivateKey), ClientError> {
        let d = RequestPrivateKey::generate();
        req.public_key = d.public_key().to_base64url();
        req.verifier = d.verifier().to_base64url();
        let info = self.call(Method::POST, "/v1/requests", Some(&req)).await?;
        Ok((info, d))
    }

    /// One of the account's requests.
    pub async fn get_request(&self, id: SecretId) -> Result<RequestInfo, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/requests/{id}"), None)
            .await
    }

    /// Deletes a request: later answers are refused.
    pub async fn delete_request(&self, id: SecretId) -> Result<RequestDeleted, ClientError> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/requests/{id}"), None)
            .await
    }

    /// A page of the account's requests.
    pub async fn list_requests(&self, limit: Option<u32>) -> Result<RequestList, ClientError> {
        let path = match limit {
            Some(l) => format!("/v1/requests?limit={l}"),
            None => "/v1/requests".into(),
        };
        self.call::<(), _>(Method::GET, &path, None).await
    }

    /// Reveals secret `id` of the server at `base` with `proof` and decrypts it with `key`.
    async fn reveal_to<F, Fut, W>(
        base: &str,
        id: SecretId,
        key: &SecretKey,
        proof: SecretBytes,
        passphrase: Option<SecretBytes>,
        open_sink: F,
        progress: Option<Progress<'_>>,
    ) -> Result<RevealedContent, ClientError>
    where
        F: FnOnce(&FileMeta) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<W>>,
        W: AsyncWrite + Unpin,
    {
        let client = Self::new(base, None)?;
        let resp = client
            .http
            .post(format!("{}/v1/secrets/{}/reveal", client.base, id))
            .header("accept", "application/octet-stream, application/json")
            .json(&RevealRequest {
                key: None,
                proof: Some(proof),
                passphrase,
                ticket: None,
            })
            .send()
            .await?;
        let status = resp.status();
        let is_file = resp
            .headers()
            .get("x-seecret-kind")
            .is_some_and(|v| v.as_bytes() == b"file");
        if !status.is_success() {
            return Err(api_error(resp).await);
        }
        if !is_file {
            let revealed: Revealed = resp.json().await?;
            let ct = revealed
                .ciphertext
                .ok_or_else(|| ClientError::Transport("the server sent no ciphertext".into()))?;
            let envelope = crypto::b64decode("ciphertext", &ct)?;
            return Ok(RevealedContent::Text(crypto::open(key, &id, &envelope)?));
        }
        let total = resp.content_length().unwrap_or(0);
        let mut body = resp.bytes_stream();
        let mut dec = Some(Decryptor::new(key, &id));
        let mut out = Vec::new();
        let (mut read, mut written) = (0u64, 0u64);
        let mut sink: Option<W> = None;
        let mut open_sink = Some(open_sink);
        let io = |e: std::io::Error| ClientError::Transport(e.to_string());
        loop {
            let chunk = body.next().await;
            let finished = chunk.is_none();
            // The metadata is known once the first chunk is open, and surely at the end.
            let meta = match chunk {
                Some(bytes) => {
                    let bytes = bytes?;
                    read += bytes.len() as u64;
                    let d = dec
                        .as_mut()
                        .ok_or_else(|| ClientError::Transport("stream ended".into()))?;
                    d.update(&bytes, &mut out)?;
                    d.meta().cloned()
                }
                None => {
                    let d = dec
                        .take()
                        .ok_or_else(|| ClientError::Transport("stream ended".into()))?;
                    Some(d.finish(&mut out)?)
                }
            };
            if let Some(m) = &meta
                && sink.is_none()
                && let Some(open) = open_sink.take()
            {
                sink = Some(open(m).await.map_err(io)?);
            }
            if let Some(w) = sink.as_mut() {
                w.write_all(&out).await.map_err(io)?;
                written += out.len() as u64;
                out.clear();
            }
            if finished {
                if let Some(w) = sink.as_mut() {
                    w.flush().await.map_err(io)?;
                }
                let meta =
                    meta.ok_or_else(|| ClientError::Transport("the file has no metadata".into()))?;
                return Ok(RevealedContent::File(meta, written));
            }
            if let Some(p) = progress {
                p(read, total);
            }
        }
    }
}

/// The wire form of the reveal proof of `key` (DESIGN §7.1).
fn proof_of(key: &SecretKey) -> SecretBytes {
    SecretBytes::new(RevealProof::of_key(key).to_base64url().as_bytes().to_vec())
}

/// The error an unsuccessful answer carries: its code, message and field from the body, and
/// `Retry-After` (seconds) from the headers.
async fn api_error(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = match resp.bytes().await {
        Ok(body) => body,
        Err(e) => return e.into(),
    };
    api_error_from(status, retry_after, &body)
}

fn api_error_from(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
            field: e.error.field,
            retry_after,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http_error".into(),
            message: status
                .canonical_reason()
                .unwrap_or("unexpected answer")
                .to_string(),
            field: None,
            retry_after,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_keeps_its_code_field_and_retry_after() {
        let body = br#"{"error":{"code":"invalid_request","message":"views must be at most 100","field":"views"}}"#;
        let e = api_error_from(StatusCode::BAD_REQUEST, None, body);
        assert_eq!(e.code(), Some("invalid_request"));
        assert_eq!(e.field(), Some("views"));
        let body =
            br#"{"error":{"code":"rate_limited","message":"rate limit exceeded, retry in 7 s"}}"#;
        let e = api_error_from(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            body,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.field(), None);
        let e = api_error_from(StatusCode::BAD_GATEWAY, None, b"<html>");
        assert_eq!((e.code(), e.status()), (Some("http_error"), Some(502)));
    }
}
