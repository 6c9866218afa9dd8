//! Prometheus metrics on a listener of their own (`SEECRET_METRICS_BIND`), never the public one:
//! the exposition names routes and outcomes only, but an operator's numbers are not the public's.
//! The HTTP middleware counts requests; the engine counts what happens to secrets, and samples
//! the store's gauges (outbox backlog, files held, pools) when a scrape asks, so they are never
//! staler than the scrape.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use seecret_core::engine::Engine;
use tokio::net::TcpListener;

/// Whether a recorder is installed: without one the request counters skip building their labels
/// (owned strings) on every request.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Latency buckets in seconds: fine around the product page's 80 ms promise.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The installed recorder and its bound listener, until the engine exists to serve it.
pub struct Metrics {
    handle: PrometheusHandle,
    listener: TcpListener,
}

/// Installs the recorder and binds `addr`, refusing the public listener's address. Done before
/// anything else starts, so start-up is counted too; [`Metrics::serve`] answers scrapes once the
/// engine is open.
pub async fn install(addr: SocketAddr, public: SocketAddr) -> anyhow::Result<Metrics> {
    let same_port = addr.port() == public.port() && addr.port() != 0;
    if same_port
        && (addr.ip() == public.ip() || addr.ip().is_unspecified() || public.ip().is_unspecified())
    {
        bail!(
            "SEECRET_METRICS_BIND {addr} is the public listener's address: give metrics their own"
        );
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("SEECRET_METRICS_BIND: listening on {addr}"))?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("seecret_http_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("seecret_event_delivery_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
        })
        .context("SEECRET_METRICS_BIND: latency buckets")?
        .install_recorder()
        .context("SEECRET_METRICS_BIND: installing the metrics recorder")?;
    ENABLED.store(true, Ordering::Relaxed);
    describe();
    zeros();
    Ok(Metrics { handle, listener })
}

impl Metrics {
    /// Answers `GET /metrics` on the metrics listener, sampling `engine`'s gauges first.
    pub fn serve(self, engine: Arc<Engine>) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        // Histogram samples are buffered until drained: `render` drains them at each scrape, and
        // this bounds the buffers when scrapes are rare.
        let upkeep = self.handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(scrape))
            .with_state((self.handle, engine));
        let listener = self.listener;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
        tracing::info!(%addr, "metrics listening (Prometheus, /metrics)");
        Ok(())
    }
}

async fn scrape(
    State((handle, engine)): State<(PrometheusHandle, Arc<Engine>)>,
) -> impl IntoResponse {
    // A store that does not answer still gets its counters scraped; the gauges say so by
    // `seecret_store_up` instead of going stale silently.
    match engine.sample_gauges().await {
        Ok(()) => metrics::gauge!("seecret_store_up").set(1.0),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: sampling the store's gauges failed");
            metrics::gauge!("seecret_store_up").set(0.0);
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "seecret_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "seecret_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to the response's headers, by method and route template"
    );
    describe_counter!(
        "seecret_secrets_created_total",
        "Secrets created, by kind (text, file)"
    );
    describe_counter!("seecret_secrets_revealed_total", "Reveals that used a view");
    describe_counter!(
        "seecret_secrets_consumed_total",
        "Reveals that used the last view"
    );
    describe_counter!(
        "seecret_secrets_expired_total",
        "Secrets the sweeper expired"
    );
    describe_counter!(
        "seecret_secrets_deleted_total",
        "Secrets their owner deleted"
    );
    describe_counter!(
        "seecret_event_deliveries_total",
        "Event delivery attempts (webhooks, in-process bot sinks) by target and result (delivered, retry, failed, gone)"
    );
    describe_histogram!(
        "seecret_event_delivery_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one event delivery attempt, by target"
    );
    describe_counter!(
        "seecret_passphrase_lockouts_total",
        "Wrong passphrases that used a secret's last attempt of the minute, locking it until the minute ends"
    );
    describe_counter!(
        "seecret_rate_limited_total",
        "Requests refused 429 by a rate limit, by limit (account, address, anonymous, auth_failures)"
    );
    describe_gauge!(
        "seecret_outbox_pending_events",
        "Events (webhooks, bot notices) waiting for delivery, due now or retrying later"
    );
    describe_gauge!(
        "seecret_outbox_oldest_pending_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest event waiting for delivery (0 when none waits)"
    );
    describe_gauge!(
        "seecret_blobs_stored",
        "Files held in the blob store (live secrets, and ended ones not yet cleared)"
    );
    describe_gauge!(
        "seecret_blob_stored_bytes",
        metrics::Unit::Bytes,
        "Sizes of the files held in the blob store, as uploaded"
    );
    describe_counter!(
        "seecret_blob_bytes_total",
        metrics::Unit::Bytes,
        "Bytes written to and read from the blob store, by op (write, read)"
    );
    describe_counter!(
        "seecret_blob_errors_total",
        "Blob store operations that failed, by op (write, read, delete); a file a row names but the store lacks is a read error"
    );
    describe_gauge!(
        "seecret_db_pool_connections",
        "Database connections open, by pool (writer, reader: SQLite; main: PostgreSQL) and state (in_use, idle)"
    );
    describe_gauge!(
        "seecret_db_pool_max_connections",
        "Each database pool's ceiling"
    );
    describe_counter!(
        "seecret_audit_errors_total",
        "Audit records that could not be written (each is also logged as an error)"
    );
    describe_gauge!(
        "seecret_store_up",
        "1 when the last scrape could read the store's gauges, else 0"
    );
    describe_counter!(
        "seecret_reveals_denied_total",
        "Reveals refused, by reason (passphrase, passphrase_locked, geo_blocked, key, not_found, consumed, gone…)"
    );
}

/// Starts the counters of rare events at zero, so a scrape lists them before the first one and
/// `increase()` in an alert sees that first one.
fn zeros() {
    use metrics::counter;
    for name in [
        "seecret_audit_errors_total",
        "seecret_passphrase_lockouts_total",
        "seecret_secrets_revealed_total",
        "seecret_secrets_consumed_total",
        "seecret_secrets_expired_total",
        "seecret_secrets_deleted_total",
    ] {
        counter!(name).increment(0);
    }
    for op in ["write", "read", "delete"] {
        counter!("seecret_blob_errors_total", "op" => op).increment(0);
    }
    for limit in ["account", "address", "anonymous", "auth_failures"] {
        counter!("seecret_rate_limited_total", "limit" => limit).increment(0);
    }
}

/// Counts one answered request.
pub fn request(method: &str, route: &str, status: u16, seconds: f64) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    metrics::counter!(
        "seecret_http_requests_total",
        "method" => method.to_string(),
        "route" => route.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "seecret_http_request_duration_seconds",
        "method" => method.to_string(),
        "route" => route.to_string()
    )
    .record(seconds);
}

/// Counts one request refused by a rate limit (`limit`: account, address, anonymous,
/// auth_failures).
pub fn rate_limited(limit: &'static str) {
    metrics::counter!("seecret_rate_limited_total", "limit" => limit).increment(1);
}
