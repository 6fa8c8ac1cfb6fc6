//! The audit trail: who did what to which thing, when, from where. Each
//! tenant's entries form a hash chain (every entry's hash covers the entry and
//! the previous entry's hash), and the chain heads are signed from time to
//! time with an Ed25519 key ([`Checkpoint`]), so that a changed, deleted,
//! inserted or reordered entry shows, and so does a rewrite of the whole tail.
//!
//! The rules live here once: the canonical encoding, the hash, the check of a
//! chain and of a checkpoint. The stores only persist what these decide.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{TenantId, ValidationError};

pub use crate::AuditEventId;

/// The hash the first entry of a chain follows.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person signed in to the dashboard (or trying to).
    User,
    /// A tenant's own system, through an API key.
    ApiKey,
    /// An operator at the command line.
    Cli,
    /// Ombud itself: scheduled work.
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Cli => "cli",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        [Self::User, Self::ApiKey, Self::Cli, Self::System]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new("actor_kind", "must be user, api_key, cli or system")
            })
    }
}

/// The actor, with a snapshot of how they were known at the time (a name may
/// change later; the entry keeps what it was).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// The user's or the key's id.
    pub id: Option<String>,
    /// The user's name, or the key's name.
    pub name: Option<String>,
    /// The user's email address.
    pub email: Option<String>,
    /// The key's visible prefix.
    pub prefix: Option<String>,
}

impl Actor {
    pub fn user(id: &crate::UserId, name: &str, email: &str) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(id.to_string()),
            name: Some(name.to_owned()),
            email: Some(email.to_owned()),
            prefix: None,
        }
    }

    /// Someone who is not signed in: a failed login names the address tried.
    pub fn anonymous(email: &str) -> Self {
        Self {
            kind: ActorKind::User,
            id: None,
            name: None,
            email: Some(email.to_owned()),
            prefix: None,
        }
    }

    pub fn api_key(key: &crate::ApiKey) -> Self {
        Self {
            kind: ActorKind::ApiKey,
            id: Some(key.id.to_string()),
            name: Some(key.name.clone()),
            email: None,
            prefix: Some(key.prefix.clone()),
        }
    }

    pub fn cli() -> Self {
        Self::plain(ActorKind::Cli)
    }

    pub fn system() -> Self {
        Self::plain(ActorKind::System)
    }

    fn plain(kind: ActorKind) -> Self {
        Self {
            kind,
            id: None,
            name: None,
            email: None,
            prefix: None,
        }
    }

    /// The member acting, if a member is.
    pub fn user_id(&self) -> Option<crate::UserId> {
        match (self.kind, &self.id) {
            (ActorKind::User, Some(id)) => id.parse().ok(),
            _ => None,
        }
    }

    /// How a complaint's history names it: `user:<id>`, `api:<id>`, `cli`,
    /// `system`.
    pub fn history_name(&self) -> String {
        match (self.kind, &self.id) {
            (ActorKind::User, Some(id)) => format!("user:{id}"),
            (ActorKind::ApiKey, Some(id)) => format!("api:{id}"),
            (ActorKind::Cli, _) => "cli".into(),
            _ => "system".into(),
        }
    }

    /// How a person reads it: "Asha Rao <asha@…>", "API key “CRM” (ombud_1a2b…)".
    pub fn label(&self) -> String {
        match self.kind {
            ActorKind::User => match (&self.name, &self.email) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.clone(),
                (Some(n), None) => n.clone(),
                (None, None) => "someone".into(),
            },
            ActorKind::ApiKey => format!(
                "API key “{}” ({}…)",
                self.name.as_deref().unwrap_or("?"),
                self.prefix.as_deref().unwrap_or("?")
            ),
            ActorKind::Cli => "the command line".into(),
            ActorKind::System => "Ombud".into(),
        }
    }
}

/// What the action was done to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `api_key`, `webhook_endpoint`, `member`, `complaint`, `session`, …
    pub kind: String,
    pub id: String,
    /// What a person would call it: a complaint number, a key's name.
    pub label: Option<String>,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString, label: Option<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_string(),
            label,
        }
    }
}

/// One field's value before and after. A secret is never a value here: a
/// rotated secret is recorded as `"rotated"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl FieldChange {
    pub fn new(field: &str, before: Option<Value>, after: Option<Value>) -> Self {
        Self {
            field: field.to_owned(),
            before,
            after,
        }
    }

    /// A field set where there was none.
    pub fn set(field: &str, after: impl Serialize) -> Self {
        Self::new(field, None, Some(to_value(after)))
    }

    /// A change, or nothing when the value stayed.
    pub fn changed<T: Serialize + PartialEq>(field: &str, before: T, after: T) -> Option<Self> {
        (before != after).then(|| Self::new(field, Some(to_value(before)), Some(to_value(after))))
    }
}

fn to_value(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// Longest user agent kept.
pub const USER_AGENT_MAX: usize = 300;

impl Origin {
    pub fn new(
        address: Option<String>,
        user_agent: Option<&str>,
        request_id: Option<String>,
    ) -> Self {
        Self {
            address,
            user_agent: user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
            request_id,
        }
    }
}

/// Who acts, and where the request came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Acting {
    pub actor: Actor,
    pub origin: Origin,
}

impl Acting {
    pub fn new(actor: Actor, origin: Origin) -> Self {
        Self { actor, origin }
    }

    /// An operator at the command line.
    pub fn cli() -> Self {
        Self::new(Actor::cli(), Origin::default())
    }

    /// Ombud's own scheduled work.
    pub fn system() -> Self {
        Self::new(Actor::system(), Origin::default())
    }

    /// The audit entry of `action` on `target`, by this actor, at `at`.
    pub fn entry(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        action: &str,
        target: Target,
    ) -> NewAuditEntry {
        NewAuditEntry::new(
            tenant,
            at,
            self.actor.clone(),
            self.origin.clone(),
            action,
            target,
        )
    }
}

/// An entry as an operation decides it; the store gives it its place in the
/// chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub id: AuditEventId,
    pub tenant_id: TenantId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// Dotted: `api_key.created`, `member.role_changed`, `login.failed`.
    pub action: String,
    pub target: Target,
    pub changes: Vec<FieldChange>,
    pub origin: Origin,
    /// Links the entries of one bulk change.
    pub bulk_id: Option<String>,
}

impl NewAuditEntry {
    pub fn new(
        tenant: &TenantId,
        at: DateTime<Utc>,
        actor: Actor,
        origin: Origin,
        action: &str,
        target: Target,
    ) -> Self {
        Self {
            id: AuditEventId::new(),
            tenant_id: tenant.clone(),
            at: chrono::SubsecRound::trunc_subsecs(at, 6),
            actor,
            action: action.to_owned(),
            target,
            changes: Vec::new(),
            origin,
            bulk_id: None,
        }
    }

    pub fn with_changes(mut self, changes: impl IntoIterator<Item = FieldChange>) -> Self {
        self.changes.extend(changes);
        self
    }

    /// Places the entry after `prev` (sequence number and hash of the chain's
    /// head): the one rule every backend follows.
    pub fn chained(self, prev_seq: i64, prev_hash: &str) -> AuditEntry {
        let mut entry = AuditEntry {
            seq: prev_seq + 1,
            entry: self,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry
    }
}

/// An entry in its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3… within the tenant.
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// SHA-256, in hex, of the previous hash and the canonical encoding.
    pub fn computed_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }

    /// The entry as one line of JSON: fixed field order, object keys sorted
    /// at every depth, times to the microsecond in UTC. What is stored must
    /// encode the same way when read back from either backend.
    pub fn canonical(&self) -> String {
        let e = &self.entry;
        let changes: Vec<Value> = e
            .changes
            .iter()
            .map(|c| {
                Value::Array(vec![
                    Value::String(c.field.clone()),
                    c.before.clone().unwrap_or(Value::Null),
                    c.after.clone().unwrap_or(Value::Null),
                ])
            })
            .collect();
        let parts: Vec<Value> = vec![
            Value::from(1),
            Value::String(e.tenant_id.to_string()),
            Value::from(self.seq),
            Value::String(e.id.to_string()),
            Value::String(time_text(e.at)),
            Value::String(e.actor.kind.as_str().into()),
            opt(&e.actor.id),
            opt(&e.actor.name),
            opt(&e.actor.email),
            opt(&e.actor.prefix),
            Value::String(e.action.clone()),
            Value::String(e.target.kind.clone()),
            Value::String(e.target.id.clone()),
            opt(&e.target.label),
            Value::Array(changes),
            opt(&e.origin.address),
            opt(&e.origin.user_agent),
            opt(&e.origin.request_id),
            opt(&e.bulk_id),
        ];
        let mut out = String::new();
        write_canonical(&Value::Array(parts), &mut out);
        out
    }
}

fn opt(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}

/// RFC 3339, microseconds, `Z`.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

mod check;
#[cfg(test)]
mod tests;

pub use check::{
    cut_point, verify, Break, ChainCheck, Checkpoint, SigningKey, Verified, MIN_RETENTION_DAYS,
};
