//! `ombud channel add whatsapp|telegram|webchat` and `ombud channel list`.

use clap::{Args, Subcommand};
use ombud_core::*;
use ombud_engine::provision::{self, ProvisionError};
use serde_json::json;

use super::{non_empty, print_json};
use crate::app::open_store;
use crate::Config;

#[derive(Subcommand, Debug)]
pub enum ChannelCommand {
    /// Connect a channel to a tenant.
    #[command(subcommand)]
    Add(ChannelAdd),
    /// List a tenant's channels.
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ChannelAdd {
    /// A WhatsApp Cloud API phone number.
    Whatsapp(WhatsAppAdd),
    /// A Telegram bot; give Telegram's setWebhook the printed webhook path
    /// on this server and the same --secret-token.
    Telegram(TelegramAdd),
    /// An embeddable web chat; put the printed widget path in a <script> tag.
    Webchat(WebchatAdd),
}

#[derive(Args, Debug)]
pub struct TelegramAdd {
    #[arg(long)]
    pub tenant: String,
    /// The token @BotFather gave the bot.
    #[arg(long)]
    pub bot_token: String,
    /// Telegram sends it back with every update; made up when not given.
    #[arg(long)]
    pub secret_token: Option<String>,
    #[arg(long, default_value = TelegramConfig::DEFAULT_API_URL)]
    pub api_url: String,
    #[arg(long, default_value = "Telegram")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct WebchatAdd {
    #[arg(long)]
    pub tenant: String,
    /// Sites that may embed the chat, comma-separated (https://example.org);
    /// any site when not given.
    #[arg(long, value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    #[arg(long, default_value = "Web chat")]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct WhatsAppAdd {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub phone_number_id: String,
    #[arg(long)]
    pub app_secret: String,
    #[arg(long)]
    pub verify_token: String,
    #[arg(long)]
    pub access_token: String,
    #[arg(long, default_value = WhatsAppConfig::DEFAULT_GRAPH_URL)]
    pub graph_url: String,
    #[arg(long, default_value = WhatsAppConfig::DEFAULT_API_VERSION)]
    pub api_version: String,
    #[arg(long, default_value = "WhatsApp")]
    pub name: String,
}

pub(super) async fn run(command: ChannelCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        ChannelCommand::Add(ChannelAdd::Whatsapp(args)) => {
            let channel = ChannelConfig::Whatsapp(WhatsAppConfig {
                phone_number_id: args.phone_number_id,
                app_secret: Secret::new(args.app_secret),
                verify_token: Secret::new(args.verify_token),
                access_token: Secret::new(args.access_token),
                graph_url: args.graph_url,
                api_version: args.api_version,
                waba_id: None,
                templates: Default::default(),
            });
            add_channel(config, &args.tenant, &args.name, channel).await
        }
        ChannelCommand::Add(ChannelAdd::Telegram(args)) => {
            let channel = ChannelConfig::Telegram(TelegramConfig {
                bot_token: Secret::new(args.bot_token),
                secret_token: Secret::new(args.secret_token.unwrap_or_else(id::new_id_body)),
                api_url: args.api_url,
            });
            add_channel(config, &args.tenant, &args.name, channel).await
        }
        ChannelCommand::Add(ChannelAdd::Webchat(args)) => {
            let channel = ChannelConfig::Webchat(WebchatConfig {
                signing_key: Secret::new(format!("{}{}", id::new_id_body(), id::new_id_body())),
                allowed_origins: args.allowed_origins,
                greetings: Default::default(),
            });
            add_channel(config, &args.tenant, &args.name, channel).await
        }
        ChannelCommand::List { tenant } => {
            let store = open_store(config).await?;
            let slug = TenantSlug::parse(&tenant)?;
            let tenant = store
                .tenant_by_slug(&slug)
                .await?
                .ok_or_else(|| ProvisionError::NoTenant(slug.to_string()))?;
            let channels = store.channels(&tenant.id).await?;
            let list: Vec<_> = channels.iter().map(|c| channel_json(&tenant, c)).collect();
            print_json(&json!({"channels": list}));
            Ok(())
        }
    }
}

/// `ombud channel add …`: connects the channel and prints it.
async fn add_channel(
    config: &Config,
    tenant: &str,
    name: &str,
    channel: ChannelConfig,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let (tenant, channel) = provision::add_channel(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        config.outbound_policy().providers(),
        &TenantSlug::parse(tenant)?,
        non_empty("name", name)?,
        channel,
    )
    .await?;
    let mut shown = channel_json(&tenant, &channel);
    if let Some(t) = channel.telegram() {
        // Shown once, for setWebhook; `channel list` never shows it.
        shown["secret_token"] = json!(t.secret_token.expose());
    }
    print_json(&shown);
    Ok(())
}

/// A channel as the CLI shows it: never its secrets.
pub fn channel_json(tenant: &Tenant, c: &Channel) -> serde_json::Value {
    json!({
        "channel_id": c.id,
        "tenant": tenant.slug,
        "kind": c.kind(),
        "name": c.name,
        "phone_number_id": c.whatsapp().map(|w| &w.phone_number_id),
        "graph_url": c.whatsapp().map(|w| &w.graph_url),
        "bot_id": c.telegram().map(|t| t.bot_id()),
        "api_url": c.telegram().map(|t| &t.api_url),
        "allowed_origins": c.webchat().map(|w| &w.allowed_origins),
        "webhook_path": c.webhook_path(),
        "deployed_version": c.deployed_version,
    })
}
