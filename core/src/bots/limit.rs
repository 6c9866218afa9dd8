//! The per-user limit on creating secrets from chat.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before those back at full capacity are forgotten.
const PRUNE_AT: usize = 10_000;

/// `per_minute` secrets per user (the key) per minute, with a burst of the same size: GCRA, the
/// same quota as the server's request limits, kept in this process.
#[derive(Debug)]
pub struct PerUser {
    per_minute: u32,
    /// Per key: the theoretical arrival time of its next request.
    tat: Mutex<HashMap<String, Instant>>,
}

impl PerUser {
    /// `per_minute` secrets per key per minute; 0 disables the limit.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute,
            tat: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one secret for `key`; `Err(retry_after)` when over the limit.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window = Duration::from_secs(60);
        let interval = window / self.per_minute;
        let mut tat = match self.tat.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if tat.len() > PRUNE_AT {
            tat.retain(|_, t| *t > now);
        }
        let next = tat.get(key).copied().filter(|t| *t > now).unwrap_or(now) + interval;
        // Allowed while the next arrival stays within one window of now (the burst).
        let over = next.saturating_duration_since(now + window);
        if !over.is_zero() {
            return Err(over);
        }
        tat.insert(key.to_string(), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_then_one_per_interval_and_keys_apart() {
        let l = PerUser::per_minute(2);
        let t0 = Instant::now();
        assert!(l.check_at("a", t0).is_ok());
        assert!(l.check_at("a", t0).is_ok());
        let wait = l.check_at("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(l.check_at("b", t0).is_ok(), "another user is not affected");
        assert!(l.check_at("a", t0 + Duration::from_secs(29)).is_err());
        assert!(l.check_at("a", t0 + Duration::from_secs(30)).is_ok());
        let off = PerUser::per_minute(0);
        assert!((0..100).all(|_| off.check("a").is_ok()));
    }
}
