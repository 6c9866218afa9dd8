//! The sweep: expiry, retention, leftover blobs and uploads, caches.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{Engine, now, to_chrono};
use crate::blob::BlobStore;
use crate::error::Result;

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Secrets that expired and had their content erased.
    pub expired: usize,
    /// Ended secrets whose metadata passed the retention period and was forgotten.
    pub purged: u64,
    /// Blobs no secret names (a crash between an upload and its row), past the leftover age.
    pub orphan_blobs: usize,
    /// Leftovers of interrupted uploads (staging files, incomplete multipart uploads).
    pub stale_uploads: usize,
}

impl Engine {
    /// Expires due secrets (erasing their content) and forgets ended ones past retention.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let now = now();
        let mut report = SweepReport::default();
        loop {
            let expired = self.store.expire_due(now, 500).await?;
            report.expired += expired.len();
            super::counters::expired(expired.len());
            if !expired.is_empty() {
                self.wake.notify_one();
            }
            for (id, blob) in &expired {
                if let Some(blob) = blob {
                    self.drop_blob(*id, blob).await;
                }
            }
            if expired.len() < 500 {
                break;
            }
        }
        // Blobs whose deletion failed, or whose download was cut by a crash: give downloads in
        // progress an hour, then delete.
        for (id, blob) in self
            .store
            .leftover_blobs(now - chrono::Duration::hours(1), 500)
            .await?
        {
            self.drop_blob(id, &blob).await;
        }
        // Open requests past their expiry read as expired already; marking them lets the
        // retention purge forget them in time.
        self.store.expire_requests(now).await?;
        report.purged = self
            .store
            .purge_ended(now - to_chrono(self.cfg.retention))
            .await?;
        // Expired sign-in tickets count for nothing; they go at once.
        self.store.purge_tickets(now).await?;
        if let Some(blobs) = &self.blobs {
            // An hour (the default) is far longer than any upload takes between its last byte
            // and its row, or from its first part to its last.
            let cutoff = now - to_chrono(self.cfg.leftover_age);
            // A blob store failure must not stop the rest of the sweep (the WAL checkpoint).
            match self.remove_orphan_blobs(blobs, cutoff).await {
                Ok(n) => report.orphan_blobs = n,
                Err(e) => warn!(error = %e, "removing orphan blobs failed; will retry"),
            }
            match blobs.remove_stale_uploads(cutoff).await {
                Ok(n) => report.stale_uploads = n,
                Err(e) => warn!(error = %e, "removing interrupted uploads failed; will retry"),
            }
        }
        // Last, so the erasures of this sweep (and every reveal and delete since the previous
        // one) leave no copy in the write-ahead log.
        self.store.flush_erasures().await?;
        if let Ok(mut cache) = self.tokens.write() {
            let ttl = self.cfg.token_cache_ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        self.account_limiter.prune();
        self.address_limiter.prune();
        Ok(report)
    }

    /// Deletes the blobs last written before `cutoff` that no secret names.
    async fn remove_orphan_blobs(&self, blobs: &BlobStore, cutoff: DateTime<Utc>) -> Result<usize> {
        let old = blobs.keys_older_than(cutoff).await?;
        let mut removed = 0;
        for chunk in old.chunks(500) {
            let named = self.store.referenced_blobs(chunk).await?;
            for key in chunk.iter().filter(|k| !named.contains(*k)) {
                blobs.delete(key).await?;
                removed += 1;
            }
        }
        if removed > 0 {
            info!(removed, "orphan blobs removed");
        }
        Ok(removed)
    }
}
