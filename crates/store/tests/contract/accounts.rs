//! Staff accounts: one account per email, memberships per tenant.

use super::*;

pub(crate) fn new_user(email: &str) -> NewUser {
    NewUser {
        id: ombud_core::UserId::new(),
        email: Email::parse(email).unwrap(),
        name: "Asha Patil".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        must_change_password: true,
        platform_admin: false,
        memberships: Vec::new(),
    }
}

pub(crate) async fn one_account_per_email_and_one_membership_per_tenant(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let user = store
        .create_user(new_user("Asha@Pune.gov.in"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();

    // Found by the address in any case, with everything that was stored.
    let found = store
        .user_by_email(&Email::parse("asha@pune.gov.in").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, user);
    assert!(found.must_change_password && !found.platform_admin);
    assert!(store
        .user_by_email(&Email::parse("nobody@pune.gov.in").unwrap())
        .await
        .unwrap()
        .is_none());

    // The same address, differently written, is the same account.
    match store
        .create_user(
            new_user(" ASHA@pune.gov.in"),
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
    {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "email"),
        other => panic!("expected a conflict on email, got {other:?}"),
    }

    // A member of two tenants, with a role in each; once per tenant.
    store
        .add_membership(&a.id, &user.id, Role::Admin, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    store
        .add_membership(
            &b.id,
            &user.id,
            Role::Viewer,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    match store
        .add_membership(&a.id, &user.id, Role::Owner, chrono::Utc::now(), Vec::new())
        .await
    {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "user"),
        other => panic!("expected a conflict on user, got {other:?}"),
    }
    let roles: Vec<(TenantId, Role)> = store
        .memberships(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.tenant_id, m.role))
        .collect();
    assert_eq!(
        roles,
        vec![(a.id.clone(), Role::Admin), (b.id.clone(), Role::Viewer)]
    );
    assert!(store.memberships(&UserId::new()).await.unwrap().is_empty());
    // A membership of a tenant that does not exist is refused as such, not as
    // a duplicate, on every backend.
    match store
        .add_membership(
            &TenantId::new(),
            &user.id,
            Role::Staff,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "reference"),
        other => panic!("expected an invalid reference, got {other:?}"),
    }

    // A user made with memberships has them; a failing membership (a second
    // one in the same tenant) leaves no account behind.
    let mut ravi = new_user("ravi@pune.gov.in");
    ravi.memberships = vec![(b.id.clone(), Role::Staff)];
    let ravi = store
        .create_user(ravi, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let roles: Vec<Role> = store
        .memberships(&ravi.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(roles, vec![Role::Staff]);
    let mut twice = new_user("meera@pune.gov.in");
    twice.memberships = vec![(a.id.clone(), Role::Staff), (a.id.clone(), Role::Admin)];
    assert!(store
        .create_user(twice, chrono::Utc::now(), Vec::new())
        .await
        .is_err());
    assert!(store
        .user_by_email(&Email::parse("meera@pune.gov.in").unwrap())
        .await
        .unwrap()
        .is_none());
}

pub(crate) async fn sessions_are_found_by_token_hash_touched_and_ended(store: Arc<dyn Store>) {
    use chrono::SubsecRound;
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let asha = store
        .create_user(new_user("asha@pune.gov.in"), chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let session = |hash: &str| Session {
        token_hash: hash.into(),
        user_id: asha.id.clone(),
        tenant_id: a.id.clone(),
        csrf_token: format!("csrf-{hash}"),
        created_at: now,
        last_seen_at: now,
        expires_at: now + chrono::Duration::hours(12),
    };
    store
        .create_session(session("h1"), Vec::new())
        .await
        .unwrap();
    store
        .create_session(session("h2"), Vec::new())
        .await
        .unwrap();
    let read = |hash: &'static str| {
        let store = store.clone();
        async move { store.session(hash).await.unwrap().map(|s| s.session) }
    };
    assert_eq!(read("h1").await, Some(session("h1")));
    assert_eq!(read("nope").await, None);

    // The session comes with its user and their role in its tenant; none
    // once they are no member there (the dashboard then refuses it).
    let signed_in = store.session("h1").await.unwrap().unwrap();
    assert_eq!(signed_in.user, asha);
    assert_eq!(signed_in.role, None);
    store
        .add_membership(&a.id, &asha.id, Role::Staff, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        store.session("h1").await.unwrap().unwrap().role,
        Some(Role::Staff)
    );
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    assert!(store.set_session_tenant("h1", &b.id).await.unwrap());
    assert!(!store.set_session_tenant("nope", &b.id).await.unwrap());
    let moved = store.session("h1").await.unwrap().unwrap();
    assert_eq!((moved.session.tenant_id, moved.role), (b.id.clone(), None));
    assert!(store.set_session_tenant("h1", &a.id).await.unwrap());

    let later = now + chrono::Duration::minutes(5);
    assert!(store.touch_session("h1", later).await.unwrap());
    assert!(!store.touch_session("nope", later).await.unwrap());
    assert_eq!(read("h1").await.unwrap().last_seen_at, later);

    store.delete_session("h1", Vec::new()).await.unwrap();
    assert_eq!(read("h1").await, None);
    assert!(read("h2").await.is_some(), "only that one ended");
    store
        .create_session(session("h3"), Vec::new())
        .await
        .unwrap();
    assert_eq!(store.delete_sessions_of(&asha.id).await.unwrap(), 2);
    assert_eq!(read("h3").await, None);

    // A session must name a user and a tenant that exist.
    let mut orphan = session("h4");
    orphan.user_id = UserId::new();
    match store.create_session(orphan, Vec::new()).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "reference"),
        other => panic!("expected an invalid reference, got {other:?}"),
    }
}

pub(crate) async fn members_are_listed_and_passwords_replaced(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let mut ravi = new_user("ravi@pune.gov.in");
    ravi.name = "Ravi Kale".into();
    ravi.memberships = vec![(a.id.clone(), Role::Staff)];
    let ravi = store
        .create_user(ravi, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let mut asha = new_user("asha@pune.gov.in");
    asha.memberships = vec![(a.id.clone(), Role::Owner), (b.id.clone(), Role::Viewer)];
    let asha = store
        .create_user(asha, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();

    let members: Vec<(String, Role)> = store
        .members(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user.email.as_str().to_owned(), m.role))
        .collect();
    assert_eq!(
        members,
        vec![
            ("asha@pune.gov.in".to_owned(), Role::Owner),
            ("ravi@pune.gov.in".to_owned(), Role::Staff)
        ],
        "by name, each with the role in this tenant"
    );
    let in_b = store.members(&b.id).await.unwrap();
    assert_eq!(in_b.len(), 1);
    assert_eq!((&in_b[0].user.id, in_b[0].role), (&asha.id, Role::Viewer));

    store
        .set_password(
            &ravi.id,
            "$argon2id$new",
            false,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let found = store.user_by_email(&ravi.email).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "$argon2id$new");
    assert!(!found.must_change_password);
    let untouched = store.user_by_email(&asha.email).await.unwrap().unwrap();
    assert_eq!(untouched.password_hash, asha.password_hash);
    match store
        .set_password(&UserId::new(), "x", true, chrono::Utc::now(), Vec::new())
        .await
    {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "user"),
        other => panic!("expected not found, got {other:?}"),
    }
}

pub(crate) async fn an_invitation_works_once_before_it_expires(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let mut owner = new_user("owner@alpha.example");
    owner.memberships = vec![(a.id.clone(), Role::Owner), (b.id.clone(), Role::Owner)];
    let owner = store
        .create_user(owner, chrono::Utc::now(), Vec::new())
        .await
        .unwrap();
    let now = Utc::now();
    let invite = |email: &str, hash: &str, tenant: &Tenant, expires_in: i64| Invitation {
        id: InvitationId::new(),
        tenant_id: tenant.id.clone(),
        email: Email::parse(email).unwrap(),
        role: Role::Staff,
        invited_by: owner.id.clone(),
        token_hash: hash.into(),
        created_at: now,
        expires_at: now + chrono::Duration::hours(expires_in),
        accepted_at: None,
    };
    store
        .create_invitation(invite("ravi@alpha.example", "h1", &a, 72), None, Vec::new())
        .await
        .unwrap();
    store
        .create_invitation(invite("late@alpha.example", "h2", &a, -1), None, Vec::new())
        .await
        .unwrap();
    assert_eq!(store.open_invitations(&a.id).await.unwrap().len(), 2);
    assert!(store.open_invitations(&b.id).await.unwrap().is_empty());
    let found = store.invitation("h1").await.unwrap().unwrap();
    assert_eq!(found.email.as_str(), "ravi@alpha.example");

    // A new account from the invitation, with its role; then the link is used up.
    let ravi = store
        .accept_invitation(
            "h1",
            Acceptance::NewUser(new_user("ravi@alpha.example")),
            now,
            Vec::new(),
        )
        .await
        .unwrap();
    let roles: Vec<(TenantId, Role)> = store
        .memberships(&ravi.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.tenant_id, m.role))
        .collect();
    assert_eq!(roles, vec![(a.id.clone(), Role::Staff)]);
    assert!(store
        .invitation("h1")
        .await
        .unwrap()
        .unwrap()
        .accepted_at
        .is_some());
    match store
        .accept_invitation("h1", Acceptance::Existing(ravi.id.clone()), now, Vec::new())
        .await
    {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "invitation"),
        other => panic!("expected a used invitation to be gone, got {other:?}"),
    }
    // Expired: refused, and nothing is made.
    match store
        .accept_invitation(
            "h2",
            Acceptance::NewUser(new_user("late@alpha.example")),
            now,
            Vec::new(),
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "invitation"),
        other => panic!("expected an expired invitation, got {other:?}"),
    }
    assert!(store
        .user_by_email(&Email::parse("late@alpha.example").unwrap())
        .await
        .unwrap()
        .is_none());

    // An existing user joins a second tenant; one already a member is refused
    // and the invitation stays usable.
    store
        .create_invitation(invite("ravi@alpha.example", "h3", &b, 72), None, Vec::new())
        .await
        .unwrap();
    store
        .create_invitation(invite("ravi@alpha.example", "h4", &a, 72), None, Vec::new())
        .await
        .unwrap();
    assert!(store
        .accept_invitation("h4", Acceptance::Existing(ravi.id.clone()), now, Vec::new())
        .await
        .is_err());
    assert!(store
        .invitation("h4")
        .await
        .unwrap()
        .unwrap()
        .accepted_at
        .is_none());
    store
        .accept_invitation("h3", Acceptance::Existing(ravi.id.clone()), now, Vec::new())
        .await
        .unwrap();
    assert_eq!(store.memberships(&ravi.id).await.unwrap().len(), 2);

    // Revoke, change a role, remove a member (their sessions there end).
    let h4 = store.invitation("h4").await.unwrap().unwrap();
    assert!(
        !store
            .revoke_invitation(&b.id, &h4.id, Vec::new())
            .await
            .unwrap(),
        "not B's"
    );
    assert!(store
        .revoke_invitation(&a.id, &h4.id, Vec::new())
        .await
        .unwrap());
    assert!(store.invitation("h4").await.unwrap().is_none());
    assert!(store
        .set_role(&a.id, &ravi.id, Role::Admin, Vec::new())
        .await
        .unwrap());
    assert!(!store
        .set_role(&a.id, &UserId::new(), Role::Admin, Vec::new())
        .await
        .unwrap());
    store
        .create_session(
            Session {
                token_hash: "s1".into(),
                user_id: ravi.id.clone(),
                tenant_id: a.id.clone(),
                csrf_token: "c".into(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + chrono::Duration::hours(1),
            },
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(store
        .remove_member(&a.id, &ravi.id, Vec::new())
        .await
        .unwrap());
    assert!(store.session("s1").await.unwrap().is_none());
    let left: Vec<TenantId> = store
        .memberships(&ravi.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.tenant_id)
        .collect();
    assert_eq!(left, vec![b.id.clone()]);
}

pub(crate) async fn api_keys_are_found_by_hash_listed_and_revoked_at_once(store: Arc<dyn Store>) {
    let a = tenant(store.as_ref(), "alpha", "UTC").await;
    let b = tenant(store.as_ref(), "beta", "UTC").await;
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let key = |name: &str, t: &Tenant| ApiKey {
        id: ApiKeyId::new(),
        tenant_id: t.id.clone(),
        name: name.into(),
        prefix: format!("ombud_{name}"),
        scopes: vec![Scope::ComplaintsRead, Scope::WebhooksManage],
        rate_limit_per_minute: 600,
        created_by: None,
        created_at: now,
        expires_at: Some(now + chrono::Duration::days(30)),
        last_used_at: None,
        revoked_at: None,
    };
    let erp = key("erp", &a);
    store
        .create_api_key(erp.clone(), "hash-erp", Vec::new())
        .await
        .unwrap();
    store
        .create_api_key(key("crm", &b), "hash-crm", Vec::new())
        .await
        .unwrap();
    match store
        .create_api_key(key("again", &a), "hash-erp", Vec::new())
        .await
    {
        Err(StoreError::Conflict { field, .. }) => assert_eq!(field, "key"),
        other => panic!("expected a conflict on key, got {other:?}"),
    }
    assert_eq!(
        store.api_key_by_hash("hash-erp").await.unwrap(),
        Some(erp.clone())
    );
    assert_eq!(store.api_key_by_hash("nope").await.unwrap(), None);
    let listed = store.api_keys(&a.id).await.unwrap();
    assert_eq!(listed, vec![erp.clone()], "only the tenant's own");

    let later = now + chrono::Duration::minutes(3);
    store.touch_api_key(&erp.id, later).await.unwrap();
    assert_eq!(
        store
            .api_key_by_hash("hash-erp")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(later)
    );
    assert!(
        !store
            .revoke_api_key(&b.id, &erp.id, chrono::Utc::now(), Vec::new())
            .await
            .unwrap(),
        "not B's to revoke"
    );
    assert!(store
        .revoke_api_key(&a.id, &erp.id, chrono::Utc::now(), Vec::new())
        .await
        .unwrap());
    assert!(
        !store
            .revoke_api_key(&a.id, &erp.id, chrono::Utc::now(), Vec::new())
            .await
            .unwrap(),
        "once"
    );
    let revoked = store.api_key_by_hash("hash-erp").await.unwrap().unwrap();
    assert!(!revoked.is_live(Utc::now()));
}
