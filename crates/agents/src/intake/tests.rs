use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ombud_core::*;

use super::*;
use crate::testing::*;

/// Drives a conversation one message per run, as the queue would, and returns the
/// replies to each.
struct Chat {
    tools: FakeTools,
    state: serde_json::Value,
    language: Option<Language>,
    seq: i64,
    config: IntakeConfig,
    handed_off: bool,
    conversation_id: ConversationId,
    /// The buttons under the last reply.
    choices: Option<ombud_core::choice::Choices>,
}

impl Chat {
    fn new() -> Self {
        Self {
            tools: FakeTools::new(),
            state: serde_json::json!({}),
            language: None,
            seq: 0,
            // A test types faster than a citizen; limits are tested on their own.
            config: IntakeConfig {
                limits: Limits {
                    per_day: 1000,
                    burst: 1000,
                    burst_window_secs: 60,
                },
                ..IntakeConfig::default()
            },
            handed_off: false,
            conversation_id: ConversationId::new(),
            choices: None,
        }
    }

    /// A tap on a button: its title as the text, its id as the payload.
    async fn tap(&mut self, id: &str, title: &str) -> String {
        self.seq += 1;
        let mut m = message(self.seq, title, MessageKind::Interactive);
        m.payload = Some(id.into());
        self.run(vec![m]).await.join("\n")
    }

    /// A location pin, as WhatsApp and Telegram deliver one.
    async fn pin(&mut self, shared: &ombud_core::geo::SharedLocation) -> String {
        self.seq += 1;
        let mut m = message(self.seq, "[location]", MessageKind::Location);
        m.payload = Some(shared.to_payload());
        self.run(vec![m]).await.join("\n")
    }

    /// A photo with its caption, fetched (`state`) as the engine hands it
    /// over; its message id.
    async fn photo(
        &mut self,
        caption: &str,
        state: ombud_core::media::MediaState,
    ) -> (MessageId, String) {
        self.seq += 1;
        let mut m = message(self.seq, caption, MessageKind::Image);
        m.media = Some(ombud_core::media::MediaInfo {
            state,
            ..ombud_core::media::MediaInfo::fetching(AttachmentId::new())
        });
        let id = m.id.clone();
        (id, self.run(vec![m]).await.join("\n"))
    }

    /// A voice note as the engine hands it over: `state`, with `words`
    /// heard (None: not transcribed) or refused as `refusal`.
    async fn voice(
        &mut self,
        state: ombud_core::media::MediaState,
        words: Option<&str>,
        refusal: Option<ombud_core::media::Refusal>,
    ) -> String {
        self.seq += 1;
        let mut m = message(self.seq, "", MessageKind::Audio);
        m.media = Some(ombud_core::media::MediaInfo {
            state,
            transcript: words.map(str::to_owned),
            refusal,
            ..ombud_core::media::MediaInfo::fetching(AttachmentId::new())
        });
        self.run(vec![m]).await.join("\n")
    }

    async fn send_batch(&mut self, bodies: &[&str]) -> Vec<String> {
        let messages = bodies
            .iter()
            .map(|b| {
                self.seq += 1;
                message(self.seq, b, MessageKind::Text)
            })
            .collect();
        self.run(messages).await
    }

    async fn send(&mut self, body: &str) -> String {
        self.send_batch(&[body]).await.join("\n")
    }

    async fn run(&mut self, messages: Vec<Message>) -> Vec<String> {
        let contact = Contact {
            id: ContactId::new(),
            tenant_id: TenantId::new(),
            channel_id: ChannelId::new(),
            external_id: "919800000001".into(),
            profile_name: None,
            language: self.language.clone(),
            first_seen_at: Utc::now(),
            last_seen_at: Utc::now(),
            messages_in: 0,
            messages_out: 0,
            block: None,
        };
        let input = RunInput {
            tenant: tenant(),
            contact,
            conversation_id: self.conversation_id.clone(),
            state: self.state.clone(),
            messages,
            config: Arc::new(serde_json::to_value(&self.config).unwrap()),
            version: None,
            agent: None,
            now: Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap(),
        };
        let out = IntakeAgent::default()
            .run(input, &self.tools)
            .await
            .unwrap();
        self.state = out.state;
        if out.language.is_some() {
            self.language = out.language;
        }
        self.handed_off |= out.handoff;
        self.choices = out.replies.last().and_then(|r| r.choices.clone());
        out.replies.into_iter().map(|r| r.text).collect()
    }
}

#[tokio::test]
async fn english_dialogue_registers_a_complaint() {
    let mut chat = Chat::new();
    let r = chat
        .send("The street light near Shivaji school has been broken for a week")
        .await;
    assert!(r.contains("Where is this"), "{r}");
    let r = chat.send("Near Shivaji school, Kothrud").await;
    assert!(
        r.contains("Category: Street lights") && r.contains("Kothrud"),
        "{r}"
    );
    let r = chat.send("yes").await;
    assert!(r.contains("PUNE-20261123-0001"), "{r}");
    let created = chat.tools.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    let c = &created[0].1;
    assert_eq!(c.location.as_deref(), Some("Near Shivaji school, Kothrud"));
    assert_eq!(c.language.as_str(), "en");
    assert_eq!(
        Some(&c.category_id.clone().unwrap()),
        Some(&chat.tools.categories[1].id)
    );
    let r = chat.send("status PUNE-20261123-0001").await;
    assert!(
        r.contains("PUNE-20261123-0001: received (Street lights"),
        "{r}"
    );
    let r = chat.send("status").await;
    assert!(r.contains("PUNE-20261123-0001"), "{r}");
    let r = chat.send("status PUNE-20261123-0099").await;
    assert!(r.contains("could not find"), "{r}");
}

#[tokio::test]
async fn unknown_category_offers_the_list_and_no_cancels() {
    let mut chat = Chat::new();
    let r = chat
        .send("there is a big problem with the municipal office here")
        .await;
    assert!(
        r.contains("1. Roads") && r.contains("2. Street lights"),
        "{r}"
    );
    let r = chat.send("7").await;
    assert!(r.contains("1. Roads"), "asks again: {r}");
    let r = chat.send("1").await;
    assert!(r.contains("Where is this"), "{r}");
    chat.send("Main road").await;
    let r = chat.send("no").await;
    assert!(r.contains("Cancelled"), "{r}");
    assert!(chat.tools.created.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_categories_and_the_confirmation_are_buttons_and_a_tap_answers_them() {
    use ombud_core::choice::Choice;
    let mut chat = Chat::new();
    chat.send("there is a big problem with the municipal office here")
        .await;
    let offered = chat.choices.clone().expect("the categories to tap");
    assert_eq!(
        offered.options[1],
        Choice {
            id: "intake:category:2".into(),
            title: "Street lights".into()
        }
    );
    let r = chat.tap("intake:category:2", "Street lights").await;
    assert!(r.contains("Where is this"), "{r}");
    assert!(chat.choices.is_none(), "a place is typed, not tapped");
    let r = chat.send("Near the temple").await;
    assert!(r.contains("Category: Street lights"), "{r}");
    let ids: Vec<String> = chat
        .choices
        .clone()
        .expect("yes and no to tap")
        .options
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["intake:yes", "intake:no"]);
    let r = chat.tap("intake:yes", "Yes").await;
    assert!(r.contains("PUNE-20261123-0001"), "{r}");
    assert_eq!(chat.tools.created.lock().unwrap().len(), 1);
    // Another's button (a survey's, say) is not taken for words.
    let r = chat.tap("poll:1", "Yes").await;
    assert!(r.contains("only understand text"), "{r}");
}

#[tokio::test]
async fn an_address_is_not_the_problem_and_two_close_kinds_are_asked_about() {
    use ombud_core::choice::Choice;
    let mut chat = Chat::new();
    // "MG Road" says where, not what.
    let r = chat
        .send("Street light not working near Shivaji School on MG Road")
        .await;
    assert!(r.contains("Where is this"), "taken as a street light: {r}");
    chat.send("cancel").await;
    // A pothole by a lamp: either; the citizen is asked, with the two to
    // tap and a third for every kind.
    let r = chat.send("pothole next to the lamp post").await;
    assert!(
        r.contains("Is this about Roads or Street lights?")
            && r.contains("1. Roads\n2. Street lights"),
        "{r}"
    );
    let offered = chat.choices.clone().expect("buttons").options;
    assert_eq!(
        offered,
        [
            Choice {
                id: "intake:category:1".into(),
                title: "Roads".into()
            },
            Choice {
                id: "intake:category:2".into(),
                title: "Street lights".into()
            },
            Choice {
                id: "intake:category:0".into(),
                title: "Other kinds".into()
            },
        ]
    );
    let r = chat.tap("intake:category:0", "Other kinds").await;
    assert!(
        r.contains("Which kind of problem") && r.contains("2. Street lights"),
        "{r}"
    );
    let r = chat.tap("intake:category:2", "Street lights").await;
    assert!(r.contains("Where is this"), "{r}");
    chat.send("Near the temple").await;
    let r = chat.send("yes").await;
    assert!(r.contains("PUNE-20261123-0001"), "{r}");
    let created = chat.tools.created.lock().unwrap();
    assert_eq!(created[0].1.description, "pothole next to the lamp post");
    let lights = &chat.tools.categories[1];
    assert_eq!(created[0].1.category_id.as_ref(), Some(&lights.id));
}

#[tokio::test]
async fn a_location_pin_is_the_complaints_place_before_or_after_the_words() {
    use ombud_core::geo::{GeoPoint, SharedLocation};
    let wada = SharedLocation {
        latitude: 18.5195,
        longitude: 73.8553,
        name: Some("Shaniwar Wada".into()),
        address: Some("Shaniwar Peth, Pune".into()),
    };
    // Asked where: the pin answers.
    let mut chat = Chat::new();
    let r = chat
        .send("The street light near the school is broken")
        .await;
    assert!(r.contains("Where is this"), "{r}");
    let r = chat.pin(&wada).await;
    assert!(
        r.contains("Location: Shaniwar Wada, Shaniwar Peth, Pune"),
        "{r}"
    );
    chat.send("yes").await;
    let created = chat.tools.created.lock().unwrap()[0].1.clone();
    assert_eq!(
        created.location.as_deref(),
        Some("Shaniwar Wada, Shaniwar Peth, Pune")
    );
    assert_eq!(created.point, GeoPoint::new(18.5195, 73.8553));

    // The pin first: kept, the problem asked for, and never asked where.
    let mut chat = Chat::new();
    let bare = SharedLocation {
        name: None,
        address: None,
        ..wada
    };
    let r = chat.pin(&bare).await;
    assert!(r.contains("describe the problem"), "{r}");
    let r = chat
        .send("The street light near the school is broken")
        .await;
    assert!(
        r.contains("Location: 18.519500, 73.855300"),
        "straight to confirming: {r}"
    );
    chat.send("yes").await;
    let created = chat.tools.created.lock().unwrap()[0].1.clone();
    assert_eq!(created.point, GeoPoint::new(18.5195, 73.8553));
    // A pin that is not one is answered as a message Ombud cannot read.
    let mut m = message(99, "[location]", MessageKind::Location);
    m.payload = Some("{}".into());
    let r = chat.run(vec![m]).await.join("\n");
    assert!(r.contains("only understand text"), "{r}");
}

#[tokio::test]
async fn marathi_is_answered_in_marathi() {
    let mut chat = Chat::new();
    let r = chat.send("शिवाजी शाळेजवळचा दिवा आठवड्यापासून बंद आहे").await;
    assert!(r.contains("हे कुठे आहे"), "{r}");
    let r = chat.send("शिवाजी शाळा, कोथरूड").await;
    assert!(r.contains("कृपया तुमच्या तक्रारीची खात्री करा"), "{r}");
    let r = chat.send("हो").await;
    assert!(r.contains("तक्रार क्रमांक: PUNE-20261123-0001"), "{r}");
    let c = chat.tools.created.lock().unwrap()[0].1.clone();
    assert_eq!(c.language.as_str(), "mr");
}

#[tokio::test]
async fn hindi_greeting_and_help() {
    let mut chat = Chat::new();
    let r = chat.send("नमस्ते").await;
    assert!(r.contains("शिकायत सेवा") || r.contains("तक्रार सेवा"), "{r}");
    assert!(!r.contains("complaint desk"), "{r}");
    let r = chat.send("मदद").await;
    assert!(r.contains("status"), "{r}");
}

#[tokio::test]
async fn handoff_silences_the_rest_of_the_batch() {
    let mut chat = Chat::new();
    let r = chat.send_batch(&["human", "hello?", "anyone?"]).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("staff"));
    assert!(chat.handed_off);
}

#[tokio::test]
async fn retried_confirmation_does_not_create_twice() {
    let mut chat = Chat::new();
    chat.send("The road has a huge pothole").await;
    chat.send("MG Road").await;
    let saved = chat.state.clone();
    let yes = message(chat.seq + 1, "yes", MessageKind::Text);
    let first = chat.run(vec![yes.clone()]).await.join("\n");
    // The same run again, as after a crash before its commit: same state, same message.
    chat.state = saved;
    let again = chat.run(vec![yes]).await.join("\n");
    assert_eq!(chat.tools.created.lock().unwrap().len(), 1);
    assert!(
        first.contains("0001") && again.contains("0001"),
        "{first} / {again}"
    );
}

#[tokio::test]
async fn limits_answer_once_then_stay_quiet() {
    let mut chat = Chat::new();
    chat.config.limits = Limits {
        per_day: 100,
        burst: 2,
        burst_window_secs: 60,
    };
    let r = chat
        .send_batch(&["hi", "help", "help", "help", "help"])
        .await;
    assert_eq!(r.len(), 3, "two answers and one notice: {r:?}");
    assert!(r[2].contains("very fast"));

    let mut chat = Chat::new();
    chat.config.limits.per_day = 2;
    let r = chat.send_batch(&["help", "help", "help"]).await;
    assert_eq!(r.len(), 3, "two answers and the notice: {r:?}");
    assert!(r[2].contains("many messages today"));
    let r = chat.send("help").await;
    assert!(r.is_empty(), "the notice goes out once a day: {r}");
}

#[tokio::test]
async fn limits_count_by_when_messages_arrived_across_runs() {
    // 06:00 UTC on 23 Nov is 11:30 in Pune; the next local day starts at
    // 18:30 UTC.
    let at = |h: u32, m: u32, s: u32| Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap();
    let mut chat = Chat::new();
    chat.config.limits = Limits {
        per_day: 3,
        burst: 2,
        burst_window_secs: 60,
    };
    let say = |chat: &mut Chat, when, body: &str| {
        chat.seq += 1;
        message_at(chat.seq, body, MessageKind::Text, when)
    };
    // Two within a minute, each in a run of its own: both answered.
    for s in [0, 10] {
        let m = say(&mut chat, at(6, 0, s), "help");
        assert_eq!(chat.run(vec![m]).await.len(), 1);
    }
    // A third within that minute is over the burst limit.
    let m = say(&mut chat, at(6, 0, 20), "help");
    let r = chat.run(vec![m]).await;
    assert!(r.len() == 1 && r[0].contains("very fast"), "{r:?}");
    // A minute later the window has moved on, but this is the day's fourth.
    let m = say(&mut chat, at(6, 2, 0), "help");
    let r = chat.run(vec![m]).await;
    assert!(
        r.len() == 1 && r[0].contains("many messages today"),
        "{r:?}"
    );
    // After local midnight the day counts afresh.
    let m = say(&mut chat, at(18, 31, 0), "help");
    let r = chat.run(vec![m]).await;
    assert!(r.len() == 1 && r[0].starts_with("You can"), "{r:?}");
}

#[tokio::test]
async fn a_new_session_drops_the_dialogue_but_keeps_counting_the_day() {
    let at = |m: u32| Utc.with_ymd_and_hms(2026, 11, 23, 6, m, 0).unwrap();
    let mut chat = Chat::new();
    chat.config.limits = Limits {
        per_day: 3,
        burst: 100,
        burst_window_secs: 60,
    };
    let say = |chat: &mut Chat, when, body: &str| {
        chat.seq += 1;
        message_at(chat.seq, body, MessageKind::Text, when)
    };
    let m = say(&mut chat, at(0), "Streetlight broken near the school gate");
    chat.run(vec![m]).await;
    assert_ne!(chat.state["step"], "idle", "{}", chat.state);
    // Staff close the session: the next "hello" is greeted, not taken as
    // an answer to the unfinished question.
    chat.state = IntakeAgent::default().new_session(&chat.state);
    assert_eq!(chat.state["step"], "idle");
    assert!(chat.state["draft"].is_null());
    let m = say(&mut chat, at(1), "hello");
    let r = chat.run(vec![m]).await;
    assert!(r[0].contains("complaint desk"), "{r:?}");
    // The day's count went on: this is the third message, the fourth is over.
    let m = say(&mut chat, at(2), "help");
    assert_eq!(chat.run(vec![m]).await.len(), 1);
    let m = say(&mut chat, at(3), "help");
    let r = chat.run(vec![m]).await;
    assert!(r[0].contains("many messages today"), "{r:?}");
}

#[tokio::test]
async fn photos_go_with_the_complaint_they_are_sent_during() {
    use ombud_core::media::MediaState::*;
    // Before the words: kept, and the problem asked for.
    let mut chat = Chat::new();
    let (first, r) = chat.photo("", Ready).await;
    assert!(r.starts_with("Thank you, we have your photo"), "{r}");
    assert!(r.ends_with("what is wrong and where."), "{r}");
    let r = chat
        .send("Big pothole on the main road near the school")
        .await;
    assert!(r.contains("Where is this"), "{r}");
    // During the dialogue: a second one, and the question again.
    let (second, r) = chat.photo("", Ready).await;
    assert!(
        r.contains("Thank you, we have your photo") && r.ends_with("nearby landmark."),
        "{r}"
    );
    let r = chat.send("Karve Road, opposite Nal Stop").await;
    assert!(r.contains("confirm"), "{r}");
    // One that could not be taken is asked for again, and not kept.
    let (_, r) = chat.photo("", Refused).await;
    assert!(r.starts_with("Sorry, we could not take that file"), "{r}");
    let r = chat.send("yes").await;
    assert!(r.contains("registered"), "{r}");
    assert_eq!(*chat.tools.media.lock().unwrap(), vec![vec![first, second]]);

    // A caption is read as if typed.
    let mut chat = Chat::new();
    let (photo, r) = chat
        .photo("Street light not working outside house 12, Lane 4", Ready)
        .await;
    assert!(
        r.starts_with("Thank you") && r.contains("Where is this"),
        "{r}"
    );
    let r = chat.send("Lane 4, Kothrud").await;
    assert!(r.contains("Problem: Street light not working"), "{r}");
    chat.send("yes").await;
    assert_eq!(*chat.tools.media.lock().unwrap(), vec![vec![photo]]);
}

#[tokio::test]
async fn voice_notes_read_as_their_words_or_are_answered_as_a_person_would() {
    use ombud_core::media::{MediaState::*, Refusal};
    let mut chat = Chat::new();
    let r = chat
        .voice(
            Ready,
            Some("Street light not working outside house 12, Lane 4"),
            None,
        )
        .await;
    assert!(r.contains("Where is this"), "{r}");
    chat.send("Lane 4, Kothrud").await;
    let r = chat.send("yes").await;
    assert!(r.contains("registered"), "{r}");
    assert_eq!(
        chat.tools.media.lock().unwrap()[0].len(),
        1,
        "the note goes with it"
    );

    let mut chat = Chat::new();
    let r = chat.voice(Ready, Some(""), None).await;
    assert!(r.starts_with("We could not hear any words"), "{r}");
    let r = chat.voice(Ready, None, None).await;
    assert!(r.contains("only understand text"), "{r}");
    let r = chat.voice(Refused, None, Some(Refusal::TooLong)).await;
    assert!(r.contains("too long"), "{r}");
    let r = chat.voice(Refused, None, Some(Refusal::Damaged)).await;
    assert!(r.starts_with("Sorry, we could not take that file"), "{r}");
    assert!(!chat.handed_off);
    let r = chat.voice(Unheard, None, None).await;
    assert!(r.contains("staff will listen"), "{r}");
    assert!(chat.handed_off, "people take it");
}

#[tokio::test]
async fn non_text_is_answered_politely() {
    let mut chat = Chat::new();
    let m = message(1, "[image]", MessageKind::Image);
    let r = chat.run(vec![m]).await;
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("only understand text"));
}

/// One "hi" from a new contact, run with `config` as version `version`.
fn hello_with(config: serde_json::Value, version: Option<AgentVersionId>) -> RunInput {
    RunInput {
        tenant: tenant(),
        contact: Contact {
            id: ContactId::new(),
            tenant_id: TenantId::new(),
            channel_id: ChannelId::new(),
            external_id: "1".into(),
            profile_name: None,
            language: None,
            first_seen_at: Utc::now(),
            last_seen_at: Utc::now(),
            messages_in: 0,
            messages_out: 0,
            block: None,
        },
        conversation_id: ConversationId::new(),
        state: serde_json::json!({}),
        messages: vec![message(1, "hi", MessageKind::Text)],
        config: Arc::new(config),
        version,
        agent: None,
        now: Utc::now(),
    }
}

#[tokio::test]
async fn bad_config_is_an_error_not_a_panic() {
    let input = hello_with(serde_json::json!({"languages": []}), None);
    let err = IntakeAgent::default()
        .run(input, &FakeTools::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("languages"), "{err}");
}

#[tokio::test]
async fn a_saved_versions_config_is_parsed_once_and_kept() {
    let agent = IntakeAgent::default();
    let tools = FakeTools::new();
    let version = AgentVersionId::new();
    let good = serde_json::to_value(IntakeConfig::default()).unwrap();
    let bad = serde_json::json!({"languages": []});
    agent
        .run(hello_with(good, Some(version.clone())), &tools)
        .await
        .unwrap();
    // Saved versions never change, so the id's first parse stands: this
    // (impossible) changed config is not even read.
    let out = agent
        .run(hello_with(bad.clone(), Some(version)), &tools)
        .await
        .unwrap();
    assert_eq!(out.replies.len(), 1, "{out:?}");
    // A config that is not a saved version is parsed every time.
    assert!(agent.run(hello_with(bad, None), &tools).await.is_err());
}
