//! Settings and the first-run guide: categories, connecting a WhatsApp number
//! (and Meta's verification of its webhook), a test message, the team step.

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_guide_resumes_where_it_was_left_and_finishes() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    // A tenant without a channel yet.
    let (tenant, _) = ombud_engine::provision::create_tenant(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        ombud_store::NewTenant {
            id: ombud_core::TenantId::new(),
            slug: TenantSlug::parse("pune").unwrap(),
            name: "pune office".into(),
            complaint_prefix: ComplaintPrefix::parse("PUNE").unwrap(),
            default_language: Language::en(),
            timezone: TimeZoneName::parse("Asia/Kolkata").unwrap(),
        },
        true,
    )
    .await
    .unwrap();
    member(&app, "owner@pune.gov.in", &tenant.id, Role::Owner).await;
    member(&app, "staff@pune.gov.in", &tenant.id, Role::Staff).await;
    let owner = Staff::login(&app, "owner@pune.gov.in").await;

    let list = owner.get("/app/complaints").await.text().await.unwrap();
    assert!(list.contains("5 of 5 steps left"), "admins are reminded");
    let page = owner.get("/app/welcome").await.text().await.unwrap();
    assert!(page.contains("0 of 5 done") && page.contains("Let's start"));
    owner.submit("/app/welcome/welcome", &[]).await;
    let page = owner.get("/app/welcome").await.text().await.unwrap();
    assert!(page.contains("Check your complaint categories") && page.contains("Street lights"));
    owner.submit("/app/welcome/categories", &[]).await;

    // Connect a channel from the guide: mistakes named, then connected.
    let res = owner
        .submit(
            "/app/settings/channels",
            &[
                ("name", "WhatsApp"),
                ("phone_number_id", "abc"),
                ("next", "welcome"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("digits only") && page.contains("is needed; Meta"),
        "{page}"
    );
    let res = owner
        .submit(
            "/app/settings/channels",
            &[
                ("name", "WhatsApp"),
                ("phone_number_id", "106540352242922"),
                ("app_secret", "pune-app-secret"),
                ("access_token", "pune-access"),
                ("verify_token", "pune-verify-phrase"),
                ("graph_url", &graph.url()),
                ("next", "welcome"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/app/welcome");

    // A new session finds the guide where it was: at the test message, with
    // what to paste into Meta's console. The list's banner counts the same
    // steps as the guide, before the guide is opened again.
    let again = Staff::login(&app, "owner@pune.gov.in").await;
    let list = again.get("/app/complaints").await.text().await.unwrap();
    assert!(list.contains("2 of 5 steps left"), "{list}");
    let page = again.get("/app/welcome").await.text().await.unwrap();
    assert!(page.contains("3 of 5 done"), "{page}");
    assert!(page.contains("Send a test message"));
    let channel = app.store.channels(&tenant.id).await.unwrap().remove(0);
    let url = format!("http://{}{}", app.addr, channel.webhook_path());
    assert!(
        page.contains(&url) && page.contains("pune-verify-phrase"),
        "{page}"
    );
    // Meta's verification of that callback URL works with that token.
    let res = app
        .http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=pune-verify-phrase&hub.challenge=1158201444"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "1158201444");

    // The first message arrives: that step is done by itself.
    let t = TestTenant {
        tenant: tenant.clone(),
        channel,
        app_secret: "pune-app-secret".into(),
    };
    app.say(&t, "919800000001", "hello").await;
    graph.wait_for_reply_to("919800000001", 1).await;
    let page = again.get("/app/welcome").await.text().await.unwrap();
    assert!(
        page.contains("4 of 5 done") && page.contains("Invite your team"),
        "{page}"
    );
    again.submit("/app/welcome/team", &[]).await;
    let page = again.get("/app/welcome").await.text().await.unwrap();
    assert!(page.contains("5 of 5 done") && page.contains("id=\"all-set\""));
    let list = again.get("/app/complaints").await.text().await.unwrap();
    assert!(!list.contains("steps left"));

    // Only admins and owners set up.
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    assert_eq!(
        staff.get("/app/welcome").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.get("/app/settings").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.submit("/app/welcome/team", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_are_added_and_edited_with_errors_next_to_fields() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NASIK", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;

    let res = admin
        .submit(
            "/app/settings/categories",
            &[("name_en", ""), ("keywords", "drain"), ("priority", "asap")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("give at least the English name") && page.contains("is not one of low"));
    let res = admin
        .submit(
            "/app/settings/categories",
            &[
                ("name_en", "Drains"),
                ("name_mr", "गटारे"),
                ("keywords", "Drain, gutter , sewer"),
                ("priority", "high"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let drains = app
        .store
        .categories(&t.tenant.id)
        .await
        .unwrap()
        .iter()
        .find(|c| c.slug == "drains")
        .cloned()
        .unwrap();
    assert_eq!(drains.keywords, ["drain", "gutter", "sewer"]);
    assert_eq!(drains.default_priority, Priority::High);
    let res = admin
        .submit(
            "/app/settings/categories",
            &[("name_en", "Drains!"), ("priority", "normal")],
        )
        .await;
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("a category with this name exists already"));

    let res = admin
        .submit(
            &format!("/app/settings/categories/{}", drains.id),
            &[
                ("name_en", "Drains and sewers"),
                ("keywords", "drain"),
                ("priority", "urgent"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/app/settings/categories?saved=category");
    // The table lists it by name; its drawer has the form with its values.
    let page = admin
        .get("/app/settings/categories?saved=category")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<td>Drains and sewers</td>") && page.contains("Category saved"));
    let drawer = admin
        .get(&format!("/app/settings/categories?edit={}", drains.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        drawer.contains(r#"class="drawer""#) && drawer.contains("value=\"Drains and sewers\""),
        "{drawer}"
    );
    // Another tenant's category cannot be edited from here.
    let theirs = app.store.categories(&other.tenant.id).await.unwrap()[0]
        .id
        .clone();
    let res = admin
        .submit(
            &format!("/app/settings/categories/{theirs}"),
            &[("name_en", "Mine now"), ("priority", "low")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_ne!(
        app.store.categories(&other.tenant.id).await.unwrap()[0].names["en"],
        "Mine now"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_connect_a_telegram_bot_and_add_a_web_chat_from_settings() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;
    let token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345";

    // Refusals name the field, under the kind's own form.
    let res = admin
        .submit(
            "/app/settings/channels/telegram",
            &[
                ("name", "Bot"),
                ("bot_token", "nonsense"),
                ("secret_token", "s"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("must be a bot token from @BotFather"),
        "{page}"
    );
    let res = admin
        .submit(
            "/app/settings/channels/webchat",
            &[("name", "Site"), ("allowed_origins", "pune.example/path")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("is not an origin"));

    let res = admin
        .submit(
            "/app/settings/channels/telegram",
            &[
                ("name", "Bot"),
                ("bot_token", token),
                ("secret_token", "tg_secret-1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = admin
        .submit(
            "/app/settings/channels/telegram",
            &[
                ("name", "Bot again"),
                ("bot_token", token),
                ("secret_token", "x"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "one channel per bot"
    );
    assert!(res.text().await.unwrap().contains("already connected"));
    let res = admin
        .submit(
            "/app/settings/channels/webchat",
            &[
                ("name", "Pune office"),
                (
                    "allowed_origins",
                    "https://pune.example\nhttps://www.pune.example/",
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let channels = app.store.channels(&t.tenant.id).await.unwrap();
    let kinds: Vec<&str> = channels.iter().map(|c| c.kind().as_str()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let bot = channels.iter().find_map(|c| c.telegram()).unwrap();
    assert_eq!(bot.secret_token.expose(), "tg_secret-1");
    let web = channels.iter().find(|c| c.webchat().is_some()).unwrap();
    assert_eq!(
        web.webchat().unwrap().allowed_origins,
        ["https://pune.example", "https://www.pune.example"]
    );
    let page = admin
        .get("/app/settings/channels")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/channels/webchat/{}/widget.js", web.id))
            && page.contains("&#60;script src=&#34;http")
            && page.contains("tg_secret-1")
            && !page.contains(token),
        "what to paste where, never the bot token: {page}"
    );
    app.stop().await;
}
