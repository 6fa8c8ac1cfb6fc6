#![allow(clippy::unwrap_used)]

use super::*;
use crate::NewTenant;

/// Text that more complaints contain than the index should hand over
/// (over [`DENSE`]) is matched by scanning in list order; rarer text
/// through the index. Both give the same pages and counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_and_rare_text_give_the_same_answers_by_either_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("t.db"),
        crate::Sealer::new(ombud_core::seal::SealKey::generate()),
    )
    .unwrap();
    let tenant = store
        .create_tenant(
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse("alpha").unwrap(),
                name: "alpha".into(),
                complaint_prefix: ComplaintPrefix::parse("ALPHA").unwrap(),
                default_language: Language::en(),
                timezone: TimeZoneName::parse("UTC").unwrap(),
            },
            TenantSetup::default(),
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap()
        .0;
    let start = chrono::Utc::now();
    let n = DENSE as usize + 2;
    let made: Vec<Complaint> = futures_util::future::try_join_all((0..n).map(|i| {
        let (store, tenant) = (&store, &tenant);
        async move {
            let new = NewComplaint {
                origin_key: None,
                channel_id: None,
                contact_id: None,
                conversation_id: None,
                category_id: None,
                description: if i == 7 {
                    "a rare xylophone".into()
                } else {
                    format!("Pothole number {i}")
                },
                location: None,
                area: None,
                language: Language::en(),
                priority: Priority::Normal,
                source: Source::Api,
                actor: "system".into(),
                at: start + chrono::Duration::milliseconds(i as i64),
                audit: None,
                sla: None,
                route: false,
                verification: None,
                point: None,
                media: Vec::new(),
            };
            store.create_complaint(tenant, new).await.map(|(c, _)| c)
        }
    }))
    .await
    .unwrap();
    let text = |t: &str| ComplaintFilter {
        text: Some(t.into()),
        ..Default::default()
    };
    let (dense, rare) = (text("pothole"), text("xylophone"));
    let plans = store
        .read(move |conn| {
            Ok([
                text_plan(conn, &dense, true)?,
                text_plan(conn, &rare, true)?,
                text_plan(conn, &dense, false)?,
            ])
        })
        .await
        .unwrap();
    use list_query::TextPlan::*;
    assert_eq!(
        plans,
        [Scan, Index, Index],
        "a dense page scans; counts use the index"
    );

    let page = store
        .list_complaints(&tenant.id, &text("POTHOLE"), ComplaintSort::Newest, None, 3)
        .await
        .unwrap();
    let numbers: Vec<&str> = page
        .iter()
        .map(|r| r.complaint.description.as_str())
        .collect();
    let last = n - 1;
    assert_eq!(
        numbers,
        [
            format!("Pothole number {last}"),
            format!("Pothole number {}", last - 1),
            format!("Pothole number {}", last - 2)
        ]
    );
    assert_eq!(
        store
            .count_complaints(&tenant.id, &text("pothole"))
            .await
            .unwrap(),
        n as u64 - 1
    );
    let rare = store
        .list_complaints(&tenant.id, &text("XYLO"), ComplaintSort::Newest, None, 3)
        .await
        .unwrap();
    assert_eq!(rare.len(), 1);
    assert_eq!(rare[0].complaint.id, made[7].id);
}
