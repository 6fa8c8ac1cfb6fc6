//! Field verification end to end (issue 25, item 3): a complaint filed over
//! WhatsApp in Marathi starts pending validation and goes to its area's
//! field worker by rule; the field worker sees only their own complaints,
//! on the field page; after 12 hours the assignee is reminded, after 24
//! the complaint is escalated to the supervisor; validated, its citizen is
//! told in Marathi. A rejection needs a note, and its citizen is told too.

use std::time::Duration;

use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::helpers::*;
use crate::mail::{mail_to, wait_for_mail, with_smtp};
use crate::sla::{complaint_json, put_settings};
use crate::staff::*;

/// The history lines of a complaint: (actor, action, to).
async fn history(app: &TestApp, t: &TestTenant, number: &str) -> Vec<(String, String, String)> {
    let c = app
        .store
        .complaint_by_number(&t.tenant.id, &ComplaintNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.to_value.unwrap_or_default()))
        .collect()
}

/// Files the street-light complaint in Marathi from `citizen`, in ward 31.
pub(crate) async fn file_in_marathi(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
) -> String {
    let number = crate::work::file_saying(
        app,
        t,
        graph,
        citizen,
        [
            "शिवाजी शाळेजवळचा दिवा आठवड्यापासून बंद आहे",
            "शिवाजी शाळा, प्रभाग ३१, कोथरूड",
            "हो",
        ],
    )
    .await;
    let last = graph.delivered_to(citizen).pop().unwrap();
    assert!(last.contains("तक्रार क्रमांक"), "{last}");
    number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marathi_complaint_is_verified_on_the_ground_with_a_reminder_and_an_escalation() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    graph.enforce_window(app.clock.clone());
    let t = app.tenant("verify", "VRFY", &graph).await;
    let tid = t.tenant.id.clone();
    let key = app.api_key(&tid, &[Scope::ComplaintsRead]).await;
    // Addresses of this run only: the maildir outlives it.
    let run = ombud_core::id::new_id_body().to_lowercase();
    let mail = |who: &str| format!("{who}-{run}@pune.gov.in");
    member(&app, &mail("admin"), &tid, Role::Admin).await;
    let field = member(&app, &mail("field"), &tid, Role::FieldWorker).await;
    let supervisor = member(&app, &mail("supervisor"), &tid, Role::Staff).await;
    let admin = Staff::login(&app, &mail("admin")).await;
    let areas = json!({"areas": [{"slug": "kothrud", "names": {"en": "Kothrud", "mr": "कोथरूड"},
        "wards": ["31"], "field_staff": [field.id]}]});
    assert_eq!(put_settings(&admin, "/settings/areas", areas).await.0, 200);
    let rules = json!({"rules": [{"name": "Kothrud to its field staff", "area": "kothrud",
        "assign_to": {"kind": "area_field_staff"}}]});
    assert_eq!(
        put_settings(&admin, "/settings/assignment", rules).await.0,
        200
    );
    let settings = json!({"enabled": true, "remind_after_hours": 12, "escalate_after_hours": 24,
        "escalate_to": supervisor.id, "escalate_to_team": null});
    let (status, saved) = put_settings(&admin, "/settings/verification", settings.clone()).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, settings);

    // Two citizens write in Marathi from ward 31: both complaints start
    // pending validation and go to the ward's field worker.
    let (first_citizen, second_citizen) = ("919800000081", "919800000082");
    let first = file_in_marathi(&app, &t, &graph, first_citizen).await;
    let second = file_in_marathi(&app, &t, &graph, second_citizen).await;
    for number in [&first, &second] {
        let assigned = wait_until(Duration::from_secs(20), || async {
            complaint_json(&app, &key, number).await["assignee_id"] == field.id.to_string()
        })
        .await;
        let c = complaint_json(&app, &key, number).await;
        assert!(assigned, "{c}");
        assert_eq!(c["status"], "pending_validation");
        assert_eq!(c["area"], "kothrud");
    }

    // The field worker lands on their own page, and sees nothing else:
    // not the complaint list, not another's complaint, not the API.
    let worker = Staff::login(&app, &mail("field")).await;
    let res = worker.get("/app/complaints").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/app/field");
    let page = worker.get("/app/field").await.text().await.unwrap();
    assert!(page.contains(&first) && page.contains(&second), "{page}");
    assert!(page.contains("To verify on the ground (2)"), "{page}");
    // Its page says whom to call before the visit.
    let page = worker.get(&format!("/app/field/{first}")).await;
    let page = page.text().await.unwrap();
    assert!(page.contains("<dt>Citizen</dt>"), "{page}");
    let tel = format!("href=\"tel:+{first_citizen}\"");
    assert!(page.contains(&tel), "{page}");
    assert!(page.contains("Marathi"), "{page}");
    for path in [
        format!("/app/complaints/{first}"),
        "/app/overview".into(),
        "/app/inbox".into(),
    ] {
        assert_eq!(
            worker.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let res = session_api(&worker, Method::GET, "/complaints")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mine = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let other = crate::sla::file_by_api(
        &app,
        &mine,
        json!({"description": "Garbage not collected", "location": "Aundh"}),
    )
    .await;
    let other_number = other["number"].as_str().unwrap();
    assert_eq!(other["status"], "pending_validation");
    // Staff find what waits for verification with the list's status filter,
    // on the dashboard and through the API.
    let pending = admin
        .get("/app/complaints?status=pending_validation")
        .await
        .text()
        .await
        .unwrap();
    for number in [&first, &second, &other_number.to_owned()] {
        assert!(pending.contains(number.as_str()), "{number}: {pending}");
    }
    assert!(
        pending.contains("value=\"pending_validation\" checked"),
        "{pending}"
    );
    let res = app
        .api(Method::GET, "/complaints?status=pending_validation", &key)
        .send()
        .await
        .unwrap();
    let listed: Value = res.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
    let res = worker.get(&format!("/app/field/{other_number}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not theirs");
    let res = worker
        .submit(
            &format!("/app/field/{other_number}/verdict"),
            &[("outcome", "validated")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // A rejection needs a note; with one, the second citizen is told in Marathi.
    let res = worker
        .submit(
            &format!("/app/field/{second}/verdict"),
            &[("outcome", "rejected"), ("note", "  ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("say why the complaint is rejected"), "{page}");
    assert_eq!(
        complaint_json(&app, &key, &second).await["status"],
        "pending_validation",
        "a refused verdict changes nothing"
    );
    let res = worker
        .submit(
            &format!("/app/field/{second}/verdict"),
            &[
                ("outcome", "rejected"),
                ("note", "The light works; it was switched off for repairs."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let told = graph.wait_for_reply_to(second_citizen, 4).await;
    assert!(
        told[3].contains(&second) && told[3].contains("नाकारली"),
        "{}",
        told[3]
    );
    assert!(
        !told[3].contains("switched off"),
        "the note stays inside the office"
    );
    let lines = history(&app, &t, &second).await;
    let by_worker = format!("user:{}", field.id);
    assert!(lines.contains(&(
        by_worker.clone(),
        "status_changed".into(),
        "rejected".into()
    )));
    assert!(lines.iter().any(|(who, action, to)| who == &by_worker
        && action == "note"
        && to.contains("switched off")));

    // 12 hours on: the field worker is reminded of the first, by mail and
    // on its timeline; the rejected one's timers stand down.
    app.clock
        .advance(chrono::Duration::hours(12) + chrono::Duration::seconds(1));
    let reminded = wait_until(Duration::from_secs(20), || async {
        history(&app, &t, &first)
            .await
            .iter()
            .any(|(who, action, _)| who == verification::ACTOR && action == "note")
    })
    .await;
    assert!(reminded, "{:?}", history(&app, &t, &first).await);
    let mails = wait_for_mail(&mail("field"), 1).await;
    assert!(
        mails[0].subject == format!("{first}: waiting for field verification"),
        "{mails:?}"
    );
    assert!(mails[0].body.contains("प्रभाग ३१"), "{}", mails[0].body);
    assert_eq!(
        complaint_json(&app, &key, &first).await["status"],
        "pending_validation"
    );

    // 24 hours on: nobody verified it, so it is escalated to the supervisor,
    // who is mailed. The citizen's window has closed: the notice is not
    // sent as free text (Meta would refuse it).
    app.pass(chrono::Duration::hours(12)).await;
    let escalated = wait_until(Duration::from_secs(20), || async {
        complaint_json(&app, &key, &first).await["status"] == "escalated"
    })
    .await;
    let c = complaint_json(&app, &key, &first).await;
    assert!(escalated, "{c}");
    assert_eq!(c["assignee_id"], supervisor.id.to_string());
    // Both complaints still pending went to the supervisor: the first,
    // and the one filed through the API that no rule sent anywhere.
    let mut subjects: Vec<String> = wait_for_mail(&mail("supervisor"), 2)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            format!("{first}: not verified in time, escalated"),
            format!("{other_number}: not verified in time, escalated"),
        ]
    );
    // Nobody had that one for its reminder: the admins were told.
    let reminded: Vec<String> = mail_to(&mail("admin"))
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        reminded,
        [format!("{other_number}: waiting for field verification")]
    );
    assert_eq!(mail_to(&mail("field")).len(), 1, "one reminder only");
    assert_eq!(graph.delivered_to(first_citizen).len(), 3);

    // The citizen asks after it and reads its status in Marathi.
    app.pass(chrono::Duration::hours(1)).await;
    graph.citizen_wrote(first_citizen);
    app.say(&t, first_citizen, "status").await;
    let replies = graph.wait_for_reply_to(first_citizen, 4).await;
    assert!(replies[3].contains("वरिष्ठांकडे पाठवली"), "{}", replies[3]);

    // The supervisor verifies it on the ground from their field page; the
    // citizen is told in Marathi, the note stays inside.
    let supervisor_session = Staff::login(&app, &mail("supervisor")).await;
    let page = supervisor_session
        .get("/app/field")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&first), "{page}");
    let res = supervisor_session
        .submit(
            &format!("/app/field/{first}/verdict"),
            &[
                ("outcome", "validated"),
                ("note", "Lamp and wiring both dead."),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        format!("/app/field?done={first}&outcome=validated").as_str()
    );
    let replies = graph.wait_for_reply_to(first_citizen, 5).await;
    assert!(
        replies[4].contains(&first) && replies[4].contains("प्रत्यक्ष पडताळणी झाली"),
        "{}",
        replies[4]
    );
    let c = complaint_json(&app, &key, &first).await;
    assert_eq!(c["status"], "validated");
    let lines = history(&app, &t, &first).await;
    // The escalation's notice could not go out (no approved template for
    // it outside the window): staff see why on the timeline.
    assert!(
        lines.iter().any(|(_, action, to)| action == "notify_failed"
            && to.contains("no approved template for status_changed in mr")),
        "{lines:?}"
    );
    let actions: Vec<(String, String)> = lines
        .into_iter()
        .filter(|(_, action, _)| action != "notify_failed")
        .map(|(who, action, to)| {
            let who = match who.as_str() {
                w if w == verification::ACTOR => "verification".to_owned(),
                w if w == format!("user:{}", supervisor.id) => "supervisor".to_owned(),
                w if w == ombud_core::routing::ACTOR => "rules".to_owned(),
                _ => "other".to_owned(),
            };
            (
                who,
                format!("{action} {}", if action == "note" { "" } else { &to }),
            )
        })
        .collect();
    let field_id = field.id.to_string();
    let supervisor_id = supervisor.id.to_string();
    let expected: Vec<(String, String)> = [
        ("other", "created pending_validation".into()),
        ("rules", "team_changed area:kothrud".into()),
        ("rules", format!("assigned {field_id}")),
        ("verification", "note ".into()),
        ("verification", format!("assigned {supervisor_id}")),
        ("verification", "status_changed escalated".into()),
        ("supervisor", "status_changed validated".into()),
        ("supervisor", "note ".into()),
    ]
    .into_iter()
    .map(|(w, a)| (w.to_owned(), a))
    .collect();
    assert_eq!(actions, expected);
    // The complaint's page tells it in words: the team by its name, Ombud's
    // own steps by what they are.
    let admin = Staff::login(&app, &mail("admin")).await;
    let page = admin
        .get(&format!("/app/complaints/{first}"))
        .await
        .text()
        .await
        .unwrap();
    for words in [
        "sent it to the team “Kothrud”",
        "Ombud (field verification)",
        "changed the status from pending validation to escalated",
        "changed the status from escalated to validated",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_verification_settings_and_verdicts_are_refused_with_the_field_named() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("verify", "VRFY", &graph).await;
    let tid = t.tenant.id.clone();
    member(&app, "admin@verify.gov.in", &tid, Role::Admin).await;
    let admin = Staff::login(&app, "admin@verify.gov.in").await;
    for (body, field) in [
        (
            json!({"enabled": true, "remind_after_hours": 0, "escalate_after_hours": 24}),
            "remind_after_hours",
        ),
        (
            json!({"enabled": true, "remind_after_hours": 30, "escalate_after_hours": 24}),
            "remind_after_hours",
        ),
        (
            json!({"enabled": true, "remind_after_hours": 12, "escalate_after_hours": 9000}),
            "escalate_after_hours",
        ),
        (
            json!({"enabled": true, "remind_after_hours": 12, "escalate_after_hours": 24,
                "escalate_to": UserId::new()}),
            "escalate_to",
        ),
        (
            json!({"enabled": true, "remind_after_hours": 12, "escalate_after_hours": 24,
                "escalate_to_team": "nobody"}),
            "escalate_to_team",
        ),
    ] {
        let (status, error) = put_settings(&admin, "/settings/verification", body.clone()).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(
            error["error"]["fields"][0]["field"], field,
            "{body}: {error}"
        );
    }
    let (status, _) = put_settings(
        &admin,
        "/settings/verification",
        json!({"enabled": true, "remind_after_hours": 12, "escalate_after_hours": 24, "extra": 1}),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused");

    // Off by default: a complaint starts new, and cannot be verified until
    // staff send it to verification.
    let key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let c = crate::sla::file_by_api(&app, &key, json!({"description": "Pothole"})).await;
    assert_eq!(c["status"], "new");
    let number = c["number"].as_str().unwrap();
    let verify = |body: Value| {
        app.api(
            Method::POST,
            &format!("/complaints/{number}/verification"),
            &key,
        )
        .json(&body)
        .send()
    };
    let res = verify(json!({"outcome": "validated"})).await.unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "status", "{body}");
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), &key)
        .json(&json!({"status": "pending_validation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for (body, field) in [
        (json!({"outcome": "maybe"}), "outcome"),
        (json!({"outcome": "rejected"}), "note"),
        (
            json!({"outcome": "validated", "note": "x".repeat(2001)}),
            "note",
        ),
    ] {
        let res = verify(body.clone()).await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(
            error["error"]["fields"][0]["field"], field,
            "{body}: {error}"
        );
    }
    // Sent to verification by staff, it got its timers all the same.
    let c = app
        .store
        .complaint_by_number(&tid, &ComplaintNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap();
    let since = app
        .store
        .complaint_events(&tid, &c.id)
        .await
        .unwrap()
        .last()
        .unwrap()
        .created_at;
    let timer = ombud_core::verification::VerificationSettings::default().timers(&c.id, since);
    for t in timer {
        let job = app.store.job(&t.job_key()).await.unwrap();
        assert!(job.is_some(), "{}", t.job_key());
    }
    let res = verify(json!({"outcome": "validated", "note": "Seen it: 2 m wide."}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "validated");
    app.stop().await;
}
