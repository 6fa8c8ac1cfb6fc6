//! Field verification in the store: the reminder and escalation jobs a
//! complaint gets in the transaction that puts it in `pending_validation`
//! (at creation or by a change). The rules are
//! `ombud_core::verification`'s; the engine runs the jobs.

use chrono::{DateTime, Utc};
use ombud_core::*;

/// The reminder and escalation jobs of `c`, which entered
/// `pending_validation` at `since` (`ombud_core::verification`).
pub(crate) fn timer_jobs(
    c: &Complaint,
    settings: &ombud_core::verification::VerificationSettings,
    since: DateTime<Utc>,
) -> Vec<crate::NewJob> {
    settings
        .timers(&c.id, since)
        .into_iter()
        .map(|timer| crate::NewJob {
            id: JobId::new(),
            kind: timer.stage.job_kind().into(),
            key: timer.job_key(),
            tenant_id: Some(c.tenant_id.clone()),
            payload: timer.payload(),
            schedule: None,
            due_at: timer.run_at,
            max_attempts: 5,
        })
        .collect()
}
