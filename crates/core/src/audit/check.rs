//! Checking a chain: signed checkpoints of its head, the Ed25519 key that
//! signs them, the check that names the first entry that does not hold, and
//! where retention may cut.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{time_text, AuditEntry};
use crate::TenantId;

/// The head of a tenant's chain, signed: proof that at `at` the chain ended at
/// `seq` with `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tenant_id: TenantId,
    pub seq: i64,
    pub hash: String,
    pub at: DateTime<Utc>,
    /// The signing key's public half, hex: which key to check with.
    pub key: String,
    /// Ed25519 over [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// What is signed.
    pub fn message(tenant: &TenantId, seq: i64, hash: &str, at: DateTime<Utc>) -> String {
        format!(
            "ombud-audit-checkpoint/1\n{tenant}\n{seq}\n{hash}\n{}",
            time_text(at)
        )
    }

    pub fn sign(
        key: &SigningKey,
        tenant: &TenantId,
        seq: i64,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let at = chrono::SubsecRound::trunc_subsecs(at, 6);
        let sig = key
            .pair
            .sign(Self::message(tenant, seq, hash, at).as_bytes());
        Self {
            tenant_id: tenant.clone(),
            seq,
            hash: hash.to_owned(),
            at,
            key: key.public_hex(),
            signature: hex::encode(sig.as_ref()),
        }
    }

    /// Whether the signature holds for `public` (hex), the key the verifier trusts.
    pub fn signed_by(&self, public: &str) -> bool {
        let (Ok(public), Ok(sig)) = (hex::decode(public), hex::decode(&self.signature)) else {
            return false;
        };
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
            .verify(
                Self::message(&self.tenant_id, self.seq, &self.hash, self.at).as_bytes(),
                &sig,
            )
            .is_ok()
    }
}

/// The Ed25519 key that signs checkpoints.
pub struct SigningKey {
    seed: [u8; 32],
    pair: ring::signature::Ed25519KeyPair,
}

impl SigningKey {
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::random();
        Self::from_seed(seed)
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
            .expect("any 32 bytes are an Ed25519 seed");
        Self { seed, pair }
    }

    /// The seed in base64 (what the key file holds).
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.seed)
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "an audit signing key is 32 bytes".to_string())?;
        Ok(Self::from_seed(seed))
    }

    pub fn public_hex(&self) -> String {
        use ring::signature::KeyPair as _;
        hex::encode(self.pair.public_key().as_ref())
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public_hex())
    }
}

/// The shortest retention the trail may be set to (Indian rules ask that
/// logs be kept a year).
pub const MIN_RETENTION_DAYS: u32 = 365;

/// Where retention may cut a chain so that what remains still verifies: at
/// the latest checkpoint signed before `cutoff` (every entry it covers is
/// older), if that is past the chain's current start.
pub fn cut_point(
    checkpoints: &[Checkpoint],
    start_seq: i64,
    cutoff: DateTime<Utc>,
) -> Option<&Checkpoint> {
    checkpoints
        .iter()
        .filter(|c| c.at < cutoff && c.seq > start_seq)
        .max_by_key(|c| c.seq)
}

/// Where a chain stops holding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub seq: i64,
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "entry {} ({id}): {}", self.seq, self.reason),
            None => write!(f, "entry {}: {}", self.seq, self.reason),
        }
    }
}

/// What a check found good.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: u64,
    pub last_seq: i64,
}

/// Checks one tenant's chain, entries in the order of their `seq`: each
/// entry's hash, its link to the one before, no gaps; then every checkpoint
/// against the entry it names and against `public` (the trusted key, hex).
/// `start` is where a pruned chain begins (the checkpoint it was cut at); a
/// whole chain starts at `(0, GENESIS)`.
pub fn verify(
    entries: &[AuditEntry],
    checkpoints: &[Checkpoint],
    start: (i64, &str),
    public: Option<&str>,
) -> Result<Verified, Break> {
    let mut check = ChainCheck::new(checkpoints, start, public);
    for e in entries {
        check.push(e)?;
    }
    check.finish()
}

/// [`verify`] an entry at a time, so a chain of any length is checked in
/// the memory of its checkpoints: the first entry that does not hold, in
/// the order of the chain, is the one named.
pub struct ChainCheck<'a> {
    /// The checkpoints after the start, by the entry they name.
    checkpoints: std::collections::BTreeMap<i64, &'a Checkpoint>,
    public: Option<&'a str>,
    seq: i64,
    hash: String,
    verified: Verified,
}

impl<'a> ChainCheck<'a> {
    pub fn new(checkpoints: &'a [Checkpoint], start: (i64, &str), public: Option<&'a str>) -> Self {
        Self {
            checkpoints: checkpoints
                .iter()
                .filter(|c| c.seq > start.0)
                .map(|c| (c.seq, c))
                .collect(),
            public,
            seq: start.0,
            hash: start.1.to_owned(),
            verified: Verified {
                last_seq: start.0,
                ..Verified::default()
            },
        }
    }

    /// The last entry checked (or the start): its seq and hash.
    pub fn last(&self) -> (i64, &str) {
        (self.seq, &self.hash)
    }

    /// Checks the next entry of the chain.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), Break> {
        let bad = |reason: String| Break {
            seq: e.seq,
            id: Some(e.entry.id.to_string()),
            reason,
        };
        let seq = self.seq;
        if e.seq != seq + 1 {
            return Err(Break {
                seq: seq + 1,
                id: None,
                reason: if e.seq > seq + 1 {
                    format!(
                        "missing: the chain goes from entry {seq} to entry {} (deleted?)",
                        e.seq
                    )
                } else {
                    format!("out of order: entry {} follows entry {seq}", e.seq)
                },
            });
        }
        if e.prev_hash != self.hash {
            return Err(bad(
                "does not follow the entry before it (inserted, deleted before or reordered?)"
                    .into(),
            ));
        }
        if e.computed_hash() != e.hash {
            return Err(bad("its content does not match its hash (changed?)".into()));
        }
        if let Some(c) = self.checkpoints.remove(&e.seq) {
            self.signed(c)?;
            if c.hash != e.hash {
                return Err(bad(format!(
                    "differs from the checkpoint signed at {} (the chain was rewritten up to here)",
                    time_text(c.at)
                )));
            }
            self.verified.checkpoints += 1;
        }
        self.seq = e.seq;
        self.hash.clone_from(&e.hash);
        self.verified.entries += 1;
        self.verified.last_seq = e.seq;
        Ok(())
    }

    /// After the last entry: a checkpoint naming an entry beyond it means
    /// the tail was cut.
    pub fn finish(self) -> Result<Verified, Break> {
        if let Some(c) = self.checkpoints.values().next() {
            self.signed(c)?;
            return Err(Break {
                seq: c.seq,
                id: None,
                reason: format!(
                    "missing, though the checkpoint signed at {} names it (the tail was cut?)",
                    time_text(c.at)
                ),
            });
        }
        Ok(self.verified)
    }

    fn signed(&self, c: &Checkpoint) -> Result<(), Break> {
        match self.public {
            Some(public) if !c.signed_by(public) => Err(Break {
                seq: c.seq,
                id: None,
                reason: "the checkpoint naming it is not signed by the audit key".into(),
            }),
            _ => Ok(()),
        }
    }
}
