//! Logins that nobody can use to lock an owner out (issue 20, finding 7),
//! and rate limits for people: per session, per address, shared by every
//! server on one database.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Timelike;
use ombud_core::*;
use reqwest::{Method, StatusCode};

use crate::helpers::*;
use crate::staff::{member, Staff, PASSWORD};

/// A browser at `from` (any 127.x.y.z is this machine).
fn client_from(from: &str) -> reqwest::Client {
    let ip: IpAddr = from.parse().unwrap();
    reqwest::Client::builder()
        .local_address(Some(ip))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(app: &TestApp, from: &str, email: &str, password: &str) -> reqwest::Response {
    client_from(from)
        .post(app.url("/app/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_can_lock_the_owner_out_and_guessing_stays_slow() {
    let app = TestApp::spawn_with(|c| c.limits.login_max_delay_secs = 3, None).await;
    // The limits count in fixed windows (a quarter of an hour, an hour):
    // start just after an hour turns, so that no window ends midway (a
    // run across 19:30 once saw the address's 30 failures split in two).
    let now = app.engine.now();
    let next_hour = (now + chrono::Duration::hours(1))
        .with_minute(0)
        .and_then(|t| t.with_second(1))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    app.pass(next_hour - now).await;
    let graph = FakeGraph::start().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    for who in [
        "owner@pune.example",
        "ravi@pune.example",
        "mina@pune.example",
    ] {
        member(&app, who, &t.tenant.id, Role::Owner).await;
    }

    // The tester's attack: five wrong passwords from five addresses. The
    // owner, at their own address, is not locked out.
    for i in 2..=6 {
        let res = login(&app, &format!("127.0.1.{i}"), "owner@pune.example", "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login(&app, "127.0.0.1", "owner@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the owner gets in");

    // One address guessing one account: five tries, then that pair waits.
    for _ in 0..5 {
        let res = login(&app, "127.0.2.1", "ravi@pune.example", "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login(&app, "127.0.2.1", "ravi@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let res = login(&app, "127.0.0.1", "ravi@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "ravi, from elsewhere");

    // One address spraying many accounts: 30 failures, then it waits.
    for i in 0..30 {
        let res = login(&app, "127.0.3.1", &format!("x{i}@pune.example"), "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "try {i}");
    }
    let res = login(&app, "127.0.3.1", "mina@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // Many addresses guessing one account: past ten failures in the hour each
    // try waits after the last failure, longer each time (here at most 3 s);
    // a try too soon is refused, with how long to wait.
    let waits = |res: &reqwest::Response| -> u64 {
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (mut failures, mut held_back) = (0, 0);
    let mut address = 0;
    while failures < 13 {
        address += 1;
        let res = login(
            &app,
            &format!("127.0.4.{address}"),
            "mina@pune.example",
            "guess",
        )
        .await;
        match res.status() {
            StatusCode::UNAUTHORIZED => failures += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                held_back += 1;
                let wait = waits(&res);
                assert!((1..=3).contains(&wait), "{wait}");
                assert!(failures >= 10, "held back after only {failures}");
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            other => panic!("{other}"),
        }
    }
    assert!(held_back >= 2, "{held_back}");
    // The owner, right after: waits at most the longest delay, then gets in.
    let res = login(&app, "127.0.0.1", "mina@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = waits(&res);
    assert!((1..=3).contains(&wait), "{wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let res = login(&app, "127.0.0.1", "mina@pune.example", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "after the wait");
    app.stop().await;
}

/// Waits, if need be, so that the next few seconds stay in one minute's
/// window (the limits count in fixed windows of a minute).
async fn early_in_a_minute() {
    let second = chrono::Utc::now().second();
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(u64::from(61 - second))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_addresses_have_limits_with_ratelimit_headers() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(
        |c| {
            c.limits.per_session_per_minute = 15;
            c.limits.per_address_per_minute = 10;
        },
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    early_in_a_minute().await;

    // A session: pages and API calls count together.
    let mut ok = 0;
    let mut refused = None;
    for i in 0..20 {
        let res = if i % 2 == 0 {
            admin.get("/app/complaints").await
        } else {
            admin
                .request(Method::GET, "/api/v1/me")
                .send()
                .await
                .unwrap()
        };
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res);
            break;
        }
        assert!(res.headers().contains_key("ratelimit-remaining"), "{i}");
        ok += 1;
    }
    // The login itself was one request of the address, not of the session.
    assert_eq!(ok, 15);
    let refused = refused.expect("a 429");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");

    // An address without a session or key: the docs, the login page.
    let stranger = client_from("127.0.5.1");
    let mut ok = 0;
    for _ in 0..12 {
        let res = stranger.get(app.url("/openapi.json")).send().await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(res.headers()["ratelimit-limit"], "10");
        ok += 1;
    }
    assert_eq!(ok, 10);
    // A cookie that is no session is counted by its address too.
    let res = stranger
        .get(app.url("/app/complaints"))
        .header("cookie", "ombud_session=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = stranger
        .get(app.url("/api/v1/me"))
        .bearer_auth("ombud_made_up")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // Meta's signed webhooks and the probes are not people: not limited.
    let webhooks = client_from("127.0.5.1");
    for i in 0..15 {
        let res = webhooks.get(app.url("/health/live")).send().await.unwrap();
        assert_eq!(res.status(), 200, "probe {i}");
    }
    for i in 0..15 {
        app.say(&t, &format!("9198000000{i:02}"), "hello").await;
    }
    app.stop().await;
}

/// A key's limit holds across every server on the database: on PostgreSQL
/// two replicas, on SQLite its one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_limit_is_shared_by_the_servers_of_one_database() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let (key, _) = app
        .api_key_limited(&t.tenant.id, "erp", &[Scope::ComplaintsRead], 10)
        .await;
    let mut bases = vec![app.url("")];
    let mut second = None;
    if app.db.is_postgres() {
        let config = test_config(&app.db);
        let replica = ombud::App::build(&config, ombud::AppOptions::default())
            .await
            .unwrap();
        bases.push(format!("http://{}", replica.addr()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        second = Some((
            tx,
            tokio::spawn(replica.run(async {
                let _ = rx.await;
            })),
        ));
    }
    early_in_a_minute().await;
    let mut accepted = 0;
    for i in 0..12 {
        let base = &bases[i % bases.len()];
        let res = app
            .http
            .get(format!("{base}/api/v1/complaints"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(accepted, 10, "over {} server(s)", bases.len());
    if let Some((tx, done)) = second {
        let _ = tx.send(());
        done.await.unwrap().unwrap();
    }
    app.stop().await;
}
