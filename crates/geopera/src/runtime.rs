//! The hand-written machinery every generated operation function calls into: build the
//! request, send it, classify the answer.
//!
//! Generic code is kept to the thin edges (serializing the input, decoding the output) so
//! that 227 operations do not multiply the code that does the work.

use bytes::Bytes;
use geopera_types::{HttpValidationError, Operation, OperationInfo, Problem};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::client::{parse_header, Client};
use crate::request::CallOptions;
use crate::{Error, IntoRequest, Parsed, Response};

/// An answer before parsing.
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) content: Bytes,
    pub(crate) attempts: u32,
}

/// Converts and serializes the body; the only generic step before sending.
fn prepare<O: Operation>(body: impl IntoRequest<O::Input>) -> Result<(Bytes, CallOptions), Error> {
    let request = body.into_request().map_err(|e| {
        Error::invalid(
            O::INFO.id,
            format!("the body does not fit {}: {e}", O::INFO.input_type),
        )
    })?;
    let payload = serde_json::to_vec(&request.body)
        .map_err(|e| Error::invalid(O::INFO.id, format!("the body cannot be serialized: {e}")))?;
    Ok((Bytes::from(payload), request.options))
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
    let (payload, options) = prepare::<O>(body)?;
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
    let (payload, options) = prepare::<O>(body)?;
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
    let (info, payload) = prepare_invoke(operation_id, &body)?;
    let raw = execute(client, info, &CallOptions::default(), payload).await?;
    classify(client, info, raw)
}

#[cfg(feature = "blocking")]
pub(crate) fn invoke_blocking(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
) -> Result<Response<serde_json::Value>, Error> {
    let (info, payload) = prepare_invoke(operation_id, &body)?;
    let raw = execute_blocking(client, info, &CallOptions::default(), payload)?;
    classify(client, info, raw)
}

fn prepare_invoke(
    operation_id: &str,
    body: &serde_json::Value,
) -> Result<(&'static OperationInfo, Bytes), Error> {
    let info = geopera_types::operations::find(operation_id)
        .ok_or_else(|| Error::invalid(operation_id, "no operation has this id"))?;
    let failures = geopera_types::validate::validate(info.input, body);
    if !failures.is_empty() {
        let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
        return Err(Error::invalid(info.id, listed.join("; ")));
    }
    let payload = serde_json::to_vec(body)
        .map_err(|e| Error::invalid(info.id, format!("the body cannot be serialized: {e}")))?;
    Ok((info, Bytes::from(payload)))
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

pub(crate) async fn execute(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<RawResponse, Error> {
    let headers = call_headers(client, info, options)?;
    let span = tracing::debug_span!(
        "geopera.call",
        operation_id = info.id,
        status = tracing::field::Empty
    );
    async {
        let mut request = client
            .http
            .post(url(client, info))
            .headers(headers)
            .body(payload);
        if let Some(timeout) = options.timeout.or(client.settings.timeout) {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::from_reqwest(info.id, e))?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let headers = response.headers().clone();
        let content = response
            .bytes()
            .await
            .map_err(|e| Error::from_reqwest(info.id, e))?;
        Ok(RawResponse {
            status,
            headers,
            content,
            attempts: 1,
        })
    }
    .instrument(span)
    .await
}

#[cfg(feature = "blocking")]
pub(crate) fn execute_blocking(
    client: &Client,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<RawResponse, Error> {
    let headers = call_headers(client, info, options)?;
    let http = client.blocking_http_client()?;
    let url = url(client, info);
    let timeout = options.timeout.or(client.settings.timeout);
    off_runtime(move || {
        let _span = tracing::debug_span!("geopera.call", operation_id = info.id).entered();
        let mut request = http.post(url).headers(headers).body(payload);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .map_err(|e| Error::from_reqwest(info.id, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let content = response
            .bytes()
            .map_err(|e| Error::from_reqwest(info.id, e))?;
        Ok(RawResponse {
            status,
            headers,
            content,
            attempts: 1,
        })
    })
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
    let RawResponse {
        status,
        headers,
        content,
        attempts,
    } = raw;
    let code = status.as_u16();
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
    })
}
