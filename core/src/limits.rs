//! Request rate limits: GCRA per key (an account, a client address), `per_minute` requests with a
//! burst of the same size, so a client may spend its whole minute at once but not more.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// The outcome of one rate-limit check, with what the client should be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests allowed per minute.
    pub limit: u32,
    /// Requests left in the current burst.
    pub remaining: u32,
    /// How long to wait before retrying (zero when allowed).
    pub retry_after: Duration,
}

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// A keyed in-process limiter.
pub struct Limiter {
    per_minute: u32,
    inner: Option<Keyed>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("per_minute", &self.per_minute)
            .finish()
    }
}

impl Limiter {
    /// `per_minute` requests per key per minute; 0 disables the limit.
    pub fn per_minute(per_minute: u32) -> Self {
        let inner = NonZeroU32::new(per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)).with_middleware());
        Self {
            per_minute,
            inner,
            clock: DefaultClock::default(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> u32 {
        self.per_minute
    }

    /// Counts one request for `key`.
    pub fn check(&self, key: &str) -> Decision {
        let Some(inner) = &self.inner else {
            return Decision {
                allowed: true,
                limit: 0,
                remaining: u32::MAX,
                retry_after: Duration::ZERO,
            };
        };
        match inner.check_key(&key.to_string()) {
            Ok(snapshot) => Decision {
                allowed: true,
                limit: self.per_minute,
                remaining: snapshot.remaining_burst_capacity(),
                retry_after: Duration::ZERO,
            },
            Err(not_until) => Decision {
                allowed: false,
                limit: self.per_minute,
                remaining: 0,
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }

    /// Forgets keys whose state is back to full capacity, bounding memory.
    pub fn prune(&self) {
        if let Some(inner) = &self.inner {
            inner.retain_recent();
            inner.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_after_the_limit_is_refused_with_a_wait() {
        let l = Limiter::per_minute(3);
        let d: Vec<_> = (0..4).map(|_| l.check("acct")).collect();
        assert!(d[..3].iter().all(|d| d.allowed));
        assert_eq!(d[2].remaining, 0);
        assert!(!d[3].allowed);
        assert!(d[3].retry_after > Duration::from_secs(10));
        assert!(l.check("other").allowed, "keys are independent");
    }
}
