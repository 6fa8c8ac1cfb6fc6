//! Tenants are walls: no read crosses them.

use super::*;

pub(crate) async fn reads_are_scoped_to_the_tenant(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let ch = channel(store.as_ref(), &a, "111").await;
    let key = store
        .ingest(
            &ch,
            InboundBatch {
                messages: vec![text("9198", "wamid.1", "hi")],
                statuses: vec![],
            },
            Utc::now(),
            SessionIdle::default(),
        )
        .await
        .unwrap()
        .due
        .remove(0);
    let (c, _) = store
        .create_complaint(&a, new_complaint(Some("x"), Utc::now()))
        .await
        .unwrap();

    let foreign = ConversationKey {
        tenant_id: b.id.clone(),
        conversation_id: key.conversation_id.clone(),
    };
    assert!(store.load_run(&foreign).await.unwrap().is_none());
    assert!(store
        .messages(&b.id, &key.conversation_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.conversations(&b.id).await.unwrap().is_empty());
    assert!(store.channels(&b.id).await.unwrap().is_empty());
    assert!(store
        .complaint_by_number(&b.id, &c.number)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .complaint_events(&b.id, &c.id)
        .await
        .unwrap()
        .is_empty());
    assert!(store.complaints(&b.id, 10).await.unwrap().is_empty());
    // A slug or phone number taken is a conflict, never a crash.
    let err = store
        .create_tenant(
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse("alpha").unwrap(),
                name: "again".into(),
                complaint_prefix: ComplaintPrefix::parse("AG").unwrap(),
                default_language: Language::en(),
                timezone: TimeZoneName::parse("UTC").unwrap(),
            },
            TenantSetup::default(),
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

/// A tenant starts with its categories and first agent version, made in its
/// own transaction: a failure part way leaves no tenant behind.
pub(crate) async fn a_tenant_is_made_with_what_it_starts_with_or_not_at_all(store: Arc<dyn Store>) {
    let new = |slug: &str| NewTenant {
        id: ombud_core::TenantId::new(),
        slug: TenantSlug::parse(slug).unwrap(),
        name: slug.into(),
        complaint_prefix: ComplaintPrefix::parse("WARD").unwrap(),
        default_language: Language::en(),
        timezone: TimeZoneName::parse("Asia/Kolkata").unwrap(),
    };
    let category = |slug: &str| NewCategory {
        id: CategoryId::new(),
        slug: slug.into(),
        names: [("en".to_owned(), slug.to_owned())].into(),
        keywords: vec![slug.into()],
        default_priority: Priority::Normal,
    };
    let agent = NewAgentVersion {
        agent_name: "intake".into(),
        kind: "intake".into(),
        config: serde_json::json!({}),
        changelog: "first".into(),
        author: "system".into(),
    };
    let at = Utc.with_ymd_and_hms(2026, 12, 6, 9, 30, 0).unwrap();
    let (made, version) = store
        .create_tenant(
            new("ward-a"),
            TenantSetup {
                categories: vec![category("water"), category("roads")],
                agent: Some(agent.clone()),
            },
            at,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(made.created_at, at, "the time handed in");
    let version = version.expect("the first agent version");
    assert_eq!((version.number, version.created_at), (1, at));
    let slugs: Vec<String> = store
        .categories(&made.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.slug.clone())
        .collect();
    assert_eq!(slugs.len(), 2, "{slugs:?}");

    // The second category clashes with the first: nothing of the tenant stays.
    let err = store
        .create_tenant(
            new("ward-b"),
            TenantSetup {
                categories: vec![category("water"), category("water")],
                agent: Some(agent),
            },
            at,
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let slug = TenantSlug::parse("ward-b").unwrap();
    assert!(store.tenant_by_slug(&slug).await.unwrap().is_none());
    assert_eq!(store.tenants().await.unwrap().len(), 1);
}
