//! Areas, teams and assignment rules (issue 25, items 4 and 5): a team of
//! three with room for twenty each takes sixty of a hundred complaints and
//! queues forty, oldest first, and a freed place takes the next; round-robin
//! spreads evenly; a citizen's location fills the area, and the area's field
//! staff get the complaint; the rules are tried on a sample; bad settings
//! are refused with the field named.

use std::collections::BTreeMap;
use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::helpers::*;
use crate::sla::{complaint_json, file_by_api, put_settings};
use crate::staff::*;

async fn list(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/complaints?limit=200&sort=oldest&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.api(Method::GET, &path, key).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Each member's number of open complaints of the team.
fn per_member(complaints: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in complaints {
        if let Some(a) = c["assignee_id"].as_str() {
            *out.entry(a.to_owned()).or_default() += 1;
        }
    }
    out
}

async fn file(app: &TestApp, key: &str, description: &str, priority: &str) -> Value {
    file_by_api(
        app,
        key,
        json!({"description": description, "priority": priority}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_of_three_with_room_for_twenty_takes_sixty_and_queues_forty() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("teams", "TEAM", &graph).await;
    let tid = t.tenant.id.clone();
    let key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let run = ombud_core::id::new_id_body().to_lowercase();
    member(&app, &format!("admin-{run}@pune.gov.in"), &tid, Role::Admin).await;
    let admin = Staff::login(&app, &format!("admin-{run}@pune.gov.in")).await;
    let mut roads = Vec::new();
    let mut duty = Vec::new();
    for i in 0..3 {
        let email = format!("roads{i}-{run}@pune.gov.in");
        roads.push(member(&app, &email, &tid, Role::Staff).await.id.to_string());
        let email = format!("duty{i}-{run}@pune.gov.in");
        duty.push(member(&app, &email, &tid, Role::Staff).await.id.to_string());
    }
    let (status, saved) = put_settings(
        &admin,
        "/settings/teams",
        json!({"teams": [
            {"slug": "roads", "name": "Roads", "members": roads, "capacity": 20},
            {"slug": "duty", "name": "Duty officers", "members": duty, "strategy": "round_robin"},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (status, saved) = put_settings(
        &admin,
        "/settings/assignment",
        json!({"rules": [
            {"name": "Urgent to the duty officers", "priority": "urgent",
             "assign_to": {"kind": "team", "team": "duty"}},
            {"name": "Everything else to roads", "assign_to": {"kind": "team", "team": "roads"}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");

    // A hundred complaints for roads.
    let mut filed = Vec::new();
    for i in 0..100 {
        let c = file(
            &app,
            &key,
            &format!("Pothole number {i} on the ring road"),
            "normal",
        )
        .await;
        filed.push(c["number"].as_str().unwrap().to_owned());
    }
    // One read decides: the rules give a complaint its team and then, in a
    // second step, its member, so two reads could each see a different
    // moment of the same complaint.
    let settled = wait_until(Duration::from_secs(60), || async {
        let all = list(&app, &key, "team=roads").await;
        all.len() == 100 && per_member(&all).values().sum::<usize>() == 60
    })
    .await;
    let queued = list(&app, &key, "team=roads&assignee=none").await;
    assert!(settled, "{} queued", queued.len());
    let all = list(&app, &key, "team=roads").await;
    let loads = per_member(&all);
    assert_eq!(loads.len(), 3, "{loads:?}");
    assert!(loads.values().all(|&n| n == 20), "{loads:?}");
    // The last ones filed wait, in the order they came. Not exactly the
    // last forty: the scheduler routes up to four complaints at once, so one
    // filed a moment later can take a place before an earlier one reaches
    // the queue; once queued, complaints leave it oldest first.
    let waiting: Vec<&str> = queued
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    let mut in_order = waiting.clone();
    in_order.sort();
    assert_eq!(waiting, in_order);
    let late: Vec<&str> = filed[60 - 4..].iter().map(String::as_str).collect();
    assert!(waiting.iter().all(|n| late.contains(n)), "{waiting:?}");

    // Resolving one of the first member's gives their place to the oldest waiting.
    let first = &roads[0];
    let theirs = list(&app, &key, &format!("assignee={first}")).await;
    let done = theirs[0]["number"].as_str().unwrap().to_owned();
    let res = app
        .api(Method::PATCH, &format!("/complaints/{done}"), &key)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let next = waiting[0].to_owned();
    let taken = wait_until(Duration::from_secs(20), || async {
        list(&app, &key, "team=roads&assignee=none").await.len() == 39
    })
    .await;
    assert!(taken, "nobody took the next complaint");
    let c = complaint_json(&app, &key, &next).await;
    assert_eq!(c["assignee_id"].as_str(), Some(first.as_str()), "{c}");
    let open = list(&app, &key, &format!("assignee={first}&status=new")).await;
    assert_eq!(open.len(), 20);

    // Thirty urgent ones go round the duty officers: ten each.
    for i in 0..30 {
        file(
            &app,
            &key,
            &format!("Live wire fallen on the road, case {i}"),
            "urgent",
        )
        .await;
    }
    let spread = wait_until(Duration::from_secs(30), || async {
        let all = list(&app, &key, "team=duty").await;
        all.len() == 30 && per_member(&all).values().sum::<usize>() == 30
    })
    .await;
    let duty_loads = per_member(&list(&app, &key, "team=duty").await);
    if !spread {
        // What the route jobs of those left over say (once seen under the
        // whole suite's load on PostgreSQL: 29 of 30 within the wait).
        let mut left = Vec::new();
        for c in list(&app, &key, "priority=urgent&assignee=none").await {
            let route = format!("assign.route:{}", c["id"].as_str().unwrap());
            let job = app.store.job(&route).await.unwrap();
            left.push((
                c["number"].clone(),
                c["team"].clone(),
                job.map(|j| (j.state, j.attempts, j.last_error, j.due_at)),
            ));
        }
        panic!("{duty_loads:?}; left: {left:?}");
    }
    assert_eq!(duty_loads.len(), 3, "{duty_loads:?}");
    assert!(duty_loads.values().all(|&n| n == 10), "{duty_loads:?}");

    // The timeline says the rules did it.
    let events: Value = app
        .api(Method::GET, &format!("/complaints/{next}/events"), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lines: Vec<(String, String)> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("system:assignment".into(), "team_changed".into()))
            && lines.contains(&("system:assignment".into(), "assigned".into())),
        "{lines:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_names_the_area_and_its_field_staff_get_the_complaint() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("areas", "AREA", &graph).await;
    let tid = t.tenant.id.clone();
    let key = app.api_key(&tid, &[Scope::ComplaintsRead]).await;
    let run = ombud_core::id::new_id_body().to_lowercase();
    member(&app, &format!("admin-{run}@pune.gov.in"), &tid, Role::Admin).await;
    let admin = Staff::login(&app, &format!("admin-{run}@pune.gov.in")).await;
    let field = member(&app, &format!("field-{run}@pune.gov.in"), &tid, Role::Staff).await;
    let areas = json!({"areas": [
        {"slug": "kothrud", "names": {"en": "Kothrud", "mr": "कोथरूड"},
         "keywords": ["Karve Road"], "wards": ["31", "32"], "field_staff": [field.id]},
        {"slug": "aundh", "names": {"en": "Aundh", "mr": "औंध"}},
    ]});
    let (status, saved) = put_settings(&admin, "/settings/areas", areas.clone()).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["areas"][0], areas["areas"][0]);
    let (status, saved) = put_settings(
        &admin,
        "/settings/assignment",
        json!({"rules": [{"name": "Kothrud to its field staff", "area": "kothrud",
                          "assign_to": {"kind": "area_field_staff"}}]}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");

    // Tried first: a sample in ward 31 hits the rule and would go to the field worker.
    let res = session_api(&admin, Method::POST, "/settings/assignment/try")
        .await
        .json(&json!({"location": "प्रभाग क्र. ३१, पौड रस्ता"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tried: Value = res.json().await.unwrap();
    assert_eq!(tried["area"], "kothrud", "{tried}");
    assert_eq!(tried["outcome"], "team");
    assert_eq!(tried["rule_name"], "Kothrud to its field staff");
    assert_eq!(tried["user_id"], field.id.to_string());
    let res = session_api(&admin, Method::POST, "/settings/assignment/try")
        .await
        .json(&json!({"location": "Baner"}))
        .send()
        .await
        .unwrap();
    let tried: Value = res.json().await.unwrap();
    assert_eq!(tried["outcome"], "no_rule", "{tried}");
    assert_eq!(tried["area"], Value::Null);

    // Over WhatsApp: the location names ward 31.
    let number = crate::work::file_saying(
        &app,
        &t,
        &graph,
        "919800000071",
        [
            "The drain near the school is overflowing onto the road",
            "Ward 31, behind the bus depot",
            "yes",
        ],
    )
    .await;
    let assigned = wait_until(Duration::from_secs(20), || async {
        let c = complaint_json(&app, &key, &number).await;
        c["assignee_id"] == field.id.to_string()
    })
    .await;
    let c = complaint_json(&app, &key, &number).await;
    assert!(assigned, "{c}");
    assert_eq!(c["area"], "kothrud");
    assert_eq!(c["team"], "area:kothrud");

    // On the dashboard: the field worker's "My areas" holds it, the
    // admin's (no field work) does not; its page names the area and team.
    let worker = Staff::login(&app, &format!("field-{run}@pune.gov.in")).await;
    let mine = worker
        .get("/app/complaints?area=mine")
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains(&number), "{mine}");
    let theirs = admin
        .get("/app/complaints?area=mine")
        .await
        .text()
        .await
        .unwrap();
    assert!(!theirs.contains(&number), "{theirs}");
    let by_team = admin
        .get("/app/complaints?team=area%3Akothrud")
        .await
        .text()
        .await
        .unwrap();
    assert!(by_team.contains(&number), "{by_team}");
    let page = worker.page(&format!("/app/complaints/{number}")).await;
    assert!(
        page.contains("<dt>Area</dt><dd>Kothrud</dd>")
            && page.contains("<dt>Team</dt><dd>Kothrud</dd>"),
        "{page}"
    );

    // Staff may move it to another area of the catalogue, not outside it.
    let staff_key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), &staff_key)
        .json(&json!({"area": "baner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "area", "{body}");
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), &staff_key)
        .json(&json!({"area": "aundh"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_refused_with_the_field_named() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("rules", "RULE", &graph).await;
    let tid = t.tenant.id.clone();
    let run = ombud_core::id::new_id_body().to_lowercase();
    member(&app, &format!("admin-{run}@pune.gov.in"), &tid, Role::Admin).await;
    let admin = Staff::login(&app, &format!("admin-{run}@pune.gov.in")).await;
    let clerk = member(&app, &format!("clerk-{run}@pune.gov.in"), &tid, Role::Staff).await;
    let stranger = user(&app, &format!("stranger-{run}@pune.gov.in"), &[], false).await;

    let cases = [
        (
            "/settings/teams",
            json!({"teams": [{"slug": "Roads!", "name": "Roads", "members": []}]}),
            "teams[0].slug",
        ),
        (
            "/settings/teams",
            json!({"teams": [{"slug": "roads", "name": "Roads", "members": [stranger.id]}]}),
            "teams[0].members[0]",
        ),
        (
            "/settings/teams",
            json!({"teams": [{"slug": "roads", "name": "Roads", "members": [clerk.id], "capacity": 0}]}),
            "teams[0].capacity",
        ),
        (
            "/settings/teams",
            json!({"teams": [{"slug": "roads", "name": "Roads", "members": [clerk.id], "strategy": "random"}]}),
            "teams[0].strategy",
        ),
        (
            "/settings/areas",
            json!({"areas": [{"slug": "kothrud", "names": {}}]}),
            "areas[0].names",
        ),
        (
            "/settings/areas",
            json!({"areas": [{"slug": "kothrud", "names": {"en": "Kothrud"}, "wards": ["thirty"]}]}),
            "areas[0].wards[0]",
        ),
        (
            "/settings/assignment",
            json!({"rules": [{"name": "x", "assign_to": {"kind": "team", "team": "water"}}]}),
            "rules[0].assign_to.team",
        ),
        (
            "/settings/assignment",
            json!({"rules": [{"name": "x", "assign_to": {"kind": "member", "user_id": stranger.id}}]}),
            "rules[0].assign_to.user_id",
        ),
        (
            "/settings/assignment",
            json!({"rules": [{"name": "x", "area": "nowhere", "assign_to": {"kind": "area_field_staff"}}]}),
            "rules[0].area",
        ),
        (
            "/settings/assignment",
            json!({"rules": [{"name": "x", "assign_to": {"kind": "robot"}}]}),
            "rules[0].assign_to.kind",
        ),
    ];
    for (path, body, field) in cases {
        let (status, answer) = put_settings(&admin, path, body).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert_eq!(
            answer["error"]["fields"][0]["field"], field,
            "{path}: {answer}"
        );
    }

    // A team a rule uses cannot be taken out.
    let team = json!({"teams": [{"slug": "roads", "name": "Roads", "members": [clerk.id]}]});
    assert_eq!(put_settings(&admin, "/settings/teams", team).await.0, 200);
    let rules =
        json!({"rules": [{"name": "Roads", "assign_to": {"kind": "team", "team": "roads"}}]});
    assert_eq!(
        put_settings(&admin, "/settings/assignment", rules).await.0,
        200
    );
    let (status, answer) = put_settings(&admin, "/settings/teams", json!({"teams": []})).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "teams");

    // Staff read the settings; only admins change them.
    let clerk_session = Staff::login(&app, &format!("clerk-{run}@pune.gov.in")).await;
    let (status, _) = put_settings(&clerk_session, "/settings/teams", json!({"teams": []})).await;
    assert_eq!(status, 403);
    let res = session_api(&clerk_session, Method::GET, "/settings/teams")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_sends_the_complaint_to_the_policys_team_and_the_overview_counts_by_team() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("escalate", "ESC", &graph).await;
    let tid = t.tenant.id.clone();
    let key = app
        .api_key(&tid, &[Scope::ComplaintsRead, Scope::ComplaintsWrite])
        .await;
    let run = ombud_core::id::new_id_body().to_lowercase();
    let admin_mail = format!("admin-{run}@pune.gov.in");
    let admin_user = member(&app, &admin_mail, &tid, Role::Admin).await;
    let admin = Staff::login(&app, &admin_mail).await;
    let mut duty = Vec::new();
    for i in 0..2 {
        let email = format!("duty{i}-{run}@pune.gov.in");
        duty.push(member(&app, &email, &tid, Role::Staff).await.id.to_string());
    }
    let teams = json!({"teams": [{"slug": "duty", "name": "Duty officers", "members": duty}]});
    assert_eq!(put_settings(&admin, "/settings/teams", teams).await.0, 200);
    let policy = json!({"enabled": true, "policies": [{
        "name": "Answer within the hour", "first_response_minutes": 60,
        "escalate_to_team": "duty"}]});
    let (status, saved) = put_settings(&admin, "/settings/sla", policy).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["policies"][0]["escalate_to_team"], "duty");
    // Now the team cannot go: the policy names it.
    let (status, refused) = put_settings(&admin, "/settings/teams", json!({"teams": []})).await;
    assert_eq!(status, 422, "{refused}");

    let c = file_by_api(
        &app,
        &key,
        json!({"description": "Garbage not collected for a week"}),
    )
    .await;
    let number = c["number"].as_str().unwrap().to_owned();
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), &key)
        .json(&json!({"assignee_id": admin_user.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An hour and a minute later: missed. It is escalated, leaves the admin
    // and goes to the duty officers, one of whom takes it.
    app.pass(chrono::Duration::minutes(61)).await;
    let moved = wait_until(Duration::from_secs(20), || async {
        let c = complaint_json(&app, &key, &number).await;
        c["team"] == "duty"
            && c["assignee_id"]
                .as_str()
                .is_some_and(|a| duty.iter().any(|d| d == a))
    })
    .await;
    let c = complaint_json(&app, &key, &number).await;
    assert!(moved, "{c}");
    assert_eq!(c["status"], "escalated");
    assert_eq!(c["sla"]["state"], "breached");

    // The overview counts the miss against the team.
    let admin = Staff::login(&app, &admin_mail).await;
    let page = admin.get("/app/overview").await.text().await.unwrap();
    let by_team = page
        .split("<table id=\"sla-teams\">")
        .nth(1)
        .unwrap_or_default();
    assert!(
        by_team.contains("<td>Duty officers</td><td>0% of 1</td>"),
        "{page}"
    );
    app.stop().await;
}
