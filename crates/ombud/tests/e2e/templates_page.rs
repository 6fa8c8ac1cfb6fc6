//! The WhatsApp templates page (issue 23): an admin maps each notice to an
//! approved template and syncs Meta's from the dashboard, with the same
//! checks and the same stored mapping as the API's; a bad part is named on
//! its notice and nothing is saved; other roles and other tenants are kept
//! out.

use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;

const WABA: &str = "908070605040";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_maps_notices_to_templates_and_syncs_them_from_the_dashboard() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("tplpage", "TPLP", &graph).await;
    let other = app.tenant("elsewhere", "ELSE", &graph).await;
    member(&app, "admin@tplpage.test", &t.tenant.id, Role::Admin).await;
    member(&app, "staff@tplpage.test", &t.tenant.id, Role::Staff).await;
    member(&app, "admin@elsewhere.test", &other.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@tplpage.test").await;
    let page_path = format!("/app/settings/channels/{}/templates", t.channel.id);

    // Settings links each WhatsApp channel to its templates.
    let settings = admin
        .get("/app/settings/channels")
        .await
        .text()
        .await
        .unwrap();
    assert!(settings.contains(&page_path), "{settings}");
    let page = admin.get(&page_path).await.text().await.unwrap();
    assert!(page.contains("None synced yet"), "{page}");

    // Syncing before the business account is known says what to do first.
    let res = admin.submit(&format!("{page_path}/sync"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Set the WhatsApp Business Account ID"),
        "{page}"
    );

    // A part that does not read is named on its notice; nothing is saved
    // and what was typed stays.
    let mut form = vec![
        ("waba_id", WABA),
        ("status_changed_name", "complaint_status"),
        ("status_changed_languages", "en_US, hi"),
        ("status_changed_body", "complaint_number, colour"),
        ("status_changed_header", "complaint_number"),
        ("survey_name", "how_did_we_do"),
        ("survey_languages", "en"),
        ("survey_body", "complaint_number"),
        (
            "survey_buttons",
            "quick_reply 0 rate:5\nquick_reply 1 rate:4\n\nurl 2 complaint_number",
        ),
    ];
    let res = admin.submit(&page_path, &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("body: &#34;colour&#34; is not complaint_number"),
        "{page}"
    );
    assert!(
        page.contains("value=\"complaint_number, colour\""),
        "{page}"
    );
    let held = app.store.channel(&t.channel.id).await.unwrap().unwrap();
    assert!(held.whatsapp().unwrap().templates.is_empty());
    assert_eq!(held.whatsapp().unwrap().waba_id, None);
    form[3] = ("status_changed_body", "complaint_number, status_label");
    form.push(("reminder_buttons", "quick_reply first yes"));
    form.push(("reminder_name", "still_waiting"));
    form.push(("reminder_languages", "en"));
    let res = admin.submit(&page_path, &form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("the index is the button&#39;s place"),
        "{page}"
    );
    form.truncate(form.len() - 3);

    // Saved: the API reads back what the form wrote.
    let res = admin.submit(&page_path, &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = admin.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Templates saved."), "{page}");
    assert!(page.contains("value=\"en_US, hi\""), "{page}");
    let view: Value = session_api(
        &admin,
        Method::GET,
        &format!("/channels/{}/templates", t.channel.id),
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(view["waba_id"], WABA, "{view}");
    let status = &view["notices"]["status_changed"];
    assert_eq!(status["languages"], serde_json::json!(["en_US", "hi"]));
    assert_eq!(
        status["body"],
        serde_json::json!(["complaint_number", "status_label"])
    );
    assert_eq!(status["header"], serde_json::json!(["complaint_number"]));
    let buttons = &view["notices"]["survey"]["buttons"];
    assert_eq!(buttons.as_array().unwrap().len(), 3, "{view}");
    assert_eq!(buttons[1]["payload"], "rate:4");
    assert_eq!(buttons[2]["type"], "url");
    assert!(
        view["notices"]["reminder"].is_null(),
        "an empty name maps none"
    );

    // Sync: Meta's templates are listed, the approved ones suggested.
    graph.add_template(
        WABA,
        "complaint_status",
        "en_US",
        "APPROVED",
        "Complaint {{1}} is {{2}}.",
        Some("{{1}}"),
    );
    graph.add_template(
        WABA,
        "complaint_status",
        "hi",
        "PENDING",
        "शिकायत {{1}}: {{2}}",
        Some("{{1}}"),
    );
    let res = admin.submit(&format!("{page_path}/sync"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = admin.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Synced from Meta: 2 templates."), "{page}");
    assert!(page.contains("<td>PENDING</td>"), "{page}");
    assert!(
        page.contains("<option value=\"complaint_status\">"),
        "{page}"
    );

    // Staff may not look; another tenant's admin finds no such channel.
    let staff = Staff::login(&app, "staff@tplpage.test").await;
    assert_eq!(staff.get(&page_path).await.status(), StatusCode::FORBIDDEN);
    let stranger = Staff::login(&app, "admin@elsewhere.test").await;
    assert_eq!(
        stranger.get(&page_path).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = stranger.submit(&page_path, &[("waba_id", "1")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = stranger.submit(&format!("{page_path}/sync"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let held = app.store.channel(&t.channel.id).await.unwrap().unwrap();
    assert_eq!(held.whatsapp().unwrap().waba_id.as_deref(), Some(WABA));
    app.stop().await;
}
