//! Uploads: the storage quota they reserve, and the signed URLs that take their bytes.
//!
//! An upload reserves its declared `total_bytes` from its organization's quota when it is
//! initiated, so two uploads cannot both count on the same free space; completing it turns
//! the reservation into the bytes that arrived, failing it releases the reservation. Both
//! are worked out from the upload records each time, so the quota can never drift from the
//! uploads it accounts for, across restarts included.
//!
//! The bytes go to `PUT {base}/uploads/{upload_id}/{token}/{file_name}`, the URL
//! `uploads.signed_url` hands out. The body is streamed: it is counted and hashed as it
//! arrives and then dropped, so the emulator keeps each file's size, SHA-256 and content
//! type, never its bytes, and a multi-gigabyte upload costs no memory. That is why this
//! route has no request body limit; what bounds it instead is the upload's own declared size
//! (itself at most [`MAX_UPLOAD_BYTES`]): the first byte beyond it ends the request with 413.
//! The token is 32 bytes from the operating system's generator, kept only as a SHA-256
//! digest, and works for [`UPLOAD_URL_SECS`] on the emulator's clock, checked when the `PUT`
//! starts and again when its body has arrived. A `PUT`'s body has [`UPLOAD_PUT_MIN_SECS`]
//! plus a second for every [`UPLOAD_PUT_MIN_BYTES_PER_SEC`] bytes it may hold to arrive
//! (408 after that), besides [`BODY_IDLE_TIMEOUT`] for each chunk. A URL whose upload id,
//! token or file name is wrong is 403 alike, so it tells nothing about which uploads exist.
//! The file's content type is the `PUT`'s `Content-Type` when it names one, else the one the
//! URL was made for; one longer than [`MAX_TEXT_CHARS`] is 400 before the body is read.
//!
//! An open upload that sees no activity for [`UPLOAD_IDLE_SECS`] has been abandoned (its
//! client crashed, or its release failed), and [`expire_idle`] fails it as `uploads.fail`
//! would, so its reservation does not hold the quota for ever. Its last activity is its
//! `updated_at`, which initiating it, signing a URL for it, a file of it arriving and a
//! progress report that changes it all set.
//!
//! Expiry is lazy: nothing runs in the background for it. What reads uploads fails the
//! organization's idle ones first (every `uploads.*` operation, the storage `usage.*`
//! answers, notifications, provenance, `projects.delete`), and so does the webhook sweep,
//! for every organization, so subscribers hear of an expiry when the outbox is next looked
//! at even if nothing touches the upload again. A `PUT` needs none: it gets in only with a
//! URL that still works, signed less than [`UPLOAD_URL_SECS`] ago, and signing renewed the
//! upload, so the upload a `PUT` reaches has not expired (the URLs of one that has are
//! refused, expired or retired). Unlike a job's status, which is worked out on each read and
//! never stored, expiring changes the record, because it releases a reservation and sends an
//! event once. What it does follows only from the stored `updated_at` and the clock: the
//! upload fails at the instant it expired, under an event id that digests that instant, so
//! an upload read back from a state file (or one whose expiry a failed write undid) expires
//! again exactly as before, and a receiver sees the same event.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use geopera_types::subscriptions::{DATA_STATUS, DATA_UPLOAD_ID};
use geopera_types::uploads::UploadStatus;
use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiPath, Reply};
use crate::resources::{Family, Resource, Resources};
use crate::rng::to_hex;
use crate::state::{Inner, Shared};
use crate::webhooks::{Event, UPLOAD_FAILED};

/// Bytes every organization may hold in completed uploads plus open reservations (10 GiB).
pub const STORAGE_QUOTA_BYTES: i64 = 10 * 1024 * 1024 * 1024;
/// The largest `total_bytes` one upload may declare (5 GiB).
pub const MAX_UPLOAD_BYTES: i64 = 5 * 1024 * 1024 * 1024;
/// How long a signed upload URL works.
pub const UPLOAD_URL_SECS: i64 = 900;
/// How long an open upload may go without activity (initiating it, signing a URL for it, a
/// file of it arriving, a progress report that changes it) before it expires: it is then
/// failed with `error_step` `expired`, which releases its reservation (24 hours).
///
/// Neither the contract nor the API notes say how long the API keeps an abandoned upload, so
/// this is the emulator's choice. It is long enough for any real transfer, since every file
/// that arrives and every progress report renews it, and far longer than a signed URL works,
/// so no `PUT` begun in time is still sending when its upload expires, unless the clock is
/// moved on meanwhile (the `PUT` then finds it expired once its bytes are in, and keeps
/// nothing); and short enough that a long-running emulator, or a state file used day after
/// day, gets back the quota of uploads whose client went away.
pub const UPLOAD_IDLE_SECS: i64 = 24 * 60 * 60;
// The `PUT` route relies on it: a URL that still works when its `PUT` starts means an upload
// that has not expired.
const _: () = assert!(UPLOAD_URL_SECS < UPLOAD_IDLE_SECS);
/// The `error_step` of an upload that expired.
const EXPIRED_STEP: &str = "expired";
/// Signed URLs one upload keeps at once; a new one beyond this retires the oldest.
pub const MAX_LIVE_URLS: usize = 100;
/// Distinct files one upload may receive.
pub const MAX_FILES_PER_UPLOAD: usize = 1000;

/// The longest file name, content type or error text an upload keeps, in characters: what
/// `uploads.signed_url` takes, and what a `PUT`'s own `Content-Type` may be.
pub(crate) const MAX_TEXT_CHARS: usize = 1024;
/// How long a request body (an operation's, or an upload `PUT`) may go without sending a
/// byte before the request is ended with 408.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The least time an upload `PUT`'s whole body is given, however small: what a body of any
/// other route gets ([`BODY_DEADLINE`](crate::BODY_DEADLINE)).
pub const UPLOAD_PUT_MIN_SECS: u64 = 60;
/// The slowest an upload `PUT` may send on average (64 KiB/s, about 0.5 Mbit/s): its body is
/// given [`UPLOAD_PUT_MIN_SECS`] plus a second for each this many bytes it may hold, so a
/// 5 GiB file has almost 23 hours, and a peer trickling a byte now and then, just inside
/// [`BODY_IDLE_TIMEOUT`], cannot hold its request and connection for longer.
pub const UPLOAD_PUT_MIN_BYTES_PER_SEC: u64 = 64 * 1024;

/// How long a `PUT` that may send `bytes` has for its whole body.
fn put_deadline(bytes: i64) -> std::time::Duration {
    let bytes = u64::try_from(bytes).unwrap_or(0);
    std::time::Duration::from_secs(
        UPLOAD_PUT_MIN_SECS.saturating_add(bytes.div_ceil(UPLOAD_PUT_MIN_BYTES_PER_SEC)),
    )
}

/// The next chunk of a request body, `None` at its end.
///
/// # Errors
///
/// 408 when nothing arrives for [`BODY_IDLE_TIMEOUT`], or when the body's
/// [`BODY_DEADLINE`](crate::BODY_DEADLINE) passes (`outcome` says what became of the
/// request): a peer that stops sending, or sends a byte now and then, would otherwise hold
/// the request, and its connection, for as long as it likes. 400 when the body cannot be
/// read.
pub(crate) async fn next_chunk(
    stream: &mut axum::body::BodyDataStream,
    outcome: &str,
) -> Result<Option<Bytes>, ApiError> {
    let next = tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next())
        .await
        .map_err(|_| {
            ApiError::problem(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "no bytes arrived for {} s; {outcome}",
                    BODY_IDLE_TIMEOUT.as_secs()
                ),
            )
        })?;
    next.transpose().map_err(|e| {
        if crate::body_deadline::is_deadline(&e) {
            ApiError::problem(StatusCode::REQUEST_TIMEOUT, format!("{e}; {outcome}"))
        } else if crate::body_deadline::is_over_budget(&e) {
            ApiError::bodies_held(format!("{e}; {outcome}"))
        } else {
            ApiError::problem(
                StatusCode::BAD_REQUEST,
                format!("the body could not be read: {e}"),
            )
        }
    })
}

/// The signed URLs of an upload that still work: `[{file_name, content_type, digest,
/// expires_ms}]`. Read only by the emulator and left out of answers.
pub const URLS: &str = "_urls";

/// An upload not yet completed or failed.
pub const OPEN: [UploadStatus; 2] = [UploadStatus::Pending, UploadStatus::Uploading];

/// The upload's status, as its record holds it.
pub fn status(upload: &Resource) -> Option<UploadStatus> {
    upload.str("status").map(UploadStatus::from)
}

/// Records the upload's status.
pub fn set_status(upload: &mut Resource, status: &UploadStatus) {
    upload.set("status", Some(status.as_str()));
}

/// An organization's storage, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    /// Declared sizes of the uploads still open.
    pub reserved: i64,
    /// Bytes of completed uploads.
    pub used: i64,
}

impl Storage {
    /// The organization's storage as its upload records say.
    pub fn of(resources: &Resources, org: &str) -> Storage {
        let mut storage = Storage::default();
        for upload in resources.list(Family::Upload, org, None) {
            match status(upload) {
                Some(UploadStatus::Completed) => {
                    storage.used = storage.used.saturating_add(size(upload, "bytes_received"));
                }
                Some(status) if OPEN.contains(&status) => {
                    storage.reserved = storage.reserved.saturating_add(size(upload, "total_bytes"));
                }
                _ => {}
            }
        }
        storage
    }

    /// Bytes neither used nor reserved.
    pub fn free(self) -> i64 {
        STORAGE_QUOTA_BYTES
            .saturating_sub(self.reserved)
            .saturating_sub(self.used)
    }

    fn to_json(self) -> Value {
        json!({
            "quota_bytes": STORAGE_QUOTA_BYTES,
            "reserved_bytes": self.reserved,
            "used_bytes": self.used,
            "free_bytes": self.free(),
        })
    }
}

/// An integer field, 0 when absent.
pub fn int(upload: &Resource, name: &str) -> i64 {
    upload.fields.get(name).and_then(Value::as_i64).unwrap_or(0)
}

/// A byte count of an upload, none when negative. What the emulator writes is never
/// negative, and the sums of counts saturate, so that a state file edited to say otherwise
/// (a size near `i64::MAX`, a negative one) can neither overflow a sum nor make room.
fn size(upload: &Resource, name: &str) -> i64 {
    int(upload, name).max(0)
}

/// The sum of the files' sizes, as [`size`] reads one.
fn sizes<'a>(files: impl IntoIterator<Item = &'a Value>) -> i64 {
    files
        .into_iter()
        .filter_map(|file| file["size"].as_i64())
        .fold(0, |sum, size| sum.saturating_add(size.max(0)))
}

/// Whether the upload can still change.
pub fn is_open(upload: &Resource) -> bool {
    status(upload).is_some_and(|s| OPEN.contains(&s))
}

/// The upload as answered, with its organization's storage.
pub fn answer(upload: &Resource, storage: Storage) -> Value {
    let mut out = upload.to_json();
    if let Some(object) = out.as_object_mut() {
        object.remove(URLS);
        object.insert("storage".to_owned(), storage.to_json());
    }
    out
}

/// Marks the open `upload` failed at `at`, which releases its reservation (only open uploads
/// reserve) and retires its signed URLs, and answers the `upload.failed` event that tells
/// subscribers.
pub(crate) fn mark_failed(
    upload: &mut Resource,
    message: String,
    step: Option<String>,
    at: i64,
) -> Event {
    set_status(upload, &UploadStatus::Failed);
    upload.set("error_message", Some(message));
    upload.set("error_step", step);
    upload.fields.remove(URLS);
    upload.updated_at = at;
    event(UPLOAD_FAILED, upload, at)
}

/// The event of type `event_type` that tells subscribers what became of `upload` at `at`.
pub(crate) fn event(event_type: &'static str, upload: &Resource, at: i64) -> Event {
    Event {
        event_type,
        org: upload.org.clone(),
        entity_type: "upload",
        entity_id: upload.id.clone(),
        data: json!({
            DATA_UPLOAD_ID: upload.id,
            "project_id": upload.fields.get("project_id"),
            DATA_STATUS: upload.fields.get("status"),
            "bytes": upload.fields.get("bytes_received"),
            "files": upload.fields.get("files"),
            "error_message": upload.fields.get("error_message"),
            "error_step": upload.fields.get("error_step"),
        }),
        at,
    }
}

/// When the open `upload` expires unless something happens to it first.
fn expires_at(upload: &Resource) -> i64 {
    upload.updated_at.saturating_add(UPLOAD_IDLE_SECS)
}

/// Fails the open uploads of `org` (of every organization for `None`, which the webhook
/// sweep asks for) that have had no activity for [`UPLOAD_IDLE_SECS`] by `now_ms`, each at
/// the instant it expired, and queues their `upload.failed` events under the ids a sweep
/// gives what the clock brings about ([`Inner::emit_found`]).
///
/// Run before anything reads or changes an organization's uploads or counts its storage
/// ([`Storage::of`] counts what the records say), so no one sees an upload open, or its
/// reservation held, after it expired. The change needs no write of its own and may be made
/// outside the write lane, by a read: the next write keeps it, and if a failed write undoes
/// it, the same stored `updated_at` expires the upload again at the same instant, with the
/// same event, so what anyone was told stays true.
pub(crate) fn expire_idle(inner: &mut Inner, org: Option<&str>, now_ms: i64) {
    let now = now_ms.div_euclid(1000);
    let idle = |upload: &&Resource| is_open(upload) && expires_at(upload) <= now;
    let expired: Vec<(String, String)> = match org {
        Some(org) => inner
            .resources
            .owned(Family::Upload, org)
            .filter(idle)
            .map(|upload| (upload.org.clone(), upload.id.clone()))
            .collect(),
        // The uploads alone, not every record of every family: this runs each second.
        None => inner
            .resources
            .of_family(Family::Upload)
            .filter(idle)
            .map(|upload| (upload.org.clone(), upload.id.clone()))
            .collect(),
    };
    for (org, id) in expired {
        let Ok(upload) = inner.resources.get_mut(Family::Upload, &org, None, &id) else {
            continue;
        };
        let at = expires_at(upload);
        let message = format!(
            "the upload was abandoned: nothing happened to it for {UPLOAD_IDLE_SECS} s, so it \
             expired and its reservation was released"
        );
        let event = mark_failed(upload, message, Some(EXPIRED_STEP.to_owned()), at);
        inner.emit_found(&event, now_ms);
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// What a PUT may write, once its URL checks out.
struct Ticket {
    /// Bytes it may send: the declared size less what the upload's other files hold.
    allowance: i64,
    content_type: String,
}

/// `PUT /uploads/{upload_id}/{token}/{file_name}`: takes one file of an open upload.
pub(crate) async fn receive(
    State(shared): State<Arc<Shared>>,
    ApiPath((upload_id, token, file_name)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match take(&shared, &upload_id, &token, &file_name, &headers, body).await {
        Ok(value) => Reply::json(StatusCode::OK, &value).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn take(
    shared: &Shared,
    upload_id: &str,
    token: &str,
    file_name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let ticket = ticket(shared, upload_id, token, file_name)?;
    // The file keeps the type the `PUT` names, which is the client's header: unbounded, each
    // file of each upload could hold what a header holds (hundreds of kilobytes) outside the
    // organization's storage budget, which counts only the operations' bodies.
    let named = headers
        .get(header::CONTENT_TYPE)
        .and_then(|kind| kind.to_str().ok());
    let content_type = match named {
        None => ticket.content_type.clone(),
        Some(kind) if kind.len() <= MAX_TEXT_CHARS => kind.to_owned(),
        Some(_) => {
            return Err(ApiError::problem(
                StatusCode::BAD_REQUEST,
                format!(
                    "an upload's Content-Type is at most {MAX_TEXT_CHARS} characters; the file \
                     was not kept"
                ),
            ))
        }
    };
    let too_large = || {
        ApiError::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload declared {} more bytes than it holds; this file is larger",
                ticket.allowance
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    if declared.is_some_and(|length| length > ticket.allowance) {
        return Err(too_large());
    }
    // The most this body may hold: what it declares, else all the upload has room for.
    let deadline = put_deadline(declared.unwrap_or(ticket.allowance).min(ticket.allowance));
    let mut size: i64 = 0;
    let mut hasher = Sha256::new();
    let mut stream = body.into_data_stream();
    let streamed = tokio::time::timeout(deadline, async {
        while let Some(chunk) = next_chunk(&mut stream, "the upload was not kept").await? {
            size = size.saturating_add(i64::try_from(chunk.len()).unwrap_or(i64::MAX));
            if size > ticket.allowance {
                return Err(too_large());
            }
            hasher.update(&chunk);
        }
        Ok(())
    })
    .await;
    match streamed {
        Ok(result) => result?,
        Err(_) => {
            return Err(ApiError::problem(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s; the upload was not kept",
                    deadline.as_secs()
                ),
            ))
        }
    }
    // Taken once the body is in, so a slow upload holds up no one else's change.
    let lane = shared.lane().await?;
    // A signed URL is checked as the request starts, as a storage service checks one, so a
    // long PUT that began in time is kept though the URL expired meanwhile; the upload must
    // still be open and take the file now the file has arrived.
    still_takes(shared, upload_id, file_name)?;
    let sha256 = to_hex(&hasher.finalize());
    let file = json!({
        "file_name": file_name,
        "content_type": content_type,
        "size": size,
        "sha256": sha256,
    });
    record(shared, upload_id, file_name, size, file.clone())?;
    shared.persist(&lane)?;
    Ok(file)
}

/// Whether the signed URL `url` (one of an upload's [`URLS`]) has expired at `now_ms`: from
/// the instant its `expires_at` names on, as a download link has
/// ([`crate::downloads::DownloadKey::check`]).
pub(crate) fn url_expired(url: &Value, now_ms: i64) -> bool {
    url["expires_ms"].as_i64().unwrap_or(0) <= now_ms
}

/// Checks the URL against the upload and says what the PUT may send.
fn ticket(
    shared: &Shared,
    upload_id: &str,
    token: &str,
    file_name: &str,
) -> Result<Ticket, ApiError> {
    let now_ms = shared.clock.now_millis();
    let inner = shared.lock();
    // An unknown id is answered as a wrong token is, so a PUT without a valid URL cannot
    // tell which upload ids exist.
    let not_valid = || refused("this upload URL is not valid");
    let upload = find(&inner.resources, upload_id).map_err(|_| not_valid())?;
    let digest = sha256_hex(token.as_bytes());
    let url = upload
        .fields
        .get(URLS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|url| url["digest"] == digest.as_str() && url["file_name"] == file_name);
    let Some(url) = url else {
        return Err(not_valid());
    };
    if url_expired(url, now_ms) {
        return Err(refused("this upload URL has expired"));
    }
    if !is_open(upload) {
        return Err(closed(upload));
    }
    takes_file(upload, file_name)?;
    let others = sizes(
        files(upload)
            .iter()
            .filter(|file| file["file_name"] != file_name),
    );
    Ok(Ticket {
        allowance: size(upload, "total_bytes").saturating_sub(others),
        content_type: url["content_type"]
            .as_str()
            .unwrap_or(geopera_types::OCTET_STREAM)
            .to_owned(),
    })
}

/// Whether the upload is still open and takes `file_name`, once its bytes have arrived: an
/// upload left idle past its time while they came (the clock moved on a day) expires first,
/// as any call about it would expire it, and keeps nothing.
fn still_takes(shared: &Shared, upload_id: &str, file_name: &str) -> Result<(), ApiError> {
    let now_ms = shared.clock.now_millis();
    let mut inner = shared.lock();
    let not_valid = || refused("this upload URL is not valid");
    let org = find(&inner.resources, upload_id)
        .map_err(|_| not_valid())?
        .org
        .clone();
    expire_idle(&mut inner, Some(&org), now_ms);
    let upload = find(&inner.resources, upload_id).map_err(|_| not_valid())?;
    if !is_open(upload) {
        return Err(closed(upload));
    }
    takes_file(upload, file_name)
}

/// Keeps what arrived, replacing an earlier file of the same name.
fn record(
    shared: &Shared,
    upload_id: &str,
    file_name: &str,
    size: i64,
    file: Value,
) -> Result<(), ApiError> {
    let now = shared.clock.now_secs();
    let mut inner = shared.lock();
    let org = find(&inner.resources, upload_id)?.org.clone();
    let upload = inner
        .resources
        .get_mut(Family::Upload, &org, None, upload_id)?;
    if !is_open(upload) {
        return Err(closed(upload));
    }
    let mut kept: Vec<Value> = files(upload)
        .into_iter()
        .filter(|f| f["file_name"] != file_name)
        .collect();
    takes_file(upload, file_name)?;
    let others = sizes(&kept);
    // Another file may have arrived while this one streamed.
    if others.saturating_add(size) > int(upload, "total_bytes") {
        return Err(ApiError::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the upload's files are now larger than its declared total_bytes",
        ));
    }
    kept.push(file);
    upload.set("bytes_received", Some(others + size));
    upload.set("files", Some(kept));
    set_status(upload, &UploadStatus::Uploading);
    upload.updated_at = now;
    Ok(())
}

/// How many distinct files the upload may hold: its declared `file_count`, never more than
/// [`MAX_FILES_PER_UPLOAD`] (a record from a state file may lack the field, or predate that
/// bound).
pub fn declared_files(upload: &Resource) -> usize {
    upload
        .fields
        .get("file_count")
        .and_then(Value::as_u64)
        .and_then(|count| usize::try_from(count).ok())
        .map_or(MAX_FILES_PER_UPLOAD, |count| {
            count.min(MAX_FILES_PER_UPLOAD)
        })
}

/// 409 unless `file_name` is one of the upload's files or it has room for another.
///
/// `uploads.signed_url` signs no name beyond the declared count, so this refuses only the
/// URLs signed before that rule (an upload read back from a state file); checked when a
/// `PUT` starts and again before its file is kept, it keeps nothing for such a name.
fn takes_file(upload: &Resource, file_name: &str) -> Result<(), ApiError> {
    let files = files(upload);
    let declared = declared_files(upload);
    if files.len() < declared || files.iter().any(|f| f["file_name"] == file_name) {
        return Ok(());
    }
    Err(ApiError::conflict(format!(
        "upload '{}' declared file_count {declared} and already holds {} files; it takes no \
         other file",
        upload.id,
        files.len()
    )))
}

/// The files that have arrived.
pub fn files(upload: &Resource) -> Vec<Value> {
    upload
        .fields
        .get("files")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Any organization's upload: the URL's token, not a credential, says who may write.
/// Looked up by id rather than by a walk through every record: the route takes no
/// credential, so anyone can ask it.
fn find<'a>(resources: &'a Resources, id: &str) -> Result<&'a Resource, ApiError> {
    resources
        .record(id)
        .filter(|r| r.family == Family::Upload)
        .ok_or_else(|| ApiError::not_found(format!("upload '{id}' not found")))
}

fn refused(detail: &str) -> ApiError {
    ApiError::problem(StatusCode::FORBIDDEN, detail)
}

/// 409 for an upload already completed or failed.
pub fn closed(upload: &Resource) -> ApiError {
    ApiError::conflict(format!(
        "upload '{}' is {}; it can no longer change",
        upload.id,
        upload.str("status").unwrap_or("closed")
    ))
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
