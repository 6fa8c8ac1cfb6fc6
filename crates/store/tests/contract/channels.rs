//! Channels: what is written with a new channel.

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
