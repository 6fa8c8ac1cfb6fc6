//! An S3-compatible bucket, where backups can be kept: objects put (in parts
//! when large), fetched, listed and deleted. rusty-s3 signs each request
//! (AWS Signature Version 4, as a presigned URL) and reqwest sends it, so the
//! same code speaks to AWS S3 and to S3-compatible servers (MinIO, Ceph,
//! Garage; moto in the tests).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rusty_s3::{Credentials, S3Action as _, UrlStyle};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long a signed request stays valid: it is signed just before it is sent.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);
/// Objects larger than this go up in parts of this size (S3 wants at least
/// 5 MiB a part, and at most 10,000 parts: up to 160 GiB a backup).
pub const PART_BYTES: usize = 16 << 20;

/// Where the bucket is and how to reach it (`backup.s3.*`). Unset fields
/// come from the usual `AWS_*` variables.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// The server, for S3-compatible stores (`https://minio.internal:9000`);
    /// else `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS in `region`.
    pub endpoint: Option<String>,
    /// Else `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Else `AWS_ACCESS_KEY_ID` (with `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<ombud_core::Secret>,
    /// Path-style URLs (`endpoint/bucket/key`). Default: on with an
    /// endpoint (most S3-compatible servers want it), off on AWS.
    pub path_style: Option<bool>,
}

impl S3Settings {
    /// The access key and its secret when both are set (blank is unset);
    /// None when neither is, for the `AWS_*` variables' turn.
    pub fn keys(&self) -> Result<Option<Credentials>, &'static str> {
        let key = self
            .access_key_id
            .as_deref()
            .filter(|k| !k.trim().is_empty());
        let secret = self
            .secret_access_key
            .as_ref()
            .map(|s| s.expose())
            .filter(|s| !s.trim().is_empty());
        match (key, secret) {
            (Some(key), Some(secret)) => Ok(Some(Credentials::new(key, secret))),
            (None, None) => Ok(None),
            _ => Err("and backup.s3.secret_access_key are set together, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"),
        }
    }
}

/// `s3://bucket/prefix` read: the bucket and the prefix (no slashes at
/// either end; may be empty).
pub fn parse_url(text: &str) -> Result<(String, String), String> {
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| "must start with s3://".to_owned())?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !valid {
        return Err(format!(
            "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
        return Err(format!("{prefix:?} is not a plain prefix"));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

/// A bucket, with the credentials and the HTTP client that reach it.
#[derive(Clone)]
pub struct Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    http: reqwest::Client,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("url", &self.bucket.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl Bucket {
    pub fn new(name: &str, settings: &S3Settings) -> anyhow::Result<Self> {
        let region = settings
            .region
            .clone()
            .or_else(|| env(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]));
        let path_style = settings.path_style.unwrap_or(endpoint.is_some());
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let url: reqwest::Url = endpoint
            .parse()
            .with_context(|| format!("backup.s3.endpoint {endpoint:?} is not a URL"))?;
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = rusty_s3::Bucket::new(url, style, name.to_owned(), region)
            .map_err(|e| anyhow::anyhow!("bucket {name:?} at {endpoint}: {e:?}"))?;
        let credentials = match settings
            .keys()
            .map_err(|e| anyhow::anyhow!("backup.s3.access_key_id {e}"))?
        {
            Some(keys) => keys,
            None => Credentials::from_env().context(
                "no S3 credentials: set backup.s3.access_key_id and backup.s3.secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )?,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            bucket,
            credentials,
            http,
        })
    }

    fn cred(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    /// Puts the file at `key`: in one request, or in parts when it is large.
    pub async fn put_file(
        &self,
        key: &str,
        file: &Path,
        tick: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        let mut input = tokio::fs::File::open(file).await?;
        let size = input.metadata().await?.len();
        if size <= PART_BYTES as u64 {
            let mut body = Vec::with_capacity(size as usize);
            input.read_to_end(&mut body).await?;
            self.put_bytes(key, body).await?;
            tick(size);
            return Ok(());
        }
        // `?uploads=`, as the AWS SDKs send it: rusty-s3's action sends
        // `uploads=1`, which AWS takes and some S3-compatible servers (moto
        // among them) refuse.
        let c = &self.credentials;
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            rusty_s3::Method::Post,
            self.bucket.object_url(key),
            c.key(),
            c.secret(),
            c.token(),
            self.bucket.region(),
            SIGNED_FOR.as_secs(),
            std::iter::once(("uploads", "")),
            std::iter::empty(),
        );
        let said = self.send(self.http.post(url), key).await?;
        let upload = rusty_s3::actions::CreateMultipartUpload::parse_response(&said)
            .with_context(|| format!("starting the upload of {key}: {said}"))?;
        let id = upload.upload_id().to_owned();
        let sent = self.put_parts(key, &id, &mut input, tick).await;
        let done = match sent {
            Ok(etags) => self.complete(key, &id, &etags).await,
            Err(e) => Err(e),
        };
        if done.is_err() {
            // Parts are kept (and billed) until the upload is aborted.
            let url = self
                .bucket
                .abort_multipart_upload(self.cred(), key, &id)
                .sign(SIGNED_FOR);
            let _ = self.http.delete(url).send().await;
        }
        done
    }

    async fn put_parts(
        &self,
        key: &str,
        id: &str,
        input: &mut tokio::fs::File,
        tick: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<Vec<String>> {
        let mut etags = Vec::new();
        for number in 1u16.. {
            let mut part = Vec::with_capacity(PART_BYTES);
            (&mut *input)
                .take(PART_BYTES as u64)
                .read_to_end(&mut part)
                .await?;
            if part.is_empty() {
                break;
            }
            let len = part.len() as u64;
            let url = self
                .bucket
                .upload_part(self.cred(), key, number, id)
                .sign(SIGNED_FOR);
            let res = self.http.put(url).body(part).send().await?;
            let etag = res
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            self.checked(res, key).await?;
            etags.push(etag.with_context(|| format!("part {number} of {key}: no ETag"))?);
            tick(len);
        }
        Ok(etags)
    }

    async fn complete(&self, key: &str, id: &str, etags: &[String]) -> anyhow::Result<()> {
        let action = self.bucket.complete_multipart_upload(
            self.cred(),
            key,
            id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGNED_FOR);
        let said = self
            .send(self.http.post(url).body(action.body()), key)
            .await?;
        // S3 may answer 200 and then fail: the body says which.
        rusty_s3::actions::CompleteMultipartUploadResponse::parse(&said)
            .map(|_| ())
            .map_err(|_| anyhow::anyhow!("completing {key}: {}", error_of(&said)))
    }

    pub async fn put_bytes(&self, key: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let url = self.bucket.put_object(self.cred(), key).sign(SIGNED_FOR);
        self.send(self.http.put(url).body(body), key).await?;
        Ok(())
    }

    /// Writes the object at `key` into `into`; its size.
    pub async fn get_file(
        &self,
        key: &str,
        into: &Path,
        tick: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<u64> {
        let url = self.bucket.get_object(self.cred(), key).sign(SIGNED_FOR);
        let res = self.http.get(url).send().await?;
        let mut res = self.checked(res, key).await?;
        let mut out = tokio::fs::File::create(into).await?;
        let mut total = 0;
        while let Some(chunk) = res.chunk().await? {
            out.write_all(&chunk).await?;
            total += chunk.len() as u64;
            tick(chunk.len() as u64);
        }
        out.sync_all().await?;
        Ok(total)
    }

    /// The object at `key`, or None when there is none.
    pub async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let url = self.bucket.get_object(self.cred(), key).sign(SIGNED_FOR);
        let res = self.http.get(url).send().await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(self.checked(res, key).await?.bytes().await?.to_vec()))
    }

    /// The objects directly under `prefix` (which ends with `/` or is
    /// empty): their keys and sizes.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(self.cred());
            action.with_prefix(prefix);
            action.with_delimiter("/");
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let said = self.send(self.http.get(url), prefix).await?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&said)
                .with_context(|| format!("listing {prefix:?}: not a listing"))?;
            found.extend(
                page.contents
                    .into_iter()
                    .map(|c| (c.key, c.size.unwrap_or(0))),
            );
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(found),
            }
        }
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let url = self.bucket.delete_object(self.cred(), key).sign(SIGNED_FOR);
        self.send(self.http.delete(url), key).await?;
        Ok(())
    }

    /// Sends a request about `what`; the body of a success, else an error
    /// with S3's code and message.
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<String> {
        let res = request.send().await.with_context(|| self.place(what))?;
        Ok(self.checked(res, what).await?.text().await?)
    }

    async fn checked(
        &self,
        res: reqwest::Response,
        what: &str,
    ) -> anyhow::Result<reqwest::Response> {
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        bail!("{}: {status}: {}", self.place(what), error_of(&body))
    }

    fn place(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }
}

/// S3's `<Error><Code>…</Code><Message>…</Message></Error>`, as one line.
fn error_of(body: &str) -> String {
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_url_names_a_bucket_and_a_plain_prefix() {
        assert_eq!(
            parse_url("s3://ombud-backups/pune/nightly/"),
            Ok(("ombud-backups".into(), "pune/nightly".into()))
        );
        assert_eq!(
            parse_url("s3://ombud-backups"),
            Ok(("ombud-backups".into(), String::new()))
        );
        for bad in [
            "/var/backups",
            "s3://",
            "s3://Ombud",
            "s3://a/b",
            "s3://ok-bucket/a/../b",
            "s3://-x-/p",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn s3_errors_read_as_their_code_and_message() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>"#;
        assert_eq!(
            error_of(body),
            "NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(error_of("bad gateway"), "bad gateway");
    }
}
