//! The dashboard's staff work: complaints one by one and in bulk, the
//! inbox, the team, and "forgot your password?".

use ombud_core::*;
use reqwest::StatusCode;

use super::{one, Expect, Made, Scene};
use crate::staff::*;

pub(super) async fn cases(s: &mut Scene<'_>, made: &Made) {
    let Scene {
        app,
        tid,
        key,
        owner,
        ravi,
        number,
        filed,
        conversation,
        ref mut admin,
        ref viewer,
        ref mut l,
        me,
        k,
        ..
    } = *s;
    let api_complaint = &made.api_complaint;
    // --- The dashboard.
    let res = viewer
        .submit(
            &format!("/app/complaints/{number}/edit"),
            &[("status", "acknowledged")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    l.none("POST /app/complaints/{key}/edit", "a viewer").await;
    // One save of four fields: an entry for each.
    let res = admin
        .submit(
            &format!("/app/complaints/{number}/edit"),
            &[
                ("status", "acknowledged"),
                ("priority", "urgent"),
                ("area", "kothrud"),
                ("assignee", ravi.id.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let four = Expect {
        actions: vec![
            "complaint.area_changed",
            "complaint.priority_changed",
            "complaint.assigned",
            "complaint.status_changed",
        ],
        actor: me,
    };
    l.check("POST /app/complaints/{key}/edit", four).await;
    // A save that does not fit (a move the table forbids) records nothing,
    // not even the fields that would fit.
    let res = admin
        .submit(
            &format!("/app/complaints/{number}/edit"),
            &[("priority", "low"), ("status", "new")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/complaints/{key}/edit", "an illegal move")
        .await;
    let now = app.store.complaint(tid, &filed.id).await.unwrap().unwrap();
    assert_eq!(
        (now.priority, now.status),
        (Priority::Urgent, ComplaintStatus::Acknowledged),
        "nothing was written"
    );
    let res = admin
        .submit(
            &format!("/app/complaints/{number}/note"),
            &[("value", "checked on site")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/complaints/{key}/note",
        one("complaint.note_added", me),
    )
    .await;
    // A verdict from the field page: on a complaint of the member's own,
    // sent to verification.
    let pending = super::json_of(
        app.api(reqwest::Method::POST, "/complaints", key)
            .json(&serde_json::json!({"description": "Drain overflowing"})),
        201,
    )
    .await;
    let pending = pending["number"].as_str().unwrap().to_owned();
    l.check("POST /complaints", one("complaint.created", k))
        .await;
    let path = format!("/app/complaints/{pending}/edit");
    let res = admin
        .submit(
            &path,
            &[
                ("assignee", owner.id.as_str()),
                ("status", "pending_validation"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sent = Expect {
        actions: vec!["complaint.assigned", "complaint.status_changed"],
        actor: me,
    };
    l.check("POST /app/complaints/{key}/edit", sent).await;
    let verdict = format!("/app/field/{pending}/verdict");
    let res = viewer.submit(&verdict, &[("outcome", "validated")]).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "viewers verify nothing"
    );
    let res = admin.submit(&verdict, &[("outcome", "rejected")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none(
        "POST /app/field/{key}/verdict",
        "a rejection without a note",
    )
    .await;
    let res = admin
        .submit(
            &verdict,
            &[("outcome", "validated"), ("note", "seen it on the ground")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/field/{key}/verdict",
        Expect {
            actions: vec!["complaint.status_changed", "complaint.note_added"],
            actor: me,
        },
    )
    .await;
    let ids = format!("{}", filed.id);
    let res = admin
        .submit(
            "/app/complaints/bulk",
            &[
                ("action", "note"),
                ("note", "bulk note"),
                ("scope", "selected"),
                ("ids", &ids),
                ("ids", api_complaint),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let e = l
        .check(
            "POST /app/complaints/bulk",
            Expect {
                actions: vec!["complaint.note_added"; 2],
                actor: me,
            },
        )
        .await;
    assert!(e[0].entry.bulk_id.is_some() && e[0].entry.bulk_id == e[1].entry.bulk_id);

    let res = admin
        .submit(&format!("/app/inbox/{conversation}/reply"), &[("body", "")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/inbox/{id}/reply", "empty").await;
    let res = admin
        .submit(
            &format!("/app/inbox/{conversation}/reply"),
            &[("body", "Thank you")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/inbox/{id}/reply",
        one("conversation.staff_replied", me),
    )
    .await;
    let res = admin
        .submit(
            &format!("/app/inbox/{conversation}/block"),
            &[("days", "7"), ("reason", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/inbox/{id}/block", "no reason").await;
    let res = admin
        .submit(
            &format!("/app/inbox/{conversation}/block"),
            &[("days", "7"), ("reason", "abusive messages")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/inbox/{id}/block", one("contact.blocked", me))
        .await;
    let page = admin
        .get(&format!("/app/inbox/{conversation}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(": abusive messages"), "{page}");
    assert!(page.contains("End the pause"), "{page}");
    admin
        .submit(&format!("/app/inbox/{conversation}/unblock"), &[])
        .await;
    l.check("POST /app/inbox/{id}/unblock", one("contact.unblocked", me))
        .await;
    let res = admin
        .submit(&format!("/app/inbox/{conversation}/typing"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    l.none("POST /app/inbox/{id}/typing", "someone typing")
        .await;
    admin
        .submit(&format!("/app/inbox/{conversation}/hand-back"), &[])
        .await;
    l.check(
        "POST /app/inbox/{id}/hand-back",
        one("conversation.handed_back", me),
    )
    .await;
    admin
        .submit(&format!("/app/inbox/{conversation}/close-session"), &[])
        .await;
    l.check(
        "POST /app/inbox/{id}/close-session",
        one("conversation.session_closed", me),
    )
    .await;

    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", "meera@pune.gov.in"), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    l.check("POST /app/team/invitations", one("invitation.created", me))
        .await;
    let at = page.find("/app/invite/").unwrap();
    let invite_path = page[at..].split('<').next().unwrap().to_owned();
    let res = Staff::new(app)
        .post_form(
            &invite_path,
            &[
                ("name", "Meera"),
                ("new", "a long new password"),
                ("confirm", "not the same"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/invite/{token}", "passwords differ").await;
    let res = Staff::new(app)
        .post_form(
            &invite_path,
            &[
                ("name", "Meera"),
                ("new", "a long new password"),
                ("confirm", "a long new password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/invite/{token}",
        one("invitation.accepted", "meera@pune.gov.in"),
    )
    .await;
    admin
        .submit(
            "/app/team/invitations",
            &[("email", "later@pune.gov.in"), ("role", "viewer")],
        )
        .await;
    l.new_entries().await;
    let invitation = app.store.open_invitations(tid).await.unwrap()[0]
        .id
        .to_string();
    admin
        .submit(&format!("/app/team/invitations/{invitation}/revoke"), &[])
        .await;
    l.check(
        "POST /app/team/invitations/{id}/revoke",
        one("invitation.revoked", me),
    )
    .await;
    let m = |action: &str| format!("/app/team/members/{}/{action}", ravi.id);
    admin.submit(&m("role"), &[("role", "viewer")]).await;
    l.check(
        "POST /app/team/members/{id}/role",
        one("member.role_changed", me),
    )
    .await;
    admin.submit(&m("password"), &[]).await;
    l.check(
        "POST /app/team/members/{id}/password",
        one("password.reset", me),
    )
    .await;
    admin.submit(&m("remove"), &[]).await;
    l.check(
        "POST /app/team/members/{id}/remove",
        one("member.removed", me),
    )
    .await;

    // "Forgot your password?", by someone not signed in: asked for, then
    // used, each recorded as that account's.
    let forgetful = format!(
        "forgetful-{}@pune.gov.in",
        ombud_core::id::new_id_body().to_lowercase()
    );
    member(app, &forgetful, tid, Role::Staff).await;
    let visitor = Staff::new(app);
    visitor
        .post_form("/app/forgot", &[("email", "nobody@pune.gov.in")])
        .await;
    l.none("POST /app/forgot", "no such account").await;
    visitor
        .post_form("/app/forgot", &[("email", &forgetful)])
        .await;
    l.check(
        "POST /app/forgot",
        one("password.reset_requested", &forgetful),
    )
    .await;
    let mail = crate::mail::wait_for_mail(&forgetful, 1).await;
    let at = mail[0].body.find("/app/reset/").unwrap();
    let reset_path = mail[0].body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let res = visitor
        .post_form(
            &reset_path,
            &[("new", "a long new password"), ("confirm", "other")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/reset/{token}", "passwords differ").await;
    visitor
        .post_form(
            &reset_path,
            &[
                ("new", "a long new password"),
                ("confirm", "a long new password"),
            ],
        )
        .await;
    l.check(
        "POST /app/reset/{token}",
        one("password.reset_by_link", &forgetful),
    )
    .await;
    // Writing to a citizen from a complaint's page takes the conversation
    // from the bot: both are recorded. An empty message records nothing.
    let reply = format!("/app/complaints/{number}/reply");
    let res = admin.submit(&reply, &[("body", " ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/complaints/{key}/reply", "an empty message")
        .await;
    let res = admin
        .submit(&reply, &[("body", "We will visit on Monday.")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let both = Expect {
        actions: vec!["conversation.taken_over", "conversation.staff_replied"],
        actor: me,
    };
    l.check("POST /app/complaints/{key}/reply", both).await;
}
