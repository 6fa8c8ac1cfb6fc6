//! The survey on Telegram: an inline keyboard, taps as callback queries;
//! and the settings that say when and how often.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use super::{surveys, surveys_settled};
use crate::audit::session_api;
use crate::fake_telegram::FakeTelegram;
use crate::helpers::*;
use crate::staff::*;
use crate::templates::set_status;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_on_telegram_is_an_inline_keyboard_and_the_settings_say_when_and_how_often() {
    const BOT_TOKEN: &str = "654321:ABCdefGHIjklMNOpqrSTUvwxYZ012345";
    const SECRET: &str = "tg-secret_token-csat";
    let graph = FakeGraph::start().await;
    let tg = FakeTelegram::start(BOT_TOKEN).await;
    let app = TestApp::spawn().await;
    let t = app.tenant("tgcsat", "TGC", &graph).await;
    let (_, channel) = ombud_engine::provision::add_channel(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        app.engine.outbound().providers(),
        &t.tenant.slug,
        "Telegram".into(),
        ChannelConfig::Telegram(TelegramConfig {
            bot_token: Secret::new(BOT_TOKEN),
            secret_token: Secret::new(SECRET),
            api_url: tg.url(),
        }),
    )
    .await
    .unwrap();
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsRead, Scope::ComplaintsWrite],
        )
        .await;
    let chat = "777051";
    let post = |update: Value| {
        app.http
            .post(app.url(&channel.webhook_path()))
            .header("x-telegram-bot-api-secret-token", SECRET)
            .json(&update)
            .send()
    };
    let say = |id: i64, text: &str| {
        json!({"update_id": 7000 + id, "message": {"message_id": id, "date": 1764633600,
            "chat": {"id": 777051, "type": "private"},
            "from": {"id": 777051, "is_bot": false, "first_name": "Ravi"}, "text": text}})
    };

    // An admin asks after 2 hours, once per complaint; a bad value is named.
    let admin = user(
        &app,
        "admin@tgcsat.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let res = session_api(&staff, Method::PUT, "/settings/survey")
        .await
        .json(&json!({"enabled": true, "delay_hours": 0, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["fields"][0]["field"], "delay_hours", "{e}");
    let res = session_api(&staff, Method::PUT, "/settings/survey")
        .await
        .json(&json!({"enabled": true, "delay_hours": 2, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = app
        .api(Method::PUT, "/settings/survey", &key)
        .json(&json!({"enabled": false, "delay_hours": 2, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an API key does not change settings");
    let got: Value = app
        .api(Method::GET, "/settings/survey", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"enabled": true, "delay_hours": 2, "repeat": "once_per_complaint"})
    );

    for (i, text) in [
        "The garbage has not been collected for a week",
        "Lane 5, Kothrud",
        "yes",
    ]
    .iter()
    .enumerate()
    {
        // Telegram numbers a chat's messages, the bot's and the person's,
        // in one sequence: the fake's start at 1, the person's here at 101.
        assert_eq!(post(say(i as i64 + 101, text)).await.unwrap().status(), 200);
        tg.wait_for(chat, i + 1).await;
    }
    let number = number_in(tg.sent_to(chat).last().unwrap())
        .unwrap_or_else(|| panic!("{:?}", tg.sent_to(chat)));
    set_status(&app, &key, &number, "resolved").await;
    tg.wait_for(chat, 4).await;
    app.pass(chrono::Duration::minutes(121)).await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            tg.sent().iter().any(|m| m.keyboard.len() == 5)
        })
        .await,
        "the survey was asked"
    );
    let asked = tg
        .sent()
        .into_iter()
        .find(|m| m.keyboard.len() == 5)
        .unwrap();
    assert!(asked.text.contains(&number), "{}", asked.text);
    let rows: Vec<(String, String)> = asked.keyboard.iter().map(|r| r[0].clone()).collect();
    assert_eq!(rows[0], ("5 ★ Very good".to_owned(), "rate:5".to_owned()));
    assert_eq!(rows.len(), 5);

    // A tap comes back as a callback query, answered in the webhook's response.
    let callback = |id: &str, data: &str| {
        json!({"update_id": 7100, "callback_query": {"id": id,
            "from": {"id": 777051, "is_bot": false, "first_name": "Ravi"},
            "message": {"message_id": asked.message_id, "date": 1764633600,
                "chat": {"id": 777051, "type": "private"}, "text": asked.text,
                "reply_markup": {"inline_keyboard": asked.keyboard.iter().map(|r| json!([{"text": r[0].0, "callback_data": r[0].1}])).collect::<Vec<_>>()}},
            "chat_instance": "-77", "data": data}})
    };
    let res = post(callback("cbq-1", "rate:5")).await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        (&answer["method"], &answer["callback_query_id"]),
        (&json!("answerCallbackQuery"), &json!("cbq-1"))
    );
    // Telegram delivers an update again when unsure: stored once.
    let again: Value = post(callback("cbq-1", "rate:5"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicates"], 1);
    let told = tg.wait_for(chat, 6).await;
    assert!(
        told[5].starts_with("Thank you! Would you like to tell us more?"),
        "{told:?}"
    );
    let skip = tg.sent().pop().unwrap();
    assert_eq!(
        skip.keyboard,
        [[("No thanks".to_owned(), "comment:skip".to_owned())]]
    );
    assert_eq!(
        post(callback("cbq-2", "comment:skip"))
            .await
            .unwrap()
            .status(),
        200
    );
    let told = tg.wait_for(chat, 7).await;
    assert_eq!(told[6], "Thank you for your feedback.");
    // A late tap on the old keyboard is thanked, not taken for a complaint.
    assert_eq!(
        post(callback("cbq-3", "rate:1")).await.unwrap().status(),
        200
    );
    let told = tg.wait_for(chat, 8).await;
    assert_eq!(told[7], "Thank you, we already have your answer.");
    let s = &surveys(&app, &key, &number).await[0];
    assert_eq!(
        (&s["rating"], &s["stage"], &s["comment"]),
        (&json!(5), &json!("done"), &Value::Null)
    );

    // Once per complaint: resolved again, nobody asks.
    set_status(&app, &key, &number, "in_progress").await;
    set_status(&app, &key, &number, "resolved").await;
    app.pass(chrono::Duration::hours(3)).await;
    surveys_settled(&app, &t, &number).await;
    assert_eq!(surveys(&app, &key, &number).await.len(), 1);
    assert_eq!(
        tg.sent().iter().filter(|m| m.keyboard.len() == 5).count(),
        1
    );
}
