//! The daily summary: a member who ticks it on their account page gets, at
//! 09:00 in the tenant's zone (the server's clock moved there), one mail
//! in the language she chose with the day's new, resolved and open
//! complaints and the oldest open ones; a member who did not gets none; the day also goes out once as the
//! `summary.daily` webhook event; and neither is sent twice, by the next
//! sweep or by a server started again on the same database. With mail off
//! the event still goes, at the time an admin chose.

use std::time::Duration;

use reqwest::StatusCode;

use crate::audit::session_api;
use crate::fake_graph::FakeGraph;
use crate::helpers::*;
use crate::mail::{mail_to, wait_for_mail, with_smtp};
use crate::staff::{member, Staff};
use crate::webhooks::{endpoint, Receiver};
use crate::work::light_and_water;
use ombud_core::{Role, Scope};
use serde_json::{json, Value};

/// The `summary.daily` deliveries the receiver got for `date`.
async fn summaries(receiver: &Receiver, date: chrono::NaiveDate) -> Vec<Value> {
    receiver
        .log()
        .await
        .into_iter()
        .filter_map(|d| serde_json::from_str::<Value>(d["body"].as_str()?).ok())
        .filter(|b| b["type"] == "summary.daily" && b["data"]["date"] == date.to_string())
        .collect()
}

/// How far to move a clock now at `now` to reach the next 09:05 in India:
/// the first summary after `now`, whose day holds what happened just now
/// (tomorrow's would not, run after midnight in India).
fn to_nine_tomorrow(now: chrono::DateTime<chrono::Utc>) -> chrono::Duration {
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let local = now.with_timezone(&ist);
    let at = |day: chrono::NaiveDate| {
        day.and_hms_opt(9, 5, 0)
            .unwrap()
            .and_local_timezone(ist)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let today = at(local.date_naive());
    let next = if today > now {
        today
    } else {
        at(local.date_naive().succ_opt().unwrap())
    };
    next - now
}

/// How often the sweep has run.
async fn sweep_runs(app: &TestApp) -> u64 {
    app.store
        .job(ombud_engine::summary::SWEEP)
        .await
        .unwrap()
        .map(|j| j.runs)
        .unwrap_or(0)
}

/// Waits until the sweep has run `n` times in all.
async fn sweeps(app: &TestApp, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let runs = sweep_runs(app).await;
        if runs >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep ran {runs} of {n} times"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_summary_goes_once_at_nine_to_the_members_who_asked() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let id = ombud_core::id::new_id_body().to_lowercase();
    let (asha, ravi) = (
        format!("asha-{id}@pune.gov.in"),
        format!("ravi-{id}@pune.gov.in"),
    );
    member(&app, &asha, &t.tenant.id, Role::Staff).await;
    member(&app, &ravi, &t.tenant.id, Role::Staff).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    // Takes every delivery: its signature check runs on the wall clock, a
    // day behind the server's moved one.
    receiver.control(json!({"status": 204})).await;
    endpoint(
        &app,
        &key,
        json!({"url": receiver.url(), "event_types": ["summary.daily"]}),
    )
    .await;

    // Two complaints today; one of them resolved.
    let (light, water) = light_and_water(&app, &t, &graph).await;
    let staff = Staff::login(&app, &asha).await;
    for to in ["in_progress", "resolved"] {
        let res = staff
            .submit(&format!("/app/complaints/{light}/edit"), &[("status", to)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{to}");
    }

    // Asha asks for it on her account page; Ravi does not.
    let page = staff.get("/app/account").await.text().await.unwrap();
    assert!(page.contains("Daily summary by email"), "{page}");
    let res = staff
        .submit(
            "/app/account/summary",
            &[
                ("tenant", "pune"),
                ("daily_summary", "on"),
                ("language", "xx"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "not a language offered"
    );
    // In Hindi.
    let res = staff
        .submit(
            "/app/account/summary",
            &[
                ("tenant", "pune"),
                ("daily_summary", "on"),
                ("language", "hi"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(staff
        .get("/app/account")
        .await
        .text()
        .await
        .unwrap()
        .contains("value=\"on\" checked"));
    // Not for an organisation one is no member of.
    let res = staff
        .submit(
            "/app/account/summary",
            &[("tenant", "nashik"), ("daily_summary", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The next 09:05 in India.
    let shift = to_nine_tomorrow(app.engine.now());
    app.pass(shift).await;
    let date = (app.engine.now() + chrono::Duration::minutes(330)).date_naive();
    let of_the_day = |mails: Vec<crate::mail::Received>| -> Vec<crate::mail::Received> {
        mails
            .into_iter()
            .filter(|m| m.subject.contains(&date.to_string()))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mail = loop {
        let got = of_the_day(wait_for_mail(&asha, 1).await);
        if !got.is_empty() {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summary for {date}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(mail.len(), 1);
    let body = &mail[0].body;
    assert_eq!(
        mail[0].subject,
        format!("pune office: दिन की शिकायतें, {date}")
    );
    assert!(body.contains("नई शिकायतें: 2"), "in Hindi: {body}");
    assert!(body.contains("हल हुईं: 1"), "{body}");
    assert!(
        body.contains("समय-सीमा चूकीं: 0"),
        "no deadline missed: {body}"
    );
    assert!(body.contains("अभी खुली: 1"), "{body}");
    assert!(body.contains(&water), "the oldest open one: {body}");
    assert!(!body.contains(&light), "not the resolved one: {body}");
    assert!(mail_to(&ravi).is_empty(), "Ravi did not ask");
    // The same day as the webhook event, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while summaries(&receiver, date).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no summary.daily");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let event = summaries(&receiver, date).await.remove(0);
    let data = &event["data"];
    assert_eq!(
        (&data["new"], &data["resolved"], &data["open"]),
        (&json!(2), &json!(1), &json!(1)),
        "{data}"
    );
    assert_eq!(data["oldest"][0]["number"], water.as_str(), "{data}");
    assert_eq!(data["breached"], 0, "{data}");

    // The next sweep, a quarter of an hour on, makes nothing new.
    let runs = sweep_runs(&app).await;
    app.pass(chrono::Duration::minutes(15)).await;
    sweeps(&app, runs + 1).await;

    // Nor does a server started again on the same database at the same moment.
    let db = app.stop_keeping_db().await;
    let again = TestApp::spawn_on(db, with_smtp, None).await;
    again.clock.advance(shift + chrono::Duration::minutes(15));
    let runs = sweep_runs(&again).await;
    again.clock.advance(chrono::Duration::minutes(15));
    sweeps(&again, runs + 1).await;
    // The day's job exists, so the sweep made none: no mail can follow.
    assert_eq!(of_the_day(mail_to(&asha)).len(), 1, "once");
    assert_eq!(summaries(&receiver, date).await.len(), 1, "once");

    // A replica killed right after handing a summary mail to the SMTP server
    // leaves its job held, under a lapsed lease, with the note it made
    // before sending. The job run again does not send it a second time.
    let asha_user = again
        .store
        .user_by_email(&ombud_core::Email::parse(&asha).unwrap())
        .await
        .unwrap()
        .unwrap();
    let (numbers, _, _) =
        ombud_engine::summary::numbers(again.store.as_ref(), &t.tenant, date, &Default::default())
            .await
            .unwrap();
    let earlier = date.pred_opt().unwrap();
    let due = again.engine.now() + chrono::Duration::hours(1);
    let mail = ombud_engine::mail::Mail::DailySummary {
        tenant_id: t.tenant.id.clone(),
        user_id: asha_user.id.clone(),
        to: asha_user.email.clone(),
        date: earlier,
        numbers,
        language: None,
    }
    .job(due);
    let key = mail.key.clone();
    again
        .store
        .schedule_job(mail, again.engine.now())
        .await
        .unwrap();
    let dead = again
        .store
        .claim_jobs(
            "killed-replica",
            &["mail.send".into()],
            due,
            due + chrono::Duration::seconds(30),
            1,
        )
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the dead replica held it");
    assert!(again
        .store
        .note_job(&dead[0].id, "killed-replica", ombud_engine::mail::SENDING)
        .await
        .unwrap());
    again
        .clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::minutes(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = again.store.job(&key).await.unwrap().unwrap();
        if job.state == ombud_store::JobState::Done {
            assert_eq!(job.attempts, 2, "run again after the lease lapsed");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let message_id = format!("<{}@ombud>", dead[0].id);
    assert!(
        !mail_to(&asha).iter().any(|m| m.message_id == message_id),
        "not sent again"
    );

    // Her choice is recorded in the audit trail, by her.
    let trail = again
        .store
        .audit_chain(&t.tenant.id, 0, 1000)
        .await
        .unwrap();
    assert!(trail
        .iter()
        .any(|e| e.entry.action == "member.daily_summary"
            && e.entry.actor.email.as_deref() == Some(asha.as_str())));

    // Mail turned off: the summary still goes as the event, at the time an
    // admin chose (07:30), and no mail is made.
    let db = again.stop_keeping_db().await;
    let off = TestApp::spawn_on(db, |_| {}, None).await;
    member(&off, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&off, "admin@pune.gov.in").await;
    let res = session_api(&admin, reqwest::Method::PUT, "/settings/summary")
        .await
        .json(&json!({"hour": 7, "minute": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a quarter hour only");
    let res = admin
        .submit("/app/settings/summary", &[("at", "07:30")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let next = date.succ_opt().unwrap();
    // 07:35 on the next day in India.
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let at = next
        .and_hms_opt(7, 35, 0)
        .unwrap()
        .and_local_timezone(ist)
        .unwrap()
        .with_timezone(&chrono::Utc);
    off.clock.advance(at - off.engine.now());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while summaries(&receiver, next).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summary.daily for {next}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let data = &summaries(&receiver, next).await[0]["data"];
    assert!(
        data["from"].as_str().unwrap().ends_with("02:00:00Z"),
        "07:30 IST the day before: {data}"
    );
    let mails = mail_to(&asha);
    assert!(
        !mails.iter().any(|m| m.subject.contains(&next.to_string())),
        "no mail with mail off"
    );
    off.stop().await;
}
