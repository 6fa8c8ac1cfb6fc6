//! `ombud loadtest --spawn` end to end: a small run where nothing may be lost or
//! duplicated. On the PostgreSQL pass of the suite it spawns two replicas.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_spawned_load_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let mut args: Vec<String> = [
        "loadtest",
        "--spawn",
        "--contacts",
        "20",
        "--messages",
        "4",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    if db.is_postgres() {
        let base = std::env::var("OMBUD_TEST_DATABASE_URL").unwrap();
        args.extend([
            "--replicas".into(),
            "2".into(),
            "--database-url".into(),
            base,
        ]);
    }
    let (code, summary, err) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli_env(&[], &args)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}\n{summary}");
    assert_eq!(summary["answered"], 80, "{summary}");
    assert_eq!(summary["lost"], 0);
    assert_eq!(summary["duplicated"], 0);
    assert_eq!(summary["servers"], if db.is_postgres() { 2 } else { 1 });
    assert!(summary["reply_ms"]["p99"].as_f64().unwrap() > 0.0);
}
