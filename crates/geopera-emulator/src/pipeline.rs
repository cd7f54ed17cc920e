//! The stages every operation call goes through, in the API's order: find the operation →
//! authenticate → rate limit → authorize scope → validate → execute (once per idempotency
//! key). Each stage is a small function whose error is the answer; [`run`] strings them
//! together with the injected faults around them. The body is read only for validation,
//! so a caller refused before it has none of its body held ([`crate::op_body`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use geopera_types::headers::IDEMPOTENCY_KEY;
use geopera_types::validate::missing_body;
use geopera_types::{Access, OperationInfo};
use http::header::{ALLOW, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::conn::ConnKill;
use crate::error::{ApiError, ApiJson, Reply};
use crate::faults::deliver;
use crate::faults::select::Injected;
use crate::idempotency::{fingerprint, not_kept, Begin, NotKept};
use crate::limits;
use crate::oidc::sessions::PrincipalKind;
use crate::oidc::{identify, presented_token};
use crate::op_body::OpBody;
use crate::ops::{self, Ctx, KeyBounds};
use crate::records::{rate_windows, ClaimSlot};
use crate::scopes::grants;
use crate::state::{Lane, Shared};
use crate::storage;

/// The per-request header that injects faults into that one request.
pub const FAULT_HEADER: &str = "x-emulator-fault";

/// A call to `/v1/op/{id}`, as the router hands it over.
pub(crate) struct Request<'a> {
    pub id: &'a str,
    pub peer: SocketAddr,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub body: &'a mut OpBody,
}

/// Who is calling, once authenticated.
#[derive(Clone, Debug)]
struct Caller {
    /// The organization, or `ip:<addr>` for an operation that needs no credentials.
    org: String,
    /// Who is calling, stable across the credential's token refreshes: `api_key:<key id>` for
    /// a key or a `client_credentials` session, `user:<user id>` for a user's session. Only
    /// this principal is replayed an answer stored for its idempotency key.
    principal: String,
    /// The grants of the credential used (none without credentials).
    grants: Vec<String>,
    /// Whether the call came without credentials, counted per client address.
    anonymous: bool,
    /// Whether a person signed in makes the call (a user's session), rather than a key.
    person: bool,
    /// What the key (or the key a session acts for) is held to; nothing for a user.
    key: KeyBounds,
    /// The credential presented, asked again just before the operation runs
    /// ([`still_valid`]); `None` without credentials.
    credential: Option<Presented>,
}

/// A credential as presented, kept for [`still_valid`]; never shown.
#[derive(Clone)]
struct Presented(String);

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Runs one call: the plan's faults first, for every caller; then authentication; then the
/// caller's own faults and the remaining stages; faults after execution and on the body last.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    request: Request<'_>,
    kill: Option<ConnKill>,
) -> Response {
    let op = match operation(request.id, request.method) {
        Ok(op) => op,
        Err(error) => return error.into_response(),
    };
    let plan = shared.lock().faults.draw_plan(shared.seed, op.id);
    pause(plan.latency).await;
    if let Some(rule) = &plan.before {
        return deliver::instead(rule, shared, kill).await;
    }
    let (reply, requested) = match authenticate(shared, op, request.peer, request.headers) {
        Err(error) => (error.into_reply(), Injected::default()),
        // A header that is no fault specification is answered 400 as a 401 is: the plan's
        // faults after the operation and on the body act on it.
        Ok(caller) => match own_faults(shared, op, &caller, request.headers, &plan) {
            Err(error) => (error.into_reply(), Injected::default()),
            Ok(requested) => {
                pause(requested.latency_after(plan.latency)).await;
                if let Some(rule) = &requested.before {
                    return deliver::instead(rule, shared, kill).await;
                }
                let reply = admitted(shared, op, &caller, request.headers, request.body)
                    .await
                    .unwrap_or_else(ApiError::into_reply);
                (reply, requested)
            }
        },
    };
    if let Some(rule) = plan.after.as_ref().or(requested.after.as_ref()) {
        return deliver::instead(rule, shared, kill).await;
    }
    match plan.body.or(requested.body) {
        Some(kind) => deliver::with_body_fault(reply, &kind),
        None => reply.into_response(),
    }
}

async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// Rate limit → scope → read the body → validate → storage budget → execute, for an
/// authenticated caller.
async fn admitted(
    shared: &Arc<Shared>,
    op: &'static OperationInfo,
    caller: &Caller,
    headers: &HeaderMap,
    body: &mut OpBody,
) -> Result<Reply, ApiError> {
    rate_limit(shared, op, caller)?;
    authorize(op, caller)?;
    let body = &body.read().await?;
    let input = validated(op, headers, body)?;
    let stores = (!caller.anonymous && op.access != Access::Read).then_some(body.len());
    execute_once(shared, op, caller, headers, input, stores).await
}

/// Asks the storage budget for a request that stores a body of `stores` bytes (when it
/// stores one) and is about to run.
///
/// # Errors
/// 409 from [`storage::admit`].
fn admit_storage(shared: &Shared, caller: &Caller, stores: Option<usize>) -> Result<(), ApiError> {
    match stores {
        Some(bytes) => storage::admit(shared, &caller.org, bytes),
        None => Ok(()),
    }
}

/// Counts what a request that ran and stored a body of `stores` bytes added, once it
/// succeeded: a replayed answer adds nothing.
fn note_storage(shared: &Shared, caller: &Caller, stores: Option<usize>, reply: &Reply) {
    if let (Some(bytes), true) = (stores, reply.status.is_success()) {
        storage::note(shared, &caller.org, bytes + reply.weight());
    }
}

/// The operation a path names, invoked with the one method the API answers.
///
/// # Errors
/// 404 for an unknown id, 405 (with `Allow: POST`) for any other method.
fn operation(id: &str, method: &Method) -> Result<&'static OperationInfo, ApiError> {
    let Some(op) = geopera_types::operations::find(id) else {
        return Err(ApiError::not_found(format!("unknown operation '{id}'")));
    };
    if method != Method::POST {
        return Err(ApiError::problem(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("'{id}' is invoked with POST, not {method}"),
        )
        .with_header(ALLOW, "POST"));
    }
    Ok(op)
}

/// The caller behind the request's credentials (Bearer wins over `x-api-key`), or the
/// client's address for an operation that needs none.
///
/// # Errors
/// 401 for missing, unknown, revoked or expired credentials.
fn authenticate(
    shared: &Shared,
    op: &OperationInfo,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    if !op.needs_credentials {
        let org = limits::anonymous(peer.ip());
        return Ok(Caller {
            principal: org.clone(),
            org,
            grants: Vec::new(),
            anonymous: true,
            person: false,
            key: KeyBounds::default(),
            credential: None,
        });
    }
    let Some(token) = presented_token(headers) else {
        return Err(ApiError::unauthenticated(
            "missing credentials: send Authorization: Bearer <token> or x-api-key",
        ));
    };
    let now = shared.clock.now_secs();
    let inner = shared.lock();
    let identity = identify(&inner, token, now).map_err(ApiError::unauthenticated)?;
    Ok(Caller {
        org: identity.org.to_owned(),
        principal: format!("{}:{}", identity.kind.name(), identity.id),
        grants: identity.grants.to_vec(),
        anonymous: false,
        person: identity.kind == PrincipalKind::User,
        key: KeyBounds {
            rate_limit: identity.key_limit.map(|(_, cap)| cap),
            rate_windows: rate_windows(identity.inherited_limits, identity.key_limit),
            expires_at: identity.key_expires_at,
        },
        credential: Some(Presented(token.to_owned())),
    })
}

/// Refuses a call whose credential was revoked, expired or signed out since it was checked
/// as the request arrived: the body read and the write lane awaited in between can take a
/// minute, and a key revoked meanwhile (stolen, say) must not run one more change, such as
/// minting its own replacement.
///
/// Under the same lock the caller's organization is seen for the first time, if it is new,
/// so that it has its starting records (the default project, its order history) whatever
/// operation comes first, not only after one that reads them; and a clock set back since the
/// last webhook sweep is noticed ([`Inner::notice_set_back`](crate::state::Inner)) before the
/// call changes anything.
fn still_valid(shared: &Shared, caller: &Caller) -> Result<(), ApiError> {
    let Some(Presented(token)) = &caller.credential else {
        return Ok(());
    };
    let mut inner = shared.lock();
    // Read under the lock: one taken before it can be older than a webhook sweep made
    // meanwhile, which `notice_set_back` would take for a clock set back.
    let now = shared.clock.now_secs();
    identify(&inner, token, now)
        .map(drop)
        .map_err(ApiError::unauthenticated)?;
    inner.org(&caller.org, shared.seed, now);
    inner.notice_set_back(now);
    Ok(())
}

/// The faults the caller asked for in [`FAULT_HEADER`], drawn only once it is known (`plan`
/// is what the plan drew for the request, whose strikes the caller's rules may pre-empt). The
/// header's lines are one comma-separated list, as HTTP lets any hop combine them, and a
/// line that cannot be read is refused rather than skipped, which would quietly turn off
/// the faults the test relies on.
///
/// # Errors
/// 400 when the header is not a valid fault specification.
fn own_faults(
    shared: &Shared,
    op: &OperationInfo,
    caller: &Caller,
    headers: &HeaderMap,
    plan: &Injected,
) -> Result<Injected, ApiError> {
    let mut lines = Vec::new();
    for value in headers.get_all(FAULT_HEADER) {
        let line = value.to_str().map_err(|_| {
            ApiError::problem(
                StatusCode::BAD_REQUEST,
                format!(
                    "the {FAULT_HEADER} header is not a fault specification: it has characters \
                     other than visible ASCII"
                ),
            )
        })?;
        lines.push(line);
    }
    let header = (!lines.is_empty()).then(|| lines.join(","));
    let mut drawn = shared.lock().faults.draw_header(
        shared.seed,
        op.id,
        &caller.org,
        header.as_deref(),
        plan,
    )?;
    if caller.anonymous {
        drawn.hold_waits_to(ANONYMOUS_FAULT_WAIT);
    }
    Ok(drawn)
}

/// The longest a header's latency or slow body holds a call without credentials: anyone may
/// send one (`webhooks.drain` needs none), and held for ten minutes each, a few hundred such
/// calls from an address kept that many connections past every timeout the server keeps.
const ANONYMOUS_FAULT_WAIT: Duration = Duration::from_secs(10);

/// Counts the call against every budget it draws from: per client address without
/// credentials; otherwise the organization's default budget and its operation's class, and
/// the windows of the key and of the limited keys it was minted under (which no
/// [`RateLimits`] setting lifts: the client asked for them).
///
/// [`RateLimits`]: crate::RateLimits
///
/// # Errors
/// 429 with `Retry-After` (seconds to the end of the window that refused; every window of a
/// call shares its bounds) when a budget is spent.
fn rate_limit(shared: &Shared, op: &OperationInfo, caller: &Caller) -> Result<(), ApiError> {
    let limits = &shared.limits;
    let mut budgets = Vec::with_capacity(2 + caller.key.rate_windows.len());
    // Calls without credentials are of the per-address class, and their caller's `org` is
    // the client address (`authenticate`).
    for class in op.rate_class.drawn_from() {
        if let Some(cap) = limits.cap(*class) {
            budgets.push((caller.org.clone(), class.name(), cap));
        }
    }
    for (key, cap) in &caller.key.rate_windows {
        budgets.push((key.clone(), "key", *cap));
    }
    limits::admit(shared, &budgets).map_err(|secs| {
        ApiError::problem(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {secs} s"),
        )
        .with_header(RETRY_AFTER, secs)
    })
}

/// # Errors
/// 403 when no grant of the caller covers the operation's scope.
fn authorize(op: &OperationInfo, caller: &Caller) -> Result<(), ApiError> {
    if !op.needs_credentials || caller.grants.iter().any(|grant| grants(grant, op.scope)) {
        return Ok(());
    }
    Err(ApiError::problem(
        StatusCode::FORBIDDEN,
        format!("missing scope '{}' for '{}'", op.scope, op.id),
    ))
}

/// The body as JSON, checked against the operation's input shape (`null` when an optional
/// body was not sent).
///
/// # Errors
/// 422 listing every failure.
fn validated(op: &OperationInfo, headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let mut value = match ApiJson::<Value>::parse(headers, body)? {
        Some(value) => value,
        None if op.body_optional => Value::Null,
        None => return Err(ApiError::Validation(vec![missing_body()])),
    };
    let errors = ops::validate_as_written(op, body, &mut value);
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The longest `Idempotency-Key` kept: a UUID is 36 characters.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Executes the operation, or with an `Idempotency-Key` replays the answer of the request
/// that claimed it; writes the state file once, when something durable changed. The storage
/// budget is asked only of a request that is about to run (`stores`, its body's bytes, when
/// it stores one): a retry whose first request ran, and pushed its organization past the
/// budget, is replayed that answer, not refused as if it had never run.
///
/// # Errors
/// 503 when the state file could not take the change (the key is released); 409 when the key
/// was used by another principal or with another body, or its first request is still
/// running, or the organization stores more than its budget ([`storage::admit`]); 422 for a key that is blank, longer than [`MAX_IDEMPOTENCY_KEY`] or not visible
/// ASCII, which would otherwise be ignored (running the request twice) or kept for a day, and
/// for two different keys on one request, of which either could be the one its retry sends.
async fn execute_once(
    shared: &Arc<Shared>,
    op: &'static OperationInfo,
    caller: &Caller,
    headers: &HeaderMap,
    input: Value,
    stores: Option<usize>,
) -> Result<Reply, ApiError> {
    let keyed = op.takes_idempotency_key();
    let mut keys = headers.get_all(IDEMPOTENCY_KEY).iter();
    if let (true, Some(first)) = (keyed, keys.next()) {
        if keys.any(|other| other != first) {
            return Err(ApiError::invalid_header(
                IDEMPOTENCY_KEY,
                "an Idempotency-Key is sent once: two different keys name no one request"
                    .to_owned(),
            ));
        }
    }
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .filter(|_| keyed)
        .map(|value| {
            value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|key| !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::invalid_header(
                        IDEMPOTENCY_KEY,
                        format!(
                            "an Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII \
                             characters"
                        ),
                    )
                })
        })
        .transpose()?;
    // The write lane is taken before the operation runs; by the two that await deliveries
    // only after, so a slow receiver holds up no one else's change.
    let early = key.is_some() || may_change_state(op);
    let lane = if early && !ops::awaits_deliveries(op.id) {
        Some(shared.lane().await?)
    } else {
        None
    };
    // Asked once the body is read and the write lane held, the waits a revocation can land
    // in, and before any key is claimed: a 401 kept under the key would be replayed to the
    // retry of a caller whose session was renewed meanwhile.
    still_valid(shared, caller)?;
    let Some(key) = key else {
        admit_storage(shared, caller, stores)?;
        let reply = execute(shared, op, caller, input).await;
        if changed_state(op, &reply) {
            let lane = match lane {
                Some(lane) => lane,
                None => shared
                    .lane()
                    .await
                    .map_err(|error| unsent_note(op, error))?,
            };
            shared
                .persist(&lane)
                .map_err(|error| unsent_note(op, error))?;
        }
        note_storage(shared, caller, stores, &reply);
        return Ok(reply);
    };
    let slot = (caller.org.clone(), op.id, key.to_owned());
    let now = shared.clock.now_millis();
    let print = fingerprint(&input);
    let begun = shared
        .lock()
        .claims
        .begin(&slot, &caller.principal, print, now)?;
    if let Begin::Replay(reply) = begun {
        return Ok(reply);
    }
    if let Err(refused) = admit_storage(shared, caller, stores) {
        shared.lock().claims.release(&slot);
        return Err(refused);
    }
    if lane.is_some() {
        // Nothing from here to the answer waits, so the request cannot be left half done.
        let reply = settled(shared, op, caller, slot, input, lane).await?;
        note_storage(shared, caller, stores, &reply);
        return Ok(reply);
    }
    // One that waits on webhook endpoints runs to its end even if its caller hangs up
    // meanwhile, as the API's would: its deliveries are made then, and a retry under the
    // same key is replayed its answer rather than making them a second time.
    let (shared, caller) = (Arc::clone(shared), caller.clone());
    let detached = tokio::spawn(async move {
        let reply = settled(&shared, op, &caller, slot, input, None).await?;
        note_storage(&shared, &caller, stores, &reply);
        Ok(reply)
    });
    detached.await.unwrap_or_else(|_| {
        Err(ApiError::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request ended before it was answered",
        ))
    })
}

/// Runs the operation for a request whose idempotency key `slot` it has claimed, and stores
/// the answer under the key (or frees the key when there is nothing to store).
async fn settled(
    shared: &Shared,
    op: &'static OperationInfo,
    caller: &Caller,
    slot: ClaimSlot,
    input: Value,
    lane: Option<Lane<'_>>,
) -> Result<Reply, ApiError> {
    let claimed = Claimed {
        shared,
        slot: Some(slot),
    };
    let reply = execute(shared, op, caller, input).await;
    let lane = match lane {
        Some(lane) => lane,
        None => shared
            .lane()
            .await
            .map_err(|error| unsent_note(op, error))?,
    };
    let slot = claimed.settling();
    let mut inner = shared.lock();
    // A large answer past the organization's storage budget is not kept whole: a retry under
    // its key is told the request ran, and is not run again ([`storage::keeps_answer`]).
    let kept = if storage::keeps_answer(&mut inner, &caller.org, reply.weight()) {
        reply.clone()
    } else {
        not_kept(NotKept::TooLarge)
    };
    // Not stored only for a server error, which releases the key, or a claim that expired
    // while the request ran: a read-back after another request's failed write keeps the
    // claims of requests still running.
    let answered = inner.claims.settle(&slot, &kept);
    // The effect and the claim that replays it go to the state file in one write, so a
    // restart never finds one without the other.
    if answered || changed_state(op, &reply) {
        if let Err(error) = shared.persist_locked(&lane, &mut inner) {
            // Under the same lock, so no retry replays the success that was not kept: a retry
            // runs again, as after any other server error.
            inner.claims.release(&slot);
            return Err(unsent_note(op, error));
        }
    }
    Ok(reply)
}

/// An idempotency key claimed for a request that has not been answered yet. Dropped before
/// [`settling`](Self::settling) (the write lane could not be had because the state file could
/// not be read back, the emulator stopped while the operation awaited an endpoint), it
/// releases the key: that request will never answer, and a claim left behind would tell every
/// retry for a day that it is still being processed.
struct Claimed<'a> {
    shared: &'a Shared,
    slot: Option<ClaimSlot>,
}

impl Claimed<'_> {
    /// The slot, for the caller to settle or release from here on.
    fn settling(mut self) -> ClaimSlot {
        self.slot.take().unwrap_or_default()
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.shared.lock().claims.release(&slot);
        }
    }
}

/// A write that fails (or a state file that cannot be written to at all by the time the
/// deliveries are done) undoes the state, not the webhook deliveries the operation already
/// made: the client is told, as a retry sends them again (under new ids).
fn unsent_note(op: &OperationInfo, error: ApiError) -> ApiError {
    if ops::awaits_deliveries(op.id) {
        error.with_note(
            "the webhook deliveries it made were already sent, and a retry sends them again",
        )
    } else {
        error
    }
}

/// Whether the operation may change what the state file keeps.
fn may_change_state(op: &OperationInfo) -> bool {
    op.access != Access::Read || ops::records_on_read(op.id)
}

/// Whether an answer means the operation changed what the state file keeps.
fn changed_state(op: &OperationInfo, reply: &Reply) -> bool {
    may_change_state(op) && reply.status.is_success()
}

/// Runs the operation and counts it; its failures are answers too.
async fn execute(
    shared: &Shared,
    op: &'static OperationInfo,
    caller: &Caller,
    input: Value,
) -> Reply {
    *shared.lock().counters.entry(op.id.to_owned()).or_insert(0) += 1;
    let ctx = Ctx {
        shared,
        op,
        org: &caller.org,
        principal: &caller.principal,
        grants: &caller.grants,
        person: caller.person,
        key_bounds: &caller.key,
    };
    ops::execute(&ctx, input)
        .await
        .unwrap_or_else(ApiError::into_reply)
}
