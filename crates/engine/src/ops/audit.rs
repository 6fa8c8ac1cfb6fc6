//! The audit trail's own work: signing chain heads (checkpoints), checking
//! a tenant's chain, and reading it out for export.

use ombud_core::audit::{self, Acting, AuditEntry, Break, Checkpoint, SigningKey, Verified};
use ombud_core::TenantId;
use ombud_store::StoreResult;

use super::Operations;

/// Entries read per page while checking or exporting.
pub const CHAIN_PAGE: u32 = 1000;

impl Operations {
    /// Signs every chain head that moved since its last checkpoint; how many
    /// were signed. Run every hour and on shutdown.
    pub async fn sign_checkpoints(&self, key: &SigningKey) -> StoreResult<usize> {
        let mut signed = 0;
        for head in self.store.audit_heads().await? {
            if head.seq == 0 {
                continue;
            }
            let last = self.store.checkpoints(&head.tenant_id).await?;
            if last.last().is_some_and(|c| c.seq >= head.seq) {
                continue;
            }
            let cp = Checkpoint::sign(key, &head.tenant_id, head.seq, &head.hash, self.now());
            self.store.save_checkpoint(cp).await?;
            signed += 1;
        }
        Ok(signed)
    }

    /// Checks the tenant's whole chain and its checkpoints (against
    /// `public`, hex, when given). The outer error is the store's; the inner
    /// names the first entry that does not hold.
    pub async fn verify_audit(
        &self,
        tenant: &TenantId,
        public: Option<&str>,
    ) -> StoreResult<Result<Verified, Break>> {
        let heads = self.store.audit_heads().await?;
        let Some(head) = heads.into_iter().find(|h| &h.tenant_id == tenant) else {
            return Ok(Ok(Verified::default()));
        };
        let checkpoints = self.store.checkpoints(tenant).await?;
        let bounds = head_of(&head);
        let mut check = match Check::new(&checkpoints, &bounds, public) {
            Ok(check) => check,
            Err(broken) => return Ok(Err(broken)),
        };
        // A page at a time: memory holds one page and the checkpoints.
        let mut after = head.start_seq;
        loop {
            let page = self.store.audit_chain(tenant, after, CHAIN_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                if let Err(broken) = check.push(e) {
                    return Ok(Err(broken));
                }
            }
            if page.len() < CHAIN_PAGE as usize {
                break;
            }
        }
        Ok(check.finish())
    }

    /// Cuts every chain at its latest checkpoint signed more than
    /// `retention` ago, so that what remains still verifies; how many
    /// entries went.
    pub async fn prune_audit(&self, retention: chrono::Duration) -> StoreResult<u64> {
        let cutoff = self.now() - retention;
        let mut pruned = 0;
        for head in self.store.audit_heads().await? {
            let checkpoints = self.store.checkpoints(&head.tenant_id).await?;
            if let Some(cut) = audit::cut_point(&checkpoints, head.start_seq, cutoff) {
                pruned += self.store.prune_audit(cut).await?;
            }
        }
        Ok(pruned)
    }

    /// The tenant's chain from after `after_seq`, a page at a time, in order.
    pub async fn audit_page(
        &self,
        tenant: &TenantId,
        after_seq: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.store.audit_chain(tenant, after_seq, CHAIN_PAGE).await
    }
}

/// Where a chain starts and ends, as the store keeps it.
pub struct Bounds {
    pub start_seq: i64,
    pub start_hash: String,
    pub seq: i64,
    pub hash: String,
}

fn head_of(h: &ombud_store::ChainHead) -> Bounds {
    Bounds {
        start_seq: h.start_seq,
        start_hash: h.start_hash.clone(),
        seq: h.seq,
        hash: h.hash.clone(),
    }
}

/// The whole check: the links, the checkpoints, and that the chain reaches
/// the head the store records (so a cut tail shows even before a checkpoint
/// names it). Used on the live store and on an export, an entry at a time.
pub struct Check<'a> {
    chain: audit::ChainCheck<'a>,
    bounds: &'a Bounds,
}

impl<'a> Check<'a> {
    /// Refuses a chain cut by retention whose start no signed checkpoint
    /// vouches for: its start could have been moved to hide what came before.
    pub fn new(
        checkpoints: &'a [Checkpoint],
        bounds: &'a Bounds,
        public: Option<&'a str>,
    ) -> Result<Self, Break> {
        if bounds.start_seq > 0 {
            let vouched = checkpoints.iter().any(|c| {
                c.seq == bounds.start_seq
                    && c.hash == bounds.start_hash
                    && public.is_none_or(|p| c.signed_by(p))
            });
            if !vouched {
                return Err(Break {
                    seq: bounds.start_seq + 1,
                    id: None,
                    reason: format!(
                        "the chain starts after entry {}, but no signed checkpoint vouches for that start",
                        bounds.start_seq
                    ),
                });
            }
        }
        Ok(Self {
            chain: audit::ChainCheck::new(
                checkpoints,
                (bounds.start_seq, &bounds.start_hash),
                public,
            ),
            bounds,
        })
    }

    pub fn push(&mut self, e: &AuditEntry) -> Result<(), Break> {
        self.chain.push(e)
    }

    pub fn finish(self) -> Result<Verified, Break> {
        let (last_seq, last_hash) = self.chain.last();
        if last_seq != self.bounds.seq || last_hash != self.bounds.hash {
            // A checkpoint beyond the end says more than the head does.
            self.chain.finish()?;
            return Err(Break {
                seq: last_seq + 1,
                id: None,
                reason: format!(
                    "missing: the chain ends at entry {last_seq}, but its head is entry {}",
                    self.bounds.seq
                ),
            });
        }
        self.chain.finish()
    }
}

impl Operations {
    /// Records an action on the whole deployment (a backup taken, verified
    /// or restored) in every tenant's trail: each tenant's data was in it.
    /// How many tenants' trails have the entry.
    pub async fn record_deployment_action(
        &self,
        acting: &Acting,
        action: &str,
        target: ombud_core::audit::Target,
        changes: Vec<ombud_core::audit::FieldChange>,
    ) -> StoreResult<usize> {
        let now = self.now();
        let entries: Vec<_> = self
            .store
            .tenants()
            .await?
            .iter()
            .map(|t| {
                acting
                    .entry(&t.id, now, action, target.clone())
                    .with_changes(changes.clone())
            })
            .collect();
        let n = entries.len();
        self.store.record_audit(entries).await?;
        Ok(n)
    }
}

/// The kind of the hourly job that signs the chain heads and prunes what
/// retention lets go.
pub const CHECKPOINT_JOB: &str = "audit.checkpoint";

/// Signs every chain head that moved, then prunes entries past `retention`
/// at a signed checkpoint. Running it twice does no harm: a head already
/// signed is not signed again, and a pruned chain has nothing more to cut.
pub struct CheckpointJob {
    pub ops: Operations,
    pub key: std::sync::Arc<SigningKey>,
    pub retention: chrono::Duration,
}

#[async_trait::async_trait]
impl crate::scheduler::JobHandler for CheckpointJob {
    async fn run(&self, _job: &ombud_store::Job) -> Result<(), String> {
        let signed = self
            .ops
            .sign_checkpoints(&self.key)
            .await
            .map_err(|e| e.to_string())?;
        if signed > 0 {
            tracing::info!(chains = signed, "signed the audit trail's chain heads");
        }
        let pruned = self
            .ops
            .prune_audit(self.retention)
            .await
            .map_err(|e| e.to_string())?;
        if pruned > 0 {
            tracing::info!(
                entries = pruned,
                "the audit trail's oldest entries went (retention)"
            );
        }
        Ok(())
    }
}

/// The checkpoint job, every hour on the hour.
pub fn checkpoint_every_hour() -> crate::scheduler::Recurring {
    crate::scheduler::Recurring::utc(CHECKPOINT_JOB, "0 * * * *")
}
