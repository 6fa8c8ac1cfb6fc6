//! Areas, teams and assignment rules: the tenant's settings (audited), and
//! the two jobs that apply them. `assign.route` sends a new complaint where
//! the first rule that covers it says; `assign.queues` gives complaints
//! waiting in a team's queue to members with room, oldest first. A rule's
//! assignment goes through the store's change like a member's, guarded in
//! its transaction (`ombud_store::routing`), so two replicas never take a
//! member past their capacity. The rules are `ombud_core::routing`'s.

use std::sync::Arc;

use async_trait::async_trait;
use ombud_core::routing::{self, Areas, Assignment, Routed, Team, Teams};
use ombud_core::sla::SlaRules;
use ombud_core::*;
use ombud_store::routing::{BatchRouting, ByRule};
use ombud_store::{
    AssigneeFilter, ChangeBatch, ChangeOutcome, ComplaintChange, ComplaintFilter, ComplaintSort,
    Job, Store, StoreResult,
};

use super::settings::read_setting;
use super::{Acting, Operations};
use crate::scheduler::{JobHandler, Jobs};

/// Complaints one drain gives out at most (the rest wait for the next).
const DRAIN_MAX: usize = 1000;

/// A tenant's areas, teams and rules, as read together.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub areas: Areas,
    pub teams: Teams,
    pub assignment: Assignment,
}

impl Routing {
    pub async fn read(store: &dyn Store, tenant: &TenantId) -> StoreResult<Self> {
        Ok(Self {
            areas: read_setting(store, tenant, routing::AREAS_KEY).await?,
            teams: read_setting(store, tenant, routing::TEAMS_KEY).await?,
            assignment: read_setting(store, tenant, routing::RULES_KEY).await?,
        })
    }

    /// Whether anything routes: rules to apply, or queues to drain.
    pub fn active(&self) -> bool {
        !self.assignment.rules.is_empty() || !self.teams.teams.is_empty()
    }

    /// What a change batch of this tenant carries.
    pub fn batch(&self) -> Option<BatchRouting> {
        self.active().then(BatchRouting::default)
    }

    /// The catalogue's area a new complaint's location names, if one does.
    pub fn area_for(
        &self,
        location: Option<&str>,
        point: Option<&ombud_core::geo::GeoPoint>,
    ) -> Option<String> {
        // A pin inside an area's outline says where more surely than words.
        point
            .and_then(|p| self.areas.for_point(p))
            .or_else(|| location.and_then(|l| self.areas.for_location(l)))
            .map(|a| a.slug.clone())
    }

    /// Refuses an area outside the catalogue (once the tenant has one) and
    /// a team that does not exist.
    pub fn check(&self, change: &ComplaintChange) -> Result<(), ValidationError> {
        match change {
            ComplaintChange::Area(Some(a))
                if !self.areas.areas.is_empty() && self.areas.find(a).is_none() =>
            {
                Err(ValidationError::new(
                    "area",
                    "is not an area of this organisation's catalogue",
                ))
            }
            ComplaintChange::Team(Some(t)) if self.team(t).is_none() => {
                Err(ValidationError::new("team", "no such team"))
            }
            _ => Ok(()),
        }
    }

    /// The team a complaint's `team` names.
    pub fn team(&self, slug: &str) -> Option<Team> {
        routing::team_named(slug, &self.teams, &self.areas)
    }
}

/// What routing one complaint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// Someone already has it, it is closed, or no rule covers it.
    Left(String),
    Assigned(UserId),
    /// In the team's queue: nobody has room.
    Queued(String),
}

impl Operations {
    pub async fn routing(&self, tenant: &TenantId) -> StoreResult<Routing> {
        Routing::read(self.store.as_ref(), tenant).await
    }

    /// Replaces the area catalogue. Field staff must be members; an area a
    /// rule matches on cannot be taken out.
    pub async fn set_areas(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        areas: Areas,
    ) -> StoreResult<Areas> {
        areas.validate()?;
        self.check_members(tenant, areas.members()).await?;
        let now = self.routing(tenant).await?;
        for old in &now.areas.areas {
            let used = now.assignment.naming_area(&old.slug);
            if areas.find(&old.slug).is_none() && !used.is_empty() {
                return Err(ValidationError::new(
                    "areas",
                    format!("the area “{}” is used by the rule “{}”", old.slug, used[0]),
                )
                .into());
            }
        }
        self.set_setting(
            acting,
            tenant,
            routing::AREAS_KEY,
            "settings.areas_changed",
            &areas,
        )
        .await?;
        self.schedule_drain(tenant).await?;
        Ok(areas)
    }

    /// Replaces the teams. Members must be the tenant's; a team a rule sends
    /// complaints to cannot be taken out. A capacity raised lets the queues
    /// drain at once.
    pub async fn set_teams(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        teams: Teams,
    ) -> StoreResult<Teams> {
        teams.validate()?;
        self.check_members(tenant, teams.members()).await?;
        let now = self.routing(tenant).await?;
        let sla = self.sla_settings(tenant).await?;
        for old in &now.teams.teams {
            let mut used = now.assignment.naming_team(&old.slug);
            used.extend(
                sla.policies
                    .iter()
                    .filter(|p| p.escalate_to_team.as_deref() == Some(old.slug.as_str()))
                    .map(|p| p.name.as_str()),
            );
            if teams.find(&old.slug).is_none() && !used.is_empty() {
                return Err(ValidationError::new(
                    "teams",
                    format!("the team “{}” is used by “{}”", old.slug, used[0]),
                )
                .into());
            }
        }
        self.set_setting(
            acting,
            tenant,
            routing::TEAMS_KEY,
            "settings.teams_changed",
            &teams,
        )
        .await?;
        self.schedule_drain(tenant).await?;
        Ok(teams)
    }

    /// Replaces the assignment rules (tried in order). They may name only
    /// the tenant's categories, areas, teams and members.
    pub async fn set_assignment(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        assignment: Assignment,
    ) -> StoreResult<Assignment> {
        let now = self.routing(tenant).await?;
        assignment.validate(&now.teams, &now.areas)?;
        self.check_members(tenant, assignment.members()).await?;
        let categories = assignment.rules.iter().enumerate().filter_map(|(i, r)| {
            let id = r.category_id.as_ref()?;
            Some((format!("rules[{i}].category_id"), id))
        });
        self.check_categories(tenant, categories).await?;
        let key = routing::RULES_KEY;
        self.set_setting(
            acting,
            tenant,
            key,
            "settings.assignment_changed",
            &assignment,
        )
        .await?;
        Ok(assignment)
    }

    /// Refuses the first of `named` (each with the field naming it) that
    /// is not a member of the tenant.
    pub(crate) async fn check_members<'a>(
        &self,
        tenant: &TenantId,
        named: impl Iterator<Item = (String, &'a UserId)>,
    ) -> StoreResult<()> {
        let members = self.store.members(tenant).await?;
        for (field, user) in named {
            if !members.iter().any(|m| &m.user.id == user) {
                let reason = "is not a member of this organisation";
                return Err(ValidationError::new(field, reason).into());
            }
        }
        Ok(())
    }

    /// Refuses the first of `named` that is not one of the tenant's
    /// categories.
    pub(crate) async fn check_categories<'a>(
        &self,
        tenant: &TenantId,
        named: impl Iterator<Item = (String, &'a CategoryId)>,
    ) -> StoreResult<()> {
        let categories = self.store.categories(tenant).await?;
        for (field, id) in named {
            if !categories.iter().any(|c| &c.id == id) {
                return Err(ValidationError::new(field, "no such category").into());
            }
        }
        Ok(())
    }

    /// Queues a drain of the tenant's teams now.
    async fn schedule_drain(&self, tenant: &TenantId) -> StoreResult<()> {
        let job = ombud_store::routing::drain_job(tenant, self.now());
        self.store.schedule_job(job, self.now()).await?;
        Ok(())
    }

    /// Where the rules send complaint `id`, done: assigned to a member, or
    /// to a team whose next member with room takes it (else it waits in the
    /// team's queue). A complaint someone has, or one already with a team,
    /// is left alone: so the job may run twice.
    pub async fn route_complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
    ) -> StoreResult<RouteOutcome> {
        let Some(c) = self.store.complaint(tenant, id).await? else {
            return Ok(RouteOutcome::Left("not found".into()));
        };
        if c.assignee_id.is_some() || c.team.is_some() || !c.status.is_open() {
            return Ok(RouteOutcome::Left("already routed".into()));
        }
        let routing = self.routing(tenant).await?;
        let sla = super::sla::rules(self.store.as_ref(), tenant).await?;
        match routing.assignment.route(&c, &routing.teams, &routing.areas) {
            Routed::NoRule => Ok(RouteOutcome::Left("no rule covers it".into())),
            Routed::Nowhere { reason, .. } => Ok(RouteOutcome::Left(reason)),
            Routed::Member { user_id, .. } => {
                let alone = Team::of_one(user_id.clone());
                match self.assign_by_rule(tenant, &c.id, &alone, &sla).await? {
                    Ok(()) => Ok(RouteOutcome::Assigned(user_id)),
                    Err(reason) => Ok(RouteOutcome::Left(reason)),
                }
            }
            Routed::Team { team, .. } => {
                let sent = self
                    .rule_change(
                        tenant,
                        &c.id,
                        ComplaintChange::Team(Some(team.slug.clone())),
                        None,
                        &sla,
                    )
                    .await?;
                if let Err(reason) = sent {
                    return Ok(RouteOutcome::Left(reason));
                }
                self.drain_team(tenant, &team, &sla).await?;
                Ok(
                    match self
                        .store
                        .complaint(tenant, id)
                        .await?
                        .and_then(|c| c.assignee_id)
                    {
                        Some(user) => RouteOutcome::Assigned(user),
                        None => RouteOutcome::Queued(team.slug),
                    },
                )
            }
        }
    }

    /// Gives every team's waiting complaints to members with room; returns
    /// how many were assigned.
    pub async fn drain(&self, tenant: &TenantId) -> StoreResult<usize> {
        let routing = self.routing(tenant).await?;
        let mut teams: Vec<Team> = routing.teams.teams.clone();
        teams.extend(
            routing
                .areas
                .areas
                .iter()
                .filter(|a| !a.field_staff.is_empty())
                .map(routing::Area::field_team),
        );
        let sla = super::sla::rules(self.store.as_ref(), tenant).await?;
        let mut assigned = 0;
        for team in &teams {
            assigned += self.drain_team(tenant, team, &sla).await?;
        }
        Ok(assigned)
    }

    /// Gives `team`'s waiting complaints, oldest first, to its members in
    /// turn while someone has room.
    async fn drain_team(
        &self,
        tenant: &TenantId,
        team: &Team,
        sla: &SlaRules,
    ) -> StoreResult<usize> {
        if team.members.is_empty() {
            return Ok(0);
        }
        let filter = ComplaintFilter {
            statuses: ComplaintStatus::open(),
            assignee: Some(AssigneeFilter::Nobody),
            team: Some(team.slug.clone()),
            ..Default::default()
        };
        let waiting = self
            .store
            .list_complaints(
                tenant,
                &filter,
                ComplaintSort::Oldest,
                None,
                DRAIN_MAX as u32,
            )
            .await?;
        let mut assigned = 0;
        for row in waiting {
            match self
                .assign_by_rule(tenant, &row.complaint.id, team, sla)
                .await?
            {
                Ok(()) => assigned += 1,
                Err(reason) if reason == ombud_store::routing::NO_ROOM => break,
                // Someone took it meanwhile.
                Err(_) => {}
            }
        }
        Ok(assigned)
    }

    /// Assigns `id` as a rule does, to the member of `team` whose turn it
    /// is, chosen in the store's transaction; only if nobody has it and
    /// someone has room (else why not).
    async fn assign_by_rule(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
        team: &Team,
        sla: &SlaRules,
    ) -> StoreResult<Result<(), String>> {
        let guard = ByRule { team: team.clone() };
        self.rule_change(tenant, id, ComplaintChange::Assign(None), Some(guard), sla)
            .await
    }

    /// One change by the rules, audited as the system (a rule's
    /// assignment: `change` is replaced by the member chosen); or why it
    /// was skipped.
    async fn rule_change(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
        change: ComplaintChange,
        by_rule: Option<ByRule>,
        sla: &SlaRules,
    ) -> StoreResult<Result<(), String>> {
        let batch = ChangeBatch {
            actor: routing::ACTOR.into(),
            at: self.now(),
            change,
            ids: vec![id.clone()],
            notices: None,
            audit: Some(Acting::system()),
            bulk_id: None,
            follow_ups: Default::default(),
            sla: Some(sla.clone()),
            routing: Some(BatchRouting { by_rule }),
            verification: None,
        };
        let outcome = self.store.change_complaints(tenant, batch).await?;
        Ok(match outcome.into_iter().next() {
            Some(ChangeOutcome::Changed(_)) => {
                self.wake_webhooks();
                Ok(())
            }
            Some(ChangeOutcome::Skipped { reason, .. }) => Err(reason),
            None => Err("not found".into()),
        })
    }
}

/// Runs `assign.route` (`{complaint_id}`) and `assign.queues`.
struct RouteJob(Operations);
struct DrainJob(Operations);

#[async_trait]
impl JobHandler for RouteJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = super::surveys::field(job, "complaint_id")?;
        let outcome = self
            .0
            .route_complaint(tenant, &complaint)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(%complaint, ?outcome, "complaint routed");
        Ok(())
    }
}

#[async_trait]
impl JobHandler for DrainJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let n = self.0.drain(tenant).await.map_err(|e| e.to_string())?;
        tracing::info!(assigned = n, "team queues drained");
        Ok(())
    }
}

/// The assignment jobs, run by `ops`.
pub fn with_routing_jobs(jobs: Jobs, ops: Operations) -> Jobs {
    jobs.handle(routing::ROUTE_JOB, Arc::new(RouteJob(ops.clone())))
        .handle(routing::DRAIN_JOB, Arc::new(DrainJob(ops)))
}

/// What the rules would do with a sample complaint (the settings page's
/// "try it").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRoute {
    /// The area: the one given, or the one the location names.
    pub area: Option<String>,
    pub routed: Routed,
    /// The name of the rule it hits.
    pub rule_name: Option<String>,
    /// Who would take it now (for a team: its next member with room).
    pub next: Option<UserId>,
}

/// A sample complaint's facts.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub category_id: Option<CategoryId>,
    pub priority: Option<Priority>,
    pub area: Option<String>,
    pub location: Option<String>,
}

impl Operations {
    /// Which rule a complaint with these facts would hit, and where it
    /// would go now. Nothing is changed.
    pub async fn try_route(&self, tenant: &Tenant, sample: Sample) -> StoreResult<TryRoute> {
        let routing = self.routing(&tenant.id).await?;
        let categories = self.store.categories(&tenant.id).await?;
        let category = sample
            .category_id
            .as_ref()
            .and_then(|id| categories.iter().find(|c| &c.id == id));
        if sample.category_id.is_some() && category.is_none() {
            return Err(ValidationError::new("category_id", "no such category").into());
        }
        let area = sample
            .area
            .clone()
            .or_else(|| routing.area_for(sample.location.as_deref(), None));
        let now = self.now();
        let c = Complaint {
            id: ComplaintId::new(),
            tenant_id: tenant.id.clone(),
            number: ComplaintNumber::new(&tenant.complaint_prefix, tenant.local_date(now), 1),
            channel_id: None,
            contact_id: None,
            conversation_id: None,
            category_id: sample.category_id,
            description: String::new(),
            location: sample.location,
            area: area.clone(),
            assignee_id: None,
            team: None,
            language: tenant.default_language.clone(),
            priority: sample
                .priority
                .unwrap_or_else(|| Category::priority_for(category)),
            status: ComplaintStatus::New,
            source: Source::Staff,
            created_at: now,
            updated_at: now,
            sla: None,
            point: None,
        };
        let routed = routing.assignment.route(&c, &routing.teams, &routing.areas);
        let next = match &routed {
            Routed::Member { user_id, .. } => Some(user_id.clone()),
            Routed::Team { team, .. } => {
                let loads = self.store.member_loads(&tenant.id, &team.members).await?;
                team.pick(&loads)
            }
            _ => None,
        };
        let rule = match &routed {
            Routed::Member { rule, .. }
            | Routed::Team { rule, .. }
            | Routed::Nowhere { rule, .. } => Some(*rule),
            Routed::NoRule => None,
        };
        let rule_name = rule
            .and_then(|i| routing.assignment.rules.get(i))
            .map(|r| r.name.clone());
        Ok(TryRoute {
            area,
            routed,
            rule_name,
            next,
        })
    }
}
