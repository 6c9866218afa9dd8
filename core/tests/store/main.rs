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

mod accounts;
mod binding;
mod engine;
mod jobs;
mod requests;
mod secrets;
mod views;

use accounts::*;
use binding::*;
use engine::*;
use jobs::*;
use requests::*;
use secrets::*;
use views::*;

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
    usage_stays_exact_under_concurrent_writers_on_two_instances,
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
    bound_secrets_and_their_viewers,
    sign_in_tickets_are_used_once,
    chat_users_shares_settings_and_event_claims,
    corrupt_rows_are_errors,
    engine_scenario_across_two_instances,
    requests_round_trip_and_end_once,
    one_answer_wins_across_racing_instances,
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
        bound_to: None,
        ephemeral_public_key: None,
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
    s.claim_view(id, now(), None, None, 0).await.unwrap()
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
