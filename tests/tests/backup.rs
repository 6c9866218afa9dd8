//! `seecret backup` under load and `seecret restore` into a new data directory (SQLite only:
//! PostgreSQL is backed up with its own tools, see docs/operations.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seecret_core::client::{Client, RevealedContent, ShareOptions};
use seecret_core::filestream::FileMeta;
use seecret_core::link::Link;
use seecret_tests::{Server, ServerOptions, on_postgres, run, seecret_bin, sqlite};

/// What a create acknowledged: its link, content, and when the server answered.
#[derive(Clone)]
struct Acked {
    link: String,
    content: Vec<u8>,
    file: bool,
    at: Instant,
}

async fn share(client: &Client, content: Vec<u8>, file: bool) -> String {
    let shared = if file {
        let meta = FileMeta {
            name: "f.bin".into(),
            media_type: "application/octet-stream".into(),
            size: Some(content.len() as u64),
        };
        client
            .share_file(
                std::io::Cursor::new(content),
                meta,
                ShareOptions::default(),
                None,
            )
            .await
            .unwrap()
    } else {
        client
            .share(&content, ShareOptions::default())
            .await
            .unwrap()
    };
    shared.link.to_string()
}

/// Reveals `link` (moved to `base`); the content, or None when the server refuses it.
async fn reveal(link: &str, old_base: &str, base: &str, dir: &Path) -> Option<Vec<u8>> {
    let link = Link::parse(&link.replacen(old_base, base, 1)).unwrap();
    let out = dir.join(uuid::Uuid::new_v4().to_string());
    let sink = out.clone();
    match Client::reveal_link_to(
        &link,
        None,
        move |_| async move { tokio::fs::File::create(sink).await },
        None,
    )
    .await
    {
        Ok(RevealedContent::Text(t)) => Some(t.expose().to_vec()),
        Ok(RevealedContent::File(_, _)) => Some(std::fs::read(&out).unwrap()),
        Err(_) => None,
    }
}

fn blob_files(server: &Server) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(server.data_dir.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn seecret(args: &[&str], data_dir: &Path) -> (i32, String, String) {
    let mut cmd = Command::new(seecret_bin());
    cmd.args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SEECRET_DATABASE_URL")
        .env_remove("SEECRET_BLOB_STORE");
    run(&mut cmd, Duration::from_secs(60))
}

fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        all.push(p.clone());
        if p.is_dir() {
            all.extend(tree(&p));
        }
    }
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_every_acknowledged_secret_once_and_never_a_consumed_one() {
    // PostgreSQL is refused before any connection, pointing to its own tools.
    let nowhere = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(seecret_bin());
    cmd.args(["backup", "x.backup", "--database-url"])
        .arg("postgres://u:DBPASS-CANARY@127.0.0.1:9/db")
        .arg("--data-dir")
        .arg(nowhere.path());
    let (code, _, err) = run(&mut cmd, Duration::from_secs(30));
    assert_ne!(code, 0);
    assert!(
        err.contains("pg_dump") && err.contains("docs/operations.md"),
        "{err}"
    );
    assert!(!err.contains("DBPASS-CANARY"), "{err}");
    assert!(tree(nowhere.path()).is_empty());
    if on_postgres() {
        eprintln!("skipped: `seecret backup` is for SQLite; PostgreSQL uses pg_dump (documented)");
        return;
    }
    let server = Server::start_with(unlimited());
    let client = server.client();
    let work = tempfile::tempdir().unwrap();

    // Consumed before the backup: a text and a file, whose ciphertext must not be in it.
    let before = blob_files(&server);
    let consumed_text = share(&client, b"consumed-text-canary".to_vec(), false).await;
    let consumed_file = share(&client, vec![0x5a; 70_000], true).await;
    let consumed_blob: Vec<u8> = blob_files(&server)
        .into_iter()
        .find(|(k, _)| !before.contains_key(k))
        .map(|(_, v)| v)
        .unwrap();
    for link in [&consumed_text, &consumed_file] {
        assert!(
            reveal(link, &server.base, &server.base, work.path())
                .await
                .is_some()
        );
    }

    // Load: creates (every fourth a file) and reveals of earlier ones, while the backup runs.
    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let revealed = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![];
    for worker in 0..4u32 {
        let (client, acked, revealed, stop) = (
            client.clone(),
            acked.clone(),
            revealed.clone(),
            stop.clone(),
        );
        let base = server.base.clone();
        let dir = work.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let file = i.is_multiple_of(4);
                let content =
                    format!("w{worker}-n{i}-{}", "x".repeat((i % 7) as usize * 3000)).into_bytes();
                let link = share(&client, content.clone(), file).await;
                let at = Instant::now();
                // Every fifth is revealed right away: consumed, recorded with its end time.
                if i.is_multiple_of(5) {
                    assert!(reveal(&link, &base, &base, &dir).await.is_some());
                    revealed
                        .lock()
                        .unwrap()
                        .push((link.clone(), Instant::now()));
                }
                acked.lock().unwrap().push(Acked {
                    link,
                    content,
                    file,
                    at,
                });
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let archive = work.path().join("seecret.backup");
    let started = Instant::now();
    let (code, out, err) = {
        let (data_dir, archive) = (server.data_dir.clone(), archive.clone());
        tokio::task::spawn_blocking(move || {
            seecret(&["backup", archive.to_str().unwrap()], &data_dir)
        })
        .await
        .unwrap()
    };
    let finished = Instant::now();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backed up"), "{out}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let revealed: BTreeMap<String, Instant> = revealed.lock().unwrap().iter().cloned().collect();
    let during = acked
        .iter()
        .filter(|a| a.at > started && a.at < finished)
        .count();
    eprintln!(
        "{} creates acknowledged ({} files), {} during the backup ({:?}), {} revealed",
        acked.len(),
        acked.iter().filter(|a| a.file).count(),
        during,
        finished - started,
        revealed.len()
    );
    assert!(acked.iter().filter(|a| a.at < started).count() > 20);

    // The archive holds no ciphertext of what was consumed before it.
    let bytes = std::fs::read(&archive).unwrap();
    let needle = &consumed_blob[1000..1064];
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "a consumed file's ciphertext is in the backup"
    );

    // Restore refuses a non-empty directory and a damaged archive, writing nothing.
    let parent = tempfile::tempdir().unwrap();
    let busy = parent.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"mine").unwrap();
    let (code, _, err) = seecret(&["restore", archive.to_str().unwrap()], &busy);
    assert_ne!(code, 0);
    assert!(err.contains("busy") && err.contains("not empty"), "{err}");
    assert_eq!(tree(&busy), vec![busy.join("keep.txt")]);
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    let bad = work.path().join("damaged.backup");
    std::fs::write(&bad, &damaged).unwrap();
    let target = parent.path().join("restored");
    let (code, _, err) = seecret(&["restore", bad.to_str().unwrap()], &target);
    assert_ne!(code, 0);
    assert!(err.contains("not a valid backup"), "{err}");
    assert_eq!(tree(parent.path()), tree_of_only_busy(&busy));

    // Restore for real, into a new directory, and serve it.
    let (code, out, err) = seecret(&["restore", archive.to_str().unwrap()], &target);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("restored"), "{out}");
    let ids = sqlite(
        &target.join("seecret.db"),
        "SELECT group_concat(id, ' ') FROM secrets",
    )
    .unwrap();
    let ids: Vec<&str> = ids.split(' ').collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "a secret appears twice");
    let id_of = |link: &str| Link::parse(link).unwrap().id.to_string();
    let known: BTreeSet<String> = acked
        .iter()
        .map(|a| id_of(&a.link))
        .chain([id_of(&consumed_text), id_of(&consumed_file)])
        .collect();
    for id in &unique {
        assert!(known.contains(*id), "{id} was never acknowledged");
    }
    let restored = Server::start_with(ServerOptions {
        data_dir: Some(target.clone()),
        ..unlimited()
    });
    let (old, new) = (server.base.as_str(), restored.base.as_str());
    for link in [&consumed_text, &consumed_file] {
        assert!(
            reveal(link, old, new, work.path()).await.is_none(),
            "a secret consumed before the backup came back"
        );
    }
    let mut checked = (0, 0);
    for a in acked.iter().filter(|a| a.at < started) {
        let id = id_of(&a.link);
        assert!(unique.contains(id.as_str()), "acknowledged {id} is missing");
        let got = reveal(&a.link, old, new, work.path()).await;
        match revealed.get(&a.link) {
            Some(done) if *done < started => {
                assert!(got.is_none(), "{id} was consumed before the backup")
            }
            Some(_) => {} // consumed while the backup ran: either state is a right answer
            None => {
                assert_eq!(
                    got.as_deref(),
                    Some(&a.content[..]),
                    "{id} (file: {})",
                    a.file
                );
                if a.file {
                    checked.1 += 1
                } else {
                    checked.0 += 1
                }
            }
        }
    }
    eprintln!(
        "opened {} texts and {} files on the restored server",
        checked.0, checked.1
    );
    assert!(checked.0 > 5 && checked.1 > 2);
    drop(server);
}

/// No rate limits: the load is the point.
fn unlimited() -> ServerOptions {
    ServerOptions::default()
        .env("SEECRET_RATE_LIMIT_PER_MINUTE", 0)
        .env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 0)
}

fn tree_of_only_busy(busy: &Path) -> Vec<PathBuf> {
    vec![busy.to_path_buf(), busy.join("keep.txt")]
}

#[tokio::test]
async fn a_backup_takes_the_files_from_where_the_configuration_file_puts_them() {
    if on_postgres() {
        eprintln!("skipped: `seecret backup` is for SQLite");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let config = dir.path().join("seecret.toml");
    std::fs::write(
        &config,
        format!("blob_store = {:?}\n", elsewhere.to_str().unwrap()),
    )
    .unwrap();
    let config_s = config.to_str().unwrap();
    let server = Server::start_with(ServerOptions::default().env("SEECRET_CONFIG", config_s));
    let content = b"kept beside, not in the data directory".repeat(100);
    let link = share(&server.client(), content.clone(), true).await;
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    // Without the config file, the backup looks in <data-dir>/blobs: it must refuse rather
    // than record a live file secret as ended.
    let archive = dir.path().join("x.backup");
    let (code, out, err) = seecret(&["backup", archive.to_str().unwrap()], &server.data_dir);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("is not in") && err.contains("--blob-store"),
        "{err}"
    );
    assert!(!archive.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "the refused backup left files behind"
    );
    // Only the config file says where the blobs are: the backup looks there.
    let (code, out, err) = seecret(
        &["backup", archive.to_str().unwrap(), "--config", config_s],
        &server.data_dir,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("and 1 file blobs") && out.contains("(0 file secrets ended"),
        "{out}"
    );
    let target = dir.path().join("restored");
    let (code, out, err) = seecret(&["restore", archive.to_str().unwrap()], &target);
    assert_eq!(code, 0, "{out}\n{err}");
    let restored = Server::start_with(ServerOptions {
        data_dir: Some(target),
        ..ServerOptions::default()
    });
    let work = tempfile::tempdir().unwrap();
    assert_eq!(
        reveal(&link, &server.base, &restored.base, work.path()).await,
        Some(content)
    );
}
