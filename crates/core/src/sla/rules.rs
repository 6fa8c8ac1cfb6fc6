//! The rules of a complaint's clock: starting it under the policy that
//! covers the complaint, moving it on with each change (responded,
//! resolved, reopened, paused and resumed, another policy), the alerts it
//! has to come, and what a warning or breach does when it falls due.

use chrono::{DateTime, Duration, Utc};

use super::{Deadline, Policy, SlaClock, SlaSettings, Stage, Target};
use crate::calendar::Calendar;
use crate::change::ComplaintChange;
use crate::{Complaint, ComplaintStatus, Priority, TimeZoneName, UserId};

/// What the store needs to keep a complaint's clock: the tenant's policies,
/// calendar and zone, read by the engine before the change.
#[derive(Debug, Clone)]
pub struct SlaRules {
    pub settings: SlaSettings,
    pub calendar: Calendar,
    pub zone: TimeZoneName,
}

/// A warning or breach of one deadline, and when it falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub target: Target,
    pub stage: Stage,
    /// The deadline it is about (one found moved by then stands down).
    pub due_at: DateTime<Utc>,
    /// When staff are to be told: the warning's time, or the deadline.
    pub run_at: DateTime<Utc>,
}

impl SlaClock {
    /// The warnings and breaches still to come on this clock, earliest
    /// first: each running deadline's warning (when the policy warns and it
    /// was not given) and its breach. None while the clock is paused.
    pub fn alerts(&self) -> Vec<Alert> {
        if self.paused_at.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for target in Target::ALL {
            let Some(d) = self.deadline(target).filter(|d| d.running()) else {
                continue;
            };
            if let (Some(warn_at), None) = (d.warn_at, d.warned_at) {
                out.push(Alert {
                    target,
                    stage: Stage::Warning,
                    due_at: d.due_at,
                    run_at: warn_at,
                });
            }
            out.push(Alert {
                target,
                stage: Stage::Breach,
                due_at: d.due_at,
                run_at: d.due_at,
            });
        }
        out.sort_by_key(|a| a.run_at);
        out
    }
}

/// When the scheduler's sweep next has something to tell staff about `c`:
/// the earliest of its clock's [`SlaClock::alerts`] while it is open (None:
/// nothing to come). The stores keep it on the complaint, written with its
/// clock, so the sweep finds what is due by one indexed column.
pub fn next_alert(c: &Complaint) -> Option<DateTime<Utc>> {
    let clock = c.sla.as_ref().filter(|_| c.status.is_open())?;
    clock.alerts().first().map(|a| a.run_at)
}

/// The alerts due on `c` at `now` that still stand ([`check`]), earliest
/// first. Telling staff of them (marking each) moves [`next_alert`] past
/// `now`: a warning whose deadline has passed stands down for its breach,
/// which is due too.
pub fn due_alerts(c: &Complaint, now: DateTime<Utc>) -> Vec<Alert> {
    let Some(clock) = c.sla.as_ref() else {
        return Vec::new();
    };
    clock
        .alerts()
        .into_iter()
        .filter(|a| a.run_at <= now && check(c, a.target, a.stage, a.due_at, now).is_ok())
        .collect()
}

impl SlaRules {
    fn policy_for(&self, c: &Complaint) -> Option<&Policy> {
        if !self.settings.enabled {
            return None;
        }
        // The most specific: category and priority, then category, then
        // priority, then neither (no two policies cover the same pair).
        self.settings
            .policies
            .iter()
            .filter(|p| p.covers(c))
            .max_by_key(|p| p.specificity())
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
}

/// Whether the warning or breach of the deadline `due_at` still stands for
/// `c` when the sweep (or a job made before the sweep) looks at `now`: Ok, or why not (the deadline moved, was
/// met, the clock is paused, the complaint is done, it was told already, or
/// a warning comes after its deadline).
pub fn check(
    c: &Complaint,
    target: Target,
    stage: Stage,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
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
    // A warning run late, after its deadline (every replica was down, or
    // the clock jumped): the breach tells staff what matters.
    if stage == Stage::Warning && now >= due_at {
        return Err("the deadline has passed: its breach tells staff".into());
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
/// escalation owner; or, for a policy that escalates to a team, the
/// complaint to that team's queue, without its assignee (the team's next
/// member with room takes it).
pub fn escalation(
    c: &Complaint,
    owner: Option<&UserId>,
    team: Option<&str>,
) -> Vec<ComplaintChange> {
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
    if let Some(team) = team.filter(|t| c.team.as_deref() != Some(*t)) {
        out.push(ComplaintChange::Team(Some(team.to_owned())));
        if c.assignee_id.is_some() {
            out.push(ComplaintChange::Assign(None));
        }
    }
    out
}
