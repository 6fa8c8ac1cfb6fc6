//! The `server` section: how long and how many connections clients may hold
//! (see `ombud_web::server`).

use std::time::Duration;

use ombud_web::server::{BodyLimits, ConnectionLimits};
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// A request's head must arrive within this long of the connection
    /// being ready for one: when it opens, and after each answer (so it is
    /// also how long an idle kept-alive connection stays open).
    pub header_read_timeout_secs: u64,
    /// A request's whole body must arrive within this long.
    pub body_timeout_secs: u64,
    /// After `body_grace_ms`, a body must keep arriving at this rate on average.
    pub body_min_bytes_per_sec: u64,
    pub body_grace_ms: u64,
    /// Connections at once; lowered to what `ulimit -n` leaves room for.
    pub max_connections: usize,
    /// Connections at once from one address; 0 for no limit (behind a
    /// proxy every client has the proxy's address).
    pub max_connections_per_address: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            body_timeout_secs: 60,
            body_min_bytes_per_sec: 1024,
            body_grace_ms: 5000,
            max_connections: 10_000,
            max_connections_per_address: 256,
        }
    }
}

impl ServerSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        if self.header_read_timeout_secs == 0 || self.body_timeout_secs == 0 {
            return invalid(
                "server",
                "header_read_timeout_secs and body_timeout_secs must be positive",
            );
        }
        if self.body_min_bytes_per_sec == 0 {
            return invalid("server.body_min_bytes_per_sec", "must be at least 1");
        }
        if self.max_connections == 0 {
            return invalid("server.max_connections", "must be at least 1");
        }
        Ok(())
    }

    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body: BodyLimits {
                total: Duration::from_secs(self.body_timeout_secs),
                min_bytes_per_sec: self.body_min_bytes_per_sec,
                grace: Duration::from_millis(self.body_grace_ms),
            },
            max_connections: self.max_connections,
            max_per_address: self.max_connections_per_address,
        }
    }
}
