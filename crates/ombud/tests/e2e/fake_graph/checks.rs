//! What the fake Graph API checks of a send, as Meta does: a template's
//! name, language, status and parameters; an interactive message's buttons
//! or list.

use serde_json::Value;

use super::GraphState;

/// How many `{{n}}` a template text has (the highest n).
fn placeholders(text: &str) -> usize {
    let mut highest = 0;
    for part in text.split("{{").skip(1) {
        if let Some(n) = part
            .split("}}")
            .next()
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            highest = highest.max(n);
        }
    }
    highest
}

/// A template send checked as Meta checks it: the template exists in that
/// language on the sender's account, is approved, every part gets as many
/// parameters as it has placeholders, none on more than one line, and the
/// filled text is at most 1,024 characters. The filled body, or the refusal.
pub(super) fn check_template(
    s: &GraphState,
    body: &Value,
) -> Result<String, (i64, String, String)> {
    let t = &body["template"];
    let (name, code) = (
        t["name"].as_str().unwrap_or(""),
        t["language"]["code"].as_str().unwrap_or(""),
    );
    let found = s
        .templates
        .values()
        .flatten()
        .find(|x| x["name"] == name && x["language"] == code)
        .ok_or_else(|| {
            (
                132001,
                "Template name does not exist in the translation".to_owned(),
                format!("template name ({name}) does not exist in {code}"),
            )
        })?;
    if found["status"] != "APPROVED" {
        return Err((
            132015,
            "Template is paused".to_owned(),
            format!("{name} is {}", found["status"]),
        ));
    }
    let components = t["components"].as_array().cloned().unwrap_or_default();
    let given = |kind: &str| -> Vec<String> {
        components
            .iter()
            .filter(|c| c["type"] == kind)
            .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
            .map(|p| p["text"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let text_of = |kind: &str| -> String {
        found["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind)
            .and_then(|c| c["text"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    let mut filled = String::new();
    for (part, kind) in [("header", "HEADER"), ("body", "BODY")] {
        let (text, values) = (text_of(kind), given(part));
        if placeholders(&text) != values.len() || values.iter().any(|v| v.trim().is_empty()) {
            return Err((132000, "Number of parameters does not match the expected number of params".to_owned(),
                format!("{part}: number of localizable_params ({}) does not match the expected number of params ({})",
                    values.len(), placeholders(&text))));
        }
        if let Some(v) = values
            .iter()
            .find(|v| v.contains(['\n', '\t']) || v.contains("     "))
        {
            return Err((100, "Invalid parameter".to_owned(),
                format!("Param text cannot have new-line/tab characters or more than 4 consecutive spaces: {v:?}")));
        }
        let mut out = text.clone();
        for (i, v) in values.iter().enumerate() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), v);
        }
        if out.chars().count() > 1024 {
            return Err((
                131009,
                "Parameter value is not valid".to_owned(),
                format!("{part}: the filled text is longer than 1024 characters"),
            ));
        }
        if kind == "BODY" {
            filled = out;
        }
    }
    Ok(filled)
}

/// Checks an interactive message as the Cloud API does: reply buttons (one
/// to three, titles of at most 20 characters, distinct) or a list (a button
/// label of at most 20, at most 10 rows of titles at most 24), a body of at
/// most 1024 characters. Its (id, title) pairs, or why Meta would refuse it.
pub(super) fn check_interactive(i: &Value) -> Result<Vec<(String, String)>, String> {
    let body = i["body"]["text"].as_str().unwrap_or("");
    if body.is_empty() || body.chars().count() > 1024 {
        return Err("interactive body text must be 1 to 1024 characters".into());
    }
    let pair = |v: &Value, max_title: usize| -> Result<(String, String), String> {
        let id = v["id"].as_str().unwrap_or("").to_owned();
        let title = v["title"].as_str().unwrap_or("").to_owned();
        if id.is_empty() || id.len() > 256 || title.is_empty() || title.chars().count() > max_title
        {
            return Err(format!(
                "a choice's id is 1 to 256 characters and its title 1 to {max_title}: {v}"
            ));
        }
        Ok((id, title))
    };
    let choices: Vec<(String, String)> = match i["type"].as_str() {
        Some("button") => {
            let buttons = i["action"]["buttons"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !(1..=3).contains(&buttons.len()) {
                return Err("an interactive button message has 1 to 3 buttons".into());
            }
            buttons
                .iter()
                .map(|b| {
                    if b["type"] != "reply" {
                        return Err("buttons are of type reply".to_owned());
                    }
                    pair(&b["reply"], 20)
                })
                .collect::<Result<_, _>>()?
        }
        Some("list") => {
            let label = i["action"]["button"].as_str().unwrap_or("");
            if label.is_empty() || label.chars().count() > 20 {
                return Err("a list's button label is 1 to 20 characters".into());
            }
            let sections = i["action"]["sections"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let rows: Vec<Value> = sections
                .iter()
                .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                .collect();
            if sections.is_empty() || !(1..=10).contains(&rows.len()) {
                return Err("a list has 1 to 10 rows in all".into());
            }
            rows.iter().map(|r| pair(r, 24)).collect::<Result<_, _>>()?
        }
        other => return Err(format!("interactive type {other:?} is not supported here")),
    };
    let mut ids: Vec<&String> = choices.iter().map(|c| &c.0).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != choices.len() {
        return Err("choice ids must be unique".into());
    }
    Ok(choices)
}
