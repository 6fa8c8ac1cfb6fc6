//! When a login is refused or held back, so that guessing is slow and nobody
//! can lock an owner out of their account:
//! - failures are counted per account *and* address: five wrong passwords
//!   for an account from one address stop that address trying it for the
//!   window (15 min), not anyone else;
//! - an address is stopped after 30 failures over any accounts (spraying);
//! - an account counts its failures from everywhere, and past 10 in an hour
//!   each further try waits a little longer (1 s, 2 s, 4 s … at most a
//!   minute) after the last failure: a slow, global limit with growing
//!   delays instead of a hard lock, which its owner passes by waiting.
//!
//! A success clears the account's counts. Counts are the store's (see
//! [`ombud_store::CounterStore`]), so every replica applies the same.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ombud_store::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub window: Duration,
    /// Failures for one account from one address per window.
    pub per_account_and_address: u64,
    /// Failures from one address per window, whatever the account.
    pub per_address: u64,
    pub account_window: Duration,
    /// Failures of one account (any address) before each try waits.
    pub account_free: u64,
    pub max_delay: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_account_and_address: 5,
            per_address: 30,
            account_window: Duration::from_secs(3600),
            account_free: 10,
            max_delay: Duration::from_secs(60),
        }
    }
}

struct Keys {
    pair: String,
    address: String,
    account: String,
}

fn keys(email: &str, ip: Option<IpAddr>) -> Keys {
    let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    Keys {
        pair: format!("login:pair:{email}|{ip}"),
        address: format!("login:ip:{ip}"),
        account: format!("login:account:{email}"),
    }
}

impl LoginLimits {
    /// How long the account's next try waits after its last failure, having
    /// failed `failures` times in the hour.
    pub fn delay(&self, failures: u64) -> Duration {
        if failures < self.account_free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.account_free).min(30) as u32;
        Duration::from_secs(1u64 << doublings).min(self.max_delay)
    }

    /// Before a password is checked: `Err(wait)` if this try may not be made
    /// yet (or, for the address, at all in this window).
    pub async fn check(
        &self,
        ops: &ombud_engine::Operations,
        email: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(), Duration>> {
        let k = keys(email, ip);
        let until_end = |ends: DateTime<Utc>| (ends - now).to_std().unwrap_or_default();
        let pair = ops.count_hits(&k.pair, self.window, 0, now).await?;
        if pair.count >= self.per_account_and_address {
            return Ok(Err(until_end(pair.window_ends)));
        }
        let address = ops.count_hits(&k.address, self.window, 0, now).await?;
        if address.count >= self.per_address {
            return Ok(Err(until_end(address.window_ends)));
        }
        let account = ops
            .count_hits(&k.account, self.account_window, 0, now)
            .await?;
        let delay = self.delay(account.count);
        if let Some(last) = account.last_at {
            let allowed = last + TimeDelta::from_std(delay).unwrap_or_default();
            if now < allowed {
                return Ok(Err((allowed - now).to_std().unwrap_or_default()));
            }
        }
        Ok(Ok(()))
    }

    pub async fn failed(
        &self,
        ops: &ombud_engine::Operations,
        email: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let k = keys(email, ip);
        ops.count_hits(&k.pair, self.window, 1, now).await?;
        ops.count_hits(&k.address, self.window, 1, now).await?;
        ops.count_hits(&k.account, self.account_window, 1, now)
            .await?;
        Ok(())
    }

    pub async fn succeeded(
        &self,
        ops: &ombud_engine::Operations,
        email: &str,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        let k = keys(email, ip);
        ops.forget_hits(&k.pair).await?;
        ops.forget_hits(&k.account).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_past_the_free_failures_up_to_a_minute() {
        let l = LoginLimits::default();
        assert_eq!(l.delay(9), Duration::ZERO);
        assert_eq!(l.delay(10), Duration::from_secs(1));
        assert_eq!(l.delay(12), Duration::from_secs(4));
        assert_eq!(l.delay(16), Duration::from_secs(60));
        assert_eq!(l.delay(1_000_000), Duration::from_secs(60));
    }
}
