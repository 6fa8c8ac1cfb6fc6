//! Ombud's domain: typed ids, tenants, channels, contacts, conversations, messages,
//! complaints and their state machine, domain events. No I/O lives here.

pub mod account;
pub mod api_key;
pub mod audit;
pub mod calendar;
pub mod change;
pub mod channel;
pub mod choice;
pub mod clock;
pub mod complaint;
pub mod conversation;
pub mod error;
pub mod event;
pub mod generations;
pub mod geo;
pub mod html;
pub mod id;
pub mod inbound;
pub mod language;
pub mod limits;
pub mod media;
pub mod message;
pub mod person;
pub mod provider;
pub mod reminder;
pub mod routing;
pub mod schedule;
pub mod seal;
pub mod secret;
pub mod sla;
pub mod summary;
pub mod survey;
pub mod template;
pub mod tenant;
pub mod verification;
pub mod webhook;

pub use account::{Email, Invitation, Membership, PasswordReset, Role, User};
pub use api_key::{ApiKey, Scope};
pub use channel::{
    Channel, ChannelConfig, ChannelKind, TelegramConfig, WebchatConfig, WhatsAppConfig,
};
pub use clock::{Clock, ShiftedClock, SystemClock};
pub use complaint::{
    Category, Complaint, ComplaintEvent, ComplaintNumber, ComplaintStatus, Priority, Source,
};
pub use conversation::{Contact, Conversation, ConversationState, SessionIdle};
pub use error::ValidationError;
pub use event::EventType;
pub use id::*;
pub use language::Language;
pub use message::{DeliveryStatus, Direction, Message, MessageKind};
pub use provider::ProviderHosts;
pub use secret::Secret;
pub use tenant::{ComplaintPrefix, Tenant, TenantSlug, TimeZoneName};
pub use webhook::WebhookEndpoint;
