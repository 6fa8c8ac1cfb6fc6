//! The headers the tester found missing (issue 20, finding 8): pages that
//! show a secret once are not cached, the API docs page has a policy and
//! cannot be framed, the reflected `hub.challenge` is not sniffed, and the
//! bearer scheme is read in any case.

use ombud_core::*;
use reqwest::{Method, StatusCode};

use crate::api::call;
use crate::helpers::*;
use crate::staff::{member, Staff};

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_not_cached_docs_are_not_framed_and_nothing_is_sniffed() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;

    // A new key is shown once: that page is not to be stored anywhere.
    let res = admin
        .submit(
            "/app/developers/keys",
            &[("name", "crm"), ("scope", "complaints:read")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert!(res.text().await.unwrap().contains("ombud_"));
    // So are the API's answers, which carry people's words.
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let res = app
        .api(Method::GET, "/complaints", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "cache-control"), "no-store");
    // Static assets keep their own caching.
    let res = app
        .http
        .get(app.url("/app/static/app.css"))
        .send()
        .await
        .unwrap();
    assert!(
        header(&res, "cache-control").starts_with("public"),
        "{:?}",
        res.headers()
    );
    // The palette's stylesheet, made from the palette the charts use.
    let res = app
        .http
        .get(app.url("/app/static/palette.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "content-type"), "text/css; charset=utf-8");
    let css = res.text().await.unwrap();
    assert!(
        css.contains(".status-in_progress {") && css.contains(".priority-urgent {"),
        "{css}"
    );
    // An icon, also where browsers look for one unasked.
    for path in ["/app/static/favicon.svg", "/favicon.ico"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), "image/svg+xml", "{path}");
    }

    // The API docs: a policy, and no framing by other sites. Only Swagger
    // UI may style itself inline.
    for (path, inline_styles) in [("/docs/", false), ("/docs/try/", true)] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = header(&res, "content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(
            csp.contains("'unsafe-inline'"),
            inline_styles,
            "{path}: {csp}"
        );
        assert_eq!(header(&res, "x-frame-options"), "DENY");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    }

    // Meta's verification echoes the challenge as text, never to be sniffed.
    let res = app
        .http
        .get(app.url(&format!(
            "/channels/whatsapp/{}/webhook?hub.mode=subscribe&hub.verify_token=pune-verify&hub.challenge=%3Cscript%3Ealert(1)%3C/script%3E",
            t.channel.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(header(&res, "content-type").starts_with("text/plain"));

    // `bearer` is the same scheme as `Bearer`.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, body) = call(
            app.http
                .get(app.url("/api/v1/me"))
                .header("authorization", format!("{scheme} {key}")),
        )
        .await;
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let (status, _) = call(
        app.http
            .get(app.url("/api/v1/me"))
            .header("authorization", format!("Basic {key}")),
    )
    .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_compressed_and_pages_never_repeat_their_csrf_token() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let plain = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    let plain_len = plain.bytes().await.unwrap().len();
    for encoding in ["gzip", "br"] {
        let res = app
            .http
            .get(app.url("/openapi.json"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&res, "content-encoding"), encoding);
        let packed = res.bytes().await.unwrap().len();
        assert!(
            packed * 4 < plain_len,
            "{encoding}: {packed} of {plain_len}"
        );
    }
    // A dashboard page too; a small answer is sent as it is.
    let page = admin
        .request(Method::GET, "/app/complaints")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&page, "content-encoding"), "gzip");
    let live = app
        .http
        .get(app.url("/health/live"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&live, "content-encoding"), "");
    // The CSRF token a page carries differs each time, and each one works.
    let (a, b) = (admin.csrf_token().await, admin.csrf_token().await);
    assert_ne!(a, b);
    for token in [a, b] {
        let res = admin
            .request(Method::POST, "/api/v1/complaints")
            .header("x-csrf-token", token)
            .json(&serde_json::json!({"description": "A broken bench in the park"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    app.stop().await;
}
