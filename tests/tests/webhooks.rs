//! Consultation webhooks, end to end: real deliveries verified by the official Standard Webhooks
//! libraries and by the README's exact snippets; crash safety; retries; the SSRF guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use seecret_core::crypto::WebhookSecret;
use seecret_tests::{
    Receiver, Server, ServerOptions, eventually, free_port, http, readme_snippet, rpc, run,
};
use serde_json::{Value, json};

fn private_ok() -> ServerOptions {
    ServerOptions::default()
        .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
        .env(
            "SEECRET_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms,200ms",
        )
        .env("SEECRET_WEBHOOK_TIMEOUT", "2s")
}

async fn create(server: &Server, body: Value) -> Value {
    let mut body = body;
    body["operation"] = json!("create_seecret");
    let (s, _, b) = rpc(&server.base, Some(server.token()), body).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn reveal(server: &Server, created: &Value) -> (u16, Value) {
    let key = created["url"].as_str().unwrap().split('#').nth(1).unwrap();
    let (s, _, b) = rpc(
        &server.base,
        None,
        json!({"operation": "reveal_seecret", "id": created["id"], "key": key}),
    )
    .await;
    (s, b)
}

/// A README snippet running as a real receiver; its output lines are collected.
struct SnippetReceiver {
    _child: seecret_tests::KillOnDrop,
    lines: Arc<Mutex<Vec<String>>>,
    port: u16,
}

impl SnippetReceiver {
    fn start(snippet: &str, file: &str, cmd: &[&str], secret: &str) -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::write(dir.join(file), readme_snippet(snippet)).unwrap();
        let port = free_port();
        let mut command = Command::new(cmd[0]);
        for a in &cmd[1..] {
            command.arg(
                a.replace("{port}", &port.to_string())
                    .replace("{file}", file),
            );
        }
        // Node resolves `standardwebhooks` from the test clients' node_modules.
        let node_path = seecret_tests::repo_path("tests/js/node_modules");
        let mut child = seecret_tests::KillOnDrop(
            command
                .current_dir(&dir)
                .env("SEECRET_WEBHOOK_SECRET", secret)
                .env("PORT", port.to_string())
                .env("NODE_PATH", &node_path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        if file.ends_with(".mjs") {
            // ESM ignores NODE_PATH: link the packages next to the script instead.
            std::os::unix::fs::symlink(&node_path, dir.join("node_modules")).unwrap();
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.0.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(l);
                }
            });
        }
        Self {
            _child: child,
            lines,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    async fn ready(&self) {
        let up = eventually(Duration::from_secs(20), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        assert!(
            up.is_some(),
            "receiver did not start: {:?}",
            self.lines.lock().unwrap()
        );
    }

    /// Lines that mention an event id (the snippets print "id type secret_id").
    fn events(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("evt_"))
            .cloned()
            .collect()
    }

    async fn wait_events(&self, n: usize) -> Vec<String> {
        let _ = eventually(Duration::from_secs(20), || async {
            (self.events().len() >= n).then_some(())
        })
        .await;
        self.events()
    }
}

/// POSTs a hand-made delivery to a receiver; returns the status.
async fn post_signed(
    url: &str,
    secret: &WebhookSecret,
    body: &[u8],
    signed_body: &[u8],
    ts: i64,
) -> u16 {
    let id = "evt_manual";
    http()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            secret.sign_standard(id, ts, signed_body),
        )
        .header("x-seecret-signature", secret.sign_body(signed_body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Python, Node and PHP with the webhook libraries: run with --features seecret-tests/external"
)]
async fn the_official_libraries_and_readme_snippets_verify_every_delivery_and_refuse_forgeries() {
    let server = Server::start_with(private_ok());
    let t = Some(server.token());
    // The account's first webhook URL creates its secret, returned once.
    let py_port_holder = free_port();
    let (s, _, acct) = rpc(
        &server.base,
        t,
        json!({"operation": "update_account",
        "webhook_url": format!("http://127.0.0.1:{py_port_holder}/hook")}),
    )
    .await;
    assert_eq!(s, 200, "{acct}");
    let secret = acct["webhook_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (_, _, again) = rpc(&server.base, t, json!({"operation": "get_account"})).await;
    assert!(
        again.get("webhook_secret").is_none(),
        "the secret is shown only once"
    );

    let py = SnippetReceiver::start(
        "webhook-python",
        "receiver.py",
        &["python3", "{file}"],
        &secret,
    );
    let node = SnippetReceiver::start("webhook-node", "receiver.mjs", &["node", "{file}"], &secret);
    let php = SnippetReceiver::start(
        "webhook-php",
        "receiver.php",
        &["php", "-S", "127.0.0.1:{port}", "{file}"],
        &secret,
    );
    for r in [&py, &node, &php] {
        r.ready().await;
    }
    let (s, _, _) = rpc(
        &server.base,
        t,
        json!({"operation": "update_account", "webhook_url": py.url()}),
    )
    .await;
    assert_eq!(s, 200);

    // Python (account URL): viewed, viewed, consumed.
    let a = create(
        &server,
        json!({"content": "a", "views": 2, "label": "to python"}),
    )
    .await;
    assert!(a.get("webhook_secret").is_none());
    assert_eq!(reveal(&server, &a).await.0, 200);
    assert_eq!(reveal(&server, &a).await.0, 200);
    // Node (the secret's own URL): viewed, consumed.
    let b = create(&server, json!({"content": "b", "webhook_url": node.url()})).await;
    assert_eq!(reveal(&server, &b).await.0, 200);
    // PHP: access_denied (wrong passphrase), then deleted.
    let c = create(
        &server,
        json!({"content": "c", "passphrase": "right", "webhook_url": php.url()}),
    )
    .await;
    let (s, _, _) = rpc(
        &server.base,
        None,
        json!({"operation": "reveal_seecret", "id": c["id"], "passphrase": "wrong",
            "key": c["url"].as_str().unwrap().split('#').nth(1).unwrap()}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = rpc(
        &server.base,
        t,
        json!({"operation": "delete_seecret", "id": c["id"]}),
    )
    .await;
    assert_eq!(s, 200);

    let types = |lines: &[String]| {
        let mut t: Vec<String> = lines
            .iter()
            .map(|l| {
                let i = l.find("seecret.").unwrap();
                l[i..].split_whitespace().next().unwrap().to_string()
            })
            .collect();
        t.sort();
        t
    };
    let py_events = py.wait_events(3).await;
    assert_eq!(
        types(&py_events),
        ["seecret.consumed", "seecret.viewed", "seecret.viewed"],
        "{py_events:?}"
    );
    assert!(
        py_events
            .iter()
            .all(|l| l.contains(a["id"].as_str().unwrap()))
    );
    let node_events = node.wait_events(2).await;
    assert_eq!(
        types(&node_events),
        ["seecret.consumed", "seecret.viewed"],
        "{node_events:?}"
    );
    let php_events = php.wait_events(2).await;
    assert_eq!(
        types(&php_events),
        ["seecret.access_denied", "seecret.deleted"],
        "{php_events:?}"
    );

    // Forgeries: each receiver accepts a fresh, correctly signed delivery and refuses a tampered
    // body, a stale timestamp and a wrong key.
    let whsec = WebhookSecret::from_stored(secret.clone());
    let body = br#"{"id":"evt_manual","type":"seecret.viewed","created_at":"2026-01-01T00:00:00Z","secret_id":"00000000-0000-7000-8000-000000000000","label":null,"views":1,"views_remaining":0,"country":null}"#;
    let tampered = String::from_utf8_lossy(body).replace("\"views\":1", "\"views\":9");
    let now = chrono_now();
    let wrong = WebhookSecret::generate();
    for r in [&py, &node, &php] {
        assert_eq!(
            post_signed(&r.url(), &whsec, body, body, now).await,
            204,
            "{}",
            r.url()
        );
        assert_eq!(
            post_signed(&r.url(), &whsec, tampered.as_bytes(), body, now).await,
            400
        );
        assert_eq!(
            post_signed(&r.url(), &whsec, body, body, now - 600).await,
            400
        );
        assert_eq!(post_signed(&r.url(), &wrong, body, body, now).await, 400);
    }

    // The bare HMAC snippet on real deliveries (recorded by a plain receiver).
    let rec = Receiver::start(|_| 204).await;
    let d = create(&server, json!({"content": "d", "webhook_url": rec.url})).await;
    assert_eq!(reveal(&server, &d).await.0, 200);
    let got = rec.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    for (i, delivery) in got.iter().enumerate() {
        let header = delivery.header("x-seecret-signature").unwrap().to_string();
        std::fs::write(dir.path().join("body"), &delivery.body).unwrap();
        std::fs::write(
            dir.path().join("tampered"),
            [&delivery.body[..], b" "].concat(),
        )
        .unwrap();
        let script = format!(
            "{}\nimport sys\nprint(verify_seecret_signature(sys.argv[1], open('body','rb').read(), sys.argv[2]),\n      verify_seecret_signature(sys.argv[1], open('tampered','rb').read(), sys.argv[2]))\n",
            readme_snippet("webhook-bare-hmac")
        );
        let (code, out, err) = run(
            Command::new("python3")
                .arg("-c")
                .arg(script)
                .arg(&secret)
                .arg(&header)
                .current_dir(dir.path()),
            Duration::from_secs(30),
        );
        assert_eq!((code, out.trim()), (0, "True False"), "delivery {i}: {err}");
        assert_eq!(
            delivery.header("x-seecret-event"),
            delivery.json()["type"].as_str()
        );
        assert!(
            !String::from_utf8_lossy(&delivery.body).contains("\"d\""),
            "content leaked"
        );
    }
    assert!(
        !server.log().contains(&secret),
        "the webhook secret reached the log"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn an_event_survives_a_crash_before_delivery_and_arrives_once() {
    let port = free_port();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let mut server = Server::start_with(private_ok().env(
        "SEECRET_WEBHOOK_RETRY_SCHEDULE",
        "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
    ));
    let (s, _, _) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "update_account", "webhook_url": hook}),
    )
    .await;
    assert_eq!(s, 200);
    let created = create(&server, json!({"content": "crash me"})).await;
    assert_eq!(reveal(&server, &created).await.0, 200);
    server.kill9(); // the receiver is not even up yet
    let data_dir = server.data_dir.clone();

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::start_on(listener, |_| 200);
    let _restarted = Server::start_with(ServerOptions {
        data_dir: Some(data_dir),
        ..private_ok().env(
            "SEECRET_WEBHOOK_RETRY_SCHEDULE",
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        )
    });
    let got = receiver.wait_for(2, Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for a duplicate to show up
    let got_after = receiver.received();
    if got_after.is_empty() {
        eprintln!("restarted log:\n{}", _restarted.log());
    }
    assert_eq!(
        got_after.len(),
        2,
        "each event exactly once: {:?}",
        got_after.iter().map(|r| r.json()).collect::<Vec<_>>()
    );
    let ids: HashSet<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let mut types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(types, ["seecret.consumed", "seecret.viewed"]);
    drop(server);
}

#[tokio::test]
async fn retries_reach_a_receiver_that_fails_three_times_and_a_410_disables_the_url() {
    let server = Server::start_with(private_ok());
    let flaky = Receiver::start(|n| if n < 3 { 500 } else { 200 }).await;
    let a = create(
        &server,
        json!({"content": "flaky", "views": 2, "webhook_url": flaky.url}),
    )
    .await;
    assert!(
        a["webhook_secret"].as_str().unwrap().starts_with("whsec_"),
        "first URL creates the secret"
    );
    assert_eq!(reveal(&server, &a).await.0, 200);
    let got = flaky.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 4);
    let ids: HashSet<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "the event id is stable across retries");
    let bodies: HashSet<_> = got.iter().map(|r| r.body.clone()).collect();
    assert_eq!(bodies.len(), 1, "the body is identical on every attempt");
    let state = eventually(Duration::from_secs(5), || async {
        let (_, _, s) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "get_seecret", "id": a["id"]}),
        )
        .await;
        (s["webhook_deliveries"][0]["state"] == "delivered").then_some(s)
    })
    .await
    .expect("delivery recorded");
    let d = &state["webhook_deliveries"][0];
    assert_eq!(
        (d["attempts"].as_u64(), d["last_status"].as_u64()),
        (Some(4), Some(200))
    );

    // A receiver that never succeeds: marked failed after the schedule, then redelivered on demand.
    // Two events (viewed, consumed) × six attempts each fail; redeliveries succeed.
    let down = Receiver::start(|n| if n < 12 { 503 } else { 200 }).await;
    let b = create(&server, json!({"content": "down", "webhook_url": down.url})).await;
    assert_eq!(reveal(&server, &b).await.0, 200);
    let failed = eventually(Duration::from_secs(20), || async {
        let (_, _, s) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "get_seecret", "id": b["id"]}),
        )
        .await;
        let deliveries = s["webhook_deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (deliveries.len() == 2 && deliveries.iter().all(|d| d["state"] == "failed"))
            .then_some(deliveries)
    })
    .await
    .expect("deliveries marked failed");
    assert_eq!(failed[0]["attempts"], 6);
    assert_eq!(failed[0]["last_status"], 503);
    for d in &failed {
        let (s, _, _) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "redeliver_webhook", "event_id": d["event_id"]}),
        )
        .await;
        assert_eq!(s, 200);
    }
    let got = down.wait_for(14, Duration::from_secs(20)).await;
    assert!(got.len() >= 14, "redelivered events arrive");

    // 410 Gone: the URL is removed from the secret; later views send nothing there.
    let gone = Receiver::start(|_| 410).await;
    let c = create(
        &server,
        json!({"content": "gone", "views": 3, "webhook_url": gone.url}),
    )
    .await;
    assert_eq!(reveal(&server, &c).await.0, 200);
    let removed = eventually(Duration::from_secs(10), || async {
        let (_, _, s) = rpc(
            &server.base,
            Some(server.token()),
            json!({"operation": "get_seecret", "id": c["id"]}),
        )
        .await;
        s.get("webhook_url").is_none().then_some(s)
    })
    .await
    .expect("webhook URL removed after 410");
    assert_eq!(removed["webhook_deliveries"][0]["last_status"], 410);
    assert_eq!(reveal(&server, &c).await.0, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gone.received().len(), 1);
    let (s, _, _) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "redeliver_webhook", "event_id": "evt_nope"}),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn webhook_urls_into_our_own_network_are_refused_and_never_contacted() {
    let server = Server::start();
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = trap.local_addr().unwrap().port();
    let hits = Arc::new(Mutex::new(0usize));
    let hits2 = hits.clone();
    let accept = tokio::spawn(async move {
        while trap.accept().await.is_ok() {
            *hits2.lock().unwrap() += 1;
        }
    });
    let ok = create(&server, json!({"content": "x"})).await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://10.0.0.1:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
    ] {
        for body in [
            json!({"operation": "create_seecret", "content": "x", "webhook_url": url}),
            json!({"operation": "update_seecret", "id": ok["id"], "webhook_url": url}),
            json!({"operation": "update_account", "webhook_url": url}),
        ] {
            let (s, _, b) = rpc(&server.base, Some(server.token()), body).await;
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (400, Some("webhook_url_forbidden")),
                "{url}: {b}"
            );
        }
    }
    let (s, _, b) = rpc(
        &server.base,
        Some(server.token()),
        json!({"operation": "update_account", "webhook_url": "not a url"}),
    )
    .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("webhook_url"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *hits.lock().unwrap(),
        0,
        "a forbidden address was contacted"
    );
    accept.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reveals_of_a_100_view_secret_send_exactly_101_events() {
    let server = Server::start_with(private_ok().env("SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE", 0));
    let rec = Receiver::start(|_| 204).await;
    let created = create(
        &server,
        json!({"content": "fan-out", "views": 100, "webhook_url": rec.url}),
    )
    .await;
    let statuses = join_all((0..100).map(|_| reveal(&server, &created))).await;
    assert!(statuses.iter().all(|(s, _)| *s == 200));
    assert_eq!(reveal(&server, &created).await.0, 410);
    let got = rec.wait_for(101, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if rec.received().len() > got.len() {
        rec.received()
    } else {
        got
    };
    let viewed = got
        .iter()
        .filter(|r| r.json()["type"] == "seecret.viewed")
        .count();
    let consumed = got
        .iter()
        .filter(|r| r.json()["type"] == "seecret.consumed")
        .count();
    assert_eq!((viewed, consumed, got.len()), (100, 1, 101));
    let ids: HashSet<_> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 101);
    let mut remaining: Vec<u64> = got
        .iter()
        .filter(|r| r.json()["type"] == "seecret.viewed")
        .map(|r| r.json()["views_remaining"].as_u64().unwrap())
        .collect();
    remaining.sort();
    assert_eq!(
        remaining,
        (0..100).collect::<Vec<u64>>(),
        "each view reports its own count"
    );
}
