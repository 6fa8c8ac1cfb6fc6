//! A sliding-window limit per key: after `max_failures` recorded events within
//! `window` for a key, it is refused until the oldest of them leaves the window.
//!
//! The web chat records every visitor it makes per address and every message
//! per visitor. (Logins and request limits count in the store instead, so
//! replicas share them: see `dashboard::lockout` and `limits`.)
//!
//! In memory, per process: with several replicas a visitor gets the limit
//! per replica and window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    max_failures: usize,
    window: Duration,
    /// Most keys tracked; past it the key whose last failure is oldest goes.
    max_keys: usize,
}

impl Throttle {
    pub fn new(max_failures: usize, window: Duration, max_keys: usize) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            max_failures: max_failures.max(1),
            window,
            max_keys: max_keys.max(1),
        }
    }

    /// The key for an account (by its normalised email) or an address.
    pub fn account_key(email: &str) -> String {
        format!("account:{email}")
    }

    pub fn address_key(ip: std::net::IpAddr) -> String {
        format!("ip:{ip}")
    }

    /// `Err(retry_after)` if any of `keys` has used up its failures.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = failures.get_mut(key) {
                self.expire(times, now);
                if times.len() >= self.max_failures {
                    let oldest = times.front().copied().unwrap_or(now);
                    wait = wait.max(self.window.saturating_sub(now - oldest));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.max(Duration::from_secs(1)))
        }
    }

    pub fn record(&self, keys: &[String], now: Instant) {
        let mut failures = self.lock();
        for key in keys {
            if !failures.contains_key(key) && failures.len() >= self.max_keys {
                failures
                    .retain(|_, times| times.back().is_some_and(|last| now - *last < self.window));
                if failures.len() >= self.max_keys {
                    let stalest = failures
                        .iter()
                        .min_by_key(|(_, times)| times.back().copied())
                        .map(|(k, _)| k.clone());
                    if let Some(k) = stalest {
                        failures.remove(&k);
                    }
                }
            }
            let times = failures.entry(key.clone()).or_default();
            self.expire(times, now);
            times.push_back(now);
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    fn expire(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times.front().is_some_and(|t| now - *t >= self.window) {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn five_failures_in_five_minutes_lock_until_the_first_leaves_the_window() {
        let throttle = Throttle::new(5, 5 * MIN, 1000);
        let keys = [Throttle::account_key("asha@pune.gov.in")];
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(
                throttle.check(&keys, t0 + i * MIN / 2).is_ok(),
                "failure {i}"
            );
            throttle.record(&keys, t0 + i * MIN / 2);
        }
        // The sixth try, a minute after the first failure, waits 4 minutes.
        assert_eq!(throttle.check(&keys, t0 + MIN), Err(4 * MIN));
        // Once the first failure is 5 minutes old, one more try is allowed.
        assert!(throttle.check(&keys, t0 + 5 * MIN).is_ok());
        // Another account is not affected.
        let other = [Throttle::account_key("ravi@pune.gov.in")];
        assert!(throttle.check(&other, t0 + MIN).is_ok());
    }

    #[test]
    fn any_locked_key_refuses_and_success_forgets_only_the_account() {
        let throttle = Throttle::new(2, 5 * MIN, 1000);
        let account = Throttle::account_key("asha@pune.gov.in");
        let address = Throttle::address_key("192.0.2.7".parse().unwrap());
        let both = [account.clone(), address.clone()];
        let t0 = Instant::now();
        throttle.record(&both, t0);
        throttle.record(&both, t0);
        assert!(throttle.check(&both, t0).is_err());
        throttle.forget(&account);
        assert!(throttle.check(std::slice::from_ref(&account), t0).is_ok());
        assert!(
            throttle.check(&both, t0).is_err(),
            "the address is still locked"
        );
    }

    #[test]
    fn memory_stays_bounded_and_keeps_the_freshest_keys() {
        let throttle = Throttle::new(3, 5 * MIN, 100);
        let t0 = Instant::now();
        let target = [Throttle::account_key("asha@pune.gov.in")];
        for _ in 0..3 {
            throttle.record(&target, t0 + MIN);
        }
        for i in 0..1000u32 {
            let key = [format!("account:{i}@x.in")];
            throttle.record(&key, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(throttle.lock().len() <= 100);
        // The locked account was the freshest; flooding did not free it.
        assert!(throttle.check(&target, t0 + 2 * MIN).is_err());
    }
}
