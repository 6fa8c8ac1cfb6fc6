//! The mails about an account in the organisation's language (issue 23): an
//! invitation to a Marathi-speaking office is in Marathi; a password reset is
//! in the language its account's organisations share, and in English when
//! they speak different ones.

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::mail::{wait_for_mail, with_smtp};
use crate::staff::{member, user, Staff};

fn unique(name: &str) -> String {
    format!(
        "{name}-{}@pmc.gov.in",
        ombud_core::id::new_id_body().to_lowercase()
    )
}

async fn forgot(app: &TestApp, email: &str) {
    let res = Staff::new(app)
        .post_form("/app/forgot", &[("email", email)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_mails_speak_the_organisations_language() {
    let app = TestApp::spawn_with(with_smtp, None).await;
    let pune = app.office("pmc", "PMC", "mr", "Asia/Kolkata").await.id;
    let delhi = app.office("ndmc", "NDMC", "hi", "Asia/Kolkata").await.id;

    // An invitation to the Marathi office, in Marathi, with its link.
    let admin = unique("admin");
    member(&app, &admin, &pune, Role::Admin).await;
    let staff = Staff::login(&app, &admin).await;
    let meera = unique("meera");
    let res = staff
        .submit(
            "/app/team/invitations",
            &[("email", &meera), ("role", "staff")],
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let mail = wait_for_mail(&meera, 1).await;
    assert_eq!(
        mail[0].subject, "तुम्हाला Ombud वर pmc office मध्ये आमंत्रित केले आहे",
        "{:?}",
        mail[0]
    );
    assert!(mail[0].body.contains("/app/invite/"), "{}", mail[0].body);
    assert!(mail[0].body.contains("staff म्हणून"), "{}", mail[0].body);

    // A reset: Marathi for a member of the Marathi office alone; English
    // once they also belong to a Hindi-speaking one.
    forgot(&app, &admin).await;
    let mail = wait_for_mail(&admin, 1).await;
    assert_eq!(
        mail[0].subject, "Ombud साठी नवीन पासवर्ड निवडा",
        "{:?}",
        mail[0]
    );
    assert!(mail[0].body.contains("/app/reset/"), "{}", mail[0].body);
    let both = unique("both");
    let roles = [(&pune, Role::Staff), (&delhi, Role::Staff)];
    user(&app, &both, &roles, false).await;
    forgot(&app, &both).await;
    let mail = wait_for_mail(&both, 1).await;
    assert_eq!(mail[0].subject, "Choose a new password for Ombud");
    app.stop().await;
}
