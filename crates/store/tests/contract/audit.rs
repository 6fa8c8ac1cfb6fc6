//! The audit trail: entries are chained per tenant in the transaction of
//! their change (and only if the change is made), read back newest first with
//! filters, in order for checks, and verify; two stores appending to one
//! tenant at once keep one linear chain.

use std::sync::Arc;

use ombud_core::audit::*;
use ombud_core::*;
use ombud_store::*;

use super::tenant;

fn entry(t: &TenantId, action: &str, target: &str) -> NewAuditEntry {
    NewAuditEntry::new(
        t,
        chrono::Utc::now(),
        Actor::user(&UserId::new(), "Asha Rao", "asha@example.org"),
        Origin::new(
            Some("192.0.2.7".into()),
            Some("tests"),
            Some("req_1".into()),
        ),
        action,
        Target::new("api_key", target, Some(format!("key {target}"))),
    )
    .with_changes([FieldChange::set("scopes", ["complaints:read"])])
}

async fn whole_chain(store: &dyn Store, t: &TenantId) -> Vec<AuditEntry> {
    store.audit_chain(t, 0, 10_000).await.unwrap()
}

pub async fn audit_entries_chain_per_tenant_with_their_change_and_verify(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "Asia/Kolkata").await;
    let b = tenant(store.as_ref(), "beta", "Asia/Kolkata").await;
    for i in 0..3 {
        store
            .record_audit(vec![entry(&a.id, "login.failed", &format!("a{i}"))])
            .await
            .unwrap();
    }
    store
        .record_audit(vec![entry(&b.id, "login.failed", "b0")])
        .await
        .unwrap();

    // With a change: written in its transaction, and not when it is refused.
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant_id: a.id.clone(),
        name: "erp".into(),
        prefix: "ombud_abcdefgh".into(),
        scopes: vec![Scope::ComplaintsRead],
        rate_limit_per_minute: 10,
        created_by: None,
        created_at: stored(chrono::Utc::now()),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    store
        .create_api_key(
            key.clone(),
            "hash-1",
            vec![entry(&a.id, "api_key.created", key.id.as_str())],
        )
        .await
        .unwrap();
    let again = store
        .create_api_key(
            key.clone(),
            "hash-1",
            vec![entry(&a.id, "api_key.created", "twice")],
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    assert!(store
        .revoke_api_key(
            &a.id,
            &ApiKeyId::new(),
            chrono::Utc::now(),
            vec![entry(&a.id, "api_key.revoked", "none")]
        )
        .await
        .map(|done| !done)
        .unwrap());

    let chain = whole_chain(store.as_ref(), &a.id).await;
    let actions: Vec<(i64, &str)> = chain
        .iter()
        .map(|e| (e.seq, e.entry.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (1, "login.failed"),
            (2, "login.failed"),
            (3, "login.failed"),
            (4, "api_key.created")
        ]
    );
    assert_eq!(chain[0].prev_hash, GENESIS);
    assert_eq!(chain[0].entry.origin.address.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        chain[3].entry.changes,
        vec![FieldChange::set("scopes", ["complaints:read"])]
    );
    let verified = verify(&chain, &[], (0, GENESIS), None).unwrap();
    assert_eq!(verified.last_seq, 4);
    // What came back encodes as it was hashed.
    for e in &chain {
        assert_eq!(e.computed_hash(), e.hash);
    }
    assert_eq!(
        whole_chain(store.as_ref(), &b.id).await.len(),
        1,
        "its own chain"
    );

    // Newest first, filtered, in pages.
    let page = store
        .audit_events(&a.id, &AuditFilter::default(), None, 2)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 3]);
    let next = store
        .audit_events(&a.id, &AuditFilter::default(), Some(3), 2)
        .await
        .unwrap();
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 1]);
    let by_subject = AuditFilter {
        action: Some("api_key.".into()),
        ..Default::default()
    };
    let found = store
        .audit_events(&a.id, &by_subject, None, 50)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let by_label = AuditFilter {
        target: Some("key a1".into()),
        ..Default::default()
    };
    let found = store
        .audit_events(&a.id, &by_label, None, 50)
        .await
        .unwrap();
    assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
    let other = store
        .audit_events(&b.id, &by_label, None, 50)
        .await
        .unwrap();
    assert!(other.is_empty(), "another tenant's entries are not found");

    // Checkpoints: kept once per head, read back in order, and they verify.
    let key = SigningKey::generate();
    let heads = store.audit_heads().await.unwrap();
    let head = heads.iter().find(|h| h.tenant_id == a.id).unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (4, chain[3].hash.as_str()));
    let cp = Checkpoint::sign(&key, &a.id, head.seq, &head.hash, chrono::Utc::now());
    store.save_checkpoint(cp.clone()).await.unwrap();
    store.save_checkpoint(cp.clone()).await.unwrap();
    let cps = store.checkpoints(&a.id).await.unwrap();
    assert_eq!(cps, vec![cp]);
    assert!(verify(&chain, &cps, (0, GENESIS), Some(&key.public_hex())).is_ok());
}

pub async fn two_stores_appending_to_one_tenant_keep_one_chain(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let t = tenant(a.as_ref(), "alpha", "Asia/Kolkata").await;
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for i in 0..20 {
            let (store, tid) = (store.clone(), t.id.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .record_audit(vec![entry(
                        &tid,
                        "member.role_changed",
                        &format!("{n}-{i}"),
                    )])
                    .await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let chain = whole_chain(b.as_ref(), &t.id).await;
    assert_eq!(chain.len(), 40);
    let v = verify(&chain, &[], (0, GENESIS), None).unwrap();
    assert_eq!(v.last_seq, 40);
}
