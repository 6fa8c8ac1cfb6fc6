//! Service levels in the overview: the share of deadlines met, by category
//! and by team, and the breaches per week. Counted from the clocks of the complaints made
//! in the period; a deadline still running counts in neither.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};

use super::{SlaClock, Target};
use crate::{CategoryId, TimeZoneName};

/// Deadlines met and missed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Met {
    pub met: u64,
    pub missed: u64,
}

impl Met {
    /// The share met, in percent (None: nothing decided yet).
    pub fn percent(&self) -> Option<f64> {
        let all = self.met + self.missed;
        (all > 0).then(|| 100.0 * self.met as f64 / all as f64)
    }

    fn merge(&mut self, other: Met) {
        self.met += other.met;
        self.missed += other.missed;
    }

    fn add(&mut self, met: bool) {
        if met {
            self.met += 1;
        } else {
            self.missed += 1;
        }
    }
}

/// The overview's service-level figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlaReport {
    pub first_response: Met,
    pub resolution: Met,
    /// By category (None: none), first response then resolution.
    pub by_category: BTreeMap<Option<CategoryId>, (Met, Met)>,
    /// By the team the complaint was sent to (None: none), first response
    /// then resolution.
    pub by_team: BTreeMap<Option<String>, (Met, Met)>,
    /// Breaches per week: the Monday (tenant-local) that starts it, and how
    /// many deadlines were breached in it.
    pub breaches_per_week: BTreeMap<NaiveDate, u64>,
}

impl SlaReport {
    /// Tallies the clocks of the period's complaints (with their category
    /// and team).
    pub fn of<'a>(
        zone: &TimeZoneName,
        clocks: impl IntoIterator<Item = (Option<&'a CategoryId>, Option<&'a str>, &'a SlaClock)>,
    ) -> Self {
        let mut r = Self::default();
        for (category, team, clock) in clocks {
            let mut row = (Met::default(), Met::default());
            for target in Target::ALL {
                let Some(d) = clock.deadline(target) else {
                    continue;
                };
                if let Some(at) = d.breached_at {
                    *r.breaches_per_week.entry(week_of(zone, at)).or_default() += 1;
                }
                // Met in time, or missed (breached, or met after the due
                // time before its breach was marked); else still running.
                let decided = match (d.met_at, d.breached_at) {
                    (Some(met), _) => Some(met <= d.due_at),
                    (None, Some(_)) => Some(false),
                    (None, None) => None,
                };
                let Some(met) = decided else { continue };
                match target {
                    Target::FirstResponse => {
                        r.first_response.add(met);
                        row.0.add(met);
                    }
                    Target::Resolution => {
                        r.resolution.add(met);
                        row.1.add(met);
                    }
                }
            }
            for total in [
                r.by_category.entry(category.cloned()).or_default(),
                r.by_team.entry(team.map(str::to_owned)).or_default(),
            ] {
                total.0.merge(row.0);
                total.1.merge(row.1);
            }
        }
        r
    }
}

/// The tenant-local Monday of the week `at` falls in.
fn week_of(zone: &TimeZoneName, at: DateTime<Utc>) -> NaiveDate {
    let day = zone.local_date(at);
    day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::Deadline;
    use chrono::TimeZone as _;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn deadline(
        due: DateTime<Utc>,
        met: Option<DateTime<Utc>>,
        breached: Option<DateTime<Utc>>,
    ) -> Deadline {
        Deadline {
            due_at: due,
            met_at: met,
            breached_at: breached,
            ..Deadline::default()
        }
    }

    #[test]
    fn met_missed_and_running_deadlines_are_told_apart() {
        let zone = TimeZoneName::parse("Asia/Kolkata").unwrap();
        let water = CategoryId::new();
        let clock = |first: Option<Deadline>, resolution: Option<Deadline>| SlaClock {
            policy: "p".into(),
            first_response: first,
            resolution,
            paused_at: None,
        };
        let clocks = [
            // In time, both.
            (
                Some(&water),
                Some("roads"),
                clock(
                    Some(deadline(at(7, 10), Some(at(7, 9)), None)),
                    Some(deadline(at(9, 10), Some(at(8, 10)), None)),
                ),
            ),
            // First response breached (Monday 7th), then met late; resolution running.
            (
                Some(&water),
                None,
                clock(
                    Some(deadline(at(7, 10), Some(at(7, 12)), Some(at(7, 10)))),
                    Some(deadline(at(20, 10), None, None)),
                ),
            ),
            // No category; resolution breached the next week (Monday 14th).
            (
                None,
                Some("roads"),
                clock(None, Some(deadline(at(14, 10), None, Some(at(14, 11))))),
            ),
            // Met after the due time, before its breach was marked: missed.
            (
                None,
                None,
                clock(None, Some(deadline(at(15, 10), Some(at(15, 11)), None))),
            ),
        ];
        let r = SlaReport::of(&zone, clocks.iter().map(|(c, t, k)| (*c, *t, k)));
        assert_eq!(r.first_response, Met { met: 1, missed: 1 });
        assert_eq!(r.resolution, Met { met: 1, missed: 2 });
        assert_eq!(r.first_response.percent(), Some(50.0));
        assert_eq!(
            r.by_category[&Some(water)],
            (Met { met: 1, missed: 1 }, Met { met: 1, missed: 0 })
        );
        assert_eq!(r.by_category[&None].1, Met { met: 0, missed: 2 });
        assert_eq!(
            r.by_team[&Some("roads".to_owned())],
            (Met { met: 1, missed: 0 }, Met { met: 1, missed: 1 })
        );
        assert_eq!(
            r.by_team[&None],
            (Met { met: 0, missed: 1 }, Met { met: 0, missed: 1 })
        );
        let weeks: Vec<(String, u64)> = r
            .breaches_per_week
            .iter()
            .map(|(d, n)| (d.to_string(), *n))
            .collect();
        assert_eq!(weeks, [("2026-12-07".into(), 1), ("2026-12-14".into(), 1)]);
        assert_eq!(Met::default().percent(), None);
    }
}
