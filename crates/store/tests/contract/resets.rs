//! Password resets and the daily summary's choice: what mail is made from.

use super::*;

pub(crate) async fn a_password_reset_and_its_mail_are_made_together_and_used_once(
    store: Arc<dyn Store>,
) {
    use chrono::SubsecRound;
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let asha = store
        .create_user(new_user("asha@pune.gov.in"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let reset = |hash: &str, minutes: i64| PasswordReset {
        id: ombud_core::PasswordResetId::new(),
        user_id: asha.id.clone(),
        token_hash: hash.into(),
        created_at: now,
        expires_at: now + chrono::Duration::minutes(minutes),
        used_at: None,
    };
    let mail = |key: &str| ombud_store::NewJob {
        id: ombud_core::JobId::new(),
        kind: "mail.send".into(),
        key: key.into(),
        tenant_id: None,
        payload: serde_json::json!({"kind": "password_reset"}),
        schedule: None,
        due_at: now,
        max_attempts: 5,
    };
    let fresh = reset("r1", 60);
    store
        .create_password_reset(fresh.clone(), mail("mail:r1"), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        store.password_reset("r1").await.unwrap(),
        Some(fresh.clone())
    );
    assert_eq!(
        store.password_reset_by_id(&fresh.id).await.unwrap(),
        Some(fresh.clone())
    );
    assert!(
        store.job("mail:r1").await.unwrap().is_some(),
        "its mail with it"
    );
    // A second with the key of a mail that exists: the mail is not made twice.
    let again = reset("r2", 60);
    store
        .create_password_reset(again.clone(), mail("mail:r1"), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        store
            .password_resets_since(&asha.id, now - chrono::Duration::minutes(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .password_resets_since(&asha.id, now + chrono::Duration::minutes(1))
            .await
            .unwrap(),
        0
    );

    // Used once: the password is the user's own, and every session ends.
    let session = Session {
        token_hash: "s1".into(),
        user_id: asha.id.clone(),
        tenant_id: a.id.clone(),
        csrf_token: "csrf".into(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + chrono::Duration::hours(12),
    };
    store.create_session(session, Vec::new()).await.unwrap();
    let at = now + chrono::Duration::minutes(5);
    assert!(store
        .use_password_reset(&fresh.id, "$argon2id$new", at, Vec::new())
        .await
        .unwrap());
    let user = store.user(&asha.id).await.unwrap().unwrap();
    assert_eq!(user.password_hash, "$argon2id$new");
    assert!(!user.must_change_password);
    assert!(
        store.session("s1").await.unwrap().is_none(),
        "signed out everywhere"
    );
    assert_eq!(
        store.password_reset("r1").await.unwrap().unwrap().used_at,
        Some(at)
    );
    assert!(
        !store
            .use_password_reset(&fresh.id, "$argon2id$again", at, Vec::new())
            .await
            .unwrap(),
        "once"
    );
    // An hour and a minute later, the other one has expired.
    assert!(!store
        .use_password_reset(
            &again.id,
            "$argon2id$late",
            now + chrono::Duration::minutes(61),
            Vec::new()
        )
        .await
        .unwrap());
    let user = store.user(&asha.id).await.unwrap().unwrap();
    assert_eq!(user.password_hash, "$argon2id$new", "nothing changed");
}

pub(crate) async fn a_member_chooses_the_daily_summary_in_each_tenant(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let asha = store
        .create_user(new_user("asha@pune.gov.in"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    store
        .add_membership(&a.id, &asha.id, Role::Staff, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let wants = |tenant: TenantId| {
        let store = store.clone();
        let user = asha.id.clone();
        async move {
            let member = store
                .members(&tenant)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.user.id == user)
                .map(|m| m.daily_summary);
            let membership = store
                .memberships(&user)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.tenant_id == tenant)
                .map(|m| m.daily_summary);
            assert_eq!(member, membership);
            member
        }
    };
    assert_eq!(
        wants(a.id.clone()).await,
        Some(false),
        "off until asked for"
    );
    assert!(store
        .set_daily_summary(
            &a.id,
            &asha.id,
            true,
            Language::parse("mr").ok(),
            Vec::new()
        )
        .await
        .unwrap());
    assert_eq!(wants(a.id.clone()).await, Some(true));
    let member = store.members(&a.id).await.unwrap();
    let asha_in_a = member.iter().find(|m| m.user.id == asha.id).unwrap();
    assert_eq!(
        asha_in_a.summary_language.as_ref().map(|l| l.as_str()),
        Some("mr")
    );
    let theirs = store.memberships(&asha.id).await.unwrap();
    assert!(theirs.iter().any(|m| m.summary_language.is_some()));
    // Not a member of beta: nothing to change there.
    assert!(!store
        .set_daily_summary(&b.id, &asha.id, true, None, Vec::new())
        .await
        .unwrap());
    assert_eq!(wants(b.id.clone()).await, None);
    assert!(store
        .set_daily_summary(&a.id, &asha.id, false, None, Vec::new())
        .await
        .unwrap());
    assert_eq!(wants(a.id.clone()).await, Some(false));
}
