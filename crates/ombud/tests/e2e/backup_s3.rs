//! Backups kept in an S3-compatible bucket, against a real S3-compatible
//! server (moto in server mode, which scripts/test starts and names in
//! `OMBUD_TEST_S3_ENDPOINT`): made, listed, verified, restored and pruned
//! through the CLI on the suite's backend; large ones go up in parts.

use sha2::{Digest, Sha256};

use crate::helpers::*;
use ombud::backup::s3::{Bucket, S3Settings};

/// A bucket of its own on the tests' S3 server.
pub struct TestBucket {
    pub endpoint: String,
    pub name: String,
}

impl TestBucket {
    pub async fn new() -> Self {
        let endpoint = std::env::var("OMBUD_TEST_S3_ENDPOINT").expect(
            "OMBUD_TEST_S3_ENDPOINT is not set: scripts/test starts an S3-compatible server (scripts/s3) and sets it",
        );
        let name = format!("ombud-{}", ombud_core::id::new_id_body().to_lowercase());
        // moto makes a bucket for any credentials; AWS would want them signed.
        let res = reqwest::Client::new()
            .put(format!("{endpoint}/{name}"))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(res.status().is_success(), "create bucket: {}", res.status());
        Self { endpoint, name }
    }

    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("eu-west-1".into()),
            access_key_id: Some("AKIAOMBUDTESTS".into()),
            secret_access_key: Some(ombud_core::Secret::new("tests-only-not-a-secret")),
            path_style: None,
        }
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.name)
    }

    /// The same, for a child `ombud`: in the configuration's variables.
    pub fn env(&self, to: &str) -> Vec<(&'static str, String)> {
        let s = self.settings();
        vec![
            ("OMBUD_BACKUP__TO", to.to_owned()),
            ("OMBUD_BACKUP__S3__ENDPOINT", self.endpoint.clone()),
            ("OMBUD_BACKUP__S3__REGION", s.region.unwrap()),
            ("OMBUD_BACKUP__S3__ACCESS_KEY_ID", s.access_key_id.unwrap()),
            (
                "OMBUD_BACKUP__S3__SECRET_ACCESS_KEY",
                s.secret_access_key.unwrap().expose().to_owned(),
            ),
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_on_s3_is_made_listed_verified_restored_and_pruned() {
    let (graph, app, t) = crate::backup::serving_one_citizen().await;
    let bucket = TestBucket::new().await;
    let to = bucket.url("pune/nightly");
    let mut env = app.db.env();
    env.extend(bucket.env(&to));
    env.push(("OMBUD_BACKUP__KEEP_DAILY", "1".into()));
    env.push(("OMBUD_BACKUP__KEEP_WEEKLY", "0".into()));
    env.push(("OMBUD_BACKUP__KEEP_MONTHLY", "0".into()));
    let cli = |args: &[&str]| {
        let (code, out, err) = run_cli_env(&env, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };

    // Three backups; the first two verified (the second by --latest).
    let made: Vec<String> = (0..3)
        .map(|_| {
            cli(&["backup", "create", "--json"])["file"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        made.iter().all(|f| f.starts_with(&format!("{to}/ombud-"))),
        "{made:?}"
    );
    let first = cli(&["backup", "verify", &made[0], "--json"]);
    assert_eq!(first["tenants"], 1, "{first:#}");
    assert_eq!(first["channels_opened"], 1, "the sealed secrets open");
    let listed = cli(&["backup", "list", "--json"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["location"].as_str().unwrap())
        .collect();
    assert_eq!(names, made, "oldest first");
    assert!(listed[0]["verified_at"].is_string());
    assert!(listed[1]["verified_at"].is_null());
    assert!(listed[0]["bytes"].as_u64().unwrap() > 1000);
    // --latest is the newest; verify the middle one by name.
    let latest = cli(&["backup", "verify", "--latest", "--json"]);
    assert_eq!(latest["file"], made[2]);
    cli(&["backup", "verify", &made[1]]);

    // Retention, one day: of the verified, the newest stays; the others go
    // with their markers.
    let gone = cli(&["backup", "prune", "--json"]);
    assert_eq!(gone, serde_json::json!([made[0], made[1]]));
    let objects = Bucket::new(&bucket.name, &bucket.settings())
        .unwrap()
        .list("pune/nightly/")
        .await
        .unwrap();
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    let last = made[2].rsplit('/').next().unwrap();
    assert_eq!(
        keys,
        [
            format!("pune/nightly/{last}"),
            format!("pune/nightly/{last}.verified")
        ]
    );

    // The machine is lost; the bucket is not.
    app.say(&t, "919800000002", "After the backup").await;
    graph.wait_for_reply_to("919800000002", 1).await;
    let lost = app.stop_keeping_db().await;
    let fresh = lost.elsewhere().await;
    let dir = fresh.dir.path().to_str().unwrap().to_owned();
    let mut args = vec!["restore", made[2].as_str(), "--data-dir", &dir, "--json"];
    if let Some(url) = &fresh.url {
        args.extend(["--database-url", url.as_str()]);
    }
    let mut restore_env = fresh.env();
    restore_env.extend(bucket.env(&to));
    let (code, restored, err) = run_cli_env(&restore_env, &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(restored["verified"]["file"], made[2]);
    assert_eq!(restored["verified"]["channels_opened"], 1, "{restored:#}");
    let app = TestApp::spawn_on(fresh, |_| {}, None).await;
    assert_eq!(
        app.store.conversations(&t.tenant.id).await.unwrap().len(),
        1,
        "what came before the backup"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_backup_goes_up_in_parts_and_comes_back_whole() {
    let bucket = TestBucket::new().await;
    let s3 = Bucket::new(&bucket.name, &bucket.settings()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Two and a half parts of bytes that do not compress.
    let size = ombud::backup::s3::PART_BYTES * 5 / 2;
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let file = dir.path().join("big");
    std::fs::write(&file, &data).unwrap();
    let sent = std::sync::atomic::AtomicU64::new(0);
    let tick = |n: u64| {
        sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    s3.put_file("big/one", &file, &tick).await.unwrap();
    assert_eq!(sent.into_inner(), size as u64, "every part counted");
    assert_eq!(
        s3.list("big/").await.unwrap(),
        [("big/one".to_owned(), size as u64)]
    );
    let back = dir.path().join("back");
    let got = s3.get_file("big/one", &back, &|_| {}).await.unwrap();
    assert_eq!(got, size as u64);
    assert_eq!(
        Sha256::digest(std::fs::read(&back).unwrap()),
        Sha256::digest(&data),
        "the same bytes, in order"
    );
    // No upload is left behind, half done.
    let uploads = reqwest::get(format!("{}/{}?uploads", bucket.endpoint, bucket.name))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!uploads.contains("<UploadId>"), "{uploads}");

    // A bucket that is not there: S3's own words.
    let missing = Bucket::new("ombud-no-such-bucket", &bucket.settings()).unwrap();
    let err = missing
        .put_file("x", &file, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("NoSuchBucket"), "{err}");
    let err = missing.list("").await.unwrap_err().to_string();
    assert!(err.contains("s3://ombud-no-such-bucket/"), "{err}");
}
