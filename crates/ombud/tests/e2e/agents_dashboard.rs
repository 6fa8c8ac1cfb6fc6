//! The dashboard's Agents pages: adding an agent, saving versions, deploying
//! and rolling back, and the runs; admins only.

use serde_json::json;

use crate::agents::{llm_config, version, LlmSetup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_deploy_from_the_dashboard_and_see_the_runs_and_staff_cannot() {
    use crate::staff::{location, member, Staff};
    use ombud_core::Role;
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|_| {}).await;
    let v1 = version(&app, &key, &id, llm_config(&llm, "m1")).await;
    let v1_id = v1["id"].as_str().unwrap();
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    member(&app, "staff@pune.example", &t.tenant.id, Role::Staff).await;
    let admin = Staff::login(&app, "admin@pune.example").await;

    let page = admin.get("/app/agents").await.text().await.unwrap();
    assert!(page.contains("Runs <strong>intake v1</strong>"), "{page}");
    assert!(
        page.contains(&format!("<option value=\"{v1_id}\">assistant v1</option>")),
        "{page}"
    );
    let channel = t.channel.id.to_string();
    let res = admin
        .submit(
            "/app/agents/deploy",
            &[("channel_id", &channel), ("version_id", v1_id)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with("/app/agents?notice="), "{back}");
    let page = admin.get(&back).await.text().await.unwrap();
    assert!(
        page.contains("assistant v1 answers the next message on this channel."),
        "{page}"
    );
    assert!(
        page.contains("Runs <strong>assistant v1</strong>"),
        "{page}"
    );
    let history = app
        .store
        .deployments(&t.tenant.id, &t.channel.id, 5)
        .await
        .unwrap();
    assert!(history[0].actor.starts_with("user:usr_"), "{history:?}");
    assert!(
        page.contains("<td>admin</td>"),
        "the deployer by name: {page}"
    );

    app.say(&t, "919800000001", "hello").await;
    assert_eq!(
        graph.wait_for_reply_to("919800000001", 1).await[0],
        "Hello from m1."
    );
    let page = admin
        .get(&format!("/app/agents/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<td>v1</td><td>ok</td>"), "{page}");
    assert!(
        page.contains("api_key_sealed") && !page.contains("sk-test-123"),
        "{page}"
    );

    // A version that is not the tenant's, or nonsense, deploys nothing.
    let res = admin
        .submit(
            "/app/agents/deploy",
            &[
                ("channel_id", &channel),
                ("version_id", "agv_01JD8Y3M6V4ZB2T9W0XK5Q7R1C"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .submit(
            "/app/agents/deploy",
            &[("channel_id", "nonsense"), ("version_id", v1_id)],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.store
            .deployments(&t.tenant.id, &t.channel.id, 5)
            .await
            .unwrap()
            .len(),
        2,
        "the channel's first deployment and the one above"
    );

    // A new agent and its first version from the forms, checked as the API checks.
    let res = admin
        .submit("/app/agents/new", &[("name", "helper"), ("kind", "llm")])
        .await;
    assert_eq!(res.status(), 303);
    let helper_page = location(&res);
    let page = admin.get(&helper_page).await.text().await.unwrap();
    assert!(
        page.contains("&#34;base_url&#34;"),
        "a skeleton to start from: {page}"
    );
    let res = admin
        .submit("/app/agents/new", &[("name", "helper"), ("kind", "llm")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("exists already"));
    let save = format!("{helper_page}/versions");
    let res = admin.submit(&save, &[("config", "{not json")]).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("config: not JSON") && page.contains("{not json"),
        "kept as typed: {page}"
    );
    let bad = json!({"base_url": llm.base_url(), "model": "m", "temperature": 9}).to_string();
    let res = admin.submit(&save, &[("config", &bad)]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("config.temperature"));
    let good = llm_config(&llm, "m9").to_string();
    let res = admin
        .submit(&save, &[("config", &good), ("changelog", "from the form")])
        .await;
    assert_eq!(res.status(), 303);
    let page = admin.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Saved helper v1."), "{page}");
    assert!(
        page.contains("from the form") && !page.contains("sk-test-123"),
        "{page}"
    );

    let staff = Staff::login(&app, "staff@pune.example").await;
    assert_eq!(
        staff
            .submit("/app/agents/new", &[("name", "x"), ("kind", "llm")])
            .await
            .status(),
        403
    );
    assert_eq!(staff.submit(&save, &[("config", "{}")]).await.status(), 403);
    assert_eq!(staff.get("/app/agents").await.status(), 403);
    assert_eq!(staff.get(&format!("/app/agents/{id}")).await.status(), 403);
    let res = staff
        .submit(
            "/app/agents/deploy",
            &[("channel_id", &channel), ("version_id", v1_id)],
        )
        .await;
    assert_eq!(res.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_try_a_version_in_the_test_panel_and_see_each_runs_tools_latency_and_tokens() {
    use crate::staff::{location, member, Staff};
    use ombud_core::Role;
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|_| {}).await;
    version(&app, &key, &id, llm_config(&llm, "m1")).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;

    let page = admin
        .get(&format!("/app/agents/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let start = format!("/app/agents/{id}/versions/1/test");
    assert!(
        page.contains(&format!("action=\"{start}\"")) && page.contains("Try assistant v1"),
        "{page}"
    );
    let res = admin.submit(&start, &[]).await;
    assert_eq!(res.status(), 303);
    let chat = location(&res);
    assert!(chat.starts_with("/app/test-chats/tch_"), "{chat}");
    let page = admin.get(&chat).await.text().await.unwrap();
    assert!(page.contains("Test panel: assistant v1"), "{page}");

    let res = admin
        .submit(&chat, &[("text", "There is a big pothole near the school")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("#turn-1"), "{}", location(&res));
    let page = admin.get(&chat).await.text().await.unwrap();
    assert!(page.contains("Your complaint is registered."), "{page}");
    assert!(
        page.contains("<summary>create_complaint</summary>")
            && page.contains(" ms · tokens in ")
            && page.contains("out 24"),
        "the run's tools, latency and tokens: {page}"
    );
    assert!(page.contains("<strong>TEST-"), "the test complaint: {page}");
    // A blank message is refused on the page, with nothing run.
    let res = admin.submit(&chat, &[("text", "   ")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("must be 1 to 4096"));
    // The agent's page lists the chat.
    let page = admin
        .get(&format!("/app/agents/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("href=\"{chat}\"")) && page.contains("v1 · 1 message · "),
        "{page}"
    );
    assert!(graph.requests().is_empty(), "nothing reached the channel");
    assert!(app
        .store
        .complaints(&t.tenant.id, 5)
        .await
        .unwrap()
        .is_empty());

    // Another tenant's admin finds neither the chat nor the version to try.
    let n = app.tenant("nashik", "NASIK", &graph).await;
    member(&app, "admin@nashik.example", &n.tenant.id, Role::Admin).await;
    let theirs = Staff::login(&app, "admin@nashik.example").await;
    assert_eq!(theirs.get(&chat).await.status(), 404);
    assert_eq!(theirs.submit(&chat, &[("text", "hi")]).await.status(), 404);
    assert_eq!(theirs.submit(&start, &[]).await.status(), 404);
    let chats = app
        .store
        .test_chats(&t.tenant.id, &id.parse().unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(chats[0].turns, 1, "their message was not run");
    app.stop().await;
}
