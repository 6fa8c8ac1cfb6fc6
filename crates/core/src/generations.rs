//! Which backups to keep: generations, as backup tools keep them. Among the
//! verified backups, the newest of each of the last `daily` days that have
//! one, of each of the last `weekly` ISO weeks and of each of the last
//! `monthly` months (days, weeks and months in the operator's time zone).
//! The newest verified backup always stays (it may be the only good one), and
//! so does the newest backup of all while it is not verified yet (it is being
//! verified, or its failure is to be looked at). Everything else may go.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::TimeZoneName;

/// How many of each generation to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
}

/// A backup as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub created_at: DateTime<Utc>,
    pub verified: bool,
}

/// Names the period (day, week or month) a backup falls in.
type Period<'a> = dyn Fn(usize) -> (i32, u32) + 'a;

/// The indexes (into `backups`) to keep.
pub fn keep(backups: &[Generation], keep: Keep, zone: &TimeZoneName) -> BTreeSet<usize> {
    // Newest first: the first met of each period is its newest.
    let mut order: Vec<usize> = (0..backups.len()).collect();
    order.sort_by(|a, b| backups[*b].created_at.cmp(&backups[*a].created_at));
    let verified: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| backups[i].verified)
        .collect();
    let day =
        |i: usize| -> NaiveDate { backups[i].created_at.with_timezone(&zone.tz()).date_naive() };
    let mut kept = BTreeSet::new();
    let periods: [(usize, &Period); 3] = [
        (keep.daily, &|i| (day(i).year(), day(i).ordinal())),
        (keep.weekly, &|i| {
            let w = day(i).iso_week();
            (w.year(), w.week())
        }),
        (keep.monthly, &|i| (day(i).year(), day(i).month())),
    ];
    for (n, period) in periods {
        let mut seen = Vec::new();
        for &i in &verified {
            if seen.len() == n {
                break;
            }
            let p = period(i);
            if !seen.contains(&p) {
                seen.push(p);
                kept.insert(i);
            }
        }
    }
    if let Some(&newest) = verified.first() {
        kept.insert(newest);
    }
    if let Some(&newest) = order.first() {
        if !backups[newest].verified {
            kept.insert(newest);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn kept(backups: &[Generation], k: Keep, zone: &str) -> Vec<String> {
        let mut kept: Vec<String> = keep(backups, k, &TimeZoneName::parse(zone).unwrap())
            .into_iter()
            .map(|i| backups[i].created_at.format("%m-%d %H:%M").to_string())
            .collect();
        kept.sort();
        kept
    }

    /// Two backups a day (02:00 and 14:00 UTC) from 1 to 70 days before
    /// 6 December 2026, all verified.
    fn twice_daily() -> Vec<Generation> {
        let end = at("2026-12-06T14:00:00Z");
        (0..140)
            .map(|n| Generation {
                created_at: end - chrono::Duration::hours(12 * n),
                verified: true,
            })
            .collect()
    }

    #[test]
    fn the_newest_of_each_day_week_and_month_stays() {
        let k = Keep {
            daily: 3,
            weekly: 2,
            monthly: 3,
        };
        assert_eq!(
            kept(&twice_daily(), k, "UTC"),
            [
                // Months: October's and November's newest (December's is today's).
                "10-31 14:00",
                // Weeks: 6 December 2026 is a Sunday, so this week's newest is
                // today's and last week's is Sunday 29 November's.
                "11-29 14:00",
                "11-30 14:00",
                // Days: today, yesterday, the day before.
                "12-04 14:00",
                "12-05 14:00",
                "12-06 14:00",
            ]
        );
    }

    #[test]
    fn days_are_the_operators_days() {
        // 02:00 UTC is 07:30 in India, 14:00 UTC is 19:30: both the same
        // local day, so one of them per day; in Honolulu (UTC-10) 02:00 UTC
        // is the evening before.
        let k = Keep {
            daily: 2,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(
            kept(&twice_daily(), k, "Asia/Kolkata"),
            ["12-05 14:00", "12-06 14:00"]
        );
        assert_eq!(
            kept(&twice_daily(), k, "Pacific/Honolulu"),
            ["12-06 02:00", "12-06 14:00"]
        );
    }

    #[test]
    fn the_only_verified_backup_stays_and_so_does_one_being_verified() {
        let mut backups = twice_daily();
        for b in &mut backups {
            b.verified = false;
        }
        // Only one verified, long ago; the newest is not verified yet.
        backups[100].verified = true;
        let k = Keep {
            daily: 7,
            weekly: 4,
            monthly: 6,
        };
        let kept = keep(&backups, k, &TimeZoneName::parse("UTC").unwrap());
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), [0, 100]);
        // Nothing kept by generations: still the newest verified one.
        let none = Keep {
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let kept = keep(&twice_daily(), none, &TimeZoneName::parse("UTC").unwrap());
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), [0]);
    }
}
