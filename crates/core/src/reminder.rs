//! The reminder to a citizen whose complaint waits for their answer. Staff
//! put a complaint `on_hold` when they have asked the citizen something
//! (a photo, the exact place); when the citizen has not written for the
//! tenant's hours since, they are reminded once, in their language: as text
//! inside WhatsApp's 24-hour window and on channels without one, as the
//! template mapped to the `reminder` notice outside it. The job is made in
//! the transaction that puts the complaint on hold; whether it still stands
//! when it falls due is decided here.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{ComplaintId, ComplaintStatus, ValidationError};

/// The tenant setting's key (JSON).
pub const SETTINGS_KEY: &str = "reminder";
/// The scheduler job that reminds, one per hold.
pub const JOB_KIND: &str = "reminder.send";
/// The timeline's action when a reminder went out.
pub const SENT: &str = "reminder_sent";
/// The longest wait a tenant may set: 30 days.
pub const MAX_HOURS: u32 = 720;

/// A tenant's reminders. Off until an office turns them on: outside the
/// window each one is a template message Meta charges for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReminderSettings {
    pub enabled: bool,
    /// Hours on hold, without a word from the citizen, before the reminder.
    pub after_hours: u32,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            after_hours: 24,
        }
    }
}

impl ReminderSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=MAX_HOURS).contains(&self.after_hours) {
            return Err(ValidationError::new(
                "after_hours",
                "must be 1 to 720 hours (30 days)",
            ));
        }
        Ok(())
    }

    pub fn delay(&self) -> Duration {
        Duration::hours(i64::from(self.after_hours))
    }
}

/// The job's key: one per complaint and hold, so a hold is reminded of once.
pub fn job_key(complaint: &ComplaintId, held_at: DateTime<Utc>) -> String {
    format!("{JOB_KIND}:{complaint}:{}", held_at.timestamp_micros())
}

/// What a reminder job finds when it falls due.
#[derive(Debug, Clone, PartialEq)]
pub struct DueFacts {
    pub status: ComplaintStatus,
    /// The complaint's latest move to `on_hold`.
    pub held_since: Option<DateTime<Utc>>,
    /// A reminder went out since that move (a job run again after a crash).
    pub reminded: bool,
    /// Whether it came from a conversation a reminder can go into.
    pub has_conversation: bool,
    /// When the citizen last wrote in that conversation.
    pub last_inbound: Option<DateTime<Utc>>,
}

/// Whether the reminder of the hold that began at `held_at` goes out, or
/// why not. Any message from the citizen since the hold counts as their
/// answer: staff read it and move the complaint on.
pub fn due(
    settings: &ReminderSettings,
    held_at: DateTime<Utc>,
    facts: &DueFacts,
) -> Result<(), String> {
    if !settings.enabled {
        return Err("reminders are off".into());
    }
    if facts.status != ComplaintStatus::OnHold {
        return Err(format!("no longer on hold (now {})", facts.status));
    }
    // To the microsecond: what a store keeps.
    let micros = |t: DateTime<Utc>| t.timestamp_micros();
    if facts.held_since.map(micros) != Some(micros(held_at)) {
        return Err("put on hold again since; that hold has its own reminder".into());
    }
    if facts.reminded {
        return Err("reminded already".into());
    }
    if !facts.has_conversation {
        return Err("the complaint came from no conversation".into());
    }
    if facts.last_inbound.is_some_and(|at| at >= held_at) {
        return Err("the citizen has written since".into());
    }
    Ok(())
}

/// The reminder in each language Ombud speaks, with `{numbers}` where the
/// complaint numbers go.
pub fn texts() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "en",
            "A reminder about your complaint {numbers}: we are waiting for your answer to our last message before we can go on. Please reply here.",
        ),
        (
            "hi",
            "आपकी शिकायत {numbers} के बारे में याद दिला रहे हैं: आगे बढ़ने के लिए हमें अपने पिछले संदेश पर आपके उत्तर की प्रतीक्षा है। कृपया यहीं उत्तर दें।",
        ),
        (
            "mr",
            "आपल्या तक्रार {numbers} बद्दल आठवण: पुढे जाण्यासाठी आम्ही आमच्या मागील संदेशाला आपल्या उत्तराची वाट पाहत आहोत. कृपया येथेच उत्तर द्या.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap() + Duration::hours(h)
    }

    fn on() -> ReminderSettings {
        ReminderSettings {
            enabled: true,
            after_hours: 24,
        }
    }

    fn held() -> DueFacts {
        DueFacts {
            status: ComplaintStatus::OnHold,
            held_since: Some(at(0)),
            reminded: false,
            has_conversation: true,
            last_inbound: Some(at(-1)),
        }
    }

    #[test]
    fn settings_are_off_by_default_and_bounded() {
        let s = ReminderSettings::default();
        assert!(!s.enabled);
        assert_eq!(s.delay(), Duration::hours(24));
        assert!(s.validate().is_ok());
        for hours in [0, MAX_HOURS + 1] {
            let s = ReminderSettings {
                enabled: true,
                after_hours: hours,
            };
            assert_eq!(s.validate().unwrap_err().field, "after_hours");
        }
        let read: ReminderSettings = serde_json::from_str(r#"{"enabled":true}"#).unwrap();
        assert_eq!(read.after_hours, 24);
        assert!(serde_json::from_str::<ReminderSettings>(r#"{"hours":3}"#).is_err());
    }

    #[test]
    fn a_hold_is_reminded_of_once_while_it_stands_and_the_citizen_is_silent() {
        assert_eq!(due(&on(), at(0), &held()), Ok(()));
        let why = |facts: DueFacts| due(&on(), at(0), &facts).unwrap_err();
        assert_eq!(
            due(&ReminderSettings::default(), at(0), &held()).unwrap_err(),
            "reminders are off"
        );
        assert_eq!(
            why(DueFacts {
                status: ComplaintStatus::InProgress,
                ..held()
            }),
            "no longer on hold (now in_progress)"
        );
        assert!(why(DueFacts {
            held_since: Some(at(3)),
            ..held()
        })
        .starts_with("put on hold again since"));
        assert_eq!(
            why(DueFacts {
                reminded: true,
                ..held()
            }),
            "reminded already"
        );
        assert_eq!(
            why(DueFacts {
                has_conversation: false,
                ..held()
            }),
            "the complaint came from no conversation"
        );
        // A word from the citizen after the hold is their answer; one at
        // the very moment of the hold counts too.
        for written in [at(0), at(5)] {
            assert_eq!(
                why(DueFacts {
                    last_inbound: Some(written),
                    ..held()
                }),
                "the citizen has written since"
            );
        }
        assert_eq!(
            due(
                &on(),
                at(0),
                &DueFacts {
                    last_inbound: None,
                    ..held()
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn one_key_per_hold() {
        let c = ComplaintId::new();
        assert_ne!(job_key(&c, at(0)), job_key(&c, at(1)));
        assert_eq!(job_key(&c, at(0)), job_key(&c, at(0)));
        assert!(texts().iter().all(|(_, t)| t.contains("{numbers}")));
    }
}
