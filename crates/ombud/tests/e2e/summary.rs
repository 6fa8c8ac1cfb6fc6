//! The daily summary: a member who ticks it on their account page gets, at
//! 09:00 in the tenant's zone (the server's clock moved there), one mail
//! with the day's new, resolved and open complaints and the oldest open
//! ones; a member who did not gets none; and it is not sent twice, neither
//! by the next sweep nor by a server started again on the same database.

use std::time::Duration;

use reqwest::StatusCode;

use crate::fake_graph::FakeGraph;
use crate::helpers::*;
use crate::mail::{mail_to, wait_for_mail, with_smtp};
use crate::staff::{member, Staff};
use crate::work::light_and_water;
use ombud_core::Role;

/// How far to move a clock now at `now` to reach 09:05 next day in India.
fn to_nine_tomorrow(now: chrono::DateTime<chrono::Utc>) -> chrono::Duration {
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let local = now.with_timezone(&ist);
    let tomorrow = local.date_naive().succ_opt().unwrap();
    let nine = tomorrow
        .and_hms_opt(9, 5, 0)
        .unwrap()
        .and_local_timezone(ist)
        .unwrap();
    nine.with_timezone(&chrono::Utc) - now
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

    // Two complaints today; one of them resolved.
    let (light, water) = light_and_water(&app, &t, &graph).await;
    let staff = Staff::login(&app, &asha).await;
    for to in ["in_progress", "resolved"] {
        let res = staff
            .submit(&format!("/app/complaints/{light}/status"), &[("value", to)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{to}");
    }

    // Asha asks for it on her account page; Ravi does not.
    let page = staff.get("/app/account").await.text().await.unwrap();
    assert!(page.contains("Daily summary by email"), "{page}");
    let res = staff
        .submit(
            "/app/account/summary",
            &[("tenant", "pune"), ("daily_summary", "on")],
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

    // 09:05 tomorrow in India.
    let shift = to_nine_tomorrow(app.engine.now());
    app.clock.advance(shift);
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
    assert!(body.contains("New complaints: 2"), "{body}");
    assert!(body.contains("Resolved: 1"), "{body}");
    assert!(body.contains("Open now: 1"), "{body}");
    assert!(body.contains(&water), "the oldest open one: {body}");
    assert!(!body.contains(&light), "not the resolved one: {body}");
    assert!(mail_to(&ravi).is_empty(), "Ravi did not ask");

    // The next sweep, a quarter of an hour on, makes nothing new.
    let runs = sweep_runs(&app).await;
    app.clock.advance(chrono::Duration::minutes(15));
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

    // Mail turned off: the sweep's row goes, since nobody would run it and
    // a job left due would page as stuck.
    let db = again.stop_keeping_db().await;
    let off = TestApp::spawn_on(db, |_| {}, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sweep_runs(&off).await > 0
        || off
            .store
            .job(ombud_engine::summary::SWEEP)
            .await
            .unwrap()
            .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep's row is still there"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    off.stop().await;
}
