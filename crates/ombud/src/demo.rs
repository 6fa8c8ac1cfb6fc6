//! `ombud demo`: a demo tenant and WhatsApp channel whose replies go to a stand-in
//! Graph API on the same server, then the server, then a ready-to-paste `curl`
//! with a correctly signed body. The tenant also has a web chat, shown on a
//! demo page of the same server.

use ombud_channels::whatsapp::{sign, text_message_payload};
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::NewTenant;

use crate::app::{open_store, shutdown_signal, App, AppOptions};
use crate::Config;

const SLUG: &str = "demo";
const PHONE_NUMBER_ID: &str = "100000000000001";
const APP_SECRET: &str = "demo-app-secret";
const VERIFY_TOKEN: &str = "demo-verify-token";
const LOGIN: &str = "admin@demo.example";

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    // The stand-in Graph API is this server: its channel may send to it.
    let host = match config.listen_addr().ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    config.outbound.provider_hosts = [config.outbound.provider_hosts.as_str(), &host]
        .into_iter()
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    // The demo backs itself up at 02:00 in India, verified, unless told otherwise.
    if config.backup.schedule.is_none() {
        config.backup.schedule = Some("0 2 * * *".into());
        config.backup.timezone = "Asia/Kolkata".into();
    }
    let providers = config.outbound_policy();
    let store = open_store(&config).await?;
    let slug = TenantSlug::parse(SLUG)?;
    if store.tenant_by_slug(&slug).await?.is_none() {
        provision::create_tenant(
            store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: slug.clone(),
                name: "Demo Ward Office".into(),
                complaint_prefix: ComplaintPrefix::parse("DEMO")?,
                default_language: Language::en(),
                timezone: TimeZoneName::parse("Asia/Kolkata")?,
            },
            true,
        )
        .await?;
        provision::add_whatsapp_channel(
            store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            providers.providers(),
            &slug,
            "Demo WhatsApp".into(),
            WhatsAppConfig {
                phone_number_id: PHONE_NUMBER_ID.into(),
                app_secret: Secret::new(APP_SECRET),
                verify_token: Secret::new(VERIFY_TOKEN),
                access_token: Secret::new("demo-access-token"),
                graph_url: format!("http://{}/demo/graph", config.listen),
                api_version: WhatsAppConfig::DEFAULT_API_VERSION.into(),
                waba_id: None,
                templates: Default::default(),
            },
        )
        .await?;
    }
    let tenant = crate::cli::tenant_by_slug(store.as_ref(), SLUG).await?;
    let password = demo_login(store.as_ref(), &tenant).await?;
    let channels = store.channels(&tenant.id).await?;
    // Demo data dirs made before the web chat existed get one now.
    let webchat = match channels.iter().find(|c| c.webchat().is_some()) {
        Some(c) => c.clone(),
        None => {
            let config = ChannelConfig::Webchat(WebchatConfig {
                signing_key: Secret::new(ombud_web::auth::one_time_password().repeat(2)),
                allowed_origins: Vec::new(),
                greetings: Default::default(),
            });
            provision::add_channel(
                store.as_ref(),
                &ombud_core::SystemClock,
                &ombud_engine::Acting::cli(),
                providers.providers(),
                &slug,
                "Demo Ward Office".into(),
                config,
            )
            .await?
            .1
        }
    };
    let channel = channels
        .into_iter()
        .find(|c| c.whatsapp().is_some())
        .ok_or_else(|| anyhow::anyhow!("the demo tenant has no WhatsApp channel"))?;
    drop(store);
    let app = App::build(
        &config,
        AppOptions {
            demo_graph_sink: true,
            ..Default::default()
        },
    )
    .await?;
    let base = format!("http://{}", app.addr());
    let wamid = format!("wamid.DEMO{}", id::new_id_body());
    let text = "The street light near Shivaji school has been broken for a week";
    let body = text_message_payload(PHONE_NUMBER_ID, "919800000001", &wamid, text).to_string();
    let signature = sign(APP_SECRET, body.as_bytes());
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| {
            let cwd = std::env::current_dir().ok()?;
            Some(
                p.strip_prefix(&cwd)
                    .map(|r| format!("./{}", r.display()))
                    .unwrap_or_else(|_| p.display().to_string()),
            )
        })
        .unwrap_or_else(|| "ombud".into());
    let operators = app
        .metrics_addr()
        .map_or_else(|| "off".to_owned(), |a| format!("http://{a}/health/ready"));
    println!(
        "Ombud demo is running at {base}\n\
         \n  tenant:   {} ({}), complaint numbers {}-YYYYMMDD-NNNN\
         \n  webhook:  {base}{}   (verify token: {VERIFY_TOKEN})\
         \n  health:   {base}/health/ready   (in detail, with /metrics, for operators: {operators})\
         \n  replies:  printed below, as the demo's stand-in for Meta's Graph API receives them\
         \n  dashboard: {base}/app/login   (email: {LOGIN}, password: {password})\
         \n  web chat: {base}/demo/site/{}   (a page with the chat bubble)\
         \n  data:     {}\n\
         \nSend a test message as WhatsApp would (run it again and it is deduplicated):\n\
         \ncurl -sS -X POST '{base}{}' \\\n  -H 'Content-Type: application/json' \\\n  -H 'X-Hub-Signature-256: {signature}' \\\n  --data '{body}'\n\
         \nThen carry on the dialogue from another terminal (it signs each message for you):\n\
         \n  {exe} say \"Near Shivaji school, Kothrud\"\n  {exe} say yes\n  {exe} say status\n",
        tenant.name,
        tenant.slug,
        tenant.complaint_prefix,
        channel.webhook_path(),
        webchat.id,
        config.database_path().display(),
        channel.webhook_path(),
    );
    app.run(shutdown_signal()).await
}

/// The demo tenant's owner, with a password made fresh on every start (it is
/// printed, so it should not outlive the run that printed it).
async fn demo_login(store: &dyn ombud_store::Store, tenant: &Tenant) -> anyhow::Result<String> {
    let password = ombud_web::auth::one_time_password();
    let hash = ombud_web::auth::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))?;
    let email = Email::parse(LOGIN)?;
    match store.user_by_email(&email).await? {
        Some(user) => {
            store
                .set_password(&user.id, &hash, false, chrono::Utc::now(), Vec::new())
                .await?
        }
        None => {
            store
                .create_user(
                    ombud_store::NewUser {
                        id: ombud_core::UserId::new(),
                        email,
                        name: "Demo Admin".into(),
                        password_hash: hash,
                        must_change_password: false,
                        platform_admin: false,
                        memberships: vec![(tenant.id.clone(), Role::Owner)],
                    },
                    chrono::Utc::now(),
                    Vec::new(),
                )
                .await?;
        }
    }
    Ok(password)
}
