//! PostgreSQL backups through the operator's `pg_dump` and `pg_restore`.
//! The dump runs under a snapshot exported by a repeatable-read transaction
//! that also counts each table's rows, so the manifest's counts are the
//! dump's. Verifying restores into a scratch database on the same server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};

use super::BackupError;

/// What a dump holds.
pub struct Dumped {
    pub schema: String,
    pub schema_version: i64,
    pub tables: BTreeMap<String, u64>,
}

/// A PostgreSQL client program: `OMBUD_<NAME>` (PG_DUMP, PG_RESTORE), else
/// on the PATH, else the newest in Debian's `/usr/lib/postgresql/*/bin`.
pub fn tool(name: &str) -> PathBuf {
    let var = format!("OMBUD_{}", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(var) {
        return path.into();
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
        .unwrap_or_default();
    if let Some(found) = on_path {
        return found;
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join("bin").join(name);
            path.exists().then_some((major, path))
        })
        .collect();
    debian.sort();
    debian.pop().map(|(_, p)| p).unwrap_or_else(|| name.into())
}

/// The major version of a client program (`pg_dump (PostgreSQL) 15.18` → 15).
fn major_of(program: &Path) -> anyhow::Result<u32> {
    let out = std::process::Command::new(program)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "could not run {} (install PostgreSQL's client programs, or set OMBUD_PG_DUMP)",
                program.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.split('.').next()?.parse().ok())
        .with_context(|| format!("{} says its version is {text:?}", program.display()))
}

async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::connect(url)
        .await
        .context("connecting to the database")
}

/// Dumps the schema the deployment uses into `into` (custom format).
pub async fn dump(url: &str, into: &Path) -> anyhow::Result<Dumped> {
    let mut conn = connect(url).await?;
    sqlx::raw_sql("begin isolation level repeatable read read only")
        .execute(&mut conn)
        .await?;
    let snapshot: String = sqlx::query_scalar("select pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await?;
    let schema: String = sqlx::query_scalar("select current_schema()")
        .fetch_one(&mut conn)
        .await?;
    let server: i32 =
        sqlx::query_scalar("select current_setting('server_version_num')::int / 10000")
            .fetch_one(&mut conn)
            .await?;
    let pg_dump = tool("pg_dump");
    let client = major_of(&pg_dump)?;
    if client < server as u32 {
        anyhow::bail!(
            "{} is PostgreSQL {client}'s, older than the server ({server}): install PostgreSQL {server}'s client programs (Debian: postgresql-client-{server}) or set OMBUD_PG_DUMP",
            pg_dump.display()
        );
    }
    let running = tokio::process::Command::new(&pg_dump)
        .args([
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--compress=0",
        ])
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--schema={schema}"))
        .arg(format!("--file={}", into.display()))
        .arg(format!("--dbname={url}"))
        .stdin(std::process::Stdio::null())
        .output();
    let counts = count_tables(&mut conn).await?;
    let schema_version: i64 =
        sqlx::query_scalar("select coalesce(max(version), 0) from schema_migrations")
            .fetch_one(&mut conn)
            .await?;
    let out = running.await.context("running pg_dump")?;
    sqlx::raw_sql("commit").execute(&mut conn).await?;
    if !out.status.success() {
        anyhow::bail!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Dumped {
        schema,
        schema_version,
        tables: counts,
    })
}

/// A scratch database on the deployment's server holding a restored dump;
/// dropped with [`Scratch::drop_now`].
pub struct Scratch {
    admin_url: String,
    pub name: String,
    /// Connects to the scratch database, the dump's schema first.
    pub url: String,
}

/// Restores the dump at `file` (of `schema`) into a new database on the
/// server `url` names.
pub async fn restore_scratch(url: &str, file: &Path, schema: &str) -> Result<Scratch, BackupError> {
    let other = BackupError::other;
    let name = format!(
        "ombud_verify_{}",
        ombud_core::id::new_id_body().to_lowercase()
    );
    let mut admin = connect(url).await.map_err(other)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create database {name} template template0"
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| {
        BackupError::Other(format!(
            "could not make a scratch database to verify in (the role needs CREATEDB): {e}"
        ))
    })?;
    let scratch_url = with_database(url, &name, schema);
    let scratch = Scratch {
        admin_url: url.to_owned(),
        name: name.clone(),
        url: scratch_url.clone(),
    };
    // The dump makes its schema, `public` included.
    let mut conn = connect(&with_database(url, &name, "public"))
        .await
        .map_err(other)?;
    sqlx::raw_sql("drop schema if exists public cascade")
        .execute(&mut conn)
        .await
        .map_err(|e| BackupError::Other(e.to_string()))?;
    drop(conn);
    let out = tokio::process::Command::new(tool("pg_restore"))
        .args(["--no-owner", "--no-privileges", "--exit-on-error"])
        .arg(format!("--dbname={}", with_database(url, &name, "public")))
        .arg(file)
        .output()
        .await
        .map_err(|e| BackupError::Other(format!("could not run pg_restore ({e}): install PostgreSQL's client programs or set OMBUD_PG_RESTORE")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        scratch.drop_now().await;
        return Err(BackupError::Corrupted(format!(
            "pg_restore refused its dump: {why}"
        )));
    }
    Ok(scratch)
}

impl Scratch {
    pub async fn drop_now(&self) {
        if let Ok(mut admin) = connect(&self.admin_url).await {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "drop database if exists {} with (force)",
                self.name
            )))
            .execute(&mut admin)
            .await;
        }
    }
}

/// Restores the dump at `file` (of `dump_schema`) into the schema the
/// deployment at `url` uses: refused if it holds tables, unless `force`
/// (then they go first). A dump of another schema is renamed into place.
pub async fn restore_target(
    url: &str,
    file: &Path,
    dump_schema: &str,
    force: bool,
) -> Result<String, BackupError> {
    let other = |e: sqlx::Error| BackupError::Other(e.to_string());
    let mut conn = connect(url).await.map_err(BackupError::other)?;
    let target: String = sqlx::query_scalar(
        "select coalesce(current_schema(),
            nullif(trim(both '\" ' from split_part(current_setting('search_path'), ',', 1)), '$user'),
            'public')",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(other)?;
    let tables = |schema: String| {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from information_schema.tables where table_schema = $1",
        )
        .bind(schema)
    };
    let held = tables(target.clone())
        .fetch_one(&mut conn)
        .await
        .map_err(other)?;
    if held > 0 && !force {
        return Err(BackupError::Other(format!(
            "schema {target} holds {held} tables already: restore into an empty one, or give --force to replace them"
        )));
    }
    if dump_schema != target {
        let theirs = tables(dump_schema.to_owned())
            .fetch_one(&mut conn)
            .await
            .map_err(other)?;
        if theirs > 0 {
            return Err(BackupError::Other(format!(
                "the backup is of schema {dump_schema}, which this database holds too (another deployment?): restore into another database"
            )));
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop schema if exists \"{dump_schema}\" cascade"
        )))
        .execute(&mut conn)
        .await
        .map_err(other)?;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "drop schema if exists \"{target}\" cascade"
    )))
    .execute(&mut conn)
    .await
    .map_err(other)?;
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&mut conn)
        .await
        .map_err(other)?;
    let out = tokio::process::Command::new(tool("pg_restore"))
        .args(["--no-owner", "--no-privileges", "--exit-on-error"])
        .arg(format!(
            "--dbname={}",
            with_database(url, &database, "public")
        ))
        .arg(file)
        .output()
        .await
        .map_err(|e| BackupError::Other(format!("could not run pg_restore ({e})")))?;
    if !out.status.success() {
        return Err(BackupError::Other(format!(
            "pg_restore failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if dump_schema != target {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "alter schema \"{dump_schema}\" rename to \"{target}\""
        )))
        .execute(&mut conn)
        .await
        .map_err(other)?;
    }
    Ok(target)
}

/// `url` with its database replaced by `database` and its search path set
/// to `schema`.
fn with_database(url: &str, database: &str, schema: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = match base.rfind('/') {
        Some(at) if base[..at].contains("://") && !base[..at].ends_with('/') => &base[..at],
        _ => base,
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("options="))
        .collect();
    let mut params = kept.join("&");
    if !params.is_empty() {
        params.push('&');
    }
    format!("{base}/{database}?{params}options=-c%20search_path%3D{schema}")
}

/// Counts a restored schema's rows, for comparing with the manifest.
pub async fn table_counts(url: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut conn = connect(url).await?;
    count_tables(&mut conn).await
}

/// Rows in each table of the connection's current schema.
async fn count_tables(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, u64>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from \"{}\"",
            t.replace('"', "\"\"")
        )))
        .fetch_one(&mut *conn)
        .await?;
        counts.insert(t, n as u64);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_url_names_the_database_and_the_schema() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/ombud", "scratch", "public"),
            "postgres://u:p@127.0.0.1:5432/scratch?options=-c%20search_path%3Dpublic"
        );
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:40063/postgres?sslmode=disable&options=-c%20search_path%3Dt_1",
                "scratch",
                "t_1"
            ),
            "postgres://postgres@127.0.0.1:40063/scratch?sslmode=disable&options=-c%20search_path%3Dt_1"
        );
    }
}
