//! A reference Ombud process agent: runs arrive on stdin, answers leave on
//! stdout, one JSON object per line (docs/worker-protocol.md). It registers
//! what it is told as a complaint, or lists the person's open complaints when
//! they ask for their status, and stays warm between messages.

use std::io::{self, BufRead, Write};

use serde_json::{json, Value};

fn send(out: &mut impl Write, message: &Value) -> io::Result<()> {
    writeln!(out, "{message}")?;
    out.flush()
}

/// Calls a tool and waits for its result.
fn call(
    lines: &mut impl Iterator<Item = io::Result<String>>,
    out: &mut impl Write,
    name: &str,
    arguments: Value,
) -> io::Result<Value> {
    send(
        out,
        &json!({"type": "tool_call", "id": name, "name": name, "arguments": arguments}),
    )?;
    for line in lines {
        let message: Value = serde_json::from_str(&line?).unwrap_or_default();
        if message["type"] == "tool_result" && message["id"] == name {
            return Ok(message["result"].clone());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "stdin closed during a tool call",
    ))
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = io::stdout().lock();
    let mut answered = 0;
    while let Some(line) = lines.next() {
        let run: Value = serde_json::from_str(&line?).unwrap_or_default();
        if run["type"] != "run" {
            continue;
        }
        let messages = run["messages"].as_array().cloned().unwrap_or_default();
        answered += messages.len();
        let text: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
        let text = text.join(" ");
        let reply = if text.to_lowercase().contains("status") {
            let mine = call(&mut lines, &mut out, "list_my_complaints", json!({}))?;
            let n = mine["complaints"].as_array().map_or(0, Vec::len);
            format!("You have {n} open complaint(s).")
        } else {
            let made = call(
                &mut lines,
                &mut out,
                "create_complaint",
                json!({"description": text}),
            )?;
            match made["number"].as_str() {
                Some(number) => format!("Registered as {number}."),
                None => format!("Sorry: {}", made["error"]),
            }
        };
        let pid = std::process::id();
        send(
            &mut out,
            &json!({"type": "reply", "text": format!("{reply} (worker {pid}, message {answered})")}),
        )?;
        send(
            &mut out,
            &json!({"type": "done", "state": {"answered": answered}}),
        )?;
    }
    Ok(())
}
