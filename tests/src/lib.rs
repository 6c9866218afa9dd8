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
mod fakes;
mod oauth;
mod s3;
mod server;

pub use fakes::*;
pub use oauth::*;
pub use s3::*;
pub use server::*;

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

/// The code block that follows `<!-- snippet:NAME -->` in the Markdown file `rel` (a path under
/// the repository root), exactly as written there.
pub fn snippet_in(rel: &str, name: &str) -> String {
    let text = std::fs::read_to_string(repo_path(rel)).unwrap();
    let marker = format!("<!-- snippet:{name} -->");
    assert_eq!(text.matches(&marker).count(), 1, "{marker} once in {rel}");
    let after = text.split(&marker).nth(1).unwrap();
    let start = after.find("```").unwrap();
    let body_start = start + after[start..].find('\n').unwrap() + 1;
    let end = body_start + after[body_start..].find("\n```").unwrap();
    after[body_start..end].to_string() + "\n"
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
