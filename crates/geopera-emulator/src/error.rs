//! The one error type of the emulator, rendered the way the API renders errors.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequestParts, Path};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use geopera_types::validate::json_invalid;
use geopera_types::{LocItem, Problem, ValidationError};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An answer the emulator gives instead of the operation's result.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An `application/problem+json` answer.
    #[error("{status}: {title}: {detail}")]
    Problem {
        /// The HTTP status.
        status: StatusCode,
        /// The problem's title, e.g. `Unauthenticated`.
        title: &'static str,
        /// What went wrong this time.
        detail: String,
        /// Extra headers such as `Retry-After` or `Allow`.
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// A 422 `application/json` answer listing every failed check.
    #[error("request validation failed ({} errors)", .0.len())]
    Validation(Vec<ValidationError>),
}

/// The longest message an error carries, in bytes. Messages quote what the request named
/// (an id, a header); an answer with a side effect is kept for its idempotency key for a day,
/// so without a bound every 2 MiB id sent with a fresh key would be held twice over.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `text`, or its beginning and end around a note of how much was left out when it is longer
/// than [`MAX_MESSAGE_BYTES`]: the end usually says what went wrong ("... not found").
pub(crate) fn clipped(text: String) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text;
    }
    let keep = MAX_MESSAGE_BYTES / 2 - 32;
    // `str::floor_char_boundary` is newer than our rust-version.
    let mut head_end = keep;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - keep;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!(
        "{}[... {} bytes left out ...]{}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

/// One business-rule failure at `loc` (from `body` on), worded as [`ApiError::invalid`] words
/// it; for locations that hold array indexes, and for answers listing several failures.
pub(crate) fn value_error(loc: Vec<LocItem>, msg: impl Into<String>) -> ValidationError {
    ValidationError::new(
        loc,
        clipped(format!("Value error, {}", msg.into())),
        "value_error",
    )
}

/// A 422 at `loc` for a number above `max`, in pydantic's words.
pub(crate) fn too_large(loc: Vec<LocItem>, max: i64) -> ValidationError {
    with_ctx(
        ValidationError::new(
            loc,
            format!("Input should be less than or equal to {max}"),
            "less_than_equal",
        ),
        serde_json::json!({"le": max}),
    )
}

/// A 422 at `loc` for a number below `min`, in pydantic's words.
pub(crate) fn too_small(loc: Vec<LocItem>, min: i64) -> ValidationError {
    with_ctx(
        ValidationError::new(
            loc,
            format!("Input should be greater than or equal to {min}"),
            "greater_than_equal",
        ),
        serde_json::json!({"ge": min}),
    )
}

/// `error` with the bound or sizes it was checked against, as pydantic's `ctx` carries them.
pub(crate) fn with_ctx(mut error: ValidationError, ctx: Value) -> ValidationError {
    error.extra.insert("ctx".to_owned(), ctx);
    error
}

impl ApiError {
    /// A problem with the standard title of its status.
    pub fn problem(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError::Problem {
            status,
            title: title_of(status),
            detail: clipped(detail.into()),
            headers: Vec::new(),
        }
    }

    /// 401: missing or unknown credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::UNAUTHORIZED, detail)
    }

    /// 404: unknown resource or operation.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::NOT_FOUND, detail)
    }

    /// 503 for a body refused because the server holds as many bodies as it will at once
    /// ([`crate::body_deadline::BodyBudget`]), with the `Retry-After` that says when to try again.
    pub(crate) fn bodies_held(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::SERVICE_UNAVAILABLE, detail).with_header(
            http::header::RETRY_AFTER,
            crate::body_deadline::BUDGET_RETRY_AFTER_SECS,
        )
    }

    /// 409: a state conflict.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::CONFLICT, detail)
    }

    /// 422 for one business-rule failure at `loc` (below `body`).
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        let mut path = vec![LocItem::from("body")];
        path.extend(loc.iter().map(|step| LocItem::from(*step)));
        ApiError::Validation(vec![value_error(path, msg)])
    }

    /// A 422 naming item `index` of the body's list `field`, its place a number as a
    /// validator writes a list item's.
    pub fn invalid_item(field: &str, index: usize, msg: impl Into<String>) -> Self {
        let path = vec![
            LocItem::from("body"),
            LocItem::from(field),
            LocItem::from(index),
        ];
        ApiError::Validation(vec![value_error(path, msg)])
    }

    /// A 422 naming request header `name` (lower case) as the invalid input.
    pub fn invalid_header(name: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![ValidationError::new(
            vec![LocItem::from("header"), LocItem::from(name)],
            clipped(format!("Value error, {}", msg.into())),
            "value_error",
        )])
    }

    /// Adds a header to a problem answer.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl ToString) -> Self {
        if let ApiError::Problem { headers, .. } = &mut self {
            if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                headers.push((name, value));
            }
        }
        self
    }

    /// Adds a sentence to a problem's detail.
    #[must_use]
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        if let ApiError::Problem { detail, .. } = &mut self {
            *detail = clipped(format!("{detail}; {note}"));
        }
        self
    }

    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Problem { status, .. } => *status,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// Renders the answer as stored bytes (what idempotent replays send again).
    pub fn into_reply(self) -> Reply {
        match self {
            ApiError::Problem {
                status,
                title,
                detail,
                headers,
            } => {
                let problem = Problem::new(status.as_u16(), title, detail);
                let body = serde_json::to_vec(&problem).unwrap_or_default();
                Reply {
                    status,
                    content_type: geopera_types::PROBLEM_JSON,
                    headers,
                    body: Bytes::from(body),
                }
            }
            ApiError::Validation(detail) => {
                // Written straight to bytes: through a `Value` (`json!`), an integer echoed
                // as written would be read back as a float.
                let detail: Vec<Written<'_>> = detail.iter().map(Written).collect();
                let body = serde_json::to_vec(&WrittenDetail { detail }).unwrap_or_default();
                Reply {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    content_type: "application/json",
                    headers: Vec::new(),
                    body: Bytes::from(body),
                }
            }
        }
    }
}

/// The member of a failure's `extra` that holds its `input` as JSON text, which the answer
/// writes in place of `input` and never under its own name: an integer beyond 64 bits is
/// echoed as written, which no [`Value`] holds without serde_json's `arbitrary_precision`,
/// a feature that would change how every crate in the build reads numbers. No member
/// pydantic writes starts with a NUL.
pub(crate) const INPUT_AS_WRITTEN: &str = "\u{0}input as written";

/// A 422 answer's body.
#[derive(serde::Serialize)]
struct WrittenDetail<'a> {
    detail: Vec<Written<'a>>,
}

/// A failure as a 422 answer writes it: as it serializes itself, but for its `input` when
/// [`INPUT_AS_WRITTEN`] holds it as text.
struct Written<'a>(&'a ValidationError);

impl serde::Serialize for Written<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let error = self.0;
        let as_written = error
            .extra
            .get(INPUT_AS_WRITTEN)
            .and_then(Value::as_str)
            .and_then(|text| serde_json::value::RawValue::from_string(text.to_owned()).ok());
        // Through a `Value` first, so the members come in the order they always have.
        let members = match serde_json::to_value(error) {
            Ok(Value::Object(members)) => members,
            Ok(_) => serde_json::Map::new(),
            Err(broken) => return Err(serde::ser::Error::custom(broken)),
        };
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in &members {
            match (name.as_str(), &as_written) {
                (INPUT_AS_WRITTEN, _) => {}
                ("input", Some(written)) => map.serialize_entry(name, written)?,
                _ => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

/// The emulator failed to draw an answer's picture: its own fault, so a 500.
impl From<crate::images::EncodeError> for ApiError {
    fn from(error: crate::images::EncodeError) -> Self {
        ApiError::problem(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

/// A bad path segment (say, invalid UTF-8 after percent-decoding) is the client's error.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::problem(rejection.status(), rejection.body_text())
    }
}

/// A body over the limit is 413; a body that cannot be read (broken chunked framing, a
/// connection closed mid-body) is 400.
impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if crate::body_deadline::is_over_budget(&rejection) {
            ApiError::bodies_held(crate::body_deadline::BodyBudgetSpent.to_string())
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::problem(
                status,
                "the request body is larger than the emulator accepts",
            )
        } else {
            ApiError::problem(status, rejection.body_text())
        }
    }
}

/// Path parameters whose rejection is a problem+json [`ApiError`] rather than axum's plain
/// text.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_reply().into_response()
    }
}

/// The standard reason phrase used as a problem title.
pub fn title_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "Unauthenticated",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        402 => "Payment Required",
        429 => "Too Many Requests",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

/// Every `Content-Type` the emulator answers with.
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    geopera_types::PROBLEM_JSON,
    geopera_types::NDJSON,
    "application/geo+json",
    "text/plain; charset=utf-8",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "application/xml",
];

/// The emulator's own spelling of a content type read back from the state file, which
/// [`Reply`] keeps as a `&'static str`.
pub(crate) fn known_content_type(text: &str) -> Option<&'static str> {
    CONTENT_TYPES.iter().copied().find(|known| *known == text)
}

/// A complete answer as bytes: what an operation produced, before faults touch it.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Further headers (`Location`, `Retry-After`, ...).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// What the answer holds in bytes: its body and headers, as kept for an idempotency key.
    pub(crate) fn weight(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum::<usize>()
    }

    /// A JSON answer with the given status.
    pub fn json(status: StatusCode, value: &Value) -> Self {
        Reply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

/// The most objects and arrays a request body nests, one in another. serde_json reads 128,
/// but what it reads must also read back from the state file, where a record wraps the
/// body's values in a few levels more: one nested to serde_json's limit was answered 201 and
/// then lost at the next start. The contract's validator checks 64 levels, no more.
pub const MAX_BODY_DEPTH: usize = 64;

/// Where `body` (JSON) opens an object or array nested deeper than [`MAX_BODY_DEPTH`], as a
/// byte offset.
fn too_deep(body: &[u8]) -> Option<usize> {
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, byte) in body.iter().enumerate() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_BODY_DEPTH {
                    return Some(at);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Whether a `Content-Type` declares JSON, by the rule the SDK reads answers by
/// ([`geopera_types::is_json_type`]): `application/json` or any `+json` type, in any letter
/// case, parameters ignored. [`ApiJson`] reads bodies so, and the control routes require it.
pub(crate) fn is_json_type(kind: &HeaderValue) -> bool {
    kind.to_str().is_ok_and(geopera_types::is_json_type)
}

/// A JSON request body read the way the API reads it, failing with an [`ApiError`] in the
/// API's own 422 shape.
///
/// A missing `Content-Type` is read as JSON (so `curl -d` works); any other non-JSON content
/// type is answered with 422 `model_attributes_type`, as FastAPI does when it cannot find a
/// JSON object. Malformed JSON is 422 `json_invalid` with the byte offset in `loc`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> ApiJson<T> {
    /// Parses a body the way the extractor does; `Ok(None)` when there is no body at all.
    ///
    /// # Errors
    /// A 422 [`ApiError::Validation`] for a non-JSON content type, malformed JSON, JSON
    /// nested deeper than [`MAX_BODY_DEPTH`], or JSON that does not deserialize into `T`.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Option<T>, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if let Some(kind) = headers.get(CONTENT_TYPE) {
            if !is_json_type(kind) {
                return Err(ApiError::Validation(vec![ValidationError::new(
                    vec![LocItem::from("body")],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                )]));
            }
        }
        match serde_json::from_slice::<T>(body) {
            Ok(value) => match too_deep(body) {
                None => Ok(Some(value)),
                Some(at) => Err(ApiError::Validation(vec![json_invalid(
                    at,
                    &format!("nested deeper than {MAX_BODY_DEPTH} levels"),
                )])),
            },
            Err(error) if error.is_data() => Err(ApiError::Validation(vec![ValidationError::new(
                vec![LocItem::from("body")],
                error.to_string(),
                "value_error",
            )])),
            Err(error) => {
                let position = if error.is_eof() {
                    body.len()
                } else {
                    byte_offset(body, error.line(), error.column())
                };
                Err(ApiError::Validation(vec![json_invalid(
                    position,
                    &error.to_string(),
                )]))
            }
        }
    }
}

/// Turns serde_json's 1-based line and column into a byte offset.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in body.split(|&b| b == b'\n').enumerate() {
        if index + 1 == line {
            return (offset + column.saturating_sub(1)).min(body.len());
        }
        offset += text.len() + 1;
    }
    body.len()
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
