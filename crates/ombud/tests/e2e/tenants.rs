use std::time::Duration;

use ombud_channels::whatsapp::sign;
use ombud_core::{DeliveryStatus, Direction};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_one_tenant_is_visible_through_another() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha", "ALPHA", &graph).await;
    let b = app.tenant("beta", "BETA", &graph).await;

    // A complaint in tenant A.
    let citizen_a = "919800000001";
    for text in [
        "The road near the temple has a big pothole",
        "Temple road, ward 4",
        "yes",
    ] {
        app.say(&a, citizen_a, text).await;
    }
    let replies = graph.wait_for_reply_to(citizen_a, 3).await;
    let number = number_in(&replies[2]).expect("complaint number");
    assert!(number.starts_with("ALPHA-"));

    // A's payload signed with B's secret is refused on A's channel and on B's.
    let payload = text_payload(&a.channel, citizen_a, "wamid.X1", "hello");
    let body = payload.to_string().into_bytes();
    let res = app
        .post_raw(
            &a.channel.id,
            body.clone(),
            Some(sign(&b.app_secret, &body)),
        )
        .await;
    assert_eq!(res.status(), 401);
    // Posted to B's channel, signed by B, but addressed to A's phone number id: ignored.
    let res = app
        .post_raw(
            &b.channel.id,
            body.clone(),
            Some(sign(&b.app_secret, &body)),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["received"], 0);

    // A status report about A's message, sent through B's channel, changes nothing.
    let sent = wait_until(Duration::from_secs(2), || async {
        app.messages_of(&a.tenant.id)
            .await
            .iter()
            .filter(|m| m.direction == Direction::Outbound && m.provider_id.is_some())
            .count()
            == 3
    })
    .await;
    assert!(sent);
    let a_out = app
        .messages_of(&a.tenant.id)
        .await
        .into_iter()
        .find(|m| m.direction == Direction::Outbound)
        .unwrap();
    let wamid = a_out.provider_id.clone().unwrap();
    let status = envelope(json!({
        "metadata": {"phone_number_id": b.channel.whatsapp().unwrap().phone_number_id},
        "statuses": [{"id": wamid, "status": "failed", "timestamp": "1", "recipient_id": citizen_a,
                      "biz_opaque_callback_data": a_out.id.to_string(),
                      "errors": [{"code": 1, "title": "forged"}]}]
    }));
    let res = app.post_signed(&b, &status).await;
    assert_eq!(res.json::<Value>().await.unwrap()["statuses"], 0);
    let again = app
        .messages_of(&a.tenant.id)
        .await
        .into_iter()
        .find(|m| m.id == a_out.id)
        .unwrap();
    assert_ne!(again.status, DeliveryStatus::Failed);

    // A citizen of B asking for A's complaint number learns nothing.
    let citizen_b = "919800000009";
    app.say(&b, citizen_b, &format!("status {number}")).await;
    let r = graph.wait_for_reply_to(citizen_b, 1).await;
    assert!(r[0].contains("could not find"), "{}", r[0]);
    // The same citizen number writing to A is a different contact there, and also
    // cannot see another citizen's complaint.
    app.say(&a, citizen_b, &format!("status {number}")).await;
    let r = graph.wait_for_reply_to(citizen_b, 2).await;
    assert!(r[1].contains("could not find"), "{}", r[1]);

    // Store reads scoped to B see none of A's rows.
    assert!(app
        .store
        .complaints(&b.tenant.id, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(app
        .store
        .complaint_by_number(
            &b.tenant.id,
            &ombud_core::ComplaintNumber::parse(&number).unwrap()
        )
        .await
        .unwrap()
        .is_none());
    let b_conversations = app.store.conversations(&b.tenant.id).await.unwrap();
    assert_eq!(b_conversations.len(), 1);
    let a_conversation = &app.store.conversations(&a.tenant.id).await.unwrap()[0];
    assert!(app
        .store
        .messages(&b.tenant.id, &a_conversation.id)
        .await
        .unwrap()
        .is_empty());
    assert!(app
        .store
        .executions(&b.tenant.id, &a_conversation.id)
        .await
        .unwrap()
        .is_empty());
    let b_channels = app.store.channels(&b.tenant.id).await.unwrap();
    assert_eq!(b_channels.len(), 1);
    assert_eq!(b_channels[0].id, b.channel.id);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_keeps_tenants_apart_and_explains_bad_input() {
    let db = TestDb::new().await;
    let d = &db;
    let (code, v, _) = run_cli(d, &["migrate"]);
    assert_eq!(code, 0);
    assert_eq!(
        v["schema_version"],
        ombud_store::sqlite::latest_schema_version()
    );
    let (code, v, _) = run_cli(
        d,
        &[
            "tenant",
            "create",
            "--slug",
            "alpha",
            "--name",
            "Alpha Office",
            "--prefix",
            "ALPHA",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(v["tenant"]["slug"], "alpha");
    assert!(v["categories"].as_array().unwrap().len() >= 5);
    let (code, _, _) = run_cli(
        d,
        &[
            "tenant",
            "create",
            "--slug",
            "beta",
            "--name",
            "Beta Office",
            "--prefix",
            "BETA",
            "--language",
            "mr",
        ],
    );
    assert_eq!(code, 0);

    let add = |tenant: &str, phone: &str| {
        run_cli(
            d,
            &[
                "channel",
                "add",
                "whatsapp",
                "--tenant",
                tenant,
                "--phone-number-id",
                phone,
                "--app-secret",
                "s",
                "--verify-token",
                "v",
                "--access-token",
                "a",
                "--graph-url",
                "http://127.0.0.1:9",
            ],
        )
    };
    let (code, a, _) = add("alpha", "111");
    assert_eq!(code, 0);
    let id = a["channel_id"].as_str().unwrap().to_owned();
    assert_eq!(
        a["webhook_path"],
        format!("/channels/whatsapp/{id}/webhook")
    );
    assert!(
        !a.to_string().contains("\"s\""),
        "secrets are never printed: {a}"
    );
    let (code, _, _) = add("beta", "222");
    assert_eq!(code, 0);

    let (_, list, _) = run_cli(d, &["channel", "list", "--tenant", "beta"]);
    let channels = list["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0]["phone_number_id"], "222");
    assert!(!list.to_string().contains(&id));

    // A Telegram bot: its secret token is shown once, for setWebhook.
    let token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345";
    let telegram = |token: &str| {
        run_cli(
            d,
            &[
                "channel",
                "add",
                "telegram",
                "--tenant",
                "alpha",
                "--bot-token",
                token,
            ],
        )
    };
    let (code, tg, err) = telegram(token);
    assert_eq!(code, 0, "{err}");
    assert_eq!(tg["kind"], "telegram");
    assert_eq!(tg["bot_id"], "123456");
    assert_eq!(tg["secret_token"].as_str().unwrap().len(), 26);
    assert!(
        !tg.to_string().contains(token),
        "the bot token is never printed"
    );
    let (code, _, err) = telegram(token);
    assert_eq!(code, 2, "one channel per bot: {err}");
    assert!(err.contains("bot_token"), "{err}");
    let (code, _, err) = telegram("not-a-token");
    assert_eq!(code, 2);
    assert!(err.contains("bot_token"), "{err}");
    // A web chat, with the sites that may embed it.
    let (code, web, err) = run_cli(
        d,
        &[
            "channel",
            "add",
            "webchat",
            "--tenant",
            "alpha",
            "--allowed-origins",
            "https://alpha.example,https://www.alpha.example",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let web_id = web["channel_id"].as_str().unwrap();
    assert_eq!(
        web["webhook_path"],
        format!("/channels/webchat/{web_id}/widget.js")
    );
    assert_eq!(web["allowed_origins"][1], "https://www.alpha.example");
    let (code, _, err) = run_cli(
        d,
        &[
            "channel",
            "add",
            "webchat",
            "--tenant",
            "alpha",
            "--allowed-origins",
            "alpha.example/x",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("allowed_origins"), "{err}");

    // Bad input: exit code 2 and a message naming what was wrong.
    let (code, _, err) = run_cli(
        d,
        &[
            "tenant", "create", "--slug", "Bad Slug", "--name", "x", "--prefix", "BAD",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("slug"), "{err}");
    let (code, _, err) = run_cli(
        d,
        &[
            "tenant", "create", "--slug", "alpha", "--name", "x", "--prefix", "ALP",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = add("gamma", "333");
    assert_eq!(code, 2);
    assert!(err.contains("gamma"), "{err}");
    let (code, _, err) = add("beta", "111");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("phone_number_id"), "{err}");
    let (code, _, err) = run_cli(
        d,
        &[
            "tenant",
            "create",
            "--slug",
            "tamil",
            "--name",
            "x",
            "--prefix",
            "TN",
            "--language",
            "ta",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("language"), "{err}");
}
