//! `/_emulator/...`: the test's own levers over HTTP — the clock, device-login decisions and
//! the sign-in counters. Mounted only when enabled ([`EmulatorBuilder::control`] or
//! `--control`); otherwise these paths are 404 like any unknown path.
//!
//! [`EmulatorBuilder::control`]: crate::EmulatorBuilder::control

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, ORIGIN};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::error::{is_json_type, ApiError, ApiJson, Reply};
use crate::oidc;
use crate::state::Shared;

/// The prefix every control path starts with.
pub const CONTROL_PREFIX: &str = "/_emulator";

/// The longest single clock move: ten years.
const MAX_ADVANCE_SECS: u64 = 10 * 365 * 86_400;

/// The latest reading the clock can be moved to, 9899-12-31T23:59:59Z: a century before the
/// last moment an RFC 3339 date-time can name (the end of 9999), so that every date the
/// emulator makes by adding a lifetime to the clock — a key's ten years at most — still has
/// a four-digit year; and far from `i64`'s end, so no addition overflows.
pub(crate) const MAX_UNIX_SECS: i64 = 250_246_627_199;

/// The latest reading a state file may hold: [`MAX_UNIX_SECS`] and ten years more, since a
/// clock moved to that limit goes on ticking with the wall clock, and the emulator must resume
/// from the file it wrote itself. Lifetimes added to it still end before the year 10000.
pub(crate) const MAX_RESUMED_UNIX_SECS: i64 = MAX_UNIX_SECS + 10 * 365 * 86_400;

/// [`MAX_UNIX_SECS`] as a date, for messages.
const MAX_DATE: &str = "9899-12-31T23:59:59Z";

pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            &format!("{CONTROL_PREFIX}/clock"),
            get(read_clock).post(move_clock),
        )
        .route(
            &format!("{CONTROL_PREFIX}/device/approve"),
            post(approve_device),
        )
        .route(&format!("{CONTROL_PREFIX}/device/deny"), post(deny_device))
        .route(
            &format!("{CONTROL_PREFIX}/oidc/counters"),
            get(oidc_counters),
        )
        .route_layer(axum::middleware::from_fn_with_state(shared, same_site_only))
}

/// Refuses what a web page of another site could send here. A browser sends a cross-site
/// POST without asking first when it has no `Content-Type` or a form's, and these routes
/// take no credentials, so any page open beside a running emulator could move its clock or
/// approve a device login. Requiring JSON makes the browser ask first (which the emulator
/// never grants), and an `Origin` that is not the emulator's own is refused outright.
async fn same_site_only(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if let Some(origin) = headers.get(ORIGIN) {
        if !origin
            .as_bytes()
            .eq_ignore_ascii_case(shared.base_url.as_bytes())
        {
            return ApiError::problem(
                StatusCode::FORBIDDEN,
                format!(
                    "control requests are taken only from {} or from outside a browser",
                    shared.base_url
                ),
            )
            .into_response();
        }
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads && !headers.get(CONTENT_TYPE).is_some_and(is_json_type) {
        return ApiError::problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "control requests must send Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

fn clock_reading(shared: &Shared) -> Response {
    let now_ms = shared.clock.now_millis();
    Reply::json(
        StatusCode::OK,
        &json!({"unix_seconds": now_ms.div_euclid(1000), "unix_millis": now_ms}),
    )
    .into_response()
}

async fn read_clock(State(shared): State<Arc<Shared>>) -> Response {
    clock_reading(&shared)
}

/// Exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance_seconds: Option<u64>,
    set_unix_seconds: Option<i64>,
}

async fn move_clock(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let change = ApiJson::<ClockMove>::parse(&headers, &body)?
        .ok_or_else(|| ApiError::invalid(&[], "send advance_seconds or set_unix_seconds"))?;
    let past_the_end = || format!("the clock cannot go past {MAX_DATE} ({MAX_UNIX_SECS})");
    // Written to the state file before it is answered, as any change is: a move only a clean
    // stop wrote was lost to a crash, and what it had ended (an order fulfilled) opened again.
    let lane = shared.lane().await?;
    let before = shared.clock.offset();
    match (change.advance_seconds, change.set_unix_seconds) {
        (Some(secs), None) if secs > MAX_ADVANCE_SECS => {
            return Err(ApiError::invalid(
                &["advance_seconds"],
                format!("at most {MAX_ADVANCE_SECS} seconds at a time"),
            ))
        }
        (Some(secs), None) => {
            // Checked and moved in one step, so moves sent at once cannot together pass it.
            let latest_ms = MAX_UNIX_SECS.saturating_mul(1000).saturating_add(999);
            if !shared
                .clock
                .advance_until(Duration::from_secs(secs), latest_ms)
            {
                return Err(ApiError::invalid(&["advance_seconds"], past_the_end()));
            }
        }
        (None, Some(at)) if (0..=MAX_UNIX_SECS).contains(&at) => shared.clock.set(at),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                &["set_unix_seconds"],
                format!("a Unix time from 0 to {MAX_UNIX_SECS} ({MAX_DATE})"),
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                &[],
                "send exactly one of advance_seconds and set_unix_seconds",
            ))
        }
    }
    if let Err(unkept) = shared.persist(&lane) {
        // Answered as undone, it is: a retry must not move the clock twice. The failed write
        // read memory back at the moved time, which ended every session and idempotency claim
        // the move outlived; read again at the time put back, they are as the file holds them.
        shared.clock.restore_offset(before);
        shared.read_back_now(&lane);
        return Err(unkept);
    }
    Ok(clock_reading(&shared))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    user_code: String,
    /// Who approves; a configured user (default `admin`). Unused for a denial.
    username: Option<String>,
}

async fn approve_device(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(&shared, &headers, &body?, true)
}

async fn deny_device(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(&shared, &headers, &body?, false)
}

fn decide(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    approve: bool,
) -> Result<Response, ApiError> {
    let decision = ApiJson::<Decision>::parse(headers, body)?
        .ok_or_else(|| ApiError::invalid(&["user_code"], "user_code is required"))?;
    let username = approve.then(|| decision.username.as_deref().unwrap_or("admin"));
    let decided = oidc::decide_device(shared, &decision.user_code, username)
        .map_err(|problem| ApiError::invalid(&["username"], problem))?;
    if !decided {
        return Err(ApiError::not_found(format!(
            "no device login is waiting for user code '{}'",
            decision.user_code
        )));
    }
    let state = if approve { "approved" } else { "denied" };
    Ok(Reply::json(
        StatusCode::OK,
        &json!({"user_code": decision.user_code, "state": state}),
    )
    .into_response())
}

async fn oidc_counters(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    let mut body = serde_json::to_value(&inner.oidc.counters).unwrap_or_default();
    body["live_sessions"] = json!(inner.oidc.families.len());
    body["pending_device_logins"] = json!(inner.oidc.devices.len());
    Reply::json(StatusCode::OK, &body).into_response()
}
