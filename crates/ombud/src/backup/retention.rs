//! Which backups retention lets go (`ombud_core::generations`), and which
//! is newest.

use anyhow::Context as _;

use super::{BackupSettings, Destination};

/// The newest backup in `dest`: its location.
pub async fn latest(dest: &Destination) -> anyhow::Result<String> {
    dest.list()
        .await?
        .pop()
        .map(|l| l.location)
        .with_context(|| format!("no backup in {}", dest.describe()))
}

/// Deletes the backups in `dest` that retention does not keep (see
/// `ombud_core::generations`); the locations deleted.
pub async fn prune(dest: &Destination, settings: &BackupSettings) -> anyhow::Result<Vec<String>> {
    let zone = ombud_core::TimeZoneName::parse(&settings.timezone)?;
    let listed = dest.list().await?;
    let generations: Vec<ombud_core::generations::Generation> = listed
        .iter()
        .map(|l| ombud_core::generations::Generation {
            created_at: l.created_at,
            verified: l.verified_at.is_some(),
        })
        .collect();
    let keep = ombud_core::generations::keep(&generations, settings.keep(), &zone);
    let mut gone = Vec::new();
    for (i, l) in listed.into_iter().enumerate() {
        if keep.contains(&i) {
            continue;
        }
        dest.delete(&l.name).await?;
        gone.push(l.location);
    }
    Ok(gone)
}
