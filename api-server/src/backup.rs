//! `seecret backup` and `seecret restore`: one archive holding a consistent snapshot of the
//! SQLite database and the file blobs that snapshot still needs, taken while the server serves.
//!
//! Consistency rule (documented in docs/operations.md, "Backups"):
//! 1. The database is copied with `VACUUM INTO`: one read transaction, so the copy is the
//!    database as of one instant (the snapshot), whatever the server writes meanwhile. It is a
//!    fresh file: pages freed by erased ciphertext are not in it.
//! 2. Then the blobs of the secrets that are still active in the snapshot are copied. Blobs are
//!    immutable under random keys, so a blob found is the blob the snapshot names. A blob gone
//!    by then belongs to a secret consumed, deleted or expired after the snapshot: in the
//!    archived database that secret is marked `deleted` (no blob, no envelope), never live
//!    without its content and never revived. Blobs of secrets already ended in the snapshot are
//!    not copied and their keys are cleared.
//!
//! Archive format (all integers big-endian): the 16-byte magic, then entries
//! `kind: u8, name_len: u16, name, len: u64, bytes, sha256(bytes)`, then the kind 0 and the
//! SHA-256 of everything before it. Restore checks all of that, then the database's
//! `PRAGMA integrity_check`, in a temporary directory beside the target, and renames it into
//! place only when everything holds.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use ring::digest;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

const MAGIC: &[u8; 16] = b"SEECRET-BACKUP\x001";
const KIND_END: u8 = 0;
const KIND_DATABASE: u8 = 1;
const KIND_BLOB: u8 = 2;
/// The database's file name in the archive and in a restored data directory.
const DB_NAME: &str = "seecret.db";
const DOCS: &str = "see \"Backups\" in docs/operations.md";

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupSummary {
    /// Secrets in the snapshot.
    pub secrets: u64,
    /// Blobs copied.
    pub blobs: u64,
    /// Active file secrets whose blob was gone by copy time (ended after the snapshot).
    pub ended_after_snapshot: u64,
}

/// A file or directory removed on drop unless kept: nothing half-written survives a failure.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn scratch_beside(target: &Path, what: &str) -> anyhow::Result<Scratch> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .with_context(|| format!("{} names no file", target.display()))?
        .to_string_lossy()
        .to_string();
    let path = parent.join(format!(".{name}.{what}-{}", uuid::Uuid::new_v4().simple()));
    Ok(Scratch { path, keep: false })
}

fn refuse_elsewhere(url: &str, blob_store: Option<&str>) -> anyhow::Result<()> {
    if url.starts_with("postgres") {
        bail!(
            "this configuration uses PostgreSQL: `seecret backup`/`restore` handle the SQLite \
             database only; back PostgreSQL up with pg_dump or point-in-time recovery ({DOCS})"
        );
    }
    if blob_store.is_some_and(|s| s.starts_with("s3://")) {
        bail!(
            "the blob store is on S3: protect it with bucket versioning and replication; \
             `seecret backup` copies local blob directories only ({DOCS})"
        );
    }
    Ok(())
}

/// A blob key as the server makes them (hex, dashes): never a path that could leave the blob
/// directory when restored.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn blob_dir(data_dir: &Path, blob_store: Option<&str>) -> PathBuf {
    match blob_store {
        Some(s) if !s.is_empty() => PathBuf::from(s),
        _ => data_dir.join("blobs"),
    }
}

/// A writer that hashes everything written through it.
struct Hashing<W> {
    inner: W,
    all: digest::Context,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.all.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_entry<W: Write>(
    out: &mut Hashing<W>,
    kind: u8,
    name: &str,
    len: u64,
    mut data: impl Read,
) -> anyhow::Result<()> {
    let name_len = u16::try_from(name.len()).context("entry name too long")?;
    out.write_all(&[kind])?;
    out.write_all(&name_len.to_be_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&len.to_be_bytes())?;
    let mut entry = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = data.read(&mut buf[..want])?;
        ensure!(n > 0, "{name} got shorter while being copied");
        entry.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.write_all(entry.finish().as_ref())?;
    Ok(())
}

async fn open_sqlite(opts: SqliteConnectOptions) -> anyhow::Result<sqlx::SqliteConnection> {
    Ok(opts.busy_timeout(Duration::from_secs(10)).connect().await?)
}

/// `seecret backup`: writes the archive `out` (which must not exist yet).
pub async fn backup(
    data_dir: &Path,
    url: &str,
    blob_store: Option<&str>,
    out: &Path,
) -> anyhow::Result<BackupSummary> {
    backup_racing(data_dir, url, blob_store, out, async || {}).await
}

/// [`backup`], running `meanwhile` between the snapshot and the copy of the blobs: where a
/// test puts what the server does during a backup.
async fn backup_racing(
    data_dir: &Path,
    url: &str,
    blob_store: Option<&str>,
    out: &Path,
    meanwhile: impl AsyncFnOnce(),
) -> anyhow::Result<BackupSummary> {
    refuse_elsewhere(url, blob_store)?;
    ensure!(
        !out.exists(),
        "{} already exists: choose a new file name for the backup",
        out.display()
    );
    let live = SqliteConnectOptions::from_str(url)
        .with_context(|| "reading the database URL")?
        .create_if_missing(false);
    let db_path = live.get_filename().to_path_buf();
    ensure!(
        db_path.is_file(),
        "no database at {}: is --data-dir right?",
        db_path.display()
    );
    let blobs = blob_dir(data_dir, blob_store);

    // 1. The snapshot: one read transaction on a connection of its own.
    let snapshot = scratch_beside(out, "snapshot")?;
    {
        let mut conn = open_sqlite(live.clone())
            .await
            .with_context(|| format!("opening {}", db_path.display()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(snapshot.path.to_string_lossy().to_string())
            .execute(&mut conn)
            .await
            .with_context(|| format!("taking a snapshot of {}", db_path.display()))?;
        conn.close().await?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&snapshot.path, std::fs::Permissions::from_mode(0o600))?;
    }
    meanwhile().await;
    let mut snap = open_sqlite(
        SqliteConnectOptions::new()
            .filename(&snapshot.path)
            .journal_mode(SqliteJournalMode::Delete)
            .pragma("secure_delete", "ON"),
    )
    .await
    .context("opening the snapshot")?;
    let secrets: i64 = sqlx::query_scalar("SELECT count(*) FROM secrets")
        .fetch_one(&mut snap)
        .await?;
    let with_blobs: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, blob_key, status FROM secrets WHERE blob_key IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut snap)
    .await?;

    // 2. The archive, beside its final name; blobs first, so the database entry can record
    // which blobs were gone.
    let partial = scratch_beside(out, "partial")?;
    let mut options = File::options();
    options.write(true).create_new(true);
    // The archive holds token hashes and webhook secrets: private from its first byte.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&partial.path)
        .with_context(|| format!("creating {}", partial.path.display()))?;
    let mut w = Hashing {
        inner: BufWriter::new(file),
        all: digest::Context::new(&digest::SHA256),
    };
    w.write_all(MAGIC)?;
    // To tell a blob that went with its secret after the snapshot from one we look for in the
    // wrong place.
    let mut now_live = open_sqlite(live.read_only(true))
        .await
        .with_context(|| format!("opening {}", db_path.display()))?;
    let (mut copied, mut ended) = (0u64, 0u64);
    let now = chrono::Utc::now().timestamp_millis();
    for (id, key, status) in &with_blobs {
        let gone = if status != "active" {
            true
        } else if !valid_key(key) {
            bail!("secret {id} names an invalid blob key");
        } else {
            match File::open(blobs.join(key)) {
                Ok(f) => {
                    let len = f.metadata()?.len();
                    write_entry(&mut w, KIND_BLOB, key, len, BufReader::new(f))
                        .with_context(|| format!("copying blob {key}"))?;
                    copied += 1;
                    false
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A blob is deleted only once its secret ended: one whose secret is still
                    // active is not where we look, and must not be recorded as ended.
                    let status: Option<String> = sqlx::query_scalar(
                        "SELECT status FROM secrets WHERE id = ? AND blob_key = ?",
                    )
                    .bind(id)
                    .bind(key)
                    .fetch_optional(&mut now_live)
                    .await?;
                    ensure!(
                        status.as_deref() != Some("active"),
                        "the file of active secret {id} is not in {}: give the blob directory \
                         `seecret serve` uses (--blob-store, SEECRET_BLOB_STORE, or blob_store \
                         in the --config file)",
                        blobs.display()
                    );
                    // Ended after the snapshot: record it ended, never live without content.
                    sqlx::query(
                        "UPDATE secrets SET status = 'deleted', envelope = NULL, ended_at = ? \
                         WHERE id = ?",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut snap)
                    .await?;
                    ended += 1;
                    true
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("reading blob {key} in {}", blobs.display()));
                }
            }
        };
        if gone {
            sqlx::query("UPDATE secrets SET blob_key = NULL WHERE id = ?")
                .bind(id)
                .execute(&mut snap)
                .await?;
        }
    }
    snap.close().await?;
    now_live.close().await?;
    let db = File::open(&snapshot.path)?;
    let len = db.metadata()?.len();
    write_entry(&mut w, KIND_DATABASE, DB_NAME, len, BufReader::new(db))?;
    w.write_all(&[KIND_END])?;
    let sum = w.all.clone().finish();
    w.inner.write_all(sum.as_ref())?;
    let file = w.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    // Never over a file that appeared meanwhile.
    std::fs::hard_link(&partial.path, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(BackupSummary {
        secrets: u64::try_from(secrets).unwrap_or(0),
        blobs: copied,
        ended_after_snapshot: ended,
    })
}

/// One entry of a verified archive.
struct Entry {
    kind: u8,
    name: String,
}

/// A reader that hashes everything read through it.
struct Reading<R> {
    inner: R,
    all: digest::Context,
}

impl<R: Read> Reading<R> {
    fn exact(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        self.inner
            .read_exact(buf)
            .map_err(|_| anyhow::anyhow!("the archive is truncated"))?;
        self.all.update(buf);
        Ok(())
    }
}

/// Reads the whole archive, checking its structure and every checksum; with `extract_to`, also
/// writes each entry there (the database as `seecret.db`, blobs under `blobs/`).
fn read_archive(path: &Path, extract_to: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
    let corrupt = |what: &str| anyhow::anyhow!("{} is not a valid backup: {what}", path.display());
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = Reading {
        inner: BufReader::new(file),
        all: digest::Context::new(&digest::SHA256),
    };
    let mut magic = [0u8; 16];
    r.exact(&mut magic).map_err(|_| corrupt("too short"))?;
    if &magic != MAGIC {
        return Err(corrupt("not a Seecret backup archive (wrong header)"));
    }
    let mut entries = Vec::new();
    let mut names = BTreeSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut kind = [0u8; 1];
        r.exact(&mut kind).map_err(|e| corrupt(&e.to_string()))?;
        let kind = kind[0];
        if kind == KIND_END {
            let expected = r.all.clone().finish();
            let mut sum = [0u8; 32];
            r.inner
                .read_exact(&mut sum)
                .map_err(|_| corrupt("the archive is truncated"))?;
            if sum != expected.as_ref() {
                return Err(corrupt("its checksum does not match (damaged or altered)"));
            }
            let mut rest = [0u8; 1];
            if r.inner.read(&mut rest)? != 0 {
                return Err(corrupt("trailing bytes after the end"));
            }
            break;
        }
        if kind != KIND_DATABASE && kind != KIND_BLOB {
            return Err(corrupt(&format!("unknown entry kind {kind}")));
        }
        let mut n = [0u8; 2];
        r.exact(&mut n).map_err(|e| corrupt(&e.to_string()))?;
        let mut name = vec![0u8; usize::from(u16::from_be_bytes(n))];
        r.exact(&mut name).map_err(|e| corrupt(&e.to_string()))?;
        let name = String::from_utf8(name).map_err(|_| corrupt("an entry name is not UTF-8"))?;
        let ok_name = match kind {
            KIND_DATABASE => name == DB_NAME,
            _ => valid_key(&name),
        };
        if !ok_name || !names.insert((kind, name.clone())) {
            return Err(corrupt("an entry name is invalid or repeated"));
        }
        let mut l = [0u8; 8];
        r.exact(&mut l).map_err(|e| corrupt(&e.to_string()))?;
        let mut left = u64::from_be_bytes(l);
        let mut sink = match extract_to {
            None => None,
            Some(dir) => {
                let target = if kind == KIND_DATABASE {
                    dir.join(DB_NAME)
                } else {
                    dir.join("blobs").join(&name)
                };
                Some(BufWriter::new(
                    File::options().write(true).create_new(true).open(&target)?,
                ))
            }
        };
        let mut entry = digest::Context::new(&digest::SHA256);
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            r.exact(&mut buf[..want])
                .map_err(|e| corrupt(&e.to_string()))?;
            entry.update(&buf[..want]);
            if let Some(s) = sink.as_mut() {
                s.write_all(&buf[..want])?;
            }
            left -= want as u64;
        }
        let mut sum = [0u8; 32];
        r.exact(&mut sum).map_err(|e| corrupt(&e.to_string()))?;
        if sum != entry.finish().as_ref() {
            return Err(corrupt(&format!("the checksum of {name} does not match")));
        }
        if let Some(s) = sink {
            s.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        entries.push(Entry { kind, name });
    }
    if entries.iter().filter(|e| e.kind == KIND_DATABASE).count() != 1 {
        return Err(corrupt("it holds no database"));
    }
    Ok(entries)
}

/// `seecret restore`: restores `archive` into `data_dir`, which must be new or empty.
pub async fn restore(data_dir: &Path, url: &str, archive: &Path) -> anyhow::Result<(u64, u64)> {
    refuse_elsewhere(url, None)?;
    let own = format!("sqlite://{}", data_dir.join(DB_NAME).display());
    ensure!(
        url == own,
        "restore writes the data directory's own database ({DB_NAME}); unset \
         SEECRET_DATABASE_URL / --database-url and pass the new --data-dir"
    );
    if data_dir.exists() {
        let mut listing = std::fs::read_dir(data_dir)
            .with_context(|| format!("{} is not a directory", data_dir.display()))?;
        ensure!(
            listing.next().is_none(),
            "{} is not empty: restore only into a new or empty data directory",
            data_dir.display()
        );
    }
    // Everything checked before anything is written.
    read_archive(archive, None)?;

    let staging = scratch_beside(data_dir, "restore")?;
    create_private(&staging.path)?;
    create_private(&staging.path.join("blobs"))?;
    // Read again while extracting: the file could have changed since the check.
    let entries = read_archive(archive, Some(&staging.path))?;
    let mut conn = open_sqlite(
        SqliteConnectOptions::new()
            .filename(staging.path.join(DB_NAME))
            .create_if_missing(false),
    )
    .await
    .context("opening the restored database")?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("{} holds a damaged database: {e}", archive.display()))?;
    ensure!(
        check == ["ok"],
        "{} holds a damaged database: {}",
        archive.display(),
        check.join("; ")
    );
    let blobs: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.kind == KIND_BLOB)
        .map(|e| e.name.as_str())
        .collect();
    let needed: Vec<String> = sqlx::query_scalar(
        "SELECT blob_key FROM secrets WHERE blob_key IS NOT NULL AND status = 'active'",
    )
    .fetch_all(&mut conn)
    .await
    .context("reading the restored database")?;
    let secrets: i64 = sqlx::query_scalar("SELECT count(*) FROM secrets")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    if let Some(missing) = needed.iter().find(|k| !blobs.contains(k.as_str())) {
        bail!(
            "{} is inconsistent: an active secret's blob ({missing}) is not in it",
            archive.display()
        );
    }
    // One rename: the data directory appears whole or not at all (rename(2) replaces an
    // empty directory).
    std::fs::rename(&staging.path, data_dir)
        .with_context(|| format!("moving the restored data into {}", data_dir.display()))?;
    let mut staging = staging;
    staging.keep = true;
    Ok((u64::try_from(secrets).unwrap_or(0), blobs.len() as u64))
}

fn create_private(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule's second half, which a black-box test cannot time: an active file secret whose
    /// blob is gone when the blobs are copied (it was consumed meanwhile) is archived as deleted,
    /// and restores as deleted; one whose secret is still active is a wrong blob directory.
    #[tokio::test]
    async fn a_blob_gone_after_the_snapshot_is_archived_as_deleted_never_live() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("blobs")).unwrap();
        let url = format!("sqlite://{}", data.join(DB_NAME).display());
        let store = seecret_core::store::open(&url, &Default::default())
            .await
            .unwrap();
        drop(store);
        let mut conn = open_sqlite(SqliteConnectOptions::from_str(&url).unwrap())
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO accounts (id, name, token_hash, created_at) VALUES ('a', 'a', x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for (id, key) in [("kept", "k1"), ("gone", "k2")] {
            sqlx::query(
                "INSERT INTO secrets (id, account_id, kind, blob_key, views_total, status, \
                 created_at, expires_at) VALUES (?, 'a', 'file', ?, 1, 'active', 0, 9e15)",
            )
            .bind(id)
            .bind(key)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
        std::fs::write(data.join("blobs/k1"), b"ciphertext").unwrap();

        let archive = tmp.path().join("b.backup");
        let err = backup(&data, &url, None, &archive).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("the file of active secret gone is not in"),
            "{err:#}"
        );
        assert!(!archive.exists());
        let consume = async || {
            let mut conn = open_sqlite(SqliteConnectOptions::from_str(&url).unwrap())
                .await
                .unwrap();
            sqlx::query("UPDATE secrets SET status = 'consumed' WHERE id = 'gone'")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        };
        let s = backup_racing(&data, &url, None, &archive, consume)
            .await
            .unwrap();
        assert_eq!((s.secrets, s.blobs, s.ended_after_snapshot), (2, 1, 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let restored = tmp.path().join("restored");
        let own = format!("sqlite://{}", restored.join(DB_NAME).display());
        restore(&restored, &own, &archive).await.unwrap();
        let mut conn = open_sqlite(SqliteConnectOptions::from_str(&own).unwrap())
            .await
            .unwrap();
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT id, status, blob_key FROM secrets ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                ("gone".into(), "deleted".into(), None),
                ("kept".into(), "active".into(), Some("k1".into()))
            ]
        );
        assert_eq!(
            std::fs::read(restored.join("blobs/k1")).unwrap(),
            b"ciphertext"
        );
    }
}
