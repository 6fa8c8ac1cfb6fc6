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
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}
