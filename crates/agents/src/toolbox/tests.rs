use serde_json::json;

use super::*;
use crate::testing::FakeTools;

fn toolbox(tools: &FakeTools) -> ToolBox<'_> {
    ToolBox::new(tools, "cnv_1:msg_9".into(), Language::en())
}

#[test]
fn six_tools_each_with_an_object_schema() {
    let names: Vec<&str> = specs().iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "create_complaint",
            "complaint_status",
            "list_my_complaints",
            "add_to_complaint",
            "set_contact_language",
            "handoff_to_human"
        ]
    );
    for s in specs() {
        assert_eq!(s.parameters["type"], "object", "{}", s.name);
        assert_eq!(s.parameters["additionalProperties"], false, "{}", s.name);
    }
}

#[tokio::test]
async fn a_complaint_is_created_once_per_run_and_call_even_when_the_run_is_retried() {
    let tools = FakeTools::new();
    let args =
        json!({"description": "Pothole on MG Road", "category": "roads", "location": "MG Road"});
    let first = toolbox(&tools).call("create_complaint", &args).await;
    assert_eq!(first["status"], "new");
    let number = first["number"].as_str().unwrap().to_owned();
    // The same run again (a retry) gets the same complaint back.
    let again = toolbox(&tools).call("create_complaint", &args).await;
    assert_eq!(again["number"], number.as_str());
    assert_eq!(tools.created.lock().unwrap().len(), 1);
    // A second complaint in one run is a new one.
    let mut tb = toolbox(&tools);
    tb.call("create_complaint", &args).await;
    let second = tb
        .call("create_complaint", &json!({"description": "Dark lamp"}))
        .await;
    assert_ne!(second["number"], number.as_str());
    assert_eq!(tb.calls.len(), 2);
    assert!(tb.calls.iter().all(|c| c.ok));
}

#[tokio::test]
async fn bad_arguments_are_answered_as_errors_that_say_what_is_wrong() {
    let tools = FakeTools::new();
    let mut tb = toolbox(&tools);
    let cases = [
        ("create_complaint", json!({}), "description is required"),
        (
            "create_complaint",
            json!({"description": "x", "category": "parks"}),
            "not one of roads, streetlight",
        ),
        (
            "create_complaint",
            json!({"description": "x", "priority": "asap"}),
            "priority",
        ),
        (
            "create_complaint",
            json!({"description": 7}),
            "description must be a string",
        ),
        (
            "create_complaint",
            json!({"description": "x", "colour": "red"}),
            "\"colour\" is not an argument",
        ),
        ("create_complaint", json!("{not json"), "not valid JSON"),
        ("create_complaint", json!([1]), "must be a JSON object"),
        (
            "complaint_status",
            json!({"number": "hello"}),
            "is not a complaint number",
        ),
        (
            "complaint_status",
            json!({"number": "PUNE-20261123-0042"}),
            "no complaint numbered PUNE-20261123-0042",
        ),
        (
            "add_to_complaint",
            json!({"number": "PUNE-20261123-0042", "text": "more"}),
            "no complaint numbered",
        ),
        (
            "set_contact_language",
            json!({"language": "English"}),
            "longer than 2",
        ),
        (
            "set_contact_language",
            json!({"language": "E1"}),
            "ISO 639-1",
        ),
        ("list_my_complaints", json!({"all": true}), "takes none"),
        (
            "delete_everything",
            json!({}),
            "no tool named \"delete_everything\"",
        ),
    ];
    for (name, args, expected) in &cases {
        let answer = tb.call(name, args).await;
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} {args}: {answer}"));
        assert!(
            error.contains(expected),
            "{name} {args}: {error:?} lacks {expected:?}"
        );
    }
    assert_eq!(tb.calls.len(), cases.len());
    assert!(tb.calls.iter().all(|c| !c.ok));
    assert!(tools.created.lock().unwrap().is_empty());
    assert!(tb.language.is_none() && !tb.handoff);
}

#[tokio::test]
async fn status_list_and_additions_reach_the_persons_complaints() {
    let tools = FakeTools::new();
    let mut tb = toolbox(&tools);
    // Arguments as a JSON string, as models send them.
    let made = tb
        .call(
            "create_complaint",
            &json!("{\"description\": \"Streetlight out\", \"category\": \"streetlight\"}"),
        )
        .await;
    let number = made["number"].as_str().unwrap();
    let status = tb
        .call(
            "complaint_status",
            &json!({"number": number.to_lowercase()}),
        )
        .await;
    assert_eq!(status["number"], number);
    let list = tb.call("list_my_complaints", &json!({})).await;
    assert_eq!(list["complaints"][0]["number"], number);
    let added = tb
        .call(
            "add_to_complaint",
            &json!({"number": number, "text": "  Near the school gate "}),
        )
        .await;
    assert_eq!(added, json!({"added": true, "number": number}));
    assert_eq!(
        tools.added.lock().unwrap().as_slice(),
        [(number.to_owned(), "Near the school gate".to_owned())]
    );
    assert_eq!(tb.calls[0].arguments["category"], "streetlight");
}

#[tokio::test]
async fn language_and_handoff_are_kept_for_the_run_to_commit() {
    let tools = FakeTools::new();
    let mut tb = toolbox(&tools);
    assert_eq!(
        tb.call("set_contact_language", &json!({"language": "mr"}))
            .await,
        json!({"language": "mr"})
    );
    tb.call("create_complaint", &json!({"description": "रस्त्यावर खड्डा"}))
        .await;
    assert_eq!(tools.created.lock().unwrap()[0].1.language.as_str(), "mr");
    tb.call("handoff_to_human", &json!({"reason": "wants a person"}))
        .await;
    assert!(tb.handoff);
    assert_eq!(tb.language, Some(Language::parse("mr").unwrap()));
}
