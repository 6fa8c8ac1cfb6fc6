//! Operations: the one place where a change of state happens (DESIGN.md,
//! "Where a change happens"). An operation takes who acts ([`Acting`]) and
//! its input, checks the input with the rules in `core`, decides the whole
//! change (state, events, audit entry), makes one store call, then wakes the
//! workers the change needs. The API, the dashboard, the CLI and scheduled
//! work call the same operation for the same action.

pub mod agents;
pub mod audit;
pub mod blocks;
pub mod channels;
pub mod conversations;
pub mod keys;
pub mod people;
pub mod reminders;
pub mod requests;
pub mod resets;
pub mod retention;
pub mod routing;
pub mod sessions;
pub mod settings;
pub mod sla;
pub mod surveys;
pub mod team;
pub mod templates;
pub mod verification;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ombud_core::Clock;
use ombud_store::Store;
use tokio::sync::Notify;

pub use ombud_core::audit::Acting;

/// The operations, with what they need: the store, the clock, and the bells
/// of the workers a change may give work to (none at the command line: a
/// running server's workers find the work on their next sweep).
#[derive(Clone)]
pub struct Operations {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The guard for URLs tenants give.
    pub(crate) outbound: Arc<crate::OutboundPolicy>,
    /// Seals an LLM agent's API key before it is stored.
    pub(crate) seal_key: Option<ombud_core::seal::SealKey>,
    /// Which commands process agents may run here (None: none).
    pub(crate) process: Option<ombud_agents::process::ProcessSettings>,
    /// Whether mail goes out (`smtp.*` set): links are mailed then.
    mail: bool,
    webhook_wake: Option<Arc<Notify>>,
    outbox_wake: Option<Arc<Notify>>,
    /// Reaches the providers' APIs (template lists); None at the command line.
    pub(crate) sender: Option<Arc<dyn ombud_channels::ChannelSender>>,
    /// The operator's quiet spell that ends a session (tenants may choose theirs).
    pub(crate) session_idle: ombud_core::SessionIdle,
}

impl Operations {
    /// Operations without workers to wake (the CLI, tests).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            outbound: Arc::new(crate::OutboundPolicy::default()),
            seal_key: None,
            process: None,
            mail: false,
            webhook_wake: None,
            outbox_wake: None,
            sender: None,
            session_idle: Default::default(),
        }
    }

    pub(crate) fn with_sessions(mut self, idle: ombud_core::SessionIdle) -> Self {
        self.session_idle = idle;
        self
    }

    pub(crate) fn with_sender(mut self, sender: Arc<dyn ombud_channels::ChannelSender>) -> Self {
        self.sender = Some(sender);
        self
    }

    pub(crate) fn with_outbound(mut self, outbound: Arc<crate::OutboundPolicy>) -> Self {
        self.outbound = outbound;
        self
    }

    pub(crate) fn with_agents(
        mut self,
        seal_key: Option<ombud_core::seal::SealKey>,
        process: Option<ombud_agents::process::ProcessSettings>,
    ) -> Self {
        self.seal_key = seal_key;
        self.process = process;
        self
    }

    /// The server's secret key, for a command that needs it (an erasure's
    /// pseudonym); the server's operations have it from their configuration.
    pub fn with_seal_key(mut self, key: ombud_core::seal::SealKey) -> Self {
        self.seal_key = Some(key);
        self
    }

    pub(crate) fn with_mail(mut self, on: bool) -> Self {
        self.mail = on;
        self
    }

    /// The key links are made with when mail is on: their mail job writes
    /// the link again from it. None: mail is off.
    pub fn mail_key(&self) -> Option<&ombud_core::seal::SealKey> {
        self.seal_key.as_ref().filter(|_| self.mail)
    }

    /// Whether links (invitations, password resets) are mailed.
    pub fn mail_on(&self) -> bool {
        self.mail_key().is_some()
    }

    pub(crate) fn with_wakes(mut self, webhooks: Arc<Notify>, outbox: Arc<Notify>) -> Self {
        self.webhook_wake = Some(webhooks);
        self.outbox_wake = Some(outbox);
        self
    }

    /// Now, by the clock, to the microsecond the stores keep.
    pub fn now(&self) -> DateTime<Utc> {
        chrono::SubsecRound::trunc_subsecs(self.clock.now(), 6)
    }

    /// Events were written: the webhook dispatcher has deliveries to make.
    pub(crate) fn wake_webhooks(&self) {
        if let Some(bell) = &self.webhook_wake {
            bell.notify_one();
        }
    }

    /// Messages were queued in the outbox.
    pub(crate) fn wake_outbox(&self) {
        if let Some(bell) = &self.outbox_wake {
            bell.notify_one();
        }
    }
}
