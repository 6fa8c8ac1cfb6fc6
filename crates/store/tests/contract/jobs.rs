//! Scheduled work: claimed by one holder at a time, again once its lease runs
//! out, and finished only by the holder that still holds it.

use ombud_core::schedule::JobOutcome;

use super::*;

fn at(h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, h, m, 0).unwrap()
}

fn new_job(key: &str, due: chrono::DateTime<Utc>) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: "test.touch".into(),
        key: key.into(),
        tenant_id: None,
        payload: serde_json::json!({"key": key}),
        schedule: None,
        due_at: due,
        max_attempts: 3,
    }
}

fn kinds() -> Vec<String> {
    vec!["test.touch".into()]
}

pub(crate) async fn a_job_is_held_by_one_holder_until_its_lease_runs_out(store: Arc<dyn Store>) {
    assert!(store
        .schedule_job(new_job("one", at(9, 0)), at(8, 0))
        .await
        .unwrap());
    // A key scheduled again changes nothing.
    assert!(!store
        .schedule_job(new_job("one", at(7, 0)), at(8, 0))
        .await
        .unwrap());
    assert_eq!(store.job("one").await.unwrap().unwrap().due_at, at(9, 0));
    // Not due yet; then due, and of another kind only for those who run it.
    let lease = chrono::Duration::minutes(5);
    assert!(store
        .claim_jobs("a", &kinds(), at(8, 59), at(8, 59) + lease, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_job_due(&kinds()).await.unwrap(), Some(at(9, 0)));
    assert!(store
        .claim_jobs("a", &["other".into()], at(9, 0), at(9, 0) + lease, 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_jobs("a", &kinds(), at(9, 0), at(9, 5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!((job.attempts, job.leased_by.as_deref()), (1, Some("a")));
    // Held: nobody else gets it, and it counts as running.
    assert!(store
        .claim_jobs("b", &kinds(), at(9, 1), at(9, 6), 10)
        .await
        .unwrap()
        .is_empty());
    let stats = store.job_stats(at(9, 1)).await.unwrap();
    assert_eq!((stats.due, stats.running, stats.failed), (0, 1, 0));
    assert!(store.renew_job(&job.id, "a", at(9, 8)).await.unwrap());
    assert!(!store.renew_job(&job.id, "b", at(9, 30)).await.unwrap());
    assert!(store
        .claim_jobs("b", &kinds(), at(9, 6), at(9, 11), 10)
        .await
        .unwrap()
        .is_empty());
    // Its holder died: once the lease runs out another takes it, a second attempt.
    let stats = store.job_stats(at(9, 9)).await.unwrap();
    assert_eq!((stats.due, stats.oldest_due), (1, Some(at(9, 0))));
    let again = store
        .claim_jobs("b", &kinds(), at(9, 9), at(9, 14), 10)
        .await
        .unwrap();
    assert_eq!(
        (again[0].attempts, again[0].leased_by.as_deref()),
        (2, Some("b"))
    );
    // The first holder comes back too late: its outcome is not written.
    assert!(!store
        .finish_job(&job.id, "a", JobOutcome::Done, at(9, 10))
        .await
        .unwrap());
    // A failed attempt comes back at its retry time, attempts kept.
    let retry = JobOutcome::Retry {
        at: at(9, 30),
        error: "refused".into(),
    };
    assert!(store
        .finish_job(&job.id, "b", retry, at(9, 10))
        .await
        .unwrap());
    let j = store.job("one").await.unwrap().unwrap();
    assert_eq!(
        (
            j.due_at,
            j.attempts,
            j.leased_by.clone(),
            j.last_error.as_deref(),
            j.runs
        ),
        (at(9, 30), 2, None, Some("refused"), 1)
    );
    let third = store
        .claim_jobs("b", &kinds(), at(9, 30), at(9, 35), 10)
        .await
        .unwrap();
    assert_eq!(third[0].attempts, 3);
    assert!(store
        .finish_job(&job.id, "b", JobOutcome::Done, at(9, 31))
        .await
        .unwrap());
    let j = store.job("one").await.unwrap().unwrap();
    assert_eq!((j.state, j.runs), (JobState::Done, 2));
    assert!(store
        .claim_jobs("b", &kinds(), at(23, 0), at(23, 5), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_job_due(&kinds()).await.unwrap(), None);

    // Gave up: counted as failed.
    store
        .schedule_job(new_job("two", at(10, 0)), at(8, 0))
        .await
        .unwrap();
    let two = store
        .claim_jobs("a", &kinds(), at(10, 0), at(10, 5), 10)
        .await
        .unwrap();
    let failed = JobOutcome::Failed {
        error: "x".repeat(5000),
    };
    assert!(store
        .finish_job(&two[0].id, "a", failed, at(10, 1))
        .await
        .unwrap());
    let j = store.job("two").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.last_error.map(|e| e.len())),
        (JobState::Failed, Some(2000))
    );
    assert_eq!(store.job_stats(at(10, 2)).await.unwrap().failed, 1);
    assert!(store.cancel_job("two").await.unwrap());
    assert!(!store.cancel_job("two").await.unwrap());
}

pub(crate) async fn a_recurring_job_keeps_its_row_and_moves_on(store: Arc<dyn Store>) {
    let utc = TimeZoneName::parse("UTC").unwrap();
    let recurring = |schedule: &str, due| NewJob {
        schedule: Some((schedule.into(), utc.clone())),
        ..new_job("hourly", due)
    };
    store
        .set_recurring(recurring("0 * * * *", at(9, 0)), at(8, 30))
        .await
        .unwrap();
    // Every replica says so on start: the same schedule leaves it as it is.
    store
        .set_recurring(recurring("0 * * * *", at(8, 45)), at(8, 40))
        .await
        .unwrap();
    let j = store.job("hourly").await.unwrap().unwrap();
    assert_eq!(
        (j.due_at, j.schedule.clone()),
        (at(9, 0), Some(("0 * * * *".into(), utc.clone())))
    );
    let claimed = store
        .claim_jobs("a", &kinds(), at(9, 0), at(9, 5), 10)
        .await
        .unwrap();
    let next = JobOutcome::Next {
        at: at(10, 0),
        error: None,
    };
    assert!(store
        .finish_job(&claimed[0].id, "a", next, at(9, 1))
        .await
        .unwrap());
    let j = store.job("hourly").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.due_at, j.attempts, j.last_run_at),
        (JobState::Due, at(10, 0), 0, Some(at(9, 1)))
    );
    // A new schedule moves it.
    store
        .set_recurring(recurring("30 * * * *", at(9, 30)), at(9, 2))
        .await
        .unwrap();
    let j = store.job("hourly").await.unwrap().unwrap();
    assert_eq!(
        (j.due_at, j.schedule.map(|s| s.0)),
        (at(9, 30), Some("30 * * * *".into()))
    );
}

/// Two stores on one database (two processes, or two replicas) claiming at
/// once: each job goes to one of them.
pub(crate) async fn two_stores_claiming_at_once_never_share_a_job(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    for i in 0..300 {
        a.schedule_job(new_job(&format!("k{i}"), at(9, 0)), at(8, 0))
            .await
            .unwrap();
    }
    let claim = |store: Arc<dyn Store>, holder: &'static str| async move {
        let mut mine = Vec::new();
        loop {
            let got = store
                .claim_jobs(holder, &kinds(), at(9, 0), at(9, 5), 7)
                .await
                .unwrap();
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|j| j.key));
        }
    };
    let (x, y) = tokio::join!(claim(a.clone(), "a"), claim(b.clone(), "b"));
    let all: HashSet<&String> = x.iter().chain(&y).collect();
    assert_eq!(
        x.len() + y.len(),
        300,
        "a took {}, b took {}",
        x.len(),
        y.len()
    );
    assert_eq!(all.len(), 300, "a job was claimed twice");
}
