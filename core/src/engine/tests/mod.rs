//! The engine's rules, driven in-process over a temporary SQLite database and a local blob
//! directory: no server, no network, nothing else running.

mod audit;
mod binding;
mod input;
mod lifecycle;
mod requests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::{Engine, EngineConfig, FileSource, Reveal, Viewer};
use crate::api::{
    CreateSecret, ListQuery, RevealRequest, Revealed, SecretInfo, StatusRequest, UpdateSecret,
};
use crate::blob::BlobStore;
use crate::crypto::{self, RevealProof, SecretBytes, SecretKey};
use crate::error::{Error, GoneReason};
use crate::link::Link;
use crate::model::{Expiration, SecretId, Status};
use crate::store::AccountRecord;

/// A directory removed when the test ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "seecret-engine-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An engine over a fresh database, with one account. Fields drop in order: the engine (and its
/// pools) before the directory.
struct Fixture {
    engine: Engine,
    alice: AccountRecord,
    _dir: TempDir,
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

async fn fixture_with(tune: impl FnOnce(&mut EngineConfig)) -> Fixture {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("seecret.db").display());
    let store = crate::store::open(&url, &crate::store::StoreOptions::default())
        .await
        .unwrap();
    let blobs = BlobStore::open("", dir.path()).unwrap();
    let mut cfg = EngineConfig {
        argon2_concurrency: 4,
        ..EngineConfig::default()
    };
    tune(&mut cfg);
    let engine = Engine::new(store, cfg).with_blobs(blobs);
    let (alice, _) = engine.create_account("alice", None).await.unwrap();
    Fixture {
        engine,
        alice,
        _dir: dir,
    }
}

fn text(content: &str) -> CreateSecret {
    CreateSecret {
        content: Some(SecretBytes::from(content.to_string())),
        ..CreateSecret::default()
    }
}

fn bytes(s: &str) -> SecretBytes {
    SecretBytes::from(s.to_string())
}

/// The key in a create's link.
fn key_of(info: &SecretInfo) -> SecretKey {
    Link::parse(info.url.as_deref().unwrap()).unwrap().key
}

fn with_key(key: &SecretKey) -> RevealRequest {
    RevealRequest {
        key: Some(bytes(&key.to_base64url())),
        ..RevealRequest::default()
    }
}

fn with_proof(key: &SecretKey) -> RevealRequest {
    RevealRequest {
        proof: Some(bytes(&RevealProof::of_key(key).to_base64url())),
        ..RevealRequest::default()
    }
}

fn proof_of(key: &SecretKey) -> SecretBytes {
    bytes(&RevealProof::of_key(key).to_base64url())
}

/// A status call with the proof of `key`.
fn status_of(key: &SecretKey) -> StatusRequest {
    StatusRequest {
        proof: proof_of(key),
        ticket: None,
    }
}

impl Fixture {
    async fn create(&self, req: CreateSecret) -> Result<SecretInfo, Error> {
        self.engine.create_secret(&self.alice, req).await
    }

    async fn reveal(&self, id: SecretId, req: RevealRequest) -> Result<Revealed, Error> {
        match self.engine.reveal(id, req, Viewer::default()).await? {
            Reveal::Text(r) => Ok(r),
            Reveal::File(_) => panic!("a text secret revealed as a file"),
        }
    }
}

/// The field an `invalid_request` names.
fn field(e: Error) -> Option<&'static str> {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected invalid_request, got {other:?}"),
    }
}

fn content(r: &Revealed) -> &str {
    r.content.as_ref().and_then(SecretBytes::as_str).unwrap()
}
