//! The words of each mail, written when it is sent from what the job names:
//! nothing is sent about an invitation revoked or accepted, or a reset used
//! or expired, since the job was made.

use chrono::{DateTime, Utc};
use ombud_core::account::PASSWORD_RESET_MINUTES;
use ombud_core::seal::SealKey;
use ombud_core::{Complaint, Email, Language, Tenant};
use ombud_store::{Store, StoreResult};

use super::account_words::{account_words, fill};
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
            // In the organisation's language.
            let tenant = store.tenant(tenant_id).await?;
            let words = account_words(tenant.as_ref().map(|t| &t.default_language));
            let name = tenant.map_or_else(|| "your organisation".into(), |t| t.name);
            let token = key.link_token(INVITATION, invitation_id.as_str());
            let link = format!("{}/app/invite/{token}", base_url.trim_end_matches('/'));
            let expires = invitation.expires_at.format("%Y-%m-%d %H:%M").to_string();
            let values = [
                ("tenant", name.as_str()),
                ("role", invitation.role.as_str()),
                ("link", link.as_str()),
                ("expires", expires.as_str()),
            ];
            Ok(Some(Letter {
                to: invitation.email,
                subject: fill(words.invite_subject, &values),
                text: fill(words.invite_text, &values),
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
            let language = account_language(store, &reset.user_id).await?;
            let words = account_words(language.as_ref());
            let minutes = PASSWORD_RESET_MINUTES.to_string();
            let values = [
                ("email", to.as_str()),
                ("link", link.as_str()),
                ("minutes", minutes.as_str()),
            ];
            Ok(Some(Letter {
                to: to.clone(),
                subject: fill(words.reset_subject, &values),
                text: fill(words.reset_text, &values),
            }))
        }
        Mail::DailySummary {
            tenant_id,
            user_id,
            to,
            date,
            numbers,
            language,
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
            let words = summary_words(language.as_ref());
            Ok(Some(Letter {
                to: to.clone(),
                subject: words
                    .subject
                    .replace("{tenant}", &tenant.name)
                    .replace("{date}", &date.to_string()),
                text: daily_text(&tenant.name, *date, numbers, words),
            }))
        }
        Mail::SlaAlert {
            tenant_id,
            complaint_id,
            user_id,
            to,
            target,
            stage,
            due_at,
        } => {
            let Some((tenant, c)) =
                member_complaint(store, tenant_id, user_id, complaint_id).await?
            else {
                return Ok(None);
            };
            Ok(Some(sla_letter(&tenant, &c, to, *target, *stage, *due_at)))
        }
        Mail::Verification {
            tenant_id,
            complaint_id,
            user_id,
            to,
            stage,
            since,
        } => {
            let Some((tenant, c)) =
                member_complaint(store, tenant_id, user_id, complaint_id).await?
            else {
                return Ok(None);
            };
            // A reminder about a complaint verified meanwhile is not sent.
            let pending = c.status == ombud_core::ComplaintStatus::PendingValidation;
            if *stage == ombud_core::verification::Stage::Reminder && !pending {
                return Ok(None);
            }
            Ok(Some(verification_letter(&tenant, &c, to, *stage, *since)))
        }
    }
}

/// The tenant and the complaint a mail about it is written from, while its
/// addressee is still a member (None: they left, or it is gone).
async fn member_complaint(
    store: &dyn Store,
    tenant_id: &ombud_core::TenantId,
    user_id: &ombud_core::UserId,
    complaint_id: &ombud_core::ComplaintId,
) -> StoreResult<Option<(Tenant, Complaint)>> {
    let member = store
        .members(tenant_id)
        .await?
        .iter()
        .any(|m| &m.user.id == user_id);
    let Some(tenant) = store.tenant(tenant_id).await?.filter(|_| member) else {
        return Ok(None);
    };
    Ok(store
        .complaint(tenant_id, complaint_id)
        .await?
        .map(|c| (tenant, c)))
}

/// A reminder to verify a complaint, or the news that nobody did in time.
fn verification_letter(
    tenant: &Tenant,
    c: &Complaint,
    to: &Email,
    stage: ombud_core::verification::Stage,
    since: chrono::DateTime<chrono::Utc>,
) -> Letter {
    use ombud_core::verification::Stage;
    let since = format!(
        "{} ({})",
        tenant.timezone.local_time(since).format("%-d %b %Y, %H:%M"),
        tenant.timezone.as_str()
    );
    let (subject, news) = match stage {
        Stage::Reminder => (
            format!("{}: waiting for field verification", c.number),
            format!(
                "This complaint has waited for verification on the ground since {since}. \
                 Please visit the place and mark it validated or rejected, with a note \
                 (Ombud's dashboard, My complaints)."
            ),
        ),
        Stage::Escalation => (
            format!("{}: not verified in time, escalated", c.number),
            format!(
                "Nobody verified this complaint on the ground since {since}, so Ombud \
                 escalated it. It can still be validated or rejected."
            ),
        ),
    };
    let description: String = c.description.chars().take(300).collect();
    let location = c.location.as_deref().unwrap_or("no location given");
    Letter {
        to: to.clone(),
        subject,
        text: format!(
            "{tenant}\n\nComplaint {number}, at {location}:\n“{description}”\n\n{news}\n\n\
             You get this mail because the complaint is yours to act on in {tenant}.\n",
            tenant = tenant.name,
            number = c.number,
        ),
    }
}

/// A service-level alert: what is due or missed, on which complaint.
fn sla_letter(
    tenant: &Tenant,
    c: &Complaint,
    to: &Email,
    target: ombud_core::sla::Target,
    stage: ombud_core::sla::Stage,
    due_at: chrono::DateTime<chrono::Utc>,
) -> Letter {
    use ombud_core::sla::Stage;
    let due = format!(
        "{} ({})",
        tenant
            .timezone
            .local_time(due_at)
            .format("%-d %b %Y, %H:%M"),
        tenant.timezone.as_str()
    );
    let what = target.label();
    let (subject, news) = match stage {
        Stage::Warning => (
            format!("{}: {what} due {due}", c.number),
            format!("The {what} deadline of this complaint is near: {due}."),
        ),
        Stage::Breach => (
            format!("{}: {what} deadline missed, escalated", c.number),
            format!(
                "The {what} deadline of this complaint passed at {due} without it, so \
                 Ombud escalated it (status escalated, priority {}).",
                c.priority
            ),
        ),
    };
    let description: String = c.description.chars().take(300).collect();
    Letter {
        to: to.clone(),
        subject,
        text: format!(
            "{tenant}\n\nComplaint {number}, {status}:\n“{description}”\n\n{news}\n\n\
             Open it in Ombud's dashboard (Complaints, then {number}).\n\n\
             You get this mail because the complaint is yours to act on in {tenant}.\n",
            tenant = tenant.name,
            number = c.number,
            status = c.status.as_str().replace('_', " "),
        ),
    }
}

/// The language of an account's mails: its organisations' when they all
/// speak one (English otherwise, and for an account of none).
async fn account_language(
    store: &dyn Store,
    user: &ombud_core::UserId,
) -> StoreResult<Option<Language>> {
    let mut found: Option<Language> = None;
    for m in store.memberships(user).await? {
        let Some(tenant) = store.tenant(&m.tenant_id).await? else {
            continue;
        };
        match &found {
            Some(l) if *l != tenant.default_language => return Ok(None),
            _ => found = Some(tenant.default_language),
        }
    }
    Ok(found)
}

/// The summary mail's words in one language.
struct SummaryWords {
    subject: &'static str,
    since: &'static str,
    new: &'static str,
    resolved: &'static str,
    breached: &'static str,
    open: &'static str,
    /// `{csat}` and `{ratings}` filled.
    satisfaction: &'static str,
    oldest: &'static str,
    /// `{days}` filled.
    age: &'static str,
    footer: &'static str,
}

/// The words of a summary in `language`: English, Hindi or Marathi (English
/// for any other).
fn summary_words(language: Option<&Language>) -> &'static SummaryWords {
    match language.map(Language::as_str) {
        Some("hi") => &HI,
        Some("mr") => &MR,
        _ => &EN,
    }
}

const EN: SummaryWords = SummaryWords {
    subject: "{tenant}: the day's complaints, {date}",
    since: "{tenant}, {date}. Since {at} the day before:",
    new: "New complaints",
    resolved: "Resolved",
    breached: "Missed a deadline",
    open: "Open now",
    satisfaction: "Satisfaction: {csat}% of {ratings} rating(s) were 4 or 5",
    oldest: "The oldest open ones:",
    age: "{days} day(s) old",
    footer: "You get this because you asked for it on your account page in Ombud, \
             where you can also stop it.",
};

const HI: SummaryWords = SummaryWords {
    subject: "{tenant}: दिन की शिकायतें, {date}",
    since: "{tenant}, {date}। कल {at} से:",
    new: "नई शिकायतें",
    resolved: "हल हुईं",
    breached: "समय-सीमा चूकीं",
    open: "अभी खुली",
    satisfaction: "संतुष्टि: {ratings} रेटिंग में से {csat}% 4 या 5 थीं",
    oldest: "सबसे पुरानी खुली शिकायतें:",
    age: "{days} दिन पुरानी",
    footer: "यह आपको इसलिए मिला क्योंकि आपने Ombud में अपने खाते के पेज पर इसे चुना था, \
             जहाँ आप इसे बंद भी कर सकते हैं।",
};

const MR: SummaryWords = SummaryWords {
    subject: "{tenant}: दिवसाच्या तक्रारी, {date}",
    since: "{tenant}, {date}. काल {at} पासून:",
    new: "नवीन तक्रारी",
    resolved: "सोडवलेल्या",
    breached: "मुदत चुकलेल्या",
    open: "सध्या उघड्या",
    satisfaction: "समाधान: {ratings} रेटिंगपैकी {csat}% 4 किंवा 5 होत्या",
    oldest: "सर्वात जुन्या उघड्या तक्रारी:",
    age: "{days} दिवस जुनी",
    footer: "हे तुम्हाला मिळाले कारण तुम्ही Ombud मधील तुमच्या खात्याच्या पानावर ते निवडले होते, \
             तिथे तुम्ही ते बंदही करू शकता.",
};

fn daily_text(
    tenant: &str,
    date: chrono::NaiveDate,
    n: &crate::summary::Numbers,
    w: &SummaryWords,
) -> String {
    let since = w
        .since
        .replace("{tenant}", tenant)
        .replace("{date}", &date.to_string())
        .replace("{at}", &n.at);
    let mut text = format!(
        "{since}\n\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n",
        w.new, n.new, w.resolved, n.resolved, w.breached, n.breached, w.open, n.open
    );
    if let Some(csat) = n.csat() {
        let line = w
            .satisfaction
            .replace("{csat}", &format!("{csat:.0}"))
            .replace("{ratings}", &n.ratings.to_string());
        text.push_str(&line);
        text.push('\n');
    }
    if !n.oldest.is_empty() {
        text.push_str(&format!("\n{}\n", w.oldest));
        for c in &n.oldest {
            let age = w.age.replace("{days}", &c.days.to_string());
            text.push_str(&format!("  {}  {}  {age}\n", c.number, c.status));
        }
    }
    text.push_str(&format!("\n{}\n", w.footer));
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
            breached: 2,
        };
        let quiet = daily_text("Pune office", date, &n, &EN);
        assert!(quiet.contains("Since 07:30 the day before"), "{quiet}");
        assert!(!quiet.contains("Satisfaction"), "{quiet}");
        (n.ratings, n.satisfied) = (4, 3);
        let rated = daily_text("Pune office", date, &n, &EN);
        assert!(
            rated.contains("Satisfaction: 75% of 4 rating(s) were 4 or 5"),
            "{rated}"
        );
        let hindi = daily_text(
            "Pune office",
            date,
            &n,
            summary_words(Language::parse("hi").ok().as_ref()),
        );
        assert!(
            hindi.contains("नई शिकायतें: 3") && hindi.contains("कल 07:30 से"),
            "{hindi}"
        );
        assert!(hindi.contains("4 रेटिंग में से 75%"), "{hindi}");
        let marathi = summary_words(Language::parse("mr").ok().as_ref());
        assert!(daily_text("Pune office", date, &n, marathi).contains("नवीन तक्रारी: 3"));
        assert_eq!(
            summary_words(Language::parse("fr").ok().as_ref()).new,
            "New complaints"
        );
    }
}
