//! The choice of text or template, and its reasons.
use super::*;
use crate::Language;

fn synced(name: &str, language: &str, status: &str, body: &str) -> WaTemplate {
    WaTemplate {
        name: name.into(),
        language: language.into(),
        status: status.into(),
        category: "UTILITY".into(),
        body: Some(body.into()),
        header: None,
        named_params: false,
    }
}

fn values() -> NoticeValues {
    NoticeValues {
        numbers: "PUN-000012".into(),
        status_label: "प्रगति पर".into(),
        category: "Water".into(),
        date: "6 Dec 2026".into(),
        message: String::new(),
    }
}

fn status_templates() -> ChannelTemplates {
    ChannelTemplates {
        mapping: Some(TemplateMapping {
            name: "complaint_status".into(),
            languages: vec!["en_US".into(), "hi".into()],
            body: vec![ParamValue::ComplaintNumber, ParamValue::StatusLabel],
            header: vec![],
            buttons: vec![],
        }),
        synced: vec![
            synced(
                "complaint_status",
                "en_US",
                "APPROVED",
                "Your complaint {{1}} is now {{2}}.",
            ),
            synced(
                "complaint_status",
                "hi",
                "APPROVED",
                "आपकी शिकायत {{1}} अब {{2}} है।",
            ),
            synced("other", "hi", "APPROVED", "{{1}}"),
        ],
    }
}

#[test]
fn outside_it_the_template_in_the_citizens_language() {
    let hi = Language::parse("hi").unwrap();
    let m = choose(
        NoticeKind::StatusChanged,
        &status_templates(),
        &hi,
        &values(),
    )
    .unwrap();
    assert_eq!(
        (m.name.as_str(), m.language.as_str()),
        ("complaint_status", "hi")
    );
    assert_eq!(m.body, vec!["PUN-000012".to_owned(), "प्रगति पर".to_owned()]);
    assert_eq!(m.text, "आपकी शिकायत PUN-000012 अब प्रगति पर है।");
    let graph = m.to_graph();
    assert_eq!(graph["language"]["code"], "hi");
    assert_eq!(graph["components"][0]["type"], "body");
    assert_eq!(graph["components"][0]["parameters"][1]["text"], "प्रगति पर");
    // English is approved as en_US; Marathi falls back to the first listed.
    for (lang, code) in [("en", "en_US"), ("mr", "en_US")] {
        let l = Language::parse(lang).unwrap();
        let m = choose(
            NoticeKind::StatusChanged,
            &status_templates(),
            &l,
            &values(),
        );
        assert_eq!(m.map(|m| m.language), Ok(code.to_owned()), "{lang}");
    }
}

#[test]
fn without_an_approved_fitting_template_it_says_why() {
    let hi = Language::parse("hi").unwrap();
    let reason =
        |t: &ChannelTemplates| choose(NoticeKind::StatusChanged, t, &hi, &values()).unwrap_err();
    let none = ChannelTemplates::default();
    assert_eq!(
        reason(&none),
        "could not notify: no approved template for status_changed in hi: no template is mapped to this notice"
    );
    let mut paused = status_templates();
    for t in &mut paused.synced {
        t.status = "PAUSED".into();
    }
    let why = reason(&paused);
    assert!(why.contains("complaint_status (hi) is PAUSED"), "{why}");
    assert!(why.contains("complaint_status (en_US) is PAUSED"), "{why}");
    let mut short = status_templates();
    short.mapping.as_mut().unwrap().body.pop();
    let why = reason(&short);
    assert!(
        why.contains("has 2 body parameters, the mapping fills 1"),
        "{why}"
    );
    let mut missing = status_templates();
    missing.synced.clear();
    assert!(reason(&missing).contains("is not on the business account"));
}

#[test]
fn placeholders_count_the_highest_number() {
    assert_eq!(placeholders("Hi {{1}}, {{2}} and {{1}} again"), 2);
    assert_eq!(placeholders("no parameters"), 0);
    assert_eq!(placeholders("{{ 3 }} {{name}} {{"), 3);
    assert_eq!(
        fill("{{1}} is {{2}}; {{10}}", &["a".into(), "b".into()]),
        "a is b; {{10}}"
    );
}

#[test]
fn a_mapping_is_checked_field_by_field() {
    let mut m = status_templates().mapping.unwrap();
    assert!(m
        .validate(NoticeKind::StatusChanged, "templates.status_changed")
        .is_ok());
    m.languages = vec!["english".into()];
    assert_eq!(
        m.validate(NoticeKind::StatusChanged, "t")
            .unwrap_err()
            .field,
        "t.languages"
    );
    m.languages = vec!["en_US".into()];
    m.name = "Bad Name".into();
    assert_eq!(
        m.validate(NoticeKind::StatusChanged, "t")
            .unwrap_err()
            .field,
        "t.name"
    );
    m.name = "ok".into();
    m.buttons = vec![ButtonParam::QuickReply {
        index: 0,
        payload: String::new(),
    }];
    assert_eq!(
        m.validate(NoticeKind::StatusChanged, "t")
            .unwrap_err()
            .field,
        "t.buttons"
    );
}

/// A staff message: the member's words on one line, in a body parameter
/// only, within Meta's 1,024 characters.
#[test]
fn a_staff_message_carries_the_members_words() {
    let mapping = TemplateMapping {
        name: "office_reply".into(),
        languages: vec!["en_US".into()],
        body: vec![ParamValue::ComplaintNumber, ParamValue::MessageText],
        header: vec![],
        buttons: vec![],
    };
    assert!(mapping.validate(NoticeKind::StaffMessage, "s").is_ok());
    let err = mapping
        .validate(NoticeKind::StatusChanged, "t")
        .unwrap_err();
    assert_eq!(err.field, "t.body");
    assert!(err.reason.contains("staff_message notice only"), "{err:?}");
    let mut wordless = mapping.clone();
    wordless.body.pop();
    let err = wordless
        .validate(NoticeKind::StaffMessage, "s")
        .unwrap_err();
    assert!(err.reason.contains("map message_text"), "{err:?}");

    let templates = ChannelTemplates {
        mapping: Some(mapping),
        synced: vec![synced(
            "office_reply",
            "en_US",
            "APPROVED",
            "About your complaint {{1}}, the office writes: {{2}}",
        )],
    };
    let en = Language::parse("en").unwrap();
    let mut v = values();
    v.message = "The pipe is fixed.\n\nPlease   check\tand tell us.".into();
    let m = choose(NoticeKind::StaffMessage, &templates, &en, &v).unwrap();
    assert_eq!(m.body[1], "The pipe is fixed. Please check and tell us.");
    assert_eq!(
        m.text,
        "About your complaint PUN-000012, the office writes: The pipe is fixed. Please check and tell us."
    );
    v.message = "word ".repeat(200);
    let why = choose(NoticeKind::StaffMessage, &templates, &en, &v).unwrap_err();
    assert!(
        why.contains("would be 1051 characters long filled, and Meta takes at most 1024"),
        "{why}"
    );
}

#[test]
fn errors_list_every_name() {
    assert_eq!(
        ParamValue::names(),
        "complaint_number, status_label, category, date or message_text"
    );
    assert!(NoticeKind::names().ends_with("reminder or staff_message"));
}
