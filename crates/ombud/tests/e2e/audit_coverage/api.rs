//! The API's state-changing routes, with a key (and a session where only
//! a session may).

use std::collections::HashSet;

use ombud_core::*;
use reqwest::Method;
use serde_json::json;

use super::{json_of, one, status_of, Expect, Made, Scene};
use crate::audit::session_api;

/// Performs each API route once (and refused where it can be), checking
/// the entries; what later cases build on.
pub(super) async fn cases(s: &mut Scene<'_>) -> Made {
    let Scene {
        app,
        t,
        tid,
        conversation,
        key,
        viewer_key,
        ref mut admin,
        ref mut l,
        me,
        k,
        ravi,
        ..
    } = *s;
    // --- The API, with a key (and a session where only a session may).
    let c = json_of(
        app.api(Method::POST, "/complaints", viewer_key)
            .json(&json!({"description": "Pothole on MG road"})),
        403,
    )
    .await;
    assert_eq!(c["error"]["code"], "missing_scope");
    l.none("POST /complaints", "without the scope").await;
    json_of(
        app.api(Method::POST, "/complaints", key)
            .json(&json!({"description": ""})),
        422,
    )
    .await;
    l.none("POST /complaints", "invalid").await;
    let made = json_of(
        app.api(Method::POST, "/complaints", key)
            .json(&json!({"description": "Pothole on MG road"})),
        201,
    )
    .await;
    let api_complaint = made["id"].as_str().unwrap().to_owned();
    let e = l
        .check("POST /complaints", one("complaint.created", k))
        .await;
    assert_eq!(e[0].entry.target.label.as_deref(), made["number"].as_str());
    json_of(
        app.api(Method::PATCH, &format!("/complaints/{api_complaint}"), key)
            .json(&json!({"status": "closed"})),
        422,
    )
    .await;
    l.none("PATCH /complaints/{id}", "an illegal move").await;
    json_of(
        app.api(Method::PATCH, &format!("/complaints/{api_complaint}"), key)
            .json(&json!({"status": "acknowledged"})),
        200,
    )
    .await;
    l.check("PATCH /complaints/{id}", one("complaint.status_changed", k))
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/complaints/{api_complaint}/notes"),
            key,
        )
        .json(&json!({"note": "called the contractor"})),
        201,
    )
    .await;
    let e = l
        .check(
            "POST /complaints/{id}/notes",
            one("complaint.note_added", k),
        )
        .await;
    assert!(!serde_json::to_string(&e).unwrap().contains("contractor"));
    let open = app
        .store
        .count_complaints(
            tid,
            &ombud_store::ComplaintFilter {
                statuses: vec![ComplaintStatus::New],
                ..Default::default()
            },
        )
        .await
        .unwrap() as usize;
    assert!(open >= 2, "{open}");
    json_of(
        app.api(Method::POST, "/complaints/bulk-update", key)
            .json(&json!({"filter": {"status": ["new"]}, "change": {"priority": "high"}})),
        200,
    )
    .await;
    let e = l
        .check(
            "POST /complaints/bulk-update",
            Expect {
                actions: vec!["complaint.priority_changed"; open],
                actor: k,
            },
        )
        .await;
    let bulk: HashSet<_> = e.iter().map(|e| e.entry.bulk_id.clone()).collect();
    assert_eq!(bulk.len(), 1, "one bulk id");
    assert!(bulk.iter().all(Option::is_some));

    json_of(
        app.api(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            key,
        )
        .json(&json!({"body": ""})),
        422,
    )
    .await;
    l.none("POST /conversations/{id}/messages", "empty").await;
    json_of(
        app.api(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            key,
        )
        .json(&json!({"body": "We are on it."})),
        201,
    )
    .await;
    l.check(
        "POST /conversations/{id}/messages",
        one("conversation.staff_replied", k),
    )
    .await;
    // Another citizen's conversation: this one stays in the hands of people
    // for the dashboard's cases.
    let other = "919800000777";
    app.say(t, other, "hello").await;
    let other = app
        .store
        .conversation_of_address(tid, &t.channel.id, other)
        .await
        .unwrap()
        .unwrap();
    let close = format!("/conversations/{other}/close");
    json_of(app.api(Method::POST, &close, viewer_key), 403).await;
    l.none("POST /conversations/{id}/close", "without the scope")
        .await;
    let closed = json_of(app.api(Method::POST, &close, key), 200).await;
    assert!(closed["session_closed_at"].is_string(), "{closed}");
    l.check(
        "POST /conversations/{id}/close",
        one("conversation.session_closed", k),
    )
    .await;
    json_of(app.api(Method::POST, &close, key), 200).await;
    l.none("POST /conversations/{id}/close", "closed already")
        .await;
    let theirs = app.store.conversation(tid, &other).await.unwrap().unwrap();
    let person = theirs.conversation.contact_id.to_string();
    let export = format!("/contacts/{person}/export");
    json_of(app.api(Method::POST, &export, viewer_key), 403).await;
    l.none("POST /contacts/{id}/export", "without the scope")
        .await;
    json_of(app.api(Method::POST, &export, key), 200).await;
    l.check("POST /contacts/{id}/export", one("contact.exported", k))
        .await;
    let erase = format!("/contacts/{person}/erase");
    json_of(app.api(Method::POST, &erase, viewer_key), 403).await;
    l.none("POST /contacts/{id}/erase", "without the scope")
        .await;
    json_of(app.api(Method::POST, &erase, key), 200).await;
    let e = l
        .check("POST /contacts/{id}/erase", one("contact.erased", k))
        .await;
    let label = e[0].entry.target.label.clone().unwrap_or_default();
    assert!(label.starts_with("erased:"), "{label}");
    json_of(app.api(Method::POST, &erase, key), 200).await;
    l.none("POST /contacts/{id}/erase", "erased already").await;
    let view = json_of(
        app.api(Method::GET, &format!("/conversations/{conversation}"), key),
        200,
    )
    .await;
    let contact = view["contact_id"].as_str().unwrap().to_owned();
    let block = format!("/contacts/{contact}/block");
    json_of(
        app.api(Method::POST, &block, key)
            .json(&json!({"days": 0, "reason": "abusive messages"})),
        422,
    )
    .await;
    l.none("POST /contacts/{id}/block", "zero days").await;
    json_of(
        app.api(Method::POST, &block, key)
            .json(&json!({"days": 7, "reason": "abusive messages"})),
        200,
    )
    .await;
    l.check("POST /contacts/{id}/block", one("contact.blocked", k))
        .await;
    json_of(app.api(Method::DELETE, &block, key), 200).await;
    l.check("DELETE /contacts/{id}/block", one("contact.unblocked", k))
        .await;

    json_of(
        app.api(Method::POST, "/agents", key)
            .json(&json!({"name": "", "kind": "intake"})),
        422,
    )
    .await;
    l.none("POST /agents", "no name").await;
    let agent = json_of(
        app.api(Method::POST, "/agents", key)
            .json(&json!({"name": "helper", "kind": "intake"})),
        201,
    )
    .await;
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    l.check("POST /agents", one("agent.created", k)).await;
    let version = json_of(
        app.api(Method::POST, &format!("/agents/{agent_id}/versions"), key)
            .json(&json!({"config": {}, "changelog": "first"})),
        201,
    )
    .await;
    let version_id = version["id"].as_str().unwrap().to_owned();
    l.check("POST /agents/{id}/versions", one("agent.version_saved", k))
        .await;
    let channel = t.channel.id.to_string();
    json_of(
        app.api(
            Method::POST,
            &format!("/channels/{channel}/deployments"),
            key,
        )
        .json(&json!({"version_id": "agv_00000000000000000000000000"})),
        422,
    )
    .await;
    l.none("POST /channels/{id}/deployments", "no such version")
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/channels/{channel}/deployments"),
            key,
        )
        .json(&json!({"version_id": version_id})),
        201,
    )
    .await;
    l.check("POST /channels/{id}/deployments", one("agent.deployed", k))
        .await;
    let chat = json_of(
        app.api(
            Method::POST,
            &format!("/agents/{agent_id}/versions/1/test-chats"),
            key,
        ),
        201,
    )
    .await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    l.check(
        "POST /agents/{id}/versions/{number}/test-chats",
        one("test_chat.started", k),
    )
    .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/test-chats/{chat_id}/messages"),
            key,
        )
        .json(&json!({"text": "hello"})),
        201,
    )
    .await;
    l.check(
        "POST /test-chats/{id}/messages",
        one("test_chat.message_sent", k),
    )
    .await;

    json_of(
        app.api(Method::POST, "/webhooks", key)
            .json(&json!({"url": "ftp://example.org"})),
        422,
    )
    .await;
    l.none("POST /webhooks", "a bad URL").await;
    let hook = json_of(
        app.api(Method::POST, "/webhooks", key)
            .json(&json!({"url": "http://127.0.0.1:9/hook"})),
        201,
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    l.check("POST /webhooks", one("webhook_endpoint.created", k))
        .await;
    json_of(
        app.api(Method::PATCH, &format!("/webhooks/{hook_id}"), key)
            .json(&json!({"description": "CRM"})),
        200,
    )
    .await;
    l.check("PATCH /webhooks/{id}", one("webhook_endpoint.changed", k))
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/webhooks/{hook_id}/rotate-secret"),
            key,
        ),
        200,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/rotate-secret",
        one("webhook_endpoint.secret_rotated", k),
    )
    .await;
    let sent = json_of(
        app.api(Method::POST, &format!("/webhooks/{hook_id}/test"), key),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/test",
        one("webhook_endpoint.tested", k),
    )
    .await;
    let event = sent["event_id"].as_str().unwrap();
    json_of(
        app.api(
            Method::POST,
            &format!("/webhooks/{hook_id}/deliveries/{event}/replay"),
            key,
        ),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/deliveries/{event_id}/replay",
        one("webhook_endpoint.replayed", k),
    )
    .await;
    json_of(
        app.api(Method::POST, &format!("/webhooks/{hook_id}/replay"), key)
            .json(&json!({"since": "2026-01-01T00:00:00Z"})),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/replay",
        one("webhook_endpoint.replayed", k),
    )
    .await;
    assert_eq!(
        status_of(app.api(Method::DELETE, &format!("/webhooks/{hook_id}"), key)).await,
        204
    );
    l.check("DELETE /webhooks/{id}", one("webhook_endpoint.deleted", k))
        .await;

    // Only an admin's session manages keys and channels.
    assert_eq!(
        status_of(
            app.api(Method::POST, "/api-keys", key)
                .json(&json!({"name": "x", "scopes": ["complaints:read"]}))
        )
        .await,
        403
    );
    l.none("POST /api-keys", "with a key").await;
    let made = json_of(
        session_api(admin, Method::POST, "/api-keys")
            .await
            .json(&json!({"name": "crm", "scopes": ["complaints:read"]})),
        201,
    )
    .await;
    l.check("POST /api-keys", one("api_key.created", me)).await;
    let key_id = made["api_key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        status_of(session_api(admin, Method::DELETE, &format!("/api-keys/{key_id}")).await).await,
        204
    );
    l.check("DELETE /api-keys/{id}", one("api_key.revoked", me))
        .await;
    assert_eq!(
        status_of(session_api(admin, Method::DELETE, &format!("/api-keys/{key_id}")).await).await,
        404
    );
    l.none("DELETE /api-keys/{id}", "revoked already").await;
    let web = json_of(
        session_api(admin, Method::POST, "/channels")
            .await
            .json(&json!({"kind": "webchat", "name": "Website"})),
        201,
    )
    .await;
    l.check("POST /channels", one("channel.added", me)).await;
    let webchat = format!(
        "/channels/{}/webchat",
        web["channel"]["id"].as_str().unwrap()
    );
    json_of(
        session_api(admin, Method::PUT, &webchat)
            .await
            .json(&json!({"greetings": {"en": "Welcome to the ward office."}})),
        200,
    )
    .await;
    l.check("PUT /channels/{id}/webchat", one("channel.webchat_set", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, &webchat)
            .await
            .json(&json!({"allowed_origins": ["ftp://ward.example"]})),
        422,
    )
    .await;
    l.none("PUT /channels/{id}/webchat", "an origin that is not one")
        .await;
    let templates = format!("/channels/{}/templates", t.channel.id);
    let mapping = json!({"waba_id": "1020", "notices": {"status_changed": {
        "name": "complaint_status", "languages": ["en"], "body": ["complaint_number"]}}});
    json_of(
        session_api(admin, Method::PUT, &templates)
            .await
            .json(&mapping),
        200,
    )
    .await;
    l.check(
        "PUT /channels/{id}/templates",
        one("channel.templates_set", me),
    )
    .await;
    let mut bad = mapping.clone();
    bad["notices"]["status_changed"]["languages"] = json!(["english"]);
    json_of(
        session_api(admin, Method::PUT, &templates).await.json(&bad),
        422,
    )
    .await;
    l.none("PUT /channels/{id}/templates", "a bad language code")
        .await;
    json_of(
        session_api(admin, Method::POST, &format!("{templates}/sync")).await,
        200,
    )
    .await;
    l.check(
        "POST /channels/{id}/templates/sync",
        one("channel.templates_synced", me),
    )
    .await;
    let survey = json!({"enabled": true, "delay_hours": 48, "repeat": "each_resolution"});
    json_of(
        session_api(admin, Method::PUT, "/settings/survey")
            .await
            .json(&survey),
        200,
    )
    .await;
    l.check("PUT /settings/survey", one("settings.survey_changed", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/survey")
            .await
            .json(&json!({"enabled": true, "delay_hours": 9999, "repeat": "each_resolution"})),
        422,
    )
    .await;
    l.none("PUT /settings/survey", "a delay out of range").await;
    json_of(
        session_api(admin, Method::PUT, "/settings/summary")
            .await
            .json(&json!({"hour": 8, "minute": 30})),
        200,
    )
    .await;
    l.check("PUT /settings/summary", one("settings.summary_changed", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/summary")
            .await
            .json(&json!({"hour": 8, "minute": 31})),
        422,
    )
    .await;
    l.none("PUT /settings/summary", "not a quarter hour").await;
    json_of(
        session_api(admin, Method::PUT, "/settings/reminder")
            .await
            .json(&json!({"enabled": true, "after_hours": 48})),
        200,
    )
    .await;
    l.check(
        "PUT /settings/reminder",
        one("settings.reminder_changed", me),
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/reminder")
            .await
            .json(&json!({"enabled": true, "after_hours": 721})),
        422,
    )
    .await;
    l.none("PUT /settings/reminder", "a wait out of range")
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/conversations")
            .await
            .json(&json!({"session_idle_hours": 12})),
        200,
    )
    .await;
    l.check(
        "PUT /settings/conversations",
        one("settings.conversations_changed", me),
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/conversations")
            .await
            .json(&json!({"session_idle_hours": 0})),
        422,
    )
    .await;
    l.none("PUT /settings/conversations", "no quiet spell")
        .await;
    let media = |image: u64| {
        json!({"image_bytes": image, "audio_bytes": 1048576, "audio_seconds": 120,
               "transcriber": {"base_url": null, "model": ""}})
    };
    json_of(
        session_api(admin, Method::PUT, "/settings/media")
            .await
            .json(&media(2_000_000)),
        200,
    )
    .await;
    l.check(
        "PUT /settings/media",
        Expect {
            actions: vec!["settings.media_changed", "settings.transcription_changed"],
            actor: me,
        },
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/media")
            .await
            .json(&media(0)),
        422,
    )
    .await;
    l.none("PUT /settings/media", "a photo limit of 0").await;
    let hours = json!({"hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"]});
    json_of(
        session_api(admin, Method::PUT, "/settings/calendar")
            .await
            .json(&hours),
        200,
    )
    .await;
    l.check(
        "PUT /settings/calendar",
        one("settings.calendar_changed", me),
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/calendar")
            .await
            .json(&json!({"hours": {}})),
        422,
    )
    .await;
    l.none("PUT /settings/calendar", "a week with no open hour")
        .await;
    let policies = json!({"enabled": true, "policies": [
        {"name": "Week", "resolution_minutes": 10080, "warn_before_minutes": 1440}]});
    json_of(
        session_api(admin, Method::PUT, "/settings/sla")
            .await
            .json(&policies),
        200,
    )
    .await;
    l.check("PUT /settings/sla", one("settings.sla_changed", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/sla")
            .await
            .json(&json!({"enabled": true, "policies": [{"name": "No target"}]})),
        422,
    )
    .await;
    l.none("PUT /settings/sla", "a policy with no target").await;
    let areas = json!({"areas": [{"slug": "kothrud", "names": {"en": "Kothrud"},
                                  "wards": ["31"], "field_staff": [ravi.id]}]});
    json_of(
        session_api(admin, Method::PUT, "/settings/areas")
            .await
            .json(&areas),
        200,
    )
    .await;
    l.check("PUT /settings/areas", one("settings.areas_changed", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/areas")
            .await
            .json(&json!({"areas": [{"slug": "Kothrud!", "names": {"en": "Kothrud"}}]})),
        422,
    )
    .await;
    l.none("PUT /settings/areas", "a bad slug").await;
    let teams = json!({"teams": [{"slug": "roads", "name": "Roads", "members": [ravi.id],
                                  "capacity": 20}]});
    json_of(
        session_api(admin, Method::PUT, "/settings/teams")
            .await
            .json(&teams),
        200,
    )
    .await;
    l.check("PUT /settings/teams", one("settings.teams_changed", me))
        .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/teams")
            .await
            .json(
                &json!({"teams": [{"slug": "roads", "name": "Roads", "members": [],
                                     "capacity": 0}]}),
            ),
        422,
    )
    .await;
    l.none("PUT /settings/teams", "no capacity").await;
    let rules = json!({"rules": [{"name": "Kothrud", "area": "kothrud",
                                  "assign_to": {"kind": "area_field_staff"}}]});
    json_of(
        session_api(admin, Method::PUT, "/settings/assignment")
            .await
            .json(&rules),
        200,
    )
    .await;
    l.check(
        "PUT /settings/assignment",
        one("settings.assignment_changed", me),
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/assignment")
            .await
            .json(
                &json!({"rules": [{"name": "x", "assign_to": {"kind": "team", "team": "water"}}]}),
            ),
        422,
    )
    .await;
    l.none("PUT /settings/assignment", "no such team").await;
    let tried = json_of(
        app.api(Method::POST, "/settings/assignment/try", key)
            .json(&json!({"location": "ward 31"})),
        200,
    )
    .await;
    assert_eq!(tried["rule_name"], "Kothrud", "{tried}");
    l.none("POST /settings/assignment/try", "changes nothing")
        .await;
    let verification =
        json!({"enabled": false, "remind_after_hours": 10, "escalate_after_hours": 20});
    json_of(
        session_api(admin, Method::PUT, "/settings/verification")
            .await
            .json(&verification),
        200,
    )
    .await;
    l.check(
        "PUT /settings/verification",
        one("settings.verification_changed", me),
    )
    .await;
    json_of(
        session_api(admin, Method::PUT, "/settings/verification")
            .await
            .json(&json!({"enabled": true, "remind_after_hours": 30, "escalate_after_hours": 20})),
        422,
    )
    .await;
    l.none(
        "PUT /settings/verification",
        "a reminder after the escalation",
    )
    .await;
    // A verdict through the API, on a complaint sent to verification.
    let pending = json_of(
        app.api(Method::POST, "/complaints", key)
            .json(&json!({"description": "Drain overflowing near the market"})),
        201,
    )
    .await;
    let pending = pending["id"].as_str().unwrap().to_owned();
    l.check("POST /complaints", one("complaint.created", k))
        .await;
    json_of(
        app.api(Method::PATCH, &format!("/complaints/{pending}"), key)
            .json(&json!({"status": "pending_validation"})),
        200,
    )
    .await;
    l.check("PATCH /complaints/{id}", one("complaint.status_changed", k))
        .await;
    let verdict = format!("/complaints/{pending}/verification");
    json_of(
        app.api(Method::POST, &verdict, key)
            .json(&json!({"outcome": "rejected"})),
        422,
    )
    .await;
    l.none("POST /complaints/{id}/verification", "no note")
        .await;
    json_of(
        app.api(Method::POST, &verdict, key)
            .json(&json!({"outcome": "rejected", "note": "nothing found there"})),
        200,
    )
    .await;
    l.check(
        "POST /complaints/{id}/verification",
        Expect {
            actions: vec!["complaint.status_changed", "complaint.note_added"],
            actor: k,
        },
    )
    .await;

    Made {
        api_complaint,
        agent_id,
        version_id,
        channel,
    }
}
