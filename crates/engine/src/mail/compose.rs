//! The words of each mail, written when it is sent from what the job names:
//! nothing is sent about an invitation revoked or accepted, or a reset used
//! or expired, since the job was made.

use chrono::{DateTime, Utc};
use ombud_core::account::PASSWORD_RESET_MINUTES;
use ombud_core::seal::SealKey;
use ombud_store::{Store, StoreResult};

use super::{Letter, Mail};

/// The purposes links' tokens are made for (`SealKey::link_token`).
pub const INVITATION: &str = "invitation";
pub const PASSWORD_RESET: &str = "password-reset";

pub async fn letter(
    store: &dyn Store,
    key: &SealKey,
    mail: &Mail,
    now: DateTime<Utc>,
) -> StoreResult<Option<Letter>> {
    match mail {
        Mail::Invitation {
            tenant_id,
            invitation_id,
            base_url,
        } => {
            let open = store.open_invitations(tenant_id).await?;
            let Some(invitation) = open.into_iter().find(|i| &i.id == invitation_id) else {
                return Ok(None);
            };
            if invitation.expires_at <= now {
                return Ok(None);
            }
            let tenant = store
                .tenant(tenant_id)
                .await?
                .map(|t| t.name)
                .unwrap_or_else(|| "your organisation".into());
            let token = key.link_token(INVITATION, invitation_id.as_str());
            let link = format!("{}/app/invite/{token}", base_url.trim_end_matches('/'));
            Ok(Some(Letter {
                to: invitation.email,
                subject: format!("You are invited to {tenant} on Ombud"),
                text: format!(
                    "You are invited to join {tenant} on Ombud, as {role}.\n\n\
                     Open this link to accept, and choose your password:\n\n{link}\n\n\
                     The link works once, until {expires} (UTC).\n\
                     If you did not expect this, you can ignore this mail.\n",
                    role = invitation.role.as_str(),
                    expires = invitation.expires_at.format("%Y-%m-%d %H:%M"),
                ),
            }))
        }
        Mail::PasswordReset {
            reset_id,
            to,
            base_url,
        } => {
            let Some(reset) = store.password_reset_by_id(reset_id).await? else {
                return Ok(None);
            };
            if reset.used_at.is_some() || reset.expires_at <= now {
                return Ok(None);
            }
            let token = key.link_token(PASSWORD_RESET, reset_id.as_str());
            let link = format!("{}/app/reset/{token}", base_url.trim_end_matches('/'));
            Ok(Some(Letter {
                to: to.clone(),
                subject: "Choose a new password for Ombud".into(),
                text: format!(
                    "Someone asked to choose a new password for the Ombud account of {email}.\n\n\
                     Open this link to choose one:\n\n{link}\n\n\
                     The link works once, for {PASSWORD_RESET_MINUTES} minutes. Choosing a new \
                     password signs you out everywhere.\n\
                     If it was not you, you can ignore this mail: your password stays as it is.\n",
                    email = to.as_str(),
                ),
            }))
        }
        Mail::DailySummary {
            tenant_id,
            user_id,
            to,
            date,
            numbers,
        } => {
            // Only while they are a member who wants it.
            let wants = store
                .members(tenant_id)
                .await?
                .iter()
                .any(|m| &m.user.id == user_id && m.daily_summary);
            let Some(tenant) = store.tenant(tenant_id).await?.filter(|_| wants) else {
                return Ok(None);
            };
            Ok(Some(Letter {
                to: to.clone(),
                subject: format!("{}: the day's complaints, {date}", tenant.name),
                text: daily_text(&tenant.name, *date, numbers),
            }))
        }
    }
}

fn daily_text(tenant: &str, date: chrono::NaiveDate, n: &crate::summary::Numbers) -> String {
    let mut text = format!(
        "{tenant}, {date}. Since {} the day before:\n\n\
         New complaints: {}\n\
         Resolved: {}\n\
         Open now: {}\n",
        n.at, n.new, n.resolved, n.open
    );
    if let Some(csat) = n.csat() {
        text.push_str(&format!(
            "Satisfaction: {csat:.0}% of {} rating(s) were 4 or 5\n",
            n.ratings
        ));
    }
    if !n.oldest.is_empty() {
        text.push_str("\nThe oldest open ones:\n");
        for c in &n.oldest {
            text.push_str(&format!(
                "  {}  {}  {} day(s) old\n",
                c.number, c.status, c.days
            ));
        }
    }
    text.push_str(
        "\nYou get this because you asked for it on your account page in Ombud, \
         where you can also stop it.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Numbers;

    #[test]
    fn the_summary_says_its_time_and_the_days_satisfaction_when_there_is_one() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let mut n = Numbers {
            new: 3,
            resolved: 1,
            open: 2,
            oldest: Vec::new(),
            at: "07:30".into(),
            ratings: 0,
            satisfied: 0,
        };
        let quiet = daily_text("Pune office", date, &n);
        assert!(quiet.contains("Since 07:30 the day before"), "{quiet}");
        assert!(!quiet.contains("Satisfaction"), "{quiet}");
        (n.ratings, n.satisfied) = (4, 3);
        let rated = daily_text("Pune office", date, &n);
        assert!(
            rated.contains("Satisfaction: 75% of 4 rating(s) were 4 or 5"),
            "{rated}"
        );
    }
}
