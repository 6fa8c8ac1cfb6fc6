//! Service levels' sweep (issue 25): a deadline that passed while the
//! server was down is told once when it is back, the warning standing down
//! for the breach; and the per-deadline jobs a version before the sweep made
//! still tell staff after an upgrade, once.

use ombud_core::sla::{Policy, SlaSettings};
use ombud_core::*;
use ombud_engine::Acting;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::sla::{complaint_json, file_by_api, swept, wait_status};

/// An hour to first respond, a warning 15 minutes before.
async fn within_the_hour(app: &TestApp, tenant: &TenantId) {
    let policy = Policy {
        name: "Within the hour".into(),
        category_id: None,
        priority: None,
        first_response_minutes: Some(60),
        resolution_minutes: None,
        business_hours: false,
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
        .set_sla_settings(&Acting::cli(), tenant, settings)
        .await
        .unwrap();
}

/// The complaint's timeline lines of service levels, in order.
async fn sla_lines(app: &TestApp, tenant: &TenantId, c: &Value) -> Vec<String> {
    let id = ComplaintId::parse(c["id"].as_str().unwrap()).unwrap();
    app.store
        .complaint_events(tenant, &id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("sla_"))
        .map(|e| e.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passed_while_the_server_was_down_is_told_once_when_it_is_back() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("down", "DOWN", &graph).await;
    let tid = t.tenant.id.clone();
    within_the_hour(&app, &tid).await;
    let key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let c = file_by_api(&app, &key, json!({"description": "No water since Monday"})).await;
    let number = c["number"].as_str().unwrap().to_owned();

    // Down for two hours: back, the breach is told at once, without the
    // warning whose moment passed meanwhile.
    let db = app.stop_keeping_db().await;
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    app.pass(chrono::Duration::hours(2)).await;
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(c["sla"]["state"], "breached", "{c}");
    assert_eq!(sla_lines(&app, &tid, &c).await, ["sla_breached"]);

    // Down again and back later: nothing is told twice.
    let db = app.stop_keeping_db().await;
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    app.pass(chrono::Duration::hours(3)).await;
    swept(&app).await;
    assert_eq!(sla_lines(&app, &tid, &c).await, ["sla_breached"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_made_before_the_sweep_still_tell_staff_once_after_an_upgrade() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("upgrade", "UPG", &graph).await;
    let tid = t.tenant.id.clone();
    within_the_hour(&app, &tid).await;
    let key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let c = file_by_api(
        &app,
        &key,
        json!({"description": "Garbage on Station Road"}),
    )
    .await;
    let number = c["number"].as_str().unwrap().to_owned();
    let id = c["id"].as_str().unwrap().to_owned();

    // As the upgrade leaves a complaint made before it: no next alert for
    // the sweep, and the breach job that version made.
    app.db
        .execute(&format!(
            "update complaints set sla_next_at = null where id = '{id}'"
        ))
        .await;
    let now = app.engine.now();
    assert!(app
        .store
        .sla_alerts_due(now + chrono::Duration::days(1), None, 10)
        .await
        .unwrap()
        .is_empty());
    let due_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(c["sla"]["first_response"]["due_at"].clone()).unwrap();
    let created: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(c["created_at"].clone()).unwrap();
    let job_key = format!(
        "sla.breach:{id}:first_response:{}:{}",
        due_at.timestamp_micros(),
        created.timestamp_micros()
    );
    let job = ombud_store::NewJob {
        id: JobId::new(),
        kind: ombud_core::sla::BREACH_JOB.into(),
        key: job_key.clone(),
        tenant_id: Some(tid.clone()),
        payload: json!({"complaint_id": id, "target": "first_response", "due_at": due_at}),
        schedule: None,
        due_at,
        max_attempts: 5,
    };
    assert!(app.store.schedule_job(job, now).await.unwrap());

    app.pass(chrono::Duration::minutes(61)).await;
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(c["sla"]["state"], "breached", "{c}");
    assert!(job_done(&app, &job_key).await, "the old job ran");
    swept(&app).await;
    assert_eq!(sla_lines(&app, &tid, &c).await, ["sla_breached"]);
    assert_eq!(
        complaint_json(&app, &key, &number).await["priority"],
        "high"
    );
    app.stop().await;
}
