//! The satisfaction survey (issue 23, part 2): a day after a resolution the
//! citizen is asked, with native reply buttons (a WhatsApp list inside the
//! window, an approved template's quick replies outside it, a Telegram
//! inline keyboard); a low rating with "not solved" reopens the complaint;
//! each resolution is asked about once, and one undone before its survey
//! falls due is not asked about at all. The fake Graph API checks every
//! interactive message as Meta does and refuses free-form messages outside
//! the window; `complaint.rated` reaches a webhook receiver.

mod telegram;
mod whatsapp;

use ombud_core::*;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

pub(super) async fn status_of(app: &TestApp, t: &TestTenant, number: &str) -> ComplaintStatus {
    crate::work::complaint(app, t, number).await.status
}

pub(super) async fn surveys(app: &TestApp, key: &str, number: &str) -> Vec<Value> {
    let res = app
        .api(Method::GET, &format!("/complaints/{number}/surveys"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits until the survey job of every resolution of the complaint has run
/// (asked, or decided not to): what a test looks at afterwards is final.
pub(super) async fn surveys_settled(app: &TestApp, t: &TestTenant, number: &str) {
    let c = crate::work::complaint(app, t, number).await;
    let events = app
        .store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap();
    let keys: Vec<String> = events
        .iter()
        .filter(|e| e.action == "status_changed" && e.to_value.as_deref() == Some("resolved"))
        .map(|e| ombud_core::survey::job_key(&c.id, e.created_at))
        .collect();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(job_done(app, &key).await, "the survey job {key} ran");
    }
}
