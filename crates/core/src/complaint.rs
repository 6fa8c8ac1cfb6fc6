//! Complaints: their number, priority, status and the legal moves between statuses.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    CategoryId, ChannelId, ComplaintId, ComplaintPrefix, ContactId, ConversationId, Language,
    TenantId, UserId, ValidationError,
};

/// `{PREFIX}-YYYYMMDD-NNNN`: the tenant's prefix, the tenant-local day it was made, and
/// its place that day (gap-free, from 1). Past 9,999 in a day the count grows a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComplaintNumber(String);

impl ComplaintNumber {
    pub fn new(prefix: &ComplaintPrefix, day: NaiveDate, n: u32) -> Self {
        Self(format!("{}-{}-{:04}", prefix, day.format("%Y%m%d"), n))
    }

    /// Accepts any case and surrounding spaces (people type `pune-20261123-0007`).
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let up = s.trim().to_ascii_uppercase();
        let mut parts = up.splitn(3, '-');
        let (Some(prefix), Some(day), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Self::invalid());
        };
        let ok = ComplaintPrefix::parse(prefix).is_ok()
            && day.len() == 8
            && NaiveDate::parse_from_str(day, "%Y%m%d").is_ok()
            && n.len() >= 4
            && n.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(up))
        } else {
            Err(Self::invalid())
        }
    }

    fn invalid() -> ValidationError {
        ValidationError::new(
            "number",
            "expected a complaint number like PUNE-20261123-0007",
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ComplaintNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ComplaintNumber {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ComplaintNumber> for String {
    fn from(n: ComplaintNumber) -> String {
        n.0
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    ValidationError::new($field, format!("{s:?} is not one of {}", names.join(", ")))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// How urgent a complaint is.
    Priority, "priority" {
    Low => "low",
    Normal => "normal",
    High => "high",
    Urgent => "urgent",
});

string_enum!(
    /// How a complaint reached the tenant.
    Source, "source" {
    Text => "text",
    Voice => "voice",
    Api => "api",
    Staff => "staff",
});

string_enum!(
    /// Where a complaint stands. The legal moves are in [`ComplaintStatus::can_move_to`].
    ComplaintStatus, "status" {
    New => "new",
    PendingValidation => "pending_validation",
    Validated => "validated",
    Acknowledged => "acknowledged",
    InProgress => "in_progress",
    OnHold => "on_hold",
    Escalated => "escalated",
    Resolved => "resolved",
    Closed => "closed",
    Rejected => "rejected",
});

impl ComplaintStatus {
    /// The transition table. Field verification first, where the office
    /// asks for it: a complaint pending validation is validated, rejected, or
    /// escalated when nobody verifies it in time (and an escalated one may
    /// still be validated). Work moves forward through acknowledged / in
    /// progress / on hold / escalated in any order; resolved can be reopened
    /// (back to in progress) or closed; closed and rejected are final.
    /// Staying put is not a move.
    pub fn allowed_next(self) -> &'static [ComplaintStatus] {
        use ComplaintStatus::*;
        match self {
            New => &[
                PendingValidation,
                Acknowledged,
                InProgress,
                OnHold,
                Escalated,
                Resolved,
                Rejected,
            ],
            PendingValidation => &[Validated, Escalated, Rejected],
            Validated => &[
                Acknowledged,
                InProgress,
                OnHold,
                Escalated,
                Resolved,
                Rejected,
            ],
            Acknowledged => &[InProgress, OnHold, Escalated, Resolved, Rejected],
            InProgress => &[OnHold, Escalated, Resolved, Rejected],
            OnHold => &[InProgress, Escalated, Resolved, Rejected],
            Escalated => &[Validated, InProgress, OnHold, Resolved, Rejected],
            Resolved => &[InProgress, Closed],
            Closed | Rejected => &[],
        }
    }

    /// A filter's statuses as given: each one known, at most
    /// [`limits::STATUSES`](crate::limits::STATUSES) of them, repeats dropped.
    pub fn parse_list<S: AsRef<str>>(
        field: &str,
        items: &[S],
    ) -> Result<Vec<ComplaintStatus>, ValidationError> {
        crate::limits::at_most(field, items.len(), crate::limits::STATUSES)?;
        let mut out = Vec::new();
        for item in items {
            let status = Self::parse(item.as_ref().trim())
                .map_err(|e| ValidationError::new(field, e.reason))?;
            if !out.contains(&status) {
                out.push(status);
            }
        }
        Ok(out)
    }

    pub fn can_move_to(self, next: ComplaintStatus) -> bool {
        self.allowed_next().contains(&next)
    }

    /// Checks a move, with an error that says what would have been allowed.
    pub fn transition(self, next: ComplaintStatus) -> Result<ComplaintStatus, ValidationError> {
        if self.can_move_to(next) {
            return Ok(next);
        }
        let allowed: Vec<&str> = self.allowed_next().iter().map(|s| s.as_str()).collect();
        let reason = if allowed.is_empty() {
            format!("a {self} complaint cannot change status")
        } else {
            format!(
                "cannot move from {self} to {next}; allowed: {}",
                allowed.join(", ")
            )
        };
        Err(ValidationError::new("status", reason))
    }

    /// Open complaints are the ones a citizen is still waiting on.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Resolved | Self::Closed | Self::Rejected)
    }

    /// Every open status (a filter's).
    pub fn open() -> Vec<ComplaintStatus> {
        Self::ALL.iter().copied().filter(|s| s.is_open()).collect()
    }
}

/// A tenant's complaint category with its names per language and the keywords that
/// route a message to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub tenant_id: TenantId,
    pub slug: String,
    pub names: BTreeMap<String, String>,
    pub keywords: Vec<String>,
    pub default_priority: Priority,
    pub created_at: DateTime<Utc>,
}

impl Category {
    /// A new complaint's priority when none is given: its category's
    /// default, or normal without a category.
    pub fn priority_for(category: Option<&Category>) -> Priority {
        category.map_or(Priority::Normal, |c| c.default_priority)
    }

    /// The name in `lang`, else English, else the slug.
    pub fn name_in(&self, lang: &Language) -> &str {
        self.names
            .get(lang.as_str())
            .or_else(|| self.names.get("en"))
            .map(String::as_str)
            .unwrap_or(&self.slug)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Complaint {
    pub id: ComplaintId,
    pub tenant_id: TenantId,
    pub number: ComplaintNumber,
    pub channel_id: Option<ChannelId>,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub location: Option<String>,
    /// The ward or zone staff file it under (free text, set by staff).
    pub area: Option<String>,
    /// The member working on it.
    pub assignee_id: Option<UserId>,
    /// The team it was sent to (`ombud_core::routing`): without an assignee
    /// it waits in that team's queue.
    #[serde(default)]
    pub team: Option<String>,
    pub language: Language,
    pub priority: Priority,
    pub status: ComplaintStatus,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its service-level clock (None: no policy covers it).
    #[serde(default)]
    pub sla: Option<crate::sla::SlaClock>,
    /// Where the citizen's location pin put it.
    #[serde(default)]
    pub point: Option<crate::geo::GeoPoint>,
}

/// One line of a complaint's history: who did what, from which value to which.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ComplaintEvent {
    pub complaint_id: ComplaintId,
    pub tenant_id: TenantId,
    /// `contact:<id>`, `user:<id>`, `agent`, `system`.
    pub actor: String,
    /// `created`, `status_changed`, `priority_changed`, `assigned`, `note` …
    pub action: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::ComplaintStatus::*;
    use super::*;

    #[test]
    fn every_move_is_either_in_the_table_or_refused() {
        let legal: &[(ComplaintStatus, ComplaintStatus)] = &[
            (New, PendingValidation),
            (PendingValidation, Validated),
            (PendingValidation, Escalated),
            (PendingValidation, Rejected),
            (Validated, Acknowledged),
            (Validated, InProgress),
            (Validated, OnHold),
            (Validated, Escalated),
            (Validated, Resolved),
            (Validated, Rejected),
            (Escalated, Validated),
            (New, Acknowledged),
            (New, InProgress),
            (New, OnHold),
            (New, Escalated),
            (New, Resolved),
            (New, Rejected),
            (Acknowledged, InProgress),
            (Acknowledged, OnHold),
            (Acknowledged, Escalated),
            (Acknowledged, Resolved),
            (Acknowledged, Rejected),
            (InProgress, OnHold),
            (InProgress, Escalated),
            (InProgress, Resolved),
            (InProgress, Rejected),
            (OnHold, InProgress),
            (OnHold, Escalated),
            (OnHold, Resolved),
            (OnHold, Rejected),
            (Escalated, InProgress),
            (Escalated, OnHold),
            (Escalated, Resolved),
            (Escalated, Rejected),
            (Resolved, InProgress),
            (Resolved, Closed),
        ];
        let mut illegal = 0;
        for &from in ComplaintStatus::ALL {
            for &to in ComplaintStatus::ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
                let result = from.transition(to);
                assert_eq!(result.is_ok(), expected, "{from} -> {to}");
                if let Err(e) = result {
                    illegal += 1;
                    assert_eq!(e.field, "status");
                    assert!(e.reason.contains(from.as_str()), "{}", e.reason);
                }
            }
        }
        // 10 × 10 moves, 36 legal: every one of the other 64 was checked and refused.
        assert_eq!(legal.len(), 36);
        assert_eq!(illegal, 100 - legal.len());
    }

    #[test]
    fn no_status_may_move_to_itself_or_to_new() {
        for &s in ComplaintStatus::ALL {
            assert!(!s.can_move_to(s), "{s}");
            assert!(!s.can_move_to(New), "{s}");
        }
        assert!(Closed.allowed_next().is_empty());
        assert!(Rejected.allowed_next().is_empty());
    }

    #[test]
    fn numbers_format_and_parse() {
        let p = ComplaintPrefix::parse("PUNE").unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let n = ComplaintNumber::new(&p, d, 7);
        assert_eq!(n.as_str(), "PUNE-20261123-0007");
        assert_eq!(ComplaintNumber::parse(" pune-20261123-0007 "), Ok(n));
        assert_eq!(
            ComplaintNumber::new(&p, d, 12345).as_str(),
            "PUNE-20261123-12345"
        );
        for bad in [
            "PUNE-2026-0007",
            "PUNE-20261323-0007",
            "PUNE-20261123-07",
            "P-20261123-0001",
            "hello",
        ] {
            assert!(ComplaintNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_parse_with_a_clear_error() {
        assert_eq!(Priority::parse("urgent"), Ok(Priority::Urgent));
        let e = Priority::parse("asap").unwrap_err();
        assert_eq!(e.field, "priority");
        assert!(e.reason.contains("low, normal, high, urgent"));
        assert_eq!(ComplaintStatus::parse("on_hold"), Ok(OnHold));
    }
}
