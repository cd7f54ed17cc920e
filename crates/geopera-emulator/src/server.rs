//! The HTTP side: routes, the request pipeline, fault effects and the accept loop.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use bytes::Bytes;
use geopera_types::validate::{missing_body, validate};
use geopera_types::{Access, OperationInfo};
use http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use crate::conn::ConnKill;
use crate::error::{ApiError, ApiJson, ApiPath, Reply};
use crate::faults::{strikes, FaultKind, FaultPlan, FaultRule, Phase};
use crate::ops::{execute, Caller};
use crate::recording::RecordedRequest;
use crate::scopes::grants;
use crate::state::{fingerprint, Burst, Claim, Shared, IDEMPOTENCY_RETENTION_MS};

/// The per-request header that injects faults into that one request.
pub const FAULT_HEADER: &str = "x-emulator-fault";
/// The header set on answers replayed from an idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Builds the router over shared state.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let body_limit = shared.body_limit;
    Router::new()
        .route("/v1/op/{id}", any(invoke))
        .route("/openapi.json", get(openapi))
        // Any method: a 307 makes clients repeat the POST at the new location.
        .route("/assets/{kind}/{*file}", any(asset))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(shared)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for '{}'", uri.path()))
}

/// axum adds the `Allow` header; this gives the answer the API's body.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::problem(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("'{}' does not answer {method}", uri.path()),
    )
}

/// The raw request body, within the body limit; its rejections are problem+json, and a
/// body over the limit is told the limit.
struct ApiBody(Bytes);

impl FromRequest<Arc<Shared>> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, shared: &Arc<Shared>) -> Result<Self, ApiError> {
        match Bytes::from_request(request, shared).await {
            Ok(body) => Ok(ApiBody(body)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is larger than the emulator's limit of {} bytes",
                        shared.body_limit
                    ),
                ))
            }
            Err(rejection) => Err(rejection.into()),
        }
    }
}

async fn openapi(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.spec {
        Some(spec) => Reply {
            status: StatusCode::OK,
            content_type: "application/json",
            headers: Vec::new(),
            body: spec.clone(),
        }
        .into_response(),
        None => ApiError::not_found("this emulator was started without a spec").into_response(),
    }
}

/// The smallest valid PNG (1×1, transparent): what quicklooks and thumbnails redirect to.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

async fn asset(ApiPath((_kind, file)): ApiPath<(String, String)>) -> Response {
    let (content_type, body) = if file.ends_with(".png") {
        ("image/png", Bytes::from_static(PIXEL_PNG))
    } else {
        ("image/tiff", Bytes::from_static(b"II*\0emulated raster"))
    };
    Reply {
        status: StatusCode::OK,
        content_type,
        headers: Vec::new(),
        body,
    }
    .into_response()
}

/// Records the request when dropped, with the status if one was produced; a reset drops the
/// handler mid-way and is recorded with no status.
struct Recording {
    shared: Arc<Shared>,
    request: Option<RecordedRequest>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(request) = self.request.take() {
            self.shared.lock().requests.push(request);
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "axum extractors")]
async fn invoke(
    State(shared): State<Arc<Shared>>,
    ApiPath(id): ApiPath<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    kill: Option<Extension<ConnKill>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<ApiBody, ApiError>,
) -> Response {
    let started = Instant::now();
    // A body that could not be read is answered, and recorded, like any other request.
    let (body, unreadable) = match body {
        Ok(ApiBody(body)) => (body, None),
        Err(error) => (Bytes::new(), Some(error)),
    };
    let entry = shared.lock().requests.entry(
        Some(id.clone()),
        method.to_string(),
        uri.path().to_owned(),
        &headers,
        &body,
    );
    let mut recording = Recording {
        shared: shared.clone(),
        request: Some(entry),
    };
    let response = match unreadable {
        Some(error) => error.into_response(),
        None => {
            pipeline(
                &shared,
                &id,
                peer,
                kill.map(|Extension(kill)| kill),
                &method,
                &headers,
                body,
            )
            .await
        }
    };
    let status = response.status().as_u16();
    if let Some(request) = recording.request.as_mut() {
        request.status = Some(status);
    }
    tracing::info!(
        method = %method,
        operation = %id,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// The faults that apply to one request.
#[derive(Default)]
struct Injected {
    latency: Duration,
    before: Option<FaultRule>,
    after: Option<FaultRule>,
    body: Option<FaultKind>,
}

impl Injected {
    /// Adds a rule that struck; the first of each slot wins. A 429 returns its burst so the
    /// caller can remember the rest of it where it belongs.
    fn add(&mut self, rule: FaultRule) -> Option<(u32, Option<u64>)> {
        match &rule.kind {
            FaultKind::Latency(by) => self.latency += *by,
            FaultKind::Truncate | FaultKind::Malformed | FaultKind::SlowBody(_) => {
                self.body.get_or_insert(rule.kind.clone());
            }
            FaultKind::RateLimited { burst } => {
                if self.before.is_none() {
                    let rest = (burst.saturating_sub(1), rule.retry_after);
                    self.before = Some(rule);
                    return Some(rest);
                }
            }
            FaultKind::ServerError(_) | FaultKind::Status(_) | FaultKind::Reset => {
                let slot = match rule.phase {
                    Phase::Before => &mut self.before,
                    Phase::After => &mut self.after,
                };
                slot.get_or_insert(rule);
            }
        }
        None
    }

    /// A 429 that continues a burst.
    fn continue_burst(&mut self, retry_after: Option<u64>) {
        self.before = Some(FaultRule {
            kind: FaultKind::RateLimited { burst: 1 },
            phase: Phase::Before,
            retry_after,
            rate_percent: None,
            operation: None,
            times: None,
        });
    }
}

/// The plan's faults for a request, drawn before anything else, for every caller (the
/// plan stands for the network and the servers, which do not know who is calling).
fn plan_faults(shared: &Shared, op_id: &str) -> Injected {
    let mut injected = Injected::default();
    let mut guard = shared.lock();
    let inner: &mut crate::state::Inner = &mut guard;
    if inner.burst_429_left > 0 {
        inner.burst_429_left -= 1;
        injected.continue_burst(inner.burst_429_retry_after);
    }
    let active = &mut inner.faults;
    let mut chosen: Vec<FaultRule> = Vec::new();
    for (index, rule) in active.plan.rules().iter().enumerate() {
        if rule.operation.as_deref().is_some_and(|only| only != op_id) {
            continue;
        }
        let seen = active.seen.get(index).copied().unwrap_or(0);
        if let Some(slot) = active.seen.get_mut(index) {
            *slot += 1;
        }
        let struck = active.struck.get(index).copied().unwrap_or(0);
        if rule.times.is_some_and(|times| struck >= times) {
            continue;
        }
        if rule
            .rate_percent
            .is_none_or(|rate| strikes(shared.seed, index, seen, rate))
        {
            if let Some(slot) = active.struck.get_mut(index) {
                *slot += 1;
            }
            chosen.push(rule.clone());
        }
    }
    for rule in chosen {
        if let Some((left, retry_after)) = injected.add(rule) {
            inner.burst_429_left = left;
            inner.burst_429_retry_after = retry_after;
        }
    }
    injected
}

/// The faults an authenticated request asked for in its own header, plus the rest of a
/// 429 burst an earlier request of the same organization asked for. Drawn only after
/// authentication, so a header can neither skip the 401 nor throttle other callers.
///
/// # Errors
/// 400 when the header is not a valid fault specification.
fn header_faults(
    shared: &Shared,
    op_id: &str,
    caller: &Caller,
    header: Option<&str>,
) -> Result<Injected, ApiError> {
    let header_plan = match header {
        Some(spec) => FaultPlan::parse(spec)
            .map_err(|error| ApiError::problem(StatusCode::BAD_REQUEST, error.to_string()))?,
        None => FaultPlan::none(),
    };
    let mut injected = Injected::default();
    let mut inner = shared.lock();
    if let Some(burst) = inner.caller_bursts.get_mut(&caller.org) {
        burst.left = burst.left.saturating_sub(1);
        injected.continue_burst(burst.retry_after);
        if burst.left == 0 {
            inner.caller_bursts.remove(&caller.org);
        }
    }
    for rule in header_plan.rules() {
        if rule.operation.as_deref().is_some_and(|only| only != op_id) {
            continue;
        }
        let seen = inner.header_faults_seen;
        inner.header_faults_seen += 1;
        if rule
            .rate_percent
            .is_none_or(|rate| strikes(shared.seed, usize::MAX, seen, rate))
        {
            if let Some((left, retry_after)) = injected.add(rule.clone()) {
                if left > 0 {
                    inner
                        .caller_bursts
                        .insert(caller.org.clone(), Burst { left, retry_after });
                }
            }
        }
    }
    Ok(injected)
}

/// What a before/after fault answers, or `None` for a reset.
fn fault_reply(shared: &Shared, rule: &FaultRule) -> Option<Reply> {
    let with_retry_after = |error: ApiError, secs: Option<u64>| match secs {
        Some(secs) => error.with_header(RETRY_AFTER, secs),
        None => error,
    };
    match rule.kind {
        FaultKind::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = ApiError::problem(status, format!("injected fault: {code}"));
            Some(with_retry_after(error, rule.retry_after).into_reply())
        }
        FaultKind::RateLimited { .. } => {
            let secs = rule
                .retry_after
                .unwrap_or_else(|| shared.clock.secs_to_minute_end().max(1) as u64);
            let error = ApiError::problem(
                StatusCode::TOO_MANY_REQUESTS,
                "injected fault: rate limited",
            );
            Some(error.with_header(RETRY_AFTER, secs).into_reply())
        }
        FaultKind::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
            let text = format!(
                "{} {} (injected fault)\n",
                code,
                status.canonical_reason().unwrap_or("Unknown")
            );
            let mut reply = Reply {
                status,
                content_type: "text/plain; charset=utf-8",
                headers: Vec::new(),
                body: Bytes::from(text),
            };
            if let Some(secs) = rule
                .retry_after
                .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
            {
                reply.headers.push((RETRY_AFTER, secs));
            }
            Some(reply)
        }
        _ => None,
    }
}

async fn reset(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.fire();
            // The connection task drops this future when it closes the socket.
            std::future::pending::<()>().await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn pipeline(
    shared: &Arc<Shared>,
    id: &str,
    peer: SocketAddr,
    kill: Option<ConnKill>,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = geopera_types::operations::find(id) else {
        return ApiError::not_found(format!("unknown operation '{id}'")).into_response();
    };
    if method != Method::POST {
        return ApiError::problem(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("'{id}' is invoked with POST, not {method}"),
        )
        .with_header(ALLOW, "POST")
        .into_response();
    }
    let plan = plan_faults(shared, op.id);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    if let Some(rule) = &plan.before {
        return match fault_reply(shared, rule) {
            Some(reply) => reply.into_response(),
            None => reset(kill).await,
        };
    }
    let (reply, requested) = match authenticate(shared, op, peer, headers) {
        Err(error) => (error.into_reply(), Injected::default()),
        Ok(caller) => {
            let fault_header = headers
                .get(FAULT_HEADER)
                .and_then(|value| value.to_str().ok());
            let requested = match header_faults(shared, op.id, &caller, fault_header) {
                Ok(requested) => requested,
                Err(error) => return error.into_response(),
            };
            if !requested.latency.is_zero() {
                tokio::time::sleep(requested.latency).await;
            }
            if let Some(rule) = &requested.before {
                return match fault_reply(shared, rule) {
                    Some(reply) => reply.into_response(),
                    None => reset(kill).await,
                };
            }
            let reply = match handle(shared, op, &caller, headers, &body) {
                Ok(reply) | Err(reply) => reply,
            };
            (reply, requested)
        }
    };
    if let Some(rule) = plan.after.as_ref().or(requested.after.as_ref()) {
        return match fault_reply(shared, rule) {
            Some(reply) => reply.into_response(),
            None => reset(kill).await,
        };
    }
    match plan.body.or(requested.body) {
        Some(kind) => deliver_faulty(reply, &kind),
        None => reply.into_response(),
    }
}

/// Rate limit → scope → validate → (idempotency) → execute, for an authenticated caller.
fn handle(
    shared: &Shared,
    op: &'static OperationInfo,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Reply, Reply> {
    rate_limit(shared, op, caller).map_err(ApiError::into_reply)?;
    if op.needs_credentials && !caller.grants.iter().any(|grant| grants(grant, op.scope)) {
        return Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            format!("missing scope '{}' for '{}'", op.scope, op.id),
        )
        .into_reply());
    }
    let value = parse_and_validate(op, headers, body).map_err(ApiError::into_reply)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|_| op.access != Access::Read || op.declares_idempotency_key)
        .map(str::to_owned);
    let Some(key) = key else {
        let reply = run(shared, caller, op, &value);
        if changed_state(op, &reply) {
            shared.persist();
        }
        return Ok(reply);
    };
    let body_print = fingerprint(&value);
    let now = shared.clock.now_millis();
    let slot = (caller.org.clone(), op.id, key);
    {
        let mut inner = shared.lock();
        inner
            .claims
            .retain(|_, claim| now - claim.at_ms < IDEMPOTENCY_RETENTION_MS);
        if let Some(claim) = inner.claims.get(&slot) {
            if claim.fingerprint != body_print {
                return Err(ApiError::conflict(
                    "this Idempotency-Key was already used with a different request body",
                )
                .into_reply());
            }
            return match &claim.reply {
                Some(reply) => {
                    let mut reply = reply.clone();
                    reply.headers.push((
                        http::HeaderName::from_static(REPLAYED_HEADER),
                        HeaderValue::from_static("true"),
                    ));
                    Ok(reply)
                }
                None => Err(ApiError::conflict(
                    "a request with this Idempotency-Key is still being processed",
                )
                .into_reply()),
            };
        }
        inner.claims.insert(
            slot.clone(),
            Claim {
                fingerprint: body_print,
                at_ms: now,
                reply: None,
            },
        );
    }
    let reply = run(shared, caller, op, &value);
    let answered = {
        let mut inner = shared.lock();
        if reply.status.is_server_error() {
            inner.claims.remove(&slot);
            false
        } else if let Some(claim) = inner.claims.get_mut(&slot) {
            claim.reply = Some(reply.clone());
            true
        } else {
            false
        }
    };
    // The effect and the claim that replays it go to the state file in one write, so a
    // restart never finds one without the other.
    if answered || changed_state(op, &reply) {
        shared.persist();
    }
    Ok(reply)
}

/// Whether an answer means the operation changed what the state file keeps.
fn changed_state(op: &OperationInfo, reply: &Reply) -> bool {
    op.access != Access::Read && reply.status.is_success()
}

/// Executes the operation; the caller writes the state file, once, when it is done.
fn run(shared: &Shared, caller: &Caller, op: &'static OperationInfo, value: &Value) -> Reply {
    *shared.lock().counters.entry(op.id.to_owned()).or_insert(0) += 1;
    match execute(shared, caller, op, value) {
        Ok(reply) => reply,
        Err(error) => error.into_reply(),
    }
}

fn authenticate(
    shared: &Shared,
    op: &OperationInfo,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    if !op.needs_credentials {
        return Ok(Caller {
            org: format!("ip:{}", peer.ip()),
            grants: Vec::new(),
        });
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty());
    let api_key = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let Some(token) = bearer.or(api_key) else {
        return Err(ApiError::unauthenticated(
            "missing credentials: send Authorization: Bearer <token> or x-api-key",
        ));
    };
    let now = shared.clock.now_secs();
    let inner = shared.lock();
    match inner.credentials.get(token) {
        Some(key) if key.revoked => {
            Err(ApiError::unauthenticated("the credential has been revoked"))
        }
        Some(key) if key.expires_at.is_some_and(|at| at <= now) => {
            Err(ApiError::unauthenticated("the credential has expired"))
        }
        Some(key) => Ok(Caller {
            org: key.org.clone(),
            grants: key.grants.clone(),
        }),
        None => Err(ApiError::unauthenticated("unknown credential")),
    }
}

fn rate_limit(shared: &Shared, op: &OperationInfo, caller: &Caller) -> Result<(), ApiError> {
    let limits = &shared.limits;
    let unauthenticated = caller.org.starts_with("ip:");
    let mut budgets: Vec<(&'static str, u32)> = Vec::with_capacity(2);
    if unauthenticated {
        budgets.extend(limits.unauthenticated_per_min.map(|cap| ("anonymous", cap)));
    } else {
        budgets.extend(limits.default_per_min.map(|cap| ("default", cap)));
        budgets.extend(limits.class_cap(op.rate_class));
    }
    if budgets.is_empty() {
        return Ok(());
    }
    let window = shared.clock.now_millis().div_euclid(60_000);
    let mut inner = shared.lock();
    if inner.windows.len() > 10_000 {
        inner.windows.retain(|(_, _, at), _| *at >= window);
    }
    let over = budgets.iter().any(|(budget, cap)| {
        inner
            .windows
            .get(&(caller.org.clone(), *budget, window))
            .is_some_and(|count| count >= cap)
    });
    if over {
        let secs = shared.clock.secs_to_minute_end().max(1);
        return Err(ApiError::problem(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {secs} s"),
        )
        .with_header(RETRY_AFTER, secs));
    }
    for (budget, _) in budgets {
        *inner
            .windows
            .entry((caller.org.clone(), budget, window))
            .or_insert(0) += 1;
    }
    Ok(())
}

fn parse_and_validate(
    op: &OperationInfo,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let value = match ApiJson::<Value>::parse(headers, body)? {
        Some(value) => value,
        None if op.body_optional => Value::Null,
        None => return Err(ApiError::Validation(vec![missing_body()])),
    };
    let errors = validate(op.input, &value);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Sends a reply through a body fault.
fn deliver_faulty(reply: Reply, kind: &FaultKind) -> Response {
    let full = reply.body.clone();
    let half = full.len() / 2;
    match kind {
        FaultKind::Malformed => {
            let mut broken = full.slice(..half).to_vec();
            broken.extend_from_slice(b"\x00<<truncated");
            Reply {
                body: Bytes::from(broken),
                ..reply
            }
            .into_response()
        }
        FaultKind::Truncate => {
            let first = full.slice(..half);
            // The pause lets the headers and the first half reach the client before the
            // error makes the server drop the connection.
            let stream = futures::stream::unfold((Some(first), true), |state| async move {
                match state {
                    (Some(first), fail) => Some((Ok::<Bytes, io::Error>(first), (None, fail))),
                    (None, true) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let error =
                            io::Error::new(io::ErrorKind::ConnectionAborted, "injected truncation");
                        Some((Err(error), (None, false)))
                    }
                    (None, false) => None,
                }
            });
            let mut response = Reply {
                body: Bytes::new(),
                ..reply
            }
            .into_response();
            *response.body_mut() = Body::from_stream(stream);
            if let Ok(length) = HeaderValue::from_str(&full.len().to_string()) {
                response.headers_mut().insert(CONTENT_LENGTH, length);
            }
            response
        }
        FaultKind::SlowBody(total) => {
            const PIECES: usize = 10;
            let step = (full.len() / PIECES).max(1);
            let pause = *total / PIECES as u32;
            let pieces: Vec<Bytes> = (0..full.len())
                .step_by(step)
                .map(|start| full.slice(start..(start + step).min(full.len())))
                .collect();
            let stream = futures::stream::unfold(pieces.into_iter(), move |mut rest| async move {
                let piece = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((Ok::<Bytes, Infallible>(piece), rest))
            });
            let mut response = Reply {
                body: Bytes::new(),
                ..reply
            }
            .into_response();
            *response.body_mut() = Body::from_stream(stream);
            if let Ok(length) = HeaderValue::from_str(&full.len().to_string()) {
                response.headers_mut().insert(CONTENT_LENGTH, length);
            }
            response
        }
        _ => reply.into_response(),
    }
}
