//! Service levels across a daylight-saving change (issue 25): a tenant in
//! London keeps 09:00–17:00 in local time, so two office hours from Friday
//! 16:00 GMT, across the Sunday the clocks go forward, run out on Monday at
//! 10:00 BST, which is 09:00 UTC; the warning and the breach fire by it.

use chrono::{DateTime, Utc};
use ombud_core::sla::{Policy, SlaSettings};
use ombud_core::*;
use ombud_engine::Acting;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::sla::{complaint_json, go_to_in, local_in, swept, wait_status};

const LONDON: &str = "Europe/London";

fn local(v: &Value) -> String {
    local_in(LONDON, v, "%Y-%m-%d %H:%M %Z")
}

fn go_to(app: &TestApp, s: &str) {
    go_to_in(app, LONDON, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_office_hours_across_the_spring_clock_change_end_monday_at_ten_local() {
    let app = TestApp::spawn().await;
    let tenant = app.office("london", "LDN", "en", LONDON).await;
    let key = app
        .api_key(&tenant.id, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let policy = Policy {
        name: "Two office hours".into(),
        category_id: None,
        priority: None,
        first_response_minutes: Some(120),
        resolution_minutes: None,
        business_hours: true,
        warn_before_minutes: 15,
        escalate_to: None,
        escalate_to_team: None,
    };
    let settings = SlaSettings {
        enabled: true,
        policies: vec![policy],
    };
    app.engine
        .ops()
        .set_sla_settings(&Acting::cli(), &tenant.id, settings)
        .await
        .unwrap();

    // Friday 2027-03-26, 16:00 GMT: an hour that day, then Monday, after
    // the clocks went forward on Sunday.
    go_to(&app, "2027-03-26 16:00");
    let c = crate::sla::file_by_api(
        &app,
        &key,
        json!({"description": "The bins on Albert Road were not emptied"}),
    )
    .await;
    let number = c["number"].as_str().unwrap().to_owned();
    let first = &c["sla"]["first_response"];
    assert_eq!(local(&first["due_at"]), "2027-03-29 10:00 BST", "{c}");
    assert_eq!(local(&first["warn_at"]), "2027-03-29 09:45 BST");
    let due: DateTime<Utc> = serde_json::from_value(first["due_at"].clone()).unwrap();
    assert_eq!(due.format("%H:%M").to_string(), "09:00", "09:00 UTC");

    // 09:44 BST: not yet; 09:46: the warning; 10:01: the breach.
    go_to(&app, "2027-03-29 09:44");
    swept(&app).await;
    assert_eq!(
        complaint_json(&app, &key, &number).await["sla"]["state"],
        "on_track"
    );
    go_to(&app, "2027-03-29 09:46");
    let warned = wait_until(std::time::Duration::from_secs(15), || async {
        complaint_json(&app, &key, &number).await["sla"]["state"] == "due_soon"
    })
    .await;
    assert!(warned, "warned at 09:46 BST");
    assert_eq!(complaint_json(&app, &key, &number).await["status"], "new");
    go_to(&app, "2027-03-29 10:01");
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(
        local(&c["sla"]["first_response"]["breached_at"]),
        "2027-03-29 10:01 BST"
    );
    app.stop().await;
}
