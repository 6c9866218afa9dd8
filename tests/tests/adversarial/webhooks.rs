//! SSRF guard and per-account fairness of webhook deliveries.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use seecret_tests::{Receiver, Server, ServerOptions, rpc, run, seecret_bin};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// A loopback listener that must never be contacted: counts the connections it accepts.
struct Trap {
    port: u16,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Trap {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                h.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { port, hits, task }
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A receiver that accepts connections and never answers, so every delivery to it runs into the
/// delivery timeout. Tracks how many deliveries it holds open at once.
struct SlowReceiver {
    url: String,
    open: Arc<AtomicUsize>,
    max_open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowReceiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (o, m, a) = (open.clone(), max_open.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    // Read (and ignore) until the sender gives up and closes the connection.
                    let mut buf = [0u8; 4096];
                    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            url,
            open,
            max_open,
            accepted,
            task,
        }
    }
}

impl Drop for SlowReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Creates another account from the command line; returns its token.
fn second_account(server: &Server, name: &str) -> String {
    let mut cmd = Command::new(seecret_bin());
    cmd.arg("account")
        .arg("create")
        .arg("--name")
        .arg(name)
        .arg("--data-dir")
        .arg(&server.data_dir);
    if let Some(url) = &server.database_url {
        cmd.arg("--database-url").arg(url);
    }
    let (code, out, err) = run(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    out.lines().last().unwrap().trim().to_string()
}

async fn call(server: &Server, token: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = rpc(&server.base, Some(token), body).await;
    (s, b)
}

/// Every SSRF form, on every route that takes a webhook URL: 400 `webhook_url_forbidden`, one
/// and the same message whatever the reason (so refusals tell nothing about internal DNS), and
/// nothing on loopback is ever contacted.
#[tokio::test]
async fn every_ssrf_form_is_refused_with_one_message_and_never_contacted() {
    let server = Server::start();
    let token = server.token().to_string();
    let trap = Trap::start().await;
    let p = trap.port;
    let (s, ok) = call(
        &server,
        &token,
        json!({"operation": "create_seecret", "content": "x"}),
    )
    .await;
    assert_eq!(s, 200, "{ok}");
    let urls = [
        // DNS-free ways to the trap on 127.0.0.1.
        format!("http://localhost:{p}/hook"),
        format!("http://127.0.0.1:{p}/hook"),
        format!("http://2130706433:{p}/hook"),
        format!("http://[::ffff:127.0.0.1]:{p}/hook"),
        format!("http://[::ffff:0:127.0.0.1]:{p}/hook"),
        format!("http://[::127.0.0.1]:{p}/hook"),
        format!("http://[64:ff9b::7f00:1]:{p}/hook"),
        format!("http://[64:ff9b:1::7f00:1]:{p}/hook"),
        format!("http://[2002:7f00:1::]:{p}/hook"),
        format!("http://[::1]:{p}/hook"),
        // The examples: cloud metadata through local NAT64, 6to4, IPv4-translated;
        // site-local.
        "http://[64:ff9b:1::a9fe:a9fe]/".to_string(),
        "http://[2002:a9fe:a9fe::]/".to_string(),
        "http://[::ffff:0:a9fe:a9fe]/".to_string(),
        "http://[fec0::1]/".to_string(),
        // Teredo, unique-local metadata, link-local, documentation, benchmarking, multicast.
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/".to_string(),
        "http://[fd00:ec2::254]/".to_string(),
        "http://[fe80::1]/".to_string(),
        "http://[2001:db8::1]/".to_string(),
        "http://198.18.0.1/".to_string(),
        "http://203.0.113.7/".to_string(),
        "http://[ff02::1]/".to_string(),
        "http://255.255.255.255/".to_string(),
        "http://0.0.0.0/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        // Reasons that used to get their own text.
        "http://seecret-no-such-host.invalid/".to_string(),
        "ftp://example.com/".to_string(),
        "http://user:pw@example.com/".to_string(),
    ];
    let mut messages = BTreeSet::new();
    for url in &urls {
        for body in [
            json!({"operation": "create_seecret", "content": "x", "webhook_url": url}),
            json!({"operation": "update_seecret", "id": ok["id"], "webhook_url": url}),
            json!({"operation": "update_account", "webhook_url": url}),
        ] {
            let (s, b) = call(&server, &token, body).await;
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (400, Some("webhook_url_forbidden")),
                "{url}: {b}"
            );
            let message = b["error"]["message"].as_str().unwrap_or("").to_string();
            assert!(!message.contains("seecret-no-such-host"), "{message}");
            messages.insert(message);
        }
    }
    assert_eq!(
        messages.len(),
        1,
        "one text for every refusal: {messages:#?}"
    );
    // Nothing was stored, so no worker has anything to send; give one time to try anyway.
    let (_, acct) = call(&server, &token, json!({"operation": "get_account"})).await;
    assert!(acct["webhook_url"].is_null(), "{acct}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        trap.hits.load(Ordering::SeqCst),
        0,
        "the trap was contacted"
    );
}

/// `SEECRET_WEBHOOK_ALLOW_PRIVATE` is a list: it admits exactly the listed CIDR, on every route
/// and at delivery, and nothing next to it.
#[tokio::test]
async fn the_private_allow_list_admits_exactly_the_listed_cidr() {
    let server = Server::start_with(
        ServerOptions::default()
            .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
            .env("SEECRET_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms"),
    );
    let token = server.token().to_string();
    let trap = Trap::start().await;
    let p = trap.port;
    for url in [
        format!("http://127.0.0.2:{p}/hook"),
        format!("http://[::1]:{p}/hook"),
        format!("http://[::ffff:127.0.0.1]:{p}/hook"),
        format!("http://10.0.0.1:{p}/hook"),
        "http://169.254.169.254/".to_string(),
    ] {
        let (s, b) = call(
            &server,
            &token,
            json!({"operation": "update_account", "webhook_url": url}),
        )
        .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("webhook_url_forbidden")),
            "{url}: {b}"
        );
    }
    let rec = Receiver::start(|_| 204).await;
    let (s, c) = call(
        &server,
        &token,
        json!({"operation": "create_seecret", "content": "x", "webhook_url": rec.url}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let (s, b) = call(
        &server,
        &token,
        json!({"operation": "delete_seecret", "id": c["id"]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let got = rec.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "the listed address receives its event");
    assert_eq!(got[0].json()["type"], "seecret.deleted");
    assert_eq!(trap.hits.load(Ordering::SeqCst), 0);
}

/// The former boolean is refused at start-up with a message naming the list form, rather than
/// silently opening (or closing) the guard.
#[test]
fn the_former_boolean_allow_private_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        Command::new(seecret_bin())
            .arg("serve")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("SEECRET_TEST_DATABASE")
            .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "true"),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("SEECRET_WEBHOOK_ALLOW_PRIVATE") && err.contains("127.0.0.1/32"),
        "{err}"
    );
}

/// Queues `n` events for `token`'s account: its secrets are created first, then its webhook set
/// to `hook`, then the secrets deleted (one `seecret.deleted` event each), so the deliveries
/// start only once the whole backlog is about to be there.
async fn queue_events(server: &Server, token: &str, hook: &str, n: usize) {
    let mut ids = Vec::new();
    for _ in 0..n {
        let (s, c) = call(
            server,
            token,
            json!({"operation": "create_seecret", "content": "a"}),
        )
        .await;
        assert_eq!(s, 200, "{c}");
        ids.push(c["id"].clone());
    }
    let (s, r) = call(
        server,
        token,
        json!({"operation": "update_account", "webhook_url": hook}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    for id in ids {
        let (s, d) = call(
            server,
            token,
            json!({"operation": "delete_seecret", "id": id}),
        )
        .await;
        assert_eq!(s, 200, "{d}");
    }
}

fn fair_options() -> ServerOptions {
    ServerOptions::default()
        .env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32")
        // Long enough that no delivery to the slow receiver ends before the test has measured,
        // so the count of open connections is exact.
        .env("SEECRET_WEBHOOK_TIMEOUT", "6s")
        .env("SEECRET_WEBHOOK_RETRY_SCHEDULE", "1h")
        .env("SEECRET_RATE_LIMIT_PER_MINUTE", 0)
}

/// Account A's receiver never answers, and A has many events queued: A holds at most its share
/// of the delivery slots (4 of 16), and account B's event still arrives well within one delivery
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_receiver_of_one_account_does_not_delay_another_accounts_events() {
    const TIMEOUT: Duration = Duration::from_secs(6);
    let server = Server::start_with(fair_options());
    let a = server.token().to_string();
    let b = second_account(&server, "b");
    let slow = SlowReceiver::start().await;
    let fast = Receiver::start(|_| 204).await;
    let (s, r) = call(
        &server,
        &b,
        json!({"operation": "update_account", "webhook_url": fast.url}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    queue_events(&server, &a, &slow.url, 40).await;
    let started = seecret_tests::eventually(Duration::from_secs(10), || async {
        (slow.open.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    assert!(started.is_some(), "A's deliveries never started");

    // B's event, while A's receiver holds its deliveries.
    let (s, c) = call(
        &server,
        &b,
        json!({"operation": "create_seecret", "content": "b"}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let sent = Instant::now();
    let (s, d) = call(
        &server,
        &b,
        json!({"operation": "delete_seecret", "id": c["id"]}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let got = fast.wait_for(1, Duration::from_secs(30)).await;
    let waited = sent.elapsed();
    let max = slow.max_open.load(Ordering::SeqCst);
    assert_eq!(got.len(), 1, "B's event never arrived");
    assert_eq!(got[0].json()["secret_id"], c["id"]);
    assert!(
        waited < TIMEOUT,
        "B's event waited {waited:?} behind A's slow receiver (timeout {TIMEOUT:?})"
    );
    assert!(
        (1..=4).contains(&max),
        "A held {max} deliveries at once (cap 4); {} attempts so far",
        slow.accepted.load(Ordering::SeqCst)
    );
}

/// The cap counts every instance's deliveries: two servers on one database together hold no
/// more than 4 of one account's deliveries open, not 4 each (or 16 each).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_account_cap_holds_across_two_instances() {
    let first = Server::start_with(fair_options());
    let second = Server::start_with(ServerOptions {
        data_dir: Some(first.data_dir.clone()),
        ..fair_options()
    });
    let a = first.token().to_string();
    let slow = SlowReceiver::start().await;
    queue_events(&first, &a, &slow.url, 24).await;
    let four = seecret_tests::eventually(Duration::from_secs(10), || async {
        (slow.open.load(Ordering::SeqCst) >= 4).then_some(())
    })
    .await;
    assert!(four.is_some(), "A's deliveries never reached the cap");
    // Both workers poll at least every 500 ms: give the second one several chances to claim.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let max = slow.max_open.load(Ordering::SeqCst);
    assert_eq!(
        max, 4,
        "two instances held {max} of one account's deliveries at once (cap 4)"
    );
    drop(second);
}
