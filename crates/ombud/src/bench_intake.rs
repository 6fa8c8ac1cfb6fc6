//! `ombud bench intake`: how well the intake agent files complaints. It
//! reads a set of messages (Ombud's own, or a file of yours: one a line,
//! `category<TAB>language<TAB>text`, the category by its slug) against a
//! tenant's categories (the defaults, or a tenant's from the database) and
//! reports, overall and by language, how many were filed right (sure and
//! right, or asked with the right one to tap) and how many were filed
//! wrong with nobody asked.

use anyhow::Context;
use clap::Args;
use ombud_agents::intake::eval;

use crate::Config;

#[derive(Args, Debug)]
pub struct IntakeBenchArgs {
    /// A set of your own (default: Ombud's, in English, Hindi, Marathi and
    /// both in Latin letters).
    #[arg(long, value_name = "PATH")]
    file: Option<std::path::PathBuf>,
    /// Read against this tenant's categories (by slug) from the configured
    /// database, not the default ones.
    #[arg(long)]
    tenant: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn intake(args: IntakeBenchArgs, config: Config) -> anyhow::Result<()> {
    let text = match &args.file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => eval::OWN_SET.to_owned(),
    };
    let set = eval::parse(&text).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(!set.is_empty(), "the set has no messages");
    let categories = match &args.tenant {
        Some(slug) => {
            let store = crate::app::open_store(&config).await?;
            let slug = ombud_core::TenantSlug::parse(slug).map_err(anyhow::Error::msg)?;
            let tenant = store
                .tenant_by_slug(&slug)
                .await?
                .with_context(|| format!("no tenant {slug}"))?;
            store.categories(&tenant.id).await?.as_ref().clone()
        }
        None => ombud_engine::provision::default_category_list(&ombud_core::TenantId::new()),
    };
    let report = eval::evaluate(&set, &categories);
    if args.json {
        crate::cli::print_json(&serde_json::to_value(&report)?);
        return Ok(());
    }
    let line = |name: &str, t: &eval::Tally| {
        format!(
            "{name:<8} {:>4} messages  filed right {:>5.1}%  (sure {:>3}, asked between two {:>3}, asked from the list {:>3})  asked without the right one {:>3}  filed wrong {:>3}\n",
            t.messages,
            t.filed_right_pct(),
            t.sure_right,
            t.asked_two,
            t.asked_list,
            t.asked_two_wrong,
            t.sure_wrong
        )
    };
    let mut out = line("all", &report.all);
    for (lang, t) in &report.by_language {
        out.push_str(&line(lang, t));
    }
    for (title, list) in [
        (
            "Filed wrong, or asked without the right one:",
            &report.misread,
        ),
        ("Asked:", &report.asked),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("{title}\n"));
        }
        for m in list {
            out.push_str(&format!(
                "  {} → {} (expected {})\n",
                m.text, m.read, m.expected
            ));
        }
    }
    print!("{out}");
    Ok(())
}
