//! The HTTP-only baseline: a plain axum "hello" server in its own process,
//! loaded by the same client on the same machine. End-to-end throughput divided
//! by this gives a figure that survives a noisy or slower machine.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::get;
use axum::Router;

/// `ombud loadtest-hello`: serves `GET /` with "hello" until killed.
pub async fn serve_hello(listen: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    axum::serve(
        listener,
        Router::new().route("/", get(|| async { "hello" })),
    )
    .await?;
    Ok(())
}

/// Requests per second the hello server answers, with `connections` clients
/// looping for `secs`.
pub async fn measure(connections: usize, secs: f64) -> anyhow::Result<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["loadtest-hello", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the hello server")?;
    let result = drive(&format!("http://127.0.0.1:{port}/"), connections, secs).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn drive(url: &str, connections: usize, secs: f64) -> anyhow::Result<f64> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(url).send().await.is_err() {
        if Instant::now() > deadline {
            anyhow::bail!("the hello server did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (http, url, done) = (http.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    if let Ok(r) = http.get(&url).send().await {
                        if r.bytes().await.is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
