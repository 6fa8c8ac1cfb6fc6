//! The dependencies point one way (DESIGN.md, "Layout"): core ← (store,
//! channels, agents) ← engine ← web ← ombud. Channels and agents share plain
//! data through `core` and know nothing of the store.

#[test]
fn channels_and_agents_depend_on_core_not_on_the_store_or_above() {
    for krate in ["channels", "agents"] {
        let path = format!("{}/../{krate}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(&path).unwrap();
        for above in ["ombud-store", "ombud-engine", "ombud-web"] {
            assert!(
                !manifest.contains(above),
                "{path} depends on {above}; share the type through ombud-core instead"
            );
        }
        assert!(manifest.contains("ombud-core"), "{path}");
    }
}

/// Store methods the web layer may call: reads. Every change goes through an
/// operation in `crates/engine` (DESIGN.md, "Where a change happens"), which
/// writes its audit entry in the same transaction and wakes the workers.
const READS: &[&str] = &[
    "agent",
    "attachment",
    "complaint_attachments",
    "agent_executions",
    "agent_version",
    "agent_versions",
    "agents",
    "api_key_by_hash",
    "api_keys",
    "audit_events",
    "categories",
    "channel",
    "channels",
    "clone",
    "complaint",
    "complaint_by_number",
    "complaint_events",
    "complaint_surveys",
    "complaints_of_contact",
    "contact",
    "contact_page",
    "conversation",
    "conversation_of_address",
    "conversation_of_contact",
    "conversation_page",
    "count_complaints",
    "csat",
    "deployments",
    "executions",
    "handed_over",
    "has_conversations",
    "inbox",
    "invitation",
    "latest_event_at",
    "list_complaints",
    "live_events",
    "members",
    "memberships",
    "message_page",
    "messages",
    "onboarding_steps",
    "open_invitations",
    "overview",
    "schema_status",
    "session",
    "tenant",
    "tenant_by_slug",
    "test_chat",
    "test_chats",
    "test_turns",
    "unread_count",
    "user",
    "user_by_email",
    "wa_templates",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_delivery",
    "webhook_endpoint",
    "webhook_endpoints",
];

fn web_sources() -> Vec<(String, String)> {
    sources("web/src")
}

/// Each `.rs` file under `crates/<dir>`, by path, with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = format!("{}/../{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

#[test]
fn no_module_of_the_web_layer_writes_to_the_store_or_wakes_a_worker() {
    let call = regex::Regex::new(r"store(?:\(\))?\s*\.\s*(\w+)\s*\(").unwrap();
    let mut found = Vec::new();
    let mut seen = 0;
    for (path, text) in web_sources() {
        for m in call.captures_iter(&text) {
            seen += 1;
            let method = &m[1];
            if !READS.contains(&method) {
                found.push(format!("{path}: store.{method}(…)"));
            }
        }
        for needle in ["wake_outbox(", "wake_webhooks(", "events_written("] {
            if text.contains(needle) {
                found.push(format!("{path}: {needle}…)"));
            }
        }
    }
    assert!(
        seen > 50,
        "the scan found only {seen} store calls: is it reading the web layer?"
    );
    assert!(
        found.is_empty(),
        "the web layer writes (or passes the store to what writes) instead of calling an operation in crates/engine; \
         if a method only reads, add it to READS:\n{}",
        found.join("\n")
    );
}

/// The store and the web layer are handed time (by the operation, or the
/// engine's clock), so tests move time instead of backdating rows. Unit
/// tests at the end of a file (`#[cfg(test)]`) or in a `tests.rs` of their
/// own may read the wall clock; so may the migrations' bookkeeping
/// (`now_text`, when a schema version was applied), which is nobody's data.
#[test]
fn the_store_and_the_web_layer_read_time_from_the_clock_not_the_wall() {
    let mut found = Vec::new();
    let mut files = 0;
    for krate in ["store", "web"] {
        for (path, text) in sources(&format!("{krate}/src")) {
            files += 1;
            if path.ends_with("/tests.rs") {
                continue;
            }
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let wall = ["Utc::now()", "SystemTime::now()", "Local::now()"]
                    .iter()
                    .any(|w| line.contains(w));
                if wall && !line.trim_start().starts_with("//") && !path.ends_with("sqlite/rows.rs")
                {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(files > 60, "the scan read only {files} files");
    assert!(
        found.is_empty(),
        "take the time as a parameter (store) or from state.engine.now() (web):\n{}",
        found.join("\n")
    );
}

/// Tests make time pass with the server's clock (`app.pass`), not
/// by writing old times into rows behind the store's back. (Clearing a time,
/// as a row made before a migration has it, writes none.)
#[test]
fn no_test_backdates_rows_with_raw_sql() {
    let backdate = regex::Regex::new(r"(?i)\bset\s+\w+_(at|until)\s*=\s*(\S*)").unwrap();
    let mut found = Vec::new();
    for dir in ["ombud/tests", "store/tests"] {
        for (path, text) in sources(dir) {
            if path.ends_with("layering.rs") {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let writes_a_time = backdate
                    .captures(line)
                    .is_some_and(|c| !c[2].to_lowercase().starts_with("null"));
                if writes_a_time {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "move the clock instead:\n{}",
        found.join("\n")
    );
}

/// The webhook catalogue in docs/api.md names every event type and the
/// fields its payload struct writes.
#[test]
fn the_event_catalogue_in_the_docs_follows_the_payload_structs() {
    let path = format!("{}/../../docs/api.md", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(path).unwrap();
    for kind in ombud_core::EventType::ALL {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", kind.as_str())))
            .unwrap_or_else(|| panic!("docs/api.md has no row for {}", kind.as_str()));
        for field in ombud_core::event::payload::fields(kind) {
            assert!(
                row.contains(&format!("`{field}`")),
                "docs/api.md's row for {} does not name `{field}`: {row}",
                kind.as_str()
            );
        }
    }
}

/// The server's clock moves only through `TestApp::pass`, which first waits
/// for sends in flight: a jump longer than a send's lease while it is in
/// flight makes it look lost to a crash, and it goes out twice (twice under
/// the whole suite's load, once each at a notice and a survey's status).
#[test]
fn time_passes_only_once_no_send_is_in_flight() {
    let found: Vec<String> = sources("ombud/tests")
        .into_iter()
        .filter(|(path, _)| !path.ends_with("helpers.rs") && !path.ends_with("layering.rs"))
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("app.clock.advance("))
                .map(|(i, _)| format!("{path}:{}", i + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        found.is_empty(),
        "use app.pass(…).await:\n{}",
        found.join("\n")
    );
}
