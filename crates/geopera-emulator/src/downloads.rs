//! Signed download links: the URLs a finished clip job, a registered processing job, an
//! item's `data` asset or a fulfilled order hands out, valid for a while and only as given.
//!
//! A link carries `expires` (Unix seconds) and `signature`, the HMAC-SHA256 of its path and
//! expiry under a key drawn from the operating system when the emulator starts. A link that
//! has expired on the emulator's clock, or whose path, expiry or signature was changed, is
//! refused with 403, as the API's storage refuses it; a client that keeps a link too long, or
//! builds one itself, finds out here rather than in production.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use http::StatusCode;
use sha2::Sha256;

use crate::error::ApiError;
use crate::resources::Family;
use crate::rng::to_hex;
use crate::state::Inner;

/// How long a download link stays valid, in seconds of the emulator's clock.
pub const DOWNLOAD_URL_SECS: i64 = 900;

/// Where the files behind signed links are served: `/assets/{kind}/...` for these kinds needs
/// a link [`DownloadKey::link`] made.
pub const SIGNED_KINDS: [&str; 4] = ["clips", "downloads", "jobs", "order"];

/// Whether what a signed link of `kind` points at (`file` is `{id}/{name}`) is still there: a
/// clip job, an item's `data` asset, a processing job or an order. A link outlives nothing:
/// once its job, item, asset or order is deleted (or an order retired), its files are gone,
/// as the API's storage deletes them.
pub(crate) fn source_exists(inner: &Inner, kind: &str, file: &str) -> bool {
    let id = file.split('/').next().unwrap_or_default();
    let record_of = |family: Family| {
        inner
            .resources
            .record(id)
            .is_some_and(|r| r.family == family)
    };
    match kind {
        "clips" => record_of(Family::ClipJob),
        "jobs" => record_of(Family::ProcessingJob),
        "downloads" => inner
            .resources
            .record(id)
            .is_some_and(|r| r.family == Family::Item && !crate::ops::asset_deleted(r)),
        "order" => inner.orders.contains_key(id),
        _ => true,
    }
}

/// The key download links are signed with.
#[derive(Clone)]
pub struct DownloadKey([u8; 32]);

impl fmt::Debug for DownloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownloadKey(<redacted>)")
    }
}

impl DownloadKey {
    /// A fresh key from the operating system's generator: links must never follow from the
    /// seed, which tests and users share.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(DownloadKey(key))
    }

    /// The key as the state file keeps it, so that links handed out before a restart still
    /// work after it, as the items and orders they lead to do.
    pub(crate) fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// A key the state file kept ([`to_hex`](Self::to_hex)); `None` for text no emulator
    /// writes.
    pub(crate) fn from_hex(text: &str) -> Option<Self> {
        from_hex(text)?.try_into().ok().map(DownloadKey)
    }

    /// The MAC of a link; `None` never happens (HMAC takes keys of any length), and would
    /// only make every link refused.
    fn mac(&self, path: &str, expires: i64) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).ok()?;
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Some(mac)
    }

    /// The `signature` of a link to `path` that expires at `expires` (Unix seconds).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        self.mac(path, expires)
            .map(|mac| to_hex(&mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// A link to `/assets/{segments...}` under `base_url` (the emulator's), valid from `now`
    /// (Unix seconds on the emulator's clock) for [`DOWNLOAD_URL_SECS`], and when it expires.
    ///
    /// # Errors
    /// 500 when the base URL cannot take a path, which a running emulator's always can.
    pub fn link(
        &self,
        base_url: &str,
        segments: &[&str],
        now: i64,
    ) -> Result<(String, i64), ApiError> {
        let expires = now.saturating_add(DOWNLOAD_URL_SECS);
        let mut url = url::Url::parse(base_url)
            .map_err(|e| internal(format!("the emulator's base URL is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| internal("the emulator's base URL cannot take a path".to_owned()))?
            .push("assets")
            .extend(segments);
        let signature = self.sign(url.path(), expires);
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature);
        Ok((url.into(), expires))
    }

    /// Whether a request for `path` with the query `query` may download, at `now` (Unix
    /// seconds on the emulator's clock).
    ///
    /// # Errors
    /// 403 when the link lacks its expiry or signature, has expired, or was altered.
    pub fn check(&self, path: &str, query: Option<&str>, now: i64) -> Result<(), ApiError> {
        let mut expires = None;
        let mut signature = None;
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "expires" => expires = value.parse::<i64>().ok(),
                "signature" => signature = from_hex(&value),
                _ => {}
            }
        }
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(refused(
                "the download link has no valid expires and signature",
            ));
        };
        let genuine = self
            .mac(path, expires)
            .is_some_and(|mac| mac.verify_slice(&signature).is_ok());
        if !genuine {
            return Err(refused("the download link's signature does not match it"));
        }
        if now >= expires {
            return Err(refused("the download link has expired; ask for a new one"));
        }
        Ok(())
    }
}

fn internal(detail: String) -> ApiError {
    ApiError::problem(StatusCode::INTERNAL_SERVER_ERROR, detail)
}

fn refused(detail: &str) -> ApiError {
    ApiError::problem(StatusCode::FORBIDDEN, detail.to_owned())
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[path = "downloads_tests.rs"]
mod tests;
