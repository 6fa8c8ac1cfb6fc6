//! Service levels: the clock kept with a complaint's creation and changes,
//! its next alert found by the sweep when due, and a warning or breach
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

/// The complaints the sweep finds due at `now`, as (complaint, next alert).
async fn found(
    store: &dyn Store,
    now: chrono::DateTime<Utc>,
) -> Vec<(ComplaintId, chrono::DateTime<Utc>)> {
    store
        .sla_alerts_due(now, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.complaint_id, p.next_at))
        .collect()
}

pub(crate) async fn a_deadline_is_kept_found_when_due_and_breached_once(store: Arc<dyn Store>) {
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
    // Read back as written, and no job made for it: the sweep finds its
    // first warning (10:30) from then on, not before.
    let read = store.complaint(&t.id, &c.id).await.unwrap().unwrap();
    assert_eq!(read.sla, c.sla);
    let year = at + chrono::Duration::days(365);
    assert_eq!(store.job_stats(year).await.unwrap().due, 0);
    let minutes = |m: i64| at + chrono::Duration::minutes(m);
    assert!(found(store.as_ref(), minutes(29)).await.is_empty());
    assert_eq!(
        found(store.as_ref(), minutes(30)).await,
        [(c.id.clone(), minutes(30))]
    );

    // The warning, once; then the breach at 11:00 is the next alert.
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
    assert!(found(store.as_ref(), later).await.is_empty());
    assert_eq!(
        found(store.as_ref(), minutes(60)).await,
        [(c.id.clone(), minutes(60))]
    );
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
    // Escalated, it is still open: the resolution's warning (11:30) comes.
    assert!(found(store.as_ref(), breach_at).await.is_empty());
    assert_eq!(
        found(store.as_ref(), minutes(90)).await,
        [(c.id.clone(), minutes(90))]
    );
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

/// Every tenant's alerts due, by time then id, a page at a time; a complaint
/// resolved or on hold leaves the sweep's list, and one reopened comes back.
pub(crate) async fn the_sweep_pages_through_every_tenants_alerts_due(store: Arc<dyn Store>) {
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let mut made = Vec::new();
    for (i, slug) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        let t = tenant(store.as_ref(), slug, "UTC").await;
        for k in 0..3 {
            let mut new = new_complaint(None, at + chrono::Duration::minutes(i as i64 + 3 * k));
            new.sla = Some(rules());
            let (c, _) = store.create_complaint(&t, new).await.unwrap();
            made.push((t.id.clone(), c));
        }
    }
    // One with no policy is never found.
    let (t0, _) = &made[0];
    let mut plain = new_complaint(None, at);
    plain.sla = None;
    let t0_tenant = store.tenant(t0).await.unwrap().unwrap();
    store.create_complaint(&t0_tenant, plain).await.unwrap();

    let now = at + chrono::Duration::hours(3);
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.sla_alerts_due(now, after.as_ref(), 4).await.unwrap();
        pages.push(page.len());
        after = page.last().cloned();
        let done = page.len() < 4;
        for p in page {
            let (t, c) = made.iter().find(|(_, c)| c.id == p.complaint_id).unwrap();
            assert_eq!(&p.tenant_id, t, "each complaint with its own tenant");
            assert_eq!(Some(p.next_at), ombud_core::sla::next_alert(c));
        }
        if done {
            break;
        }
    }
    assert_eq!(pages, [4, 4, 1], "nine complaints, four to a page");
    let all = store.sla_alerts_due(now, None, 100).await.unwrap();
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| (a.next_at, &a.complaint_id).cmp(&(b.next_at, &b.complaint_id)));
    assert_eq!(all, sorted, "by time, then id");

    // Resolved, it leaves the list; reopened, it is back; on hold, it leaves.
    let (t, c) = &made[4];
    let change = |status: ComplaintStatus, m: i64| ChangeBatch {
        actor: "user:x".into(),
        at: at + chrono::Duration::minutes(m),
        change: ComplaintChange::Status(status),
        ids: vec![c.id.clone()],
        notices: None,
        audit: None,
        bulk_id: None,
        follow_ups: Default::default(),
        sla: Some(rules()),
        routing: None,
        verification: None,
    };
    let listed = |id: ComplaintId| {
        let store = store.clone();
        async move {
            store
                .sla_alerts_due(now, None, 100)
                .await
                .unwrap()
                .iter()
                .any(|p| p.complaint_id == id)
        }
    };
    assert!(listed(c.id.clone()).await);
    store
        .change_complaints(t, change(ComplaintStatus::Resolved, 20))
        .await
        .unwrap();
    assert!(!listed(c.id.clone()).await, "resolved");
    store
        .change_complaints(t, change(ComplaintStatus::InProgress, 25))
        .await
        .unwrap();
    assert!(listed(c.id.clone()).await, "reopened");
    store
        .change_complaints(t, change(ComplaintStatus::OnHold, 26))
        .await
        .unwrap();
    assert!(!listed(c.id.clone()).await, "on hold");
}
