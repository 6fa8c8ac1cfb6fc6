//! Complaint numbers and idempotent creation.

use super::*;

pub(crate) async fn complaint_numbers_are_gap_free_per_local_day_and_unique_under_concurrency(
    store: Arc<dyn Store>,
) {
    let t = tenant(store.as_ref(), "pune", "Asia/Kolkata").await;
    // 20:00 UTC on the 22nd is already the 23rd in India.
    let evening = Utc.with_ymd_and_hms(2026, 11, 22, 20, 0, 0).unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                store
                    .create_complaint(&t, new_complaint(None, evening))
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().number.to_string());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=100).map(|n| format!("PUNE-20261123-{n:04}")).collect();
    assert_eq!(numbers, expected);

    // The next local day starts again at 1; an earlier day has its own count.
    let next_day = Utc.with_ymd_and_hms(2026, 11, 23, 19, 0, 0).unwrap();
    let c = store
        .create_complaint(&t, new_complaint(None, next_day))
        .await
        .unwrap()
        .0;
    assert_eq!(c.number.as_str(), "PUNE-20261124-0001");
    let morning = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let c = store
        .create_complaint(&t, new_complaint(None, morning))
        .await
        .unwrap()
        .0;
    assert_eq!(c.number.as_str(), "PUNE-20261122-0001");
}

pub(crate) async fn a_failed_creation_gives_its_number_back(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let mut bad = new_complaint(None, at);
    bad.category_id = Some(CategoryId::new()); // not this tenant's
    let err = store.create_complaint(&t, bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let c = store
        .create_complaint(&t, new_complaint(None, at))
        .await
        .unwrap()
        .0;
    assert_eq!(
        c.number.as_str(),
        "PUNE-20261123-0001",
        "no gap after the failure"
    );
}

pub(crate) async fn creation_is_idempotent_on_its_origin_key(store: Arc<dyn Store>) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    let at = Utc::now();
    let (a, first) = store
        .create_complaint(&t, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    let (b, again) = store
        .create_complaint(&t, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    assert!(first && !again);
    assert_eq!(a.id, b.id);
    // The same key in another tenant is another complaint.
    let other = tenant(store.as_ref(), "nagpur", "UTC").await;
    let (c, created) = store
        .create_complaint(&other, new_complaint(Some("k1"), at))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(c.id, a.id);
    assert_eq!(store.complaints(&t.id, 10).await.unwrap().len(), 1);
}
