//! Service levels: how soon a complaint must first be answered and resolved,
//! by category and priority, in business time (the tenant's
//! [`Calendar`]) or calendar time; the clock each complaint carries; when it
//! pauses (the complaint is `on_hold`, waiting for the citizen) and resumes;
//! and what a breach does. The rules live here once; the stores keep the
//! clock on the complaint with its next alert ([`next_alert`]), written in
//! the change's transaction, and the scheduler's minutely `sla.sweep` tells
//! staff of the alerts due ([`due_alerts`]), each checked again ([`check`])
//! in the transaction that marks it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CategoryId, Complaint, Priority, UserId, ValidationError};

/// The tenant setting that holds the policies ([`SlaSettings`]).
pub const SETTINGS_KEY: &str = "sla";
/// The tenant setting that holds the business calendar.
pub const CALENDAR_KEY: &str = "calendar";
/// The scheduler's job that looks for alerts due, every minute.
pub const SWEEP_JOB: &str = "sla.sweep";
/// One deadline's warning or breach: the jobs of a version before the sweep,
/// still run after an upgrade for the complaints they were made for.
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
    /// Or the team it is sent to (a slug of `ombud_core::routing`): it
    /// leaves its assignee and the team's next member with room takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to_team: Option<String>,
}

impl Policy {
    fn covers(&self, c: &Complaint) -> bool {
        self.category_id
            .as_ref()
            .is_none_or(|id| c.category_id.as_ref() == Some(id))
            && self.priority.is_none_or(|p| p == c.priority)
    }

    /// How narrowly it covers: a category counts more than a priority.
    pub(crate) fn specificity(&self) -> u8 {
        2 * u8::from(self.category_id.is_some()) + u8::from(self.priority.is_some())
    }

    pub fn minutes(&self, target: Target) -> Option<u32> {
        match target {
            Target::FirstResponse => self.first_response_minutes,
            Target::Resolution => self.resolution_minutes,
        }
    }
}

/// A tenant's policies. A complaint takes the most specific one that covers
/// it: the one for its category and priority, else its category, else its
/// priority, else the one for any complaint.
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
                escalate_to_team: None,
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
            if let Some(q) = self.policies[..i]
                .iter()
                .find(|q| q.category_id == p.category_id && q.priority == p.priority)
            {
                return Err(ValidationError::new(
                    field("priority"),
                    format!(
                        "“{}” already covers the same category and priority",
                        q.name.trim()
                    ),
                ));
            }
            if p.escalate_to.is_some() && p.escalate_to_team.is_some() {
                return Err(ValidationError::new(
                    field("escalate_to_team"),
                    "a breach goes to a member or to a team, not both",
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

mod report;
mod rules;

pub use report::{Met, SlaReport};
pub use rules::{check, due_alerts, escalation, mark, next_alert, Alert, SlaRules};

#[cfg(test)]
mod tests;
