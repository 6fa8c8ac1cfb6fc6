use chrono::TimeZone;

use super::*;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
}

fn survey() -> Survey {
    Survey {
        id: SurveyId::new(),
        tenant_id: TenantId::new(),
        complaint_id: ComplaintId::new(),
        conversation_id: ConversationId::new(),
        channel_id: ChannelId::new(),
        resolved_at: at(9),
        language: Language::en(),
        stage: Stage::Rating,
        rating: None,
        solved: None,
        comment: None,
        reopened: false,
        sent_at: at(10),
        answered_at: None,
    }
}

fn facts(status: ComplaintStatus, last: Option<DateTime<Utc>>, asked: u32) -> DueFacts {
    DueFacts {
        status,
        last_resolved_at: last,
        asked,
        has_conversation: true,
    }
}

#[test]
fn a_survey_asks_about_the_resolution_that_still_stands() {
    let on = SurveySettings::default();
    let r = at(9);
    assert_eq!(
        due(&on, r, &facts(ComplaintStatus::Resolved, Some(r), 0)),
        Ok(())
    );
    assert_eq!(
        due(&on, r, &facts(ComplaintStatus::Closed, Some(r), 1)),
        Ok(())
    );
    // Reopened since: no survey.
    assert!(due(&on, r, &facts(ComplaintStatus::InProgress, Some(r), 0)).is_err());
    // Resolved again later: that resolution's own job asks.
    assert_eq!(
        due(&on, r, &facts(ComplaintStatus::Resolved, Some(at(11)), 0)),
        Err("a later resolution has its own survey")
    );
    let once = SurveySettings {
        repeat: SurveyRepeat::OncePerComplaint,
        ..on.clone()
    };
    assert!(due(&once, r, &facts(ComplaintStatus::Resolved, Some(r), 1)).is_err());
    let off = SurveySettings {
        enabled: false,
        ..on.clone()
    };
    assert_eq!(
        due(&off, r, &facts(ComplaintStatus::Resolved, Some(r), 0)),
        Err("surveys are off")
    );
    let mut none = facts(ComplaintStatus::Resolved, Some(r), 0);
    none.has_conversation = false;
    assert!(due(&on, r, &none).is_err());
}

#[test]
fn settings_refuse_a_delay_out_of_range() {
    let mut s = SurveySettings::default();
    assert!(s.validate().is_ok());
    s.delay_hours = 0;
    assert_eq!(s.validate().unwrap_err().field, "delay_hours");
    s.delay_hours = 721;
    assert!(s.validate().is_err());
    for r in [SurveyRepeat::EachResolution, SurveyRepeat::OncePerComplaint] {
        assert_eq!(SurveyRepeat::parse(r.as_str()), Ok(r));
    }
    assert_eq!(SurveyRepeat::parse("weekly").unwrap_err().field, "repeat");
    let parsed: Result<SurveySettings, _> =
        serde_json::from_str(r#"{"enabled": true, "delay_hours": 2, "repeat": "weekly"}"#);
    assert!(parsed.is_err());
}

#[test]
fn taps_and_typed_words_are_answers() {
    assert_eq!(
        answer(Stage::Rating, Some("rate:4"), "4 ★ Good"),
        Some(Answer::Rating(4))
    );
    assert_eq!(answer(Stage::Rating, None, " 5 "), Some(Answer::Rating(5)));
    assert_eq!(
        answer(Stage::Rating, None, "⭐⭐⭐"),
        Some(Answer::Rating(3))
    );
    assert_eq!(answer(Stage::Rating, None, "6"), None);
    assert_eq!(
        answer(Stage::Rating, None, "the drain is blocked again"),
        None
    );
    assert_eq!(
        answer(Stage::Solved, Some("solved:no"), "x"),
        Some(Answer::Solved(false))
    );
    assert_eq!(
        answer(Stage::Solved, None, "नहीं"),
        Some(Answer::Solved(false))
    );
    assert_eq!(
        answer(Stage::Solved, None, "Haan"),
        Some(Answer::Solved(true))
    );
    assert_eq!(
        answer(Stage::Comment, Some("comment:skip"), "No thanks"),
        Some(Answer::Skip)
    );
    assert_eq!(
        answer(Stage::Comment, None, "The road was patched badly"),
        Some(Answer::Comment("The road was patched badly".into()))
    );
    // A button of a question already answered.
    assert_eq!(
        answer(Stage::Comment, Some("rate:5"), "5"),
        Some(Answer::Stale)
    );
    assert_eq!(
        answer(Stage::Done, Some("rate:5"), "5"),
        Some(Answer::Stale)
    );
    // Someone else's payload (the intake agent's) is not the survey's.
    assert_eq!(answer(Stage::Rating, Some("category:roads"), "Roads"), None);
    let long = "x".repeat(5000);
    let Some(Answer::Comment(kept)) = answer(Stage::Comment, None, &long) else {
        panic!("a long comment is a comment");
    };
    assert_eq!(kept.chars().count(), MAX_COMMENT_CHARS);
}

#[test]
fn a_good_rating_asks_for_a_comment() {
    let mut s = survey();
    let step1 = step(&mut s, Answer::Rating(5), at(11), true);
    assert_eq!(
        (step1.reply, step1.rated, step1.reopen),
        (Prompt::AskComment, true, false)
    );
    assert_eq!((s.stage, s.rating), (Stage::Comment, Some(5)));
    let step2 = step(&mut s, Answer::Comment("quick work".into()), at(12), true);
    assert_eq!((step2.reply, step2.rated), (Prompt::Thanks, false));
    assert_eq!(
        (s.stage, s.comment.as_deref()),
        (Stage::Done, Some("quick work"))
    );
}

#[test]
fn a_low_rating_not_solved_reopens() {
    let mut s = survey();
    let first = step(&mut s, Answer::Rating(1), at(11), true);
    assert_eq!((first.reply, first.rated), (Prompt::AskSolved, false));
    let second = step(&mut s, Answer::Solved(false), at(11), true);
    assert_eq!(
        (second.reply, second.rated, second.reopen),
        (Prompt::Reopened, true, true)
    );
    assert!(s.reopened);
    assert_eq!(
        step(&mut s, Answer::Skip, at(12), true).reply,
        Prompt::Thanks
    );
    assert_eq!(s.stage, Stage::Done);
    // Solved after all: no reopening.
    let mut t = survey();
    step(&mut t, Answer::Rating(2), at(11), true);
    let solved = step(&mut t, Answer::Solved(true), at(11), true);
    assert_eq!((solved.reopen, t.solved), (false, Some(true)));
    // Not solved, but closed: staff are told, nothing reopens.
    let mut u = survey();
    step(&mut u, Answer::Rating(1), at(11), false);
    let closed = step(&mut u, Answer::Solved(false), at(11), false);
    assert_eq!(
        (closed.reply, closed.reopen, closed.rated),
        (Prompt::ToldOffice, false, true)
    );
    assert!(!u.reopened);
}

#[test]
fn a_survey_closes_after_a_week_or_when_done() {
    let mut s = survey();
    assert!(s.open(at(10) + Duration::days(6)));
    assert!(!s.open(at(10) + Duration::days(7)));
    s.stage = Stage::Done;
    assert!(!s.open(at(11)));
}

#[test]
fn every_language_fits_whatsapp_buttons_and_lists() {
    for lang in ["en", "hi", "mr", "fr"] {
        let l = Language::parse(lang).unwrap();
        let (q, choices) = say(Prompt::Question, &l, "PUNE-20261201-0001");
        assert!(q.contains("PUNE-20261201-0001"), "{lang}: {q}");
        let choices = choices.unwrap();
        choices.validate("choices").unwrap();
        assert_eq!(choices.options.len(), 5);
        let (_, yes_no) = say(Prompt::AskSolved, &l, "");
        let yes_no = yes_no.unwrap();
        yes_no.validate("choices").unwrap();
        assert!(yes_no.fit_buttons(), "{lang}: yes/no are reply buttons");
        assert!(say(Prompt::Thanks, &l, "").1.is_none());
    }
}
