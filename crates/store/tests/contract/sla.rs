//! Service levels: the clock kept with a complaint's creation and changes,
//! the check jobs made in the same transaction, and a warning or breach
//! marked once, escalating in its transaction.

use ombud_core::calendar::Calendar;
use ombud_core::sla::{Policy, SlaRules, SlaSettings, Stage, Target};
use ombud_store::{SlaDue, SlaFired};

use super::*;

fn rules() -> SlaRules {
    SlaRules {
        settings: SlaSettings {
            enabled: true,
            policies: vec![Policy {
                name: "Two hours".into(),
                category_id: None,
                priority: None,
                first_response_minutes: Some(60),
                resolution_minutes: Some(120),
                business_hours: false,
                warn_before_minutes: 30,
                escalate_to: None,
                escalate_to_team: None,
            }],
        },
        calendar: Calendar::office_hours(),
        zone: TimeZoneName::parse("UTC").unwrap(),
    }
}

fn due(c: &Complaint, target: Target, stage: Stage, at: chrono::DateTime<Utc>) -> SlaDue {
    let clock = c.sla.as_ref().unwrap();
    SlaDue {
        complaint: c.id.clone(),
        target,
        stage,
        due_at: clock.deadline(target).unwrap().due_at,
        at,
        owner: None,
        team: None,
        notices: None,
        rules: rules(),
        mails: Vec::new(),
    }
}

pub(crate) async fn a_deadline_is_kept_with_its_jobs_and_breached_once(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "alpha", "UTC").await;
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let mut new = new_complaint(None, at);
    new.sla = Some(rules());
    let (c, _) = store.create_complaint(&t, new).await.unwrap();
    let clock = c.sla.clone().unwrap();
    assert_eq!(
        clock.first_response.as_ref().unwrap().due_at,
        at + chrono::Duration::hours(1)
    );
    // Read back as written, with its four checks scheduled.
    let read = store.complaint(&t.id, &c.id).await.unwrap().unwrap();
    assert_eq!(read.sla, c.sla);
    let key = |stage: Stage, target: Target| {
        let d = clock.deadline(target).unwrap();
        format!(
            "{}:{}:{}:{}:{}",
            stage.job_kind(),
            c.id,
            target.as_str(),
            d.due_at.timestamp_micros(),
            at.timestamp_micros()
        )
    };
    for stage in [Stage::Warning, Stage::Breach] {
        for target in Target::ALL {
            let job = store.job(&key(stage, target)).await.unwrap();
            assert!(job.is_some(), "{stage:?} {target:?}");
        }
    }

    // The warning, once.
    let later = at + chrono::Duration::minutes(31);
    let warned = store
        .sla_due(&t.id, due(&c, Target::FirstResponse, Stage::Warning, later))
        .await
        .unwrap();
    assert!(matches!(warned, SlaFired::Fired(_)), "{warned:?}");
    let again = store
        .sla_due(&t.id, due(&c, Target::FirstResponse, Stage::Warning, later))
        .await
        .unwrap();
    assert_eq!(again, SlaFired::Skipped("staff were told already".into()));
    let soon = ComplaintFilter {
        sla: Some(ombud_core::sla::SlaState::DueSoon),
        ..Default::default()
    };
    assert_eq!(store.count_complaints(&t.id, &soon).await.unwrap(), 1);

    // The breach escalates it in the same transaction: status, priority.
    let breach_at = at + chrono::Duration::minutes(61);
    let fired = store
        .sla_due(
            &t.id,
            due(&c, Target::FirstResponse, Stage::Breach, breach_at),
        )
        .await
        .unwrap();
    let SlaFired::Fired(now) = fired else {
        panic!("{fired:?}")
    };
    assert_eq!(now.status, ComplaintStatus::Escalated);
    assert_eq!(now.priority, Priority::High);
    assert_eq!(
        now.sla
            .as_ref()
            .unwrap()
            .first_response
            .as_ref()
            .unwrap()
            .breached_at,
        Some(breach_at)
    );
    let breached = ComplaintFilter {
        sla: Some(ombud_core::sla::SlaState::Breached),
        ..Default::default()
    };
    assert_eq!(store.count_complaints(&t.id, &breached).await.unwrap(), 1);
    let lines = store.complaint_events(&t.id, &c.id).await.unwrap();
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l.action.as_str(), l.actor.as_str()))
        .collect();
    assert!(
        actions.contains(&("sla_warning", "system:sla")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("sla_breached", "system:sla")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("status_changed", "system:sla")),
        "{actions:?}"
    );
    let day = (at, at + chrono::Duration::days(1));
    let count = |action: &'static str, to: Option<&'static str>| {
        let store = store.clone();
        let t = t.id.clone();
        async move {
            store
                .complaints_with_line(&t, action, to, day.0, day.1)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("sla_breached", None).await, 1);
    assert_eq!(count("sla_breached", Some("resolution")).await, 0);
    assert_eq!(count("status_changed", Some("escalated")).await, 1);
    // Another tenant sees none of it.
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let other = store
        .sla_due(&b.id, due(&c, Target::Resolution, Stage::Breach, breach_at))
        .await
        .unwrap();
    assert_eq!(other, SlaFired::Skipped("not found".into()));
    assert_eq!(
        store
            .complaints_with_line(&b.id, "sla_breached", None, day.0, day.1)
            .await
            .unwrap(),
        0
    );
}
