//! `ombud audit verify` and `ombud audit export`, and the key that signs the
//! trail's checkpoints (`audit_key`, else `<data_dir>/audit.key`, kept beside
//! the sealing key).

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use ombud_core::audit::{AuditEntry, Checkpoint, SigningKey, GENESIS};
use ombud_engine::ops::audit::{Bounds, Check};
use ombud_store::Store;
use serde_json::json;

use super::{open_store, print_json, tenant_by_slug};
use crate::Config;

const FILE: &str = "audit.key";

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check each tenant's hash chain and signed checkpoints; exits non-zero
    /// naming the first entry that does not hold.
    Verify {
        /// One tenant (its slug); all tenants if left out.
        #[arg(long)]
        tenant: Option<String>,
        /// Check an export (`ombud audit export`) instead of the database.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// The public key to check signatures with (hex); default: this
        /// server's audit key.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Write a tenant's trail as JSON lines: a header, every entry with its
    /// hashes, the checkpoints, and the chain's head.
    Export {
        #[arg(long)]
        tenant: String,
        /// Only entries from this time (RFC 3339); the chain is still checked
        /// from the entry before.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
    },
    /// Print the public half of the audit key (for checking exports elsewhere).
    PublicKey,
}

impl Config {
    /// The key that signs checkpoints: `audit_key`, else `<data_dir>/audit.key`,
    /// made (readable by this user only) if missing.
    pub fn audit_key(&self) -> anyhow::Result<SigningKey> {
        if let Some(key) = &self.audit_key {
            return SigningKey::from_base64(key.expose()).map_err(anyhow::Error::msg);
        }
        let path = self.data_dir.join(FILE);
        let (key, made) = crate::secret_key::read_or_make(&path, SigningKey::from_base64, || {
            let key = SigningKey::generate();
            let text = key.to_base64();
            (key, text)
        })?;
        if made {
            tracing::info!(path = %path.display(), "made a new key for signing the audit trail; back it up with the database");
        }
        Ok(key)
    }
}

pub async fn run(command: AuditCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        AuditCommand::PublicKey => {
            print_json(&json!({"public_key": config.audit_key()?.public_hex()}));
            Ok(())
        }
        AuditCommand::Verify {
            tenant,
            file: Some(file),
            public_key,
        } => {
            if tenant.is_some() {
                anyhow::bail!("--tenant and --file do not go together: an export holds one tenant");
            }
            let public = match public_key {
                Some(k) => k,
                None => config.audit_key()?.public_hex(),
            };
            let verdict = verify_file(&file, &public)?;
            finish(vec![verdict])
        }
        AuditCommand::Verify {
            tenant,
            file: None,
            public_key,
        } => {
            let store = open_store(config).await?;
            let public = match public_key {
                Some(k) => k,
                None => config.audit_key()?.public_hex(),
            };
            let tenants = match tenant {
                Some(slug) => vec![tenant_by_slug(store.as_ref(), &slug).await?],
                None => store.tenants().await?,
            };
            let ops = super::operations(store.clone());
            let mut verdicts = Vec::new();
            for t in tenants {
                let result = ops.verify_audit(&t.id, Some(&public)).await?;
                verdicts.push(verdict(t.slug.as_str(), result));
            }
            finish(verdicts)
        }
        AuditCommand::Export { tenant, since } => {
            let store = open_store(config).await?;
            let t = tenant_by_slug(store.as_ref(), &tenant).await?;
            export(store, &t, since, &config.audit_key()?.public_hex()).await
        }
    }
}

fn verdict(
    tenant: &str,
    result: Result<ombud_core::audit::Verified, ombud_core::audit::Break>,
) -> serde_json::Value {
    match result {
        Ok(v) => json!({"tenant": tenant, "ok": true, "entries": v.entries,
            "checkpoints": v.checkpoints, "last_seq": v.last_seq}),
        Err(b) => json!({"tenant": tenant, "ok": false, "first_bad": {
            "seq": b.seq, "id": b.id, "reason": b.reason}, "message": b.to_string()}),
    }
}

fn finish(verdicts: Vec<serde_json::Value>) -> anyhow::Result<()> {
    let bad: Vec<String> = verdicts
        .iter()
        .filter(|v| v["ok"] == false)
        .map(|v| {
            format!(
                "{}: {}",
                v["tenant"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    print_json(&json!({"tenants": verdicts}));
    if bad.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the audit trail does not verify: {}", bad.join("; "))
    }
}

/// One line of an export.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        tenant: String,
        tenant_id: String,
        exported_at: DateTime<Utc>,
        public_key: String,
        /// Where the exported part of the chain starts.
        start_seq: i64,
        start_hash: String,
    },
    Entry(Box<AuditEntry>),
    Checkpoint(Checkpoint),
    Head {
        seq: i64,
        hash: String,
    },
}

async fn export(
    store: Arc<dyn Store>,
    tenant: &ombud_core::Tenant,
    since: Option<DateTime<Utc>>,
    public: &str,
) -> anyhow::Result<()> {
    let ops = super::operations(store.clone());
    let head = store
        .audit_heads()
        .await?
        .into_iter()
        .find(|h| h.tenant_id == tenant.id);
    let (mut start_seq, mut start_hash) = head
        .as_ref()
        .map(|h| (h.start_seq, h.start_hash.clone()))
        .unwrap_or((0, GENESIS.to_owned()));
    let checkpoints = store.checkpoints(&tenant.id).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut entries = Vec::new();
    let mut after = start_seq;
    // With --since, the export starts at the last signed checkpoint before
    // it (so that its start can be checked), a few entries early.
    let mut before_since = start_seq;
    loop {
        let page = ops.audit_page(&tenant.id, after).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == ombud_engine::ops::audit::CHAIN_PAGE as usize;
        for e in page {
            if since.is_some_and(|t| e.entry.at < t) {
                before_since = e.seq;
            }
            entries.push(e);
        }
        if !full {
            break;
        }
    }
    if let Some(c) = checkpoints
        .iter()
        .filter(|c| c.seq > start_seq && c.seq <= before_since)
        .max_by_key(|c| c.seq)
    {
        start_seq = c.seq;
        start_hash = c.hash.clone();
        entries.retain(|e| e.seq > c.seq);
    }
    let line = |l: &Line| serde_json::to_string(l).map_err(anyhow::Error::from);
    writeln!(
        out,
        "{}",
        line(&Line::Header {
            format: "ombud-audit-export/1".into(),
            tenant: tenant.slug.to_string(),
            tenant_id: tenant.id.to_string(),
            exported_at: Utc::now(),
            public_key: public.to_owned(),
            start_seq,
            start_hash,
        })?
    )?;
    for e in entries {
        writeln!(out, "{}", line(&Line::Entry(Box::new(e)))?)?;
    }
    for c in checkpoints {
        if c.seq >= start_seq {
            writeln!(out, "{}", line(&Line::Checkpoint(c))?)?;
        }
    }
    if let Some(h) = head {
        writeln!(
            out,
            "{}",
            line(&Line::Head {
                seq: h.seq,
                hash: h.hash
            })?
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Checks an export offline, with the public key the verifier trusts. Two
/// passes over the file: the header, checkpoints and head first, then the
/// entries one at a time, so an export of any size is checked in little memory.
fn verify_file(path: &Path, public: &str) -> anyhow::Result<serde_json::Value> {
    let (mut tenant, mut start) = (String::new(), (0, GENESIS.to_owned()));
    let (mut checkpoints, mut head) = (Vec::new(), None);
    for_each_line(path, |line| {
        match line {
            Line::Header {
                tenant: t,
                start_seq,
                start_hash,
                ..
            } => {
                tenant = t;
                start = (start_seq, start_hash);
            }
            Line::Entry(_) => {}
            Line::Checkpoint(c) => checkpoints.push(c),
            Line::Head { seq, hash } => head = Some((seq, hash)),
        }
        Ok(())
    })?;
    let (seq, hash) = head.unwrap_or_else(|| start.clone());
    let bounds = Bounds {
        start_seq: start.0,
        start_hash: start.1,
        seq,
        hash,
    };
    let mut check = match Check::new(&checkpoints, &bounds, Some(public)) {
        Ok(check) => check,
        Err(broken) => return Ok(verdict(&tenant, Err(broken))),
    };
    let mut broken = None;
    for_each_line(path, |line| {
        if let (Line::Entry(e), None) = (line, &broken) {
            broken = check.push(&e).err();
        }
        Ok(())
    })?;
    let result = match broken {
        Some(b) => Err(b),
        None => check.finish(),
    };
    Ok(verdict(&tenant, result))
}

/// Each line of an export, parsed, in order.
fn for_each_line(path: &Path, mut f: impl FnMut(Line) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not an export line", path.display(), n + 1))?;
        f(parsed)?;
    }
    Ok(())
}
