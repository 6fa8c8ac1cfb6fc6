//! Webhook endpoints and the webhook outbox.

use super::*;

pub(crate) async fn endpoint(
    store: &dyn Store,
    t: &Tenant,
    types: &[EventType],
    enabled: bool,
    ordered: bool,
) -> WebhookEndpoint {
    let now = ombud_store::stored(chrono::Utc::now());
    let e = WebhookEndpoint {
        id: WebhookEndpointId::new(),
        tenant_id: t.id.clone(),
        url: "https://receiver.example.org/hooks".into(),
        description: "erp".into(),
        event_types: types.to_vec(),
        enabled,
        ordered,
        secret: ombud_core::webhook::new_secret(),
        previous_secret: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    store.create_webhook_endpoint(&e, Vec::new()).await.unwrap();
    e
}

fn micros(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(t, 6)
}

fn attempt(at: chrono::DateTime<Utc>, status: Option<u16>) -> WebhookAttempt {
    WebhookAttempt {
        attempted_at: at,
        status_code: status,
        latency_ms: 12,
        response: status.map(|s| format!("answer {s}")),
        error: match status {
            Some(200..=299) => None,
            Some(s) => Some(format!("HTTP {s}")),
            None => Some("connection refused".into()),
        },
    }
}

pub(crate) fn record(
    d: &DueDelivery,
    at: chrono::DateTime<Utc>,
    status: Option<u16>,
    outcome: AttemptOutcome,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.delivery.id,
        attempt: attempt(at, status),
        outcome,
        disable_after: chrono::Duration::days(5),
    }
}

pub(crate) async fn claim(store: &dyn Store, now: chrono::DateTime<Utc>) -> Vec<DueDelivery> {
    store
        .claim_webhook_deliveries(now, now + chrono::Duration::seconds(30), 50)
        .await
        .unwrap()
}

pub(crate) async fn complaints_in(store: &dyn Store, t: &Tenant, n: usize) {
    for _ in 0..n {
        store
            .create_complaint(
                t,
                new_complaint(None, ombud_store::stored(chrono::Utc::now())),
            )
            .await
            .unwrap();
    }
}

pub(crate) async fn events_fan_out_to_the_enabled_endpoints_that_take_them(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    let all = endpoint(s, &a, &[], true, false).await;
    let created_only = endpoint(s, &a, &[EventType::ComplaintCreated], true, false).await;
    let sent_only = endpoint(s, &a, &[EventType::MessageSent], true, false).await;
    let off = endpoint(s, &a, &[], false, false).await;
    let other = endpoint(s, &b, &[], true, false).await;

    complaints_in(s, &a, 1).await;
    let ch = channel(s, &a, "111").await;
    let batch = InboundBatch {
        messages: vec![text("9198", "wamid.1", "hi")],
        statuses: vec![],
    };
    s.ingest(&ch, batch, Utc::now(), SessionIdle::default())
        .await
        .unwrap();

    let due = claim(s, Utc::now() + chrono::Duration::seconds(1)).await;
    let mut got: Vec<(String, &str)> = due
        .iter()
        .map(|d| (d.endpoint.id.to_string(), d.delivery.event_type.as_str()))
        .collect();
    got.sort();
    let mut want = vec![
        (all.id.to_string(), "complaint.created"),
        (all.id.to_string(), "message.received"),
        (created_only.id.to_string(), "complaint.created"),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(!due
        .iter()
        .any(|d| d.endpoint.id == sent_only.id || d.endpoint.id == off.id));
    for d in &due {
        assert_eq!(d.delivery.attempts, 1);
        assert_eq!(d.delivery.status, WebhookStatus::Sending);
        let body: serde_json::Value = serde_json::from_str(&d.payload()).unwrap();
        assert_eq!(body["type"], d.delivery.event_type.as_str());
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(body["data"].is_object());
    }
    // Tenant walls: B sees neither A's endpoints nor their deliveries.
    assert!(s.webhook_endpoint(&b.id, &all.id).await.unwrap().is_none());
    assert!(s
        .webhook_deliveries(&b.id, &all.id, None, None, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.webhook_deliveries(&a.id, &all.id, None, None, 50)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(s
        .webhook_deliveries(&b.id, &other.id, None, None, 50)
        .await
        .unwrap()
        .is_empty());
    let ev = &due[0].delivery.event_id;
    assert!(!s
        .replay_webhook(&b.id, &due[0].endpoint.id, ev, Utc::now(), Vec::new())
        .await
        .unwrap());
    assert!(s
        .webhook_attempts(&b.id, due[0].delivery.id)
        .await
        .unwrap()
        .is_empty());
    assert!(!s
        .delete_webhook_endpoint(&b.id, &all.id, Vec::new())
        .await
        .unwrap());
    assert_eq!(s.webhook_endpoints(&a.id).await.unwrap().len(), 4);
}

pub(crate) async fn an_ordered_endpoint_gets_one_delivery_at_a_time_and_attempts_are_kept(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let ordered = endpoint(s, &a, &[], true, true).await;
    complaints_in(s, &a, 3).await;
    let t0 = Utc::now() + chrono::Duration::seconds(1);

    let first = claim(s, t0).await;
    assert_eq!(first.len(), 1, "only the oldest is due");
    // While it is out, nothing else of the endpoint is due.
    assert!(claim(s, t0).await.is_empty());
    let retry_at = t0 + chrono::Duration::seconds(5);
    s.record_webhook_attempt(record(
        &first[0],
        t0,
        Some(503),
        AttemptOutcome::Retry { at: retry_at },
    ))
    .await
    .unwrap();
    assert!(
        claim(s, t0 + chrono::Duration::seconds(1)).await.is_empty(),
        "the head waits its retry, and the rest behind it"
    );
    assert_eq!(s.next_webhook_due().await.unwrap(), Some(micros(retry_at)));
    let again = claim(s, retry_at).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.event_id, first[0].delivery.event_id);
    assert_eq!(again[0].delivery.attempts, 2);
    s.record_webhook_attempt(record(
        &again[0],
        retry_at,
        Some(200),
        AttemptOutcome::Delivered,
    ))
    .await
    .unwrap();
    let second = claim(s, retry_at).await;
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].delivery.event_id, first[0].delivery.event_id);

    let attempts = s
        .webhook_attempts(&a.id, first[0].delivery.id)
        .await
        .unwrap();
    assert_eq!(
        attempts.iter().map(|x| x.status_code).collect::<Vec<_>>(),
        vec![Some(503), Some(200)]
    );
    assert_eq!(attempts[0].response.as_deref(), Some("answer 503"));
    let d = s
        .webhook_delivery(&a.id, &ordered.id, &first[0].delivery.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, WebhookStatus::Delivered);
    assert_eq!(d.last_status, Some(200));
    assert!(d.delivered_at.is_some());
    let delivered = s
        .webhook_deliveries(&a.id, &ordered.id, Some(WebhookStatus::Delivered), None, 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    // Pages run newest first by id.
    let page = s
        .webhook_deliveries(&a.id, &ordered.id, None, None, 2)
        .await
        .unwrap();
    let rest = s
        .webhook_deliveries(&a.id, &ordered.id, None, Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(page.len() + rest.len(), 3);
    assert!(page[0].id > page[1].id && page[1].id > rest[0].id);

    // Unordered, the rest go out together; a lost claim comes back after its lease.
    s.update_webhook_endpoint(
        &a.id,
        &ordered.id,
        EndpointChange {
            ordered: Some(false),
            ..Default::default()
        },
        Utc::now(),
        Vec::new(),
    )
    .await
    .unwrap();
    complaints_in(s, &a, 1).await;
    let t1 = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(
        claim(s, t1).await.len(),
        2,
        "the third and the new one, while the second is still out"
    );
    let later = claim(s, retry_at + chrono::Duration::seconds(31)).await;
    assert_eq!(later.len(), 3, "every lease ran out");
}

pub(crate) async fn a_410_or_five_days_of_failures_disable_the_endpoint_with_an_event(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let gone = endpoint(s, &a, &[EventType::ComplaintCreated], true, true).await;
    let flaky = endpoint(s, &a, &[EventType::ComplaintCreated], true, true).await;
    let watcher = endpoint(s, &a, &[EventType::WebhookEndpointDisabled], true, true).await;
    complaints_in(s, &a, 2).await;
    let t0 = Utc::now() + chrono::Duration::seconds(1);
    let due = claim(s, t0).await;
    assert_eq!(due.len(), 2);
    let of = |id: &WebhookEndpointId| due.iter().find(|d| &d.endpoint.id == id).unwrap().clone();

    let disabled = s
        .record_webhook_attempt(record(&of(&gone.id), t0, Some(410), AttemptOutcome::Gone))
        .await
        .unwrap();
    assert!(disabled, "the attempt says it disabled the endpoint");
    let e = s.webhook_endpoint(&a.id, &gone.id).await.unwrap().unwrap();
    assert!(!e.enabled);
    assert!(e.disabled_reason.as_deref().unwrap().contains("410"));

    // A streak of failures: the first sets failing_since, a success clears
    // it, five days of failures disable.
    let f = of(&flaky.id);
    let disabled = s
        .record_webhook_attempt(record(&f, t0, None, AttemptOutcome::Retry { at: t0 }))
        .await
        .unwrap();
    assert!(!disabled);
    let e = s.webhook_endpoint(&a.id, &flaky.id).await.unwrap().unwrap();
    assert_eq!(e.failing_since, Some(micros(t0)));
    assert!(e.enabled);
    let f = claim(s, t0 + chrono::Duration::seconds(1)).await;
    let f = f.iter().find(|d| d.endpoint.id == flaky.id).unwrap();
    let disabled = s
        .record_webhook_attempt(record(
            f,
            t0 + chrono::Duration::days(5),
            Some(500),
            AttemptOutcome::Retry {
                at: t0 + chrono::Duration::days(6),
            },
        ))
        .await
        .unwrap();
    assert!(disabled, "five days of failures disable");
    let e = s.webhook_endpoint(&a.id, &flaky.id).await.unwrap().unwrap();
    assert!(!e.enabled);
    assert!(
        e.disabled_reason.as_deref().unwrap().contains("120 hours"),
        "{:?}",
        e.disabled_reason
    );

    // Each disabling is an event, delivered to the endpoint that takes them.
    let told = claim(s, t0 + chrono::Duration::days(5)).await;
    let kinds: Vec<(&WebhookEndpointId, EventType)> = told
        .iter()
        .map(|d| (&d.endpoint.id, d.delivery.event_type))
        .collect();
    assert_eq!(
        kinds,
        vec![(&watcher.id, EventType::WebhookEndpointDisabled)]
    );
    assert_eq!(told[0].data["endpoint_id"], gone.id.as_str());

    // Enabling again clears the reason and the streak.
    let e = s
        .update_webhook_endpoint(
            &a.id,
            &flaky.id,
            EndpointChange {
                enabled: Some(true),
                ..Default::default()
            },
            Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(e.enabled && e.disabled_reason.is_none() && e.failing_since.is_none());
    let stored = s.webhook_endpoint(&a.id, &flaky.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.enabled, stored.disabled_reason, stored.failing_since),
        (true, None, None)
    );
}

pub(crate) async fn replays_test_events_rotation_and_deletion(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let e = endpoint(s, &a, &[EventType::ComplaintCreated], true, false).await;
    let bystander = endpoint(s, &a, &[], true, false).await;
    complaints_in(s, &a, 2).await;
    let t0 = Utc::now() + chrono::Duration::seconds(1);
    let due: Vec<DueDelivery> = claim(s, t0)
        .await
        .into_iter()
        .filter(|d| d.endpoint.id == e.id)
        .collect();
    assert_eq!(due.len(), 2);
    s.record_webhook_attempt(record(&due[0], t0, Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    s.record_webhook_attempt(record(&due[1], t0, Some(500), AttemptOutcome::Failed))
        .await
        .unwrap();
    assert!(claim(s, t0 + chrono::Duration::seconds(1))
        .await
        .iter()
        .all(|d| d.endpoint.id != e.id));

    // One replayed: due again with the same event (the same webhook-id).
    assert!(s
        .replay_webhook(&a.id, &e.id, &due[0].delivery.event_id, t0, Vec::new())
        .await
        .unwrap());
    assert!(!s
        .replay_webhook(&a.id, &e.id, &EventId::new(), t0, Vec::new())
        .await
        .unwrap());
    let again = claim(s, t0 + chrono::Duration::seconds(1)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.event_id, due[0].delivery.event_id);
    assert_eq!(again[0].delivery.attempts, 2);
    s.record_webhook_attempt(record(&again[0], t0, Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    // All failed since a time.
    assert_eq!(
        s.replay_failed_webhooks(
            &a.id,
            &e.id,
            t0 + chrono::Duration::hours(1),
            t0,
            Vec::new()
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        s.replay_failed_webhooks(
            &a.id,
            &e.id,
            t0 - chrono::Duration::hours(1),
            t0,
            Vec::new()
        )
        .await
        .unwrap(),
        1
    );
    let failed_again = claim(s, t0 + chrono::Duration::seconds(1)).await;
    assert_eq!(failed_again.len(), 1);
    assert_eq!(failed_again[0].delivery.event_id, due[1].delivery.event_id);

    // A test event goes to its endpoint only, whatever the endpoint's types.
    let test = s
        .send_test_webhook(&a.id, &e.id, t0, Vec::new())
        .await
        .unwrap();
    let got = claim(s, t0 + chrono::Duration::seconds(1)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].endpoint.id, &got[0].delivery.event_id),
        (&e.id, &test)
    );
    assert_eq!(got[0].delivery.event_type, EventType::WebhookTest);
    let off = s
        .update_webhook_endpoint(
            &a.id,
            &bystander.id,
            EndpointChange {
                enabled: Some(false),
                ..Default::default()
            },
            Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let refused = s
        .send_test_webhook(&a.id, &off.id, t0, Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::Invalid(ref v) if v.field == "enabled"),
        "{refused:?}"
    );

    // Rotation keeps the old secret for its overlap.
    let until = ombud_store::stored(chrono::Utc::now()) + chrono::Duration::hours(24);
    let new_secret = ombud_core::webhook::new_secret();
    let rotated = s
        .rotate_webhook_secret(
            &a.id,
            &e.id,
            new_secret.clone(),
            until,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(rotated.secret, new_secret);
    assert_eq!(rotated.previous_secret, Some((e.secret.clone(), until)));
    assert_eq!(rotated.signing_secrets(Utc::now()).len(), 2);

    // Deleting takes the deliveries and attempts with it.
    let delivery = due[0].delivery.id;
    assert!(s
        .delete_webhook_endpoint(&a.id, &e.id, Vec::new())
        .await
        .unwrap());
    assert!(s
        .webhook_attempts(&a.id, delivery)
        .await
        .unwrap()
        .is_empty());
    assert!(s.webhook_endpoint(&a.id, &e.id).await.unwrap().is_none());
    assert!(!s
        .delete_webhook_endpoint(&a.id, &e.id, Vec::new())
        .await
        .unwrap());
}
