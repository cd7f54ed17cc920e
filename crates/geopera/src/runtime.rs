//! The hand-written machinery every generated operation function calls into: build the
//! request, send it, classify the answer.
//!
//! Generic code is kept to the thin edges (serializing the input, decoding the output) so
//! that 227 operations do not multiply the code that does the work.

use bytes::Bytes;
use std::time::Duration;

use geopera_types::{HttpValidationError, Operation, OperationInfo, Problem, RetryClass};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::body::ReadError;
use crate::client::{parse_header, Client};
#[cfg(feature = "blocking")]
use crate::limiter::{Caller, WouldDeadlock};
use crate::redact::Redactor;
use crate::redirect::Hop;
use crate::request::CallOptions;
use crate::retry::{self, Decision, Outcome};
use crate::{Error, IntoRequest, Parsed, Request, Response};

/// An answer before parsing.
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) content: Bytes,
    pub(crate) attempts: u32,
    /// The call's credentials, kept out of any error made from this answer.
    pub(crate) redactor: Redactor,
}

/// Turns any accepted body into checked JSON; the only generic step before sending.
pub(crate) fn checked<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<(serde_json::Value, CallOptions), Error> {
    let Request { body, options } = body.into_request();
    let json = body
        .into_json()
        .map_err(|e| Error::unserializable(O::INFO.id, &e))?;
    check(client, O::INFO, &json)?;
    Ok((json, options))
}

/// [`checked`], serialized for sending.
pub(crate) fn prepare<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<(Bytes, CallOptions), Error> {
    let (json, options) = checked::<O>(client, body)?;
    Ok((to_payload(O::INFO, &json)?, options))
}

/// The one local check of a request body, whatever form it came in: the operation's input
/// shape, as the API itself validates it — unless the client leaves checking to the API.
fn check(
    client: &Client,
    info: &'static OperationInfo,
    json: &serde_json::Value,
) -> Result<(), Error> {
    if !client.settings.validate_input {
        return Ok(());
    }
    let failures = geopera_types::validate::validate(info.input, json);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_input(info, failures))
    }
}

pub(crate) fn to_payload(
    info: &'static OperationInfo,
    json: &serde_json::Value,
) -> Result<Bytes, Error> {
    serde_json::to_vec(json)
        .map(Bytes::from)
        .map_err(|e| Error::unserializable(info.id, &e))
}

pub(crate) async fn send<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<O::Output, Error> {
    send_detailed::<O>(client, body).await?.into_result()
}

pub(crate) async fn send_detailed<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<Response<O::Output>, Error> {
    let (payload, options) = prepare::<O>(client, body)?;
    let raw = execute(client, O::INFO, &options, payload).await?;
    classify(client, O::INFO, raw)
}

#[cfg(feature = "blocking")]
pub(crate) fn send_blocking<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<O::Output, Error> {
    send_blocking_detailed::<O>(client, body)?.into_result()
}

#[cfg(feature = "blocking")]
pub(crate) fn send_blocking_detailed<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<Response<O::Output>, Error> {
    let (payload, options) = prepare::<O>(client, body)?;
    let raw = execute_blocking(client, O::INFO, &options, payload)?;
    classify(client, O::INFO, raw)
}

/// Calls an operation by id with a JSON body; the body is checked against the operation's
/// input shape first, so an unknown id or a malformed body fails before any request.
pub(crate) async fn invoke(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
) -> Result<Response<serde_json::Value>, Error> {
    let (info, payload) = prepare_invoke(client, operation_id, &body)?;
    let raw = execute(client, info, &CallOptions::default(), payload).await?;
    classify(client, info, raw)
}

#[cfg(feature = "blocking")]
pub(crate) fn invoke_blocking(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
) -> Result<Response<serde_json::Value>, Error> {
    let (info, payload) = prepare_invoke(client, operation_id, &body)?;
    let raw = execute_blocking(client, info, &CallOptions::default(), payload)?;
    classify(client, info, raw)
}

fn prepare_invoke(
    client: &Client,
    operation_id: &str,
    body: &serde_json::Value,
) -> Result<(&'static OperationInfo, Bytes), Error> {
    let info = geopera_types::operations::find(operation_id)
        .ok_or_else(|| Error::invalid(operation_id, "no operation has this id"))?;
    check(client, info, body)?;
    Ok((info, to_payload(info, body)?))
}

/// The headers of one call: the client's prepared ones plus the call's options.
fn call_headers(
    client: &Client,
    info: &OperationInfo,
    options: &CallOptions,
) -> Result<HeaderMap, Error> {
    let mut headers = client.settings.prepared.clone();
    if let Some(key) = &options.api_key {
        let mut value = HeaderValue::from_str(key.expose())
            .map_err(|_| Error::invalid(info.id, "the x-api-key is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert("x-api-key", value);
    }
    if let Some(key) = &options.idempotency_key {
        let value = HeaderValue::from_str(key).map_err(|_| {
            Error::invalid(info.id, "the Idempotency-Key is not a valid header value")
        })?;
        headers.insert("idempotency-key", value);
    }
    for (name, value) in &options.headers {
        let (name, value) =
            parse_header(name, value).map_err(|e| Error::invalid(info.id, e.to_string()))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

fn url(client: &Client, info: &OperationInfo) -> String {
    let base = &client.settings.base_url;
    let mut url = String::with_capacity(base.len() + info.path.len());
    url.push_str(base);
    url.push_str(info.path);
    url
}

/// The parts of a call that stay the same across its attempts.
struct Plan {
    url: String,
    headers: HeaderMap,
    /// Whether ambiguous failures may be retried.
    safe: bool,
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
) -> Result<Plan, Error> {
    let mut headers = call_headers(client, info, options)?;
    let policy = &client.settings.retry;
    let mut has_key = options.idempotency_key.is_some();
    if !has_key && policy.auto_idempotency_keys && info.retry == RetryClass::NeedsIdempotencyKey {
        // One key per logical call, sent unchanged on every attempt.
        let key = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = HeaderValue::from_str(&key) {
            headers.insert("idempotency-key", value);
            has_key = true;
        }
    }
    let deadline = options.deadline.or(client.settings.deadline);
    Ok(Plan {
        url: url(client, info),
        headers,
        safe: info.retry == RetryClass::Safe || has_key,
        max_retries: options.retries.unwrap_or(policy.max_retries),
        timeout: options.timeout.or(client.settings.timeout),
        deadline_at: deadline.map(|d| client.limiter.clock.now() + d),
        redactor: Redactor::for_call(client, options),
    })
}

impl Plan {
    /// Time left before the deadline, if there is one.
    fn remaining(&self, client: &Client) -> Option<Duration> {
        self.deadline_at
            .map(|at| at.saturating_sub(client.limiter.clock.now()))
    }

    /// The timeout of the next attempt: the configured one, cut to the deadline.
    fn attempt_timeout(&self, client: &Client) -> Option<Duration> {
        match (self.timeout, self.remaining(client)) {
            (Some(t), Some(left)) => Some(t.min(left)),
            (t, left) => t.or(left),
        }
    }
}

/// Sorts a transport failure by whether the request can have reached the server.
fn outcome_of(error: &reqwest::Error) -> Outcome {
    if error.is_connect() {
        Outcome::NotSent
    } else if error.is_builder() || error.is_redirect() {
        Outcome::Fatal
    } else {
        Outcome::Ambiguous
    }
}

/// Settles one attempt: what retrying makes of it, and the Retry-After it carried.
/// What the loop does next: wake at an instant on the client's clock and retry, or finish.
enum Step {
    RetryAt(Duration),
    Finish(Decision),
}

/// `sent_at` is when the attempt went out: the API's `Retry-After` counts from its answer,
/// which is that moment plus a round trip, so waits measured from it end on time, however
/// late the answer is processed.
fn assess(
    client: &Client,
    info: &'static OperationInfo,
    plan: &Plan,
    attempt: u32,
    sent_at: Duration,
    result: &Result<RawResponse, (Error, Outcome)>,
) -> Step {
    let (outcome, wait) = match result {
        Ok(raw) => (
            Outcome::Status(raw.status.as_u16()),
            retry::retry_after(&raw.headers),
        ),
        Err((_, outcome)) => (*outcome, None),
    };
    let limited = outcome == Outcome::Status(429);
    if limited {
        let pause = wait.unwrap_or_else(|| client.settings.retry.backoff_for(attempt));
        if pause <= client.settings.retry.max_retry_after {
            client
                .limiter
                .pause_until(info.rate_class, sent_at.saturating_add(pause));
        }
    }
    let mut decision = retry::decide(
        &client.settings.retry,
        plan.max_retries,
        outcome,
        wait,
        plan.safe,
        attempt,
    );
    if let (Decision::RetryAfter(wait), Some(left)) = (&decision, plan.remaining(client)) {
        if *wait >= left {
            // Waiting would outlive the deadline: hand back what we have instead.
            decision = Decision::Finish;
        }
    }
    match decision {
        Decision::RetryAfter(wait) => {
            tracing::debug!(operation_id = info.id, attempt, ?outcome, ?wait, "retrying");
            let base = if limited {
                sent_at
            } else {
                client.limiter.clock.now()
            };
            Step::RetryAt(base.saturating_add(wait))
        }
        decision => Step::Finish(decision),
    }
}

/// Turns the last attempt into the call's result.
fn finish(
    info: &'static OperationInfo,
    attempt: u32,
    result: Result<RawResponse, (Error, Outcome)>,
    decision: Decision,
) -> Result<RawResponse, Error> {
    match (result, decision) {
        (Ok(raw), Decision::TooLongToWait(_)) => Err(raw.redactor.error(Error::rate_limited(
            info.id,
            &raw.headers,
            &raw.content,
            attempt,
        ))),
        (Ok(mut raw), _) => {
            raw.attempts = attempt;
            Ok(raw)
        }
        (Err((mut error, _)), _) => {
            error.set_attempts(attempt);
            Err(error)
        }
    }
}

fn deadline_error(info: &'static OperationInfo, attempts: u32) -> Error {
    Error::Timeout {
        operation_id: info.id,
        source: None,
        attempts,
    }
}

/// What an attempt yields: an answer read whole, or — for a stream — a success answer whose
/// body is left for the caller to read as it arrives.
enum Answer<S> {
    Read(RawResponse),
    Unread(S),
}

/// Logs an attempt's answer.
fn answered(
    info: &'static OperationInfo,
    attempt: u32,
    status: StatusCode,
    started: std::time::Instant,
) {
    tracing::debug!(
        operation_id = info.id,
        attempt,
        status = status.as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "answered"
    );
}

/// What a failed send means for the call. Past the first hop of a redirect chain the API has
/// already answered, so even a refused connection leaves the call's effect unknown.
fn transport_failure(
    info: &'static OperationInfo,
    redirects: usize,
) -> impl Fn(reqwest::Error) -> (Error, Outcome) {
    move |e| {
        let outcome = match outcome_of(&e) {
            Outcome::NotSent if redirects > 0 => Outcome::Ambiguous,
            outcome => outcome,
        };
        (Error::from_reqwest(info.id, e), outcome)
    }
}

/// Sends a call and reads its answer, retrying as the policy allows.
pub(crate) async fn execute(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<RawResponse, Error> {
    match run(client, info, options, payload, false).await? {
        Answer::Read(raw) => Ok(raw),
        Answer::Unread(response) => read_whole(client, info, options, response).await,
    }
}

/// Sends a call whose answer is read as a stream: retried like any call until an answer
/// arrives; a success answer is handed over unread, any other is turned into its error.
pub(crate) async fn open(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<reqwest::Response, Error> {
    match run(client, info, options, payload, true).await? {
        Answer::Unread(response) => Ok(response),
        Answer::Read(raw) => Err(not_a_stream(client, info, raw)),
    }
}

/// The error a non-success answer to a stream request stands for.
fn not_a_stream(client: &Client, info: &'static OperationInfo, raw: RawResponse) -> Error {
    let status = raw.status;
    match classify::<serde_json::Value>(client, info, raw).and_then(Response::into_result) {
        Err(error) => error,
        Ok(_) => Error::UnexpectedStatus {
            operation_id: info.id,
            status,
            body: Bytes::new(),
            attempts: 1,
        },
    }
}

async fn read_whole(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    mut response: reqwest::Response,
) -> Result<RawResponse, Error> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let limit = client.settings.max_response_bytes;
    let content = crate::body::read_async(&mut response, limit)
        .await
        .map_err(|e| read_failure(info, limit, e).0)?;
    Ok(RawResponse {
        status,
        headers,
        content,
        attempts: 1,
        redactor: Redactor::for_call(client, options),
    })
}

async fn run(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
    stream: bool,
) -> Result<Answer<reqwest::Response>, Error> {
    let mut plan = plan(client, info, options)?;
    if stream {
        // A stream may legitimately take long: only the deadline and read timeout apply.
        plan.timeout = None;
    }
    let span = tracing::debug_span!(
        "geopera.call",
        operation_id = info.id,
        attempts = tracing::field::Empty
    );
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let work = async {
        let mut attempt = 0;
        loop {
            attempt += 1;
            attempts.store(attempt, std::sync::atomic::Ordering::Relaxed);
            let _admission = client.limiter.admit(info.rate_class).await;
            let sent_at = client.limiter.clock.now();
            let result =
                match attempt_async(client, info, &plan, payload.clone(), attempt, stream).await {
                    Ok(Answer::Unread(response)) => return Ok(Answer::Unread(response)),
                    Ok(Answer::Read(raw)) => Ok(raw),
                    Err(failure) => Err(failure),
                };
            match assess(client, info, &plan, attempt, sent_at, &result) {
                Step::RetryAt(at) => client.limiter.clock.sleep_until(at).await,
                Step::Finish(decision) => {
                    tracing::Span::current().record("attempts", attempt);
                    return finish(info, attempt, result, decision).map(Answer::Read);
                }
            }
        }
    }
    .instrument(span);
    match plan.remaining(client) {
        None => work.await,
        Some(left) => match tokio::time::timeout(left, work).await {
            Ok(result) => result,
            Err(_) => Err(deadline_error(
                info,
                attempts.load(std::sync::atomic::Ordering::Relaxed),
            )),
        },
    }
}

async fn attempt_async(
    client: &Client,
    info: &'static OperationInfo,
    plan: &Plan,
    payload: Bytes,
    attempt: u32,
    stream: bool,
) -> Result<Answer<reqwest::Response>, (Error, Outcome)> {
    let started = std::time::Instant::now();
    let until = plan.attempt_timeout(client).map(|t| started + t);
    let mut hop = Hop::first(&plan.url, &plan.headers, payload);
    let mut response = loop {
        let mut request = client
            .http
            .request(hop.method.clone(), &*hop.url)
            .headers(hop.headers.clone().into_owned());
        if let Some(body) = &hop.body {
            request = request.body(body.clone());
        }
        // Every hop of a redirect chain shares the attempt's timeout.
        if let Some(until) = until {
            request = request.timeout(until.saturating_duration_since(std::time::Instant::now()));
        }
        let response = request
            .send()
            .await
            .map_err(transport_failure(info, hop.redirects))?;
        match next_hop(client, &hop, &response.status(), response.headers()) {
            Some(next) => hop = next,
            None => break response,
        }
    };
    let status = response.status();
    answered(info, attempt, status, started);
    if stream && status.as_u16() == info.success_status {
        return Ok(Answer::Unread(response));
    }
    let limit = client.settings.max_response_bytes;
    let content = crate::body::read_async(&mut response, limit)
        .await
        .map_err(|e| read_failure(info, limit, e))?;
    Ok(Answer::Read(RawResponse {
        status,
        headers: std::mem::take(response.headers_mut()),
        content,
        attempts: attempt,
        redactor: plan.redactor.clone(),
    }))
}

/// The next request of a redirect chain, when the client follows redirects.
fn next_hop<'a>(
    client: &Client,
    hop: &Hop<'a>,
    status: &StatusCode,
    headers: &HeaderMap,
) -> Option<Hop<'a>> {
    if client.settings.follow_redirects {
        hop.follow(*status, headers)
    } else {
        None
    }
}

/// What a failed read of an answer's body means for the call.
fn read_failure(info: &'static OperationInfo, limit: u64, error: ReadError) -> (Error, Outcome) {
    match error {
        // Asking again would bring the same oversized answer.
        ReadError::TooLarge => (Error::too_large(info.id, limit), Outcome::Fatal),
        ReadError::Transport(e) => (Error::from_reqwest(info.id, e), Outcome::Ambiguous),
    }
}

/// [`execute`] for blocking code.
#[cfg(feature = "blocking")]
pub(crate) fn execute_blocking(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<RawResponse, Error> {
    match run_blocking(client, info, options, payload, Caller::current(), false)? {
        Answer::Read(raw) => Ok(raw),
        Answer::Unread(mut response) => {
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let limit = client.settings.max_response_bytes;
            let content = off_runtime(move || crate::body::read_blocking(&mut response, limit))
                .map_err(|e| read_failure(info, limit, e).0)?;
            Ok(RawResponse {
                status,
                headers,
                content,
                attempts: 1,
                redactor: Redactor::for_call(client, options),
            })
        }
    }
}

/// [`open`] for blocking code.
#[cfg(feature = "blocking")]
pub(crate) fn open_blocking(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
    caller: Caller,
) -> Result<reqwest::blocking::Response, Error> {
    match run_blocking(client, info, options, payload, caller, true)? {
        Answer::Unread(response) => Ok(response),
        Answer::Read(raw) => Err(not_a_stream(client, info, raw)),
    }
}

#[cfg(feature = "blocking")]
fn run_blocking(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
    caller: Caller,
    stream: bool,
) -> Result<Answer<reqwest::blocking::Response>, Error> {
    let mut plan = plan(client, info, options)?;
    if stream {
        plan.timeout = None;
    }
    let http = client.blocking_http_client()?;
    off_runtime(move || {
        let _span = tracing::debug_span!("geopera.call", operation_id = info.id).entered();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if plan.remaining(client).is_some_and(|left| left.is_zero()) {
                return Err(deadline_error(info, attempt - 1));
            }
            let _admission = client
                .limiter
                .admit_blocking(info.rate_class, caller)
                .map_err(|WouldDeadlock| Error::WouldDeadlock {
                    operation_id: info.id,
                })?;
            let sent_at = client.limiter.clock.now();
            let result = match attempt_blocking(
                &http,
                client,
                info,
                &plan,
                payload.clone(),
                attempt,
                stream,
            ) {
                Ok(Answer::Unread(response)) => return Ok(Answer::Unread(response)),
                Ok(Answer::Read(raw)) => Ok(raw),
                Err(failure) => Err(failure),
            };
            match assess(client, info, &plan, attempt, sent_at, &result) {
                Step::RetryAt(at) => client.limiter.clock.sleep_until_blocking(at),
                Step::Finish(decision) => {
                    return finish(info, attempt, result, decision).map(Answer::Read)
                }
            }
        }
    })
}

#[cfg(feature = "blocking")]
fn attempt_blocking(
    http: &reqwest::blocking::Client,
    client: &Client,
    info: &'static OperationInfo,
    plan: &Plan,
    payload: Bytes,
    attempt: u32,
    stream: bool,
) -> Result<Answer<reqwest::blocking::Response>, (Error, Outcome)> {
    let started = std::time::Instant::now();
    let until = plan.attempt_timeout(client).map(|t| started + t);
    let mut hop = Hop::first(&plan.url, &plan.headers, payload);
    let mut response = loop {
        let mut request = http
            .request(hop.method.clone(), &*hop.url)
            .headers(hop.headers.clone().into_owned());
        if let Some(body) = &hop.body {
            request = request.body(body.clone());
        }
        if let Some(until) = until {
            request = request.timeout(until.saturating_duration_since(std::time::Instant::now()));
        }
        let response = request
            .send()
            .map_err(transport_failure(info, hop.redirects))?;
        match next_hop(client, &hop, &response.status(), response.headers()) {
            Some(next) => hop = next,
            None => break response,
        }
    };
    let status = response.status();
    answered(info, attempt, status, started);
    if stream && status.as_u16() == info.success_status {
        return Ok(Answer::Unread(response));
    }
    let limit = client.settings.max_response_bytes;
    let content = crate::body::read_blocking(&mut response, limit)
        .map_err(|e| read_failure(info, limit, e))?;
    Ok(Answer::Read(RawResponse {
        status,
        headers: std::mem::take(response.headers_mut()),
        content,
        attempts: attempt,
        redactor: plan.redactor.clone(),
    }))
}

/// Runs blocking work so that it is safe from anywhere: directly on a plain thread, or on a
/// short-lived helper thread when called from inside an async runtime (where blocking
/// network I/O would otherwise panic inside the HTTP client).
#[cfg(feature = "blocking")]
pub(crate) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn is_problem_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/problem+json"))
}

/// Parses an answer according to the operation's documented statuses.
pub(crate) fn classify<T: DeserializeOwned>(
    client: &Client,
    info: &'static OperationInfo,
    raw: RawResponse,
) -> Result<Response<T>, Error> {
    let redactor = raw.redactor.clone();
    parse(client, info, raw).map_err(|error| redactor.error(error))
}

fn parse<T: DeserializeOwned>(
    client: &Client,
    info: &'static OperationInfo,
    raw: RawResponse,
) -> Result<Response<T>, Error> {
    let RawResponse {
        status,
        headers,
        content,
        attempts,
        redactor,
    } = raw;
    let code = status.as_u16();
    if code == 429 && client.settings.raise_on_unexpected_status {
        // Undocumented in the contract, yet never "unexpected": it carries its wait.
        return Err(Error::rate_limited(info.id, &headers, &content, attempts));
    }
    let documented = code == info.success_status || info.error_statuses.contains(&code);
    let parsed = if code == info.success_status {
        serde_json::from_slice::<T>(&content).map_or(Parsed::Unparsed, Parsed::Success)
    } else if documented && code == 422 {
        serde_json::from_slice::<HttpValidationError>(&content)
            .map_or(Parsed::Unparsed, Parsed::Validation)
    } else if documented || is_problem_json(&headers) {
        if !documented && client.settings.raise_on_unexpected_status {
            return Err(Error::UnexpectedStatus {
                operation_id: info.id,
                status,
                body: content,
                attempts,
            });
        }
        serde_json::from_slice::<Problem>(&content).map_or(Parsed::Unparsed, Parsed::Problem)
    } else if client.settings.raise_on_unexpected_status {
        return Err(Error::UnexpectedStatus {
            operation_id: info.id,
            status,
            body: content,
            attempts,
        });
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
        redactor,
    })
}
