//! The blob store for file ciphertext: a directory under the data dir by default, or
//! S3-compatible object storage (`s3://bucket/prefix`), through `object_store`. Uploads are
//! multipart, so a blob only appears once complete: an aborted upload leaves nothing behind.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::client::{HttpRequest, HttpRequestBody};
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::{Error, Result};

/// Where file ciphertext lives.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
    /// The directory, for a local store: crash leftovers live there, invisible to listings.
    local_dir: Option<PathBuf>,
    /// For S3: what listing and aborting incomplete multipart uploads needs.
    s3: Option<S3Uploads>,
}

#[derive(Clone)]
struct S3Uploads {
    s3: Arc<AmazonS3>,
    bucket_url: String,
    region: String,
    /// When this process first listed each pending upload. Some S3-compatible servers (moto)
    /// report a fixed `Initiated` date, so an upload is only aborted once it has also been seen
    /// pending for the whole leftover age: a live upload is never mistaken for a stale one.
    first_seen: Arc<std::sync::Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Why an upload stopped.
#[derive(Debug)]
pub enum UploadError {
    /// The source stream failed (client disconnected, bad multipart…).
    Source(String),
    /// The limit was crossed.
    TooLarge,
    /// The store failed.
    Store(String),
}

fn store_err(e: object_store::Error) -> Error {
    Error::Storage(format!("blob store: {e}"))
}

/// Counts a failed blob operation (`op`: write, read, delete) for `seecret_blob_errors_total`.
fn failed(op: &'static str) {
    metrics::counter!("seecret_blob_errors_total", "op" => op).increment(1);
}

/// Counts bytes moved to or from the blob store (`op`: write, read).
fn moved(op: &'static str, n: u64) {
    metrics::counter!("seecret_blob_bytes_total", "op" => op).increment(n);
}

impl BlobStore {
    /// Opens the store `spec` names: empty for `<data_dir>/blobs`, a directory path, or
    /// `s3://bucket/prefix` (credentials and region from the usual `AWS_*` variables; a custom
    /// endpoint from `AWS_ENDPOINT_URL`).
    pub fn open(spec: &str, data_dir: &FsPath) -> Result<Self> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                b = b
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint);
            }
            let region = b
                .get_config_value(&AmazonS3ConfigKey::Region)
                .unwrap_or_else(|| "us-east-1".into());
            // Path-style, as object_store addresses the bucket by default.
            let bucket_url = match b.get_config_value(&AmazonS3ConfigKey::Endpoint) {
                Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
                None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            };
            let s3 = Arc::new(b.build().map_err(store_err)?);
            return Ok(Self {
                inner: s3.clone(),
                prefix: Path::from(prefix),
                description: format!("s3://{bucket}/{prefix}"),
                local_dir: None,
                s3: Some(S3Uploads {
                    s3,
                    bucket_url,
                    region,
                    first_seen: Arc::default(),
                }),
            });
        }
        let dir = if spec.is_empty() {
            data_dir.join("blobs")
        } else {
            FsPath::new(spec).to_path_buf()
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Storage(format!("creating {}: {e}", dir.display())))?;
        let local = LocalFileSystem::new_with_prefix(&dir).map_err(store_err)?;
        Ok(Self {
            inner: Arc::new(local),
            prefix: Path::default(),
            description: format!("file://{}", dir.display()),
            local_dir: Some(dir),
            s3: None,
        })
    }

    /// A fresh random key for one upload. Keys are never derived from a secret's id, so no
    /// request can name (and overwrite, or delete) a blob it did not upload itself.
    pub fn new_key() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    fn path(&self, key: &str) -> Path {
        self.prefix.clone().join(key)
    }

    /// Streams `source` into a new blob, refusing it (and leaving nothing) past `limit` bytes.
    pub async fn put<S>(&self, key: &str, source: S, limit: u64) -> Result<u64, UploadError>
    where
        S: Stream<Item = Result<Bytes, UploadError>> + Send,
    {
        let upload = self
            .inner
            .put_multipart(&self.path(key))
            .await
            .map_err(|e| {
                failed("write");
                UploadError::Store(e.to_string())
            })?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
        let mut total = 0u64;
        let mut source = std::pin::pin!(source);
        let outcome = loop {
            match source.next().await {
                None => break Ok(()),
                Some(Err(e)) => break Err(e),
                Some(Ok(bytes)) => {
                    total += bytes.len() as u64;
                    if total > limit {
                        break Err(UploadError::TooLarge);
                    }
                    if let Err(e) = writer.wait_for_capacity(4).await {
                        break Err(UploadError::Store(e.to_string()));
                    }
                    writer.put(bytes);
                }
            }
        };
        match outcome {
            Ok(()) => {
                writer.finish().await.map_err(|e| {
                    failed("write");
                    UploadError::Store(e.to_string())
                })?;
                moved("write", total);
                Ok(total)
            }
            Err(e) => {
                if matches!(e, UploadError::Store(_)) {
                    failed("write");
                }
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Streams a blob; returns its length and its bytes. Callers ask only for blobs a row
    /// names, so a missing one counts as an error too (the file was lost under the database).
    pub async fn get(&self, key: &str) -> Result<(u64, BoxStream<'static, Result<Bytes>>)> {
        let got = self.inner.get(&self.path(key)).await.map_err(|e| {
            failed("read");
            match e {
                object_store::Error::NotFound { .. } => Error::NotFound,
                other => store_err(other),
            }
        })?;
        let len = got.meta.size;
        let stream = got
            .into_stream()
            .map_ok(|b| {
                moved("read", b.len() as u64);
                b
            })
            .map_err(|e| {
                failed("read");
                store_err(e)
            });
        Ok((len, stream.boxed()))
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => {
                failed("delete");
                Err(store_err(e))
            }
        }
    }

    /// Whether a blob exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.inner.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_err(e)),
        }
    }

    /// Keys of the complete blobs last written before `before`.
    pub async fn keys_older_than(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let mut listing = self.inner.list(prefix);
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(store_err)?;
            if meta.last_modified >= before {
                continue;
            }
            let key = match meta.location.prefix_match(&self.prefix) {
                Some(parts) => parts.map(|p| p.as_ref().to_string()).collect::<Vec<_>>(),
                None => continue,
            };
            keys.push(key.join("/"));
        }
        Ok(keys)
    }

    /// Removes what interrupted uploads left behind before `before`: on a local store the
    /// `<key>#<n>` staging files a crash leaves (an aborted upload removes its own), on S3 the
    /// incomplete multipart uploads. Returns how many were removed.
    pub async fn remove_stale_uploads(&self, before: DateTime<Utc>) -> Result<usize> {
        if let Some(s3) = &self.s3 {
            return s3.abort_stale(&self.prefix, before).await;
        }
        let Some(dir) = self.local_dir.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || remove_staging_files(&dir, before))
            .await
            .map_err(|_| Error::Internal("staging clean-up task failed".into()))?
    }
}

impl S3Uploads {
    /// Aborts the multipart uploads under `prefix` initiated before `before`: what a crash
    /// mid-upload leaves (invisible, but stored and billed). object_store cannot list them, so
    /// this signs one ListMultipartUploads request itself; one page (1000) per sweep.
    async fn abort_stale(&self, prefix: &Path, before: DateTime<Utc>) -> Result<usize> {
        let list_prefix = if prefix.as_ref().is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let mut url = url::Url::parse(&self.bucket_url)
            .map_err(|e| Error::Storage(format!("blob store: bucket URL: {e}")))?;
        // `uploads` must be a bare key: SigV4 signs it as `uploads=`, which S3 accepts.
        url.query_pairs_mut()
            .append_pair("prefix", &list_prefix)
            .append_pair("uploads", "");
        let credential = self
            .s3
            .credentials()
            .get_credential()
            .await
            .map_err(store_err)?;
        let mut req = HttpRequest::new(HttpRequestBody::empty());
        *req.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|e| Error::Storage(format!("blob store: bucket URL: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut req, None)
            .map_err(store_err)?;
        let resp = reqwest::Client::new()
            .get(url.as_str())
            .headers(req.headers().clone())
            .send()
            .await
            .map_err(|e| Error::Storage(format!("blob store: listing uploads: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| Error::Storage(format!("blob store: listing uploads: {e}")))?;
        if !status.is_success() {
            return Err(Error::Storage(format!(
                "blob store: listing uploads answered {status}"
            )));
        }
        let now = Utc::now();
        let mut pending = Vec::new();
        for upload in xml_elements(&body, "Upload") {
            let (Some(key), Some(upload_id), Some(initiated)) = (
                xml_elements(upload, "Key").next(),
                xml_elements(upload, "UploadId").next(),
                xml_elements(upload, "Initiated").next(),
            ) else {
                continue;
            };
            let initiated_before = DateTime::parse_from_rfc3339(initiated)
                .is_ok_and(|t| t.with_timezone(&Utc) < before);
            // Our keys and upload ids never need XML escapes; anything else is not ours.
            if key.contains('&') || upload_id.contains('&') {
                continue;
            }
            pending.push((key.to_string(), upload_id.to_string(), initiated_before));
        }
        let stale: Vec<(String, String)> = {
            let mut seen = self
                .first_seen
                .lock()
                .map_err(|_| Error::Internal("upload tracker poisoned".into()))?;
            seen.retain(|id, _| pending.iter().any(|(_, p, _)| p == id));
            pending
                .into_iter()
                .filter(|(_, id, initiated_before)| {
                    let first = *seen.entry(id.clone()).or_insert(now);
                    *initiated_before && first < before
                })
                .map(|(key, id, _)| (key, id))
                .collect()
        };
        let mut aborted = 0;
        for (key, upload_id) in stale {
            let path = Path::parse(key).map_err(|e| Error::Storage(format!("blob store: {e}")))?;
            match self.s3.abort_multipart(&path, &upload_id.to_string()).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => aborted += 1,
                Err(e) => return Err(store_err(e)),
            }
        }
        Ok(aborted)
    }
}

/// The contents of each `<tag>…</tag>` in `xml`, in order (no nesting of the same tag).
fn xml_elements<'a>(xml: &'a str, tag: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let found = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(found)
    })
}

/// Whether a file name is an `object_store` staging file: `<name>#<digits>`.
fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn remove_staging_files(dir: &FsPath, before: DateTime<Utc>) -> Result<usize> {
    let io = |e: std::io::Error| Error::Storage(format!("cleaning {}: {e}", dir.display()));
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let meta = entry.metadata().map_err(io)?;
        if meta.is_dir() {
            removed += remove_staging_files(&path, before)?;
            continue;
        }
        let stale = meta
            .modified()
            .map(|m| DateTime::<Utc>::from(m) < before)
            .unwrap_or(false);
        if stale && is_staging_name(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
    }
    Ok(removed)
}
