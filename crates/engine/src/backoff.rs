use std::time::Duration;

use rand::Rng;

/// `base · 2^(attempt-1)`, capped at `max`, then spread ±20 % so that many retries
/// failing together do not come back together.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    let factor = rand::rng().random_range(0.8..=1.2);
    raw.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_jitters() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for (attempt, nominal) in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (40, 60.0)] {
            for _ in 0..50 {
                let d = backoff(attempt, base, max).as_secs_f64();
                assert!(
                    d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9,
                    "{attempt}: {d}"
                );
            }
        }
    }
}
