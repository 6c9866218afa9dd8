//! Harness for the black-box tests: starts the real `seecret` binary on a free loopback port with
//! its own data directory, captures its first-account token and its log, and stops it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seecret_core::client::Client;

/// The `seecret` binary under test (this package's `tested-seecret`, which cargo builds before
/// running the tests).
pub fn seecret_bin() -> PathBuf {
    workspace_bin("seecret")
}

/// A binary of the workspace under test: this package's `tested-NAME` (`seecret`,
/// `seecret-slack`, `seecret-discord`), built by cargo for its integration tests and found next to
/// the test executable, where `CARGO_BIN_EXE_tested-NAME` points. Tests of another package (the
/// desktop app's) find it there too when the same `cargo test --workspace` built it; the package's
/// own `NAME` binary is the fallback.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let file = |n: &str| dir.join(format!("{n}{}", std::env::consts::EXE_SUFFIX));
    let tested = file(&format!("tested-{name}"));
    if tested.exists() {
        return tested;
    }
    let own = file(name);
    assert!(
        own.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds seecret-tests' binaries)",
        tested.display()
    );
    own
}

/// Path of a file under the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The backend under test: `SEECRET_TEST_DATABASE=postgres` runs the whole black-box suite on
/// PostgreSQL (127.0.0.1:5432, user postgres), one fresh database per data directory; anything
/// else runs it on SQLite files. The tests are the same: only the harness knows.
pub fn on_postgres() -> bool {
    std::env::var("SEECRET_TEST_DATABASE").as_deref() == Ok("postgres")
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_name(data_dir: &Path) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(data_dir.to_string_lossy().as_bytes());
    format!("seecret_t_{}", hex::encode(&h[..8]))
}

fn psql(sql: &str) -> (i32, String, String) {
    run(
        Command::new("psql")
            .arg(PG_ADMIN)
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-qAtc")
            .arg(sql),
        Duration::from_secs(30),
    )
}

/// The PostgreSQL URL of a data directory's database, created if needed.
fn pg_database(data_dir: &Path) -> String {
    let name = pg_name(data_dir);
    let (_, exists, _) = psql(&format!(
        "SELECT 1 FROM pg_database WHERE datname = '{name}'"
    ));
    if exists.trim() != "1" {
        let (code, _, err) = psql(&format!("CREATE DATABASE {name}"));
        assert_eq!(code, 0, "creating {name}: {err}");
    }
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// How to start a server.
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Reuse this data directory (to restart a server on the same database).
    pub data_dir: Option<PathBuf>,
}

impl ServerOptions {
    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: impl ToString) -> Self {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

/// A running `seecret serve`.
pub struct Server {
    child: KillOnDrop,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The database URL when on PostgreSQL.
    pub database_url: Option<String>,
    owns_database: bool,
    /// Token of the first account (printed once at first start), if this start created it.
    pub token: Option<String>,
    /// The data directory.
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server with default settings in a fresh data directory.
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server and waits until it listens.
    pub fn start_with(opts: ServerOptions) -> Self {
        seecret_core::init_crypto();
        let (tmp, data_dir) = match opts.data_dir.clone() {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().unwrap();
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let database_url = on_postgres().then(|| pg_database(&data_dir));
        let mut cmd = Command::new(seecret_bin());
        if let Some(url) = &database_url {
            cmd.env("SEECRET_DATABASE_URL", url);
        }
        cmd.arg("serve")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("SEECRET_PUBLIC_URL")
            // The harness's own switch, not the server's: it would warn about it.
            .env_remove("SEECRET_TEST_DATABASE")
            .env("SEECRET_LOG", "info,seecret=debug,seecret_core=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        // Guarded from the first moment: whatever panics from here on, the process ends.
        let mut child = KillOnDrop(cmd.spawn().expect("spawn seecret serve"));
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
        let stderr = child.0.stderr.take().unwrap();
        let log_w = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("seecret listening addr=").nth(1) {
                    let _ = addr_tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut l = log_w.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (tok_tx, tok_rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.0.stdout.take().unwrap();
        let log_o = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if uuid::Uuid::try_parse(line.trim()).is_ok() {
                    let _ = tok_tx.send(line.trim().to_string());
                } else {
                    let mut l = log_o.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => panic!("server did not start; log:\n{}", log.lock().unwrap()),
        };
        let token = tok_rx.recv_timeout(Duration::from_millis(200)).ok();
        Self {
            child,
            owns_database: database_url.is_some(),
            database_url,
            base: format!("http://{addr}"),
            token,
            data_dir,
            _tmp: tmp,
            log,
        }
    }

    /// The first account's token (panics if this start did not create it).
    pub fn token(&self) -> &str {
        self.token
            .as_deref()
            .expect("this server start created no account")
    }

    /// A typed client with the first account's token.
    pub fn client(&self) -> Client {
        Client::new(&self.base, Some(self.token())).unwrap()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("seecret.db")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.0.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process at once (SIGKILL), like a crash.
    pub fn kill9(&mut self) {
        self.child.kill();
    }

    /// Keeps the data directory (and database) alive after this server is gone (for restarts).
    pub fn into_data_dir(mut self) -> (tempfile::TempDir, PathBuf) {
        self.kill9();
        self.owns_database = false;
        let tmp = self._tmp.take().expect("server owns its data dir");
        (tmp, self.data_dir.clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill();
        if self.owns_database {
            let _ = psql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_name(&self.data_dir)
            ));
        }
    }
}

/// Everything the server stored, as bytes to search: the SQLite file, its WAL and shared memory,
/// or a `pg_dump` of the PostgreSQL database.
pub fn stored_bytes(server: &Server) -> Vec<(String, Vec<u8>)> {
    if let Some(url) = &server.database_url {
        let (code, out, err) = run(Command::new("pg_dump").arg(url), Duration::from_secs(60));
        assert_eq!(code, 0, "pg_dump: {err}");
        return vec![("pg_dump".into(), out.into_bytes())];
    }
    ["", "-wal", "-shm"]
        .iter()
        .map(|ext| server.data_dir.join(format!("seecret.db{ext}")))
        .filter(|p| p.exists())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// A secret's stored envelope and status, read straight from the database.
pub fn stored_secret(server: &Server, id: &str) -> (bool, String) {
    let sql = format!(
        "SELECT CASE WHEN envelope IS NOT NULL THEN 't' ELSE 'f' END || '|' || status \
         FROM secrets WHERE id = '{id}'"
    );
    let out = match &server.database_url {
        Some(url) => {
            let (code, out, err) = run(
                Command::new("psql").arg(url).arg("-qAtc").arg(&sql),
                Duration::from_secs(30),
            );
            assert_eq!(code, 0, "{err}");
            out
        }
        None => sqlite(&server.db_path(), &sql).expect("no such secret"),
    };
    let (has, status) = out.trim().split_once('|').unwrap();
    (has == "t", status.to_string())
}

/// Runs one SQL statement on a SQLite database file (beside the server using it) and returns
/// the first column of the first row as text, if it returned rows. Callable from sync code
/// inside a test's runtime: it runs on a thread of its own.
pub fn sqlite(db: &Path, sql: &str) -> Option<String> {
    let (db, sql) = (db.to_path_buf(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db)
                .busy_timeout(Duration::from_secs(10))
                .connect()
                .await
                .unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_optional(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    })
    .join()
    .unwrap()
}

/// A plain HTTP client for raw requests.
pub fn http() -> reqwest::Client {
    seecret_core::init_crypto();
    reqwest::Client::builder().build().unwrap()
}

/// POSTs a JSON body to `/api.php` with an optional token; returns status, headers and JSON.
pub async fn rpc(
    base: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = http().post(format!("{base}/api.php")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, json)
}

/// Runs a command to completion with a timeout; returns (status code, stdout, stderr).
pub fn run(cmd: &mut Command, timeout: Duration) -> (i32, String, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    // Read the pipes while waiting: a chatty child would otherwise block on a full pipe.
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{cmd:?} timed out");
        }
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    /// Request headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: chrono_like::Instant,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Wall-clock instants for latency figures.
pub mod chrono_like {
    /// Milliseconds since the Unix epoch.
    pub type Instant = i64;
    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}

/// A webhook receiver on loopback that records every request and answers with the status the
/// `respond` function picks for the n-th request (0-based).
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start(respond: fn(usize) -> u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, respond)
    }

    /// Starts on a given listener.
    pub fn start_on(listener: tokio::net::TcpListener, respond: fn(usize) -> u16) -> Self {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen2.clone();
                async move {
                    let mut s = seen.lock().unwrap();
                    let n = s.len();
                    s.push(Received {
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect(),
                        body: body.to_vec(),
                        at: chrono_like::now_ms(),
                    });
                    StatusCode::from_u16(respond(n)).unwrap()
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            seen,
            task,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (or `timeout`), then returns them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let _ = eventually(timeout, || async {
            (self.seen.lock().unwrap().len() >= n).then_some(())
        })
        .await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free loopback port for a listener that starts later. Picked below Linux's ephemeral range
/// (32768+), so a `bind(…:0)` elsewhere in the suite cannot take it in the meantime, and never
/// handed out twice by this process.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        let mut given = GIVEN.lock().unwrap();
        if given.contains(&port) || std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        given.push(port);
        return port;
    }
}

/// The code block that follows `<!-- snippet:NAME -->` in the README or in one of the manuals
/// under `docs/`, exactly as written there (a snippet's name is unique across them).
pub fn readme_snippet(name: &str) -> String {
    let marker = format!("<!-- snippet:{name} -->");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo_path("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    docs.insert(0, repo_path("README.md"));
    let found: Vec<String> = docs
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .filter(|text| text.contains(&marker))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{marker} must be in exactly one of README.md and docs/*.md"
    );
    let after = found[0].split(&marker).nth(1).unwrap();
    let start = after.find("```").unwrap();
    let body_start = start + after[start..].find('\n').unwrap() + 1;
    let end = body_start + after[body_start..].find("\n```").unwrap();
    after[body_start..end].to_string() + "\n"
}

/// One request a [`FakeApi`] got.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query string ("" when none).
    pub query: String,
    /// Request headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Call {
    /// The body as JSON (form bodies: `Null`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a [`FakeApi`] answers a call: status and JSON body.
pub type Answer = Arc<dyn Fn(&Call) -> (u16, serde_json::Value) + Send + Sync>;

/// A stand-in for an outside HTTP API we cannot reach from tests (Slack's, Discord's): it listens
/// on loopback, records every call, and answers with `answer`. Answers can be changed while it
/// runs, to script failures.
pub struct FakeApi {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeApi {
    /// Starts on a free port.
    pub async fn start(answer: Answer) -> Self {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(answer));
        let (c2, a2) = (calls.clone(), answer.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (calls, answer) = (c2.clone(), a2.clone());
                async move {
                    let call = Call {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or("").to_string(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect(),
                        body: body.to_vec(),
                    };
                    let f = answer.lock().unwrap().clone();
                    let (status, json) = f(&call);
                    calls.lock().unwrap().push(call);
                    (StatusCode::from_u16(status).unwrap(), axum::Json(json))
                }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            calls,
            answer,
            task,
        }
    }

    /// Replaces how it answers from now on.
    pub fn answer_with(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Calls to paths ending with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.ends_with(suffix))
            .collect()
    }

    /// Waits until at least `n` calls to `suffix` arrived (or `timeout`), then returns them.
    pub async fn wait_for(&self, suffix: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let _ = eventually(timeout, || async {
            (self.calls_to(suffix).len() >= n).then_some(())
        })
        .await;
        self.calls_to(suffix)
    }

    /// Forgets the calls recorded so far.
    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A child process of a test, killed (by its handle) and reaped when the test ends, pass or fail.
/// Wrap a child in it right after `spawn`, before anything can panic. Give the child no
/// inherited stdout/stderr (null, piped or a file): a child holding the test's own output pipe
/// would keep whoever reads the test output waiting.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a process id names a live (not yet reaped) process.
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A real S3-compatible server (moto, installed by `scripts/setup-test-deps`) on a free
/// loopback port, with one bucket; stopped when dropped.
pub struct Moto {
    /// Its base URL, e.g. `http://127.0.0.1:41235`.
    pub endpoint: String,
    _child: KillOnDrop,
}

impl Moto {
    /// Starts moto and creates `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let port = free_port();
        let child = KillOnDrop(
            Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        let up = eventually(Duration::from_secs(30), || async {
            http()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        assert!(up.is_some(), "moto did not start");
        Self {
            endpoint,
            _child: child,
        }
    }
}

/// The object keys under `prefix` (e.g. `blobs/`) of the S3 bucket at `bucket_url`.
pub async fn s3_keys(bucket_url: &str, prefix: &str) -> Vec<String> {
    let listing = http()
        .get(format!("{bucket_url}?list-type=2&prefix={prefix}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next().map(str::to_string))
        .collect()
}
