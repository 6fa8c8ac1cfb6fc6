//! The dashboard's admin pages: settings, channels, agents, developers,
//! the account, the password and logout; then the events written so far.

use std::collections::HashSet;

use ombud_core::*;
use reqwest::StatusCode;
use serde_json::Value;

use super::{one, Expect, Made, Scene};
use crate::staff::*;

pub(super) async fn cases(s: &mut Scene<'_>, made: &Made) {
    let Scene {
        app,
        graph,
        tid,
        owner,
        ref mut admin,
        ref viewer,
        ref mut l,
        me,
        ..
    } = *s;
    let Made {
        agent_id,
        version_id,
        channel,
        ..
    } = made;
    // A person's data, from their conversation's page.
    let t = s.t;
    let citizen = "919800000778";
    app.say(t, citizen, "hello").await;
    let theirs = app
        .store
        .conversation_of_address(tid, &t.channel.id, citizen)
        .await
        .unwrap()
        .unwrap();
    let res = admin
        .submit(&format!("/app/inbox/{theirs}/export"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    l.check("POST /app/inbox/{id}/export", one("contact.exported", me))
        .await;
    let res = admin
        .submit(&format!("/app/inbox/{theirs}/erase"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/inbox/{id}/erase", "not confirmed").await;
    let res = admin
        .submit(&format!("/app/inbox/{theirs}/erase"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/inbox/{id}/erase", one("contact.erased", me))
        .await;
    let res = admin
        .submit(
            "/app/settings/categories",
            &[("name_en", "Parks"), ("priority", "low")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/settings/categories", one("category.added", me))
        .await;
    let res = admin
        .submit(
            "/app/settings/survey",
            &[("delay_hours", "36"), ("repeat", "once_per_complaint")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/survey",
        one("settings.survey_changed", me),
    )
    .await;
    let survey = app.engine.ops().survey_settings(tid).await.unwrap();
    assert!(!survey.enabled, "an unticked box turns it off");
    assert_eq!(survey.delay_hours, 36);
    let res = admin
        .submit(
            "/app/settings/survey",
            &[
                ("enabled", "on"),
                ("delay_hours", "0"),
                ("repeat", "each_resolution"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("must be 1 to 720 hours"), "{page}");
    l.none("POST /app/settings/survey", "a delay out of range")
        .await;
    let res = admin
        .submit("/app/settings/summary", &[("at", "08:45")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/summary",
        one("settings.summary_changed", me),
    )
    .await;
    let res = admin
        .submit("/app/settings/summary", &[("at", "quarter past")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/settings/summary", "not a time").await;
    let res = admin
        .submit(
            "/app/settings/reminder",
            &[("enabled", "on"), ("after_hours", "36")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/reminder",
        one("settings.reminder_changed", me),
    )
    .await;
    let res = admin
        .submit("/app/settings/reminder", &[("after_hours", "a day")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("must be a whole number of hours"), "{page}");
    l.none("POST /app/settings/reminder", "not a number").await;
    let res = admin
        .submit("/app/settings/sessions", &[("session_idle_hours", "6")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/sessions",
        one("settings.conversations_changed", me),
    )
    .await;
    let res = admin
        .submit("/app/settings/sessions", &[("session_idle_hours", "9999")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("must be 1 to 2160 hours"), "{page}");
    l.none("POST /app/settings/sessions", "out of range").await;
    let res = admin
        .submit(
            "/app/settings/sessions",
            &[("messages_days", "a year"), ("message_bodies_days", "30")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("must be a whole number of days"), "{page}");
    l.none("POST /app/settings/sessions", "days not a number")
        .await;
    let media = |image_kb: &'static str| {
        [
            ("image_kb", image_kb),
            ("audio_kb", "1024"),
            ("audio_seconds", "120"),
            ("base_url", ""),
            ("model", ""),
        ]
    };
    let res = admin.submit("/app/settings/media", &media("2048")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/media",
        Expect {
            actions: vec!["settings.media_changed", "settings.transcription_changed"],
            actor: me,
        },
    )
    .await;
    let res = admin.submit("/app/settings/media", &media("99999")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("must be 1 to 5242880 bytes"), "{page}");
    l.none("POST /app/settings/media", "a photo limit over 5 MB")
        .await;
    let res = admin
        .submit(
            "/app/settings/sessions",
            &[("messages_days", "400"), ("message_bodies_days", "30")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/sessions",
        one("settings.conversations_changed", me),
    )
    .await;
    let page = admin.get("/app/settings").await.text().await.unwrap();
    assert!(
        page.contains(r#"name="messages_days" type="number" min="0" max="36500" value="400""#),
        "{page}"
    );
    let res = admin
        .submit(
            "/app/settings/calendar",
            &[
                ("hours_mon", "09:00-13:00, 14:00-18:00"),
                ("hours_fri", "09:00-17:00"),
                ("holidays", "2026-12-25\n2027-01-26"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/calendar",
        one("settings.calendar_changed", me),
    )
    .await;
    let page = admin
        .get("/app/settings/deadlines")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"09:00-13:00, 14:00-18:00\""),
        "{page}"
    );
    let res = admin
        .submit(
            "/app/settings/calendar",
            &[("hours_mon", "09:00-13:00, 12:00-18:00")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("spans overlap"), "{page}");
    l.none("POST /app/settings/calendar", "overlapping spans")
        .await;
    let res = admin
        .submit(
            "/app/settings/sla",
            &[
                ("enabled", "on"),
                ("name_0", "Open for 7 days"),
                ("resolution_0", "168"),
                ("warn_0", "24"),
                ("name_1", "Urgent"),
                ("priority_1", "urgent"),
                ("first_1", "1"),
                ("resolution_1", "8"),
                ("business_1", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/settings/sla", one("settings.sla_changed", me))
        .await;
    let sla = app.engine.ops().sla_settings(tid).await.unwrap();
    assert_eq!(sla.policies.len(), 2);
    assert_eq!(sla.policies[1].resolution_minutes, Some(480));
    assert!(sla.policies[1].business_hours && !sla.policies[0].business_hours);
    let res = admin
        .submit(
            "/app/settings/sla",
            &[
                ("enabled", "on"),
                ("name_2", "Soon"),
                ("resolution_2", "2"),
                ("warn_2", "2"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("Policy 3 (warning)"), "{page}");
    l.none("POST /app/settings/sla", "a warning as long as the target")
        .await;
    // Assignment: the API's cases left the area "kothrud", the team "roads"
    // and a rule on the area; the forms keep them and add to them.
    // Ravi has left by now: the owner is the field staff.
    let staff_id = owner.id.to_string();
    let res = admin
        .submit(
            "/app/settings/areas",
            &[
                ("slug_0", "kothrud"),
                ("name_en_0", "Kothrud"),
                ("wards_0", "31"),
                ("staff_0", &staff_id),
                ("name_en_1", "Aundh"),
                ("name_mr_1", "औंध"),
                ("keywords_1", "ITI Road, Parihar Chowk"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    l.check(
        "POST /app/settings/areas",
        one("settings.areas_changed", me),
    )
    .await;
    let routing = app.engine.ops().routing(tid).await.unwrap();
    let aundh = routing.areas.find("aundh").expect("a slug from the name");
    assert_eq!(aundh.keywords, ["ITI Road", "Parihar Chowk"]);
    assert_eq!(routing.areas.areas[0].field_staff, vec![owner.id.clone()]);
    let res = admin
        .submit(
            "/app/settings/areas",
            &[
                ("slug_0", "kothrud"),
                ("name_en_0", "Kothrud"),
                ("wards_0", "thirty-one"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("Area 1 (wards[0])"), "{page}");
    l.none("POST /app/settings/areas", "a ward that is no number")
        .await;
    let res = admin
        .submit(
            "/app/settings/teams",
            &[
                ("slug_0", "roads"),
                ("team_name_0", "Roads"),
                ("members_0", &staff_id),
                ("strategy_0", "least_loaded"),
                ("capacity_0", "15"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/teams",
        one("settings.teams_changed", me),
    )
    .await;
    let res = admin
        .submit(
            "/app/settings/teams",
            &[
                ("slug_0", "roads"),
                ("team_name_0", "Roads"),
                ("capacity_0", "0"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/settings/teams", "no capacity").await;
    let res = admin
        .submit(
            "/app/settings/rules",
            &[
                ("rule_name_0", "Urgent to roads"),
                ("priority_0", "urgent"),
                ("to_0", "team:roads"),
                ("rule_name_1", "Aundh to the owner"),
                ("area_1", "aundh"),
                ("to_1", &format!("member:{staff_id}")),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/rules",
        one("settings.assignment_changed", me),
    )
    .await;
    let res = admin
        .submit(
            "/app/settings/rules",
            &[("rule_name_0", "Nowhere"), ("to_0", "team:water")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Rule 1 (assign_to.team): no such team"),
        "{page}"
    );
    l.none("POST /app/settings/rules", "no such team").await;
    let res = admin
        .submit(
            "/app/settings/verification",
            &[
                ("remind_after_hours", "10"),
                ("escalate_after_hours", "20"),
                ("escalate", &format!("member:{staff_id}")),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/verification",
        one("settings.verification_changed", me),
    )
    .await;
    let res = admin
        .submit(
            "/app/settings/verification",
            &[
                ("remind_after_hours", "ten"),
                ("escalate_after_hours", "20"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("remind_after_hours: give a whole number of hours"),
        "{page}"
    );
    l.none(
        "POST /app/settings/verification",
        "hours that are no number",
    )
    .await;
    // Trying a sample is a GET: nothing is recorded.
    let page = admin
        .get("/app/settings/assignment?location=near+ITI+Road&category=&priority=")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Area: Aundh. Rule “Aundh to the owner” sends it to"),
        "{page}"
    );
    l.none("GET /app/settings/assignment", "a try").await;
    let parks = app
        .store
        .categories(tid)
        .await
        .unwrap()
        .iter()
        .find(|c| c.slug == "parks")
        .unwrap()
        .id
        .to_string();
    admin
        .submit(
            &format!("/app/settings/categories/{parks}"),
            &[("name_en", "Parks"), ("priority", "high")],
        )
        .await;
    let e = l
        .check(
            "POST /app/settings/categories/{id}",
            one("category.changed", me),
        )
        .await;
    assert_eq!(e[0].entry.changes.len(), 1, "{e:?}");
    let res = admin
        .submit(
            "/app/settings/channels",
            &[
                ("name", "Second"),
                ("phone_number_id", "123456"),
                ("app_secret", "s3cret-app"),
                ("access_token", "t0ken-access"),
                ("verify_token", "v3rify"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let e = l
        .check("POST /app/settings/channels", one("channel.added", me))
        .await;
    let text = serde_json::to_string(&e).unwrap();
    for secret in ["s3cret-app", "t0ken-access", "v3rify"] {
        assert!(!text.contains(secret), "{text}");
    }
    admin
        .submit(
            "/app/settings/channels/webchat",
            &[("name", "Kiosk"), ("allowed_origins", "")],
        )
        .await;
    l.check(
        "POST /app/settings/channels/{kind}",
        one("channel.added", me),
    )
    .await;
    let kiosk = app
        .store
        .channels(tid)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Kiosk")
        .unwrap();
    let webchat = format!("/app/settings/channels/{}/webchat", kiosk.id);
    let res = admin
        .submit(
            &webchat,
            &[("greeting.hi", "नमस्ते"), ("allowed_origins", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/channels/{id}/webchat",
        one("channel.webchat_set", me),
    )
    .await;
    let res = admin.submit(&webchat, &[("greeting.hindi", "नमस्ते")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none(
        "POST /app/settings/channels/{id}/webchat",
        "a language that is not a code",
    )
    .await;
    let templates = format!("/app/settings/channels/{channel}/templates");
    let mapping = [
        ("waba_id", "1020"),
        ("status_changed_name", "complaint_status"),
        ("status_changed_languages", "en"),
        ("status_changed_body", "complaint_number"),
    ];
    let res = admin.submit(&templates, &mapping).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/channels/{id}/templates",
        one("channel.templates_set", me),
    )
    .await;
    let mut bad = mapping;
    bad[2] = ("status_changed_languages", "english");
    let res = admin.submit(&templates, &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none(
        "POST /app/settings/channels/{id}/templates",
        "a bad language code",
    )
    .await;
    let res = admin.submit(&format!("{templates}/sync"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/settings/channels/{id}/templates/sync",
        one("channel.templates_synced", me),
    )
    .await;

    let res = admin
        .submit("/app/agents/new", &[("name", "second"), ("kind", "intake")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/agents/new", one("agent.created", me))
        .await;
    admin
        .submit(
            &format!("/app/agents/{agent_id}/versions"),
            &[("config", "{}"), ("changelog", "second")],
        )
        .await;
    l.check(
        "POST /app/agents/{id}/versions",
        one("agent.version_saved", me),
    )
    .await;
    // Back to version 1 of the same agent: a rollback.
    admin
        .submit(
            "/app/agents/deploy",
            &[
                ("channel_id", channel),
                (
                    "version_id",
                    app.store
                        .agent_versions(tid, &agent_id.parse().unwrap())
                        .await
                        .unwrap()[0]
                        .id
                        .as_str(),
                ),
            ],
        )
        .await;
    l.check("POST /app/agents/deploy", one("agent.deployed", me))
        .await;
    admin
        .submit(
            "/app/agents/deploy",
            &[("channel_id", channel), ("version_id", version_id)],
        )
        .await;
    l.check("POST /app/agents/deploy", one("agent.rolled_back", me))
        .await;
    let res = admin
        .submit(&format!("/app/agents/{agent_id}/versions/1/test"), &[])
        .await;
    l.check(
        "POST /app/agents/{id}/versions/{number}/test",
        one("test_chat.started", me),
    )
    .await;
    let chat_path = location(&res);
    admin.submit(&chat_path, &[("text", "hello")]).await;
    l.check(
        "POST /app/test-chats/{id}",
        one("test_chat.message_sent", me),
    )
    .await;

    let page = admin
        .submit(
            "/app/developers/keys",
            &[("name", "erp"), ("scope", "complaints:read")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("ombud_"));
    l.check("POST /app/developers/keys", one("api_key.created", me))
        .await;
    let erp = app
        .store
        .api_keys(tid)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "erp")
        .unwrap()
        .id
        .to_string();
    admin
        .submit(&format!("/app/developers/keys/{erp}/revoke"), &[])
        .await;
    l.check(
        "POST /app/developers/keys/{id}/revoke",
        one("api_key.revoked", me),
    )
    .await;
    let res = admin
        .submit(
            "/app/developers/webhooks",
            &[("url", "http://127.0.0.1:9/dash"), ("description", "")],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks",
        one("webhook_endpoint.created", me),
    )
    .await;
    let hook = location(&res);
    let hook = hook
        .trim_start_matches("/app/developers/webhooks/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // Its page with the secret shown once: recorded as shown.
    admin
        .get(&format!("/app/developers/webhooks/{hook}?secret=show"))
        .await;
    l.check(
        "GET /app/developers/webhooks/{id}?secret=show",
        one("webhook_endpoint.secret_shown", me),
    )
    .await;
    for (action, expected) in [
        ("disable", "webhook_endpoint.changed"),
        ("enable", "webhook_endpoint.changed"),
        ("rotate", "webhook_endpoint.secret_rotated"),
        ("test", "webhook_endpoint.tested"),
    ] {
        admin
            .submit(&format!("/app/developers/webhooks/{hook}/{action}"), &[])
            .await;
        l.check(
            "POST /app/developers/webhooks/{id}/{action}",
            one(expected, me),
        )
        .await;
    }
    admin
        .submit(
            &format!("/app/developers/webhooks/{hook}/replay-failed"),
            &[("since_hours", "24")],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks/{id}/{action}",
        one("webhook_endpoint.replayed", me),
    )
    .await;
    let delivery = app
        .store
        .webhook_deliveries(tid, &hook.parse().unwrap(), None, None, 1)
        .await
        .unwrap()[0]
        .event_id
        .to_string();
    admin
        .submit(
            &format!("/app/developers/webhooks/{hook}/deliveries/{delivery}/replay"),
            &[],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks/{id}/deliveries/{event}/replay",
        one("webhook_endpoint.replayed", me),
    )
    .await;
    let res = admin
        .submit(&format!("/app/developers/webhooks/{hook}/delete"), &[])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    l.check(
        "POST /app/developers/webhooks/{id}/{action}",
        one("webhook_endpoint.deleted", me),
    )
    .await;

    let res = viewer.submit("/app/welcome/team", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    l.none("POST /app/welcome/{step}", "a viewer").await;
    admin.submit("/app/welcome/team", &[]).await;
    l.check("POST /app/welcome/{step}", one("onboarding.step_done", me))
        .await;

    // Switching organisation is not an action: nothing is written.
    let other = app.tenant("nashik", "NASIK", graph).await;
    app.store
        .add_membership(
            &other.tenant.id,
            &owner.id,
            Role::Owner,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    l.new_entries().await;
    admin.submit("/app/tenant", &[("tenant", "nashik")]).await;
    admin.submit("/app/tenant", &[("tenant", "pune")]).await;
    l.none("POST /app/tenant", "not an action").await;
    l.covered.insert("POST /app/tenant".into());
    let res = admin
        .submit(
            "/app/account/summary",
            &[("tenant", "pune"), ("daily_summary", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/account/summary", one("member.daily_summary", me))
        .await;
    let res = admin
        .submit(
            "/app/account/summary",
            &[("tenant", "no-such-office"), ("daily_summary", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    l.none("POST /app/account/summary", "no such organisation")
        .await;

    // The password, then logout: both end sessions.
    let res = admin
        .submit(
            "/app/password",
            &[
                ("current", "wrong!"),
                ("new", "another long one"),
                ("confirm", "another long one"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/password", "wrong current password").await;
    let res = admin
        .submit(
            "/app/password",
            &[
                ("current", PASSWORD),
                ("new", "another long one"),
                ("confirm", "another long one"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    admin.cookie = new_session_cookie(&res);
    l.check("POST /app/password", one("password.changed", me))
        .await;
    let res = admin.submit("/app/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/logout", one("logout", me)).await;

    // Every event written so far carries the fields its payload struct (and
    // the docs' catalogue) promise.
    let mut kinds = HashSet::new();
    for row in app
        .db
        .texts("select type || ' ' || cast(data as text) from events")
        .await
    {
        let (kind, data) = row.split_once(' ').unwrap();
        let kind = EventType::parse(kind).unwrap();
        let data: Value = serde_json::from_str(data).unwrap();
        for field in ombud_core::event::payload::fields(kind) {
            assert!(data.get(field).is_some(), "{kind:?} lacks {field}: {data}");
        }
        kinds.insert(kind);
    }
    assert!(kinds.len() >= 10, "{kinds:?}");
}
