//! Channels: what is written with a new channel, and its settings.

use super::*;

/// A channel added with a deployed version has that deployment as the first
/// entry of its history, by whoever chose it.
pub async fn a_channel_starts_its_deployment_history_with_its_first_version(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let t = tenant(s, "firstdep", "UTC").await;
    let v = s
        .create_agent_version(
            &t.id,
            NewAgentVersion {
                agent_name: "intake".into(),
                kind: "intake".into(),
                config: serde_json::json!({}),
                changelog: "v1".into(),
                author: "system".into(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let ch = s
        .create_channel(
            &t.id,
            NewChannel {
                id: ombud_core::ChannelId::new(),
                name: "wa".into(),
                config: ChannelConfig::Webchat(WebchatConfig {
                    signing_key: Secret::new("k".repeat(32)),
                    allowed_origins: vec![],
                    greetings: Default::default(),
                }),
                deployed_version: Some(v.id.clone()),
                deployed_by: "system".into(),
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    let history = s.deployments(&t.id, &ch.id, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].agent_version_id, v.id);
    assert_eq!(history[0].actor, "system");
    assert_eq!(history[0].previous_version_id, None);
}

/// A channel's settings (a web chat's sites and greetings) are kept, read
/// back and seen at once through the catalog; another tenant, or a channel
/// of another kind, is not found and changes nothing.
pub async fn a_channels_settings_change_behind_its_tenants_wall(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let t = tenant(s, "chseta", "UTC").await;
    let other = tenant(s, "chsetb", "UTC").await;
    let now = chrono::Utc::now();
    let ch = s
        .create_channel(
            &t.id,
            NewChannel {
                id: ombud_core::ChannelId::new(),
                name: "site".into(),
                config: ChannelConfig::Webchat(WebchatConfig {
                    signing_key: Secret::new("k".repeat(32)),
                    allowed_origins: vec![],
                    greetings: Default::default(),
                }),
                deployed_version: None,
                deployed_by: "system".into(),
            },
            now,
            Vec::new(),
        )
        .await
        .unwrap();
    // Read once, so the catalog holds the old settings.
    assert!(s
        .channel(&ch.id)
        .await
        .unwrap()
        .unwrap()
        .webchat()
        .unwrap()
        .greetings
        .is_empty());
    let mut changed = ch.clone();
    if let ChannelConfig::Webchat(w) = &mut changed.config {
        w.allowed_origins = vec!["https://ward.example".into()];
        w.greetings
            .insert(Language::parse("hi").unwrap(), "नमस्ते".into());
    }
    let kept = s
        .set_channel_settings(&t.id, &changed, now, Vec::new())
        .await
        .unwrap();
    assert_eq!(kept.config, changed.config);
    let read = s.channel(&ch.id).await.unwrap().unwrap();
    assert_eq!(
        read.config, changed.config,
        "the catalog forgot the old one"
    );
    assert_eq!(read.webchat().unwrap().signing_key.expose(), "k".repeat(32));

    let mut hijack = changed.clone();
    if let ChannelConfig::Webchat(w) = &mut hijack.config {
        w.greetings.clear();
    }
    let e = s
        .set_channel_settings(&other.id, &hijack, now, Vec::new())
        .await;
    assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");
    let mut as_telegram = changed.clone();
    as_telegram.config = ChannelConfig::Telegram(TelegramConfig {
        bot_token: Secret::new("1:abc"),
        secret_token: Secret::new("s"),
        api_url: TelegramConfig::DEFAULT_API_URL.into(),
    });
    let e = s
        .set_channel_settings(&t.id, &as_telegram, now, Vec::new())
        .await;
    assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");
    assert_eq!(
        s.channel(&ch.id).await.unwrap().unwrap().config,
        changed.config
    );
}
