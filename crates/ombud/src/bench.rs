//! `ombud bench dashboard`: the complaint list at scale. Fills one tenant with
//! `--complaints` complaints (through the store, as `ombud seed` does), starts
//! the real server on that data, logs in as a member, and times the list's
//! pages over HTTP: the first page, a page deep in the list (keyset), filtered
//! by status and by assignee, a free-text search, and the count a bulk change
//! shows before confirming. Prints median, p95, min and max per query.
//!
//! The data dir is kept when `--data-dir` is given, and reused when it already
//! holds the tenant: seeding a million complaints takes minutes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::{
    ChangeBatch, ComplaintChange, ComplaintCursor, ComplaintFilter, ComplaintSort, NewTenant,
    NewUser, Store,
};

use crate::app::{open_store, App, AppOptions};
use crate::Config;

pub(crate) const SLUG: &str = "bench";
const EMAIL: &str = "bench@bench.example";
const PASSWORD: &str = "bench password 123";

#[derive(Args, Debug)]
pub struct DashboardBenchArgs {
    /// Complaints in the tenant.
    #[arg(long, default_value_t = 1_000_000)]
    complaints: usize,
    /// Timed requests per query (after 3 untimed).
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Keep (and reuse) the data here instead of a temporary dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Timing {
    query: &'static str,
    path: String,
    rows_shown: usize,
    median_ms: f64,
    p95_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

pub async fn dashboard(args: DashboardBenchArgs, base: Config) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let mut config = base;
    config.data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    config.database_url = None;
    config.listen = "127.0.0.1:0".into();
    let store = open_store(&config).await?;
    let seeded_in = prepare(store.as_ref(), args.complaints).await?;
    drop(store);

    let app = App::build(&config, AppOptions::default()).await?;
    let base_url = format!("http://{}", app.addr());
    let store = app.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));

    let tenant = crate::cli::tenant_by_slug(store.as_ref(), SLUG).await?;
    let total = store
        .count_complaints(&tenant.id, &ComplaintFilter::default())
        .await?;
    let member = store
        .user_by_email(&Email::parse(EMAIL)?)
        .await?
        .context("the bench user")?;
    // A cursor halfway through the list (by time): the page a user reaches
    // after paging a long way, which keyset pagination must serve as fast as
    // the first.
    let newest = store
        .list_complaints(
            &tenant.id,
            &ComplaintFilter::default(),
            ComplaintSort::Newest,
            None,
            1,
        )
        .await?;
    let oldest = store
        .list_complaints(
            &tenant.id,
            &ComplaintFilter::default(),
            ComplaintSort::Oldest,
            None,
            1,
        )
        .await?;
    let (Some(newest), Some(oldest)) = (newest.first(), oldest.first()) else {
        anyhow::bail!("the bench tenant has no complaints");
    };
    let middle = ComplaintCursor {
        created_at: oldest.complaint.created_at
            + (newest.complaint.created_at - oldest.complaint.created_at) / 2,
        id: newest.complaint.id.clone(),
    };

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http
        .post(format!("{base_url}/app/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("login gave no session cookie")?
        .to_owned();

    let queries: Vec<(&'static str, String)> = vec![
        ("first page", "/app/complaints".into()),
        (
            "deep page (keyset, halfway)",
            format!("/app/complaints?after={}", middle.encode()),
        ),
        ("status filter", "/app/complaints?status=resolved".into()),
        (
            "assignee filter",
            format!("/app/complaints?assignee={}", member.id),
        ),
        (
            "status + date range",
            format!(
                "/app/complaints?status=new&from={}",
                tenant
                    .local_date(newest.complaint.created_at)
                    .format("%Y-%m-%d")
            ),
        ),
        ("free text, common word", "/app/complaints?q=Ward+17".into()),
        (
            "free text, a complaint number",
            format!("/app/complaints?q={}", oldest.complaint.number),
        ),
        (
            "free text, no match",
            "/app/complaints?q=no+such+words".into(),
        ),
        ("oldest first", "/app/complaints?sort=oldest".into()),
    ];
    let mut timings = Vec::new();
    for (query, path) in queries {
        timings.push(time(&http, &cookie, &base_url, query, path, args.samples).await?);
    }
    // What a bulk change over everything matching shows first: the count.
    timings.push(
        time_post(
            &http,
            &cookie,
            &base_url,
            "bulk preview (count all)",
            "/app/complaints/bulk".into(),
            args.samples.min(10),
        )
        .await?,
    );

    let _ = stop.send(());
    server.await??;
    let result = serde_json::json!({
        "complaints": total,
        "seeded_seconds": seeded_in,
        "samples": args.samples,
        "timings": timings,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{total} complaints in one tenant (SQLite); {} timed requests per query\n",
            args.samples
        );
        println!(
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>6}",
            "query", "median", "p95", "min", "max", "rows"
        );
        for t in &timings {
            println!(
                "{:<32} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>6}",
                t.query, t.median_ms, t.p95_ms, t.min_ms, t.max_ms, t.rows_shown
            );
        }
    }
    Ok(())
}

/// Seeds the tenant unless it is there with enough complaints; then spreads
/// statuses and assignees so that filters have something to find. Returns the
/// seconds seeding took (0 when reused).
pub(crate) async fn prepare(store: &dyn Store, complaints: usize) -> anyhow::Result<f64> {
    let slug = TenantSlug::parse(SLUG)?;
    let tenant = match store.tenant_by_slug(&slug).await? {
        Some(t) => t,
        None => {
            let (t, _) = provision::create_tenant(
                store,
                &ombud_core::SystemClock,
                &ombud_engine::Acting::cli(),
                NewTenant {
                    id: ombud_core::TenantId::new(),
                    slug: slug.clone(),
                    name: "Bench Office".into(),
                    complaint_prefix: ComplaintPrefix::parse("BNCH")?,
                    default_language: Language::en(),
                    timezone: TimeZoneName::parse("Asia/Kolkata")?,
                },
                true,
            )
            .await?;
            provision::add_whatsapp_channel(
                store,
                &ombud_core::SystemClock,
                &ombud_engine::Acting::cli(),
                &ProviderHosts::parse("127.0.0.1").map_err(anyhow::Error::msg)?,
                &slug,
                "WhatsApp".into(),
                WhatsAppConfig {
                    phone_number_id: "100000000000009".into(),
                    app_secret: Secret::new("bench"),
                    verify_token: Secret::new("bench"),
                    access_token: Secret::new("bench"),
                    graph_url: "http://127.0.0.1:9".into(),
                    api_version: WhatsAppConfig::DEFAULT_API_VERSION.into(),
                    waba_id: None,
                    templates: Default::default(),
                },
            )
            .await?;
            store
                .create_user(
                    NewUser {
                        id: ombud_core::UserId::new(),
                        email: Email::parse(EMAIL)?,
                        name: "Bench".into(),
                        password_hash: ombud_web::auth::hash_password(PASSWORD)
                            .map_err(|e| anyhow::anyhow!("hashing: {e}"))?,
                        must_change_password: false,
                        platform_admin: false,
                        memberships: vec![(t.id.clone(), Role::Owner)],
                    },
                    chrono::Utc::now(),
                    Vec::new(),
                )
                .await?;
            t
        }
    };
    let have = store
        .count_complaints(&tenant.id, &ComplaintFilter::default())
        .await? as usize;
    if have >= complaints {
        eprintln!("reusing {have} complaints");
        return Ok(0.0);
    }
    let started = Instant::now();
    let missing = complaints - have;
    eprintln!("seeding {missing} complaints (this takes a while at a million)…");
    crate::seed::run(store, SLUG, missing, (missing / 20).max(1)).await?;
    // One in ten resolved, one in twenty assigned: enough for filters to find.
    let member = store
        .user_by_email(&Email::parse(EMAIL)?)
        .await?
        .context("the bench user")?;
    let mut after: Option<ComplaintCursor> = None;
    let mut i = 0usize;
    loop {
        let page = store
            .list_complaints(
                &tenant.id,
                &ComplaintFilter::default(),
                ComplaintSort::Oldest,
                after.as_ref(),
                2000,
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(ComplaintCursor::of(&last.complaint));
        let (mut resolve, mut assign) = (Vec::new(), Vec::new());
        for row in &page {
            if i.is_multiple_of(10) {
                resolve.push(row.complaint.id.clone());
            }
            if i % 20 == 1 {
                assign.push(row.complaint.id.clone());
            }
            i += 1;
        }
        for (change, ids) in [
            (ComplaintChange::Status(ComplaintStatus::Resolved), resolve),
            (ComplaintChange::Assign(Some(member.id.clone())), assign),
        ] {
            store
                .change_complaints(
                    &tenant.id,
                    ChangeBatch {
                        at: chrono::Utc::now(),
                        actor: format!("user:{}", member.id),
                        change,
                        ids,
                        notices: None,
                        audit: None,
                        bulk_id: None,
                        follow_ups: Default::default(),
                        sla: None,
                        routing: None,
                        verification: None,
                    },
                )
                .await?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn stats(query: &'static str, path: String, rows_shown: usize, mut ms: Vec<f64>) -> Timing {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Timing {
        query,
        path,
        rows_shown,
        median_ms: at(0.5),
        p95_ms: at(0.95),
        min_ms: ms[0],
        max_ms: ms[ms.len() - 1],
    }
}

async fn time(
    http: &reqwest::Client,
    cookie: &str,
    base: &str,
    query: &'static str,
    path: String,
    samples: usize,
) -> anyhow::Result<Timing> {
    let mut ms = Vec::with_capacity(samples);
    let mut rows = 0;
    for i in 0..samples.max(1) + 3 {
        let started = Instant::now();
        let res = http
            .get(format!("{base}{path}"))
            .header("cookie", cookie)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "{path}: {}", res.status());
        let body = res.text().await?;
        let took = started.elapsed();
        rows = body.matches("<tr data-href=").count();
        if i >= 3 {
            ms.push(took.as_secs_f64() * 1000.0);
        }
    }
    Ok(stats(query, path, rows, ms))
}

async fn time_post(
    http: &reqwest::Client,
    cookie: &str,
    base: &str,
    query: &'static str,
    path: String,
    samples: usize,
) -> anyhow::Result<Timing> {
    let page = http
        .get(format!("{base}/app/account"))
        .header("cookie", cookie)
        .send()
        .await?
        .text()
        .await?;
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("no CSRF token on the account page")?
        .to_owned();
    let mut ms = Vec::with_capacity(samples);
    for i in 0..samples.max(1) + 1 {
        let started = Instant::now();
        let res = http
            .post(format!("{base}{path}"))
            .header("cookie", cookie)
            .form(&[
                ("csrf_token", token.as_str()),
                ("action", "note"),
                ("note", "bench"),
                ("scope", "matching"),
            ])
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "{path}: {}", res.status());
        res.text().await?;
        if i >= 1 {
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(stats(query, path, 0, ms))
}
