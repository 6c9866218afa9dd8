//! Prometheus metrics on a listener of their own (`SEECRET_METRICS_BIND`), never the public one:
//! the exposition names routes and outcomes only, but an operator's numbers are not the public's.
//! The HTTP middleware counts requests; the engine counts what happens to secrets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Whether a recorder is installed: without one the request counters skip building their labels
/// (owned strings) on every request.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Latency buckets in seconds: fine around the product page's 80 ms promise.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Starts the `/metrics` listener on `addr`; refuses the public listener's address.
pub fn serve(addr: SocketAddr, public: SocketAddr) -> anyhow::Result<()> {
    let same_port = addr.port() == public.port() && addr.port() != 0;
    if same_port
        && (addr.ip() == public.ip() || addr.ip().is_unspecified() || public.ip().is_unspecified())
    {
        bail!(
            "SEECRET_METRICS_BIND {addr} is the public listener's address: give metrics their own"
        );
    }
    PrometheusBuilder::new()
        .with_http_listener(addr)
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
        .install()
        .with_context(|| format!("SEECRET_METRICS_BIND: serving metrics on {addr}"))?;
    ENABLED.store(true, Ordering::Relaxed);
    describe();
    tracing::info!(%addr, "metrics listening (Prometheus, /metrics)");
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_histogram};
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
        "seecret_reveals_denied_total",
        "Reveals refused, by reason (passphrase, passphrase_locked, geo_blocked, key, not_found, consumed, gone…)"
    );
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
