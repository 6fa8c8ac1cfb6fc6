//! Service levels: how soon a complaint must first be answered and resolved,
//! by category and priority, in business time (the tenant's
//! [`Calendar`]) or calendar time; the clock each complaint carries; when it
//! pauses (the complaint is `on_hold`, waiting for the citizen) and resumes;
//! and what a breach does. The rules live here once; the stores keep the
//! clock on the complaint and the scheduler's `sla.warning` and `sla.breach`
//! jobs, made in the same transaction as the change that set a deadline,
//! ask [`check`] when they fall due whether that deadline still stands.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::change::ComplaintChange;
use crate::{
    CategoryId, Complaint, ComplaintStatus, Priority, TimeZoneName, UserId, ValidationError,
};

/// The tenant setting that holds the policies ([`SlaSettings`]).
pub const SETTINGS_KEY: &str = "sla";
/// The tenant setting that holds the business calendar.
pub const CALENDAR_KEY: &str = "calendar";
pub const WARNING_JOB: &str = "sla.warning";
pub const BREACH_JOB: &str = "sla.breach";
/// The actor of what a breach changes.
pub const ACTOR: &str = "system:sla";

/// At most this many policies per tenant.
pub const POLICIES: usize = 50;
/// The longest target: a year.
pub const MAX_MINUTES: u32 = 366 * 24 * 60;

/// The two promises a policy makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Staff first act on the complaint: it leaves `new`.
    FirstResponse,
    /// The complaint is resolved (or rejected).
    Resolution,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::FirstResponse, Target::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// For people: "first response", "resolution".
    pub fn label(self) -> &'static str {
        match self {
            Self::FirstResponse => "first response",
            Self::Resolution => "resolution",
        }
    }
}

/// A warning before a deadline, or its breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Warning,
    Breach,
}

impl Stage {
    pub fn job_kind(self) -> &'static str {
        match self {
            Self::Warning => WARNING_JOB,
            Self::Breach => BREACH_JOB,
        }
    }
}

/// One policy: which complaints it covers (no category or priority: any) and
/// its targets in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub category_id: Option<CategoryId>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub first_response_minutes: Option<u32>,
    #[serde(default)]
    pub resolution_minutes: Option<u32>,
    /// Counted in the tenant's business hours (else around the clock).
    #[serde(default)]
    pub business_hours: bool,
    /// Staff are warned this long before each deadline (0: no warning).
    #[serde(default)]
    pub warn_before_minutes: u32,
    /// Who a breached complaint is assigned to (None: its assignee stays).
    #[serde(default)]
    pub escalate_to: Option<UserId>,
}

impl Policy {
    fn covers(&self, c: &Complaint) -> bool {
        self.category_id
            .as_ref()
            .is_none_or(|id| c.category_id.as_ref() == Some(id))
            && self.priority.is_none_or(|p| p == c.priority)
    }

    pub fn minutes(&self, target: Target) -> Option<u32> {
        match target {
            Target::FirstResponse => self.first_response_minutes,
            Target::Resolution => self.resolution_minutes,
        }
    }
}

/// A tenant's policies, tried in order: the first that covers a complaint is
/// its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    pub enabled: bool,
    pub policies: Vec<Policy>,
}

impl Default for SlaSettings {
    /// The constituency plan's rule: a complaint open for seven days is
    /// escalated (staff are warned a day before).
    fn default() -> Self {
        Self {
            enabled: true,
            policies: vec![Policy {
                name: "Open for 7 days".into(),
                category_id: None,
                priority: None,
                first_response_minutes: None,
                resolution_minutes: Some(7 * 24 * 60),
                business_hours: false,
                warn_before_minutes: 24 * 60,
                escalate_to: None,
            }],
        }
    }
}

impl SlaSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        crate::limits::at_most("policies", self.policies.len(), POLICIES)?;
        for (i, p) in self.policies.iter().enumerate() {
            let field = |f: &str| format!("policies[{i}].{f}");
            let name = p.name.trim();
            if name.is_empty() || name.chars().count() > 80 {
                return Err(ValidationError::new(
                    field("name"),
                    "must be 1 to 80 characters",
                ));
            }
            if self.policies[..i].iter().any(|q| q.name.trim() == name) {
                return Err(ValidationError::new(
                    field("name"),
                    "is used by another policy",
                ));
            }
            if p.first_response_minutes.is_none() && p.resolution_minutes.is_none() {
                return Err(ValidationError::new(
                    field("resolution_minutes"),
                    "a policy needs a first response or a resolution target",
                ));
            }
            for target in Target::ALL {
                let Some(m) = p.minutes(target) else { continue };
                let f = field(&format!("{}_minutes", target.as_str()));
                if !(1..=MAX_MINUTES).contains(&m) {
                    return Err(ValidationError::new(f, "must be 1 minute to 366 days"));
                }
                if p.warn_before_minutes >= m {
                    return Err(ValidationError::new(
                        field("warn_before_minutes"),
                        format!("must be shorter than the {} target", target.label()),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
}

/// One deadline on a complaint's clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub due_at: DateTime<Utc>,
    /// When staff are warned (None: the policy warns nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breached_at: Option<DateTime<Utc>>,
}

impl Deadline {
    /// Still running: neither met nor breached.
    pub fn running(&self) -> bool {
        self.met_at.is_none() && self.breached_at.is_none()
    }
}

/// A complaint's service-level clock: its policy and deadlines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Deadline>,
    /// Set while the complaint is on hold: the deadlines move on by the time
    /// it stays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
}

/// Where a complaint stands against its deadlines, for lists and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Running, not yet near a deadline (or paused).
    OnTrack,
    /// Warned: a deadline is near.
    DueSoon,
    /// A deadline passed unmet.
    Breached,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTrack => "on_track",
            Self::DueSoon => "due_soon",
            Self::Breached => "breached",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        [Self::OnTrack, Self::DueSoon, Self::Breached]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!("{s:?} is not one of on_track, due_soon, breached"),
                )
            })
    }
}

impl SlaClock {
    pub fn deadline(&self, target: Target) -> Option<&Deadline> {
        match target {
            Target::FirstResponse => self.first_response.as_ref(),
            Target::Resolution => self.resolution.as_ref(),
        }
    }

    fn deadline_mut(&mut self, target: Target) -> Option<&mut Deadline> {
        match target {
            Target::FirstResponse => self.first_response.as_mut(),
            Target::Resolution => self.resolution.as_mut(),
        }
    }

    /// Breached if any deadline was, else due soon if any running one was
    /// warned, else on track.
    pub fn state(&self) -> SlaState {
        let all = || Target::ALL.into_iter().filter_map(|t| self.deadline(t));
        if all().any(|d| d.breached_at.is_some()) {
            SlaState::Breached
        } else if all().any(|d| d.running() && d.warned_at.is_some()) {
            SlaState::DueSoon
        } else {
            SlaState::OnTrack
        }
    }

    /// The earliest deadline still running (None while paused), for sorting.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        if self.paused_at.is_some() {
            return None;
        }
        Target::ALL
            .into_iter()
            .filter_map(|t| self.deadline(t))
            .filter(|d| d.running())
            .map(|d| d.due_at)
            .min()
    }
}

/// What the store needs to keep a complaint's clock: the tenant's policies,
/// calendar and zone, read by the engine before the change.
#[derive(Debug, Clone)]
pub struct SlaRules {
    pub settings: SlaSettings,
    pub calendar: Calendar,
    pub zone: TimeZoneName,
}

/// A check the scheduler runs later: the warning or breach of one deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCheck {
    pub target: Target,
    pub stage: Stage,
    /// The deadline checked (a job finding another on the clock stands down).
    pub due_at: DateTime<Utc>,
    pub run_at: DateTime<Utc>,
}

impl PlannedCheck {
    /// The job's key: one per deadline, stage and the change that set it
    /// (`armed_at`), so a complaint reopened against the same deadline is
    /// checked again.
    pub fn job_key(&self, complaint: &crate::ComplaintId, armed_at: DateTime<Utc>) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.stage.job_kind(),
            complaint,
            self.target.as_str(),
            self.due_at.timestamp_micros(),
            armed_at.timestamp_micros()
        )
    }

    pub fn payload(&self, complaint: &crate::ComplaintId) -> serde_json::Value {
        serde_json::json!({
            "complaint_id": complaint,
            "target": self.target,
            "due_at": self.due_at,
        })
    }
}

impl SlaRules {
    fn policy_for(&self, c: &Complaint) -> Option<&Policy> {
        if !self.settings.enabled {
            return None;
        }
        self.settings.policies.iter().find(|p| p.covers(c))
    }

    /// `amount` after `from` in the policy's time.
    fn add(&self, policy: &Policy, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if policy.business_hours {
            // A calendar that never opens counts around the clock rather
            // than never.
            if let Some(at) = self.calendar.add(&self.zone, from, amount) {
                return at;
            }
        }
        from + amount
    }

    fn between(&self, policy: &Policy, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if policy.business_hours
            && self
                .calendar
                .add(&self.zone, from, Duration::minutes(1))
                .is_some()
        {
            return self.calendar.between(&self.zone, from, to);
        }
        to - from
    }

    /// A deadline `amount` of the policy's time after `from`, with its warning.
    fn deadline(&self, policy: &Policy, from: DateTime<Utc>, amount: Duration) -> Deadline {
        let warn = Duration::minutes(i64::from(policy.warn_before_minutes));
        Deadline {
            due_at: self.add(policy, from, amount),
            warn_at: (warn > Duration::zero())
                .then(|| self.add(policy, from, (amount - warn).max(Duration::zero()))),
            ..Deadline::default()
        }
    }

    /// The clock of a complaint made at `at` (its `created_at`): None when no
    /// policy covers it.
    pub fn start(&self, c: &Complaint) -> Option<SlaClock> {
        let policy = self.policy_for(c)?;
        let from = c.created_at;
        let minutes = |t: Target| policy.minutes(t).map(|m| Duration::minutes(i64::from(m)));
        Some(SlaClock {
            policy: policy.name.clone(),
            first_response: minutes(Target::FirstResponse)
                .filter(|_| c.status == ComplaintStatus::New)
                .map(|d| self.deadline(policy, from, d)),
            resolution: minutes(Target::Resolution)
                .filter(|_| c.status.is_open())
                .map(|d| self.deadline(policy, from, d)),
            paused_at: None,
        })
    }

    /// Moves `after`'s clock on for a change from `before` at `at`. Staff
    /// leaving `new` is the first response; resolving or rejecting meets the
    /// resolution; reopening runs it again against the same deadline; on
    /// hold pauses both, and leaving it moves them on by the paused time. A
    /// staff change of category or priority that picks another policy starts
    /// the clock again from the complaint's creation under it (what was met
    /// stays met). What a breach itself changes (`by_staff` false) neither
    /// responds nor picks another policy.
    pub fn after_change(
        &self,
        before: &Complaint,
        after: &mut Complaint,
        at: DateTime<Utc>,
        by_staff: bool,
    ) {
        if by_staff
            && (before.category_id != after.category_id || before.priority != after.priority)
        {
            self.repolicy(after);
        }
        let Some(clock) = after.sla.as_mut() else {
            return;
        };
        let Some(policy) = self.settings.policy(&clock.policy).cloned() else {
            return;
        };
        let (from, to) = (before.status, after.status);
        if from == to {
            return;
        }
        if by_staff && from == ComplaintStatus::New {
            if let Some(d) = clock.first_response.as_mut().filter(|d| d.met_at.is_none()) {
                d.met_at = Some(at);
            }
        }
        if let Some(d) = clock.resolution.as_mut() {
            if !to.is_open() && d.met_at.is_none() && to != ComplaintStatus::Closed {
                d.met_at = Some(at);
            } else if to.is_open() && !from.is_open() {
                d.met_at = None;
            }
        }
        if to == ComplaintStatus::OnHold && clock.paused_at.is_none() {
            clock.paused_at = Some(at);
        } else if from == ComplaintStatus::OnHold {
            if let Some(paused) = clock.paused_at.take() {
                for target in Target::ALL {
                    let Some(d) = clock.deadline_mut(target).filter(|d| d.running()) else {
                        continue;
                    };
                    let left = self.between(&policy, paused, d.due_at);
                    let fresh = self.deadline(&policy, at, left);
                    d.due_at = fresh.due_at;
                    d.warn_at = fresh.warn_at.filter(|_| d.warned_at.is_none());
                }
            }
        }
    }

    /// Starts the clock again under the policy that now covers the complaint,
    /// from its creation, keeping what was met and the pause; a target the
    /// complaint is already past (it left `new`, or is done) without having
    /// met it under the old policy is not set. No policy now: no clock.
    fn repolicy(&self, c: &mut Complaint) {
        let old = c.sla.take();
        let Some(policy) = self.policy_for(c) else {
            return;
        };
        if let Some(old) = old.as_ref().filter(|o| o.policy == policy.name) {
            c.sla = Some(old.clone());
            return;
        }
        let mut fresh = SlaClock {
            policy: policy.name.clone(),
            paused_at: old.as_ref().and_then(|o| o.paused_at),
            ..SlaClock::default()
        };
        for target in Target::ALL {
            let Some(m) = policy.minutes(target) else {
                continue;
            };
            let mut d = self.deadline(policy, c.created_at, Duration::minutes(i64::from(m)));
            d.met_at = old
                .as_ref()
                .and_then(|o| o.deadline(target))
                .and_then(|d| d.met_at);
            let running = match target {
                Target::FirstResponse => c.status == ComplaintStatus::New,
                Target::Resolution => c.status.is_open(),
            };
            if d.met_at.is_some() || running {
                match target {
                    Target::FirstResponse => fresh.first_response = Some(d),
                    Target::Resolution => fresh.resolution = Some(d),
                }
            }
        }
        c.sla = Some(fresh);
    }

    /// The checks to schedule after `after`'s clock was set or moved from
    /// `before`'s: each running deadline that is new or moved gets its
    /// warning (if any, and not given) and its breach.
    pub fn checks(before: Option<&SlaClock>, after: Option<&SlaClock>) -> Vec<PlannedCheck> {
        let Some(after) = after.filter(|c| c.paused_at.is_none()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for target in Target::ALL {
            let Some(d) = after.deadline(target).filter(|d| d.running()) else {
                continue;
            };
            let was = before
                .filter(|b| b.paused_at.is_none() && b.policy == after.policy)
                .and_then(|b| b.deadline(target))
                .filter(|b| b.running());
            if was.is_some_and(|w| w.due_at == d.due_at) {
                continue;
            }
            if let (Some(warn_at), None) = (d.warn_at, d.warned_at) {
                out.push(PlannedCheck {
                    target,
                    stage: Stage::Warning,
                    due_at: d.due_at,
                    run_at: warn_at,
                });
            }
            out.push(PlannedCheck {
                target,
                stage: Stage::Breach,
                due_at: d.due_at,
                run_at: d.due_at,
            });
        }
        out
    }
}

/// Whether the warning or breach of the deadline `due_at` still stands for
/// `c` when its job runs: Ok, or why not (the deadline moved, was met, the
/// clock is paused, the complaint is done, or it was told already).
pub fn check(
    c: &Complaint,
    target: Target,
    stage: Stage,
    due_at: DateTime<Utc>,
) -> Result<(), String> {
    let clock = c.sla.as_ref().ok_or("the complaint has no service level")?;
    let d = clock
        .deadline(target)
        .ok_or_else(|| format!("the policy sets no {} target", target.label()))?;
    if d.due_at != due_at {
        return Err("the deadline moved".into());
    }
    if d.met_at.is_some() {
        return Err(format!("the {} was in time", target.label()));
    }
    if !c.status.is_open() {
        return Err(format!("the complaint is {}", c.status));
    }
    if clock.paused_at.is_some() {
        return Err("the complaint is on hold".into());
    }
    let told = match stage {
        Stage::Warning => d.warned_at.is_some() || d.breached_at.is_some(),
        Stage::Breach => d.breached_at.is_some(),
    };
    if told {
        return Err("staff were told already".into());
    }
    Ok(())
}

/// Marks the warning or breach on `c`'s clock (after [`check`] said Ok).
pub fn mark(c: &mut Complaint, target: Target, stage: Stage, at: DateTime<Utc>) {
    if let Some(d) = c.sla.as_mut().and_then(|clock| clock.deadline_mut(target)) {
        match stage {
            Stage::Warning => d.warned_at = Some(at),
            Stage::Breach => d.breached_at = Some(at),
        }
    }
}

/// What a breach changes: the status to `escalated` (where that is a legal
/// move), the priority one step up, and the assignee to the policy's
/// escalation owner.
pub fn escalation(c: &Complaint, owner: Option<&UserId>) -> Vec<ComplaintChange> {
    let mut out = Vec::new();
    if c.status.can_move_to(ComplaintStatus::Escalated) {
        out.push(ComplaintChange::Status(ComplaintStatus::Escalated));
    }
    let up = match c.priority {
        Priority::Low => Some(Priority::Normal),
        Priority::Normal => Some(Priority::High),
        Priority::High | Priority::Urgent => Some(Priority::Urgent),
    };
    if let Some(p) = up.filter(|p| *p != c.priority) {
        out.push(ComplaintChange::Priority(p));
    }
    if let Some(owner) = owner.filter(|o| c.assignee_id.as_ref() != Some(*o)) {
        out.push(ComplaintChange::Assign(Some(owner.clone())));
    }
    out
}

#[cfg(test)]
mod tests;
