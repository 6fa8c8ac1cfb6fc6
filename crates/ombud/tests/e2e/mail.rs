//! Mail, against a real SMTP server (aiosmtpd, which scripts/test starts and
//! names in `OMBUD_TEST_SMTP`, keeping what it takes in the maildir
//! `OMBUD_TEST_SMTP_MAILDIR`): invitations are mailed, a forgotten password
//! is reset by a mailed link once and within the hour, an unknown address
//! gets the same page and no mail, and without SMTP the pages say so.

use std::time::Duration;

use reqwest::StatusCode;

use crate::fake_graph::FakeGraph;
use crate::helpers::*;
use crate::staff::{location, member, Staff, PASSWORD};
use ombud::Config;
use ombud_core::Role;

/// Sends the server's mail to the tests' SMTP server.
pub fn with_smtp(c: &mut Config) {
    let server = std::env::var("OMBUD_TEST_SMTP").expect(
        "OMBUD_TEST_SMTP is not set: scripts/test starts an SMTP server (scripts/smtp) and sets it",
    );
    let (host, port) = server.rsplit_once(':').expect("host:port");
    c.smtp.host = Some(host.into());
    c.smtp.port = port.parse().expect("a port");
    c.smtp.security = "none".into();
    c.smtp.from = "Ombud <ombud@pune.gov.in>".into();
}

/// The same over TLS, trusting the tests' private CA when `trust`:
/// `starttls` on the server's port, or `tls` (implicit, as on port 465) on
/// its SMTPS listener (`OMBUD_TEST_SMTPS`).
pub fn with_smtp_tls(security: &'static str, trust: bool) -> impl FnOnce(&mut Config) {
    move |c| {
        with_smtp(c);
        c.smtp.security = security.into();
        if security == "tls" {
            let server = std::env::var("OMBUD_TEST_SMTPS").expect(
                "OMBUD_TEST_SMTPS is not set: scripts/smtp starts an SMTPS listener and scripts/test sets it",
            );
            let (host, port) = server.rsplit_once(':').expect("host:port");
            c.smtp.host = Some(host.into());
            c.smtp.port = port.parse().expect("a port");
        }
        if trust {
            c.smtp.ca_file = Some(
                std::env::var("OMBUD_TEST_SMTP_CA")
                    .expect("OMBUD_TEST_SMTP_CA (scripts/test sets it)")
                    .into(),
            );
        }
    }
}

/// A mail the SMTP server took.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

/// Quoted-printable, as lettre writes long lines.
fn unquote(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..(i + 3).min(joined.len())], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// A header's RFC 2047 encoded words (`=?utf-8?b?…?=`), as lettre writes a
/// subject that is not ASCII, decoded; the space between two of them goes.
fn decode_words(value: &str) -> String {
    use base64::Engine;
    let adjacent = regex::Regex::new(r"\?=\s+=\?").unwrap();
    let value = adjacent.replace_all(value, "?==?");
    let word = regex::Regex::new(r"=\?(?i:utf-8)\?([bBqQ])\?([^?]*)\?=").unwrap();
    word.replace_all(&value, |c: &regex::Captures| {
        let bytes = if c[1].eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(&c[2])
                .unwrap_or_default()
        } else {
            unquote(&c[2].replace('_', " ")).into_bytes()
        };
        String::from_utf8_lossy(&bytes).into_owned()
    })
    .into_owned()
}

fn parse(raw: &str) -> Received {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""));
    // Folded header lines (starting with a space) continue the one before.
    let unfolded = head.replace("\r\n ", " ").replace("\n ", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| decode_words(v.trim()))
            })
            .unwrap_or_default()
    };
    let encoding = header("Content-Transfer-Encoding");
    let body = if encoding.eq_ignore_ascii_case("quoted-printable") {
        unquote(body)
    } else if encoding.eq_ignore_ascii_case("base64") {
        use base64::Engine;
        let joined: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    } else {
        body.replace("\r\n", "\n")
    };
    Received {
        to: header("To"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        body,
    }
}

/// Every mail in the maildir addressed to `to`.
pub fn mail_to(to: &str) -> Vec<Received> {
    let dir = std::env::var("OMBUD_TEST_SMTP_MAILDIR").expect("OMBUD_TEST_SMTP_MAILDIR");
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(std::path::Path::new(&dir).join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
            let mail = parse(&raw);
            if mail.to.to_lowercase().contains(&to.to_lowercase()) {
                found.push(mail);
            }
        }
    }
    found
}

/// Waits until `n` mails to `to` have arrived.
pub async fn wait_for_mail(to: &str, n: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = mail_to(to);
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} mail(s) to {to} arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The first link to this server in a mail's body.
fn link(app: &TestApp, body: &str) -> String {
    let base = format!("http://{}", app.addr);
    let at = body
        .find(&base)
        .unwrap_or_else(|| panic!("no link in {body}"));
    body[at + base.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}@pune.gov.in",
        ombud_core::id::new_id_body().to_lowercase()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_mailed_with_a_link_that_works() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let admin_email = unique("admin");
    member(&app, &admin_email, &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, &admin_email).await;
    let meera = unique("meera");
    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", &meera), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("is on its way to"), "the admin is told");
    let mail = wait_for_mail(&meera, 1).await;
    let mail = &mail[0];
    assert!(mail.subject.contains("pune office"), "{mail:?}");
    assert!(mail.body.contains("as staff"), "{}", mail.body);
    assert!(
        mail.message_id.starts_with("<job_") && mail.message_id.ends_with("@ombud>"),
        "the same on every attempt: {}",
        mail.message_id
    );
    let path = link(&app, &mail.body);
    assert!(path.starts_with("/app/invite/"), "{path}");
    // The mailed link is the one the admin was shown.
    assert!(page.contains(&path), "one link");
    let join = Staff::new(&app).get(&path).await;
    assert_eq!(join.status(), StatusCode::OK);
    assert!(join.text().await.unwrap().contains(&meera));
    app.stop().await;
}

/// STARTTLS is required and the server's certificate checked: a server the
/// private CA vouches for gets the mail; without trusting that CA, the send
/// fails on the certificate and nothing goes in plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_starttls_or_tls_only_to_a_server_whose_certificate_is_trusted() {
    let graph = FakeGraph::start().await;
    let modes = [
        ("starttls", true),
        ("starttls", false),
        ("tls", true),
        ("tls", false),
    ];
    for (security, trust) in modes {
        let app = TestApp::spawn_with(with_smtp_tls(security, trust), None).await;
        let t = app.tenant("pune", "PUNE", &graph).await;
        let admin_email = unique("admin");
        member(&app, &admin_email, &t.tenant.id, Role::Admin).await;
        let admin = Staff::login(&app, &admin_email).await;
        let meera = unique("meera");
        admin
            .submit(
                "/app/team/invitations",
                &[("email", &meera), ("role", "staff")],
            )
            .await;
        if trust {
            let mail = wait_for_mail(&meera, 1).await;
            assert!(mail[0].body.contains("/app/invite/"), "{security}");
        } else {
            let invitation = app.store.open_invitations(&t.tenant.id).await.unwrap()[0]
                .id
                .clone();
            let key = format!("mail:{invitation}");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            let error = loop {
                let job = app.store.job(&key).await.unwrap().expect("its mail job");
                // (Before each send the job notes that it is sending.)
                match job.last_error {
                    Some(e) if e != ombud_engine::mail::SENDING => break e,
                    _ => {}
                }
                assert!(tokio::time::Instant::now() < deadline, "no attempt");
                tokio::time::sleep(Duration::from_millis(25)).await;
            };
            assert!(
                error.to_lowercase().contains("certificate"),
                "{security}: {error}"
            );
            assert!(mail_to(&meera).is_empty(), "nothing sent in the clear");
        }
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_by_a_mailed_link_once_within_the_hour() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let asha = unique("asha");
    member(&app, &asha, &t.tenant.id, Role::Staff).await;
    let elsewhere = Staff::login(&app, &asha).await;

    let visitor = Staff::new(&app);
    let login = visitor.get("/app/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/app/forgot\""));
    let ask = |email: String| {
        let visitor = &visitor;
        async move {
            let res = visitor.post_form("/app/forgot", &[("email", &email)]).await;
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap()
        }
    };
    let said = ask(asha.to_uppercase()).await;
    assert!(said.contains("Check your email"), "{said}");
    // An address with no account: the same page, and no mail.
    let nobody = unique("nobody");
    let said_nobody = ask(nobody.clone()).await;
    assert_eq!(
        said_nobody.replace(&nobody, "X"),
        said.replace(&asha, "X"),
        "the same answer"
    );
    let bad = visitor
        .post_form("/app/forgot", &[("email", "not an address")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let mail = wait_for_mail(&asha, 1).await;
    assert!(mail[0].subject.contains("new password"), "{:?}", mail[0]);
    let path = link(&app, &mail[0].body);
    assert!(path.starts_with("/app/reset/"), "{path}");
    // Only the hash is kept: the token is not in the database.
    let token = path.rsplit('/').next().unwrap();
    assert!(app.store.password_reset(token).await.unwrap().is_none());

    let page = visitor.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.headers()["referrer-policy"],
        "no-referrer",
        "the token does not leak"
    );
    // Checked like any new password.
    let res = visitor
        .post_form(&path, &[("new", "short"), ("confirm", "short")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new = "a fresh and long passphrase";
    let res = visitor
        .post_form(&path, &[("new", new), ("confirm", new)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/app/login?reset=1");
    // Once.
    assert_eq!(visitor.get(&path).await.status(), StatusCode::GONE);
    let res = visitor
        .post_form(
            &path,
            &[
                ("new", "yet another passphrase"),
                ("confirm", "yet another passphrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    // The other session has ended; the new password works, the old does not.
    assert_eq!(
        elsewhere.get("/app/account").await.status(),
        StatusCode::SEE_OTHER,
        "signed out everywhere"
    );
    let mut again = Staff::new(&app);
    assert_eq!(
        again.login_as(&asha, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.login_as(&asha, new).await.status(),
        StatusCode::SEE_OTHER
    );
    let trail = app.store.audit_chain(&t.tenant.id, 0, 1000).await.unwrap();
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e.entry.action.as_str())
        .filter(|a| a.starts_with("password."))
        .collect();
    assert_eq!(
        actions,
        ["password.reset_requested", "password.reset_by_link"]
    );

    // A second link, used an hour and a minute later: expired.
    ask(asha.clone()).await;
    let mail = wait_for_mail(&asha, 2).await;
    let second = mail
        .iter()
        .map(|m| link(&app, &m.body))
        .find(|p| p != &path)
        .expect("a second link");
    app.pass(chrono::Duration::minutes(61)).await;
    assert_eq!(visitor.get(&second).await.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_links_an_hour_at_most_and_none_without_smtp() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let ravi = unique("ravi");
    member(&app, &ravi, &t.tenant.id, Role::Staff).await;
    let visitor = Staff::new(&app);
    for _ in 0..5 {
        let res = visitor.post_form("/app/forgot", &[("email", &ravi)]).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let limit = ombud_core::account::PASSWORD_RESETS_PER_HOUR;
    wait_for_mail(&ravi, limit as usize).await;
    // The rest were never made, so never mailed.
    let user = app
        .store
        .user_by_email(&ombud_core::Email::parse(&ravi).unwrap())
        .await
        .unwrap()
        .unwrap();
    let made = app
        .store
        .password_resets_since(&user.id, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(made, limit);
    app.stop().await;

    // No SMTP: the pages say so, and invitations are links to hand over.
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let admin_email = unique("admin");
    member(&app, &admin_email, &t.tenant.id, Role::Admin).await;
    let forgot = Staff::new(&app)
        .get("/app/forgot")
        .await
        .text()
        .await
        .unwrap();
    assert!(forgot.contains("Email is off on this server"), "{forgot}");
    let admin = Staff::login(&app, &admin_email).await;
    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", &unique("meera")), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Email is off on this server"), "{page}");
    app.stop().await;
}
