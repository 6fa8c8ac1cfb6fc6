//! The daily summary's settings: the tenant-local time it goes out.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// When a tenant's daily summary goes out, in its own zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarySettings {
    pub hour: u32,
    pub minute: u32,
}

impl Default for SummarySettings {
    fn default() -> Self {
        Self { hour: 9, minute: 0 }
    }
}

/// The key under which a tenant's summary settings are kept.
pub const SETTINGS_KEY: &str = "summary";

impl SummarySettings {
    /// A time the quarter-hourly sweep can keep: 00:00 to 23:45, on a
    /// quarter hour.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.hour > 23 {
            return Err(ValidationError::new("hour", "must be 0 to 23"));
        }
        if !matches!(self.minute, 0 | 15 | 30 | 45) {
            return Err(ValidationError::new(
                "minute",
                "must be 0, 15, 30 or 45: the summary is looked for every quarter of an hour",
            ));
        }
        Ok(())
    }

    pub fn time(&self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.hour.min(23), self.minute.min(59), 0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_hours_of_the_day_only() {
        assert!(SummarySettings::default().validate().is_ok());
        assert_eq!(SummarySettings::default().time().to_string(), "09:00:00");
        let at = |hour, minute| SummarySettings { hour, minute }.validate();
        assert!(at(23, 45).is_ok());
        assert_eq!(at(24, 0).unwrap_err().field, "hour");
        assert_eq!(at(7, 10).unwrap_err().field, "minute");
    }
}
