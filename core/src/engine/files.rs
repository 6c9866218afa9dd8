//! File secrets: the streamed upload (sealed here or by the client), the key check and the
//! streamed download, and the blob's clean-up when the last view ends.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tracing::{info, instrument, warn};

use super::Engine;
use super::rules::{check_name, client_verifier_of, verifier_with_plaintext};
use crate::api::{CreateSecret, SecretInfo};
use crate::blob::{BlobStore, UploadError};
use crate::crypto::{RevealProof, SecretKey};
use crate::error::{Error, GoneReason, Result};
use crate::filestream::{self, Decryptor, Encryptor, FileMeta};
use crate::model::{Kind, SecretId, Status};
use crate::store::{AccountRecord, Store};

impl Engine {
    /// Deletes a blob and forgets it; a failure is logged and left to the sweeper.
    pub(super) async fn drop_blob(&self, id: SecretId, key: &str) {
        drop_blob(self.blobs.clone(), self.store.clone(), id, key.to_string()).await;
    }

    /// Deletes the blob of an upload no row links to (its create failed). Only that upload's own
    /// random key is touched; a failure leaves an orphan for the sweeper.
    pub(super) async fn discard_upload(&self, key: &str) {
        if let Some(blobs) = &self.blobs
            && let Err(e) = blobs.delete(key).await
        {
            warn!(error = %e, "deleting a refused upload failed; the sweeper will remove it");
        }
    }

    /// Shares a file, streamed into the blob store: sealed here from plaintext, or stored as the
    /// client sealed it. Nothing is recorded unless the whole upload arrives within the size
    /// limit; an interrupted or oversized upload leaves no row and no blob.
    #[instrument(skip_all, fields(account = %account.id))]
    pub async fn create_file<S>(
        &self,
        account: &AccountRecord,
        req: CreateSecret,
        source: FileSource<S>,
    ) -> Result<SecretInfo>
    where
        S: Stream<Item = Result<Bytes, String>> + Send,
    {
        let blobs = self.blobs()?;
        let mut req = req;
        let draft = self.draft(&mut req).await?;
        let file_name = check_name("file_name", req.file_name.take())?;
        if req.content.is_some() || req.ciphertext.is_some() {
            return Err(Error::invalid(
                "file",
                "send either content or a file, not both",
            ));
        }
        // Checked before a byte is stored: a client-sealed file needs the client's verifier.
        let client_verifier = match (&source, req.verifier.take()) {
            (FileSource::Sealed { .. }, v) => Some(client_verifier_of(v)?),
            (FileSource::Plain { .. }, None) => None,
            (FileSource::Plain { .. }, Some(_)) => return Err(verifier_with_plaintext()),
        };
        let max_file = self.cfg.max_file_bytes;
        let too_large = || Error::TooLarge {
            message: format!("the file is larger than this server's limit of {max_file} bytes"),
        };
        // A fresh random key per upload, never the id: an upload can only ever write its own
        // blob, so a create that loses (taken id, bad stream) cannot touch anyone's file.
        let blob_key = BlobStore::new_key();
        let (id, key, size, stored) = match source {
            FileSource::Plain {
                name,
                media_type,
                stream,
            } => {
                if req.id.is_some() {
                    return Err(Error::invalid(
                        "id",
                        "id may only be chosen with a client-sealed file",
                    ));
                }
                let id = SecretId::new();
                let key = SecretKey::generate();
                let meta = FileMeta {
                    name: clean_file_name(&name),
                    media_type: clean_media_type(&media_type),
                    size: None,
                };
                let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let sealed = seal_stream(
                    stream,
                    Encryptor::new(&key, &id, &meta)?,
                    max_file,
                    counted.clone(),
                );
                let stored = blobs
                    .put(&blob_key, sealed, filestream::max_sealed_len(max_file))
                    .await;
                let size = counted.load(std::sync::atomic::Ordering::Relaxed);
                (id, Some(key), Some(size), stored)
            }
            FileSource::Sealed { stream } => {
                let id = req.id.ok_or_else(|| {
                    Error::invalid("id", "id is required with a client-sealed file")
                })?;
                let id = SecretId::parse_client_chosen(&id.to_string())?;
                // Refuse a taken id before storing a byte. The row insert below stays the
                // arbiter: two uploads racing for one free id both pass here, one insert wins.
                if self.store.secret(id).await?.is_some() {
                    return Err(Error::IdTaken);
                }
                let stream = stream.map(|r| r.map_err(UploadError::Source));
                let stored = blobs
                    .put(&blob_key, stream, filestream::max_sealed_len(max_file))
                    .await;
                (id, None, req.size, stored)
            }
        };
        let blob_len = match stored {
            Ok(n) => n,
            Err(UploadError::TooLarge) => return Err(too_large()),
            Err(UploadError::Source(e)) => {
                return Err(Error::invalid(
                    "file",
                    format!("the upload did not complete: {e}"),
                ));
            }
            Err(UploadError::Store(e)) => return Err(Error::Storage(format!("blob store: {e}"))),
        };
        if key.is_none() && filestream::payload_len(blob_len).is_none() {
            self.discard_upload(&blob_key).await;
            return Err(Error::invalid(
                "ciphertext",
                "the upload is not a Seecret file stream",
            ));
        }
        let mut record = draft.record(
            id,
            account,
            Kind::File,
            None,
            Some((blob_key.clone(), size)),
            file_name,
        );
        record.verifier = match (client_verifier, &key) {
            (Some(w), _) => Some(w),
            (None, Some(k)) => Some(RevealProof::of_key(k).verifier()),
            (None, None) => return Err(Error::Internal("a file without a verifier".into())),
        };
        // Inserting the row is what links the staged blob to the secret; until then it is this
        // upload's alone (and an orphan the sweeper removes if the process dies here).
        if let Err(e) = self.store.insert_secret(&record).await {
            self.discard_upload(&blob_key).await;
            return Err(e.into());
        }
        self.created(account, &record, key.as_ref()).await
    }

    pub(super) async fn check_file_key(
        &self,
        key: &SecretKey,
        id: &SecretId,
        blob: &str,
    ) -> Result<()> {
        let (_, mut stream) = self.blobs()?.get(blob).await?;
        let mut dec = Decryptor::new(key, id);
        let mut sink = Vec::new();
        let mut seen = 0usize;
        // The first chunk is enough to tell a wrong key; a one-chunk file is checked whole.
        while dec.meta().is_none()
            && seen <= filestream::HEADER_LEN + filestream::CHUNK_SIZE + filestream::TAG_LEN
        {
            match stream.next().await {
                Some(bytes) => {
                    let bytes = bytes?;
                    seen += bytes.len();
                    dec.update(&bytes, &mut sink)
                        .map_err(|_| Error::InvalidKey)?;
                    sink.clear();
                }
                None => {
                    dec.finish(&mut sink).map_err(|_| Error::InvalidKey)?;
                    return Ok(());
                }
            }
        }
        if dec.meta().is_none() {
            return Err(Error::InvalidKey);
        }
        Ok(())
    }

    pub(super) async fn open_file(
        &self,
        id: SecretId,
        blob: String,
        key: Option<SecretKey>,
        views_remaining: u32,
        status: Status,
    ) -> Result<FileDownload> {
        let blobs = self.blobs()?.clone();
        let (blob_len, stream) = blobs.get(&blob).await?;
        let stream = cut_on_delete(stream, self.store.clone(), id);
        // The last permitted download deletes the blob when it ends, finished or abandoned.
        let guard = (status == Status::Consumed).then(|| BlobGuard {
            blobs: Some(blobs.clone()),
            store: self.store.clone(),
            id,
            key: blob.clone(),
        });
        let Some(key) = key else {
            return Ok(FileDownload {
                id,
                views_remaining,
                status,
                len: blob_len,
                meta: None,
                stream: Guarded {
                    inner: stream,
                    _guard: guard,
                }
                .boxed(),
            });
        };
        // Open the first chunk now so the answer can carry the file's name and type.
        let mut dec = Decryptor::new(&key, &id);
        let mut first = Vec::new();
        let mut stream = stream;
        while dec.meta().is_none() {
            match stream.next().await {
                Some(bytes) => dec.update(&bytes?, &mut first)?,
                None => break,
            }
        }
        let ended = dec.meta().is_none();
        let (meta, first, rest): (FileMeta, Vec<u8>, BoxStream<'static, Result<Bytes>>) = if ended {
            let meta = dec.finish(&mut first)?;
            (meta, first, futures::stream::empty().boxed())
        } else {
            let meta = dec
                .meta()
                .cloned()
                .ok_or_else(|| Error::Internal("no metadata".into()))?;
            (meta, first, open_stream(stream, dec))
        };
        let len = filestream::file_len(blob_len, &meta).unwrap_or_default();
        let plain = futures::stream::once(async move { Ok(Bytes::from(first)) }).chain(rest);
        Ok(FileDownload {
            id,
            views_remaining,
            status,
            len,
            meta: Some(meta),
            stream: Guarded {
                inner: plain.boxed(),
                _guard: guard,
            }
            .boxed(),
        })
    }
}

/// A file being revealed.
pub struct FileDownload {
    /// The secret.
    pub id: SecretId,
    /// Views left after this one.
    pub views_remaining: u32,
    /// Status after this view.
    pub status: Status,
    /// Bytes `stream` will yield: the sealed blob's length, or the file's when decrypting.
    pub len: u64,
    /// The file's name and type, when the server decrypts.
    pub meta: Option<FileMeta>,
    /// The bytes. An `Err` item means the blob is damaged or the store failed: the transport
    /// must abort, never present a partial file as complete.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("id", &self.id)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Where an uploaded file comes from.
#[derive(Debug)]
pub enum FileSource<S> {
    /// The plaintext file; the server seals it as it streams in and forgets the key.
    Plain {
        /// Its name (kept only inside the sealed stream).
        name: String,
        /// Its media type (likewise).
        media_type: String,
        /// Its bytes.
        stream: S,
    },
    /// A stream the client sealed for `CreateSecret::id`.
    Sealed {
        /// The sealed bytes.
        stream: S,
    },
}

/// Deletes a blob when dropped: the last download's stream carries it, so the blob goes whether
/// the download finishes or is abandoned.
struct BlobGuard {
    blobs: Option<BlobStore>,
    store: Arc<dyn Store>,
    id: SecretId,
    key: String,
}

impl Drop for BlobGuard {
    fn drop(&mut self) {
        let (blobs, store, id, key) = (
            self.blobs.take(),
            self.store.clone(),
            self.id,
            std::mem::take(&mut self.key),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(drop_blob(blobs, store, id, key));
        }
    }
}

async fn drop_blob(blobs: Option<BlobStore>, store: Arc<dyn Store>, id: SecretId, key: String) {
    let Some(blobs) = blobs else { return };
    match blobs.delete(&key).await {
        Ok(()) => {
            if let Err(e) = store.clear_blob(id, &key).await {
                warn!(%id, error = %e, "blob deleted but not forgotten; the sweeper will retry");
            }
        }
        Err(e) => warn!(%id, error = %e, "deleting a blob failed; the sweeper will retry"),
    }
}

struct Guarded {
    inner: BoxStream<'static, Result<Bytes>>,
    _guard: Option<BlobGuard>,
}

impl Stream for Guarded {
    type Item = Result<Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Seals a plaintext upload chunk by chunk, refusing it once it passes `max` bytes.
fn seal_stream<S>(
    source: S,
    enc: Encryptor,
    max: u64,
    counted: Arc<std::sync::atomic::AtomicU64>,
) -> impl Stream<Item = std::result::Result<Bytes, UploadError>> + Send
where
    S: Stream<Item = std::result::Result<Bytes, String>> + Send,
{
    futures::stream::unfold(
        (Box::pin(source), Some(enc)),
        move |(mut source, mut enc)| {
            let counted = counted.clone();
            async move {
                let e = enc.as_mut()?;
                let mut out = Vec::new();
                match source.next().await {
                    Some(Ok(bytes)) => {
                        let total = counted
                            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed)
                            + bytes.len() as u64;
                        if total > max {
                            return Some((Err(UploadError::TooLarge), (source, None)));
                        }
                        if e.update(&bytes, &mut out).is_err() {
                            return Some((
                                Err(UploadError::Store("encryption failed".into())),
                                (source, None),
                            ));
                        }
                        Some((Ok(Bytes::from(out)), (source, enc)))
                    }
                    Some(Err(err)) => Some((Err(UploadError::Source(err)), (source, None))),
                    None => {
                        let last = enc.take()?;
                        match last.finish(&mut out) {
                            Ok(()) => Some((Ok(Bytes::from(out)), (source, None))),
                            Err(_) => Some((
                                Err(UploadError::Store("encryption failed".into())),
                                (source, None),
                            )),
                        }
                    }
                }
            }
        },
    )
}

/// Bytes a download streams between two checks that its secret was not deleted.
const LIVENESS_EVERY: u64 = 1024 * 1024;

/// Ends `source` with an error once its secret is deleted (or forgotten), checked every
/// [`LIVENESS_EVERY`] bytes against the store, so an owner's delete stops downloads in flight on
/// every instance. Deleting the blob alone would not: an open file keeps its bytes readable.
fn cut_on_delete(
    source: BoxStream<'static, Result<Bytes>>,
    store: Arc<dyn Store>,
    id: SecretId,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold((Some(source), 0u64), move |(source, mut since)| {
        let store = store.clone();
        async move {
            let mut source = source?;
            if since >= LIVENESS_EVERY {
                since = 0;
                match store.secret(id).await {
                    Ok(Some(r)) if r.status != Status::Deleted => {}
                    Ok(_) => {
                        info!(%id, "secret deleted during its download: download cut");
                        return Some((Err(Error::Gone(GoneReason::Deleted)), (None, 0)));
                    }
                    Err(e) => return Some((Err(e.into()), (None, 0))),
                }
            }
            let item = source.next().await?;
            match &item {
                Ok(bytes) => since += bytes.len() as u64,
                Err(_) => return Some((item, (None, 0))),
            }
            Some((item, (Some(source), since)))
        }
    })
    .boxed()
}

/// Opens a sealed blob stream; a damaged chunk ends it with an error.
fn open_stream(
    source: BoxStream<'static, Result<Bytes>>,
    dec: Decryptor,
) -> BoxStream<'static, Result<Bytes>> {
    futures::stream::unfold((source, Some(dec)), |(mut source, mut dec)| async move {
        let d = dec.as_mut()?;
        let mut out = Vec::new();
        match source.next().await {
            Some(Ok(bytes)) => match d.update(&bytes, &mut out) {
                Ok(()) => Some((Ok(Bytes::from(out)), (source, dec))),
                Err(e) => Some((Err(e), (source, None))),
            },
            Some(Err(e)) => Some((Err(e), (source, None))),
            None => {
                let last = dec.take()?;
                match last.finish(&mut out) {
                    Ok(_) => Some((Ok(Bytes::from(out)), (source, None))),
                    Err(e) => Some((Err(e), (source, None))),
                }
            }
        }
    })
    .boxed()
}

/// A file name without directories, control or format characters, at most 255 characters.
fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // Nobody checks a name sealed inside the stream but its recipient: strip what would make it
    // display as another name.
    let cleaned: String = base
        .chars()
        .filter(|c| !crate::text::is_hidden_char(*c))
        .take(255)
        .collect();
    if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
        "file".into()
    } else {
        cleaned
    }
}

fn clean_media_type(t: &str) -> String {
    let t = t.trim();
    if !t.is_empty()
        && t.len() <= 255
        && t.contains('/')
        && t.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        t.to_string()
    } else {
        "application/octet-stream".into()
    }
}
