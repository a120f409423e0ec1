//! Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph, moto, ...).
//!
//! Requests are presigned with `rusty-s3` (valid for a few minutes) and sent with `reqwest`.
//! Bodies under one part (8 MiB) go in one `PUT`; larger ones as a multipart upload, read from
//! the input one part at a time (the next part is read while the previous one uploads, so at
//! most two parts are in memory) and aborted if anything fails. S3 makes an object visible
//! only once its `PUT` or multipart upload completes.

use super::{ByteStream, check_key};
use crate::{BlobStore, Result, StoreError};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, Response, StatusCode};
use rusty_s3::actions::{
    CreateMultipartUpload, DeleteObjectsResponse, ListObjectsV2, ObjectIdentifier,
};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

mod config;
mod multipart;
#[cfg(test)]
mod tests;

pub use config::S3Config;
use multipart::{AbortGuard, PartReader, part_size};

const BACKEND: &str = "s3";
/// How long a presigned request stays valid.
const SIGN_FOR: Duration = Duration::from_secs(300);
/// Size of the parts of a multipart upload (and the largest body sent in one `PUT`).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3 allows at most 10,000 parts.
const MAX_PARTS: u16 = 10_000;
/// S3 deletes at most 1,000 objects per `DeleteObjects`.
const DELETE_BATCH: usize = 1000;
/// Tries per request when the service cannot be reached or answers 5xx.
const ATTEMPTS: u32 = 3;

/// A [`BlobStore`] in an S3 bucket. Cheap to clone.
#[derive(Clone)]
pub struct S3Blobs {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: Bucket,
    creds: Credentials,
    http: reqwest::Client,
    /// The endpoint and bucket, for messages.
    shown: String,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.inner.shown)
            .finish_non_exhaustive()
    }
}

fn backend(detail: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        detail,
    }
}

/// The text of the first `<tag>` of an XML document (S3 error bodies are small and flat).
fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find("</")?;
    Some(xml[start..start + len].trim())
}

fn body_err(key: &str, e: io::Error) -> StoreError {
    StoreError::io(format!("the body of blob {key}"), e)
}

impl S3Blobs {
    /// Connects to a bucket: checks that the endpoint answers and accepts the credentials. A
    /// missing bucket is only logged, so that [`S3Blobs::create_bucket_if_missing`] can follow.
    pub async fn new(cfg: S3Config) -> Result<Self> {
        let style = if cfg.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let mut endpoint = cfg.endpoint.clone();
        let _ = endpoint.set_username("");
        let _ = endpoint.set_password(None);
        let shown = format!(
            "bucket {} at {}",
            cfg.bucket,
            endpoint.as_str().trim_end_matches('/')
        );
        let bucket = Bucket::new(endpoint, style, cfg.bucket.clone(), cfg.region.clone())
            .map_err(|e| StoreError::invalid("S3 configuration", format!("{shown}: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| backend(format!("cannot build the HTTP client: {e}")))?;
        let creds = Credentials::new(cfg.access_key, cfg.secret_key);
        let blobs = Self {
            inner: Arc::new(Inner {
                bucket,
                creds,
                http,
                shown,
            }),
        };
        if !blobs.bucket_exists().await? {
            tracing::warn!("S3 {} does not exist yet", blobs.inner.shown);
        }
        Ok(blobs)
    }

    /// Whether the bucket exists (and the credentials may use it).
    pub async fn bucket_exists(&self) -> Result<bool> {
        let i = &self.inner;
        let resp = i
            .send(
                Method::HEAD,
                || i.bucket.head_bucket(Some(&i.creds)).sign(SIGN_FOR),
                &[],
                None,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(i.http_error(resp, "HEAD bucket", "").await),
        }
    }

    /// Creates the bucket unless it exists; returns whether it was created.
    pub async fn create_bucket_if_missing(&self) -> Result<bool> {
        if self.bucket_exists().await? {
            return Ok(false);
        }
        let i = &self.inner;
        let body = Bytes::from(i.bucket.create_bucket(&i.creds).body());
        let resp = i
            .send(
                Method::PUT,
                || i.bucket.create_bucket(&i.creds).sign(SIGN_FOR),
                &[],
                Some(body),
            )
            .await?;
        if resp.status().is_success() {
            return Ok(true);
        }
        let err = i.http_error(resp, "CreateBucket", "").await;
        match &err {
            StoreError::Backend { detail, .. } if detail.contains("BucketAlreadyOwnedByYou") => {
                Ok(false)
            }
            _ => Err(err),
        }
    }

    async fn put_single(&self, key: &str, body: Bytes) -> Result<()> {
        let i = &self.inner;
        let resp = i
            .send(
                Method::PUT,
                || i.bucket.put_object(Some(&i.creds), key).sign(SIGN_FOR),
                &[],
                Some(body),
            )
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(i.http_error(resp, "PUT", key).await)
        }
    }

    async fn put_multipart(
        &self,
        key: &str,
        first: Bytes,
        second: Bytes,
        parts: &mut PartReader,
    ) -> Result<u64> {
        let i = &self.inner;
        let resp = i
            .send(
                Method::POST,
                || {
                    i.bucket
                        .create_multipart_upload(Some(&i.creds), key)
                        .sign(SIGN_FOR)
                },
                &[],
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(i.http_error(resp, "CreateMultipartUpload", key).await);
        }
        let text = i.text(resp, "CreateMultipartUpload", key).await?;
        let created = CreateMultipartUpload::parse_response(&text).map_err(|e| {
            backend(format!(
                "CreateMultipartUpload {key}: unexpected answer: {e}"
            ))
        })?;
        let upload_id = created.upload_id().to_string();
        // Aborts the upload if this future is dropped before it completes.
        let mut guard = AbortGuard {
            inner: Some(self.inner.clone()),
            key: key.into(),
            upload_id: upload_id.clone(),
        };
        let result = self
            .upload_parts(key, &upload_id, first, second, parts)
            .await;
        guard.inner = None;
        if result.is_err()
            && let Err(e) = i.abort(key, &upload_id).await
        {
            tracing::warn!("could not abort the multipart upload of blob {key}: {e}");
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        first: Bytes,
        second: Bytes,
        parts: &mut PartReader,
    ) -> Result<u64> {
        let i = &self.inner;
        let mut etags = Vec::new();
        let mut total = 0u64;
        let mut number: u16 = 1;
        let mut current = first;
        let mut read_ahead = Some(second);
        loop {
            let len = current.len() as u64;
            let (etag, following) = match read_ahead.take() {
                Some(next) => (i.upload_part(key, upload_id, number, current).await?, next),
                None => {
                    // Read the next part while this one uploads.
                    let (etag, next) = tokio::join!(
                        i.upload_part(key, upload_id, number, current),
                        parts.next(part_size(number.saturating_add(1)))
                    );
                    (etag?, next.map_err(|e| body_err(key, e))?)
                }
            };
            etags.push(etag);
            total += len;
            if following.is_empty() {
                break;
            }
            if number >= MAX_PARTS {
                return Err(StoreError::invalid(
                    "blob",
                    format!("{key} is larger than the {MAX_PARTS} parts S3 allows in one upload"),
                ));
            }
            number += 1;
            current = following;
        }
        let body = Bytes::from(
            i.bucket
                .complete_multipart_upload(
                    Some(&i.creds),
                    key,
                    upload_id,
                    etags.iter().map(String::as_str),
                )
                .body(),
        );
        let sign = || {
            i.bucket
                .complete_multipart_upload(
                    Some(&i.creds),
                    key,
                    upload_id,
                    std::iter::empty::<&str>(),
                )
                .sign(SIGN_FOR)
        };
        let resp = i.send(Method::POST, sign, &[], Some(body)).await?;
        if !resp.status().is_success() {
            return Err(i.http_error(resp, "CompleteMultipartUpload", key).await);
        }
        // S3 may answer 200 and report a failure in the body.
        let text = i.text(resp, "CompleteMultipartUpload", key).await?;
        if text.contains("<Error>") {
            let code = xml_tag(&text, "Code").unwrap_or("unknown error");
            return Err(backend(format!("CompleteMultipartUpload {key}: {code}")));
        }
        Ok(total)
    }

    async fn delete_batch(&self, keys: &[String]) -> Result<u64> {
        let i = &self.inner;
        let ids: Vec<ObjectIdentifier> = keys
            .iter()
            .map(|k| ObjectIdentifier::new(k.clone()))
            .collect();
        let mut action = i.bucket.delete_objects(Some(&i.creds), ids.iter());
        action.set_quiet(true);
        let (body, md5) = action.body_with_md5();
        let sign = || {
            i.bucket
                .delete_objects(Some(&i.creds), ids.iter())
                .sign(SIGN_FOR)
        };
        let resp = i
            .send(
                Method::POST,
                sign,
                &[("content-md5", md5)],
                Some(Bytes::from(body)),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(i.http_error(resp, "DeleteObjects", "").await);
        }
        let text = i.text(resp, "DeleteObjects", "").await?;
        let parsed = DeleteObjectsResponse::parse(&text)
            .map_err(|e| backend(format!("DeleteObjects: unexpected answer: {e}")))?;
        if let Some(first) = parsed.errors.first() {
            return Err(backend(format!(
                "DeleteObjects: {} of {} blobs not deleted, first {}: {} {}",
                parsed.errors.len(),
                keys.len(),
                first.key,
                first.code,
                first.message
            )));
        }
        Ok(keys.len() as u64)
    }
}

impl Inner {
    /// Sends a request signed by `sign` (called again for each try), retrying when the service
    /// cannot be reached or answers 5xx. Answers of any other status are returned.
    async fn send(
        &self,
        method: Method,
        sign: impl Fn() -> Url,
        headers: &[(&'static str, String)],
        body: Option<Bytes>,
    ) -> Result<Response> {
        let mut attempt = 1;
        loop {
            let mut req = self.http.request(method.clone(), sign());
            for (name, value) in headers {
                req = req.header(*name, value);
            }
            match &body {
                Some(body) if !body.is_empty() => req = req.body(body.clone()),
                // Some services (and S3 for a few calls) want a length even when there is
                // nothing; hyper sends none for an empty body.
                _ if matches!(method, Method::PUT | Method::POST) => {
                    req = req.header(reqwest::header::CONTENT_LENGTH, "0");
                }
                _ => {}
            }
            let retry_in = Duration::from_millis(200 * 4u64.pow(attempt - 1));
            match req.send().await {
                Ok(resp) if resp.status().is_server_error() && attempt < ATTEMPTS => {
                    tracing::debug!("S3 {method} answered {}; retrying", resp.status());
                }
                Ok(resp) => return Ok(resp),
                Err(e)
                    if attempt < ATTEMPTS
                        && (e.is_connect() || e.is_timeout() || e.is_request()) =>
                {
                    tracing::debug!("S3 {method} failed ({}); retrying", e.without_url());
                }
                Err(e) => return Err(self.unavailable(e)),
            }
            tokio::time::sleep(retry_in).await;
            attempt += 1;
        }
    }

    /// A transport error, without the presigned URL (which would let its reader act for us).
    fn unavailable(&self, e: reqwest::Error) -> StoreError {
        let e = e.without_url();
        let mut detail = format!("cannot reach {}: {e}", self.shown);
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(&format!(": {s}"));
            source = s.source();
        }
        StoreError::Unavailable {
            backend: BACKEND,
            detail,
        }
    }

    /// An error for an answer with a failure status: the status and the S3 error code.
    async fn http_error(&self, resp: Response, op: &str, key: &str) -> StoreError {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let code = xml_tag(&text, "Code")
            .map(str::to_string)
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("no error code")
                    .replace(' ', "")
            });
        let message = xml_tag(&text, "Message")
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        let target = if key.is_empty() {
            self.shown.clone()
        } else {
            format!("{key} in {}", self.shown)
        };
        backend(format!(
            "{op} {target}: HTTP {} {code}{message}",
            status.as_u16()
        ))
    }

    async fn text(&self, resp: Response, op: &str, key: &str) -> Result<String> {
        resp.text().await.map_err(|e| {
            backend(format!(
                "{op} {key}: reading the answer: {}",
                e.without_url()
            ))
        })
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        body: Bytes,
    ) -> Result<String> {
        let sign = || {
            self.bucket
                .upload_part(Some(&self.creds), key, number, upload_id)
                .sign(SIGN_FOR)
        };
        let resp = self.send(Method::PUT, sign, &[], Some(body)).await?;
        if !resp.status().is_success() {
            return Err(self
                .http_error(resp, &format!("UploadPart {number} of"), key)
                .await);
        }
        resp.headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                backend(format!(
                    "UploadPart {number} of {key}: no ETag in the answer"
                ))
            })
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<()> {
        let sign = || {
            self.bucket
                .abort_multipart_upload(Some(&self.creds), key, upload_id)
                .sign(SIGN_FOR)
        };
        let resp = self.send(Method::DELETE, sign, &[], None).await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(self.http_error(resp, "AbortMultipartUpload", key).await)
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64> {
        check_key(key)?;
        let mut parts = PartReader::new(body);
        let first = parts
            .next(part_size(1))
            .await
            .map_err(|e| body_err(key, e))?;
        let second = if first.len() == part_size(1) {
            parts
                .next(part_size(2))
                .await
                .map_err(|e| body_err(key, e))?
        } else {
            Bytes::new()
        };
        if second.is_empty() {
            let len = first.len() as u64;
            self.put_single(key, first).await?;
            return Ok(len);
        }
        self.put_multipart(key, first, second, &mut parts).await
    }

    async fn get(&self, key: &str) -> Result<Option<ByteStream>> {
        check_key(key)?;
        let i = &self.inner;
        let resp = i
            .send(
                Method::GET,
                || i.bucket.get_object(Some(&i.creds), key).sign(SIGN_FOR),
                &[],
                None,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => {
                let stream = resp
                    .bytes_stream()
                    .map_err(|e| io::Error::other(e.without_url()));
                Ok(Some(stream.boxed()))
            }
            StatusCode::NOT_FOUND => match i.http_error(resp, "GET", key).await {
                StoreError::Backend { detail, .. } if detail.contains("NoSuchBucket") => {
                    Err(backend(detail))
                }
                _ => Ok(None),
            },
            _ => Err(i.http_error(resp, "GET", key).await),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let i = &self.inner;
        // S3 deletes missing objects without a word: ask first, to tell whether it existed.
        let resp = i
            .send(
                Method::HEAD,
                || i.bucket.head_object(Some(&i.creds), key).sign(SIGN_FOR),
                &[],
                None,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => {}
            StatusCode::NOT_FOUND => return Ok(false),
            _ => return Err(i.http_error(resp, "HEAD", key).await),
        }
        let resp = i
            .send(
                Method::DELETE,
                || i.bucket.delete_object(Some(&i.creds), key).sign(SIGN_FOR),
                &[],
                None,
            )
            .await?;
        if resp.status().is_success() {
            Ok(true)
        } else {
            Err(i.http_error(resp, "DELETE", key).await)
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let i = &self.inner;
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sign = || {
                let mut action = i.bucket.list_objects_v2(Some(&i.creds));
                if !prefix.is_empty() {
                    action.with_prefix(prefix);
                }
                action.with_max_keys(1000);
                if let Some(token) = &token {
                    action.with_continuation_token(token.as_str());
                }
                action.sign(SIGN_FOR)
            };
            let resp = i.send(Method::GET, sign, &[], None).await?;
            if !resp.status().is_success() {
                return Err(i.http_error(resp, "ListObjectsV2", prefix).await);
            }
            let text = i.text(resp, "ListObjectsV2", prefix).await?;
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| backend(format!("ListObjectsV2 {prefix}: unexpected answer: {e}")))?;
            // Objects that are not Seuil blobs (put there by other tools) are not listed.
            keys.extend(
                page.contents
                    .into_iter()
                    .map(|c| c.key)
                    .filter(|k| check_key(k).is_ok()),
            );
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let keys = self.list(prefix).await?;
        let mut n = 0;
        for batch in keys.chunks(DELETE_BATCH) {
            n += self.delete_batch(batch).await?;
        }
        Ok(n)
    }
}
