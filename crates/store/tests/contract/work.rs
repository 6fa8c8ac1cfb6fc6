//! Staff work: the filtered list with keyset pages, counts, and batched changes.

use super::*;

async fn complaints(store: &dyn Store, t: &Tenant, n: usize) -> Vec<Complaint> {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    let mut made = Vec::new();
    for i in 0..n {
        // Two complaints share each second, so pages must break ties by id.
        let at = start + chrono::Duration::seconds((i / 2) as i64);
        let mut new = new_complaint(None, at);
        new.description = if i % 5 == 0 {
            format!("streetlight {i} is out")
        } else {
            format!("pothole {i}")
        };
        made.push(store.create_complaint(t, new).await.unwrap().0);
    }
    made
}

fn ids(rows: &[ComplaintRow]) -> Vec<ComplaintId> {
    rows.iter().map(|r| r.complaint.id.clone()).collect()
}

pub(crate) async fn the_list_filters_and_pages_by_keyset_within_the_tenant(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let made = complaints(store.as_ref(), &a, 25).await;
    complaints(store.as_ref(), &b, 3).await;
    let all = ComplaintFilter::default();

    // Newest first, in pages of 10, each after the last one's cursor: every
    // complaint once, in order, whatever the ties.
    let mut seen = Vec::new();
    let mut after: Option<ComplaintCursor> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_complaints(&a.id, &all, ComplaintSort::Newest, after.as_ref(), 10)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        pages += 1;
        after = Some(ComplaintCursor::of(&page.last().unwrap().complaint));
        seen.extend(ids(&page));
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<&Complaint> = made.iter().collect();
    expected.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));
    let expected: Vec<ComplaintId> = expected.into_iter().map(|c| c.id.clone()).collect();
    assert_eq!(seen, expected);
    // Oldest first is the same, reversed.
    let oldest = store
        .list_complaints(&a.id, &all, ComplaintSort::Oldest, None, 100)
        .await
        .unwrap();
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ids(&oldest), reversed);
    assert_eq!(store.count_complaints(&a.id, &all).await.unwrap(), 25);
    assert_eq!(store.count_complaints(&b.id, &all).await.unwrap(), 3);

    // Free text over number and description, taken literally.
    let text = |t: &str| ComplaintFilter {
        text: Some(t.into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .count_complaints(&a.id, &text("STREETLIGHT"))
            .await
            .unwrap(),
        5
    );
    assert_eq!(store.count_complaints(&a.id, &text("%")).await.unwrap(), 0);
    let number = made[7].number.as_str();
    let found = store
        .list_complaints(&a.id, &text(&number[6..]), ComplaintSort::Newest, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&found), vec![made[7].id.clone()]);
    assert_eq!(
        store.count_complaints(&b.id, &text(number)).await.unwrap(),
        0,
        "another tenant's number is not found"
    );

    // Quotes, percent signs and short words are text like any other.
    let mut odd = new_complaint(None, made[0].created_at);
    odd.description = "He said \"fix it\" 100% today".into();
    store.create_complaint(&a, odd).await.unwrap();
    for (words, n) in [
        ("\"fix it\"", 1),
        ("100%", 1),
        ("it", 1),
        ("IT\" 1", 1),
        ("fix  it", 0),
    ] {
        assert_eq!(
            store.count_complaints(&a.id, &text(words)).await.unwrap(),
            n,
            "{words}"
        );
    }
    assert_eq!(store.count_complaints(&a.id, &all).await.unwrap(), 26);
    assert_eq!(
        store
            .count_complaints(&b.id, &text("fix it"))
            .await
            .unwrap(),
        0
    );

    // A date range: the first 3 seconds hold 6 complaints.
    let start = made[0].created_at;
    let range = ComplaintFilter {
        created_from: Some(start),
        created_before: Some(start + chrono::Duration::seconds(3)),
        ..Default::default()
    };
    assert_eq!(
        store.count_complaints(&a.id, &range).await.unwrap(),
        7,
        "and the odd one"
    );
    assert!(store.complaint(&b.id, &made[0].id).await.unwrap().is_none());
    assert_eq!(
        store.complaint(&a.id, &made[0].id).await.unwrap().unwrap(),
        made[0]
    );
}

fn plain() -> StatusNotice {
    StatusNotice {
        by_language: Default::default(),
        fallback: "{numbers} now acknowledged".into(),
        ..Default::default()
    }
}

pub(crate) async fn batched_changes_skip_what_does_not_fit_and_record_the_rest(
    store: Arc<dyn Store>,
) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let made = complaints(store.as_ref(), &a, 6).await;
    let theirs = complaints(store.as_ref(), &b, 1).await;
    let member = store
        .create_user(
            NewUser {
                id: ombud_core::UserId::new(),
                email: Email::parse("ravi@alpha.example").unwrap(),
                name: "Ravi".into(),
                password_hash: "x".into(),
                must_change_password: false,
                platform_admin: false,
                memberships: vec![(a.id.clone(), Role::Staff)],
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let outsider = store
        .create_user(
            NewUser {
                id: ombud_core::UserId::new(),
                email: Email::parse("meera@beta.example").unwrap(),
                name: "Meera".into(),
                password_hash: "x".into(),
                must_change_password: false,
                platform_admin: false,
                memberships: vec![(b.id.clone(), Role::Owner)],
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let batch = |change: ComplaintChange, ids: Vec<ComplaintId>| ChangeBatch {
        at: chrono::Utc::now(),
        actor: format!("user:{}", member.id),
        change,
        ids,
        notices: Some(plain()),
        audit: None,
        bulk_id: None,
        follow_ups: Default::default(),
        sla: None,
        routing: None,
        verification: None,
    };

    // Reject one first, so the batch meets a complaint that can no longer move.
    store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Status(ComplaintStatus::Rejected),
                vec![made[0].id.clone()],
            ),
        )
        .await
        .unwrap();
    let mut every: Vec<ComplaintId> = made.iter().map(|c| c.id.clone()).collect();
    every.push(theirs[0].id.clone());
    let outcomes = store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Status(ComplaintStatus::Acknowledged),
                every,
            ),
        )
        .await
        .unwrap();
    let changed = outcomes
        .iter()
        .filter(|o| matches!(o, ChangeOutcome::Changed(_)))
        .count();
    assert_eq!(changed, 5);
    let skipped: Vec<(Option<String>, String)> = outcomes
        .iter()
        .filter_map(|o| match o {
            ChangeOutcome::Skipped { number, reason, .. } => {
                Some((number.as_ref().map(|n| n.to_string()), reason.clone()))
            }
            ChangeOutcome::Changed(_) => None,
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                Some(made[0].number.to_string()),
                "a rejected complaint cannot change status".into()
            ),
            (None, "not found".into()),
        ],
        "the rejected one, and the other tenant's (as if it did not exist)"
    );
    let acknowledged = ComplaintFilter {
        statuses: vec![ComplaintStatus::Acknowledged],
        ..Default::default()
    };
    assert_eq!(
        store.count_complaints(&a.id, &acknowledged).await.unwrap(),
        5
    );
    assert_eq!(
        store
            .complaint(&b.id, &theirs[0].id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ComplaintStatus::New,
        "the other tenant's complaint is untouched"
    );
    let history = store.complaint_events(&a.id, &made[1].id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.from_value.as_deref(),
            last.to_value.as_deref()
        ),
        ("status_changed", Some("new"), Some("acknowledged"))
    );
    assert_eq!(last.actor, format!("user:{}", member.id));

    // Assign: only to a member of this tenant, and a whole batch is refused
    // otherwise.
    match store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Assign(Some(outsider.id.clone())),
                vec![made[1].id.clone()],
            ),
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "assignee"),
        other => panic!("expected an invalid assignee, got {other:?}"),
    }
    let outcomes = store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Assign(Some(member.id.clone())),
                vec![made[1].id.clone(), made[2].id.clone()],
            ),
        )
        .await
        .unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, ChangeOutcome::Changed(_))));
    let theirs_filter = ComplaintFilter {
        assignee: Some(AssigneeFilter::Member(member.id.clone())),
        ..Default::default()
    };
    let rows = store
        .list_complaints(&a.id, &theirs_filter, ComplaintSort::Oldest, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&rows), vec![made[1].id.clone(), made[2].id.clone()]);
    assert_eq!(rows[0].assignee_name.as_deref(), Some("Ravi"));
    let nobody = ComplaintFilter {
        assignee: Some(AssigneeFilter::Nobody),
        ..Default::default()
    };
    assert_eq!(store.count_complaints(&a.id, &nobody).await.unwrap(), 4);

    // The same change again is skipped as no change; a note always adds a line.
    let again = store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Assign(Some(member.id.clone())),
                vec![made[1].id.clone()],
            ),
        )
        .await
        .unwrap();
    assert!(
        matches!(&again[0], ChangeOutcome::Skipped { reason, .. } if reason.contains("already"))
    );
    store
        .change_complaints(
            &a.id,
            batch(
                ComplaintChange::Note("called the contractor".into()),
                vec![made[1].id.clone()],
            ),
        )
        .await
        .unwrap();
    let history = store.complaint_events(&a.id, &made[1].id).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "status_changed", "assigned", "note"]);
    assert_eq!(
        history[3].to_value.as_deref(),
        Some("called the contractor")
    );

    // Priority, category (the tenant's own only) and area.
    let cat = store
        .create_category(
            &a.id,
            NewCategory {
                id: ombud_core::CategoryId::new(),
                slug: "roads".into(),
                names: [("en".to_owned(), "Roads".to_owned())].into(),
                keywords: vec![],
                default_priority: Priority::Normal,
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let one = vec![made[3].id.clone()];
    for change in [
        ComplaintChange::Priority(Priority::Urgent),
        ComplaintChange::Category(Some(cat.id.clone())),
        ComplaintChange::Area(Some("Ward 7".into())),
    ] {
        let out = store
            .change_complaints(&a.id, batch(change, one.clone()))
            .await
            .unwrap();
        assert!(matches!(out[0], ChangeOutcome::Changed(_)), "{out:?}");
    }
    let c = store.complaint(&a.id, &made[3].id).await.unwrap().unwrap();
    assert_eq!(
        (c.priority, c.category_id.as_ref(), c.area.as_deref()),
        (Priority::Urgent, Some(&cat.id), Some("Ward 7"))
    );
    let other_cat = store
        .create_category(
            &b.id,
            NewCategory {
                id: ombud_core::CategoryId::new(),
                slug: "water".into(),
                names: Default::default(),
                keywords: vec![],
                default_priority: Priority::Normal,
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .change_complaints(
                &a.id,
                batch(ComplaintChange::Category(Some(other_cat.id)), one)
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    let in_ward = ComplaintFilter {
        area: Some("Ward 7".into()),
        priority: Some(Priority::Urgent),
        category: Some(cat.id.clone()),
        ..Default::default()
    };
    assert_eq!(store.count_complaints(&a.id, &in_ward).await.unwrap(), 1);
}

pub(crate) async fn the_overview_counts_by_local_day_category_and_age(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "alpha", "Asia/Kolkata").await;
    let now = Utc::now();
    let make = |at: chrono::DateTime<Utc>| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            store
                .create_complaint(&t, new_complaint(None, at))
                .await
                .unwrap()
                .0
        }
    };
    let today = make(now - chrono::Duration::minutes(30)).await;
    let _two_days = make(now - chrono::Duration::days(2)).await;
    let old = make(now - chrono::Duration::days(40)).await;
    let staff = store
        .create_user(
            NewUser {
                id: ombud_core::UserId::new(),
                email: Email::parse("ravi@alpha.example").unwrap(),
                name: "Ravi".into(),
                password_hash: "x".into(),
                must_change_password: false,
                platform_admin: false,
                memberships: vec![(t.id.clone(), Role::Staff)],
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    store
        .change_complaints(
            &t.id,
            ChangeBatch {
                at: chrono::Utc::now(),
                actor: format!("user:{}", staff.id),
                change: ComplaintChange::Status(ComplaintStatus::Resolved),
                ids: vec![today.id.clone()],
                notices: None,
                audit: None,
                bulk_id: None,
                follow_ups: Default::default(),
                sla: None,
                routing: None,
                verification: None,
            },
        )
        .await
        .unwrap();

    let o = store
        .overview(&t, now - chrono::Duration::days(30), now)
        .await
        .unwrap();
    let days: u64 = o.per_day.iter().map(|(_, _, n)| n).sum();
    assert_eq!(days, 2, "the 40-day-old one is outside the period");
    let local_today = t.timezone.local_date(today.created_at);
    assert!(o
        .per_day
        .contains(&(local_today, ComplaintStatus::Resolved, 1)));
    assert_eq!(o.open_by_category, vec![(None, 2)], "two open, no category");
    assert_eq!(o.open_by_age, vec![0, 1, 0, 0, 1]);
    assert_eq!(o.first_response_secs.len(), 1);
    assert_eq!(o.resolution_secs.len(), 1);
    let took = o.resolution_secs[0];
    assert!((1700..=1900).contains(&took), "about 30 minutes: {took}");
    assert!(old.status.is_open());
}
