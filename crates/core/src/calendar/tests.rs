use chrono::TimeZone as _;
use serde_json::json;

use super::*;

fn zone(name: &str) -> TimeZoneName {
    TimeZoneName::parse(name).unwrap()
}

/// A local time in `zone` as an instant (the times used here all exist).
fn local(zone: &TimeZoneName, s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    zone.tz()
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn cal(v: serde_json::Value) -> Calendar {
    Calendar::from_json(&v).unwrap()
}

fn weekdays(spans: serde_json::Value) -> Calendar {
    cal(json!({"hours": {"mon": spans, "tue": spans, "wed": spans, "thu": spans, "fri": spans}}))
}

#[test]
fn an_hour_after_friday_half_past_four_is_monday_half_past_nine() {
    let z = zone("Asia/Kolkata");
    let c = Calendar::office_hours();
    // 2026-12-04 is a Friday.
    let friday = local(&z, "2026-12-04 16:30");
    assert_eq!(
        c.add(&z, friday, Duration::hours(1)),
        Some(local(&z, "2026-12-07 09:30"))
    );
    assert_eq!(
        c.between(&z, friday, local(&z, "2026-12-07 09:30")),
        Duration::hours(1)
    );
    // Inside a day it is plain arithmetic; at the close it is the close.
    let tuesday = local(&z, "2026-12-08 10:00");
    assert_eq!(
        c.add(&z, tuesday, Duration::hours(7)),
        Some(local(&z, "2026-12-08 17:00"))
    );
    // Starting on a Sunday counts from Monday's opening.
    let sunday = local(&z, "2026-12-06 12:00");
    assert_eq!(
        c.add(&z, sunday, Duration::minutes(1)),
        Some(local(&z, "2026-12-07 09:01"))
    );
}

#[test]
fn a_holiday_in_between_is_skipped() {
    let z = zone("Asia/Kolkata");
    let mut c = Calendar::office_hours();
    c.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
    let friday = local(&z, "2026-12-04 16:30");
    assert_eq!(
        c.add(&z, friday, Duration::hours(1)),
        Some(local(&z, "2026-12-08 09:30"))
    );
    // Two business days (16 hours) from Thursday noon: Friday, then Tuesday.
    let thursday = local(&z, "2026-12-03 12:00");
    assert_eq!(
        c.add(&z, thursday, Duration::hours(16)),
        Some(local(&z, "2026-12-08 12:00"))
    );
}

#[test]
fn split_shifts_skip_the_break() {
    let z = zone("Asia/Kolkata");
    let c = weekdays(json!([["09:00", "13:00"], ["14:00", "18:00"]]));
    let before_lunch = local(&z, "2026-12-08 12:30");
    assert_eq!(
        c.add(&z, before_lunch, Duration::hours(1)),
        Some(local(&z, "2026-12-08 14:30"))
    );
    // Starting in the break counts from 14:00.
    let lunch = local(&z, "2026-12-08 13:20");
    assert_eq!(
        c.add(&z, lunch, Duration::minutes(30)),
        Some(local(&z, "2026-12-08 14:30"))
    );
    // A full day is 8 hours: 09:00 + 8h is 18:00 the same day.
    assert_eq!(
        c.add(&z, local(&z, "2026-12-08 09:00"), Duration::hours(8)),
        Some(local(&z, "2026-12-08 18:00"))
    );
    assert_eq!(
        c.between(
            &z,
            local(&z, "2026-12-08 12:00"),
            local(&z, "2026-12-08 15:00")
        ),
        Duration::hours(2)
    );
}

#[test]
fn a_night_shift_runs_past_midnight_and_belongs_to_the_day_it_starts() {
    let z = zone("Asia/Kolkata");
    // Saturday night only, 22:00 to 06:00.
    let mut c = cal(json!({"hours": {"sat": [["22:00", "06:00"]]}}));
    // 2026-12-05 is a Saturday.
    let sat = local(&z, "2026-12-05 23:00");
    assert_eq!(
        c.add(&z, sat, Duration::hours(2)),
        Some(local(&z, "2026-12-06 01:00"))
    );
    // Sunday 03:00 is inside Saturday's shift (the day before is looked at).
    let sun = local(&z, "2026-12-06 03:00");
    assert_eq!(
        c.add(&z, sun, Duration::hours(2)),
        Some(local(&z, "2026-12-06 05:00"))
    );
    // Past its end: the next Saturday night.
    assert_eq!(
        c.add(&z, sun, Duration::hours(4)),
        Some(local(&z, "2026-12-12 23:00"))
    );
    // Sunday a holiday changes nothing; Saturday a holiday moves it a week.
    c.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap());
    assert_eq!(
        c.add(&z, sat, Duration::hours(2)),
        Some(local(&z, "2026-12-06 01:00"))
    );
    c.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
    assert_eq!(
        c.add(&z, local(&z, "2026-12-05 21:00"), Duration::hours(2)),
        Some(local(&z, "2026-12-13 00:00"))
    );
    // "24:00" ends a span at midnight.
    let evening = cal(json!({"hours": {"sat": [["18:00", "24:00"]]}}));
    assert_eq!(
        evening.add(&z, local(&z, "2026-12-05 18:00"), Duration::hours(6)),
        Some(local(&z, "2026-12-06 00:00"))
    );
}

#[test]
fn daylight_saving_changes_move_the_opening_hours_with_the_local_clock() {
    let z = zone("Europe/London");
    let c = Calendar::office_hours();
    // Clocks go forward on Sunday 2027-03-28 (GMT to BST). Friday 16:00 GMT
    // plus two business hours is Monday 10:00 BST, which is 09:00 UTC.
    let friday = local(&z, "2027-03-26 16:00");
    let monday = c.add(&z, friday, Duration::hours(2)).unwrap();
    assert_eq!(monday, local(&z, "2027-03-29 10:00"));
    assert_eq!(monday, Utc.with_ymd_and_hms(2027, 3, 29, 9, 0, 0).unwrap());
    // They go back on Sunday 2026-10-25: Monday 09:00 is 09:00 UTC again.
    let friday = local(&z, "2026-10-23 16:00");
    assert_eq!(
        c.add(&z, friday, Duration::hours(2)).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 26, 10, 0, 0).unwrap()
    );

    // A span across the change is an hour shorter in spring and an hour
    // longer in autumn, as worked: 00:00 to 06:00 local.
    let nights = cal(json!({"hours": {"sun": [["00:00", "06:00"]]}}));
    let spring = local(&z, "2027-03-28 00:00");
    assert_eq!(
        nights.between(&z, spring, spring + Duration::hours(12)),
        Duration::hours(5)
    );
    // Three hours from midnight: 01:00–02:00 never happened, so 04:00 BST.
    assert_eq!(
        nights.add(&z, spring, Duration::hours(3)),
        Some(local(&z, "2027-03-28 04:00"))
    );
    let autumn = local(&z, "2026-10-25 00:00");
    assert_eq!(
        nights.between(&z, autumn, autumn + Duration::hours(12)),
        Duration::hours(7)
    );
    // A span that starts inside the skipped hour starts when it ends.
    let gap = cal(json!({"hours": {"sun": [["01:30", "03:00"]]}}));
    assert_eq!(
        gap.between(&z, spring, spring + Duration::hours(12)),
        Duration::minutes(60)
    );
}

#[test]
fn between_undoes_add() {
    let z = zone("America/New_York");
    let c = cal(json!({
        "hours": {
            "mon": [["08:00", "12:00"], ["13:00", "17:00"]],
            "wed": [["22:00", "02:00"]],
            "sat": [["10:00", "14:00"]],
        },
        "holidays": ["2026-11-02", "2026-11-25"],
    }));
    let from = local(&z, "2026-10-30 15:17");
    for minutes in [1, 59, 60, 61, 240, 481, 1000, 3000, 10_000, 40_000] {
        let d = Duration::minutes(minutes);
        let due = c.add(&z, from, d).unwrap();
        assert_eq!(c.between(&z, from, due), d, "{minutes} minutes");
        assert!(due > from);
    }
    assert_eq!(c.between(&z, from, from), Duration::zero());
    assert_eq!(c.add(&z, from, Duration::zero()), Some(from));
}

#[test]
fn a_calendar_that_never_opens_has_no_deadline() {
    let z = zone("Asia/Kolkata");
    let mut c = cal(json!({"hours": {"mon": [["09:00", "10:00"]]}}));
    let from = local(&z, "2026-12-01 12:00");
    let mut day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    for _ in 0..200 {
        c.holidays.insert(day);
        day += Duration::days(7);
    }
    assert_eq!(c.add(&z, from, Duration::minutes(1)), None);
}

#[test]
fn the_json_form_is_checked_and_kept() {
    let c = cal(json!({
        "hours": {"mon": [["14:00", "18:00"], ["09:00", "13:00"]], "sat": [["22:00", "06:00"]]},
        "holidays": ["2026-12-25", "2026-01-26"],
    }));
    assert_eq!(
        c.to_json(),
        json!({
            "hours": {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["22:00", "06:00"]]},
            "holidays": ["2026-01-26", "2026-12-25"],
        })
    );
    assert_eq!(Calendar::from_json(&c.to_json()).unwrap(), c);
    assert_eq!(
        Calendar::from_json(&Calendar::office_hours().to_json()).unwrap(),
        Calendar::office_hours()
    );

    let field = |v: serde_json::Value| Calendar::from_json(&v).unwrap_err().field;
    assert_eq!(
        field(json!({"hours": {"mon": [["9:00", "17:00"]]}})),
        "hours.mon[0]"
    );
    assert_eq!(
        field(json!({"hours": {"mon": [["09:00", "25:00"]]}})),
        "hours.mon[0]"
    );
    assert_eq!(
        field(json!({"hours": {"mon": [["09:00"]]}})),
        "hours.mon[0]"
    );
    assert_eq!(
        field(json!({"hours": {"monday": [["09:00", "17:00"]]}})),
        "hours.monday"
    );
    assert_eq!(
        field(json!({"hours": {"tue": [["09:00", "13:00"], ["12:00", "18:00"]]}})),
        "hours.tue"
    );
    assert_eq!(field(json!({"hours": {}})), "hours");
    assert_eq!(
        field(json!({"hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["25/12/2026"]})),
        "holidays[0]"
    );
    assert_eq!(
        field(json!({"hours": {"mon": [["09:00", "17:00"]]}, "zone": "x"})),
        "zone"
    );
    let seven = json!([
        ["00:00", "01:00"],
        ["02:00", "03:00"],
        ["04:00", "05:00"],
        ["06:00", "07:00"],
        ["08:00", "09:00"],
        ["10:00", "11:00"],
        ["12:00", "13:00"]
    ]);
    assert_eq!(field(json!({"hours": {"mon": seven}})), "hours.mon");
}
