//! Staff accounts from the shell: `ombud user create`.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_create_prints_a_one_time_password_once_and_adds_tenants_to_an_account() {
    let db = TestDb::new().await;
    for slug in ["pune", "nashik"] {
        let args = [
            "tenant", "create", "--slug", slug, "--name", slug, "--prefix", "PUN",
        ];
        let (code, _, err) = run_cli(&db, &args);
        assert_eq!(code, 0, "{err}");
    }
    let create = |email: &str, tenant: &str, role: &str| {
        run_cli(
            &db,
            &[
                "user", "create", "--email", email, "--tenant", tenant, "--role", role,
            ],
        )
    };

    let (code, out, err) = create(" Asha@Pune.gov.in", "pune", "admin");
    assert_eq!(code, 0, "{err}");
    let password = out["one_time_password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 20, "{out}");
    assert_eq!(out["user"]["email"], "asha@pune.gov.in");
    assert_eq!(out["user"]["name"], "asha");
    assert_eq!(out["user"]["must_change_password"], true);
    assert!(out["user"].get("password_hash").is_none(), "{out}");
    assert!(!out.to_string().contains("$argon2"), "{out}");

    // Stored hashed (argon2id), and the printed password is the one that works.
    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let email = ombud_core::Email::parse("asha@pune.gov.in").unwrap();
    let user = store.user_by_email(&email).await.unwrap().unwrap();
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(ombud_web::auth::verify_password(
        &password,
        &user.password_hash
    ));
    assert!(!ombud_web::auth::verify_password(
        "guess",
        &user.password_hash
    ));

    // The same person in a second tenant: no new account, no new password.
    let (code, out, err) = create("asha@pune.gov.in", "nashik", "viewer");
    assert_eq!(code, 0, "{err}");
    assert!(out["one_time_password"].is_null(), "{out}");
    let roles: Vec<_> = store
        .memberships(&user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.role.as_str())
        .collect();
    assert_eq!(roles, ["admin", "viewer"]);

    // Bad input is refused with exit 2 and names what is wrong; nothing changes.
    for (email, tenant, role, says) in [
        ("asha@pune.gov.in", "pune", "staff", "member"),
        ("asha", "pune", "staff", "email"),
        ("ravi@pune.gov.in", "pune", "root", "role"),
        ("ravi@pune.gov.in", "mumbai", "staff", "mumbai"),
    ] {
        let (code, _, err) = create(email, tenant, role);
        assert_eq!(code, 2, "{email} {tenant} {role}: {err}");
        assert!(err.contains(says), "{err}");
    }
    let ravi = ombud_core::Email::parse("ravi@pune.gov.in").unwrap();
    assert!(store.user_by_email(&ravi).await.unwrap().is_none());
    assert_eq!(store.memberships(&user.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_create_prints_the_key_once_and_keeps_only_its_hash() {
    let db = TestDb::new().await;
    let args = [
        "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUN",
    ];
    let (code, _, err) = run_cli(&db, &args);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_cli(
        &db,
        &[
            "apikey",
            "create",
            "--tenant",
            "pune",
            "--name",
            "ERP sync",
            "--scopes",
            "webhooks:manage,complaints:read",
            "--expires-days",
            "30",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let key = out["key"].as_str().unwrap().to_owned();
    let prefix = out["api_key"]["prefix"].as_str().unwrap();
    assert!(
        prefix.starts_with("ombud_") && key.starts_with(&format!("{prefix}_")),
        "{out}"
    );
    assert_eq!(
        out["api_key"]["scopes"],
        serde_json::json!(["complaints:read", "webhooks:manage"])
    );
    assert_eq!(out["api_key"]["rate_limit_per_minute"], 600);
    assert!(out["api_key"]["expires_at"].is_string());

    // Only the hash is stored: the key finds its record through it.
    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let found = store
        .api_key_by_hash(&ombud_web::auth::api_key_hash(&key))
        .await
        .unwrap()
        .expect("found by the hash of the printed key");
    assert_eq!(found.id.as_str(), out["api_key"]["id"].as_str().unwrap());
    assert!(store.api_key_by_hash(&key).await.unwrap().is_none());

    // Bad input: exit 2, the field named, nothing made.
    for (args, field) in [
        (
            vec![
                "--tenant",
                "pune",
                "--name",
                "x",
                "--scopes",
                "complaints:delete",
            ],
            "scopes",
        ),
        (
            vec![
                "--tenant",
                "pune",
                "--name",
                " ",
                "--scopes",
                "complaints:read",
            ],
            "name",
        ),
        (
            vec![
                "--tenant",
                "nowhere",
                "--name",
                "x",
                "--scopes",
                "complaints:read",
            ],
            "tenant",
        ),
        (
            vec![
                "--tenant",
                "pune",
                "--name",
                "x",
                "--scopes",
                "complaints:read",
                "--rate-limit",
                "0",
            ],
            "rate_limit",
        ),
    ] {
        let mut all = vec!["apikey", "create"];
        all.extend(args);
        let (code, _, err) = run_cli(&db, &all);
        assert_eq!(code, 2, "{field}: {err}");
        assert!(err.contains(field), "{field}: {err}");
    }
    let tenant = store
        .tenant_by_slug(&ombud_core::TenantSlug::parse("pune").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.api_keys(&tenant.id).await.unwrap().len(), 1);
}
