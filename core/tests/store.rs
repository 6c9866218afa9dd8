//! The store conformance suite: every `Store` method's behaviour, written once and run on both
//! backends. Each test gets a fresh database: a temporary SQLite file (always), and a database of
//! its own on PostgreSQL when `SEECRET_TEST_DATABASE=postgres` (at
//! `postgres://postgres@127.0.0.1:5432/test`, or `SEECRET_TEST_POSTGRES_URL`), dropped at the end.
//! Without that variable the PostgreSQL half prints that it was skipped and passes.
//!
//! Opening a second store over the same database stands in for a second server instance, so the
//! races between instances are exercised on both backends too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use seecret_core::Error;
use seecret_core::api::{CreateSecret, ListQuery, RevealRequest, UpdateAccount, UpdateSecret};
use seecret_core::crypto::{SecretBytes, Verifier, WebhookSecret};
use seecret_core::engine::{Engine, EngineConfig, Reveal, Viewer};
use seecret_core::error::GoneReason;
use seecret_core::link::Link;
use seecret_core::model::{AccountId, Kind, SecretId, Status};
use seecret_core::store::{
    self, AccountRecord, Attempt, AttemptClaim, OutboxRow, SecretPatch, SecretRecord, Store,
    StoreError, StoreOptions, ViewClaim,
};
use seecret_core::webhook::WebhookConfig;
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

// ---------------------------------------------------------------------------------------------
// The harness: one list of behaviours, a module per backend.

/// A fresh database; [`Db::open`] opens one more store (one more "instance") over it.
#[derive(Clone)]
struct Db {
    url: String,
}

impl Db {
    async fn open(&self) -> Arc<dyn Store> {
        store::open(&self.url, &StoreOptions::default())
            .await
            .unwrap()
    }

    /// Two stores over the database, opened at once on PostgreSQL (instances starting together
    /// both try to migrate it). SQLite instances share a file only on one host, and sqlx's SQLite
    /// migrator takes no lock: the first opening migrates it, then the second.
    async fn open_two(&self) -> [Arc<dyn Store>; 2] {
        if self.url.starts_with("postgres") {
            let (a, b) = tokio::join!(self.open(), self.open());
            [a, b]
        } else {
            [self.open().await, self.open().await]
        }
    }

    /// Runs raw SQL on the database, behind the store's back (to plant corrupt rows).
    async fn exec(&self, sql: &str) {
        if self.url.starts_with("postgres") {
            let mut c = PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await
                .unwrap();
        } else {
            let mut c = SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    seecret_core::init_crypto();
    let dir = std::env::temp_dir().join(format!("seecret-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("seecret.db").display());
    let outcome = tokio::spawn(test(Db { url })).await;
    std::fs::remove_dir_all(&dir).ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn on_postgres<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("SEECRET_TEST_DATABASE").as_deref() != Ok("postgres") {
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "{name}: PostgreSQL half skipped (set SEECRET_TEST_DATABASE=postgres to run it)"
        );
        return;
    }
    seecret_core::init_crypto();
    let admin = std::env::var("SEECRET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("SEECRET_TEST_DATABASE=postgres, but PostgreSQL is not reachable at {admin}: {e}")
    });
    let db = format!("seecret_store_{}", uuid::Uuid::new_v4().simple());
    // The name is ours, made of hex digits only: nothing from outside reaches this SQL.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{db}");
    // Run the test in its own task so the database is dropped even when it panics.
    let outcome = tokio::spawn(test(Db { url })).await;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::on_postgres(stringify!($name), super::$name).await;
                }
            )*
        }
    };
}

conformance!(
    opening_migrates_once_for_racing_instances,
    accounts,
    account_webhooks_and_signing_secrets,
    secrets_round_trip,
    insert_refuses_taken_ids_and_out_of_range_values,
    update_applies_patches_to_live_secrets_only,
    list_pages_newest_first,
    usage_counts_by_status,
    delete_erases_and_reports_once,
    claim_view_uses_views_and_erases_the_last,
    claim_view_is_exact_under_racing_instances,
    passphrase_attempts_per_window,
    access_denied_events,
    views_keep_their_order,
    expire_due_expires_each_once,
    blobs_leftovers_and_purge,
    outbox_claims_attempts_and_redelivery,
    outbox_claims_are_exact_under_racing_instances,
    endpoint_gone_removes_the_url,
    installations,
    corrupt_rows_are_errors,
    engine_scenario_across_two_instances,
);

// ---------------------------------------------------------------------------------------------
// Fixtures.

fn ms(t: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t).unwrap()
}

/// A time with whole milliseconds (what the store keeps).
fn now() -> DateTime<Utc> {
    ms(Utc::now().timestamp_millis())
}

async fn account(s: &dyn Store, name: &str) -> AccountRecord {
    let a = AccountRecord {
        id: AccountId::new(),
        name: name.into(),
        email: Some(format!("{name}@example.test")),
        plan: "self-hosted".into(),
        webhook_url: None,
        created_at: now(),
    };
    s.insert_account(&a, &token(name)).await.unwrap();
    a
}

fn token(name: &str) -> [u8; 32] {
    let mut t = [0u8; 32];
    t[..name.len().min(32)].copy_from_slice(&name.as_bytes()[..name.len().min(32)]);
    t
}

fn secret(account: &AccountRecord, views: u32) -> SecretRecord {
    let t = now();
    SecretRecord {
        id: SecretId::new(),
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
        views_total: views,
        views_used: 0,
        status: Status::Active,
        created_at: t,
        expires_at: t + Duration::hours(1),
        last_viewed_at: None,
        pp_fail_count: 0,
        pp_fail_window: DateTime::UNIX_EPOCH,
        verifier: None,
        content_version: 0,
    }
}

fn file(account: &AccountRecord, key: &str) -> SecretRecord {
    SecretRecord {
        kind: Kind::File,
        envelope: None,
        blob_key: Some(key.into()),
        size: Some(1234),
        ..secret(account, 1)
    }
}

async fn stored(s: &dyn Store, id: SecretId) -> SecretRecord {
    s.secret(id).await.unwrap().expect("the secret is stored")
}

async fn view(s: &dyn Store, id: SecretId) -> ViewClaim {
    s.claim_view(id, now(), None, 0).await.unwrap()
}

fn granted(c: &ViewClaim) -> bool {
    matches!(c, ViewClaim::Granted { .. })
}

async fn kinds(s: &dyn Store, id: SecretId) -> Vec<String> {
    let mut k: Vec<String> = s
        .deliveries(id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.kind)
        .collect();
    k.sort();
    k
}

/// An account with a webhook URL, so lifecycle changes write events.
async fn hooked(s: &dyn Store, name: &str) -> AccountRecord {
    let mut a = account(s, name).await;
    let url = "http://127.0.0.1:9/hook";
    s.set_account_webhook(a.id, Some(url), &WebhookSecret::generate())
        .await
        .unwrap();
    a.webhook_url = Some(url.into());
    a
}

async fn claim_all(s: &dyn Store) -> Vec<OutboxRow> {
    let t = now();
    s.claim_due_events(t, t + Duration::seconds(60), 100, u32::MAX)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The behaviours.

async fn opening_migrates_once_for_racing_instances(db: Db) {
    let [a, b] = db.open_two().await;
    a.ping().await.unwrap();
    b.ping().await.unwrap();
    // And a third opening finds nothing left to do.
    db.open().await.ping().await.unwrap();
}

async fn accounts(db: Db) {
    let s = db.open().await;
    assert!(s.first_account().await.unwrap().is_none());
    let alice = account(&*s, "alice").await;
    // A later creation time, so alice is the first account.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let bob = account(&*s, "bob").await;
    assert_eq!(
        s.account_by_token(&token("alice")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.account_by_token(&token("carol")).await.unwrap(), None);
    assert_eq!(
        s.account_by_id_or_name("bob").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        s.account_by_id_or_name(&alice.id.to_string())
            .await
            .unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.account_by_id_or_name("nobody").await.unwrap(), None);
    assert_eq!(s.first_account().await.unwrap().unwrap().id, alice.id);

    // Names are unique; the engine words the refusal.
    let again = AccountRecord {
        id: AccountId::new(),
        ..alice.clone()
    };
    let err = s.insert_account(&again, &token("other")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AccountNameTaken(n) if n == "alice"),
        "{err:?}"
    );
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput { field: Some("name"), message } if message == "an account named \"alice\" already exists"
    ));

    // A new token replaces the old one.
    assert!(s.set_token_hash(alice.id, &token("alice2")).await.unwrap());
    assert_eq!(s.account_by_token(&token("alice")).await.unwrap(), None);
    assert_eq!(
        s.account_by_token(&token("alice2"))
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(
        !s.set_token_hash(AccountId::new(), &token("x"))
            .await
            .unwrap()
    );
}

async fn account_webhooks_and_signing_secrets(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let t = now();
    assert!(s.webhook_secrets(a.id, t).await.unwrap().current.is_none());

    // The first URL makes the candidate the signing secret; later candidates are not taken.
    let first = WebhookSecret::generate();
    assert!(
        s.set_account_webhook(a.id, Some("http://127.0.0.1:9/a"), &first)
            .await
            .unwrap()
    );
    let other = WebhookSecret::generate();
    assert!(
        !s.set_account_webhook(a.id, Some("http://127.0.0.1:9/b"), &other)
            .await
            .unwrap()
    );
    let got = s.account_by_id_or_name("alice").await.unwrap().unwrap();
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/b"));
    // Clearing the URL keeps the secret.
    assert!(!s.set_account_webhook(a.id, None, &other).await.unwrap());
    assert_eq!(
        s.account_by_id_or_name("alice")
            .await
            .unwrap()
            .unwrap()
            .webhook_url,
        None
    );
    assert_eq!(
        s.webhook_secrets(a.id, t).await.unwrap().current,
        Some(first.clone())
    );
    assert!(!s.ensure_webhook_secret(a.id, &other).await.unwrap());
    assert!(matches!(
        s.set_account_webhook(AccountId::new(), Some("http://x"), &other)
            .await,
        Err(StoreError::NotFound)
    ));

    // An account without a secret gets one from `ensure`.
    let b = account(&*s, "bob").await;
    assert!(s.ensure_webhook_secret(b.id, &other).await.unwrap());
    assert_eq!(
        s.webhook_secrets(b.id, t).await.unwrap().current,
        Some(other.clone())
    );

    // Rotation: the previous secret signs until its deadline.
    let next = WebhookSecret::generate();
    s.rotate_webhook_secret(a.id, &next, t + Duration::seconds(60))
        .await
        .unwrap();
    let during = s.webhook_secrets(a.id, t).await.unwrap();
    assert_eq!(during.current, Some(next.clone()));
    assert_eq!(during.previous, Some(first));
    let after = s
        .webhook_secrets(a.id, t + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!((after.current, after.previous), (Some(next), None));
    assert!(matches!(
        s.webhook_secrets(AccountId::new(), t).await,
        Err(StoreError::NotFound)
    ));
}

async fn secrets_round_trip(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let full = SecretRecord {
        label: Some("label".into()),
        passphrase_hash: Some("$argon2id$…".into()),
        allowed_countries: vec!["DE".into(), "FR".into()],
        webhook_url: Some("http://127.0.0.1:9/s".into()),
        notify: Some("slack:T1:U2".into()),
        verifier: Some(Verifier::from_bytes(&[7; 32]).unwrap()),
        ..secret(&a, 3)
    };
    s.insert_secret(&full).await.unwrap();
    let got = stored(&*s, full.id).await;
    assert_eq!(got.account_id, a.id);
    assert_eq!(got.kind, Kind::Text);
    assert_eq!(got.envelope.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(got.label.as_deref(), Some("label"));
    assert_eq!(got.passphrase_hash.as_deref(), Some("$argon2id$…"));
    assert_eq!(got.allowed_countries, vec!["DE", "FR"]);
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/s"));
    assert_eq!(got.notify.as_deref(), Some("slack:T1:U2"));
    assert_eq!((got.views_total, got.views_used), (3, 0));
    assert_eq!(got.status, Status::Active);
    assert_eq!(
        (got.created_at, got.expires_at),
        (full.created_at, full.expires_at)
    );
    assert_eq!(got.last_viewed_at, None);
    assert_eq!(
        (got.pp_fail_count, got.pp_fail_window),
        (0, DateTime::UNIX_EPOCH)
    );
    assert!(got.verifier == full.verifier);
    assert_eq!(got.content_version, 0);

    let f = SecretRecord {
        file_name: Some("report.pdf".into()),
        ..file(&a, "blob-1")
    };
    s.insert_secret(&f).await.unwrap();
    let got = stored(&*s, f.id).await;
    assert_eq!(got.kind, Kind::File);
    assert_eq!(got.envelope, None);
    assert_eq!(got.blob_key.as_deref(), Some("blob-1"));
    assert_eq!(got.size, Some(1234));
    assert_eq!(got.file_name.as_deref(), Some("report.pdf"));
    assert!(got.allowed_countries.is_empty());

    assert!(s.secret(SecretId::new()).await.unwrap().is_none());
}

async fn insert_refuses_taken_ids_and_out_of_range_values(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let first = secret(&a, 1);
    s.insert_secret(&first).await.unwrap();
    // The id is taken, whoever's it is; nothing is changed.
    let clash = SecretRecord {
        envelope: Some(vec![9]),
        ..secret(&b, 1)
    };
    let clash = SecretRecord {
        id: first.id,
        ..clash
    };
    let err = s.insert_secret(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::IdTaken), "{err:?}");
    assert!(matches!(Error::from(err), Error::IdTaken));
    assert_eq!(stored(&*s, first.id).await.account_id, a.id);

    // Values the columns cannot hold are refused the same way on both backends.
    let huge = SecretRecord {
        size: Some(u64::MAX),
        ..file(&a, "blob-huge")
    };
    let err = s.insert_secret(&huge).await.unwrap_err();
    assert!(
        matches!(err, StoreError::OutOfRange { field: "size", .. }),
        "{err:?}"
    );
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput { field: Some("size"), message } if message == "the file is too large"
    ));
    let err = s.insert_secret(&secret(&a, u32::MAX)).await.unwrap_err();
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput {
            field: Some("views"),
            ..
        }
    ));
    assert!(s.secret(huge.id).await.unwrap().is_none());
}

async fn update_applies_patches_to_live_secrets_only(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let x = secret(&a, 3);
    s.insert_secret(&x).await.unwrap();
    let t = now();

    assert!(
        s.update_secret(a.id, x.id, &SecretPatch::default(), t)
            .await
            .unwrap()
    );
    let patch = SecretPatch {
        expires_at: Some(t + Duration::hours(2)),
        views_total: Some(5),
        passphrase_hash: Some(Some("hash".into())),
        label: Some(Some("renamed".into())),
        allowed_countries: Some(vec!["NL".into()]),
        webhook_url: Some(Some("http://127.0.0.1:9/x".into())),
        envelope: Some(vec![4, 5]),
        verifier: Some(Verifier::from_bytes(&[1; 32]).unwrap()),
    };
    assert!(s.update_secret(a.id, x.id, &patch, t).await.unwrap());
    let got = stored(&*s, x.id).await;
    assert_eq!(got.expires_at, t + Duration::hours(2));
    assert_eq!(got.views_total, 5);
    assert_eq!(got.passphrase_hash.as_deref(), Some("hash"));
    assert_eq!(got.label.as_deref(), Some("renamed"));
    assert_eq!(got.allowed_countries, vec!["NL"]);
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/x"));
    assert_eq!(got.envelope.as_deref(), Some(&[4u8, 5][..]));
    assert!(got.verifier == patch.verifier);
    assert_eq!(got.content_version, 1, "new content bumps the version");

    // `Some(None)` clears; other fields stay.
    let clear = SecretPatch {
        label: Some(None),
        passphrase_hash: Some(None),
        webhook_url: Some(None),
        ..Default::default()
    };
    assert!(s.update_secret(a.id, x.id, &clear, t).await.unwrap());
    let got = stored(&*s, x.id).await;
    assert_eq!(
        (got.label, got.passphrase_hash, got.webhook_url),
        (None, None, None)
    );
    assert_eq!(got.views_total, 5);

    // Not below the views already used; not someone else's; not an unknown id.
    assert!(granted(&s.claim_view(x.id, now(), None, 1).await.unwrap()));
    assert!(granted(&s.claim_view(x.id, now(), None, 1).await.unwrap()));
    let views = |v| SecretPatch {
        views_total: Some(v),
        ..Default::default()
    };
    assert!(!s.update_secret(a.id, x.id, &views(2), t).await.unwrap());
    assert!(s.update_secret(a.id, x.id, &views(3), t).await.unwrap());
    assert!(!s.update_secret(b.id, x.id, &views(4), t).await.unwrap());
    assert!(
        !s.update_secret(a.id, SecretId::new(), &views(4), t)
            .await
            .unwrap()
    );
    assert!(matches!(
        s.update_secret(a.id, x.id, &views(u32::MAX), t).await,
        Err(StoreError::OutOfRange { field: "views", .. })
    ));
    // Not once it has expired, nor once it has ended.
    assert!(
        !s.update_secret(a.id, x.id, &views(4), t + Duration::hours(3))
            .await
            .unwrap()
    );
    s.delete_secret(a.id, x.id, t).await.unwrap();
    assert!(!s.update_secret(a.id, x.id, &views(4), t).await.unwrap());
}

async fn list_pages_newest_first(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let mut made = Vec::new();
    for _ in 0..7 {
        let x = secret(&a, 1);
        s.insert_secret(&x).await.unwrap();
        made.push(x.id);
    }
    s.insert_secret(&secret(&b, 1)).await.unwrap();
    made.reverse();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.list_secrets(a.id, None, before, 3).await.unwrap();
        assert!(page.len() <= 3);
        assert!(
            page.iter().all(|r| r.envelope.is_none()),
            "listings carry no content"
        );
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page.iter().map(|r| r.id));
    }
    assert_eq!(
        seen, made,
        "newest first, every secret once, only the account's"
    );

    s.delete_secret(a.id, made[2], now()).await.unwrap();
    let deleted = s
        .list_secrets(a.id, Some(Status::Deleted), None, 10)
        .await
        .unwrap();
    assert_eq!(
        deleted.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![made[2]]
    );
    assert_eq!(deleted[0].status, Status::Deleted);
    let active = s
        .list_secrets(a.id, Some(Status::Active), None, 10)
        .await
        .unwrap();
    assert_eq!(active.len(), 6);
}

async fn usage_counts_by_status(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let u = s.usage(a.id).await.unwrap();
    assert_eq!(
        (u.active, u.consumed, u.expired, u.deleted, u.views),
        (0, 0, 0, 0, 0)
    );
    let consumed = secret(&a, 1);
    let twice = secret(&a, 3);
    let deleted = secret(&a, 1);
    let expired = SecretRecord {
        expires_at: now() - Duration::seconds(1),
        ..secret(&a, 1)
    };
    for x in [&consumed, &twice, &deleted, &expired] {
        s.insert_secret(x).await.unwrap();
    }
    assert!(granted(&view(&*s, consumed.id).await));
    assert!(granted(&view(&*s, twice.id).await));
    assert!(granted(&view(&*s, twice.id).await));
    s.delete_secret(a.id, deleted.id, now()).await.unwrap();
    s.expire_due(now(), 10).await.unwrap();
    let u = s.usage(a.id).await.unwrap();
    assert_eq!(
        (u.active, u.consumed, u.expired, u.deleted, u.views),
        (1, 1, 1, 1, 3)
    );
}

async fn delete_erases_and_reports_once(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let x = secret(&a, 1);
    let f = file(&a, "blob-1");
    s.insert_secret(&x).await.unwrap();
    s.insert_secret(&f).await.unwrap();
    let t = now();
    assert_eq!(
        s.delete_secret(b.id, x.id, t).await.unwrap(),
        None,
        "not bob's"
    );
    assert_eq!(s.delete_secret(a.id, x.id, t).await.unwrap(), Some(None));
    let got = stored(&*s, x.id).await;
    assert_eq!(got.status, Status::Deleted);
    assert!(got.envelope.is_none(), "deleting erases the content");
    assert_eq!(
        s.delete_secret(a.id, x.id, t).await.unwrap(),
        None,
        "only once"
    );
    assert_eq!(kinds(&*s, x.id).await, vec!["seecret.deleted"]);
    // A file hands back its blob to delete.
    assert_eq!(
        s.delete_secret(a.id, f.id, t).await.unwrap(),
        Some(Some("blob-1".to_string()))
    );
    assert!(!granted(&view(&*s, x.id).await));
}

async fn claim_view_uses_views_and_erases_the_last(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let x = secret(&a, 2);
    s.insert_secret(&x).await.unwrap();
    // A claim for content the caller did not check is refused, and uses nothing.
    assert!(!granted(&s.claim_view(x.id, now(), None, 1).await.unwrap()));
    let t1 = now();
    match s.claim_view(x.id, t1, Some("DE"), 0).await.unwrap() {
        ViewClaim::Granted {
            envelope,
            blob_key,
            views_remaining,
            status,
            events,
        } => {
            assert_eq!(envelope.as_deref(), Some(&[1u8, 2, 3][..]));
            assert_eq!(blob_key, None);
            assert_eq!((views_remaining, status, events), (1, Status::Active, 1));
        }
        ViewClaim::Refused => panic!("the first view is refused"),
    }
    let got = stored(&*s, x.id).await;
    assert_eq!((got.views_used, got.last_viewed_at), (1, Some(t1)));
    assert!(got.envelope.is_some());
    match view(&*s, x.id).await {
        ViewClaim::Granted {
            envelope,
            views_remaining,
            status,
            events,
            ..
        } => {
            // The content as it was, although the same transaction erased it.
            assert_eq!(envelope.as_deref(), Some(&[1u8, 2, 3][..]));
            assert_eq!((views_remaining, status, events), (0, Status::Consumed, 2));
        }
        ViewClaim::Refused => panic!("the last view is refused"),
    }
    let got = stored(&*s, x.id).await;
    assert_eq!(got.status, Status::Consumed);
    assert!(got.envelope.is_none(), "the last view erases the content");
    assert!(!granted(&view(&*s, x.id).await));
    assert_eq!(
        kinds(&*s, x.id).await,
        vec!["seecret.consumed", "seecret.viewed", "seecret.viewed"]
    );
    let views = s.views(x.id).await.unwrap();
    assert_eq!(views.len(), 2);
    assert_eq!((views[0].at, views[0].country.as_deref()), (t1, Some("DE")));

    // Expired, unknown, or with nothing left to hand out: refused.
    let late = SecretRecord {
        expires_at: now() - Duration::seconds(1),
        ..secret(&a, 1)
    };
    s.insert_secret(&late).await.unwrap();
    assert!(!granted(&view(&*s, late.id).await));
    assert!(!granted(&view(&*s, SecretId::new()).await));
    let f = file(&a, "blob-1");
    s.insert_secret(&f).await.unwrap();
    match view(&*s, f.id).await {
        ViewClaim::Granted {
            blob_key, envelope, ..
        } => {
            assert_eq!((blob_key.as_deref(), envelope), (Some("blob-1"), None));
        }
        ViewClaim::Refused => panic!("a file's view is refused"),
    }
    // No webhook: no events.
    let quiet = account(&*s, "bob").await;
    let q = secret(&quiet, 2);
    s.insert_secret(&q).await.unwrap();
    assert!(matches!(
        view(&*s, q.id).await,
        ViewClaim::Granted { events: 0, .. }
    ));
}

async fn claim_view_is_exact_under_racing_instances(db: Db) {
    let stores = db.open_two().await;
    let a = account(&*stores[0], "alice").await;
    for views in [1, 3] {
        let x = secret(&a, views);
        stores[0].insert_secret(&x).await.unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let s = stores[i % 2].clone();
                tokio::spawn(async move { s.claim_view(x.id, now(), None, 0).await.unwrap() })
            })
            .collect();
        let mut remaining = Vec::new();
        for t in tasks {
            if let ViewClaim::Granted {
                views_remaining, ..
            } = t.await.unwrap()
            {
                remaining.push(views_remaining);
            }
        }
        remaining.sort_unstable();
        assert_eq!(
            remaining,
            (0..views).collect::<Vec<_>>(),
            "exactly {views} granted"
        );
        let got = stored(&*stores[1], x.id).await;
        assert_eq!((got.status, got.views_used), (Status::Consumed, views));
        assert_eq!(stores[1].views(x.id).await.unwrap().len(), views as usize);
    }
}

async fn passphrase_attempts_per_window(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let x = secret(&a, 1);
    s.insert_secret(&x).await.unwrap();
    let t = now();
    for _ in 0..3 {
        assert_eq!(
            s.claim_passphrase_attempt(x.id, 3, t).await.unwrap(),
            AttemptClaim::Granted
        );
    }
    assert_eq!(
        s.claim_passphrase_attempt(x.id, 3, t + Duration::seconds(30))
            .await
            .unwrap(),
        AttemptClaim::Refused {
            window_end: t + Duration::seconds(60)
        }
    );
    let got = stored(&*s, x.id).await;
    assert_eq!(
        (got.pp_fail_count, got.pp_fail_window, got.views_used),
        (3, t, 0)
    );
    // A new window starts when the last one ended.
    let later = t + Duration::seconds(61);
    assert_eq!(
        s.claim_passphrase_attempt(x.id, 3, later).await.unwrap(),
        AttemptClaim::Granted
    );
    let got = stored(&*s, x.id).await;
    assert_eq!((got.pp_fail_count, got.pp_fail_window), (1, later));
    assert!(matches!(
        s.claim_passphrase_attempt(SecretId::new(), 3, t).await,
        Err(StoreError::NotFound)
    ));
    // Huge limits are fine (they are only compared).
    assert_eq!(
        s.claim_passphrase_attempt(x.id, u32::MAX, later)
            .await
            .unwrap(),
        AttemptClaim::Granted
    );
}

async fn access_denied_events(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let x = secret(&a, 1);
    s.insert_secret(&x).await.unwrap();
    s.record_access_denied(x.id, "passphrase", Some("DE"), now())
        .await
        .unwrap();
    s.record_access_denied(x.id, "country", None, now())
        .await
        .unwrap();
    assert_eq!(kinds(&*s, x.id).await, vec!["seecret.access_denied"; 2]);
    let rows = claim_all(&*s).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| r.payload.contains("passphrase")));
    assert!(
        rows.iter()
            .all(|r| r.target_url == "http://127.0.0.1:9/hook")
    );
    assert!(matches!(
        s.record_access_denied(SecretId::new(), "rate", None, now())
            .await,
        Err(StoreError::NotFound)
    ));
    // The secret's own webhook wins over the account's; `notify` adds an internal target
    // (which deliveries do not list).
    let own = SecretRecord {
        webhook_url: Some("http://127.0.0.1:9/own".into()),
        notify: Some("slack:T1:U2".into()),
        ..secret(&a, 1)
    };
    s.insert_secret(&own).await.unwrap();
    s.record_access_denied(own.id, "rate", None, now())
        .await
        .unwrap();
    let mut targets: Vec<String> = claim_all(&*s)
        .await
        .into_iter()
        .map(|r| r.target_url)
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec!["http://127.0.0.1:9/own", "internal:slack:T1:U2"]
    );
    assert_eq!(s.deliveries(own.id).await.unwrap().len(), 1);
}

async fn views_keep_their_order(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let x = secret(&a, 5);
    s.insert_secret(&x).await.unwrap();
    let t = now();
    for c in ["NL", "DE", "FR"] {
        assert!(granted(&s.claim_view(x.id, t, Some(c), 0).await.unwrap()));
    }
    assert!(granted(
        &s.claim_view(x.id, t - Duration::seconds(1), None, 0)
            .await
            .unwrap()
    ));
    let got: Vec<_> = s
        .views(x.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.country)
        .collect();
    assert_eq!(
        got,
        vec![
            None,
            Some("NL".into()),
            Some("DE".into()),
            Some("FR".into())
        ],
        "oldest first; the same millisecond in insertion order"
    );
    assert!(s.views(SecretId::new()).await.unwrap().is_empty());
}

async fn expire_due_expires_each_once(db: Db) {
    let stores = db.open_two().await;
    let s = &*stores[0];
    let a = hooked(s, "alice").await;
    let live = secret(&a, 1);
    s.insert_secret(&live).await.unwrap();
    let mut due = HashSet::new();
    for i in 0..20 {
        let base = if i == 0 {
            file(&a, "blob-due")
        } else {
            secret(&a, 1)
        };
        let x = SecretRecord {
            expires_at: now() - Duration::seconds(5),
            ..base
        };
        s.insert_secret(&x).await.unwrap();
        due.insert(x.id);
    }
    // A limit is a limit.
    let first = s.expire_due(now(), 3).await.unwrap();
    assert_eq!(first.len(), 3);
    // Two sweepers racing expire each secret once, with one event each.
    let sweepers: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let rows = s.expire_due(now(), 3).await.unwrap();
                    if rows.is_empty() {
                        return got;
                    }
                    got.extend(rows);
                }
            })
        })
        .collect();
    let mut expired = first;
    for w in sweepers {
        expired.extend(w.await.unwrap());
    }
    assert_eq!(expired.len(), 20, "no secret expired twice");
    let ids: HashSet<_> = expired.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, due);
    assert_eq!(
        expired
            .iter()
            .filter_map(|(_, b)| b.clone())
            .collect::<Vec<_>>(),
        vec!["blob-due".to_string()]
    );
    for id in &due {
        let r = stored(&*stores[1], *id).await;
        assert_eq!(r.status, Status::Expired);
        assert!(r.envelope.is_none());
        assert_eq!(kinds(s, *id).await, vec!["seecret.expired"]);
    }
    assert_eq!(stored(s, live.id).await.status, Status::Active);
    assert!(s.expire_due(now(), 100).await.unwrap().is_empty());
}

async fn blobs_leftovers_and_purge(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let live = file(&a, "blob-live");
    let gone = file(&a, "blob-gone");
    let text = secret(&a, 1);
    for x in [&live, &gone, &text] {
        s.insert_secret(x).await.unwrap();
    }
    let keys: Vec<String> = ["blob-live", "blob-gone", "orphan"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        s.referenced_blobs(&keys).await.unwrap(),
        HashSet::from(["blob-live".to_string(), "blob-gone".to_string()])
    );
    // Many keys at once (more than one statement's worth of parameters on SQLite).
    let many: Vec<String> = (0..1200)
        .map(|i| format!("k{i}"))
        .chain(["blob-live".to_string()])
        .collect();
    assert_eq!(s.referenced_blobs(&many).await.unwrap().len(), 1);
    assert!(s.referenced_blobs(&[]).await.unwrap().is_empty());

    let t = now();
    s.delete_secret(a.id, gone.id, t).await.unwrap();
    s.delete_secret(a.id, text.id, t).await.unwrap();
    let later = t + Duration::seconds(1);
    assert!(
        s.leftover_blobs(t, 10).await.unwrap().is_empty(),
        "ended at t, not before"
    );
    assert_eq!(
        s.leftover_blobs(later, 10).await.unwrap(),
        vec![(gone.id, "blob-gone".to_string())]
    );
    assert_eq!(s.leftover_blobs(later, 0).await.unwrap(), vec![]);
    // Purging keeps a row until its blob is gone.
    assert_eq!(s.purge_ended(later).await.unwrap(), 1, "the text secret");
    assert!(s.secret(text.id).await.unwrap().is_none());
    s.clear_blob(gone.id, "another-key").await.unwrap();
    assert_eq!(
        stored(&*s, gone.id).await.blob_key.as_deref(),
        Some("blob-gone")
    );
    s.clear_blob(gone.id, "blob-gone").await.unwrap();
    assert_eq!(stored(&*s, gone.id).await.blob_key, None);
    assert!(s.leftover_blobs(later, 10).await.unwrap().is_empty());
    assert_eq!(
        s.purge_ended(t).await.unwrap(),
        0,
        "retention: not ended before the cutoff"
    );
    assert_eq!(s.purge_ended(later).await.unwrap(), 1);
    assert!(
        s.secret(live.id).await.unwrap().is_some(),
        "live secrets are never purged"
    );
    s.flush_erasures().await.unwrap();
}

async fn outbox_claims_attempts_and_redelivery(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let b = hooked(&*s, "bob").await;
    let xa = secret(&a, 5);
    let xb = secret(&b, 5);
    s.insert_secret(&xa).await.unwrap();
    s.insert_secret(&xb).await.unwrap();
    for _ in 0..3 {
        assert!(granted(&view(&*s, xa.id).await));
    }
    assert!(granted(&view(&*s, xb.id).await));
    let t = now();
    let lease = t + Duration::seconds(60);
    // Per account at most 2 leased at once: alice's third waits.
    let rows = s.claim_due_events(t, lease, 10, 2).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().filter(|r| r.account_id == a.id).count(), 2);
    assert!(
        rows.iter()
            .all(|r| r.attempts == 0 && r.event_type == "seecret.viewed")
    );
    assert!(
        s.claim_due_events(t, lease, 10, 2)
            .await
            .unwrap()
            .is_empty(),
        "leases count"
    );
    let third = s.claim_due_events(t, lease, 10, 3).await.unwrap();
    assert_eq!(third.len(), 1);
    // A crashed worker's lease runs out and the events come back (with a new token).
    let after = lease + Duration::seconds(1);
    let back = s
        .claim_due_events(after, after + Duration::seconds(60), 2, 100)
        .await
        .unwrap();
    assert_eq!(back.len(), 2, "the limit holds");
    let all = s
        .claim_due_events(after, after + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    // Recording needs the current lease.
    let stale = &rows[0];
    s.record_attempt(stale, after, Attempt::Delivered { status: 200 })
        .await
        .unwrap();
    let current = back
        .iter()
        .chain(&all)
        .find(|r| r.id == stale.id)
        .unwrap()
        .clone();
    let next = after + Duration::seconds(30);
    s.record_attempt(
        &current,
        after,
        Attempt::Retry {
            status: Some(503),
            error: "unavailable".into(),
            next_at: next,
        },
    )
    .await
    .unwrap();
    let d = |id: &str, list: Vec<seecret_core::api::WebhookDelivery>| {
        list.into_iter().find(|d| d.event_id == id).unwrap()
    };
    let secret_of = if current.account_id == a.id {
        xa.id
    } else {
        xb.id
    };
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (
            got.state.as_str(),
            got.attempts,
            got.last_status,
            got.next_attempt_at
        ),
        ("pending", 1, Some(503), Some(next))
    );
    assert_eq!(
        (got.last_attempt_at, got.last_error.as_deref()),
        (Some(after), Some("unavailable"))
    );
    assert!(
        s.claim_due_events(after, after, 10, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != current.id)
    );
    let again = s
        .claim_due_events(next, next + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    let again = again.into_iter().find(|r| r.id == current.id).unwrap();
    assert_eq!(again.attempts, 1);
    s.record_attempt(&again, next, Attempt::Delivered { status: 204 })
        .await
        .unwrap();
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (
            got.state.as_str(),
            got.attempts,
            got.last_status,
            got.next_attempt_at
        ),
        ("delivered", 2, Some(204), None)
    );

    // Redelivery: only the owner's, only once it is no longer pending.
    let other = if current.account_id == a.id {
        b.id
    } else {
        a.id
    };
    assert!(!s.redeliver(other, &current.id, next).await.unwrap());
    assert!(
        s.redeliver(current.account_id, &current.id, next)
            .await
            .unwrap()
    );
    assert!(
        !s.redeliver(current.account_id, &current.id, next)
            .await
            .unwrap()
    );
    assert!(
        !s.redeliver(current.account_id, "evt_unknown", next)
            .await
            .unwrap()
    );
    let re = s
        .claim_due_events(next, next + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    let re = re.into_iter().find(|r| r.id == current.id).unwrap();
    assert_eq!(re.attempts, 0);
    s.record_attempt(
        &re,
        next,
        Attempt::Failed {
            status: None,
            error: "refused".into(),
        },
    )
    .await
    .unwrap();
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (got.state.as_str(), got.last_status, got.next_attempt_at),
        ("failed", None, None)
    );
    // Newest first.
    let list = s.deliveries(xa.id).await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.windows(2).all(|w| w[0].created_at >= w[1].created_at));
}

async fn outbox_claims_are_exact_under_racing_instances(db: Db) {
    let stores = db.open_two().await;
    let a = hooked(&*stores[0], "alice").await;
    let x = secret(&a, 30);
    stores[0].insert_secret(&x).await.unwrap();
    for _ in 0..30 {
        assert!(granted(&view(&*stores[0], x.id).await));
    }
    // viewed ×30, consumed.
    let claimers: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let t = now();
                    let rows = s
                        .claim_due_events(t, t + Duration::seconds(60), 2, 6)
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
    assert_eq!(
        claimed.len(),
        6,
        "the per-account cap holds across instances"
    );
}

async fn endpoint_gone_removes_the_url(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let url = a.webhook_url.clone().unwrap();
    let own = SecretRecord {
        webhook_url: Some(url.clone()),
        ..secret(&a, 5)
    };
    let other = SecretRecord {
        webhook_url: Some("http://127.0.0.1:9/other".into()),
        ..secret(&a, 5)
    };
    s.insert_secret(&own).await.unwrap();
    s.insert_secret(&other).await.unwrap();
    assert!(granted(&view(&*s, own.id).await));
    assert!(granted(&view(&*s, own.id).await));
    assert!(granted(&view(&*s, other.id).await));
    let t = now();
    let row = claim_all(&*s)
        .await
        .into_iter()
        .find(|r| r.target_url == url)
        .unwrap();
    s.record_attempt(&row, t, Attempt::EndpointGone)
        .await
        .unwrap();
    assert_eq!(
        s.account_by_id_or_name("alice")
            .await
            .unwrap()
            .unwrap()
            .webhook_url,
        None
    );
    let got = stored(&*s, own.id).await;
    assert_eq!(got.webhook_url, None);
    assert!(stored(&*s, other.id).await.webhook_url.is_some());
    let ds = s.deliveries(own.id).await.unwrap();
    assert!(
        ds.iter().all(|d| d.state == "failed"),
        "what was queued for it is dropped"
    );
    let gone = ds.iter().find(|d| d.event_id == row.id).unwrap();
    assert_eq!(gone.last_status, Some(410));
    assert_eq!(
        s.deliveries(other.id).await.unwrap()[0].state,
        "pending",
        "other URLs keep theirs"
    );
}

async fn installations(db: Db) {
    let s = db.open().await;
    assert_eq!(s.installation("slack", "T1").await.unwrap(), None);
    s.put_installation("slack", "T1", b"sealed-1", now())
        .await
        .unwrap();
    s.put_installation("slack", "T2", b"sealed-2", now())
        .await
        .unwrap();
    s.put_installation("slack", "T1", b"sealed-3", now())
        .await
        .unwrap();
    assert_eq!(
        s.installation("slack", "T1").await.unwrap().as_deref(),
        Some(&b"sealed-3"[..])
    );
    assert_eq!(
        s.installation("slack", "T2").await.unwrap().as_deref(),
        Some(&b"sealed-2"[..])
    );
    assert_eq!(s.installation("discord", "T1").await.unwrap(), None);
}

async fn corrupt_rows_are_errors(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let cases = [
        ("kind = 'video'", "secrets.kind"),
        ("status = 'lost'", "secrets.status"),
        ("created_at = 9223372036854775807", "secrets.created_at"),
        ("views_used = -1", "secrets.views_used"),
        ("size = -5", "secrets.size"),
        ("verifier = x'0102'", "secrets.verifier"),
    ];
    for (set, column) in cases {
        let x = secret(&a, 3);
        s.insert_secret(&x).await.unwrap();
        let set = if db.url.starts_with("postgres") {
            set.replace("x'0102'", "'\\x0102'::bytea")
        } else {
            set.to_string()
        };
        db.exec(&format!("UPDATE secrets SET {set} WHERE id = '{}'", x.id))
            .await;
        let err = s.secret(x.id).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { column: c, .. } if *c == column),
            "{set}: {err:?}"
        );
        // Users see an internal error (500), as for any storage failure.
        assert_eq!(Error::from(err).code(), "internal");
    }
    let x = secret(&a, 3);
    s.insert_secret(&x).await.unwrap();
    assert!(granted(&view(&*s, x.id).await));
    db.exec(&format!(
        "UPDATE views SET at = -9223372036854775807 WHERE secret_id = '{}'",
        x.id
    ))
    .await;
    assert!(matches!(
        s.views(x.id).await,
        Err(StoreError::Corrupt {
            column: "views.at",
            ..
        })
    ));
    db.exec("UPDATE outbox SET last_status = 70000").await;
    assert!(matches!(
        s.deliveries(x.id).await,
        Err(StoreError::Corrupt {
            column: "outbox.last_status",
            ..
        })
    ));
    db.exec(&format!(
        "UPDATE accounts SET created_at = 9223372036854775807 WHERE id = '{}'",
        a.id
    ))
    .await;
    assert!(matches!(
        s.account_by_id_or_name("alice").await,
        Err(StoreError::Corrupt {
            column: "accounts.created_at",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// The engine over the store, the way the API server drives it, with two instances.

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

async fn engine_scenario_across_two_instances(db: Db) {
    let [a, b] = db.open_two().await;
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
    assert_eq!((record.status, record.views_used), (Status::Consumed, 1));
    assert!(
        record.envelope.is_none(),
        "the last view erases the content"
    );

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

    // ---- update ----
    let created = engine
        .create_secret(&account, text("race me", 2))
        .await
        .unwrap();
    let (idu, requ) = with_key(created.url.as_deref().unwrap());
    engine.reveal(idu, requ, Viewer::default()).await.unwrap();
    let update = |views, label: Option<&str>| UpdateSecret {
        views,
        label: label.map(Into::into),
        ..Default::default()
    };
    let info = engine
        .update_secret(&account, idu, update(Some(4), Some("renamed")))
        .await
        .unwrap();
    assert_eq!((info.views, info.views_remaining), (4, 3));
    assert_eq!(info.label.as_deref(), Some("renamed"));
    assert!(matches!(
        engine
            .update_secret(&account, idu, update(Some(1), None))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        engine
            .update_secret(&account, id, update(None, Some("x")))
            .await,
        Err(Error::Gone(GoneReason::Consumed))
    ));

    // ---- delete ----
    let created = engine
        .create_secret(&account, text("race me", 1))
        .await
        .unwrap();
    let (idd, reqd) = with_key(created.url.as_deref().unwrap());
    assert_eq!(
        engine.delete_secret(&account, idd).await.unwrap().status,
        Status::Deleted
    );
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

    // ---- the sweep ----
    assert_eq!(engine.sweep().await.unwrap().expired, 0);
    assert_eq!(
        a.purge_ended(Utc::now() - Duration::days(1)).await.unwrap(),
        0
    );
}
