use chrono::{DateTime, Utc};

/// Where "now" comes from. Time-dependent rules take a clock so tests can move time
/// instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock moved ahead by a settable amount: lets a test (or a
/// drill) make a day pass at once while the timers that wake workers keep
/// running.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    ahead_ms: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    /// Moves the clock forward by `by` (back, if negative).
    pub fn advance(&self, by: chrono::Duration) {
        self.ahead_ms
            .fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let ahead = self.ahead_ms.load(std::sync::atomic::Ordering::SeqCst);
        Utc::now() + chrono::Duration::milliseconds(ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_runs_ahead_of_the_wall_by_what_it_was_moved() {
        let clock = ShiftedClock::default();
        clock.advance(chrono::Duration::days(2));
        clock.advance(chrono::Duration::hours(-1));
        let ahead = clock.now() - Utc::now();
        assert!(
            ahead > chrono::Duration::hours(47) - chrono::Duration::seconds(5)
                && ahead <= chrono::Duration::hours(47),
            "{ahead}"
        );
    }
}
