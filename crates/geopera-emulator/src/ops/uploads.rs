//! `uploads.*`: an upload is initiated into a project (reserving quota), gets signed URLs
//! that take its files by `PUT`, may report progress, and ends completed or failed. The
//! quota and the `PUT` route live in [`crate::uploads`].
//!
//! An upload is `pending` until a URL is signed or bytes arrive, then `uploading`, and ends
//! `completed` (only once exactly its declared `total_bytes` have arrived) or `failed`; after
//! that every change is 409. Each answer carries the organization's `storage`.
//!
//! An open upload left without activity for [`UPLOAD_IDLE_SECS`](crate::UPLOAD_IDLE_SECS)
//! expires: it is failed with `error_step` `expired`, its reservation released and the same
//! `upload.failed` event sent as `uploads.fail` sends. Every operation here first expires
//! the organization's idle uploads ([`uploads::expire_idle`]), so none finds one open, or its
//! bytes reserved, after it expired. Initiating, signing a URL and a progress report that
//! changes something renew an upload; a progress report of nothing only reads it, so waiting
//! on an abandoned upload does not keep it alive.

use std::sync::MutexGuard;

use geopera_types::models::{SignedUrlInput, UploadFailInput, UploadInitiate, UploadProgressInput};
use geopera_types::rfc3339::format_date_time;
use geopera_types::uploads::{file_name_problem, UploadStatus};
use geopera_types::JsonObject;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::projects::Role;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource};
use crate::state::Inner;
use crate::uploads::{
    self, closed, int, is_open, Storage, MAX_FILES_PER_UPLOAD, MAX_LIVE_URLS, MAX_TEXT_CHARS,
    MAX_UPLOAD_BYTES, OPEN, UPLOAD_URL_SECS, URLS,
};
use crate::webhooks::UPLOAD_COMPLETED;

pub(crate) fn initiate(ctx: &Ctx<'_>, input: UploadInitiate) -> Outcome {
    if !(0..=MAX_UPLOAD_BYTES).contains(&input.total_bytes) {
        return Err(ApiError::invalid(
            &["total_bytes"],
            format!("an upload holds 0 to {MAX_UPLOAD_BYTES} bytes"),
        ));
    }
    // `uploads.signed_url` takes no more files than this, so an upload promising more could
    // never complete and would hold its reservation until failed.
    if usize::try_from(input.file_count).map_or(true, |count| count > MAX_FILES_PER_UPLOAD) {
        return Err(ApiError::invalid(
            &["file_count"],
            format!("an upload holds 1 to {MAX_FILES_PER_UPLOAD} files"),
        ));
    }
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), json!(ctx.org));
    fields.insert("project_id".to_owned(), json!(input.project_id));
    fields.insert("transfer_method".to_owned(), json!(input.transfer_method));
    fields.insert("file_count".to_owned(), json!(input.file_count));
    fields.insert("total_bytes".to_owned(), json!(input.total_bytes));
    fields.insert(
        "target_collection_id".to_owned(),
        json!(input.target_collection_id),
    );
    fields.insert("target_item_id".to_owned(), json!(input.target_item_id));
    fields.insert("asset_key".to_owned(), json!(input.asset_key));
    fields.insert("is_categorical".to_owned(), json!(input.is_categorical));
    fields.insert("status".to_owned(), json!(UploadStatus::Pending));
    fields.insert("bytes_uploaded".to_owned(), json!(0));
    fields.insert("bytes_received".to_owned(), json!(0));
    fields.insert("files".to_owned(), json!([]));
    fields.insert("error_message".to_owned(), Value::Null);
    fields.insert("error_step".to_owned(), Value::Null);
    fields.insert("completed_at".to_owned(), Value::Null);
    let mut inner = lock(ctx);
    let inner = &mut *inner;
    super::projects::require_role(ctx, &inner.resources, &input.project_id, Role::Editor)?;
    let storage = Storage::of(&inner.resources, ctx.org);
    if input.total_bytes > storage.free() {
        return Err(ApiError::problem(
            StatusCode::PAYMENT_REQUIRED,
            format!(
                "insufficient storage quota: the upload needs {} bytes, {} of the organization's {} are free",
                input.total_bytes,
                storage.free(),
                uploads::STORAGE_QUOTA_BYTES
            ),
        ));
    }
    // A failed upload holds no bytes and can no longer change.
    inner
        .resources
        .retire_oldest_settled(Family::Upload, ctx.org, |_, u| {
            uploads::status(u) == Some(UploadStatus::Failed)
        });
    let upload = inner.resources.create(
        &mut inner.rng,
        Family::Upload,
        ctx.org,
        Some(&input.project_id),
        now,
        fields,
    )?;
    let upload = upload.clone();
    let storage = Storage::of(&inner.resources, ctx.org);
    Ok(ctx.ok(&uploads::answer(&upload, storage)))
}

/// A URL on the emulator that takes one file by `PUT` for [`UPLOAD_URL_SECS`].
pub(crate) fn signed_url(ctx: &Ctx<'_>, input: SignedUrlInput) -> Outcome {
    checked_text(&input.file_name, "file_name")?;
    checked_file_name(&input.file_name)?;
    checked_text(&input.content_type, "content_type")?;
    // A signed URL's token: 32 bytes from the operating system's generator.
    let token = super::random_hex(32)?;
    let now_ms = ctx.shared.clock.now_millis();
    // In whole seconds from the second it is handed out in, as a download link's
    // ([`crate::downloads::DownloadKey::link`]): the `expires_at` answered is the instant the
    // URL stops working, not up to a second before it.
    let expires = now_ms.div_euclid(1000).saturating_add(UPLOAD_URL_SECS);
    let expires_ms = expires.saturating_mul(1000);
    let mut inner = lock(ctx);
    let upload = editable_upload(&mut inner.resources, ctx, &input.upload_id)?;
    let mut urls: Vec<Value> = upload
        .fields
        .get(URLS)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    urls.retain(|url| !uploads::url_expired(url, now_ms));
    let files = uploads::files(upload);
    let (known, count) = {
        let mut names: Vec<&str> = files
            .iter()
            .chain(&urls)
            .filter_map(|f| f["file_name"].as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        (names.contains(&input.file_name.as_str()), names.len())
    };
    // Every name signed or arrived is a file the upload will hold, so a name beyond its
    // declared `file_count` is refused here, before any of its bytes are sent: the upload
    // would otherwise take more files than it promised, and complete with them. A state
    // conflict rather than a 422, as completing too early is: the request is sound, the
    // upload is full.
    let declared = uploads::declared_files(upload);
    if !known && count >= declared {
        return Err(ApiError::conflict(format!(
            "upload '{}' declared file_count {declared} and already has {count} file names \
             signed or arrived; it takes no other file name (a name it already has may be \
             signed again)",
            input.upload_id
        )));
    }
    while urls.len() >= MAX_LIVE_URLS {
        urls.remove(0);
    }
    urls.push(json!({
        "file_name": input.file_name,
        "content_type": input.content_type,
        "digest": uploads::sha256_hex(token.as_bytes()),
        "expires_ms": expires_ms,
    }));
    upload.set(URLS, Some(urls));
    uploads::set_status(upload, &UploadStatus::Uploading);
    upload.updated_at = now_ms.div_euclid(1000);
    let project = upload.str("project_id").unwrap_or_default().to_owned();
    let mut url = url::Url::parse(&ctx.shared.base_url).map_err(|e| {
        ApiError::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the emulator's base URL is not a URL: {e}"),
        )
    })?;
    if let Ok(mut path) = url.path_segments_mut() {
        path.extend(["uploads", &input.upload_id, &token, &input.file_name]);
    }
    Ok(ctx.ok(&json!({
        "upload_url": url.as_str(),
        "object_path": format!("{project}/uploads/{}/{}", input.upload_id, input.file_name),
        "method": "PUT",
        "content_type": input.content_type,
        "expires_at": format_date_time(expires),
    })))
}

pub(crate) fn progress(ctx: &Ctx<'_>, input: UploadProgressInput) -> Outcome {
    if let Some(status) = input.status.as_deref() {
        if !OPEN.contains(&UploadStatus::from(status)) {
            return Err(ApiError::invalid(
                &["status"],
                format!(
                    "status must be {}; use uploads.complete or uploads.fail to end an upload",
                    OPEN.map(|open| open.to_string()).join(" or ")
                ),
            ));
        }
    }
    let now = ctx.now();
    let mut inner = lock(ctx);
    if input.status.is_none() && input.bytes_uploaded.is_none() {
        // A report of nothing changes nothing, so it reads the session in any state: the one
        // way to ask where an upload is, which waiting for it needs.
        let upload = inner
            .resources
            .get_mut(Family::Upload, ctx.org, None, &input.upload_id)?
            .clone();
        return Ok(ctx.ok(&uploads::answer(
            &upload,
            Storage::of(&inner.resources, ctx.org),
        )));
    }
    let upload = editable_upload(&mut inner.resources, ctx, &input.upload_id)?;
    // An upload is pending only until it is uploading (a URL signed for it, bytes arrived,
    // or a report saying so): its status moves one way, and no report sends it back.
    if input.status.as_deref().map(UploadStatus::from) == Some(UploadStatus::Pending)
        && uploads::status(upload) == Some(UploadStatus::Uploading)
    {
        return Err(ApiError::conflict(format!(
            "upload '{}' is uploading; it cannot go back to pending",
            input.upload_id
        )));
    }
    if let Some(bytes) = input.bytes_uploaded {
        let total = int(upload, "total_bytes");
        if !(0..=total).contains(&bytes) {
            return Err(ApiError::invalid(
                &["bytes_uploaded"],
                format!("bytes_uploaded must be 0 to the upload's {total} bytes"),
            ));
        }
    }
    upload.set("status", input.status);
    upload.set("bytes_uploaded", input.bytes_uploaded);
    upload.updated_at = now;
    let upload = upload.clone();
    Ok(ctx.ok(&uploads::answer(
        &upload,
        Storage::of(&inner.resources, ctx.org),
    )))
}

/// Completes an upload whose declared bytes have all arrived, turning its reservation into
/// used storage.
pub(crate) fn complete(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let id = match body.get("upload_id") {
        Some(Value::String(id)) => id.clone(),
        _ => return Err(ApiError::invalid(&["upload_id"], "upload_id is required")),
    };
    let now = ctx.now();
    let mut inner = lock(ctx);
    let upload = editable_upload(&mut inner.resources, ctx, &id)?;
    let received = int(upload, "bytes_received");
    let total = int(upload, "total_bytes");
    if received != total || uploads::files(upload).is_empty() {
        return Err(ApiError::conflict(format!(
            "upload '{id}' cannot complete: {received} of its {total} bytes have arrived"
        )));
    }
    // A declared number of files is part of what the upload promised, as its bytes are.
    let arrived = uploads::files(upload).len();
    if let Some(declared) = upload.fields.get("file_count").and_then(Value::as_u64) {
        if usize::try_from(declared).map_or(true, |declared| arrived < declared) {
            return Err(ApiError::conflict(format!(
                "upload '{id}' cannot complete: {arrived} of its {declared} files have arrived"
            )));
        }
    }
    uploads::set_status(upload, &UploadStatus::Completed);
    upload.set("bytes_uploaded", Some(received));
    upload.set("completed_at", Some(format_date_time(now)));
    upload.fields.remove(URLS);
    upload.updated_at = now;
    let upload = upload.clone();
    let event = uploads::event(UPLOAD_COMPLETED, &upload, now);
    inner.emit(&event, ctx.shared.clock.now_millis());
    Ok(ctx.ok(&uploads::answer(
        &upload,
        Storage::of(&inner.resources, ctx.org),
    )))
}

/// Fails an upload, releasing its reservation.
pub(crate) fn fail(ctx: &Ctx<'_>, input: UploadFailInput) -> Outcome {
    checked_text(&input.error_message, "error_message")?;
    if let Some(step) = input.error_step.as_deref() {
        checked_text(step, "error_step")?;
    }
    let now = ctx.now();
    let mut inner = lock(ctx);
    editable_upload(&mut inner.resources, ctx, &input.upload_id)?;
    let upload = fail_open(
        &mut inner,
        ctx,
        &input.upload_id,
        input.error_message,
        input.error_step,
        now,
    )?;
    Ok(ctx.ok(&uploads::answer(
        &upload,
        Storage::of(&inner.resources, ctx.org),
    )))
}

/// Marks the caller's open upload `id` failed, which releases its reservation and retires its
/// signed URLs, and tells subscribers.
pub(crate) fn fail_open(
    inner: &mut crate::state::Inner,
    ctx: &Ctx<'_>,
    id: &str,
    message: String,
    step: Option<String>,
    now: i64,
) -> Result<Resource, ApiError> {
    let upload = open_upload(&mut inner.resources, ctx, id)?;
    let event = uploads::mark_failed(upload, message, step, now);
    let upload = upload.clone();
    inner.emit(&event, ctx.shared.clock.now_millis());
    Ok(upload)
}

/// The state, locked, with the caller's idle uploads expired.
fn lock<'a>(ctx: &Ctx<'a>) -> MutexGuard<'a, Inner> {
    let mut inner = ctx.shared.lock();
    uploads::expire_idle(&mut inner, Some(ctx.org), ctx.shared.clock.now_millis());
    inner
}

/// The caller's upload, if it can still change (409 otherwise).
fn open_upload<'a>(
    resources: &'a mut crate::resources::Resources,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<&'a mut Resource, ApiError> {
    let upload = resources.get_mut(Family::Upload, ctx.org, None, id)?;
    if !is_open(upload) {
        return Err(closed(upload));
    }
    Ok(upload)
}

/// The caller's open upload, if the caller may change it: whatever changes an upload (a URL
/// to send a file, its progress, its end) is an editor's on its project, as starting it is;
/// a viewer could otherwise replace an editor's files or fail the upload.
fn editable_upload<'a>(
    resources: &'a mut crate::resources::Resources,
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<&'a mut Resource, ApiError> {
    let project = open_upload(resources, ctx, id)?
        .str("project_id")
        .unwrap_or_default()
        .to_owned();
    super::projects::require_role_if_kept(ctx, resources, &project, Role::Editor)?;
    open_upload(resources, ctx, id)
}

/// A file's name must meet the rule the SDK checks before it reserves quota
/// ([`geopera_types::uploads::file_name_problem`]): it becomes one component of the object's
/// storage path, where `..`, a separator or a control character would name another place than
/// the upload's own, and a blank one would name nothing a user could find.
fn checked_file_name(name: &str) -> Result<(), ApiError> {
    if file_name_problem(name).is_some() {
        return Err(ApiError::invalid(
            &["file_name"],
            "file_name must be a file's name: not blank, without '/', '\\', control \
             characters, or '.' or '..' alone",
        ));
    }
    Ok(())
}

fn checked_text(text: &str, name: &str) -> Result<(), ApiError> {
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(
            &[name],
            format!("{name} must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}
