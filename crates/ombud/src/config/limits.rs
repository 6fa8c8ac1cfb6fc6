//! The `limits` section: requests a minute per session and per address, and
//! when logins are refused or held back (see `ombud_web::limits` and
//! `ombud_web::dashboard::lockout`).

use std::time::Duration;

use ombud_web::dashboard::lockout::LoginLimits;
use ombud_web::limits::RequestLimits;
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// A signed-in member's requests a minute, pages and API together.
    pub per_session_per_minute: u32,
    /// Requests a minute from an address not signed in and without a key.
    pub per_address_per_minute: u32,
    /// Wrong passwords for one account from one address per window.
    pub login_failures_per_account_and_address: u64,
    /// Wrong passwords from one address per window, over all accounts.
    pub login_failures_per_address: u64,
    pub login_window_minutes: u64,
    /// Wrong passwords for one account in an hour before each try waits
    /// (1 s, doubling, up to `login_max_delay_secs`).
    pub login_free_failures_per_account: u64,
    pub login_max_delay_secs: u64,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        let (r, l) = (RequestLimits::default(), LoginLimits::default());
        Self {
            per_session_per_minute: r.per_session_per_minute,
            per_address_per_minute: r.per_address_per_minute,
            login_failures_per_account_and_address: l.per_account_and_address,
            login_failures_per_address: l.per_address,
            login_window_minutes: l.window.as_secs() / 60,
            login_free_failures_per_account: l.account_free,
            login_max_delay_secs: l.max_delay.as_secs(),
        }
    }
}

impl LimitsSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let all_positive = self.per_session_per_minute > 0
            && self.per_address_per_minute > 0
            && self.login_failures_per_account_and_address > 0
            && self.login_failures_per_address > 0
            && self.login_window_minutes > 0
            && self.login_max_delay_secs > 0;
        if all_positive {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                key: "limits",
                reason: "every limit must be at least 1".into(),
            })
        }
    }

    pub fn requests(&self) -> RequestLimits {
        RequestLimits {
            per_session_per_minute: self.per_session_per_minute,
            per_address_per_minute: self.per_address_per_minute,
        }
    }

    pub fn logins(&self) -> LoginLimits {
        LoginLimits {
            window: Duration::from_secs(self.login_window_minutes * 60),
            per_account_and_address: self.login_failures_per_account_and_address,
            per_address: self.login_failures_per_address,
            account_window: Duration::from_secs(3600),
            account_free: self.login_free_failures_per_account,
            max_delay: Duration::from_secs(self.login_max_delay_secs),
        }
    }
}
