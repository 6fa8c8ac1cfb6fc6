//! Email, through an SMTP server the operator names (`smtp.*`). A mail is a
//! scheduled job (`mail.send`), made in the same transaction as what it
//! tells of (an invitation, a password reset), so it is never lost and never
//! made twice; the job names what to write about, and the mail is written
//! when it is sent, so no link's token is kept anywhere (see
//! `SealKey::link_token`). A send that fails is retried with the
//! scheduler's backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use metrics::counter;
use ombud_core::seal::SealKey;
use ombud_core::*;
use ombud_store::{Job, NewJob, Store};
use serde::{Deserialize, Serialize};

use crate::scheduler::JobHandler;

mod account_words;
mod compose;

pub use compose::{INVITATION, PASSWORD_RESET};

/// The job kind that sends a mail.
pub const JOB: &str = "mail.send";
pub const SENT: &str = "ombud_mail_sent_total";
pub const FAILED: &str = "ombud_mail_failed_total";

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain, then upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on the same host or network.
    None,
}

impl Security {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            "none" => Ok(Self::None),
            other => Err(format!("{other:?} is not starttls, tls or none")),
        }
    }
}

/// The SMTP server mail goes through.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Given together, or not at all.
    pub credentials: Option<(String, Secret)>,
    /// Who the mail is from: `Ombud <ombud@example.org>`.
    pub from: String,
    pub timeout: Duration,
    /// A private CA's certificate (PEM) to trust besides the public ones,
    /// for a server whose certificate it signed.
    pub ca_pem: Option<Vec<u8>>,
}

/// What a mail job sends: named by ids and written when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mail {
    Invitation {
        tenant_id: TenantId,
        invitation_id: InvitationId,
        /// Where people reach the dashboard (`public_url`, or where the
        /// admin who invited reached it).
        base_url: String,
    },
    PasswordReset {
        reset_id: PasswordResetId,
        to: Email,
        base_url: String,
    },
    /// A tenant's day, to a member who asked for it (counted when the day's
    /// summary job ran, so every member reads the same numbers).
    DailySummary {
        tenant_id: TenantId,
        user_id: UserId,
        to: Email,
        date: chrono::NaiveDate,
        numbers: crate::summary::Numbers,
        /// The member's choice (None: English).
        #[serde(default)]
        language: Option<Language>,
    },
    /// A service-level deadline near or missed, to the member who must act
    /// (made with the warning or breach, in its transaction).
    SlaAlert {
        tenant_id: TenantId,
        complaint_id: ComplaintId,
        user_id: UserId,
        to: Email,
        target: ombud_core::sla::Target,
        stage: ombud_core::sla::Stage,
        due_at: chrono::DateTime<chrono::Utc>,
    },
    /// A complaint waiting for field verification: the reminder to its
    /// assignee, or the news that it was escalated.
    Verification {
        tenant_id: TenantId,
        complaint_id: ComplaintId,
        user_id: UserId,
        to: Email,
        stage: ombud_core::verification::Stage,
        /// When the complaint entered pending validation.
        since: chrono::DateTime<chrono::Utc>,
    },
}

impl Mail {
    fn name(&self) -> &'static str {
        match self {
            Self::Invitation { .. } => "invitation",
            Self::PasswordReset { .. } => "password_reset",
            Self::DailySummary { .. } => "daily_summary",
            Self::SlaAlert { .. } => "sla_alert",
            Self::Verification { .. } => "verification",
        }
    }

    /// The job that sends it, due `at`; one per invitation or reset.
    pub fn job(&self, at: chrono::DateTime<chrono::Utc>) -> NewJob {
        let key = match self {
            Self::Invitation { invitation_id, .. } => format!("mail:{invitation_id}"),
            Self::PasswordReset { reset_id, .. } => format!("mail:{reset_id}"),
            Self::DailySummary {
                tenant_id,
                user_id,
                date,
                ..
            } => format!("mail:summary:{tenant_id}:{date}:{user_id}"),
            Self::SlaAlert {
                complaint_id,
                user_id,
                target,
                stage,
                due_at,
                ..
            } => format!(
                "mail:sla:{complaint_id}:{}:{}:{}:{user_id}",
                target.as_str(),
                stage.job_kind(),
                due_at.timestamp_micros()
            ),
            Self::Verification {
                complaint_id,
                user_id,
                stage,
                since,
                ..
            } => format!(
                "mail:{}:{complaint_id}:{}:{user_id}",
                stage.job_kind(),
                since.timestamp_micros()
            ),
        };
        let tenant = match self {
            Self::Invitation { tenant_id, .. }
            | Self::DailySummary { tenant_id, .. }
            | Self::SlaAlert { tenant_id, .. }
            | Self::Verification { tenant_id, .. } => Some(tenant_id.clone()),
            Self::PasswordReset { .. } => None,
        };
        NewJob {
            tenant_id: tenant,
            ..crate::scheduler::one_off(
                JOB,
                &key,
                serde_json::to_value(self).unwrap_or_default(),
                at,
            )
        }
    }
}

/// A mail written and ready to go.
#[derive(Debug, Clone, PartialEq)]
pub struct Letter {
    pub to: Email,
    pub subject: String,
    pub text: String,
}

/// Hands letters to the SMTP server.
pub struct Postman {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Postman {
    pub fn new(config: &MailConfig) -> Result<Self, String> {
        let tls = || -> Result<TlsParameters, String> {
            let mut params = TlsParameters::builder(config.host.clone());
            if let Some(pem) = &config.ca_pem {
                let ca = Certificate::from_pem(pem).map_err(|e| format!("smtp.ca_file: {e}"))?;
                params = params.add_root_certificate(ca);
            }
            params
                .build_rustls()
                .map_err(|e| format!("smtp.host {:?}: {e}", config.host))
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host);
        let builder = match config.security {
            // STARTTLS must succeed: never a fallback to plain text.
            Security::StartTls => builder.tls(Tls::Required(tls()?)),
            Security::Tls => builder.tls(Tls::Wrapper(tls()?)),
            Security::None => builder,
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from = config
            .from
            .parse()
            .map_err(|e| format!("smtp.from {:?}: {e}", config.from))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one letter; `message_id` is the same on every attempt, so a
    /// mail sent twice after a crash reads as one in most clients.
    pub async fn send(&self, letter: &Letter, message_id: &str) -> Result<(), String> {
        let to: Mailbox = letter
            .to
            .as_str()
            .parse()
            .map_err(|e| format!("{}: {e}", letter.to.as_str()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .message_id(Some(format!("<{message_id}@ombud>")))
            .header(ContentType::TEXT_PLAIN)
            .body(letter.text.clone())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("the SMTP server: {e}"))
    }
}

/// Runs `mail.send` jobs: writes the mail the job names, then sends it.
pub struct MailJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub postman: Postman,
    pub key: SealKey,
}

/// What a mail job notes before it hands its mail to the SMTP server.
pub const SENDING: &str = "sending: a run that died after this may have sent the mail";

impl MailJob {
    /// Whether this run sends. SMTP has no idempotency key, so a run after a
    /// crash cannot know whether the dead one's mail went out. A daily
    /// summary is then not sent again (at most once: a day's numbers twice
    /// is noise, and tomorrow's follow); an invitation or a reset is (at
    /// least once: without it someone cannot get in). The note is made
    /// before every send and replaced by the run's outcome.
    async fn may_send(&self, job: &Job, mail: &Mail) -> Result<bool, String> {
        let unknown = job.attempts > 1 && job.last_error.as_deref() == Some(SENDING);
        if unknown && matches!(mail, Mail::DailySummary { .. }) {
            tracing::warn!(job = %job.id, "a run died while sending this daily summary; it may have gone out, so it is not sent again");
            return Ok(false);
        }
        let holder = job.leased_by.as_deref().unwrap_or_default();
        match self.store.note_job(&job.id, holder, SENDING).await {
            Ok(true) => Ok(true),
            Ok(false) => Err("the job was taken over before its mail was sent".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[async_trait]
impl JobHandler for MailJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let mail: Mail = serde_json::from_value(job.payload.clone())
            .map_err(|e| format!("not a mail job: {e}"))?;
        let now = self.clock.now();
        let letter = compose::letter(self.store.as_ref(), &self.key, &mail, now)
            .await
            .map_err(|e| e.to_string())?;
        // Nothing to tell any more (revoked, accepted, used, expired).
        let Some(letter) = letter else {
            return Ok(());
        };
        if !self.may_send(job, &mail).await? {
            return Ok(());
        }
        match self.postman.send(&letter, job.id.as_str()).await {
            Ok(()) => {
                counter!(SENT, "kind" => mail.name()).increment(1);
                tracing::info!(kind = mail.name(), job = %job.id, "mail sent");
                Ok(())
            }
            Err(e) => {
                counter!(FAILED, "kind" => mail.name()).increment(1);
                Err(e)
            }
        }
    }
}

/// `jobs` and the daily summary's jobs (its webhook event always; its mails
/// when there is a server to send through and a key to write links with),
/// and the mail job then.
pub fn with_mail_jobs(
    jobs: crate::scheduler::Jobs,
    config: &crate::EngineConfig,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> crate::scheduler::Jobs {
    let postman = match (&config.mail, &config.seal_key) {
        (Some(mail), Some(key)) => match Postman::new(mail) {
            Ok(postman) => Some((postman, key.clone())),
            Err(e) => {
                tracing::error!(error = %e, "mail is off: the SMTP settings do not work");
                None
            }
        },
        _ => None,
    };
    let sweep = crate::summary::SweepJob {
        store: store.clone(),
        clock: clock.clone(),
    };
    let daily = crate::summary::DailyJob {
        store: store.clone(),
        clock: clock.clone(),
        mail: postman.is_some(),
    };
    let jobs = jobs
        .handle(crate::summary::SWEEP, Arc::new(sweep))
        .handle(crate::summary::DAILY, Arc::new(daily))
        .every(crate::summary::sweep_every_quarter_hour());
    let Some((postman, key)) = postman else {
        return jobs;
    };
    describe();
    let send = MailJob {
        store,
        clock,
        postman,
        key,
    };
    jobs.handle(JOB, Arc::new(send))
}

/// Says what the mail metrics mean.
pub fn describe() {
    metrics::describe_counter!(SENT, "Mails the SMTP server took, by kind.");
    metrics::describe_counter!(
        FAILED,
        "Mail sends that failed (each is retried while attempts last), by kind."
    );
}
