//! Voice notes (issue 27): a real Ogg Opus note (spoken by espeak-ng,
//! encoded by opusenc) goes from a WhatsApp webhook through the download
//! and the size check to an OpenAI-compatible transcriber, and its words
//! make a complaint with source `voice` that staff can play. Over-long
//! notes are refused politely in the citizen's language, silence is not
//! taken for words, and a transcriber that keeps failing hands the
//! conversation to people.

use std::process::Command;
use std::time::Duration;

use ombud_core::*;
use serde_json::{json, Value};

use crate::fake_whisper::{FakeWhisper, KEY};
use crate::helpers::*;
use crate::media::finish_dialogue;
use crate::staff::*;

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is missing: install espeak-ng and opus-tools (scripts/test does)"
    );
    Command::new(name)
}

/// Ogg Opus of `wav`, as a phone records a voice note.
fn opus(wav: &std::path::Path) -> Vec<u8> {
    let ogg = wav.with_extension("ogg");
    let ok = tool("opusenc")
        .args(["--quiet", "--bitrate", "24"])
        .arg(wav)
        .arg(&ogg)
        .status()
        .unwrap();
    assert!(ok.success(), "opusenc");
    std::fs::read(ogg).unwrap()
}

/// A voice note saying `text` (espeak-ng's voice, Opus-encoded).
pub fn speak(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("note.wav");
    let ok = tool("espeak-ng")
        .args(["-v", "en", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .unwrap();
    assert!(ok.success(), "espeak-ng");
    opus(&wav)
}

/// A voice note of `seconds` of silence (a pocket recording).
fn silence(seconds: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("quiet.wav");
    let rate = 16_000u32;
    let data = rate * 2 * seconds;
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(b.len() + data as usize, 0);
    std::fs::write(&wav, b).unwrap();
    opus(&wav)
}

/// Meta's webhook for a voice note.
fn voice_message(t: &TestTenant, citizen: &str, media_id: &str, sha256: &str) -> Value {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111",
                     "phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "contacts": [{"profile": {"name": "Ravi"}, "wa_id": citizen}],
        "messages": [{"from": citizen, "id": format!("wamid.VOICE.{}", ombud_core::id::new_id_body()),
                      "timestamp": "1763856000", "type": "audio",
                      "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": sha256,
                                "id": media_id, "voice": true}}]
    }))
}

/// Sends `note` as the citizen's voice note; the office's answer.
async fn send_voice(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    note: &[u8],
) -> String {
    let (media_id, sha256) = graph.add_media(note, "audio/ogg; codecs=opus");
    let before = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    let payload = voice_message(t, citizen, &media_id, &sha256);
    assert_eq!(app.post_signed(t, &payload).await.status(), 200);
    let ok = wait_until(Duration::from_secs(20), || async {
        graph.delivered_to(citizen).len() > before
    })
    .await;
    assert!(ok, "no answer to the voice note");
    graph.delivered_to(citizen)[before].clone()
}

/// The office's transcriber is `whisper`, its limits `limits`.
async fn with_transcriber(
    app: &TestApp,
    t: &TestTenant,
    whisper: &FakeWhisper,
    limits: ombud_core::media::MediaLimits,
) {
    app.engine
        .ops()
        .set_media_settings(
            &ombud_engine::Acting::cli(),
            &t.tenant.id,
            limits,
            ombud_engine::ops::settings::TranscriberInput {
                base_url: Some(whisper.url()),
                model: "Systran/faster-whisper-small".into(),
                api_key: Some(KEY.into()),
            },
        )
        .await
        .expect("transcriber set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_note_becomes_a_complaint_from_voice_that_staff_can_play() {
    let graph = FakeGraph::start().await;
    let whisper = FakeWhisper::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    with_transcriber(&app, &t, &whisper, Default::default()).await;
    let words = "The street light outside house twelve on lane four is broken for a week";
    let note = speak(words);
    assert!(
        note.starts_with(b"OggS") && note.len() > 2000,
        "a real note"
    );
    whisper.says(&note, words, "english");
    let citizen = "919800000601";

    let first = send_voice(&app, &t, &graph, citizen, &note).await;
    let number = finish_dialogue(&app, &t, &graph, citizen, first).await;

    // What the transcriber got: OpenAI's multipart.
    let heard = whisper.requests();
    assert_eq!(heard.len(), 1, "{heard:?}");
    let h = &heard[0];
    assert_eq!(h.file_type, "audio/ogg");
    assert!(h.file_name.ends_with(".ogg"), "{}", h.file_name);
    assert_eq!(
        h.file_sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&note))
    );
    assert_eq!(h.fields["model"], "Systran/faster-whisper-small");
    assert_eq!(h.fields["response_format"], "verbose_json");
    assert!(h.fields["prompt"].contains("pune office"), "{:?}", h.fields);
    assert!(
        h.fields["prompt"].contains("Street lights"),
        "{:?}",
        h.fields
    );

    // The complaint came from a voice note; the note is kept with its words.
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let c = crate::sla::complaint_json(&app, &key, &number).await;
    assert_eq!(c["source"], "voice", "{c}");
    assert!(
        c["description"].as_str().unwrap().contains("street light"),
        "{c}"
    );
    let listed = crate::media::listed(&app, &t, &number).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kind"], "audio");
    assert_eq!(listed[0]["content_type"], "audio/ogg");
    assert_eq!(listed[0]["transcript"], words);
    let conversation: ConversationId = c["conversation_id"].as_str().unwrap().parse().unwrap();
    let stored = crate::media::attachment_in(&app, &t.tenant.id, &conversation).await;
    let media = &stored;
    assert_eq!(stored.transcript.as_deref(), Some(words));
    assert_eq!(
        stored.transcript_model.as_deref(),
        Some("Systran/faster-whisper-small")
    );
    assert_eq!(stored.transcript_language.as_deref(), Some("english"));
    let seconds = stored.seconds.unwrap();
    assert!((2.0..10.0).contains(&seconds), "{seconds}");

    // Staff play it, with its words beside it.
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let inbox = staff.page(&format!("/app/inbox/{conversation}")).await;
    assert!(
        inbox.contains(&format!(
            "<audio controls preload=\"none\" src=\"/app/attachments/{}\"",
            media.id
        )),
        "{inbox}"
    );
    assert!(inbox.contains(words), "{inbox}");
    let res = staff.get(&format!("/app/attachments/{}", media.id)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/ogg");
    assert_eq!(res.bytes().await.unwrap(), note);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_silent_and_unheard_notes_are_answered_as_a_person_would() {
    let graph = FakeGraph::start().await;
    let whisper = FakeWhisper::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    with_transcriber(&app, &t, &whisper, Default::default()).await;

    // Silence: Whisper's invented "Thank you." is not taken for words.
    let quiet = "919800000602";
    let reply = send_voice(&app, &t, &graph, quiet, &silence(3)).await;
    assert!(reply.starts_with("We could not hear any words"), "{reply}");

    // Over the office's limit: refused in the citizen's language, and the
    // transcriber never hears it.
    let note = speak("There is no water in our tap since Monday");
    let small = ombud_core::media::MediaLimits {
        audio_bytes: 2000,
        ..Default::default()
    };
    with_transcriber(&app, &t, &whisper, small).await;
    let hindi = "919800000603";
    app.say(&t, hindi, "नमस्ते, मुझे शिकायत करनी है").await;
    graph.wait_for_reply_to(hindi, 1).await;
    let reply = send_voice(&app, &t, &graph, hindi, &note).await;
    assert!(reply.contains("वॉइस नोट हमारे लिए बहुत लंबा है"), "{reply}");
    let asked = whisper.requests().len();
    assert_eq!(asked, 1, "only the silent note was sent to the transcriber");
    with_transcriber(&app, &t, &whisper, Default::default()).await;

    // The transcriber fails three times: people take the conversation and
    // can play the note.
    whisper.fail(&[500, 500, 500]);
    let down = "919800000604";
    let reply = send_voice(&app, &t, &graph, down, &note).await;
    assert!(
        reply.contains("A member of our staff will listen"),
        "{reply}"
    );
    assert_eq!(whisper.requests().len(), asked + 3);
    let conversation = app.conversation_of(&t, down).await;
    assert_eq!(conversation.state, ConversationState::Human);
    let handoffs = app
        .db
        .texts("select cast(data as text) from events where type = 'conversation.handoff'")
        .await;
    assert!(
        handoffs.iter().any(|p| p.contains("voice_note_unheard")),
        "{handoffs:?}"
    );
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let page = staff.page(&format!("/app/inbox/{}", conversation.id)).await;
    assert!(page.contains("<audio controls"), "{page}");
    assert!(
        page.contains("not transcribed: the transcriber answered HTTP 500"),
        "{page}"
    );
    app.stop().await;
}

/// An admin sets the limits and the transcriber through the API: both
/// checked before either is saved, the key never shown again, a URL
/// inside the network refused by the outbound guard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_the_media_limits_and_transcriber_through_the_api() {
    use reqwest::Method;
    let graph = FakeGraph::start().await;
    let whisper = FakeWhisper::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;
    let put = |body: Value| {
        let admin = &admin;
        async move {
            crate::audit::session_api(admin, Method::PUT, "/settings/media")
                .await
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let body = |image: u64, url: &str| {
        json!({"image_bytes": image, "audio_bytes": 1048576, "audio_seconds": 120,
               "transcriber": {"base_url": url, "model": "whisper-1", "api_key": KEY}})
    };
    let res = put(body(2_000_000, &whisper.url())).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["image_bytes"], 2_000_000);
    assert_eq!(saved["transcriber"]["api_key_set"], true);
    assert!(saved["transcriber"].get("api_key").is_none(), "{saved}");

    // Refused together: nothing of either is saved.
    for (bad, field) in [
        (body(0, &whisper.url()), "image_bytes"),
        (body(1000, "http://10.1.2.3:8000"), "base_url"),
        (body(1000, "ftp://speaches"), "base_url"),
    ] {
        let res = put(bad).await;
        assert_eq!(res.status(), 422);
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["fields"][0]["field"], field, "{e}");
    }
    let key = app.api_key(&t.tenant.id, &[Scope::ConversationsRead]).await;
    let now: Value = app
        .api(Method::GET, "/settings/media", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["image_bytes"], 2_000_000, "{now}");
    assert_eq!(now["transcriber"]["base_url"], whisper.url());
    // The key is sealed where it is kept, and the trail only says it is set.
    let kept = app
        .db
        .texts("select value from tenant_settings")
        .await
        .join(" ");
    assert!(!kept.contains(KEY), "{kept}");
    let trail = app
        .db
        .texts("select changes from audit_events")
        .await
        .join(" ");
    assert!(!trail.contains(KEY) && trail.contains("(set)"), "{trail}");
    app.stop().await;
}

/// Words leave with the words: an office that keeps messages' words 30
/// days loses a voice note's transcript then, and keeps the note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_notes_transcript_goes_when_the_office_drops_words() {
    use ombud_store::Aging;
    let graph = FakeGraph::start().await;
    let whisper = FakeWhisper::start().await;
    let app = TestApp::spawn().await;
    let (keeps, _) =
        crate::retention::offices_one_keeping_30_days(&app, &graph, "message_bodies_days").await;
    with_transcriber(&app, &keeps, &whisper, Default::default()).await;
    let words = "The drain near the vegetable market is blocked";
    let note = speak(words);
    whisper.says(&note, words, "english");
    let citizen = "919800000605";
    send_voice(&app, &keeps, &graph, citizen, &note).await;
    let said = app.conversation_of(&keeps, citizen).await;
    let heard = crate::media::attachment_in(&app, &keeps.tenant.id, &said.id).await;
    assert_eq!(heard.transcript.as_deref(), Some(words));

    app.pass(chrono::Duration::days(32)).await;
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    app.engine
        .ops()
        .age_messages(Aging::Bodies, &policy, &mut Default::default())
        .await
        .unwrap();
    let kept = app
        .store
        .attachment(&keeps.tenant.id, &heard.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.transcript, None, "the words are gone");
    assert!(kept.state.kept(), "the note stays");
    let summaries: Vec<_> = app
        .store
        .messages(&keeps.tenant.id, &said.id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.media)
        .collect();
    assert!(
        summaries.iter().all(|m| m.transcript.is_none()),
        "{summaries:?}"
    );
    app.stop().await;
}
