//! Slow and numerous clients cannot exhaust the server (issue 20, finding 2):
//! hundreds of connections trickling their headers are capped per address
//! and closed at the header read timeout, a body that trickles is cut, an
//! idle kept-alive connection is closed, and past the global cap new
//! connections are closed at once; meanwhile `/health/live` and a signed
//! WhatsApp POST from elsewhere are answered. (`ombud bench slowloris` holds
//! thousands.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// A connection from `from` (any 127.x.y.z is this machine).
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// Whether the server has closed `stream` already (EOF or reset).
fn closed_now(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Whether the server has closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an answer (408, say); the close follows
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_still_answered() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(
        |c| {
            // Long enough that opening the 300 connections (over a second
            // on a busy machine) ends before the first of them times out.
            c.server.header_read_timeout_secs = 3;
            c.server.body_grace_ms = 500;
            c.server.body_min_bytes_per_sec = 1024;
            c.server.max_connections_per_address = 100;
        },
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;

    // 300 connections from one address, each sending part of a request head.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..300 {
        let mut s = connect_from("127.0.0.2", app.addr).await.unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    // Past the per-address cap the server closes them at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut kept = Vec::new();
    for s in held {
        if closed_now(&s) {
            refused += 1;
        } else {
            kept.push(s);
        }
    }
    assert_eq!(kept.len(), 100, "{refused} closed at once");

    // Meanwhile others are answered: the probe, and Meta's signed POST.
    let started = Instant::now();
    let live = app.http.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    app.say(&t, "919800000001", "The street light is broken")
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    // Trickling on, they are closed at the header read timeout.
    let trickle_until = Instant::now() + Duration::from_secs(5);
    let mut still_open = kept.len();
    while still_open > 0 && Instant::now() < trickle_until {
        still_open = 0;
        for s in &mut kept {
            if s.write_all(b"X-Slow: 1\r\n").await.is_ok() {
                still_open += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for s in &mut kept {
        assert!(
            closed_within(s, Duration::from_secs(1)).await,
            "a trickling connection outlived the header read timeout"
        );
    }

    // A body at one byte a second is cut off after the grace period.
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let path = format!("/channels/whatsapp/{}/webhook", t.channel.id);
    s.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{")
            .as_bytes(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if s.write_all(b" ").await.is_err()
            || closed_within(&mut s, Duration::from_millis(10)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a trickling body was never cut");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // A kept-alive connection that goes quiet is closed.
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = s.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    // Closed at the header read timeout for the next request (3 s).
    assert!(closed_within(&mut s, Duration::from_secs(4)).await, "idle");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_global_cap_new_connections_are_closed_at_once() {
    let app = TestApp::spawn_with(
        |c| {
            c.server.max_connections = 50;
            c.server.max_connections_per_address = 0;
        },
        None,
    )
    .await;
    let mut held = Vec::new();
    for i in 0..50 {
        held.push(
            connect_from(&format!("127.0.1.{}", i % 5 + 1), app.addr)
                .await
                .unwrap(),
        );
    }
    // Give the server time to take them all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = connect_from("127.0.2.1", app.addr).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(1)).await);
    // As held ones go, there is room again.
    held.truncate(40);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let live = app.http.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    app.stop().await;
}
