//! Passphrases: Argon2 hashing and checking under a concurrency cap, and the per-secret window
//! of attempts.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;
use tracing::warn;

use super::Engine;
use super::rules::check_new_passphrase;
use crate::crypto::SecretBytes;
use crate::error::{Error, Result};
use crate::model::SecretId;
use crate::store::{AttemptClaim, SecretRecord};

impl Engine {
    pub(super) async fn check_passphrase(
        &self,
        record: &SecretRecord,
        hash: &str,
        given: Option<SecretBytes>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let max = self.cfg.passphrase_attempts_per_minute;
        let Some(given) = given.filter(|p| !p.is_empty()) else {
            // Nothing to evaluate, so nothing is counted; a locked secret still says so, so
            // the client does not prompt for a passphrase it would refuse.
            let window_end = record.pp_fail_window + chrono::Duration::seconds(60);
            if record.pp_fail_count >= max && window_end > now {
                return self.refuse_attempt(record.id, window_end, now).await;
            }
            return Err(Error::PassphraseRequired);
        };
        // Admission before the claim: a request turned away for lack of capacity must not use
        // one of the window's attempts.
        let permit = self.argon2_permit()?;
        // The attempt is counted before Argon2 runs, in one statement that also checks the
        // window, so concurrent requests (on any instance) cannot all pass a check made on a
        // stale count. A right passphrase keeps its slot: successes do not reopen the window.
        let last = match self
            .store
            .claim_passphrase_attempt(record.id, max, now)
            .await?
        {
            AttemptClaim::Granted { last } => last,
            AttemptClaim::Refused { window_end } => {
                drop(permit);
                return self.refuse_attempt(record.id, window_end, now).await;
            }
        };
        if verify_passphrase(permit, given, hash.to_string()).await? {
            return Ok(());
        }
        if last {
            super::counters::locked_out();
        }
        self.store
            .record_access_denied(record.id, "passphrase", None, None, now)
            .await?;
        self.wake.notify_one();
        warn!(id = %record.id, "wrong passphrase");
        Err(Error::PassphraseInvalid)
    }

    /// The answer to an attempt past the window's limit, with its `rate` event.
    async fn refuse_attempt(
        &self,
        id: SecretId,
        window_end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.store
            .record_access_denied(id, "rate", None, None, now)
            .await?;
        self.wake.notify_one();
        // A concurrent request may have opened the window with a slightly later `now` than
        // ours; the wait is never longer than the window itself.
        let window = Duration::from_secs(60);
        Err(Error::RateLimited {
            retry_after: (window_end - now).to_std().unwrap_or_default().min(window),
        })
    }

    /// A slot for one Argon2 computation, or `Busy` at once: Argon2 costs ~19 MiB and a core for
    /// a noticeable time, so waiting requests would pile up blocking threads and memory.
    fn argon2_permit(&self) -> Result<OwnedSemaphorePermit> {
        self.argon2
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy {
                retry_after: Duration::from_secs(1),
            })
    }

    pub(super) async fn hash_passphrase(&self, p: SecretBytes) -> Result<String> {
        check_new_passphrase(&p)?;
        let permit = self.argon2_permit()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(p.expose(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| Error::Internal("passphrase hashing failed".into()))
        })
        .await
        .map_err(|_| Error::Internal("passphrase hashing task failed".into()))?
    }
}

/// Checks a passphrase on a blocking thread, holding `permit` until Argon2 is done.
async fn verify_passphrase(
    permit: OwnedSemaphorePermit,
    p: SecretBytes,
    hash: String,
) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let parsed = PasswordHash::new(&hash)
            .map_err(|_| Error::Internal("stored passphrase hash is malformed".into()))?;
        Ok(Argon2::default()
            .verify_password(p.expose(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|_| Error::Internal("passphrase check task failed".into()))?
}
