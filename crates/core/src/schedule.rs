//! When scheduled work runs: cron schedules read in a time zone, and what
//! becomes of a job after each run (done, due again, retried, given up).
//! The scheduler in `ombud-engine` applies these; the store keeps the result.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};

use crate::{TimeZoneName, ValidationError};

/// A cron schedule (five fields: minute, hour, day of month, month, day of
/// week; or `@daily`, `@hourly`…) read in a time zone: `30 2 * * *` in
/// `Asia/Kolkata` is 02:30 in India whatever the server's zone, across
/// daylight-saving changes where the zone has them.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    text: String,
    zone: TimeZoneName,
}

impl Schedule {
    /// `field` names the setting in the error.
    pub fn parse(field: &str, text: &str, zone: &TimeZoneName) -> Result<Self, ValidationError> {
        let text = text.trim();
        let invalid = |why: String| {
            ValidationError::new(
                field,
                format!("{text:?} is not a cron schedule such as \"30 2 * * *\" (02:30 every day): {why}"),
            )
        };
        if text.split_whitespace().count() > 5 {
            return Err(invalid("five fields at most (no seconds)".into()));
        }
        let cron = croner::Cron::from_str(text).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            cron,
            text: text.to_owned(),
            zone: zone.clone(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn zone(&self) -> &TimeZoneName {
        &self.zone
    }

    /// The first time the schedule names strictly after `after`; None if it
    /// names none (`0 0 30 2 *`, the 30th of February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone.tz());
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// What becomes of a job after a run; the store writes it only while the
/// runner still holds the job's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// A one-off job is done.
    Done,
    /// A recurring job waits for its next time, its attempts counted afresh
    /// (with the error of a run that gave up, if one did).
    Next {
        at: DateTime<Utc>,
        error: Option<String>,
    },
    /// The run failed and has attempts left: it runs again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// A one-off job that failed its last attempt (or a recurring one whose
    /// schedule names no further time).
    Failed { error: String },
}

/// Decides a job's outcome after attempt number `attempt` (1 for the first)
/// of `max_attempts` ended at `now` with `result`. A failed attempt with
/// attempts left comes back after `backoff` (which grows with the attempt).
/// A recurring job is due next at its schedule's first time after `now`,
/// not after the time it was due: periods missed while nothing ran (every
/// replica down) run once, not once each.
pub fn outcome(
    schedule: Option<&Schedule>,
    attempt: u32,
    max_attempts: u32,
    result: Result<(), String>,
    now: DateTime<Utc>,
    backoff: chrono::Duration,
) -> JobOutcome {
    let next = || schedule.and_then(|s| s.next_after(now));
    match (result, schedule) {
        (Err(error), _) if attempt < max_attempts => JobOutcome::Retry {
            at: now + backoff,
            error,
        },
        (result, Some(_)) => match next() {
            Some(at) => JobOutcome::Next {
                at,
                error: result.err(),
            },
            None => JobOutcome::Failed {
                error: result
                    .err()
                    .unwrap_or_else(|| "the schedule names no later time".into()),
            },
        },
        (Ok(()), None) => JobOutcome::Done,
        (Err(error), None) => JobOutcome::Failed { error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn zone(name: &str) -> TimeZoneName {
        TimeZoneName::parse(name).unwrap()
    }

    #[test]
    fn a_schedule_is_read_in_its_zone() {
        let s = Schedule::parse("backup.schedule", "30 2 * * *", &zone("Asia/Kolkata")).unwrap();
        // 02:30 in India is 21:00 UTC the day before.
        assert_eq!(
            s.next_after(utc("2026-12-06T10:00:00Z")),
            Some(utc("2026-12-06T21:00:00Z"))
        );
        // Strictly after: at the time itself, the next day's.
        assert_eq!(
            s.next_after(utc("2026-12-06T21:00:00Z")),
            Some(utc("2026-12-07T21:00:00Z"))
        );
        let hourly = Schedule::parse("x", "@hourly", &zone("UTC")).unwrap();
        assert_eq!(
            hourly.next_after(utc("2026-12-06T10:59:59Z")),
            Some(utc("2026-12-06T11:00:00Z"))
        );
    }

    #[test]
    fn daylight_saving_changes_keep_the_local_time() {
        let ny = zone("America/New_York");
        let s = Schedule::parse("x", "0 9 * * *", &ny).unwrap();
        // 09:00 EST is 14:00 UTC; after the March change 09:00 EDT is 13:00 UTC.
        assert_eq!(
            s.next_after(utc("2026-03-07T15:00:00Z")),
            Some(utc("2026-03-08T13:00:00Z"))
        );
        // 02:30 does not exist on 8 March 2026 in New York: that day's run
        // is not lost, and the next day's is at 02:30 again.
        let skipped = Schedule::parse("x", "30 2 * * *", &ny).unwrap();
        let first = skipped.next_after(utc("2026-03-08T05:00:00Z")).unwrap();
        assert!(first < utc("2026-03-09T06:30:00Z"), "{first}");
        let second = skipped.next_after(first).unwrap();
        assert_eq!(
            second.with_timezone(&ny.tz()).format("%H:%M").to_string(),
            "02:30"
        );
    }

    #[test]
    fn bad_schedules_name_the_field_and_say_why() {
        for bad in ["", "every day", "61 * * * *", "* * * *  * *", "0 25 * * *"] {
            let e = Schedule::parse("backup.schedule", bad, &zone("UTC")).unwrap_err();
            assert_eq!(e.field, "backup.schedule", "{bad:?}");
            assert!(e.reason.contains("cron schedule"), "{bad:?}: {}", e.reason);
        }
    }

    #[test]
    fn a_failed_attempt_with_attempts_left_is_retried_after_the_backoff() {
        let now = utc("2026-12-06T10:00:00Z");
        let backoff = chrono::Duration::seconds(40);
        assert_eq!(
            outcome(None, 1, 3, Err("refused".into()), now, backoff),
            JobOutcome::Retry {
                at: now + backoff,
                error: "refused".into()
            }
        );
        assert_eq!(
            outcome(None, 3, 3, Err("refused".into()), now, backoff),
            JobOutcome::Failed {
                error: "refused".into()
            }
        );
        assert_eq!(outcome(None, 3, 3, Ok(()), now, backoff), JobOutcome::Done);
    }

    #[test]
    fn a_recurring_job_runs_once_for_every_period_it_missed() {
        let s = Schedule::parse("x", "0 * * * *", &zone("UTC")).unwrap();
        // Due at 05:00, run at 10:20 after every replica was down: next at
        // 11:00, not at 06:00 (which would run it five more times at once).
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 10, 20, 0).unwrap();
        assert_eq!(
            outcome(Some(&s), 1, 3, Ok(()), now, chrono::Duration::zero()),
            JobOutcome::Next {
                at: utc("2026-12-06T11:00:00Z"),
                error: None
            }
        );
        // Out of attempts: it gives up this time, keeps the error, and
        // comes back at its next time.
        assert_eq!(
            outcome(
                Some(&s),
                3,
                3,
                Err("disk full".into()),
                now,
                chrono::Duration::zero()
            ),
            JobOutcome::Next {
                at: utc("2026-12-06T11:00:00Z"),
                error: Some("disk full".into())
            }
        );
    }
}
