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
