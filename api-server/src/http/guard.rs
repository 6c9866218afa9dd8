//! Protections that run before any handler: a global cap on requests in flight, a per-request
//! deadline that only an authenticated upload may extend, and a per-address limit on failed
//! authentications that answers without asking the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as HttpBody;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{ApiError, AppState};

/// Limits of the HTTP layer, from the server's settings.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Deadline of an ordinary request (headers read to response head).
    pub request_timeout: Duration,
    /// Deadline of an authenticated file upload.
    pub upload_timeout: Duration,
    /// Requests handled at once by this instance; past it, 503 at once.
    pub max_in_flight: usize,
    /// Failed authentications a minute per client address (0: unlimited).
    pub auth_failures_per_minute: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(15 * 60),
            max_in_flight: 1024,
            auth_failures_per_minute: 30,
        }
    }
}

/// The shared state of the guards.
#[derive(Debug)]
pub struct Guards {
    limits: HttpLimits,
    in_flight: Arc<Semaphore>,
    auth_failures: FailedAuth,
}

impl Guards {
    /// Guards enforcing `limits`.
    pub fn new(limits: HttpLimits) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            auth_failures: FailedAuth::new(
                limits.auth_failures_per_minute,
                Duration::from_secs(60),
            ),
            limits,
        }
    }
}

impl Default for Guards {
    fn default() -> Self {
        Self::new(HttpLimits::default())
    }
}

/// Past the in-flight cap a request is refused at once: queueing it would only hold its
/// connection and memory longer, which is what an overload attack wants.
pub async fn cap_in_flight(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(permit) = state.guards.in_flight.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is busy, retry shortly",
        )
        .with_retry_after(1)
        .into_response();
    };
    // A streamed answer (a file download) counts until its last byte is sent.
    next.run(req).await.map(|inner| {
        Body::new(Permitted {
            inner,
            _permit: permit,
        })
    })
}

struct Permitted {
    inner: Body,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Permitted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request's deadline. It starts short for every request; an upload handler extends it once
/// the route is known to be an upload and the Bearer token has been checked, so a client cannot
/// buy a long deadline by choosing a `Content-Type`.
#[derive(Clone, Debug)]
pub struct Deadline {
    at: Arc<Mutex<Instant>>,
    upload: Duration,
}

impl Deadline {
    /// Gives an authenticated upload the long deadline, counted from now.
    pub fn extend_for_upload(&self) {
        let later = Instant::now() + self.upload;
        if let Ok(mut at) = self.at.lock()
            && *at < later
        {
            *at = later;
        }
    }

    fn get(&self) -> Instant {
        self.at
            .lock()
            .map(|at| *at)
            .unwrap_or_else(|_| Instant::now())
    }
}

/// Answers 408 when the handler has not produced a response head by the deadline.
pub async fn request_deadline(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let limits = &state.guards.limits;
    let deadline = Deadline {
        at: Arc::new(Mutex::new(Instant::now() + limits.request_timeout)),
        upload: limits.upload_timeout,
    };
    req.extensions_mut().insert(deadline.clone());
    let run = next.run(req);
    tokio::pin!(run);
    loop {
        let at = deadline.get();
        tokio::select! {
            resp = &mut run => return resp,
            () = tokio::time::sleep_until(at) => {
                if deadline.get() <= Instant::now() {
                    return ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        "the request took too long",
                    )
                    .into_response();
                }
            }
        }
    }
}

/// Counts failed authentications (401 answers to requests that carried `Authorization`) per
/// client address; past the limit the address gets 429 before its token is looked up.
pub async fn limit_auth_failures(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let ip = match super::client_ip(req.headers(), req.extensions(), &state.net) {
        Ok(ip) => ip,
        Err(e) => return e.into_response(),
    };
    let failures = &state.guards.auth_failures;
    if let Some(wait) = failures.blocked(ip) {
        crate::metrics::rate_limited("auth_failures");
        return ApiError::rate_limited(wait.as_secs_f64().ceil().max(1.0) as u64).into_response();
    }
    let resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED {
        failures.record(ip);
    }
    resp
}

/// Failed authentications per address in fixed one-minute windows, in memory: checking them
/// must cost less than the database query it saves.
#[derive(Debug)]
struct FailedAuth {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    failures: u32,
    logged: bool,
}

/// Entries kept before expired windows are dropped; bounds memory under address churn.
const PRUNE_AT: usize = 65_536;

impl FailedAuth {
    fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// How long the address must wait, when it used up its failures for this window.
    fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let key = bucket(ip);
        let mut seen = self.seen.lock().ok()?;
        let w = seen.get_mut(&key)?;
        let elapsed = w.start.elapsed();
        if elapsed >= self.window || w.failures < self.limit {
            return None;
        }
        if !w.logged {
            w.logged = true;
            // Once per address and window; the token itself is never logged.
            tracing::warn!(client = %key, failures = w.failures,
                "too many failed authentications: refusing this address for the rest of the minute");
        }
        Some(self.window - elapsed)
    }

    fn record(&self, ip: IpAddr) {
        if self.limit == 0 {
            return;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() >= PRUNE_AT {
            let window = self.window;
            seen.retain(|_, w| w.start.elapsed() < window);
        }
        let w = seen.entry(bucket(ip)).or_insert(Window {
            start: Instant::now(),
            failures: 0,
            logged: false,
        });
        if w.start.elapsed() >= self.window {
            *w = Window {
                start: Instant::now(),
                failures: 0,
                logged: false,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }
}

/// IPv6 clients usually hold a whole /64; counting per address would give them 2^64 budgets.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_another_is_not() {
        let f = FailedAuth::new(3, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(f.blocked(a).is_none());
            f.record(a);
        }
        assert!(f.blocked(a).is_some_and(|d| d <= Duration::from_secs(60)));
        assert!(f.blocked(b).is_none());
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_budget() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), a);
    }
}
