//! Request rate limits: GCRA per key (an account, a client address), `per_minute` requests with a
//! burst of the same size, so a client may spend its whole minute at once but not more.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

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

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

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
            .map(|n| governor::RateLimiter::keyed(Quota::per_minute(n)).with_middleware());
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

/// GCRA in Redis, one round trip per request, so every instance shares each key's budget. The
/// script keeps the theoretical arrival time (TAT) per key and uses Redis's clock, so instances
/// with skewed clocks still agree. Same quota as [`Limiter`]: `limit` per minute, burst `limit`.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, math.floor((now + burst * interval - new_tat) / interval), 0}
"#;

/// A limiter whose state lives in Redis, shared by every instance.
pub struct RedisLimiter {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
    per_minute: u32,
    prefix: String,
    fail_open: bool,
    failing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("per_minute", &self.per_minute)
            .field("prefix", &self.prefix)
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

impl RedisLimiter {
    /// `per_minute` requests per key, keys under `prefix`. When Redis does not answer within
    /// 250 ms, requests are let through (`fail_open`) or refused for a second.
    pub fn new(
        conn: redis::aio::ConnectionManager,
        per_minute: u32,
        prefix: &str,
        fail_open: bool,
    ) -> Self {
        Self {
            conn,
            script: redis::Script::new(GCRA),
            per_minute,
            prefix: prefix.to_string(),
            fail_open,
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn check(&self, key: &str) -> Decision {
        if self.per_minute == 0 {
            return Limiter::per_minute(0).check(key);
        }
        let interval_ms = 60_000.0 / f64::from(self.per_minute);
        let mut conn = self.conn.clone();
        let call = async {
            self.script
                .key(format!("{}:{key}", self.prefix))
                .arg(interval_ms)
                .arg(self.per_minute)
                .invoke_async::<(i64, i64, i64)>(&mut conn)
                .await
        };
        let outcome = tokio::time::timeout(Duration::from_millis(250), call).await;
        match outcome {
            Ok(Ok((allowed, remaining, wait_ms))) => {
                if self
                    .failing
                    .swap(false, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!("Redis answers again: shared rate limits are back");
                }
                Decision {
                    allowed: allowed == 1,
                    limit: self.per_minute,
                    remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                    retry_after: Duration::from_millis(wait_ms.max(0).unsigned_abs()),
                }
            }
            failed => {
                // Log the outage once, not once per request.
                if !self
                    .failing
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    tracing::error!(error = %why, fail_open = self.fail_open,
                        "Redis is unreachable: rate limits fail {}", if self.fail_open { "open" } else { "closed" });
                }
                Decision {
                    allowed: self.fail_open,
                    limit: self.per_minute,
                    remaining: 0,
                    retry_after: Duration::from_secs(1),
                }
            }
        }
    }
}

/// A rate limiter: in this process, or shared through Redis.
#[derive(Debug)]
pub enum RateLimiter {
    /// Per instance (governor).
    Local(Limiter),
    /// Shared by all instances.
    Redis(RedisLimiter),
}

impl RateLimiter {
    /// Counts one request for `key`.
    pub async fn check(&self, key: &str) -> Decision {
        match self {
            Self::Local(l) => l.check(key),
            Self::Redis(r) => r.check(key).await,
        }
    }

    /// Frees memory of idle keys (Redis expires its own).
    pub fn prune(&self) {
        if let Self::Local(l) = self {
            l.prune();
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
