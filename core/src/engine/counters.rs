//! What the engine counts, as `metrics` counters: the server installs a Prometheus recorder when
//! `SEECRET_METRICS_BIND` is set, and without one these are no-ops. Labels are bounded sets
//! (kinds, outcomes, reasons): never an id, label, token or address.

use super::reveal::Reveal;
use crate::error::{Error, GoneReason};

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
pub(super) fn reveal(result: &Result<Reveal, Error>) {
    let views_remaining = match result {
        Ok(Reveal::Text(r)) => Some(r.views_remaining),
        Ok(Reveal::File(f)) => Some(f.views_remaining),
        Err(_) => None,
    };
    if let Some(left) = views_remaining {
        metrics::counter!("seecret_secrets_revealed_total").increment(1);
        if left == 0 {
            metrics::counter!("seecret_secrets_consumed_total").increment(1);
        }
        return;
    }
    let reason = match result {
        Err(Error::PassphraseRequired) => "passphrase_required",
        Err(Error::PassphraseInvalid) => "passphrase",
        Err(Error::RateLimited { .. }) => "passphrase_locked",
        Err(Error::Forbidden { code, .. }) => code,
        Err(Error::InvalidKey) => "key",
        Err(Error::NotFound) => "not_found",
        Err(Error::Gone(GoneReason::Consumed)) => "consumed",
        Err(Error::Gone(_)) => "gone",
        Err(Error::SignInRequired { .. }) => "sign_in_required",
        Err(Error::NotTheRecipient { .. }) => "not_the_recipient",
        Err(_) => "other",
        Ok(_) => return,
    };
    metrics::counter!("seecret_reveals_denied_total", "reason" => reason).increment(1);
}
