//! Loopback stand-ins for what a test cannot reach: a webhook receiver and a scriptable fake of an outside HTTP API (Slack's, Discord's).

use super::*;

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
    /// A request as a fake server received it.
    pub fn of(
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Self {
        Self {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
        }
    }

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
    held: Held,
    task: tokio::task::JoinHandle<()>,
}

/// Calls a [`FakeApi`] holds: path suffix, and the switch that lets them be answered.
type Held = Arc<Mutex<Vec<(String, tokio::sync::watch::Receiver<bool>)>>>;

/// Calls to one path that a [`FakeApi`] records on arrival but answers only once released (a
/// slow platform, without sleeping).
pub struct Hold(tokio::sync::watch::Sender<bool>);

impl Hold {
    /// Answers the held calls, and those still to come.
    pub fn release(&self) {
        let _ = self.0.send(true);
    }
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
        let held: Held = Arc::default();
        let (c2, a2, h2) = (calls.clone(), answer.clone(), held.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (calls, answer, held) = (c2.clone(), a2.clone(), h2.clone());
                async move {
                    let call = Call::of(&method, &uri, &headers, &body);
                    calls.lock().unwrap().push(call.clone());
                    let gate = held
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|(suffix, _)| call.path.ends_with(suffix.as_str()))
                        .map(|(_, gate)| gate.clone());
                    if let Some(mut gate) = gate {
                        let _ = gate.wait_for(|open| *open).await;
                    }
                    let f = answer.lock().unwrap().clone();
                    let (status, json) = f(&call);
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
            held,
            task,
        }
    }

    /// Holds calls to paths ending with `suffix` until the [`Hold`] is released: each is
    /// recorded when it arrives and answered only then.
    pub fn hold(&self, suffix: &str) -> Hold {
        let (tx, rx) = tokio::sync::watch::channel(false);
        self.held.lock().unwrap().push((suffix.to_string(), rx));
        Hold(tx)
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

/// What Discord's REST API refuses, for a fake Discord to check before it answers a call
/// (`None`: the call passes). `bot_token` is the token the bot was given, if any.
/// - The interaction routes (`/interactions/{id}/{token}/callback` and
///   `/webhooks/{application.id}/{token}…`) are authorised by the token in their path: any
///   `Authorization` header is refused. Discord refuses the `Bot ` with nothing after it that a
///   client without a token sends (401, `{"message": "401: Unauthorized", "code": 0}`); with a
///   valid token it lets it pass, so this fake is stricter there, on purpose: the bot sends none.
/// - Every other route needs `Authorization: Bot <token>`, exactly.
/// - A deferred response (type 5) may carry no flag but EPHEMERAL (64).
/// - A message's `content` is at most 2000 characters.
pub fn discord_refusal(c: &Call, bot_token: Option<&str>) -> Option<(u16, serde_json::Value)> {
    use serde_json::json;
    let unauthorized = || Some((401, json!({"message": "401: Unauthorized", "code": 0})));
    let interaction_route = c.path.starts_with("/api/v10/webhooks/")
        || (c.path.starts_with("/api/v10/interactions/") && c.path.ends_with("/callback"));
    let auth = c.header("authorization");
    if interaction_route {
        if auth.is_some() {
            return unauthorized();
        }
    } else {
        match bot_token {
            Some(t) if auth == Some(format!("Bot {t}").as_str()) => {}
            _ => return unauthorized(),
        }
    }
    let invalid = |why: &str| {
        Some((
            400,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": [{"code": "INVALID", "message": why}]}}),
        ))
    };
    let body = c.json();
    if c.path.ends_with("/callback") && body["type"] == 5 {
        let flags = body["data"]["flags"].as_u64().unwrap_or(0);
        if flags & !64 != 0 {
            return invalid("a deferred response may only set the EPHEMERAL flag");
        }
    }
    for content in [&body["content"], &body["data"]["content"]] {
        if content.as_str().is_some_and(|t| t.chars().count() > 2000) {
            return invalid("content: must be 2000 or fewer in length");
        }
    }
    None
}
