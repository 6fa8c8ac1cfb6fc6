use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;

fn area(slug: &str, en: &str, mr: &str, keywords: &[&str], wards: &[&str]) -> Area {
    Area {
        slug: slug.into(),
        names: BTreeMap::from([("en".into(), en.into()), ("mr".into(), mr.into())]),
        keywords: keywords.iter().map(|s| s.to_string()).collect(),
        wards: wards.iter().map(|s| s.to_string()).collect(),
        field_staff: Vec::new(),
        boundary: Vec::new(),
    }
}

fn catalogue() -> Areas {
    Areas {
        areas: vec![
            area(
                "shivaji-nagar",
                "Shivaji Nagar",
                "शिवाजी नगर",
                &["FC Road"],
                &["12"],
            ),
            area(
                "kothrud",
                "Kothrud",
                "कोथरूड",
                &["Karve Road", "Paud Phata"],
                &["31", "32"],
            ),
            area("aundh", "Aundh", "औंध", &["ITI Road", "Phata"], &[]),
            area("nagar-road", "Nagar Road", "नगर रोड", &[], &["7"]),
        ],
    }
}

fn slug_for(text: &str) -> Option<String> {
    catalogue().for_location(text).map(|a| a.slug.clone())
}

#[test]
fn a_location_names_its_area_by_ward_name_or_keyword() {
    let cases = [
        ("Ward 12, near the bus stop", Some("shivaji-nagar")),
        ("ward no. 31", Some("kothrud")),
        ("WARD NUMBER 032", Some("kothrud")),
        ("ward12 behind temple", Some("shivaji-nagar")),
        ("प्रभाग क्र. १२ मधील रस्ता", Some("shivaji-nagar")),
        ("वार्ड 7", Some("nagar-road")),
        ("opposite Kothrud depot", Some("kothrud")),
        ("कोथरूड, पौड रस्ता", Some("kothrud")),
        ("karve road, lane 4", Some("kothrud")),
        ("near ITI road signal", Some("aundh")),
        ("शिवाजी नगर बस स्थानक", Some("shivaji-nagar")),
        ("Shivajinagar", None),
        ("Baner", None),
        ("", None),
        ("ward 99", None),
        ("12 Aundh lane", Some("aundh")),
        // A number without a ward word is a house number, not a ward.
        ("House 7, Aundh", Some("aundh")),
    ];
    for (text, want) in cases {
        assert_eq!(slug_for(text).as_deref(), want, "{text:?}");
    }
}

#[test]
fn a_ward_beats_a_word_and_a_longer_match_holds_the_shorter_one() {
    assert_eq!(
        slug_for("Nagar Road, ward 12").as_deref(),
        Some("shivaji-nagar")
    );
    // Aundh's keyword "Phata" is part of Kothrud's "Paud Phata".
    assert_eq!(slug_for("near Paud Phata").as_deref(), Some("kothrud"));
    assert_eq!(slug_for("Phata chowk").as_deref(), Some("aundh"));
}

#[test]
fn two_areas_matching_equally_name_neither() {
    assert_eq!(slug_for("between Kothrud and Aundh junction"), None);
    assert_eq!(slug_for("ward 12 and ward 7"), None);
    assert_eq!(slug_for("Nagar Road near Aundh"), None);
    // The same area twice is one area.
    assert_eq!(slug_for("Kothrud, Karve Road").as_deref(), Some("kothrud"));
}

#[test]
fn areas_are_validated_with_the_field_named() {
    let mut bad = catalogue();
    bad.areas[1].slug = "Kothrud".into();
    assert_eq!(bad.validate().unwrap_err().field, "areas[1].slug");
    let mut bad = catalogue();
    bad.areas[2].slug = "kothrud".into();
    assert_eq!(bad.validate().unwrap_err().field, "areas[2].slug");
    let mut bad = catalogue();
    bad.areas[0].wards.push("twelve".into());
    assert_eq!(bad.validate().unwrap_err().field, "areas[0].wards[1]");
    let mut bad = catalogue();
    bad.areas[0].names.clear();
    assert_eq!(bad.validate().unwrap_err().field, "areas[0].names");
    let mut bad = catalogue();
    bad.areas[0].names.insert("xx-bad!".into(), "x".into());
    assert_eq!(bad.validate().unwrap_err().field, "areas[0].names");
    let mut bad = catalogue();
    bad.areas[3].keywords.push(" ".into());
    assert_eq!(bad.validate().unwrap_err().field, "areas[3].keywords[0]");
    catalogue().validate().unwrap();
}

fn user(n: u8) -> UserId {
    format!("usr_{n:026}").parse().unwrap()
}

fn team(strategy: Strategy, capacity: Option<u32>) -> Team {
    Team {
        slug: "roads".into(),
        name: "Roads".into(),
        members: vec![user(1), user(2), user(3)],
        strategy,
        capacity,
    }
}

fn load(n: u8, open: u32, last_minute: Option<u32>) -> Load {
    Load {
        user: user(n),
        open,
        last_assigned: last_minute.map(i64::from),
    }
}

#[test]
fn round_robin_takes_the_member_whose_turn_it_is() {
    let t = team(Strategy::RoundRobin, None);
    let idle = [load(1, 0, None), load(2, 0, None), load(3, 0, None)];
    assert_eq!(t.pick(&idle), Some(user(1)));
    // Someone who left the tenant has no load, and is passed over.
    assert_eq!(t.pick(&idle[1..]), Some(user(2)));
    assert_eq!(t.pick(&[]), None);
    let loads = [
        load(1, 5, Some(3)),
        load(2, 0, Some(1)),
        load(3, 9, Some(2)),
    ];
    assert_eq!(t.pick(&loads), Some(user(2)));
    // Never assigned goes first, whatever the others' loads.
    let loads = [load(1, 0, Some(1)), load(2, 0, Some(2)), load(3, 4, None)];
    assert_eq!(t.pick(&loads), Some(user(3)));
}

#[test]
fn round_robin_spreads_evenly_over_many_picks() {
    let t = team(Strategy::RoundRobin, None);
    let mut loads: Vec<Load> = (1..=3).map(|n| load(n, 0, None)).collect();
    for minute in 0..30 {
        let who = t.pick(&loads).unwrap();
        let l = loads.iter_mut().find(|l| l.user == who).unwrap();
        l.open += 1;
        l.last_assigned = Some(100 + minute);
    }
    assert!(loads.iter().all(|l| l.open == 10), "{loads:?}");
}

#[test]
fn least_loaded_takes_the_member_with_fewest_open() {
    let t = team(Strategy::LeastLoaded, None);
    let loads = [load(1, 5, None), load(2, 2, Some(1)), load(3, 2, Some(0))];
    assert_eq!(t.pick(&loads), Some(user(3)));
}

#[test]
fn a_full_member_is_passed_over_and_a_full_team_picks_nobody() {
    let t = team(Strategy::RoundRobin, Some(20));
    let loads = [load(1, 20, None), load(2, 19, Some(5)), load(3, 25, None)];
    assert_eq!(t.pick(&loads), Some(user(2)));
    let loads = [load(1, 20, None), load(2, 20, Some(5)), load(3, 20, None)];
    assert_eq!(t.pick(&loads), None);
    let t = team(Strategy::LeastLoaded, Some(20));
    assert_eq!(t.pick(&loads), None);
}

fn complaint(category: Option<&str>, area: Option<&str>, priority: Priority) -> Complaint {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    Complaint {
        id: ComplaintId::new(),
        tenant_id: "ten_00000000000000000000000001".parse().unwrap(),
        number: ComplaintNumber::parse("PMC-20261201-0001").unwrap(),
        channel_id: None,
        contact_id: None,
        conversation_id: None,
        category_id: category.map(|c| c.parse().unwrap()),
        description: "pothole".into(),
        location: None,
        area: area.map(Into::into),
        assignee_id: None,
        team: None,
        language: Language::parse("en").unwrap(),
        priority,
        status: ComplaintStatus::New,
        source: Source::Text,
        created_at: at,
        updated_at: at,
        sla: None,
        point: None,
    }
}

const ROADS: &str = "cat_00000000000000000000000001";

fn rules() -> (Assignment, Teams, Areas) {
    let mut areas = catalogue();
    areas.areas[1].field_staff = vec![user(7), user(8)];
    let teams = Teams {
        teams: vec![team(Strategy::RoundRobin, Some(20))],
    };
    let assignment = Assignment {
        rules: vec![
            Rule {
                name: "Urgent to the duty officer".into(),
                category_id: None,
                area: None,
                priority: Some(Priority::Urgent),
                assign_to: AssignTo::Member { user_id: user(9) },
            },
            Rule {
                name: "Kothrud to its field staff".into(),
                category_id: None,
                area: Some("kothrud".into()),
                priority: None,
                assign_to: AssignTo::AreaFieldStaff,
            },
            Rule {
                name: "Roads".into(),
                category_id: Some(ROADS.parse().unwrap()),
                area: None,
                priority: None,
                assign_to: AssignTo::Team {
                    team: "roads".into(),
                },
            },
            Rule {
                name: "Aundh field staff".into(),
                category_id: None,
                area: Some("aundh".into()),
                priority: None,
                assign_to: AssignTo::AreaFieldStaff,
            },
        ],
    };
    (assignment, teams, areas)
}

#[test]
fn the_first_rule_that_covers_a_complaint_routes_it() {
    let (a, teams, areas) = rules();
    a.validate(&teams, &areas).unwrap();
    let route = |c: &Complaint| a.route(c, &teams, &areas);
    assert_eq!(
        route(&complaint(Some(ROADS), Some("kothrud"), Priority::Urgent)),
        Routed::Member {
            rule: 0,
            user_id: user(9)
        }
    );
    match route(&complaint(Some(ROADS), Some("kothrud"), Priority::High)) {
        Routed::Team { rule: 1, team } => {
            assert_eq!(team.slug, "area:kothrud");
            assert_eq!(team.members, vec![user(7), user(8)]);
        }
        other => panic!("{other:?}"),
    }
    match route(&complaint(Some(ROADS), None, Priority::Normal)) {
        Routed::Team { rule: 2, team } => assert_eq!(team.slug, "roads"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        route(&complaint(None, None, Priority::Normal)),
        Routed::NoRule
    );
    assert!(matches!(
        route(&complaint(None, Some("aundh"), Priority::Low)),
        Routed::Nowhere { rule: 3, .. }
    ));
    assert_eq!(
        team_named("area:kothrud", &teams, &areas).map(|t| t.members.len()),
        Some(2)
    );
    assert_eq!(team_named("gone", &teams, &areas), None);
}

#[test]
fn rules_and_teams_are_validated_with_the_field_named() {
    let (mut a, teams, areas) = rules();
    a.rules[2].assign_to = AssignTo::Team {
        team: "water".into(),
    };
    assert_eq!(
        a.validate(&teams, &areas).unwrap_err().field,
        "rules[2].assign_to.team"
    );
    let (mut a, teams, areas) = rules();
    a.rules[1].area = Some("baner".into());
    assert_eq!(
        a.validate(&teams, &areas).unwrap_err().field,
        "rules[1].area"
    );
    let (mut a, teams, areas) = rules();
    a.rules[3].name = "Roads".into();
    assert_eq!(
        a.validate(&teams, &areas).unwrap_err().field,
        "rules[3].name"
    );

    let mut t = Teams {
        teams: vec![team(Strategy::RoundRobin, Some(0))],
    };
    assert_eq!(t.validate().unwrap_err().field, "teams[0].capacity");
    t.teams[0].capacity = Some(3);
    t.teams[0].members.push(user(1));
    assert_eq!(t.validate().unwrap_err().field, "teams[0].members[3]");
    t.teams[0].members.pop();
    t.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&t.teams[0]).unwrap()["strategy"],
        "round_robin"
    );
}

#[test]
fn a_pin_falls_in_the_area_whose_outline_holds_it() {
    use crate::geo::GeoPoint;
    let p = |lat: f64, lon: f64| GeoPoint::new(lat, lon).unwrap();
    // An L-shaped ward: a point in its notch is outside.
    let mut ward = Area {
        boundary: vec![
            p(18.50, 73.80),
            p(18.50, 73.84),
            p(18.52, 73.84),
            p(18.52, 73.82),
            p(18.54, 73.82),
            p(18.54, 73.80),
        ],
        ..area("ward-12", "Ward 12", "प्रभाग १२", &[], &[])
    };
    assert!(ward.contains(&p(18.51, 73.83)));
    assert!(ward.contains(&p(18.53, 73.81)));
    assert!(!ward.contains(&p(18.53, 73.83)), "the notch");
    assert!(!ward.contains(&p(18.49, 73.81)));
    let areas = Areas {
        areas: vec![
            area("elsewhere", "Elsewhere", "इतर", &[], &[]),
            ward.clone(),
        ],
    };
    assert_eq!(
        areas.for_point(&p(18.51, 73.83)).map(|a| a.slug.as_str()),
        Some("ward-12")
    );
    assert_eq!(areas.for_point(&p(19.0, 72.8)), None);
    ward.boundary.truncate(2);
    let short = Areas { areas: vec![ward] };
    assert_eq!(short.validate().unwrap_err().field, "areas[0].boundary");
}
