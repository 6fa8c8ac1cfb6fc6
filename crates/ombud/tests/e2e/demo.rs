//! The README's first command: `ombud demo` prints a signed request that works as
//! printed, and the reply shows up in its output.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = line.find(start)? + start.len();
    let to = line[from..].find(end)? + from;
    Some(&line[from..to])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_curl_works_as_printed() {
    let db = crate::helpers::TestDb::new().await;
    let port = crate::helpers::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ombud"))
        .arg("demo")
        .envs(db.env())
        .env("OMBUD_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |rx: &mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("demo output")
    };

    let (mut url, mut signature, mut body) = (None, None, None);
    let mut login = None;
    let mut site = None;
    while body.is_none() {
        let line = next(&rx);
        if line.contains("web chat:") {
            site = between(&line, "web chat: ", " ").map(str::to_owned);
        } else if line.contains("dashboard:") {
            login = Some((
                between(&line, "dashboard: ", " ").unwrap().to_owned(),
                between(&line, "email: ", ",").unwrap().to_owned(),
                between(&line, "password: ", ")").unwrap().to_owned(),
            ));
        } else if line.starts_with("curl ") {
            url = between(&line, "-X POST '", "'").map(str::to_owned);
        } else if line.contains("X-Hub-Signature-256:") {
            signature = between(&line, "X-Hub-Signature-256: ", "'").map(str::to_owned);
        } else if line.trim_start().starts_with("--data '") {
            body = between(&line, "--data '", "'").map(str::to_owned);
        }
    }
    let (url, signature, body) = (url.unwrap(), signature.unwrap(), body.unwrap());
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/channels/whatsapp/chn_")),
        "{url}"
    );

    let res = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );

    let reply = tokio::task::spawn_blocking(move || loop {
        let line = next(&rx);
        if line.starts_with("[demo] reply to 919800000001") {
            return next(&rx);
        }
    })
    .await
    .unwrap();
    assert!(reply.contains("Where is this?"), "{reply}");

    // The printed login opens the dashboard, where the complaint's tenant is.
    let (login_url, email, password) = login.expect("the demo prints a dashboard login");
    assert_eq!(login_url, format!("http://127.0.0.1:{port}/app/login"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(&login_url)
        .form(&[("email", email.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = crate::staff::new_session_cookie(&res).unwrap();
    let page = http
        .get(format!("http://127.0.0.1:{port}/app/complaints"))
        .header("cookie", format!("ombud_session={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Demo Ward Office"), "{page}");

    // The printed web chat page embeds the tenant's widget, which takes a visitor.
    let site = site.expect("the demo prints its web chat page");
    let page = http.get(&site).send().await.unwrap().text().await.unwrap();
    let channel = site.rsplit('/').next().unwrap();
    let widget = format!("/channels/webchat/{channel}/widget.js");
    assert!(page.contains(&widget), "{page}");
    let script = http
        .get(format!("http://127.0.0.1:{port}{widget}"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    let res = http
        .post(format!(
            "http://127.0.0.1:{port}/channels/webchat/{channel}/visitors"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}
