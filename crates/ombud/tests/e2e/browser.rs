//! The dashboard in Debian's Chromium, driven by `tests/browser/dashboard.mjs`
//! (playwright-core): log in, filter, open a complaint, change its status, add
//! a note, bulk-assign everything matching a filter across pages, reply in a
//! handed-over conversation, invite and accept, a complaint located by a
//! pin — at 1280 and 375 px. This test
//! prepares one tenant per width, runs the script, and checks what the server
//! and the fake Graph API saw. Screenshots: target/browser-artifacts/.

use std::path::PathBuf;
use std::process::Command;

use ombud_core::*;
use serde_json::json;

use crate::helpers::*;
use crate::staff::*;
use crate::work::{complaint, file, more_like, quiet, street_light};

const GARBAGE: usize = 70;

struct Run {
    name: &'static str,
    width: u32,
    height: u32,
    tenant: TestTenant,
    complaint: String,
    light_citizen: String,
    handed_over: String,
    webchat: Channel,
    /// A complaint waiting for verification, assigned to the field worker.
    to_verify: String,
    /// A complaint located by a WhatsApp pin.
    pinned: String,
}

/// A citizen's message as Meta would POST it: the URL, the body and its
/// signature, for the browser script to send while a page is open.
fn says(app: &TestApp, t: &TestTenant, from: &str, text: &str) -> serde_json::Value {
    let wamid = format!("wamid.{}", ombud_core::id::new_id_body());
    let body = text_payload(&t.channel, from, &wamid, text).to_string();
    json!({
        "url": app.url(&format!("/channels/whatsapp/{}/webhook", t.channel.id)),
        "body": body,
        "signature": ombud_channels::whatsapp::sign(&t.app_secret, body.as_bytes()),
        "text": text,
    })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An office with complaints on days over the last 90, and its owner: the
/// overview's long axis.
async fn past_office(app: &TestApp, slug: &str, prefix: &str) {
    let tenant = app.office(slug, prefix, "en", "Asia/Kolkata").await;
    let now = app.engine.now();
    for (k, days_ago) in [88, 75, 61, 45, 31, 20, 9, 3, 0].into_iter().enumerate() {
        for i in 0..=k % 3 {
            let description = format!("pothole on lane {k}.{i}");
            let at = now - chrono::Duration::days(days_ago);
            crate::work::filed_at(app, &tenant, None, &description, at).await;
        }
    }
    member(
        app,
        &format!("owner@{slug}.gov.in"),
        &tenant.id,
        Role::Owner,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node with tests/browser installed: scripts/test runs it with --ignored"]
async fn the_dashboard_in_chromium() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    // The port of the tenants' own site, which the script serves.
    let site_port = crate::helpers::free_port();
    let mut runs = Vec::new();
    for (name, slug, prefix, width, height, n) in [
        ("desktop", "pune", "PUNE", 1280, 800, 1),
        ("phone", "nashik", "NASIK", 375, 740, 2),
    ] {
        let t = app.tenant(slug, prefix, &graph).await;
        let light_citizen = format!("91980000{n}001");
        let number = street_light(&app, &t, &graph, &light_citizen).await;
        let water = file(
            &app,
            &t,
            &graph,
            &format!("91980000{n}002"),
            "Water pipe leaking on the main road",
        )
        .await;
        let garbage_like = complaint(&app, &t, &water).await;
        more_like(&app, &t, &garbage_like, GARBAGE).await;
        let handed_over = format!("91980000{n}003");
        app.say(&t, &handed_over, "human").await;
        graph.wait_for_reply_to(&handed_over, 1).await;
        member(
            &app,
            &format!("owner@{slug}.gov.in"),
            &t.tenant.id,
            Role::Owner,
        )
        .await;
        member(
            &app,
            &format!("staff@{slug}.gov.in"),
            &t.tenant.id,
            Role::Staff,
        )
        .await;
        let (_, webchat) = ombud_engine::provision::add_channel(
            app.store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            app.engine.outbound().providers(),
            &t.tenant.slug,
            format!("{slug} office"),
            ChannelConfig::Webchat(WebchatConfig {
                signing_key: Secret::new("a web chat signing key, forty characters"),
                allowed_origins: vec![format!("http://127.0.0.1:{site_port}")],
                greetings: Default::default(),
            }),
        )
        .await
        .unwrap();
        // A field worker, with a complaint sent to them for verification.
        let field = member(
            &app,
            &format!("field@{slug}.gov.in"),
            &t.tenant.id,
            Role::FieldWorker,
        )
        .await;
        let to_verify = file(
            &app,
            &t,
            &graph,
            &format!("91980000{n}004"),
            "The drain near the vegetable market is blocked and overflowing",
        )
        .await;
        let id = complaint(&app, &t, &to_verify).await.id;
        for change in [
            ombud_store::ComplaintChange::Assign(Some(field.id.clone())),
            ombud_store::ComplaintChange::Status(ComplaintStatus::PendingValidation),
        ] {
            let done = app
                .engine
                .change_complaints(
                    &ombud_engine::Acting::cli(),
                    &t.tenant.id,
                    ombud_engine::Selection::Ids(vec![id.clone()]),
                    change,
                )
                .await
                .unwrap();
            assert_eq!(done.changed.len(), 1, "{done:?}");
        }
        let pinned = crate::pins::pinned(&app, &t, &graph, &format!("91980000{n}005")).await;
        past_office(
            &app,
            &format!("{slug}-past"),
            &format!("OLD{}", &prefix[..1]),
        )
        .await;
        runs.push(Run {
            to_verify,
            pinned,
            name,
            width,
            height,
            webchat,
            tenant: t,
            complaint: number,
            light_citizen,
            handed_over,
        });
    }
    quiet(&graph).await;
    let before: Vec<usize> = runs
        .iter()
        .map(|r| graph.delivered_to(&r.light_citizen).len())
        .collect();
    let scenario = json!({
        "site_port": site_port,
        "runs": runs.iter().map(|r| {
            let slug = r.tenant.tenant.slug.as_str();
            json!({
                "name": r.name,
                "width": r.width,
                "height": r.height,
                "base": format!("http://{}", app.addr),
                "tenant": r.tenant.tenant.name,
                "owner": {"email": format!("owner@{slug}.gov.in"), "password": PASSWORD, "name": "owner"},
                "search": "street light",
                "complaint": r.complaint,
                "pinned": r.pinned,
                "photo": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, crate::media::phone_photo()),
                "garbage": GARBAGE,
                "handed_over": r.handed_over,
                "webchat": format!("http://{}{}", app.addr, r.webchat.webhook_path()),
                "reply": format!("Hello from the {slug} office"),
                "invitee": {"email": format!("new@{slug}.gov.in"), "name": format!("New at {slug}"), "password": "a long new password"},
                "field": {"email": format!("field@{slug}.gov.in"), "password": PASSWORD, "complaint": r.to_verify},
                "past": {"email": format!("owner@{slug}-past.gov.in"), "password": PASSWORD},
                "colleague": {"email": format!("staff@{slug}.gov.in"), "password": PASSWORD},
                // What the citizen writes while the inbox is open, signed as Meta would.
                "citizen_says": says(&app, &r.tenant, &r.handed_over, &format!("Still dark on our street, {slug}")),
                "live_reply": format!("A team is on its way, {slug}"),
            })
        }).collect::<Vec<_>>()
    });
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = dir.path().join("scenario.json");
    std::fs::write(&scenario_path, scenario.to_string()).unwrap();
    let artifacts = repo().join("target/browser-artifacts");
    let script = repo().join("tests/browser/dashboard.mjs");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .env("SCENARIO", scenario_path)
            .env("ARTIFACTS", &artifacts)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs (scripts/test installs Node's packages and Chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser flows failed:\n{stdout}\n{stderr}"
    );

    // What the browser did, as the server and the citizens saw it.
    quiet(&graph).await;
    for (r, before) in runs.iter().zip(before) {
        let t = &r.tenant;
        let to_citizen = graph.delivered_to(&r.light_citizen);
        assert_eq!(
            to_citizen.len(),
            before + 2,
            "{}: one status notice and the message from the complaint's page, no note",
            r.name
        );
        assert!(to_citizen[before].contains("in progress"));
        assert_eq!(
            to_citizen[before + 1],
            "We have sent a crew; they will visit on Monday."
        );
        // One save on its page changed four fields.
        let c = complaint(&app, t, &r.complaint).await;
        assert_eq!(c.status, ComplaintStatus::InProgress);
        assert_eq!(c.priority, Priority::High, "{}", r.name);
        assert!(c.category_id.is_some() && c.assignee_id.is_some());
        // The assignment page saved the area, the team and the rule.
        let ops = app.engine.ops();
        let routing = ops.routing(&t.tenant.id).await.unwrap();
        let area = routing.areas.find("shivaji-nagar");
        assert_eq!(
            area.map(|a| a.wards.clone()),
            Some(vec!["12".to_owned(), "13".to_owned()]),
            "{}: {routing:?}",
            r.name
        );
        assert_eq!(area.unwrap().names["mr"], "शिवाजी नगर");
        let roads = routing.teams.find("roads").expect("the team");
        assert_eq!((roads.members.len(), roads.capacity), (1, Some(20)));
        assert_eq!(routing.assignment.rules.len(), 1, "{}", r.name);
        // The templates page mapped a WhatsApp number's status notice.
        let channels = app.store.channels(&t.tenant.id).await.unwrap();
        let mapped: Vec<_> = channels
            .iter()
            .filter_map(|c| c.whatsapp())
            .filter_map(|w| {
                w.templates
                    .get(&ombud_core::template::NoticeKind::StatusChanged)
            })
            .map(|m| (m.name.as_str(), m.languages.len()))
            .collect();
        assert_eq!(mapped, [("complaint_status", 3)], "{}", r.name);
        // The field worker validated theirs; the admin turned verification on.
        let verified = complaint(&app, t, &r.to_verify).await;
        assert_eq!(verified.status, ComplaintStatus::Validated, "{}", r.name);
        let verification = ops.verification_settings(&t.tenant.id).await.unwrap();
        assert!(verification.enabled, "{}", r.name);
        assert_eq!(
            (
                verification.remind_after_hours,
                verification.escalate_after_hours
            ),
            (8, 16),
            "{}",
            r.name
        );
        // The deadlines page saved the split shift and the urgent policy.
        let calendar = ops.calendar(&t.tenant.id).await.unwrap();
        assert_eq!(calendar.week[0].len(), 2, "{}: Monday's two spans", r.name);
        let sla = ops.sla_settings(&t.tenant.id).await.unwrap();
        let urgent = sla
            .policies
            .iter()
            .find(|p| p.priority == Some(Priority::Urgent));
        assert_eq!(
            urgent.and_then(|p| p.resolution_minutes),
            Some(480),
            "{sla:?}"
        );
        let notes = app
            .store
            .complaint_events(&t.tenant.id, &c.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "note")
            .count();
        assert_eq!(notes, 1);
        let owner = app
            .store
            .user_by_email(&Email::parse(&format!("owner@{}.gov.in", t.tenant.slug)).unwrap())
            .await
            .unwrap()
            .unwrap();
        let assigned = app
            .store
            .count_complaints(
                &t.tenant.id,
                &ombud_store::ComplaintFilter {
                    assignee: Some(ombud_store::AssigneeFilter::Member(owner.id.clone())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            assigned,
            GARBAGE as u64 + 1,
            "{}: every garbage complaint, on every page, and the one edited on its page",
            r.name
        );
        let replies = graph.delivered_to(&r.handed_over);
        let slug = t.tenant.slug.as_str();
        assert!(
            replies.contains(&format!("Hello from the {slug} office")),
            "{replies:?}"
        );
        assert_eq!(
            replies.last(),
            Some(&format!("A team is on its way, {slug}")),
            "the reply written while a colleague watched"
        );
        let invitee = app
            .store
            .user_by_email(&Email::parse(&format!("new@{}.gov.in", t.tenant.slug)).unwrap())
            .await
            .unwrap()
            .expect("the invitee has an account");
        assert_eq!(
            roles_of(&app, &invitee.id).await,
            vec![(t.tenant.id.clone(), Role::Staff)]
        );
        let chats: Vec<_> = app
            .store
            .conversations(&t.tenant.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.channel_id == r.webchat.id)
            .collect();
        assert_eq!(chats.len(), 1, "{}: the widget's one conversation", r.name);
        let said = app
            .store
            .messages(&t.tenant.id, &chats[0].id)
            .await
            .unwrap();
        assert_eq!(
            said[0].body,
            "The street light near Shivaji school has been broken for a week"
        );
    }
    println!("{stdout}");
    app.stop().await;
}
