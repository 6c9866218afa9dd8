//! The PostgreSQL store against a real server, driven through the engine the way the API server
//! drives it. Two stores (two pools) over one database stand in for two server instances.
//!
//! Needs PostgreSQL at `postgres://postgres@127.0.0.1:5432/test` (override with
//! `SEECRET_TEST_POSTGRES_URL`). Each run creates its own database and drops it at the end. If the
//! server is unreachable the test fails: a skipped test would hide a broken backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use seecret_core::api::{CreateSecret, ListQuery, RevealRequest, UpdateAccount, UpdateSecret};
use seecret_core::crypto::SecretBytes;
use seecret_core::engine::{Engine, EngineConfig, Viewer};
use seecret_core::error::GoneReason;
use seecret_core::model::{Kind, Link, SecretId, Status};
use seecret_core::store::{self, PostgresStore, SecretRecord, Store};
use seecret_core::webhook::WebhookConfig;
use seecret_core::{Error, engine::Reveal};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn admin_url() -> String {
    std::env::var("SEECRET_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// The URL of database `name` on the server `admin` points at.
fn db_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

async fn admin_conn(admin: &str) -> PgConnection {
    PgConnection::connect(admin).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {admin}: {e}. This test needs a running server \
             (start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main \
             start`, or point SEECRET_TEST_POSTGRES_URL at one)."
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_behaves_like_sqlite() {
    seecret_core::init_crypto();
    let admin = admin_url();
    let name = format!("seecret_pg_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin_conn(&admin).await;
    // The name is ours, made of hex digits only: nothing from outside reaches this SQL.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();

    // Run the scenario in its own task so the database is dropped even when it panics.
    let outcome = tokio::spawn(scenario(db_url(&admin, &name))).await;

    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        webhooks: WebhookConfig {
            allow_private: seecret_core::webhook::PrivateAllowList::parse("127.0.0.1/32").unwrap(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn text(content: &str, views: u32) -> CreateSecret {
    CreateSecret {
        content: Some(SecretBytes::from(content.to_string())),
        views: Some(views),
        ..Default::default()
    }
}

fn with_key(url: &str) -> (SecretId, RevealRequest) {
    let link = Link::parse(url).unwrap();
    let key = link.key.to_base64url().as_str().to_string();
    (
        link.id,
        RevealRequest {
            key: Some(SecretBytes::from(key)),
            proof: None,
            passphrase: None,
        },
    )
}

/// Reveals `id` `n` times at once, alternating between the two instances; returns the
/// successful reveals' (views_remaining, status) and the number of `Gone` answers.
async fn race_reveals(
    engines: &[Arc<Engine>; 2],
    id: SecretId,
    req: &RevealRequest,
    n: usize,
) -> (Vec<(u32, Status)>, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let engine = engines[i % 2].clone();
            let req = req.clone();
            tokio::spawn(async move { engine.reveal(id, req, Viewer::default()).await })
        })
        .collect();
    let mut granted = Vec::new();
    let mut gone = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Reveal::Text(r)) => {
                assert_eq!(r.content.as_ref().unwrap().expose(), b"race me");
                granted.push((r.views_remaining, r.status));
            }
            Ok(Reveal::File(_)) => panic!("a text secret revealed as a file"),
            Err(Error::Gone(GoneReason::Consumed)) => gone += 1,
            Err(e) => panic!("unexpected reveal error: {e:?}"),
        }
    }
    (granted, gone)
}

async fn scenario(url: String) {
    // Two pools over one database: two server instances, started together on an empty database,
    // so both try to migrate it at once.
    let (a, b) = tokio::join!(store::open(&url), PostgresStore::open(&url));
    let a = a.unwrap();
    let b: Arc<dyn Store> = Arc::new(b.unwrap());
    let engines = [
        Arc::new(Engine::new(a.clone(), config())),
        Arc::new(Engine::new(b.clone(), config())),
    ];
    let engine = &engines[0];
    engine.ready().await.unwrap();

    // ---- accounts ----
    let (account, token) = engine.create_account("alice", None).await.unwrap();
    assert_eq!(
        engines[1].authenticate(token.expose()).await.unwrap().id,
        account.id
    );
    assert!(matches!(
        engine.create_account("alice", None).await,
        Err(Error::InvalidInput {
            field: Some("name"),
            ..
        })
    ));
    assert_eq!(
        a.account_by_id_or_name("alice").await.unwrap().unwrap().id,
        account.id
    );
    assert_eq!(a.first_account().await.unwrap().unwrap().id, account.id);

    // ---- a 1-view secret: of 50 concurrent reveals on two instances exactly one wins ----
    let created = engine
        .create_secret(&account, text("race me", 1))
        .await
        .unwrap();
    let (id, req) = with_key(created.url.as_deref().unwrap());
    let (granted, gone) = race_reveals(&engines, id, &req, 50).await;
    assert_eq!(
        granted,
        vec![(0, Status::Consumed)],
        "exactly one reveal wins"
    );
    assert_eq!(gone, 49);
    let record = a.secret(id).await.unwrap().unwrap();
    assert_eq!(record.status, Status::Consumed);
    assert_eq!(record.views_used, 1);
    assert!(
        record.envelope.is_none(),
        "the last view erases the content"
    );
    assert_eq!(a.views(id).await.unwrap().len(), 1);

    // ---- a 3-view secret: exactly 3 ----
    let created = engine
        .create_secret(&account, text("race me", 3))
        .await
        .unwrap();
    let (id3, req3) = with_key(created.url.as_deref().unwrap());
    let (mut granted, gone) = race_reveals(&engines, id3, &req3, 50).await;
    granted.sort_by_key(|g| g.0);
    assert_eq!(
        granted,
        vec![
            (0, Status::Consumed),
            (1, Status::Active),
            (2, Status::Active)
        ]
    );
    assert_eq!(gone, 47);
    assert_eq!(a.views(id3).await.unwrap().len(), 3);

    // ---- update ----
    let created = engine
        .create_secret(&account, text("race me", 2))
        .await
        .unwrap();
    let (idu, requ) = with_key(created.url.as_deref().unwrap());
    engine
        .reveal(idu, requ.clone(), Viewer::default())
        .await
        .unwrap();
    let info = engine
        .update_secret(
            &account,
            idu,
            UpdateSecret {
                views: Some(4),
                label: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(info.views, 4);
    assert_eq!(info.views_remaining, 3);
    assert_eq!(info.label.as_deref(), Some("renamed"));
    // Fewer views than already used is refused, by the engine and by the store's own check.
    assert!(matches!(
        engine
            .update_secret(
                &account,
                idu,
                UpdateSecret {
                    views: Some(1),
                    ..Default::default()
                }
            )
            .await,
        Err(Error::InvalidInput { .. })
    ));
    let patch = store::SecretPatch {
        views_total: Some(1),
        ..Default::default()
    };
    assert!(
        !a.update_secret(account.id, idu, &patch, Utc::now())
            .await
            .unwrap()
    );
    // A consumed secret cannot be changed.
    assert!(matches!(
        engine
            .update_secret(
                &account,
                id,
                UpdateSecret {
                    label: Some("x".into()),
                    ..Default::default()
                }
            )
            .await,
        Err(Error::Gone(GoneReason::Consumed))
    ));

    // ---- delete ----
    let created = engine
        .create_secret(&account, text("race me", 1))
        .await
        .unwrap();
    let (idd, reqd) = with_key(created.url.as_deref().unwrap());
    let deleted = engine.delete_secret(&account, idd).await.unwrap();
    assert_eq!(deleted.status, Status::Deleted);
    assert!(a.secret(idd).await.unwrap().unwrap().envelope.is_none());
    assert!(matches!(
        engines[1].reveal(idd, reqd, Viewer::default()).await,
        Err(Error::Gone(GoneReason::Deleted))
    ));
    // Deleting again is an idempotent no-op; deleting a consumed secret keeps its status.
    assert_eq!(
        engine.delete_secret(&account, idd).await.unwrap().status,
        Status::Deleted
    );
    assert_eq!(
        engine.delete_secret(&account, id).await.unwrap().status,
        Status::Consumed
    );

    // ---- list with cursor paging (a fresh account, so the set is known) ----
    let (bob, _) = engine.create_account("bob", None).await.unwrap();
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(
            engine
                .create_secret(&bob, text(&format!("s{i}"), 1))
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = engines[1]
            .list_secrets(
                &bob,
                ListQuery {
                    limit: Some(3),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(page.seecrets.len() <= 3);
        seen.extend(page.seecrets.iter().map(|s| s.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, every secret once");
    let consumed = engine
        .list_secrets(
            &account,
            ListQuery {
                status: Some(Status::Consumed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let consumed: HashSet<_> = consumed.seecrets.iter().map(|s| s.id).collect();
    assert_eq!(consumed, HashSet::from([id, id3]));
    let usage = a.usage(account.id).await.unwrap();
    assert_eq!(
        (usage.active, usage.consumed, usage.deleted, usage.views),
        (1, 2, 1, 5)
    );

    // ---- webhooks: reveals write outbox rows in the same transaction ----
    let info = engine
        .update_account(
            &account,
            UpdateAccount {
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
            },
        )
        .await
        .unwrap();
    assert!(
        info.webhook_secret.is_some(),
        "first URL creates the secret"
    );
    let account = a
        .account_by_id_or_name(&account.id.to_string())
        .await
        .unwrap()
        .unwrap();
    let created = engine
        .create_secret(&account, text("race me", 2))
        .await
        .unwrap();
    let (idw, reqw) = with_key(created.url.as_deref().unwrap());
    let (granted, _) = race_reveals(&engines, idw, &reqw, 10).await;
    assert_eq!(granted.len(), 2);
    // viewed, viewed, consumed.
    assert_eq!(a.deliveries(idw).await.unwrap().len(), 3);

    // ---- passphrase failures ----
    let created = engine
        .create_secret(
            &account,
            CreateSecret {
                passphrase: Some(SecretBytes::from("hunter2".to_string())),
                ..text("race me", 1)
            },
        )
        .await
        .unwrap();
    let (idp, reqp) = with_key(created.url.as_deref().unwrap());
    let wrong = RevealRequest {
        passphrase: Some(SecretBytes::from("wrong".to_string())),
        ..reqp.clone()
    };
    for _ in 0..2 {
        assert!(matches!(
            engine.reveal(idp, wrong.clone(), Viewer::default()).await,
            Err(Error::PassphraseInvalid)
        ));
    }
    let record = b.secret(idp).await.unwrap().unwrap();
    assert_eq!(record.pp_fail_count, 2);
    assert_eq!(record.views_used, 0, "a wrong passphrase uses no view");
    let deliveries = a.deliveries(idp).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.kind == "seecret.access_denied"));
    let right = RevealRequest {
        passphrase: Some(SecretBytes::from("hunter2".to_string())),
        ..reqp
    };
    assert!(matches!(
        engines[1].reveal(idp, right, Viewer::default()).await,
        Ok(Reveal::Text(_))
    ));
    // access_denied ×2, viewed, consumed.
    let expected_events = 3 + 4;

    // ---- two claimers racing get every event exactly once ----
    let claimers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let now = Utc::now();
                    let rows = s
                        .claim_due_events(now, now + Duration::seconds(60), 2, u32::MAX)
                        .await
                        .unwrap();
                    if rows.is_empty() {
                        return got;
                    }
                    got.extend(rows);
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    let ids: HashSet<_> = claimed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), claimed.len(), "no event handed out twice");
    assert_eq!(claimed.len(), expected_events);
    let now = Utc::now();
    assert!(
        a.claim_due_events(now, now + Duration::seconds(60), 100, u32::MAX)
            .await
            .unwrap()
            .is_empty(),
        "leased events stay with their worker"
    );
    // A lost claim records nothing; the holder's attempt sticks.
    let first = claimed.first().unwrap().clone();
    let stale = seecret_core::store::OutboxRow {
        lease_token: "not-ours".into(),
        ..first.clone()
    };
    b.record_attempt(
        &stale,
        Utc::now(),
        seecret_core::store::Attempt::Delivered { status: 200 },
    )
    .await
    .unwrap();
    a.record_attempt(
        &first,
        Utc::now(),
        seecret_core::store::Attempt::Retry {
            status: Some(503),
            error: "unavailable".into(),
            next_at: Utc::now() - Duration::seconds(1),
        },
    )
    .await
    .unwrap();
    let now = Utc::now();
    let again = b
        .claim_due_events(now, now + Duration::seconds(60), 100, u32::MAX)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempts),
        (first.id.as_str(), 1)
    );
    b.record_attempt(
        &again[0],
        Utc::now(),
        seecret_core::store::Attempt::Delivered { status: 204 },
    )
    .await
    .unwrap();
    let mut delivered = a.deliveries(idw).await.unwrap();
    delivered.extend(a.deliveries(idp).await.unwrap());
    let d = delivered.iter().find(|d| d.event_id == first.id).unwrap();
    assert_eq!(
        (d.state.as_str(), d.attempts, d.last_status),
        ("delivered", 2, Some(204))
    );
    assert!(
        a.redeliver(account.id, &first.id, Utc::now())
            .await
            .unwrap()
    );
    assert!(!a.redeliver(bob.id, &first.id, Utc::now()).await.unwrap());

    // ---- two sweepers racing expire each secret once, with one event each ----
    let mut due = HashSet::new();
    for _ in 0..20 {
        let id = SecretId::new();
        let past = Utc::now() - Duration::seconds(5);
        a.insert_secret(&SecretRecord {
            id,
            account_id: account.id,
            kind: Kind::Text,
            envelope: Some(vec![1, 2, 3]),
            blob_key: None,
            size: None,
            file_name: None,
            label: None,
            passphrase_hash: None,
            allowed_countries: Vec::new(),
            webhook_url: None,
            notify: None,
            views_total: 1,
            views_used: 0,
            status: Status::Active,
            created_at: past,
            expires_at: past,
            last_viewed_at: None,
            pp_fail_count: 0,
            pp_fail_window: chrono::DateTime::UNIX_EPOCH,
            verifier: None,
            content_version: 0,
        })
        .await
        .unwrap();
        due.insert(id);
    }
    let sweepers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let rows = s.expire_due(Utc::now(), 3).await.unwrap();
                    if rows.is_empty() {
                        return got;
                    }
                    got.extend(rows.into_iter().map(|(id, _)| id));
                }
            })
        })
        .collect();
    let mut expired = Vec::new();
    for s in sweepers {
        expired.extend(s.await.unwrap());
    }
    assert_eq!(expired.len(), 20, "no secret expired twice");
    assert_eq!(expired.into_iter().collect::<HashSet<_>>(), due);
    for id in &due {
        let r = b.secret(*id).await.unwrap().unwrap();
        assert_eq!(r.status, Status::Expired);
        assert!(r.envelope.is_none());
        let d = a.deliveries(*id).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, "seecret.expired");
    }
    // The sweep finds nothing left, and retention keeps ended secrets for now.
    assert_eq!(engine.sweep().await.unwrap().expired, 0);
    assert_eq!(
        a.purge_ended(Utc::now() - Duration::days(1)).await.unwrap(),
        0
    );
}
