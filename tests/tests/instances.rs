//! Several stateless instances on one database. On PostgreSQL (`SEECRET_TEST_DATABASE=postgres`)
//! this is the multi-instance deployment; on SQLite the two processes share one file, which
//! SQLite also keeps exact. Views, events and expiries stay exactly-once across instances.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use seecret_tests::{Receiver, Server, ServerOptions, eventually, http, rpc};
use serde_json::{Value, json};

fn opts() -> ServerOptions {
    ServerOptions::default()
        .env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 0)
        .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
        .env("SEECRET_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms")
        .env("SEECRET_MIN_EXPIRATION", "1s")
        .env("SEECRET_SWEEP_INTERVAL", "100ms")
}

/// Two servers on the same database.
fn pair() -> (Server, Server) {
    let a = Server::start_with(opts());
    let b = Server::start_with(ServerOptions {
        data_dir: Some(a.data_dir.clone()),
        ..opts()
    });
    (a, b)
}

async fn reveals_across(a: &Server, b: &Server, created: &Value, n: usize) -> usize {
    let id = created["id"].as_str().unwrap();
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let c = http();
    let statuses = join_all((0..n).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let req = c
            .post(format!("{base}/v1/secrets/{id}/reveal"))
            .json(&json!({ "key": key }));
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 410),
        "{statuses:?}"
    );
    statuses.iter().filter(|s| **s == 200).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn views_events_and_expiries_are_exact_across_two_instances() {
    let (a, b) = pair();
    let t = Some(a.token());
    let one = rpc(
        &a.base,
        t,
        json!({"operation": "create_seecret", "content": "x", "views": 1}),
    )
    .await
    .2;
    assert_eq!(
        reveals_across(&a, &b, &one, 1000).await,
        1,
        "1 000 reveals of a 1-view secret"
    );

    let rec = Receiver::start(|_| 204).await;
    let fifty = rpc(
        &b.base,
        t,
        json!({"operation": "create_seecret", "content": "y", "views": 50,
        "webhook_url": rec.url}),
    )
    .await
    .2;
    assert_eq!(
        reveals_across(&a, &b, &fifty, 200).await,
        50,
        "200 reveals of a 50-view secret"
    );
    let got = rec.wait_for(51, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // room for a duplicate delivery
    let got = if rec.received().len() > got.len() {
        rec.received()
    } else {
        got
    };
    let ids: HashSet<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    let viewed = got
        .iter()
        .filter(|r| r.json()["type"] == "seecret.viewed")
        .count();
    assert_eq!(
        (viewed, got.len(), ids.len()),
        (50, 51, 51),
        "each event delivered once"
    );

    // Both sweepers race over the same expired secrets: each expires once, one event each.
    let mut expiring = Vec::new();
    for _ in 0..10 {
        let s = rpc(
            &a.base,
            t,
            json!({"operation": "create_seecret", "content": "z", "expiration": "1s",
            "webhook_url": rec.url}),
        )
        .await
        .2;
        expiring.push(s["id"].as_str().unwrap().to_string());
    }
    let expired = eventually(Duration::from_secs(20), || async {
        let n = rec
            .received()
            .iter()
            .filter(|r| r.json()["type"] == "seecret.expired")
            .count();
        (n >= 10).then_some(())
    })
    .await;
    assert!(expired.is_some(), "not every secret expired");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events: Vec<String> = rec
        .received()
        .iter()
        .filter(|r| r.json()["type"] == "seecret.expired")
        .map(|r| r.json()["secret_id"].as_str().unwrap().to_string())
        .collect();
    let distinct: HashSet<_> = events.iter().collect();
    assert_eq!((events.len(), distinct.len()), (10, 10), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_one_instance_is_killed_under_load_the_other_keeps_serving_and_nothing_is_lost() {
    let (mut a, b) = pair();
    let t = Some(a.token().to_string());
    let c = http();
    // Creates through both while `a` dies; every acknowledged secret must reveal on `b`.
    let mut acknowledged: Vec<Value> = Vec::new();
    for i in 0..60 {
        if i == 30 {
            a.kill9();
        }
        for s in [&a, &b] {
            let resp = c
                .post(format!("{}/api.php", s.base))
                .bearer_auth(t.as_deref().unwrap())
                .json(&json!({"operation": "create_seecret", "content": format!("n{i}")}))
                .send()
                .await;
            if let Ok(r) = resp
                && r.status() == 200
            {
                acknowledged.push(r.json().await.unwrap());
            }
        }
    }
    assert!(
        acknowledged.len() >= 89,
        "b stopped serving: {}",
        acknowledged.len()
    );
    for created in &acknowledged {
        let id = created["id"].as_str().unwrap();
        let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
        let (s, _, body) = rpc(
            &b.base,
            None,
            json!({"operation": "reveal_seecret", "id": id, "key": key}),
        )
        .await;
        assert_eq!(s, 200, "acknowledged secret {id} lost: {body}");
        let (s, _, _) = rpc(
            &b.base,
            None,
            json!({"operation": "reveal_seecret", "id": id, "key": key}),
        )
        .await;
        assert_eq!(s, 410, "a view was counted twice");
    }
}

#[tokio::test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs redis-server: run with --features seecret-tests/external"
)]
async fn a_limit_shared_through_redis_holds_across_instances_and_fails_open_when_redis_dies() {
    // Our own Redis, so the test can stop it.
    let port = seecret_tests::free_port();
    // Not daemonized, no inherited output, and killed by pid when the test ends, pass or fail.
    let mut redis = seecret_tests::KillOnDrop(
        std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = eventually(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    assert!(up.is_some(), "redis-server did not start");
    let shared = opts()
        .env("SEECRET_RATE_LIMIT_PER_MINUTE", 10)
        .env("SEECRET_REDIS_URL", format!("redis://127.0.0.1:{port}/"))
        .env(
            "SEECRET_REDIS_PREFIX",
            format!("t{}", uuid::Uuid::new_v4().simple()),
        );
    let a = Server::start_with(shared.clone());
    let b = Server::start_with(ServerOptions {
        data_dir: Some(a.data_dir.clone()),
        ..shared
    });
    let t = Some(a.token());
    let mut accepted = 0;
    for i in 0..30 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let (s, _, _) = rpc(base, t, json!({"operation": "get_account"})).await;
        assert!(s == 200 || s == 429, "{s}");
        accepted += usize::from(s == 200);
    }
    assert_eq!(accepted, 10, "a limit of 10 split over two instances");

    redis.kill();
    for _ in 0..5 {
        let (s, _, _) = rpc(&a.base, t, json!({"operation": "get_account"})).await;
        assert_eq!(s, 200, "fails open by default");
    }
    let logged = a.log().matches("Redis is unreachable").count();
    assert_eq!(logged, 1, "the outage is logged once, not per request");
}

/// A TCP relay to PostgreSQL that the test can cut and restore, like a network partition.
struct Cuttable {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Cuttable {
    async fn start(target: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs PostgreSQL on 127.0.0.1:5432: run with --features seecret-tests/external"
)]
async fn readyz_fails_while_postgresql_is_unreachable_and_recovers_without_a_restart() {
    // Always on PostgreSQL, whatever backend the rest of the run uses: SQLite cannot go away.
    let relay = Cuttable::start("127.0.0.1:5432").await;
    let name = format!("seecret_ready_{}", uuid::Uuid::new_v4().simple());
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let psql = |sql: String| {
        std::process::Command::new("psql")
            .arg(admin)
            .arg("-qc")
            .arg(sql)
            .status()
            .unwrap()
    };
    assert!(psql(format!("CREATE DATABASE {name}")).success());
    let server = Server::start_with(
        ServerOptions::default()
            .env(
                "SEECRET_DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:{}/{name}", relay.port),
            )
            .env("SEECRET_DATABASE_POOL_SIZE", 2),
    );
    let ready = |base: String| async move {
        http()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(server.base.clone()).await, 200);
    relay.set(false);
    let down = eventually(Duration::from_secs(30), || async {
        (ready(server.base.clone()).await == 503).then_some(())
    })
    .await;
    relay.set(true);
    let back = eventually(Duration::from_secs(30), || async {
        (ready(server.base.clone()).await == 200).then_some(())
    })
    .await;
    let t = server.token.clone();
    let (s, _, _) = rpc(
        &server.base,
        t.as_deref(),
        json!({"operation": "get_account"}),
    )
    .await;
    drop(server);
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    assert!(
        down.is_some(),
        "/readyz kept answering 200 with the database unreachable"
    );
    assert!(
        back.is_some(),
        "/readyz did not recover once the database came back"
    );
    assert_eq!(s, 200, "the API did not recover");
}
