//! A complaint's history as its page tells it: who did what, in words, the
//! citizen's answer to the satisfaction survey, and its deadlines.

use std::collections::HashMap;

use ombud_core::{Complaint, ComplaintEvent, Tenant};

use super::complaints::local;

pub struct Moment {
    pub at: String,
    pub who: String,
    pub what: String,
    /// A note's sanitized HTML.
    pub note: Option<String>,
}

/// The lines of `events`, with people by name (`names`: `user:<id>` and
/// `api:<key id>` to a name) and categories, members, areas and teams named
/// by the page.
pub fn moments(
    tenant: &Tenant,
    events: &[ComplaintEvent],
    names: &HashMap<String, String>,
    category_name: &dyn Fn(Option<&str>) -> String,
    member_name: &dyn Fn(Option<&str>) -> String,
    area_name: &dyn Fn(&str) -> String,
    team_name: &dyn Fn(&str) -> String,
) -> Vec<Moment> {
    events
        .iter()
        .map(|e| {
            let who = who(&e.actor, names);
            let (from, to) = (e.from_value.as_deref(), e.to_value.as_deref());
            let what = match e.action.as_str() {
                "created" => "registered the complaint".to_owned(),
                "status_changed" => format!(
                    "changed the status from {} to {}",
                    from.unwrap_or("?").replace('_', " "),
                    to.unwrap_or("?").replace('_', " ")
                ),
                "priority_changed" => format!("set the priority to {}", to.unwrap_or("?")),
                "category_changed" => format!("moved it to {}", category_name(to)),
                "assigned" => format!("assigned it to {}", member_name(to)),
                "area_changed" => match to {
                    Some(area) => format!("set the area to {}", area_name(area)),
                    None => "cleared the area".to_owned(),
                },
                "team_changed" => match to {
                    Some(team) => format!("sent it to the team “{}”", team_name(team)),
                    None => "took it out of its team's queue".to_owned(),
                },
                "note" => "added an internal note".to_owned(),
                "notify_failed" => to.unwrap_or("could not notify the citizen").to_owned(),
                "survey_sent" => {
                    "asked the citizen how it was handled (satisfaction survey)".to_owned()
                }
                ombud_core::reminder::SENT => {
                    "reminded the citizen that their answer is awaited".to_owned()
                }
                "survey_rated" => format!("rated it {}", to.unwrap_or("?")),
                "survey_solved" => format!("said the problem is {}", to.unwrap_or("?")),
                "survey_comment" => format!("commented: “{}”", to.unwrap_or("")),
                "sla_warning" => format!("warned that the {} deadline is near", sla_target(to)),
                "sla_breached" => format!(
                    "marked the {} deadline missed and escalated it",
                    sla_target(to)
                ),
                other => other.replace('_', " "),
            };
            Moment {
                at: local(tenant, e.created_at),
                who,
                what,
                note: (e.action == "note").then(|| e.to_value.clone().unwrap_or_default()),
            }
        })
        .collect()
}

/// Who an actor of the history, or the sender of a message, is in words:
/// people by name (`names`: members and API keys).
pub fn who(actor: &str, names: &HashMap<String, String>) -> String {
    match actor {
        "agent" | ombud_core::message::BOT => "the bot".to_owned(),
        ombud_core::message::SYSTEM => "Ombud".to_owned(),
        ombud_core::sla::ACTOR => "Ombud (service level)".to_owned(),
        ombud_core::routing::ACTOR => "Ombud (assignment rules)".to_owned(),
        ombud_core::verification::ACTOR => "Ombud (field verification)".to_owned(),
        a if a.starts_with("contact:") => "the citizen".to_owned(),
        a => names
            .get(a)
            .cloned()
            .unwrap_or_else(|| "a former member".into()),
    }
}

fn sla_target(to: Option<&str>) -> &'static str {
    to.and_then(ombud_core::sla::Target::parse)
        .map_or("service level", ombud_core::sla::Target::label)
}

/// A survey's answer as the complaint page says it: "2/5, not solved
/// (reopened): “…”".
pub fn rating_words(s: &ombud_core::survey::Survey) -> String {
    let mut out = format!("{}/5", s.rating.unwrap_or_default());
    match (s.solved, s.reopened) {
        (Some(false), true) => out.push_str(", not solved (reopened)"),
        (Some(false), false) => out.push_str(", not solved"),
        (Some(true), _) => out.push_str(", solved"),
        _ => {}
    }
    if let Some(c) = &s.comment {
        out.push_str(&format!(": “{c}”"));
    }
    out
}

/// A complaint's deadlines as its page says them: "due 14 Dec 2026, 09:30;
/// missed (14 Dec 2026, 09:31)".
pub fn deadlines(tenant: &Tenant, c: &Complaint) -> Vec<(&'static str, String)> {
    use ombud_core::sla::Target;
    let Some(clock) = &c.sla else {
        return Vec::new();
    };
    Target::ALL
        .into_iter()
        .filter_map(|target| {
            let d = clock.deadline(target)?;
            let mut text = format!("due {}", local(tenant, d.due_at));
            if let Some(at) = d.met_at {
                text.push_str(&format!("; met {}", local(tenant, at)));
            } else if let Some(at) = d.breached_at {
                text.push_str(&format!("; missed ({})", local(tenant, at)));
            } else if clock.paused_at.is_some() {
                text.push_str("; waiting while on hold");
            } else if d.warned_at.is_some() {
                text.push_str("; due soon");
            }
            let what = match target {
                Target::FirstResponse => "First response",
                Target::Resolution => "Resolution",
            };
            Some((what, text))
        })
        .collect()
}
