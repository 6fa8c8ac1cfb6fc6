//! Serving HTTP/1 with limits that slow or numerous clients cannot exhaust:
//!
//! - a request head must arrive within `header_read_timeout` of the
//!   connection being ready for one: hyper's own timer, which starts when a
//!   connection opens *and* when it goes idle after an answer, so the same
//!   setting is the keep-alive idle limit (hyper has no separate one);
//! - a request body must keep a minimum rate and arrive within a total time
//!   ([`body::RateFloor`]);
//! - at most `max_connections` at once, and `max_per_address` from one peer
//!   address; a connection past either is closed as soon as it is accepted,
//!   so the kernel's queue never fills with them and other clients (Meta's
//!   webhooks, the load balancer's probe) still get in.
//!
//! axum's `serve` offers none of these, so this is its accept loop with
//! them; requests carry `ConnectInfo<SocketAddr>` as there.

pub mod body;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

pub use body::BodyLimits;

pub const CONNECTIONS_OPEN: &str = "ombud_http_connections_open";
pub const CONNECTIONS_REFUSED: &str = "ombud_http_connections_refused_total";

/// Descriptors kept free for the database, the outbox's connections,
/// workers and logs when the connection cap follows the process's limit.
const DESCRIPTORS_KEPT: u64 = 512;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body: BodyLimits,
    pub max_connections: usize,
    /// 0: no limit per address (behind a proxy, every client is the proxy).
    pub max_per_address: usize,
}

impl ConnectionLimits {
    /// The cap actually used: the configured one, lowered to what the
    /// process's open-file limit leaves room for.
    pub fn effective_max_connections(&self) -> usize {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        let room = limit.saturating_sub(DESCRIPTORS_KEPT).max(64);
        self.max_connections.min(room as usize).max(1)
    }
}

/// Connections open per peer address.
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and lets requests in flight finish (up to `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let max = limits.effective_max_connections();
    if max < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            used = max,
            "the open-file limit (ulimit -n) leaves room for fewer connections than configured"
        );
    }
    let slots = Arc::new(Semaphore::new(max));
    let per_address = Arc::new(PerAddress::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!(CONNECTIONS_REFUSED, "reason" => "max_connections").increment(1);
            continue;
        };
        let Some(address_slot) = per_address.take(peer.ip(), limits.max_per_address) else {
            metrics::counter!(CONNECTIONS_REFUSED, "reason" => "max_per_address").increment(1);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, body_limits) = (router.clone(), limits.body);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request =
                request.map(|b| axum::body::Body::new(body::RateFloor::new(b, body_limits)));
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let open = metrics::gauge!(CONNECTIONS_OPEN);
        open.increment(1.0);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            open.decrement(1.0);
            drop((slot, address_slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open after the grace period were dropped"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_slots_back_when_its_connections_go() {
        let table = Arc::new(PerAddress::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let first = table.take(a, 2).unwrap();
        let second = table.take(a, 2).unwrap();
        assert!(table.take(a, 2).is_none(), "the third from one address");
        assert!(table.take(b, 2).is_some(), "another address is not held up");
        drop(first);
        assert!(table.take(a, 2).is_some());
        drop(second);
        assert!(table.take(a, 0).is_some(), "0 is no limit");
    }
}
