use chrono::{DateTime, NaiveDate, Utc};

use crate::{Language, TenantId, ValidationError};

/// An organisation receiving complaints. Every row Ombud stores belongs to one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub complaint_prefix: ComplaintPrefix,
    pub default_language: Language,
    pub timezone: TimeZoneName,
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// The tenant's calendar day at `at`: complaint numbers count per this day.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        self.timezone.local_date(at)
    }
}

/// URL-safe tenant handle: 2–40 of `a-z`, `0-9`, `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = (2..=40).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "slug",
                "must be 2-40 characters of a-z, 0-9 and '-', starting with a letter",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TenantSlug> for String {
    fn from(s: TenantSlug) -> String {
        s.0
    }
}

/// The letters before a complaint number (`PUNE` in `PUNE-20261123-0007`): 2–8 of A-Z.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComplaintPrefix(String);

impl ComplaintPrefix {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if (2..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "prefix",
                "must be 2-8 uppercase letters A-Z",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ComplaintPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ComplaintPrefix {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ComplaintPrefix> for String {
    fn from(s: ComplaintPrefix) -> String {
        s.0
    }
}

/// An IANA time zone name (`Asia/Kolkata`) known to the embedded tz database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String, chrono_tz::Tz);

impl TimeZoneName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        s.parse::<chrono_tz::Tz>()
            .map(|tz| Self(s.to_owned(), tz))
            .map_err(|_| {
                ValidationError::new(
                    "timezone",
                    format!("{s:?} is not an IANA time zone such as \"Asia/Kolkata\""),
                )
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone itself, for reading times in it.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.1
    }

    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.1).date_naive()
    }

    /// The UTC instant at which the local day containing `at` began.
    pub fn start_of_local_day(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.start_of_date(self.local_date(at))
    }

    /// The UTC instant at which the local `date` begins (its first valid
    /// local time where a clock change skips midnight).
    pub fn start_of_date(&self, date: NaiveDate) -> DateTime<Utc> {
        use chrono::TimeZone;
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        (0..4)
            .find_map(|h| {
                self.1
                    .from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                    .earliest()
            })
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    }

    /// The zone's offset from UTC at `at`, in minutes (330 for India).
    pub fn offset_minutes(&self, at: DateTime<Utc>) -> i64 {
        use chrono::Offset;
        i64::from(at.with_timezone(&self.1).offset().fix().local_minus_utc()) / 60
    }

    /// `at` as a local date and time, for people.
    pub fn local_time(&self, at: DateTime<Utc>) -> chrono::NaiveDateTime {
        at.with_timezone(&self.1).naive_local()
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TimeZoneName> for String {
    fn from(s: TimeZoneName) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn slugs_and_prefixes_are_validated() {
        assert!(TenantSlug::parse("pune-east").is_ok());
        for bad in ["P", "Pune", "-pune", "pune east", "1pune"] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
        assert!(ComplaintPrefix::parse("PUNE").is_ok());
        for bad in ["P", "pune", "PUNE1", "TOOLONGPREFIX"] {
            assert!(ComplaintPrefix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_date_follows_the_tenant_zone() {
        let tz = TimeZoneName::parse("Asia/Kolkata").expect("known zone");
        // 20:00 UTC on the 22nd is 01:30 on the 23rd in India.
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 20, 0, 0).unwrap();
        assert_eq!(tz.local_date(at).to_string(), "2026-11-23");
        assert_eq!(
            tz.start_of_local_day(at),
            Utc.with_ymd_and_hms(2026, 11, 22, 18, 30, 0).unwrap()
        );
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
    }
}
