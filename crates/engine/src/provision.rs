//! Setting up a tenant and its channels: what `ombud tenant create`, `ombud channel
//! add` and `ombud demo` do, in one place so each surface behaves the same.

use std::collections::BTreeMap;

use ombud_agents::intake::{IntakeConfig, KIND as INTAKE};
use ombud_core::*;
use ombud_store::{
    AgentVersion, NewAgentVersion, NewCategory, NewChannel, NewTenant, Store, StoreError,
};

/// The agent every tenant starts with.
pub const DEFAULT_AGENT: &str = "intake";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no tenant with slug {0:?}")]
    NoTenant(String),
}

/// A new tenant with the default categories and an intake agent (version 1) that
/// answers in the tenant's language first.
pub async fn create_tenant(
    store: &dyn Store,
    new: NewTenant,
    with_default_categories: bool,
) -> Result<(Tenant, AgentVersion), ProvisionError> {
    let mut config = IntakeConfig::default();
    let lang = new.default_language.clone();
    if !config.templates.contains_key(lang.as_str()) {
        let known: Vec<&str> = config.templates.keys().map(String::as_str).collect();
        return Err(ValidationError::new(
            "language",
            format!(
                "no built-in replies in {lang:?}; choose one of {}",
                known.join(", ")
            ),
        )
        .into());
    }
    config.languages.retain(|l| l != &lang);
    config.languages.insert(0, lang);
    let config = serde_json::to_value(&config).map_err(StoreError::internal)?;
    let tenant = store.create_tenant(new).await?;
    if with_default_categories {
        for category in default_categories() {
            store.create_category(&tenant.id, category).await?;
        }
    }
    let version = store
        .create_agent_version(
            &tenant.id,
            NewAgentVersion {
                agent_name: DEFAULT_AGENT.into(),
                kind: INTAKE.into(),
                config,
                changelog: "built-in intake agent".into(),
                author: "system".into(),
            },
        )
        .await?;
    Ok((tenant, version))
}

/// Connects a WhatsApp number to a tenant, answered by its latest intake version.
pub async fn add_whatsapp_channel(
    store: &dyn Store,
    tenant: &TenantSlug,
    name: String,
    whatsapp: WhatsAppConfig,
) -> Result<(Tenant, Channel), ProvisionError> {
    for (field, value) in [
        ("phone_number_id", &whatsapp.phone_number_id),
        ("app_secret", &whatsapp.app_secret.expose().to_owned()),
        ("verify_token", &whatsapp.verify_token.expose().to_owned()),
        ("access_token", &whatsapp.access_token.expose().to_owned()),
    ] {
        if value.trim().is_empty() {
            return Err(ValidationError::new(field, "must not be empty").into());
        }
    }
    let url = whatsapp.graph_url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ValidationError::new("graph_url", "must be an http:// or https:// URL").into());
    }
    let tenant = store
        .tenant_by_slug(tenant)
        .await?
        .ok_or_else(|| ProvisionError::NoTenant(tenant.to_string()))?;
    let version = store
        .latest_agent_version(&tenant.id, DEFAULT_AGENT)
        .await?;
    let channel = store
        .create_channel(
            &tenant.id,
            NewChannel {
                kind: ChannelKind::Whatsapp,
                name,
                whatsapp,
                deployed_version: version.map(|v| v.id),
            },
        )
        .await?;
    Ok((tenant, channel))
}

fn category(slug: &str, names: [&str; 3], keywords: &[&str], priority: Priority) -> NewCategory {
    NewCategory {
        slug: slug.into(),
        names: BTreeMap::from([
            ("en".to_owned(), names[0].to_owned()),
            ("hi".to_owned(), names[1].to_owned()),
            ("mr".to_owned(), names[2].to_owned()),
        ]),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
        default_priority: priority,
    }
}

/// Categories a municipal or constituency office starts with; tenants edit them.
pub fn default_categories() -> Vec<NewCategory> {
    use Priority::*;
    vec![
        category(
            "roads",
            ["Roads and potholes", "सड़क और गड्ढे", "रस्ते व खड्डे"],
            &[
                "road",
                "pothole",
                "footpath",
                "speed breaker",
                "सड़क",
                "गड्ढा",
                "रस्ता",
                "रस्त्यावर",
                "खड्डा",
                "खड्डे",
            ],
            Normal,
        ),
        category(
            "water",
            ["Water supply", "पानी की आपूर्ति", "पाणीपुरवठा"],
            &[
                "water",
                "tap",
                "pipeline",
                "leak",
                "leakage",
                "पानी",
                "नल",
                "पाणी",
                "नळ",
                "गळती",
            ],
            High,
        ),
        category(
            "streetlight",
            ["Street lights", "स्ट्रीट लाइट", "पथदिवे"],
            &[
                "street light",
                "streetlight",
                "light",
                "lamp",
                "बत्ती",
                "लाइट",
                "दिवा",
                "दिवे",
                "पथदिवा",
                "पथदिवे",
            ],
            Normal,
        ),
        category(
            "garbage",
            ["Garbage and cleanliness", "कचरा और सफाई", "कचरा व स्वच्छता"],
            &[
                "garbage",
                "trash",
                "waste",
                "dustbin",
                "sweeping",
                "कचरा",
                "कूड़ा",
                "सफाई",
                "स्वच्छता",
            ],
            Normal,
        ),
        category(
            "drainage",
            ["Drainage and sewage", "नाली और सीवर", "गटार व सांडपाणी"],
            &[
                "drain",
                "drainage",
                "sewage",
                "sewer",
                "gutter",
                "overflow",
                "नाली",
                "सीवर",
                "गटार",
                "सांडपाणी",
            ],
            High,
        ),
        category(
            "electricity",
            ["Electricity", "बिजली", "वीज"],
            &[
                "electricity",
                "power cut",
                "power",
                "wire",
                "transformer",
                "बिजली",
                "वीज",
                "तार",
            ],
            High,
        ),
        category("other", ["Other", "अन्य", "इतर"], &[], Low),
    ]
}
