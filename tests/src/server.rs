//! The server under test: `seecret serve` on a free port, on SQLite or PostgreSQL, and what it stored.

use super::*;

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
                // The same line as JSON (`SEECRET_LOG_FORMAT=json`).
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "seecret listening"
                    && let Some(addr) = v["addr"].as_str()
                {
                    let _ = addr_tx.send(addr.to_string());
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

/// A plain server (no chat settings) that may send webhooks to loopback, and its account's
/// webhook secret: what a standalone bot runs against.
pub async fn server_for_standalone_bot() -> (Server, String) {
    let server = tokio::task::spawn_blocking(|| {
        Server::start_with(
            ServerOptions::default().env("SEECRET_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1/32"),
        )
    })
    .await
    .unwrap();
    let rotated: serde_json::Value = http()
        .post(format!("{}/v1/account/rotate-webhook-secret", server.base))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let whsec = rotated["webhook_secret"].as_str().unwrap().to_string();
    (server, whsec)
}
