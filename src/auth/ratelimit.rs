//! Keyed rate limits for login attempts: one token bucket per client IP and one per account.
//!
//! In-memory per process (GCRA buckets from `governor`); behind several replicas each one
//! enforces the limit on the traffic it sees, which nginx's own per-IP limit backs up. Idle
//! keys are dropped every few thousand checks so memory stays bounded.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{AppError, Result};

pub struct LoginLimiter {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl LoginLimiter {
    pub fn new(per_ip_per_minute: u32, per_account_per_minute: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(per_minute(per_ip_per_minute)),
            per_account: RateLimiter::keyed(per_minute(per_account_per_minute)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Count one attempt for this IP and account; `RateLimited` with the wait when over.
    pub fn check(&self, ip: &str, account: &str) -> Result<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.per_ip.retain_recent();
            self.per_account.retain_recent();
        }
        let now = self.clock.now();
        let wait = |d: Duration| AppError::RateLimited {
            retry_after: d.as_secs() + u64::from(d.subsec_nanos() > 0),
        };
        self.per_ip
            .check_key(&ip.to_string())
            .map_err(|nu| wait(nu.wait_time_from(now)))?;
        self.per_account
            .check_key(&account.to_lowercase())
            .map_err(|nu| wait(nu.wait_time_from(now)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_limit_applies_across_ips() {
        let l = LoginLimiter::new(100, 3);
        for i in 0..3 {
            l.check(&format!("10.0.0.{i}"), "a@b.co").unwrap();
        }
        match l.check("10.0.0.9", "A@B.co") {
            Err(AppError::RateLimited { retry_after }) => assert!((1..=60).contains(&retry_after)),
            other => panic!("expected rate limit, got {other:?}"),
        }
        l.check("10.0.0.9", "other@b.co").unwrap();
    }

    #[test]
    fn ip_limit_applies_across_accounts() {
        let l = LoginLimiter::new(2, 100);
        l.check("1.1.1.1", "a@x.co").unwrap();
        l.check("1.1.1.1", "b@x.co").unwrap();
        assert!(l.check("1.1.1.1", "c@x.co").is_err());
        l.check("2.2.2.2", "c@x.co").unwrap();
    }
}
