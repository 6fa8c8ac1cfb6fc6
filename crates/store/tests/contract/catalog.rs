//! The catalog: tenants, channels, categories and agent versions kept in memory
//! must never hide a change the store itself made, and hide another process's
//! change for at most the catalog's ttl.

use super::*;

fn category(slug: &str) -> NewCategory {
    NewCategory {
        id: ombud_core::CategoryId::new(),
        slug: slug.into(),
        names: [("en".to_owned(), slug.to_owned())].into(),
        keywords: vec![slug.into()],
        default_priority: Priority::Normal,
    }
}

fn slugs(categories: &[Category]) -> Vec<&str> {
    categories.iter().map(|c| c.slug.as_str()).collect()
}

pub(crate) async fn the_stores_own_changes_are_seen_at_once_through_the_catalog(
    store: Arc<dyn Store>,
) {
    let t = tenant(store.as_ref(), "pune", "UTC").await;
    assert!(store.categories(&t.id).await.unwrap().is_empty());
    store
        .create_category(&t.id, category("roads"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    assert_eq!(slugs(&store.categories(&t.id).await.unwrap()), ["roads"]);
    store
        .create_category(&t.id, category("water"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        slugs(&store.categories(&t.id).await.unwrap()),
        ["roads", "water"]
    );

    // A channel looked up before it exists is found once it does.
    let missing = ChannelId::new();
    assert!(store.channel(&missing).await.unwrap().is_none());
    let ch = channel(store.as_ref(), &t, "111").await;
    assert_eq!(store.channel(&ch.id).await.unwrap().unwrap().id, ch.id);

    // Another tenant's categories are its own, cached or not.
    let other = tenant(store.as_ref(), "nagpur", "UTC").await;
    assert!(store.categories(&other.id).await.unwrap().is_empty());
    assert_eq!(store.categories(&t.id).await.unwrap().len(), 2);
}

pub(crate) async fn another_process_s_changes_are_seen_once_the_catalog_entry_is_old(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let t = tenant(a.as_ref(), "pune", "UTC").await;
    assert!(
        a.categories(&t.id).await.unwrap().is_empty(),
        "now kept by a"
    );
    b.create_category(&t.id, category("roads"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    assert_eq!(slugs(&b.categories(&t.id).await.unwrap()), ["roads"]);

    let ttl = ombud_store::catalog::DEFAULT_TTL;
    let deadline = std::time::Instant::now() + ttl + std::time::Duration::from_secs(2);
    loop {
        if slugs(&a.categories(&t.id).await.unwrap()) == ["roads"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a still hides b's category {ttl:?} after it was made"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub(crate) async fn categories_are_edited_and_onboarding_remembered(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let roads = store
        .create_category(
            &a.id,
            NewCategory {
                id: ombud_core::CategoryId::new(),
                slug: "roads".into(),
                names: [("en".to_owned(), "Roads".to_owned())].into(),
                keywords: vec!["pothole".into()],
                default_priority: Priority::Normal,
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.categories(&a.id).await.unwrap().len(),
        1,
        "cached now"
    );
    let change = NewCategory {
        id: ombud_core::CategoryId::new(),
        slug: "ignored".into(),
        names: [
            ("en".to_owned(), "Roads and footpaths".to_owned()),
            ("mr".to_owned(), "रस्ते".to_owned()),
        ]
        .into(),
        keywords: vec!["pothole".into(), "footpath".into()],
        default_priority: Priority::High,
    };
    let updated = store
        .update_category(
            &a.id,
            &roads.id,
            change.clone(),
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(updated.slug, "roads", "the slug stays");
    assert_eq!(
        store.categories(&a.id).await.unwrap()[0],
        updated,
        "seen at once"
    );
    assert_eq!(updated.default_priority, Priority::High);
    match store
        .update_category(&b.id, &roads.id, change, chrono::Utc::now(), Vec::new())
        .await
    {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "category"),
        other => panic!("another tenant's category must not be found: {other:?}"),
    }

    assert!(store.onboarding_steps(&a.id).await.unwrap().is_empty());
    store
        .mark_onboarding_step(&a.id, "welcome", chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    store
        .mark_onboarding_step(&a.id, "welcome", chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    store
        .mark_onboarding_step(&a.id, "team", chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let mut steps = store.onboarding_steps(&a.id).await.unwrap();
    steps.sort();
    assert_eq!(steps, ["team", "welcome"]);
    assert!(store.onboarding_steps(&b.id).await.unwrap().is_empty());
    assert!(!store.has_conversations(&a.id).await.unwrap());
}
