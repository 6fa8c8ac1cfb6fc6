//! Where photos and voice notes are kept (`media.store`): a directory (by
//! default `<data dir>/media`), or a prefix in an S3-compatible bucket
//! (`s3://bucket/prefix`) when several replicas serve one deployment and
//! each must read what another fetched. Objects are named
//! `<prefix>/<tenant>/<sha256>` and never change.

use std::sync::Arc;

use async_trait::async_trait;
use ombud_core::TenantId;
use ombud_engine::media::{object_name, DirMediaStore, MediaStore};

use crate::backup::s3::{self, Bucket, S3Settings};

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// A directory, or `s3://bucket/prefix`. Default: `<data dir>/media`.
    pub store: Option<String>,
    /// The bucket's server and keys when `store` is `s3://…` (unset fields
    /// come from the `AWS_*` variables, as for backups).
    pub s3: S3Settings,
}

impl MediaSettings {
    /// Checks the settings: the key that is wrong, and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self.store.as_deref() {
            Some(to) if to.trim().is_empty() => Err((
                "media.store",
                "must be a directory or s3://bucket/prefix".into(),
            )),
            Some(to) if to.starts_with("s3://") => {
                let (bucket, _) = s3::parse_url(to).map_err(|reason| ("media.store", reason))?;
                self.s3
                    .keys()
                    .map_err(|e| ("media.s3.access_key_id", e.to_owned()))?;
                Bucket::new(&bucket, &self.s3)
                    .map(drop)
                    .map_err(|e| ("media.store", format!("{e:#}")))
            }
            _ => Ok(()),
        }
    }

    /// The store these settings name.
    pub fn open(&self, data_dir: &std::path::Path) -> anyhow::Result<Arc<dyn MediaStore>> {
        match self.store.as_deref() {
            Some(to) if to.starts_with("s3://") => {
                let (bucket, prefix) =
                    s3::parse_url(to).map_err(|e| anyhow::anyhow!("media.store {to}: {e}"))?;
                Ok(Arc::new(S3MediaStore {
                    bucket: Bucket::new(&bucket, &self.s3)?,
                    prefix,
                }))
            }
            Some(dir) => Ok(Arc::new(DirMediaStore::new(dir))),
            None => Ok(Arc::new(DirMediaStore::new(data_dir.join("media")))),
        }
    }
}

/// Media in an S3-compatible bucket.
#[derive(Debug)]
pub struct S3MediaStore {
    bucket: Bucket,
    prefix: String,
}

impl S3MediaStore {
    fn key(&self, tenant: &TenantId, sha256: &str) -> Result<String, String> {
        let name = object_name(sha256)?;
        Ok(match self.prefix.is_empty() {
            true => format!("{tenant}/{name}"),
            false => format!("{}/{tenant}/{name}", self.prefix),
        })
    }
}

#[async_trait]
impl MediaStore for S3MediaStore {
    async fn put(&self, tenant: &TenantId, sha256: &str, bytes: &[u8]) -> Result<(), String> {
        let key = self.key(tenant, sha256)?;
        self.bucket
            .put_bytes(&key, bytes.to_vec())
            .await
            .map_err(|e| format!("could not keep media: {e:#}"))
    }

    async fn get(&self, tenant: &TenantId, sha256: &str) -> Result<Option<Vec<u8>>, String> {
        let key = self.key(tenant, sha256)?;
        self.bucket
            .get_bytes(&key)
            .await
            .map_err(|e| format!("could not read media: {e:#}"))
    }

    async fn delete(&self, tenant: &TenantId, sha256: &str) -> Result<(), String> {
        let key = self.key(tenant, sha256)?;
        self.bucket
            .delete(&key)
            .await
            .map_err(|e| format!("could not delete media: {e:#}"))
    }
}
