//! The audit trail's storage. Entries are appended in the transaction of the
//! change they record (each backend's `audit::append`, which takes the chain's
//! head under a lock, so the chain stays linear with several writers); the
//! queries here read them back for the Audit page, the API, `ombud audit
//! verify` and `export`. The rules (encoding, hash, checks) are
//! `ombud_core::audit`'s.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::audit::{
    Actor, ActorKind, AuditEntry, Checkpoint, FieldChange, NewAuditEntry, Origin, Target,
};
use ombud_core::*;

use crate::decode::{self, Columns, Decoded};
use crate::list_query::{Dialect, Param};
use crate::StoreResult;

/// Entries per page at most.
pub const AUDIT_PAGE_MAX: u32 = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's user or key id.
    pub actor: Option<String>,
    /// An action (`api_key.created`), or every action on a subject
    /// (`api_key.`, with the dot).
    pub action: Option<String>,
    /// The target's id, or its label (a complaint number).
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Where a tenant's chain stands: its head, and where it starts (after
/// retention cut it at a checkpoint, the entry before the first kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub tenant_id: TenantId,
    pub seq: i64,
    pub hash: String,
    pub start_seq: i64,
    pub start_hash: String,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries that go with no other change (a failed login, a
    /// secret shown), in one transaction.
    async fn record_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()>;
    /// The tenant's entries matching `filter`, newest first, before `before`
    /// (a `seq`).
    async fn audit_events(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
    /// The chain in order, from after `after` (a `seq`): for checks and exports.
    async fn audit_chain(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
    /// Every tenant's chain head (tenants with no entry have none).
    async fn audit_heads(&self) -> StoreResult<Vec<ChainHead>>;
    /// Keeps a signed head; signing the same head again is no change.
    async fn save_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()>;
    /// The tenant's checkpoints, oldest first.
    async fn checkpoints(&self, tenant: &TenantId) -> StoreResult<Vec<Checkpoint>>;
    /// Cuts the chain at `at` (a signed checkpoint of it): the entries it
    /// covers and the older checkpoints go, and the chain starts after it.
    /// How many entries went.
    async fn prune_audit(&self, at: &Checkpoint) -> StoreResult<u64>;
}

pub(crate) const ENTRY_COLS: &str = "tenant_id, seq, id, at, actor_kind, actor_id, actor_name,
    actor_email, actor_prefix, action, target_kind, target_id, target_label, changes, address,
    user_agent, request_id, bulk_id, prev_hash, hash";

/// The entry's columns in [`ENTRY_COLS`]' order, for an insert.
pub(crate) fn entry_params(e: &AuditEntry) -> Vec<Param> {
    let n = &e.entry;
    let text = |s: &Option<String>| s.clone().map(Param::Text).unwrap_or(Param::Null);
    vec![
        Param::Text(n.tenant_id.to_string()),
        Param::Int(e.seq),
        Param::Text(n.id.to_string()),
        Param::Time(n.at),
        Param::Text(n.actor.kind.as_str().into()),
        text(&n.actor.id),
        text(&n.actor.name),
        text(&n.actor.email),
        text(&n.actor.prefix),
        Param::Text(n.action.clone()),
        Param::Text(n.target.kind.clone()),
        Param::Text(n.target.id.clone()),
        text(&n.target.label),
        Param::Text(serde_json::to_string(&n.changes).unwrap_or_else(|_| "[]".into())),
        text(&n.origin.address),
        text(&n.origin.user_agent),
        text(&n.origin.request_id),
        text(&n.bulk_id),
        Param::Text(e.prev_hash.clone()),
        Param::Text(e.hash.clone()),
    ]
}

pub(crate) fn insert_sql(d: &Dialect) -> String {
    let marks: Vec<String> = (1..=20).map(d.placeholder).collect();
    format!(
        "insert into audit_events ({ENTRY_COLS}) values ({})",
        marks.join(", ")
    )
}

pub(crate) fn entry(r: &dyn Columns) -> Decoded<AuditEntry> {
    let changes: Vec<FieldChange> = serde_json::from_str(&r.text("changes")?)
        .map_err(|e| crate::StoreError::Internal(format!("stored changes are unreadable: {e}")))?;
    let kind = ActorKind::parse(&r.text("actor_kind")?)
        .map_err(|e| crate::StoreError::Internal(e.to_string()))?;
    Ok(AuditEntry {
        seq: r.int("seq")?,
        entry: NewAuditEntry {
            id: decode::id(r, "id")?,
            tenant_id: decode::id(r, "tenant_id")?,
            at: r.time("at")?,
            actor: Actor {
                kind,
                id: r.opt_text("actor_id")?,
                name: r.opt_text("actor_name")?,
                email: r.opt_text("actor_email")?,
                prefix: r.opt_text("actor_prefix")?,
            },
            action: r.text("action")?,
            target: Target {
                kind: r.text("target_kind")?,
                id: r.text("target_id")?,
                label: r.opt_text("target_label")?,
            },
            changes,
            origin: Origin {
                address: r.opt_text("address")?,
                user_agent: r.opt_text("user_agent")?,
                request_id: r.opt_text("request_id")?,
            },
            bulk_id: r.opt_text("bulk_id")?,
        },
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

pub(crate) const CHECKPOINT_COLS: &str = "tenant_id, seq, hash, at, key, signature";

pub(crate) fn checkpoint(r: &dyn Columns) -> Decoded<Checkpoint> {
    Ok(Checkpoint {
        tenant_id: decode::id(r, "tenant_id")?,
        seq: r.int("seq")?,
        hash: r.text("hash")?,
        at: r.time("at")?,
        key: r.text("key")?,
        signature: r.text("signature")?,
    })
}

pub(crate) fn head(r: &dyn Columns) -> Decoded<ChainHead> {
    Ok(ChainHead {
        tenant_id: decode::id(r, "tenant_id")?,
        seq: r.int("seq")?,
        hash: r.text("hash")?,
        start_seq: r.int("start_seq")?,
        start_hash: r.text("start_hash")?,
    })
}

/// The page query: newest first, keyset on `seq`.
pub(crate) fn list_sql(
    d: &Dialect,
    tenant: &TenantId,
    f: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> (String, Vec<Param>) {
    let mut params = vec![Param::Text(tenant.to_string())];
    let bind = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        (d.placeholder)(params.len())
    };
    let mut w = vec![format!("tenant_id = {}", (d.placeholder)(1))];
    if let Some(actor) = &f.actor {
        w.push(format!(
            "actor_id = {}",
            bind(Param::Text(actor.clone()), &mut params)
        ));
    }
    if let Some(action) = &f.action {
        if let Some(subject) = action.strip_suffix('.') {
            let (a, b) = (
                bind(Param::Text(format!("{subject}.")), &mut params),
                bind(Param::Text(format!("{subject}/")), &mut params),
            );
            // Every action of the subject: `x.` ≤ action < `x/` ('/' follows '.').
            w.push(format!("action >= {a} and action < {b}"));
        } else {
            w.push(format!(
                "action = {}",
                bind(Param::Text(action.clone()), &mut params)
            ));
        }
    }
    if let Some(target) = &f.target {
        let p = bind(Param::Text(target.clone()), &mut params);
        w.push(format!("(target_id = {p} or target_label = {p})"));
    }
    if let Some(since) = f.since {
        w.push(format!("at >= {}", bind(Param::Time(since), &mut params)));
    }
    if let Some(until) = f.until {
        w.push(format!("at < {}", bind(Param::Time(until), &mut params)));
    }
    if let Some(before) = before {
        w.push(format!("seq < {}", bind(Param::Int(before), &mut params)));
    }
    let limit = bind(
        Param::Int(i64::from(limit.clamp(1, AUDIT_PAGE_MAX))),
        &mut params,
    );
    (
        format!(
            "select {ENTRY_COLS} from audit_events where {} order by seq desc limit {limit}",
            w.join(" and ")
        ),
        params,
    )
}
