//! `--staff-streams N`: N dashboard pages of the first tenant's staff open
//! during the load, each reading the live stream (`GET /app/live`) as a
//! browser's EventSource does. Afterwards, each must have heard of every
//! conversation that received a message while it listened: a page that
//! missed one would show a stale inbox.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What one stream heard.
#[derive(Debug, Default)]
pub struct Heard {
    pub conversations: HashSet<String>,
    pub events: u64,
    /// "Fallen behind: fetch everything" (events the stream had to skip).
    pub resyncs: u64,
    /// The stream ended or failed and was opened again.
    pub reconnects: u64,
    pub failures: Vec<String>,
}

/// The open pages; stopped by [`Streams::stop`].
pub struct Streams {
    tasks: Vec<JoinHandle<Heard>>,
    stop: CancellationToken,
}

impl Streams {
    /// Opens one stream per session token, spread over the servers, and
    /// returns once every one has said it is connected.
    pub async fn open(urls: &[String], tokens: &[String]) -> anyhow::Result<Streams> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let stop = CancellationToken::new();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(tokens.len().max(1));
        let mut tasks = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let url = format!("{}/app/live", urls[i % urls.len()]);
            let cookie = format!("ombud_session={token}");
            let (http, stop, ready) = (http.clone(), stop.clone(), ready_tx.clone());
            tasks.push(tokio::spawn(listen(http, url, cookie, stop, ready)));
        }
        drop(ready_tx);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for _ in 0..tokens.len() {
            match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
                Ok(Some(())) => {}
                _ => anyhow::bail!("the staff streams did not all connect within 30 s"),
            }
        }
        Ok(Streams { tasks, stop })
    }

    pub async fn stop(self) -> Vec<Heard> {
        self.stop.cancel();
        let mut out = Vec::with_capacity(self.tasks.len());
        for t in self.tasks {
            out.push(t.await.unwrap_or_default());
        }
        out
    }
}

/// One page: reads events until stopped, reconnecting as a browser would.
async fn listen(
    http: reqwest::Client,
    url: String,
    cookie: String,
    stop: CancellationToken,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Heard {
    let mut heard = Heard::default();
    let mut said_ready = false;
    while !stop.is_cancelled() {
        let res = http.get(&url).header("cookie", &cookie).send().await;
        let mut res = match res {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                heard.failures.push(format!("{url}: {}", r.status()));
                return heard;
            }
            Err(e) => {
                heard.failures.push(format!("{url}: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                heard.reconnects += 1;
                continue;
            }
        };
        let mut buffer = String::new();
        loop {
            let chunk = tokio::select! {
                c = res.chunk() => c,
                () = stop.cancelled() => return heard,
            };
            match chunk {
                Ok(Some(bytes)) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => break,
            }
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                let Some(event) = field("event:") else {
                    continue;
                };
                heard.events += 1;
                match event.as_str() {
                    "conversation" => {
                        let data: Value = field("data:")
                            .and_then(|d| serde_json::from_str(&d).ok())
                            .unwrap_or_default();
                        if let Some(id) = data["id"].as_str() {
                            heard.conversations.insert(id.to_owned());
                        }
                    }
                    "resync" => heard.resyncs += 1,
                    // The first event (its unread count) says it is listening.
                    "unread" if !said_ready => {
                        said_ready = true;
                        let _ = ready.send(()).await;
                    }
                    _ => {}
                }
            }
        }
        heard.reconnects += 1;
    }
    heard
}

/// The streams' figures against the conversations that received messages.
pub fn summary(heard: &[Heard], expected: &HashSet<String>) -> Value {
    let missed: Vec<usize> = heard
        .iter()
        .map(|h| expected.difference(&h.conversations).count())
        .collect();
    let mut events: Vec<u64> = heard.iter().map(|h| h.events).collect();
    events.sort_unstable();
    let failures: Vec<&String> = heard.iter().flat_map(|h| &h.failures).take(5).collect();
    json!({
        "sessions": heard.len(),
        "conversations_with_messages": expected.len(),
        "streams_missing_one": missed.iter().filter(|&&m| m > 0).count(),
        "conversations_missed": missed.iter().sum::<usize>(),
        "resyncs": heard.iter().map(|h| h.resyncs).sum::<u64>(),
        "reconnects": heard.iter().map(|h| h.reconnects).sum::<u64>(),
        "events_per_stream": {
            "min": events.first().copied().unwrap_or(0),
            "median": events.get(events.len() / 2).copied().unwrap_or(0),
            "max": events.last().copied().unwrap_or(0),
        },
        "failures": failures,
    })
}
