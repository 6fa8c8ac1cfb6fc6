//! An ordered endpoint's deliveries claimed as a run, and an event that
//! must be written once however often its work runs.

use super::webhooks::{claim, complaints_in, endpoint, record};
use super::*;

pub(crate) async fn an_ordered_endpoint_s_run_is_claimed_together_and_given_back_in_order(
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let ordered = endpoint(s, &a, &[], true, true).await;
    let parallel = endpoint(s, &a, &[], true, false).await;
    complaints_in(s, &a, 5).await;
    let t0 = Utc::now() + chrono::Duration::seconds(1);
    let due = claim(s, t0).await;
    let head = due
        .iter()
        .find(|d| d.endpoint.id == ordered.id)
        .unwrap()
        .clone();
    let free = due
        .iter()
        .find(|d| d.endpoint.id == parallel.id)
        .unwrap()
        .clone();
    // Only after a delivery went through, and only for ordered endpoints.
    s.record_webhook_attempt(record(&head, t0, Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    let lease = t0 + chrono::Duration::seconds(30);
    assert!(s
        .claim_webhook_run(&free.delivery, t0, lease, 10)
        .await
        .unwrap()
        .is_empty());
    let run = s
        .claim_webhook_run(&head.delivery, t0, lease, 3)
        .await
        .unwrap();
    let ids: Vec<i64> = run.iter().map(|d| d.delivery.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > head.delivery.id,
        "{ids:?}"
    );
    assert!(run
        .iter()
        .all(|d| d.delivery.status == WebhookStatus::Sending && d.delivery.attempts == 1));
    // While they are out, nothing of the endpoint is due.
    assert!(claim(s, t0)
        .await
        .iter()
        .all(|d| d.endpoint.id != ordered.id));
    // The first goes through; the other two go back untried, and the oldest
    // of them is the endpoint's head again.
    s.record_webhook_attempt(record(&run[0], t0, Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    s.release_webhook_deliveries(ids[1..].to_vec())
        .await
        .unwrap();
    let next: Vec<DueDelivery> = claim(s, t0)
        .await
        .into_iter()
        .filter(|d| d.endpoint.id == ordered.id)
        .collect();
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].delivery.id, next[0].delivery.attempts),
        (ids[1], 1)
    );
    // A run stops at the first delivery not due yet.
    s.record_webhook_attempt(record(
        &next[0],
        t0,
        Some(503),
        AttemptOutcome::Retry {
            at: t0 + chrono::Duration::hours(1),
        },
    ))
    .await
    .unwrap();
    assert!(s
        .claim_webhook_run(&run[0].delivery, t0, lease, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn an_event_emitted_once_is_written_and_delivered_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let hook = endpoint(s, &a, &[EventType::SummaryDaily], true, false).await;
    let id = EventId::derived(&format!("summary:{}:2026-12-06", a.id));
    let data = serde_json::json!({"date": "2026-12-06", "new": 2});
    let now = ombud_store::stored(Utc::now());
    let first = s.emit_once(
        &a.id,
        id.clone(),
        EventType::SummaryDaily,
        data.clone(),
        now,
    );
    assert!(first.await.unwrap(), "written");
    // The job run again after a crash: nothing new.
    let again = s.emit_once(&a.id, id.clone(), EventType::SummaryDaily, data, now);
    assert!(!again.await.unwrap());
    let deliveries = s
        .webhook_deliveries(&a.id, &hook.id, None, None, 50)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_id, id);
}
