//! Rate counters: hits add up within their window and start again in the
//! next; reading adds nothing; forgetting clears a key.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ombud_store::*;

pub async fn hits_count_per_fixed_window_and_are_forgotten(store: Arc<dyn Store>) {
    let minute = Duration::from_secs(60);
    let t0: DateTime<Utc> = "2026-12-06T10:00:10Z".parse().unwrap();
    assert_eq!(
        store
            .hit("ip:192.0.2.7", minute, 0, t0)
            .await
            .unwrap()
            .count,
        0
    );
    for n in 1..=3 {
        let h = store.hit("ip:192.0.2.7", minute, 1, t0).await.unwrap();
        assert_eq!(h.count, n);
        assert_eq!(h.last_at, Some(t0));
    }
    let h = store
        .hit("ip:192.0.2.7", minute, 0, t0 + TimeDelta::seconds(30))
        .await
        .unwrap();
    assert_eq!(h.count, 3, "reading adds nothing");
    assert_eq!(
        h.window_ends,
        "2026-12-06T10:01:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        store
            .hit("ip:192.0.2.8", minute, 2, t0)
            .await
            .unwrap()
            .count,
        2,
        "keys count apart"
    );
    let next = store
        .hit("ip:192.0.2.7", minute, 1, t0 + TimeDelta::seconds(60))
        .await
        .unwrap();
    assert_eq!(next.count, 1, "a new window starts again");
    store.forget_hits("ip:192.0.2.7").await.unwrap();
    let gone = store
        .hit("ip:192.0.2.7", minute, 0, t0 + TimeDelta::seconds(61))
        .await
        .unwrap();
    assert_eq!(gone.count, 0);
    // Many at once are all counted.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.hit("burst", minute, 1, t0).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.hit("burst", minute, 0, t0).await.unwrap().count, 20);
}
