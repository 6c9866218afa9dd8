//! The blob store for file ciphertext: a directory under the data dir by default, or
//! S3-compatible object storage (`s3://bucket/prefix`), through `object_store`. Uploads are
//! multipart, so a blob only appears once complete: an aborted upload leaves nothing behind.

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::{Error, Result};

/// Where file ciphertext lives.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
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
            let s3 = b.build().map_err(store_err)?;
            return Ok(Self {
                inner: Arc::new(s3),
                prefix: Path::from(prefix),
                description: format!("s3://{bucket}/{prefix}"),
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
        })
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
            .map_err(|e| UploadError::Store(e.to_string()))?;
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
                writer
                    .finish()
                    .await
                    .map_err(|e| UploadError::Store(e.to_string()))?;
                Ok(total)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Streams a blob; returns its length and its bytes.
    pub async fn get(&self, key: &str) -> Result<(u64, BoxStream<'static, Result<Bytes>>)> {
        let got = self.inner.get(&self.path(key)).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::NotFound,
            other => store_err(other),
        })?;
        let len = got.meta.size;
        Ok((len, got.into_stream().map_err(store_err).boxed()))
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(e)),
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
}
