//! What a check job finds when it runs, a breach's escalation, and the
//! settings' rules.

use chrono::Duration;

use super::*;

#[test]
fn a_warning_and_a_breach_are_told_once() {
    let mut p = policy("Eight hours");
    p.resolution_minutes = Some(480);
    p.warn_before_minutes = 60;
    let r = rules(vec![p]);
    let mut c = started(&r, "2026-12-08 10:00");
    let due = c.sla.as_ref().unwrap().resolution.as_ref().unwrap().due_at;
    assert_eq!(
        check(
            &c,
            Target::Resolution,
            Stage::Warning,
            due,
            due - Duration::minutes(1)
        ),
        Ok(())
    );
    // A warning that runs only once its deadline has passed stands down.
    assert_eq!(
        check(&c, Target::Resolution, Stage::Warning, due, due).unwrap_err(),
        "the deadline has passed: its breach tells staff"
    );
    mark(
        &mut c,
        Target::Resolution,
        Stage::Warning,
        at("2026-12-09 09:00"),
    );
    assert_eq!(c.sla.as_ref().unwrap().state(), SlaState::DueSoon);
    assert!(check(
        &c,
        Target::Resolution,
        Stage::Warning,
        due,
        due - Duration::minutes(1)
    )
    .is_err());
    assert_eq!(
        check(
            &c,
            Target::Resolution,
            Stage::Breach,
            due,
            due - Duration::minutes(1)
        ),
        Ok(())
    );
    mark(
        &mut c,
        Target::Resolution,
        Stage::Breach,
        at("2026-12-09 10:00"),
    );
    assert_eq!(c.sla.as_ref().unwrap().state(), SlaState::Breached);
    assert_eq!(
        check(
            &c,
            Target::Resolution,
            Stage::Breach,
            due,
            due - Duration::minutes(1)
        )
        .unwrap_err(),
        "staff were told already"
    );
    assert_eq!(
        check(
            &c,
            Target::FirstResponse,
            Stage::Breach,
            due,
            due - Duration::minutes(1)
        )
        .unwrap_err(),
        "the policy sets no first response target"
    );
    c.status = ComplaintStatus::Rejected;
    assert!(check(
        &c,
        Target::Resolution,
        Stage::Breach,
        due,
        due - Duration::minutes(1)
    )
    .is_err());
}

#[test]
fn a_breach_escalates_raises_the_priority_and_hands_over() {
    let owner = UserId::new();
    let mut c = complaint("2026-12-08 10:00");
    c.status = ComplaintStatus::InProgress;
    assert_eq!(
        escalation(&c, Some(&owner), None),
        [
            ComplaintChange::Status(ComplaintStatus::Escalated),
            ComplaintChange::Priority(Priority::High),
            ComplaintChange::Assign(Some(owner.clone())),
        ]
    );
    c.status = ComplaintStatus::Escalated;
    c.priority = Priority::Urgent;
    c.assignee_id = Some(owner.clone());
    assert!(escalation(&c, Some(&owner), None).is_empty());
    c.priority = Priority::Low;
    assert_eq!(
        escalation(&c, None, None),
        [ComplaintChange::Priority(Priority::Normal)]
    );
    // To a team: into its queue, out of the assignee's hands; once there,
    // a second breach changes nothing more.
    assert_eq!(
        escalation(&c, None, Some("duty")),
        [
            ComplaintChange::Priority(Priority::Normal),
            ComplaintChange::Team(Some("duty".into())),
            ComplaintChange::Assign(None),
        ]
    );
    c.team = Some("duty".into());
    c.assignee_id = None;
    c.priority = Priority::Urgent;
    assert!(escalation(&c, None, Some("duty")).is_empty());
}

#[test]
fn settings_are_checked() {
    assert_eq!(SlaSettings::default().validate(), Ok(()));
    let field = |mut edit: Box<dyn FnMut(&mut Policy)>| {
        let mut s = SlaSettings::default();
        edit(&mut s.policies[0]);
        s.validate().unwrap_err().field
    };
    assert_eq!(field(Box::new(|p| p.name = " ".into())), "policies[0].name");
    assert_eq!(
        field(Box::new(|p| p.resolution_minutes = None)),
        "policies[0].resolution_minutes"
    );
    assert_eq!(
        field(Box::new(|p| p.resolution_minutes = Some(0))),
        "policies[0].resolution_minutes"
    );
    assert_eq!(
        field(Box::new(|p| p.warn_before_minutes = 7 * 24 * 60)),
        "policies[0].warn_before_minutes"
    );
    let mut twice = SlaSettings::default();
    twice.policies.push(twice.policies[0].clone());
    assert_eq!(twice.validate().unwrap_err().field, "policies[1].name");
    // Two policies for the same complaints: the second could never apply.
    twice.policies[1].name = "Another week".into();
    let e = twice.validate().unwrap_err();
    assert_eq!(e.field, "policies[1].priority");
    assert!(e.reason.contains("“Open for 7 days”"), "{}", e.reason);
    twice.policies[1].priority = Some(Priority::Urgent);
    assert_eq!(twice.validate(), Ok(()));
    let json: Result<SlaSettings, _> =
        serde_json::from_value(serde_json::json!({"enabled": true, "policies": [], "extra": 1}));
    assert!(json.is_err());
}
