//! Assignment by rule: the member is chosen in the change's transaction,
//! so rules racing on many connections never take a member past their
//! capacity; a change that frees a member's room leaves a drain job.

use ombud_core::routing::{Strategy, Team};
use ombud_store::routing::{BatchRouting, ByRule, NO_ROOM};

use super::*;

async fn staff(store: &dyn Store, t: &Tenant, name: &str) -> UserId {
    let new = NewUser {
        memberships: vec![(t.id.clone(), Role::Staff)],
        ..new_user(&format!("{name}@{}.example", t.slug))
    };
    store
        .create_user(new, chrono::Utc::now(), Vec::new())
        .await
        .unwrap()
        .id
}

fn by_rule(team: &Team, change: ComplaintChange, id: &ComplaintId) -> ChangeBatch {
    ChangeBatch {
        actor: ombud_core::routing::ACTOR.into(),
        at: chrono::Utc::now(),
        change,
        ids: vec![id.clone()],
        notices: None,
        audit: None,
        bulk_id: None,
        follow_ups: Default::default(),
        sla: None,
        routing: Some(BatchRouting {
            by_rule: Some(ByRule { team: team.clone() }),
        }),
        verification: None,
    }
}

pub(crate) async fn racing_rules_never_take_a_member_past_their_capacity(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "racing", "UTC").await;
    let mut members = Vec::new();
    for name in ["asha", "bala", "chitra"] {
        members.push(staff(store.as_ref(), &t, name).await);
    }
    let team = Team {
        slug: "roads".into(),
        name: "Roads".into(),
        members: members.clone(),
        strategy: Strategy::RoundRobin,
        capacity: Some(2),
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    let mut made = Vec::new();
    for i in 0..10 {
        let new = new_complaint(None, start + chrono::Duration::seconds(i));
        made.push(store.create_complaint(&t, new).await.unwrap().0);
    }
    let mut tasks = Vec::new();
    for c in &made {
        let (store, tid, batch) = (
            store.clone(),
            t.id.clone(),
            by_rule(&team, ComplaintChange::Assign(None), &c.id),
        );
        tasks.push(tokio::spawn(async move {
            store.change_complaints(&tid, batch).await.unwrap()
        }));
    }
    let (mut assigned, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap().pop().unwrap() {
            ChangeOutcome::Changed(c) => {
                assert!(c.assignee_id.is_some());
                assigned += 1;
            }
            ChangeOutcome::Skipped { reason, .. } => {
                assert_eq!(reason, NO_ROOM);
                full += 1;
            }
        }
    }
    assert_eq!((assigned, full), (6, 4));
    let loads = store.member_loads(&t.id, &members).await.unwrap();
    assert_eq!(loads.len(), 3);
    assert!(loads.iter().all(|l| l.open == 2), "{loads:?}");
    assert!(loads.iter().all(|l| l.last_assigned.is_some()), "{loads:?}");

    // One taken already is left alone.
    let mut taken = None;
    for c in &made {
        let now = store.complaint(&t.id, &c.id).await.unwrap().unwrap();
        if now.assignee_id.is_some() {
            taken = Some(now);
            break;
        }
    }
    let taken = taken.unwrap();
    let owner = taken.assignee_id.clone().unwrap();
    let again = store
        .change_complaints(
            &t.id,
            by_rule(&team, ComplaintChange::Assign(None), &taken.id),
        )
        .await
        .unwrap();
    assert!(
        matches!(&again[0], ChangeOutcome::Skipped { reason, .. } if reason == "already assigned"),
        "{again:?}"
    );

    // Resolving it gives its member room back: a drain job, made with the change.
    let at = chrono::Utc::now();
    let resolve = ChangeBatch {
        actor: "user:someone".into(),
        at,
        change: ComplaintChange::Status(ComplaintStatus::Resolved),
        ids: vec![taken.id.clone()],
        notices: None,
        audit: None,
        bulk_id: None,
        follow_ups: Default::default(),
        sla: None,
        routing: Some(BatchRouting::default()),
        verification: None,
    };
    let done = store.change_complaints(&t.id, resolve).await.unwrap();
    assert!(matches!(done[0], ChangeOutcome::Changed(_)));
    let drain = ombud_store::routing::drain_job(&t.id, at);
    let job = store.job(&drain.key).await.unwrap();
    assert!(job.is_some(), "no drain job {}", drain.key);
    let loads = store.member_loads(&t.id, &[owner]).await.unwrap();
    assert_eq!(loads[0].open, 1);
}

pub(crate) async fn racing_round_robin_gives_each_member_their_turn(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "turns", "UTC").await;
    let mut members = Vec::new();
    for name in ["asha", "bala", "chitra"] {
        members.push(staff(store.as_ref(), &t, name).await);
    }
    let team = Team {
        slug: "duty".into(),
        name: "Duty".into(),
        members: members.clone(),
        strategy: Strategy::RoundRobin,
        capacity: None,
    };
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    let mut batches = Vec::new();
    for i in 0..30 {
        let new = new_complaint(None, start + chrono::Duration::seconds(i));
        let c = store.create_complaint(&t, new).await.unwrap().0;
        // Each batch's time is taken before any runs: the transactions
        // commit in another order than their clocks say.
        batches.push(by_rule(&team, ComplaintChange::Assign(None), &c.id));
    }
    let mut tasks = Vec::new();
    for batch in batches.into_iter().rev() {
        let (store, tid) = (store.clone(), t.id.clone());
        tasks.push(tokio::spawn(async move {
            store.change_complaints(&tid, batch).await.unwrap()
        }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap()[0], ChangeOutcome::Changed(_)));
    }
    let loads = store.member_loads(&t.id, &members).await.unwrap();
    assert!(loads.iter().all(|l| l.open == 10), "{loads:?}");
}
