use chrono::{Duration, NaiveDateTime, TimeZone as _};

use super::*;
use crate::calendar::Calendar;
use crate::change::ComplaintChange;
use crate::{
    ComplaintId, ComplaintNumber, ComplaintPrefix, ComplaintStatus, Language, Source, TenantId,
    TimeZoneName,
};

fn kolkata() -> TimeZoneName {
    TimeZoneName::parse("Asia/Kolkata").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    kolkata()
        .tz()
        .from_local_datetime(&naive)
        .unwrap()
        .with_timezone(&Utc)
}

fn policy(name: &str) -> Policy {
    Policy {
        name: name.into(),
        category_id: None,
        priority: None,
        first_response_minutes: None,
        resolution_minutes: None,
        business_hours: true,
        warn_before_minutes: 0,
        escalate_to: None,
        escalate_to_team: None,
    }
}

fn rules(policies: Vec<Policy>) -> SlaRules {
    SlaRules {
        settings: SlaSettings {
            enabled: true,
            policies,
        },
        calendar: Calendar::office_hours(),
        zone: kolkata(),
    }
}

fn complaint(created: &str) -> Complaint {
    let created_at = at(created);
    Complaint {
        id: ComplaintId::new(),
        tenant_id: TenantId::new(),
        number: ComplaintNumber::new(
            &ComplaintPrefix::parse("PUNE").unwrap(),
            created_at.date_naive(),
            1,
        ),
        channel_id: None,
        contact_id: None,
        conversation_id: None,
        category_id: None,
        description: "Streetlight broken".into(),
        location: None,
        area: None,
        assignee_id: None,
        team: None,
        language: Language::parse("en").unwrap(),
        priority: Priority::Normal,
        status: ComplaintStatus::New,
        source: Source::Text,
        created_at,
        updated_at: created_at,
        sla: None,
        point: None,
    }
}

/// `c` moved to `status` at `when` by staff (or not), its clock kept by `r`.
fn moved(
    r: &SlaRules,
    c: &Complaint,
    status: ComplaintStatus,
    when: &str,
    by_staff: bool,
) -> Complaint {
    let mut next = c.clone();
    next.status = status;
    r.after_change(c, &mut next, at(when), by_staff);
    next
}

fn started(r: &SlaRules, created: &str) -> Complaint {
    let mut c = complaint(created);
    c.sla = r.start(&c);
    c
}

#[test]
fn friday_half_past_four_with_an_hour_to_answer_is_due_monday_half_past_nine() {
    let mut p = policy("Answer within the hour");
    p.first_response_minutes = Some(60);
    p.resolution_minutes = Some(3 * 8 * 60);
    p.warn_before_minutes = 15;
    let r = rules(vec![p]);
    // 2026-12-04 is a Friday.
    let c = started(&r, "2026-12-04 16:30");
    let clock = c.sla.as_ref().unwrap();
    let first = clock.first_response.as_ref().unwrap();
    assert_eq!(first.due_at, at("2026-12-07 09:30"));
    assert_eq!(first.warn_at, Some(at("2026-12-07 09:15")));
    // Three business days: Monday, Tuesday, then Wednesday until 16:30.
    assert_eq!(
        clock.resolution.as_ref().unwrap().due_at,
        at("2026-12-09 16:30")
    );
    assert_eq!(clock.state(), SlaState::OnTrack);
    assert_eq!(clock.next_due(), Some(at("2026-12-07 09:30")));

    let runs: Vec<(Target, Stage, DateTime<Utc>)> = clock
        .alerts()
        .iter()
        .map(|p| (p.target, p.stage, p.run_at))
        .collect();
    assert_eq!(
        runs,
        [
            (
                Target::FirstResponse,
                Stage::Warning,
                at("2026-12-07 09:15")
            ),
            (Target::FirstResponse, Stage::Breach, at("2026-12-07 09:30")),
            (Target::Resolution, Stage::Warning, at("2026-12-09 16:15")),
            (Target::Resolution, Stage::Breach, at("2026-12-09 16:30")),
        ]
    );
    // The sweep finds it at 09:15 Monday, and only the warning is due then.
    assert_eq!(next_alert(&c), Some(at("2026-12-07 09:15")));
    assert!(due_alerts(&c, at("2026-12-07 09:14")).is_empty());
    let due = due_alerts(&c, at("2026-12-07 09:16"));
    assert_eq!(
        due.iter().map(|a| (a.target, a.stage)).collect::<Vec<_>>(),
        [(Target::FirstResponse, Stage::Warning)]
    );
    // Told: the next alert is the breach.
    let mut warned = c.clone();
    mark(
        &mut warned,
        Target::FirstResponse,
        Stage::Warning,
        at("2026-12-07 09:16"),
    );
    assert_eq!(next_alert(&warned), Some(at("2026-12-07 09:30")));
    assert!(due_alerts(&warned, at("2026-12-07 09:16")).is_empty());
    // Nobody swept until 09:40 (every replica was down): the breach alone,
    // the warning standing down for it.
    let late = due_alerts(&c, at("2026-12-07 09:40"));
    assert_eq!(
        late.iter().map(|a| (a.target, a.stage)).collect::<Vec<_>>(),
        [(Target::FirstResponse, Stage::Breach)]
    );
    let mut breached = c.clone();
    mark(
        &mut breached,
        Target::FirstResponse,
        Stage::Breach,
        at("2026-12-07 09:40"),
    );
    assert_eq!(next_alert(&breached), Some(at("2026-12-09 16:15")));
    // A complaint closed without resolving has nothing to come.
    breached.status = ComplaintStatus::Closed;
    assert_eq!(next_alert(&breached), None);
}

#[test]
fn calendar_time_counts_nights_and_weekends() {
    let r = rules(vec![]);
    let c = {
        let mut c = complaint("2026-12-04 16:30");
        c.sla = SlaRules {
            settings: SlaSettings::default(),
            ..r
        }
        .start(&c);
        c
    };
    let clock = c.sla.unwrap();
    assert_eq!(clock.policy, "Open for 7 days");
    assert!(clock.first_response.is_none());
    let d = clock.resolution.unwrap();
    assert_eq!(d.due_at, at("2026-12-11 16:30"));
    assert_eq!(d.warn_at, Some(at("2026-12-10 16:30")));
}

#[test]
fn the_most_specific_policy_that_covers_a_complaint_is_its_policy() {
    let water = crate::CategoryId::new();
    let mut urgent = policy("Urgent");
    urgent.priority = Some(Priority::Urgent);
    urgent.resolution_minutes = Some(60);
    let mut water_policy = policy("Water");
    water_policy.category_id = Some(water.clone());
    water_policy.resolution_minutes = Some(120);
    let mut rest = policy("Everything else");
    rest.resolution_minutes = Some(480);
    let r = rules(vec![urgent, water_policy, rest]);

    let mut c = complaint("2026-12-08 10:00");
    assert_eq!(r.start(&c).unwrap().policy, "Everything else");
    c.category_id = Some(water.clone());
    assert_eq!(r.start(&c).unwrap().policy, "Water");
    // Its category is more specific than its priority.
    c.priority = Priority::Urgent;
    assert_eq!(r.start(&c).unwrap().policy, "Water");
    c.category_id = None;
    assert_eq!(r.start(&c).unwrap().policy, "Urgent");
    c.category_id = Some(water);

    let mut off = r.clone();
    off.settings.enabled = false;
    assert_eq!(off.start(&c), None);
    // A complaint made already resolved (filed by staff for the record) runs no clock.
    c.status = ComplaintStatus::Resolved;
    assert!(r.start(&c).unwrap().resolution.is_none());
}

#[test]
fn on_hold_pauses_the_clock_and_leaving_it_moves_the_deadline_on() {
    let mut p = policy("Eight hours");
    p.resolution_minutes = Some(8 * 60);
    p.warn_before_minutes = 60;
    let r = rules(vec![p]);
    // Tuesday 10:00 + 8 business hours (09:00–17:00) = Wednesday 10:00.
    let c = started(&r, "2026-12-08 10:00");
    assert_eq!(
        c.sla.as_ref().unwrap().resolution.as_ref().unwrap().due_at,
        at("2026-12-09 10:00")
    );

    // On hold Tuesday 12:00 with 6 business hours left; back Thursday 10:00.
    let held = moved(&r, &c, ComplaintStatus::OnHold, "2026-12-08 12:00", true);
    let clock = held.sla.as_ref().unwrap();
    assert_eq!(clock.paused_at, Some(at("2026-12-08 12:00")));
    assert_eq!(clock.next_due(), None);
    assert!(clock.alerts().is_empty());
    assert_eq!(next_alert(&held), None);
    // A job for the old deadline finds the clock paused.
    assert_eq!(
        check(
            &held,
            Target::Resolution,
            Stage::Breach,
            at("2026-12-09 10:00"),
            at("2026-12-09 10:00") - Duration::minutes(1)
        )
        .unwrap_err(),
        "the complaint is on hold"
    );

    let back = moved(
        &r,
        &held,
        ComplaintStatus::InProgress,
        "2026-12-10 10:00",
        true,
    );
    let clock = back.sla.as_ref().unwrap();
    assert_eq!(clock.paused_at, None);
    let d = clock.resolution.as_ref().unwrap();
    assert_eq!(d.due_at, at("2026-12-10 16:00"));
    assert_eq!(d.warn_at, Some(at("2026-12-10 15:00")));
    let alerts = clock.alerts();
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|p| p.due_at == at("2026-12-10 16:00")));
    assert_eq!(next_alert(&back), Some(at("2026-12-10 15:00")));
    // The old deadline's job stands down; the new one's fires.
    assert_eq!(
        check(
            &back,
            Target::Resolution,
            Stage::Breach,
            at("2026-12-09 10:00"),
            at("2026-12-09 10:00") - Duration::minutes(1)
        )
        .unwrap_err(),
        "the deadline moved"
    );
    assert_eq!(
        check(
            &back,
            Target::Resolution,
            Stage::Breach,
            d.due_at,
            d.due_at - Duration::minutes(1)
        ),
        Ok(())
    );
}

#[test]
fn staff_leaving_new_is_the_first_response_and_resolving_meets_the_resolution() {
    let mut p = policy("Both");
    p.first_response_minutes = Some(60);
    p.resolution_minutes = Some(480);
    let r = rules(vec![p]);
    let c = started(&r, "2026-12-08 10:00");

    // What a breach changes is no response.
    let escalated = moved(
        &r,
        &c,
        ComplaintStatus::Escalated,
        "2026-12-08 11:00",
        false,
    );
    assert_eq!(
        escalated
            .sla
            .as_ref()
            .unwrap()
            .first_response
            .as_ref()
            .unwrap()
            .met_at,
        None
    );

    let acked = moved(
        &r,
        &c,
        ComplaintStatus::Acknowledged,
        "2026-12-08 10:20",
        true,
    );
    let clock = acked.sla.as_ref().unwrap();
    assert_eq!(
        clock.first_response.as_ref().unwrap().met_at,
        Some(at("2026-12-08 10:20"))
    );
    assert_eq!(
        check(
            &acked,
            Target::FirstResponse,
            Stage::Breach,
            at("2026-12-08 11:00"),
            at("2026-12-08 11:00") - Duration::minutes(1)
        )
        .unwrap_err(),
        "the first response was in time"
    );

    let resolved = moved(
        &r,
        &acked,
        ComplaintStatus::Resolved,
        "2026-12-08 15:00",
        true,
    );
    let d = resolved.sla.as_ref().unwrap().resolution.clone().unwrap();
    assert_eq!(d.met_at, Some(at("2026-12-08 15:00")));
    assert!(resolved.sla.as_ref().unwrap().alerts().is_empty());
    assert_eq!(next_alert(&resolved), None);

    // Reopened: the same deadline runs again, checked anew.
    let reopened = moved(
        &r,
        &resolved,
        ComplaintStatus::InProgress,
        "2026-12-08 16:00",
        true,
    );
    let again = reopened.sla.as_ref().unwrap().resolution.as_ref().unwrap();
    assert_eq!((again.met_at, again.due_at), (None, d.due_at));
    // The policy warns nobody: only the breach is to come.
    let alerts = reopened.sla.as_ref().unwrap().alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].stage, alerts[0].due_at),
        (Stage::Breach, d.due_at)
    );
    assert_eq!(next_alert(&reopened), Some(d.due_at));
}

#[test]
fn a_staff_change_of_priority_can_pick_another_policy() {
    let mut urgent = policy("Urgent");
    urgent.priority = Some(Priority::Urgent);
    urgent.first_response_minutes = Some(30);
    urgent.resolution_minutes = Some(120);
    let mut rest = policy("Rest");
    rest.first_response_minutes = Some(60);
    rest.resolution_minutes = Some(480);
    let r = rules(vec![urgent, rest]);
    let c = started(&r, "2026-12-08 10:00");
    let acked = moved(
        &r,
        &c,
        ComplaintStatus::Acknowledged,
        "2026-12-08 10:05",
        true,
    );

    let mut up = acked.clone();
    up.priority = Priority::Urgent;
    r.after_change(&acked, &mut up, at("2026-12-08 10:30"), true);
    let clock = up.sla.as_ref().unwrap();
    assert_eq!(clock.policy, "Urgent");
    assert_eq!(
        clock.resolution.as_ref().unwrap().due_at,
        at("2026-12-08 12:00")
    );
    assert_eq!(
        clock.first_response.as_ref().unwrap().met_at,
        Some(at("2026-12-08 10:05"))
    );
    let alerts = clock.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].due_at, at("2026-12-08 12:00"));

    // The same change by a breach keeps the policy.
    let mut by_breach = acked.clone();
    by_breach.priority = Priority::Urgent;
    r.after_change(&acked, &mut by_breach, at("2026-12-08 10:30"), false);
    assert_eq!(by_breach.sla.as_ref().unwrap().policy, "Rest");
}

mod checks;
