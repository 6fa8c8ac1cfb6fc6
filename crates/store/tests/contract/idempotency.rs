//! Idempotency keys.

use super::*;

pub(crate) async fn an_idempotency_key_answers_the_same_request_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = tenant(s, "alpha", "UTC").await;
    let b = tenant(s, "beta", "UTC").await;
    let now = Utc::now();
    let begin =
        |t: TenantId, caller: &'static str, hash: &'static str, at: chrono::DateTime<Utc>| {
            let store = store.clone();
            async move {
                store
                    .begin_idempotent(
                        &t,
                        caller,
                        "k1",
                        hash,
                        at,
                        at - chrono::Duration::seconds(60),
                        at - chrono::Duration::hours(24),
                    )
                    .await
                    .unwrap()
            }
        };
    assert_eq!(
        begin(a.id.clone(), "api:key_1", "h1", now).await,
        Idempotent::Started
    );
    assert_eq!(
        begin(a.id.clone(), "api:key_1", "h1", now).await,
        Idempotent::InProgress
    );
    assert_eq!(
        begin(a.id.clone(), "api:key_1", "h2", now).await,
        Idempotent::Mismatch
    );
    // Keys are per caller and per tenant.
    assert_eq!(
        begin(a.id.clone(), "api:key_2", "h1", now).await,
        Idempotent::Started
    );
    assert_eq!(
        begin(b.id.clone(), "api:key_1", "h1", now).await,
        Idempotent::Started
    );
    let answer = StoredAnswer {
        status: 201,
        headers: vec![("location".into(), "/api/v1/x".into())],
        body: "{\"id\":1}".into(),
    };
    s.finish_idempotent(&a.id, "api:key_1", "k1", answer.clone())
        .await
        .unwrap();
    assert_eq!(
        begin(a.id.clone(), "api:key_1", "h1", now).await,
        Idempotent::Replay(answer)
    );
    // A claim whose request failed can be made again; so can a stale one.
    s.abandon_idempotent(&a.id, "api:key_2", "k1")
        .await
        .unwrap();
    assert_eq!(
        begin(a.id.clone(), "api:key_2", "h1", now).await,
        Idempotent::Started
    );
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(
        begin(b.id.clone(), "api:key_1", "h1", later).await,
        Idempotent::Started
    );
    // After a day the key is forgotten.
    let next_day = now + chrono::Duration::hours(25);
    assert_eq!(
        begin(a.id.clone(), "api:key_1", "h2", next_day).await,
        Idempotent::Started
    );
}
