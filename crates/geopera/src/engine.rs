//! The call engine: one async retry loop that every call runs through, async or blocking.
//!
//! A call is planned once (URL, headers, idempotency key, retry budget, deadline), then each
//! attempt is admitted by the limiter, sent — following redirects when asked — and its answer
//! read within the response-size cap; [`retry::decide`] settles what follows. Blocking calls
//! run this same loop on their own thread ([`crate::blocking`]): the only difference is the
//! [`Face`] they come through.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt as _};
use geopera_types::headers::{API_KEY, IDEMPOTENCY_KEY, REQUEST_ID};
use geopera_types::{DecodeOutput, HttpValidationError, OperationInfo, Problem, RetryClass};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use tracing::Instrument as _;

use crate::auth::oidc::Via;
use crate::auth::{AuthContext, Credential};
use crate::body::ReadError;
use crate::bounds::{self, BodyFailure, Bounds, Elapsed};
use crate::caller::Caller;
use crate::client::{parse_header, Client};
use crate::limiter::{Refused, SendBy};
use crate::redact::Redactor;
use crate::redirect::Hop;
use crate::request::CallOptions;
use crate::response::problem_of;
use crate::retry::{self, Decision, Outcome};
use crate::{Error, Parsed, Response, TimeoutLimit};

/// What a call comes through: the HTTP client whose pool carries it and, for a blocking call,
/// the thread it stops — a wait that only that thread could end is refused, not entered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Face<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) blocking: Option<Caller>,
}

impl Face<'_> {
    /// What a credentials provider may use while it renews: this face's HTTP client, and
    /// `client`'s limiter, which paces sign-in requests.
    pub(crate) fn auth<'a>(&'a self, client: &'a Client) -> AuthContext<'a> {
        AuthContext {
            via: Via::of(client, self.http),
            blocking: self.blocking,
        }
    }
}

impl Client {
    /// The face of async calls: the client's own pool, driven by the caller's runtime.
    pub(crate) fn async_face(&self) -> Face<'_> {
        Face {
            http: &self.http,
            blocking: None,
        }
    }
}

/// An answer before parsing.
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) content: Bytes,
    pub(crate) attempts: u32,
    /// The call's `X-Request-Id`.
    pub(crate) request_id: String,
    /// The call's credentials, kept out of any error made from this answer.
    pub(crate) redactor: Redactor,
    /// Whether a redirect chain that left the API's origin led to this answer: its 401 is no
    /// verdict on the call's credential, which was not sent past that hop, and its 429 no
    /// word on the API's rate budget.
    pub(crate) foreign: bool,
    /// Whether the answer came past a redirect: the API answered the call's own request
    /// already, so even a 401 or 429 here leaves unknown whether the call ran.
    pub(crate) redirected: bool,
}

/// Sends a call and reads its whole answer, retrying as the policy allows.
pub(crate) async fn execute(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<RawResponse, Error> {
    match run::<Infallible>(client, face, info, options, payload, None).await? {
        Answer::Read(raw) => Ok(raw),
        Answer::Open(never) => match never {},
    }
}

/// Sends a call whose answer is read as a stream: retried like any call until an answer
/// arrives; a success answer is handed over unread, with the call's request id for the errors
/// of the stream; any other answer is turned into its error.
pub(crate) async fn open(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<Opened, Error> {
    let opened = run(
        client,
        face,
        info,
        options,
        payload,
        Some(|response, request_id: &str, bounds, redactor: &Redactor| {
            (response, request_id.to_owned(), bounds, redactor.clone())
        }),
    )
    .await?;
    match opened {
        Answer::Open((response, request_id, bounds, redactor)) => Ok(Opened {
            headers: response.headers().clone(),
            body: Box::pin(bounds::chunks(response, bounds).map(move |chunk| {
                chunk.map_err(|failure| match failure {
                    BodyFailure::Transport(error) => Error::from_reqwest(info.id, error),
                    BodyFailure::Elapsed(limit) => Error::timed_out(info.id, limit),
                })
            })),
            request_id,
            redactor,
        }),
        Answer::Read(raw) => Err(not_a_stream(client, info, raw)),
    }
}

/// A success answer whose body is read as it arrives, within the bounds of the attempt that
/// opened it: what is left of the deadline, and the read timeout between two chunks.
pub(crate) struct Opened {
    pub(crate) headers: HeaderMap,
    /// The body's chunks; it ends after the first error, which carries no request id yet.
    pub(crate) body: BoxStream<'static, Result<Bytes, Error>>,
    /// The call's `X-Request-Id`, for the errors of the stream.
    pub(crate) request_id: String,
    /// The credentials the answer was asked with (a provider's token included), kept out of
    /// the errors of the stream.
    pub(crate) redactor: Redactor,
}

/// What a call yields: an answer read whole, or — for a stream — a success answer whose body
/// is left for the caller to read as it arrives.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once and matched at once; boxing the answer would cost every call an allocation"
)]
enum Answer<S> {
    Read(RawResponse),
    Open(S),
}

/// How a stream's success answer is handed over, with the call's request id; `None` for calls
/// read whole.
type KeepOpen<S> = Option<fn(reqwest::Response, &str, Bounds, &Redactor) -> S>;

/// The error a non-success answer to a stream request stands for.
fn not_a_stream(client: &Client, info: &'static OperationInfo, raw: RawResponse) -> Error {
    let status = raw.status;
    let request_id = raw.request_id.clone();
    match classify::<serde_json::Value>(client, info, raw).and_then(Response::into_result) {
        Err(error) => error,
        Ok(_) => {
            Error::unexpected_status(info.id, status, Bytes::new(), 1).with_request_id(&request_id)
        }
    }
}

/// The headers of one call: the client's prepared ones plus the call's options.
fn call_headers(
    client: &Client,
    info: &OperationInfo,
    options: &CallOptions,
) -> Result<HeaderMap, Error> {
    let mut headers = client.settings.prepared.clone();
    if let Some(key) = &options.api_key {
        // Sent empty, it would be refused as a wrong key, never as the mistake it is.
        if key.expose().trim().is_empty() {
            return Err(Error::invalid(info.id, "the x-api-key is empty"));
        }
        let mut value = HeaderValue::from_str(key.expose())
            .map_err(|_| Error::invalid(info.id, "the x-api-key is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(API_KEY, value);
    }
    if let Some(key) = &options.idempotency_key {
        // A blank key is one every such call would share: the second would replay the first.
        if key.trim().is_empty() {
            return Err(Error::invalid(info.id, "the Idempotency-Key is empty"));
        }
        let value = HeaderValue::from_str(key).map_err(|_| {
            Error::invalid(info.id, "the Idempotency-Key is not a valid header value")
        })?;
        headers.insert(IDEMPOTENCY_KEY, value);
    }
    if let Some(id) = &options.request_id {
        // An empty id names no call: logs could not tell this one from any other.
        if id.trim().is_empty() {
            return Err(Error::invalid(info.id, "the X-Request-Id is empty"));
        }
        let value = HeaderValue::from_str(id)
            .map_err(|_| Error::invalid(info.id, "the X-Request-Id is not a valid header value"))?;
        headers.insert(REQUEST_ID, value);
    }
    for (name, value) in &options.headers {
        let (name, value) =
            parse_header(name, value).map_err(|reason| Error::invalid(info.id, reason))?;
        headers.insert(name, value);
    }
    // A request carries one `Cookie` header: a call's (the last it set, as for any header)
    // joins the client's cookies, which `ClientBuilder::cookie` sends with every call, rather
    // than replace them; a client cookie of a name the call sets gives way to the call's.
    // Looked at only for a call that set one: most set no header at all.
    let sets_cookie = options
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("cookie"));
    let client_cookies = client.settings.prepared.get(http::header::COOKIE);
    if let (true, Some(client), Some(call)) = (
        sets_cookie,
        client_cookies,
        headers.get(http::header::COOKIE),
    ) {
        let joined = crate::client::joined_cookies(call.as_bytes(), client.as_bytes(), false);
        if let Ok(mut joined) = HeaderValue::from_bytes(&joined) {
            joined.set_sensitive(true);
            headers.insert(http::header::COOKIE, joined);
        }
    }
    // A client's own fixed credential decides who calls, as `Request::api_key` and
    // `Request::header` say: a call's `Authorization` gives way to it, and so does its
    // `x-api-key` when the client's credential is sent as one. Only a call that set its own
    // headers is looked at again.
    if options.api_key.is_some() || !options.headers.is_empty() {
        if let Some(credential) = &client.settings.fixed {
            if let Ok((name, value)) = credential.header() {
                headers.remove(http::header::AUTHORIZATION);
                headers.insert(name, value);
            }
        }
    }
    Ok(headers)
}

/// The id a call goes by: the caller's own, or a fresh UUID v4 — also in place of a
/// client-wide default header, since one id names one call.
fn request_id(
    info: &OperationInfo,
    options: &CallOptions,
    headers: &mut HeaderMap,
) -> Result<String, Error> {
    if options.request_id.is_some() {
        if let Some(id) = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
            return Ok(id.to_owned());
        }
        return Err(Error::invalid(
            info.id,
            "the X-Request-Id is not a visible-ASCII header value",
        ));
    }
    let id = crate::request_ids::new_request_id().to_string();
    let value = HeaderValue::from_str(&id)
        .map_err(|_| Error::invalid(info.id, "a generated request id is not a header value"))?;
    headers.insert(REQUEST_ID, value);
    Ok(id)
}

/// The parts of a call that stay the same across its attempts.
struct Plan {
    url: String,
    headers: HeaderMap,
    /// The `X-Request-Id` every attempt sends.
    request_id: String,
    /// Whether ambiguous failures may be retried.
    safe: bool,
    /// Whether the call sends an `Idempotency-Key`.
    keyed: bool,
    /// Whether the body holds credentials ([`crate::redirect::Hop::secret_body`]).
    secret_body: bool,
    max_retries: u32,
    timeout: Option<Duration>,
    /// When the whole call must be over, on the client's clock.
    deadline_at: Option<Duration>,
    redactor: Redactor,
}

fn plan(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    stream: bool,
) -> Result<Plan, Error> {
    let settings = &client.settings;
    let mut headers = call_headers(client, info, options)?;
    let request_id = request_id(info, options, &mut headers)?;
    let mut has_key = options.idempotency_key.is_some();
    if !has_key
        && settings.retry.auto_idempotency_keys
        && info.retry == RetryClass::NeedsIdempotencyKey
    {
        // One key per logical call, sent unchanged on every attempt; straight from the OS,
        // never from the request ids' buffer (see `request_ids`).
        let key = crate::request::new_idempotency_key();
        if let Ok(value) = HeaderValue::from_str(&key) {
            headers.insert(IDEMPOTENCY_KEY, value);
            has_key = true;
        }
    }
    let deadline = options.deadline.or(settings.deadline);
    Ok(Plan {
        url: format!("{}{}", settings.base_url, info.path),
        headers,
        request_id,
        safe: info.retry == RetryClass::Safe || has_key,
        keyed: has_key,
        secret_body: options.body_secrets.is_some(),
        max_retries: options.retries.unwrap_or(settings.retry.max_retries),
        // A stream may legitimately take long: the client's timeout does not apply, only the
        // deadline, the read timeout, and a timeout this call sets, which then bounds the
        // whole stream as it bounds any attempt.
        timeout: if stream {
            options.timeout
        } else {
            options.timeout.or(settings.timeout)
        },
        // `Duration::MAX` is a caller's "no deadline", not an overflow.
        deadline_at: deadline.map(|d| client.clock().now().saturating_add(d)),
        redactor: Redactor::for_call(client, options),
    })
}

impl Plan {
    /// Time left before the deadline, if there is one.
    fn remaining(&self, client: &Client) -> Option<Duration> {
        self.deadline_at
            .map(|at| at.saturating_sub(client.clock().now()))
    }

    /// The bounds of an attempt starting now: its timeout cut to the deadline, and the read
    /// timeout.
    fn bounds(&self, client: &Client) -> Bounds {
        let (attempt, limit) = match (self.timeout, self.remaining(client)) {
            (Some(t), Some(left)) if left < t => (Some(left), TimeoutLimit::Deadline),
            (Some(t), _) => (Some(t), TimeoutLimit::Attempt),
            (None, left) => (left, TimeoutLimit::Deadline),
        };
        Bounds::starting_now(attempt, limit, client.settings.read_timeout)
    }
}

/// Refuses an async call polled outside any Tokio runtime (`futures::executor::block_on`,
/// another executor): its connections and timers run on Tokio's, and Tokio would panic at the
/// first of them, so the caller gets an error naming the call instead of a panic.
///
/// # Errors
/// [`Error::InvalidRequest`] for `operation_id` when no runtime is current.
pub(crate) fn outside_tokio(operation_id: &str) -> Result<(), Error> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::invalid(
            operation_id,
            "the call was awaited outside a Tokio runtime, which async calls need for their \
             connections and timers: await it inside one with I/O and time enabled \
             (#[tokio::main], Runtime::block_on), or use the call's blocking form",
        )),
    }
}

/// The retry loop, bounded as a whole by the deadline.
async fn run<S>(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
    keep_open: KeepOpen<S>,
) -> Result<Answer<S>, Error> {
    // A blocking call's face runs on a runtime of the SDK's own; an async one on the caller's.
    if face.blocking.is_none() {
        outside_tokio(info.id)?;
    }
    let plan = plan(client, info, options, keep_open.is_some())?;
    let span = tracing::debug_span!(
        "geopera.call",
        operation_id = info.id,
        request_id = plan.request_id.as_str(),
        attempts = tracing::field::Empty
    );
    let attempts = AtomicU32::new(0);
    // Not asked for an operation that needs no credentials (`webhooks.drain`): a provider
    // that cannot renew (its identity provider down, its session over) must not fail a call
    // that goes without, nor spend a sign-in request on it.
    let provider = client
        .settings
        .credentials
        .as_deref()
        .filter(|_| client.settings.fixed.is_none() && info.needs_credentials);
    let work = async {
        let mut attempt = 0;
        let mut refreshed = false;
        // Attempts that were a resend after a 401 renewed the credential: outside the retry
        // policy (the credential, not the API, failed), they use up none of its retries.
        let mut resends = 0;
        // The answer of the attempt a retry follows, which the call ends with when the retry
        // cannot be sent in time.
        let mut previous = None;
        // Whether an attempt of this keyed call may still be running on the server.
        let mut may_still_run = false;
        loop {
            attempt += 1;
            // The credential comes before the call's turn: renewing it may send a sign-in
            // request, which waits for a turn of its own under the client's pacing. Taken
            // after, the call's turn would be spent while it waited, and the call sent at the
            // sign-in's time instead of its own, past what the pacing allows; and every call
            // waiting for the renewal would hold its turn and in-flight slot meanwhile, and
            // go at once when it ends.
            let mut credential = match provider {
                Some(provider) => Some(provider.credential(face.auth(client)).await?),
                None => None,
            };
            let admission = match client
                .limiter
                .admit(
                    info.id,
                    info.rate_class,
                    face.blocking,
                    SendBy(plan.deadline_at),
                )
                .await
            {
                Ok(admission) => admission,
                Err(Refused::WouldDeadlock) => return Err(Error::would_deadlock(info.id)),
                // Refused before it was sent, this attempt is not one of those made. A retry
                // held past the deadline (a longer pause another call's 429 asked for, the
                // pacing, the shared budget) ends with the answer before it, as a retry that
                // would wait too long does: a 429 stays `RateLimited`, with its `Retry-After`.
                Err(Refused::PastDeadline) => {
                    return match previous.take() {
                        Some(before) => finish(info, attempt - 1, before, Decision::Finish),
                        None => Err(Error::deadline(info.id, attempt - 1)),
                    }
                }
            };
            // Held up on the way (a pause, the shared budget, a long queue), the call asks
            // again: a session's credential may be due for renewal by now, and sent as it was
            // it would come back as a 401. Asking a session whose credential is fresh costs a
            // read; a provider is asked twice only for calls that were held.
            if let (true, Some(provider)) = (admission.waited, provider) {
                credential = Some(provider.credential(face.auth(client)).await?);
            }
            // Counted once it goes: a deadline that passes while the call renews its
            // credential or waits for its turn ends it with the attempts made before.
            attempts.store(attempt, Ordering::Relaxed);
            let sent = crate::clock::Sent::now(&**client.clock());
            let result = match send(
                client,
                face,
                info,
                &plan,
                (payload.clone(), credential.as_ref()),
                attempt,
                keep_open,
            )
            .await
            {
                Ok(Answer::Open(response)) => return Ok(Answer::Open(response)),
                Ok(Answer::Read(raw)) => Ok(raw),
                Err(failure) => Err(failure),
            };
            let answered_at = sent.answered_at(&**client.clock());
            // Read, the answer has nothing in flight: the slot is not held through what comes
            // next, a renewal or the wait before a retry.
            drop(admission);
            if let (Some(provider), Some(credential), Ok(raw)) = (provider, &credential, &result) {
                // The API authenticates before anything else, so a 401 to the call's own
                // request means nothing ran: sending again with a renewed credential is safe
                // for every operation. Past a redirect, the API answered that request already.
                let may_send_again = !raw.redirected || plan.safe;
                if raw.status == StatusCode::UNAUTHORIZED
                    && !raw.foreign
                    && may_send_again
                    && !refreshed
                {
                    refreshed = true;
                    if provider.rejected(credential, face.auth(client)).await? {
                        tracing::debug!(
                            operation_id = info.id,
                            attempt,
                            "credential renewed after 401"
                        );
                        // Held past the deadline, the resend ends with this 401, not an
                        // answer from before it.
                        previous = Some(result);
                        resends += 1;
                        continue;
                    }
                }
            }
            // Which try of the retry policy this attempt was, and, for a 429 without
            // `Retry-After`, the one draw of its backoff that the shared budget, the class's
            // pause and the retry all wait.
            let tries = attempt - resends;
            let mut drawn = None;
            if client.limiter.has_budget() {
                if let Ok(raw) = &result {
                    if raw.status == StatusCode::TOO_MANY_REQUESTS && !raw.foreign {
                        let wait = retry::retry_after(&raw.headers).unwrap_or_else(|| {
                            *drawn.get_or_insert_with(|| client.settings.retry.backoff_for(tries))
                        });
                        // A wait longer than the client waits out fails this call; passed
                        // on, it would hold every call of the class that the budget reaches, in
                        // every process sharing it, for as long as one answer asked.
                        if client.settings.retry.waits_out(wait) {
                            client.limiter.tell_limited(info.rate_class, wait).await;
                        }
                    }
                }
            }
            let claim_may_be_held = plan.keyed && may_still_run;
            may_still_run |= may_be_running(&result);
            match assess(
                client,
                info,
                &plan,
                (attempt, tries, drawn),
                answered_at,
                &result,
                claim_may_be_held,
            ) {
                Step::RetryAt(at) => {
                    client.clock().sleep_until(at).await;
                    previous = Some(result);
                }
                Step::Finish(decision) => return finish(info, attempt, result, decision),
            }
        }
    }
    .instrument(span.clone());
    let result = match plan.remaining(client) {
        None => work.await,
        Some(left) => match tokio::time::timeout(left, work).await {
            Ok(result) => result,
            Err(_) => Err(Error::deadline(info.id, attempts.load(Ordering::Relaxed))),
        },
    };
    span.record("attempts", attempts.load(Ordering::Relaxed));
    // The one place a call's errors are named after it.
    result.map_err(|error| error.with_request_id(&plan.request_id))
}

/// One attempt: the request, its redirects when the client follows them, and the answer read
/// within the cap — or, for a stream's success, left open.
async fn send<S>(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    plan: &Plan,
    sending: (Bytes, Option<&Credential>),
    attempt: u32,
    keep_open: KeepOpen<S>,
) -> Result<Answer<S>, (Error, Outcome)> {
    let bounds = plan.bounds(client);
    let whole = bounds.whole();
    // Inside one timer for the whole attempt, the waits themselves need none.
    let steps = match whole {
        Some(_) => Bounds::none(),
        None => bounds,
    };
    let exchange = exchange(
        client,
        face,
        info,
        plan,
        sending,
        attempt,
        (keep_open, steps, bounds),
    );
    match whole {
        Some((until, limit)) => tokio::time::timeout_at(until, exchange)
            .await
            .unwrap_or_else(|_| Err(timed_out(info, limit))),
        None => exchange.await,
    }
}

/// An attempt's bound ran out: whatever was sent may have arrived.
fn timed_out(info: &'static OperationInfo, limit: TimeoutLimit) -> (Error, Outcome) {
    (Error::timed_out(info.id, limit), Outcome::Ambiguous)
}

/// The exchange of [`send`]: each wait for the answer within `steps`, and a stream's body
/// handed over with the attempt's `bounds` for its reading.
async fn exchange<S>(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    plan: &Plan,
    (payload, credential): (Bytes, Option<&Credential>),
    attempt: u32,
    (keep_open, steps, bounds): (KeepOpen<S>, Bounds, Bounds),
) -> Result<Answer<S>, (Error, Outcome)> {
    let started = Instant::now();
    let with_credential;
    let (headers, redactor) = match credential {
        None => (&plan.headers, plan.redactor.clone()),
        Some(credential) => {
            let (name, value) = credential
                .header()
                .map_err(|e| (plan.redactor.error(e), Outcome::Fatal))?;
            let mut headers = plan.headers.clone();
            // The client's credential decides who calls, from a provider as from a fixed
            // one: a call's own `Authorization` would otherwise travel beside a key sent as
            // `x-api-key`, and the API reads the bearer token first.
            headers.remove(http::header::AUTHORIZATION);
            headers.insert(name, value);
            with_credential = headers;
            (
                &with_credential,
                plan.redactor.with_credential(credential.secret()),
            )
        }
    };
    let mut hop = Hop::first(&plan.url, headers, payload, plan.secret_body);
    let mut response = loop {
        let mut request = face
            .http
            .request(hop.method.clone(), &*hop.url)
            .headers(hop.headers.clone().into_owned());
        if let Some(body) = &hop.body {
            request = request.body(body.clone());
        }
        // Every hop of a redirect chain is within the attempt's bounds.
        let response = steps
            .step(request.send())
            .await
            .map_err(|Elapsed(limit)| timed_out(info, limit))?
            .map_err(transport_failure(info, hop.redirects))?;
        let next = if client.settings.follow_redirects {
            hop.follow(response.status(), response.headers())
        } else {
            None
        };
        match next {
            Some(next) => hop = next,
            None => break response,
        }
    };
    let status = response.status();
    tracing::debug!(
        operation_id = info.id,
        attempt,
        status = status.as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "answered"
    );
    if let Some(open) = keep_open {
        if status.as_u16() == info.success_status {
            return Ok(Answer::Open(open(
                response,
                &plan.request_id,
                bounds,
                &redactor,
            )));
        }
    }
    let limit = client.settings.max_response_bytes;
    let content = crate::body::read(&mut response, limit, &steps)
        .await
        .map_err(|error| match error {
            // Asking again would bring the same oversized answer.
            ReadError::TooLarge => (Error::too_large(info.id, limit), Outcome::Fatal),
            ReadError::Transport(e) => (Error::from_reqwest(info.id, e), Outcome::Ambiguous),
            ReadError::Elapsed(limit) => timed_out(info, limit),
        })?;
    Ok(Answer::Read(RawResponse {
        status,
        headers: std::mem::take(response.headers_mut()),
        content,
        attempts: attempt,
        request_id: plan.request_id.clone(),
        redactor,
        foreign: hop.left_origin,
        redirected: hop.redirects > 0,
    }))
}

/// Sorts a transport failure by whether the request can have reached the server. Past the
/// first hop of a redirect chain the API has already answered, so even a refused connection
/// leaves the call's effect unknown.
fn transport_failure(
    info: &'static OperationInfo,
    redirects: usize,
) -> impl Fn(reqwest::Error) -> (Error, Outcome) {
    move |e| {
        let outcome = if crate::error::certificate_failure(&e).is_some() {
            // The same certificate would be refused again.
            Outcome::Fatal
        } else if e.is_connect() && redirects == 0 {
            Outcome::NotSent
        } else if e.is_builder() || e.is_redirect() {
            Outcome::Fatal
        } else {
            Outcome::Ambiguous
        };
        let error = if redirects > 0 {
            Error::from_reqwest(info.id, crate::redirect::without_signature(e)).after_redirect()
        } else {
            Error::from_reqwest(info.id, e)
        };
        (error, outcome)
    }
}

/// Whether the request of an attempt that ended so may have reached the API and still be
/// running there: no complete answer came, or a gateway's transient status.
fn may_be_running(result: &Result<RawResponse, (Error, Outcome)>) -> bool {
    match result {
        Ok(raw) => !raw.foreign && retry::is_transient(raw.status),
        Err((_, outcome)) => *outcome == Outcome::Ambiguous,
    }
}

/// What the loop does next: wake at an instant on the client's clock and retry, or finish.
enum Step {
    RetryAt(Duration),
    Finish(Decision),
}

/// Settles one attempt. `answered_at` is when its answer was read: the API's `Retry-After`
/// in seconds counts from the answer (RFC 9110), which may come long after the request went
/// (a slow server, a queue in front of it), and waits measured from then end on time however
/// late the answer is processed here (a shared budget told first). A `Retry-After` that is a
/// date names its instant, so its wait, read against the time now, counts from now.
/// `claim_may_be_held` when the call is keyed and an earlier attempt may still be running:
/// a 409 is then [`Outcome::KeyInUse`]. `attempt` counts every attempt, `tries` those the
/// retry policy counts (a resend after a renewed credential is not one), and `drawn` is the
/// backoff a 429 without `Retry-After` was already told to the shared budget with.
fn assess(
    client: &Client,
    info: &'static OperationInfo,
    plan: &Plan,
    (attempt, tries, drawn): (u32, u32, Option<Duration>),
    answered_at: Duration,
    result: &Result<RawResponse, (Error, Outcome)>,
    claim_may_be_held: bool,
) -> Step {
    let policy = &client.settings.retry;
    // A 429 without `Retry-After` is retried after the backoff: it may come from something
    // in front of the API with windows of its own, and waiting out the API's minute on a
    // guess would hold a call (and a whole shared budget) for up to a minute with no word.
    // Its error, once the retries are spent, still estimates the API's window for a caller
    // deciding when to come back ([`crate::Error::retry_after`]).
    let (outcome, asked) = match result {
        Ok(raw) if raw.status == StatusCode::TOO_MANY_REQUESTS && raw.redirected => (
            Outcome::LimitedPastRedirect,
            retry::read_retry_after(&raw.headers),
        ),
        Ok(raw) if raw.status == StatusCode::CONFLICT && claim_may_be_held && !raw.foreign => {
            (Outcome::KeyInUse, retry::read_retry_after(&raw.headers))
        }
        Ok(raw) => (
            Outcome::Status(raw.status.as_u16()),
            retry::read_retry_after(&raw.headers),
        ),
        Err((_, outcome)) => (*outcome, None),
    };
    let wait = asked.map(|asked| asked.wait);
    let now = client.clock().now();
    // Where a 429's wait counts from: the answer, for seconds and for the backoff; now, for
    // a date, whose wait was read against the time now.
    let limited_since = if asked.is_some_and(|asked| asked.dated) {
        now
    } else {
        answered_at
    };
    let limited = matches!(outcome, Outcome::Status(429) | Outcome::LimitedPastRedirect);
    let mut paused = None;
    if limited && !result.as_ref().is_ok_and(|raw| raw.foreign) {
        let pause = wait.unwrap_or_else(|| drawn.unwrap_or_else(|| policy.backoff_for(tries)));
        if policy.waits_out(pause) {
            client
                .limiter
                .pause_until(info.rate_class, limited_since.saturating_add(pause));
            paused = Some(pause);
        }
    }
    let mut decision = retry::decide(policy, plan.max_retries, outcome, wait, plan.safe, tries);
    if let (Decision::RetryAfter(backoff), Some(pause), None) = (&mut decision, paused, wait) {
        // Without `Retry-After` both are a draw of the jittered backoff: the retry waits the
        // pause its class now waits, rather than a second draw, which could end sooner and
        // leave it held by the pause when it wakes.
        *backoff = pause;
    }
    if let (Decision::RetryAfter(wait), Some(left)) = (&decision, plan.remaining(client)) {
        if *wait >= left {
            // Waiting would outlive the deadline: hand back what we have instead.
            decision = Decision::Finish;
        }
    }
    match decision {
        Decision::RetryAfter(wait) => {
            // `outcome` and `wait_ms` are read by programs too (a command line saying why it
            // waits), so they are text and a number rather than Rust's `Debug` of each.
            tracing::debug!(
                operation_id = info.id,
                attempt,
                outcome = %outcome,
                ?wait,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying"
            );
            let base = if limited { limited_since } else { now };
            Step::RetryAt(base.saturating_add(wait))
        }
        decision => Step::Finish(decision),
    }
}

/// Turns the last attempt into the call's result.
fn finish<S>(
    info: &'static OperationInfo,
    attempt: u32,
    result: Result<RawResponse, (Error, Outcome)>,
    decision: Decision,
) -> Result<Answer<S>, Error> {
    if let Decision::TooLongToWait(wait) = decision {
        tracing::debug!(
            operation_id = info.id,
            attempt,
            ?wait,
            "not retried: the answer asks for a longer wait than the retry policy allows"
        );
    }
    // The answer goes on as it is, a 429 too: `send` and every call that returns a model make
    // it `Error::RateLimited`, while `send_detailed` hands it back as a value, as it does any
    // status the contract leaves out, unless the client raises on those.
    match (result, decision) {
        (Ok(mut raw), _) => {
            raw.attempts = attempt;
            Ok(Answer::Read(raw))
        }
        (Err((mut error, _)), _) => {
            error.set_attempts(attempt);
            Err(error)
        }
    }
}

/// The answer's `Content-Type`, when it has a readable one.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// Whether the answer says it is a problem. A media type is compared without its parameters
/// and case-insensitively (RFC 9110, section 8.3.1): `Application/Problem+JSON; charset=utf-8`
/// is one too.
fn is_problem_json(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(geopera_types::PROBLEM_JSON)
    })
}

/// Parses an answer according to the operation's documented statuses.
pub(crate) fn classify<T: DecodeOutput>(
    client: &Client,
    info: &'static OperationInfo,
    raw: RawResponse,
) -> Result<Response<T>, Error> {
    let redactor = raw.redactor.clone();
    let request_id = raw.request_id.clone();
    parse(client, info, raw).map_err(|error| redactor.error(error).with_request_id(&request_id))
}

fn parse<T: DecodeOutput>(
    client: &Client,
    info: &'static OperationInfo,
    raw: RawResponse,
) -> Result<Response<T>, Error> {
    let RawResponse {
        status,
        headers,
        content,
        attempts,
        request_id,
        redactor,
        ..
    } = raw;
    let code = status.as_u16();
    let raise = client.settings.raise_on_unexpected_status;
    if code == 429 && raise {
        // Undocumented in the contract, yet never "unexpected": it carries its wait.
        return Err(Error::rate_limited(info.id, &headers, &content, attempts));
    }
    let documented = code == info.success_status || info.error_statuses.contains(&code);
    // A client that follows redirects gets the image or, after a chain it gave up on, the
    // redirect as an unexpected status: only an unfollowed one is the address asked for.
    let redirected_to = status
        .is_redirection()
        .then(|| headers.get(http::header::LOCATION)?.to_str().ok())
        .flatten()
        .filter(|_| info.answers_with_redirect() && !client.settings.follow_redirects);
    let parsed = if code == info.success_status {
        T::decode_output(content_type(&headers), &content).map_or(Parsed::Unparsed, Parsed::Success)
    } else if let Some(location) = redirected_to {
        // The API answers a quicklook or thumbnail with a redirect to where the image is
        // stored, which the contract leaves out: not followed, that address is the answer, as
        // the CLI prints it (followed, the image's bytes are the detailed answer's content).
        let answer = Bytes::from(geopera_types::redirect_answer(code, location));
        T::decode_output(Some("application/json"), &answer)
            .map_or(Parsed::Unparsed, Parsed::Success)
    } else if documented && code == 422 {
        // FastAPI's list of failures; a server answering its 422 as a problem (or as a bare
        // `{"detail": "..."}`) still said what was wrong.
        problem_of::<HttpValidationError>(&content)
            .map(Parsed::Validation)
            .or_else(|| problem_of::<Problem>(&content).map(Parsed::Problem))
            .unwrap_or(Parsed::Unparsed)
    } else if raise && !documented {
        return Err(Error::unexpected_status(info.id, status, content, attempts));
    } else if documented || is_problem_json(&headers) {
        problem_of::<Problem>(&content).map_or(Parsed::Unparsed, Parsed::Problem)
    } else {
        Parsed::Unparsed
    };
    Ok(Response {
        operation_id: info.id,
        status,
        headers,
        content,
        parsed,
        attempts,
        request_id,
        redactor,
    })
}
