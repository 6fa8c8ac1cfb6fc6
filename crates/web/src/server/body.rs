//! A request body that must keep arriving: after a grace period, at least
//! `min_bytes_per_sec` on average, and all of it within `total`. A client
//! that sends one byte every few seconds (slowloris on the body) is cut off
//! instead of holding its connection and its request forever. hyper has no
//! such limit, and tower-http's body timeout knows no minimum rate.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How slowly a request body may arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The whole body within this long after the request's head.
    pub total: Duration,
    /// The average rate a body must keep up after `grace`.
    pub min_bytes_per_sec: u64,
    pub grace: Duration,
}

impl BodyLimits {
    /// When a body that has delivered `received` bytes since `start` is too
    /// slow, unless more arrive first.
    fn deadline(&self, start: Instant, received: u64) -> Instant {
        let rate = self.min_bytes_per_sec.max(1);
        let earned = Duration::from_secs_f64(received as f64 / rate as f64);
        (start + self.grace + earned).min(start + self.total)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct TooSlow;

pub struct RateFloor<B> {
    inner: B,
    limits: BodyLimits,
    start: Instant,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> RateFloor<B> {
    pub fn new(inner: B, limits: BodyLimits) -> Self {
        Self {
            inner,
            limits,
            start: Instant::now(),
            received: 0,
            timer: None,
        }
    }
}

impl<B> Body for RateFloor<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                if let Some(timer) = &mut this.timer {
                    let at = this.limits.deadline(this.start, this.received);
                    timer.as_mut().reset(at);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let (limits, start, received) = (this.limits, this.start, this.received);
                let timer = this.timer.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(limits.deadline(start, received)))
                });
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(TooSlow))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_moves_with_what_arrived_up_to_the_total() {
        let limits = BodyLimits {
            total: Duration::from_secs(60),
            min_bytes_per_sec: 1000,
            grace: Duration::from_secs(5),
        };
        let t0 = Instant::now();
        assert_eq!(limits.deadline(t0, 0), t0 + Duration::from_secs(5));
        assert_eq!(limits.deadline(t0, 10_000), t0 + Duration::from_secs(15));
        assert_eq!(
            limits.deadline(t0, 10_000_000),
            t0 + Duration::from_secs(60)
        );
    }
}
