//! What the engine counts and gauges, as `metrics`: the server installs a Prometheus recorder
//! when `SEECRET_METRICS_BIND` is set, and without one these are no-ops. Labels are bounded sets
//! (kinds, outcomes, reasons, pool names): never an id, label, token or address.

use super::reveal::Reveal;
use super::{Engine, now};
use crate::error::{Error, GoneReason, Result};

impl Engine {
    /// Sets the gauges that describe the store right now (outbox backlog, files held,
    /// connection pools); the metrics listener calls it before each scrape.
    pub async fn sample_gauges(&self) -> Result<()> {
        let g = self.store.gauges().await?;
        metrics::gauge!("seecret_outbox_pending_events").set(g.outbox_pending as f64);
        let age = g.outbox_oldest.map_or(0.0, |t| {
            (now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("seecret_outbox_oldest_pending_age_seconds").set(age);
        metrics::gauge!("seecret_blobs_stored").set(g.blobs as f64);
        metrics::gauge!("seecret_blob_stored_bytes").set(g.blob_bytes as f64);
        for p in g.pools {
            metrics::gauge!("seecret_db_pool_connections", "pool" => p.pool, "state" => "in_use")
                .set(f64::from(p.in_use));
            metrics::gauge!("seecret_db_pool_connections", "pool" => p.pool, "state" => "idle")
                .set(f64::from(p.open - p.in_use));
            metrics::gauge!("seecret_db_pool_max_connections", "pool" => p.pool)
                .set(f64::from(p.max));
        }
        Ok(())
    }
}

/// A wrong passphrase used a secret's last attempt of the window: it is locked until the
/// window ends.
pub(super) fn locked_out() {
    metrics::counter!("seecret_passphrase_lockouts_total").increment(1);
}

/// A secret was created (`kind`: `text` or `file`).
pub(super) fn created(kind: &'static str) {
    metrics::counter!("seecret_secrets_created_total", "kind" => kind).increment(1);
}

/// A secret was deleted by its owner.
pub(super) fn deleted() {
    metrics::counter!("seecret_secrets_deleted_total").increment(1);
}

/// The sweeper expired `n` secrets.
pub(super) fn expired(n: usize) {
    metrics::counter!("seecret_secrets_expired_total").increment(n as u64);
}

/// The outcome of one reveal: a view used (and whether it was the last), or why not.
pub(super) fn reveal(result: &Result<Reveal>) {
    match result {
        Ok(r) => {
            metrics::counter!("seecret_secrets_revealed_total").increment(1);
            if r.views_remaining() == 0 {
                metrics::counter!("seecret_secrets_consumed_total").increment(1);
            }
        }
        Err(e) => {
            metrics::counter!("seecret_reveals_denied_total", "reason" => denial_reason(e))
                .increment(1);
        }
    }
}

/// Why a reveal was refused, as metrics and the audit log name it.
pub(super) fn denial_reason(e: &Error) -> &'static str {
    match e {
        Error::PassphraseRequired => "passphrase_required",
        Error::PassphraseInvalid => "passphrase",
        Error::RateLimited { .. } => "passphrase_locked",
        Error::Forbidden { code, .. } => code,
        Error::InvalidKey => "key",
        Error::NotFound => "not_found",
        Error::Gone(GoneReason::Consumed) => "consumed",
        Error::Gone(_) => "gone",
        Error::SignInRequired { .. } => "sign_in_required",
        Error::NotTheRecipient { .. } => "not_the_recipient",
        Error::ContentChanged => "content_changed",
        _ => "other",
    }
}
