//! Secrets in PostgreSQL rows: sealed in place where rows from before sealing
//! hold them in plain text, and re-sealed under a new key on rotation (see
//! [`crate::sealing`]). Replicas that start together seal one after the
//! other (row locks); a value sealed already is left alone.

use sqlx::{PgPool, Postgres, Transaction};

use crate::sealing::SEALED_COLUMNS;
use crate::{Sealer, StoreResult};

/// Seals what is still plain; returns how many values were.
pub(super) async fn seal_in_place(pool: &PgPool, sealer: &Sealer) -> StoreResult<usize> {
    let mut tx = pool.begin().await?;
    let changed = rewrite(&mut tx, |tenant, stored| {
        Ok(sealer.seal_if_plain(tenant, stored))
    })
    .await?;
    tx.commit().await?;
    if changed > 0 {
        tracing::info!(
            values = changed,
            "sealed secrets that were stored in plain text"
        );
    }
    Ok(changed)
}

/// Re-seals every secret (and every sealed value in an agent version's
/// configuration) under `next`, in one transaction; returns how many.
pub async fn reseal_secrets(pool: &PgPool, current: &Sealer, next: &Sealer) -> StoreResult<usize> {
    let mut tx = pool.begin().await?;
    let mut changed = rewrite(&mut tx, |tenant, stored| {
        current.reseal(next, tenant, stored)
    })
    .await?;
    let versions: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "select id, tenant_id, config from agent_versions where config::text like '%sealed:v1:%'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, tenant, mut config) in versions {
        if current.reseal_json(next, &tenant, &mut config)? {
            sqlx::query("update agent_versions set config = $1 where id = $2")
                .bind(&config)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            changed += 1;
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// Rewrites each secret column whose value `f` changes.
async fn rewrite(
    tx: &mut Transaction<'_, Postgres>,
    f: impl Fn(&str, Option<&str>) -> StoreResult<Option<String>>,
) -> StoreResult<usize> {
    let mut changed = 0;
    for (table, columns) in SEALED_COLUMNS {
        for column in *columns {
            // A row's ctid stays put while this transaction holds its lock.
            let select = format!(
                "select ctid::text, tenant_id, {column} from {table} where {column} <> '' for update"
            );
            let rows: Vec<(String, String, Option<String>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(select))
                    .fetch_all(&mut **tx)
                    .await?;
            let update = format!("update {table} set {column} = $1 where ctid = $2::tid");
            for (id, tenant, stored) in rows {
                if let Some(sealed) = f(&tenant, stored.as_deref())? {
                    sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(sealed)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}
