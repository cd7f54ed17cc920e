//! What every generated operation function calls into: check and serialize the body, then
//! run the call through the engine — on the caller's runtime, or on the calling thread for a
//! blocking call.
//!
//! Generic code is kept to the thin edges (serializing the input, decoding the output) so
//! that 227 operations do not multiply the code that does the work.

use std::future::{ready, Future};

use bytes::Bytes;
use futures::future::Either;
use geopera_types::{DecodeOutput, Operation, OperationInfo};

#[cfg(feature = "blocking")]
use crate::caller::Caller;
use crate::client::Client;
use crate::engine::{classify, execute};
use crate::request::CallOptions;
use crate::{Error, IntoRequest, Request, Response};

/// Turns any accepted body into checked JSON; the only generic step before sending.
pub(crate) fn checked<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<(serde_json::Value, CallOptions), Error> {
    let Request { body, mut options } = body.into_request();
    // A typed body holds only declared members; JSON written by hand may hold others.
    let by_hand = matches!(body, crate::request::Body::Json(_));
    let json = body
        .into_json()
        .map_err(|e| Error::unserializable(O::INFO.id, &e))?;
    check(client, O::INFO, &json)?;
    if by_hand {
        warn_of_undeclared(client, O::INFO, &json);
    }
    options.body_secrets = body_secrets(O::INFO, &json);
    Ok((json, options))
}

/// The text of the body's credential members (`secret_fields`): strings, or the string
/// values of an object such as delivery headers. `None` for the many operations without any.
pub(crate) fn body_secrets(
    info: &'static OperationInfo,
    json: &serde_json::Value,
) -> Option<std::sync::Arc<[crate::secret::Secret]>> {
    use serde_json::Value;
    if info.secret_fields.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    for field in info.secret_fields {
        match json.get(*field) {
            Some(Value::String(text)) => found.push(text.clone()),
            Some(Value::Object(members)) => found.extend(
                members
                    .values()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    found.retain(|text| !text.is_empty());
    (!found.is_empty()).then(|| found.into_iter().map(crate::secret::Secret::new).collect())
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
/// shape as the contract states it — unless the client leaves checking to the API, or the
/// `validate` feature is off. The API checks more than the shape, and only it can.
pub(crate) fn check(
    client: &Client,
    info: &'static OperationInfo,
    json: &serde_json::Value,
) -> Result<(), Error> {
    if !client.settings.validate_input {
        return Ok(());
    }
    #[cfg(feature = "validate")]
    {
        let failures = geopera_types::validate::validate(info.input, json);
        if !failures.is_empty() {
            // A failure quotes its input, which may be a credential of the body (a share
            // link's password too short) or a member holding one.
            let error = Error::invalid_input(info, failures);
            return Err(match body_secrets(info, json) {
                Some(secrets) => crate::redact::Redactor::for_body(secrets).error(error),
                None => error,
            });
        }
    }
    #[cfg(not(feature = "validate"))]
    let _ = (info, json);
    Ok(())
}

/// Warns of members of a hand-written body that the operation does not declare: the API
/// ignores them, so a misspelled optional field would be dropped without a word. Not an
/// error, since a server newer than this SDK's contract may declare them.
fn warn_of_undeclared(client: &Client, info: &'static OperationInfo, json: &serde_json::Value) {
    #[cfg(feature = "validate")]
    if client.settings.validate_input {
        let members = geopera_types::validate::undeclared(info.input, json);
        if !members.is_empty() {
            tracing::warn!(
                operation_id = info.id,
                ?members,
                "the body has members the operation does not declare; the API ignores them"
            );
        }
    }
    #[cfg(not(feature = "validate"))]
    let _ = (client, info, json);
}

pub(crate) fn to_payload(
    info: &'static OperationInfo,
    json: &serde_json::Value,
) -> Result<Bytes, Error> {
    serde_json::to_vec(json)
        .map(Bytes::from)
        .map_err(|e| Error::unserializable(info.id, &e))
}

pub(crate) fn send<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> impl Future<Output = Result<O::Output, Error>> + Send {
    call::<O, _>(client, body, Response::into_result)
}

pub(crate) fn send_detailed<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> impl Future<Output = Result<Response<O::Output>, Error>> + Send {
    call::<O, _>(client, body, Ok)
}

/// One call from async code: the body is checked and serialized now, and the future carries
/// only what the engine needs — the payload, the options and a handle on the client.
///
/// Why not an `async fn`: one keeps every argument for as long as it runs, so each layer
/// between the operation's function and the engine would carry the body again in every call
/// in flight (a typed input is a few hundred bytes), and its future would borrow the client.
/// Owning a handle instead makes the future `'static`: it can be spawned as it is.
fn call<O: Operation, T: Send>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
    finish: fn(Response<O::Output>) -> Result<T, Error>,
) -> impl Future<Output = Result<T, Error>> + Send {
    match prepare::<O>(client, body) {
        Ok((payload, options)) => {
            let client = client.clone();
            Either::Left(async move {
                let raw = execute(&client, client.async_face(), O::INFO, &options, payload).await?;
                finish(classify(&client, O::INFO, raw)?)
            })
        }
        Err(error) => Either::Right(ready(Err(error))),
    }
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
    call_blocking(client, O::INFO, options, payload)
}

/// The engine from blocking code: the call runs wherever [`crate::blocking::run`] finds best
/// while the caller waits, and its answer is decoded where [`Thread::decodes`] says.
///
/// Why the caller usually decodes: the decoded value is built and later freed by the thread
/// that uses it, which keeps the allocator's per-thread caches warm, and concurrent callers
/// decode in parallel instead of one after another on the I/O thread.
///
/// [`Thread::decodes`]: crate::blocking::Thread::decodes
#[cfg(feature = "blocking")]
fn call_blocking<T: DecodeOutput + Send + 'static>(
    client: &Client,
    info: &'static OperationInfo,
    options: CallOptions,
    payload: Bytes,
) -> Result<Response<T>, Error> {
    /// What a blocking call's work hands back: the answer decoded, or read for the caller to
    /// decode.
    enum HandedBack<T> {
        Decoded(Response<T>),
        Read(crate::engine::RawResponse),
    }

    let owned = client.clone();
    let handed = crate::blocking::run(
        &client.blocking,
        Caller::current(),
        move |thread| async move {
            let raw = execute(&owned, thread.face(), info, &options, payload).await?;
            Ok::<_, Error>(if thread.decodes(raw.content.len()) {
                HandedBack::Decoded(classify(&owned, info, raw)?)
            } else {
                HandedBack::Read(raw)
            })
        },
    )??;
    match handed {
        HandedBack::Decoded(response) => Ok(response),
        HandedBack::Read(raw) => classify(client, info, raw),
    }
}

/// One call through `face`, its success answer decoded as `T`: for the SDK's own helpers that
/// make several calls in a row (uploads, waiters), which choose the face they run on — the
/// caller's runtime or a blocking call's thread — and read answers as their own types.
pub(crate) async fn call_as<T: geopera_types::DecodeOutput>(
    client: &Client,
    face: crate::engine::Face<'_>,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<T, Error> {
    let raw = execute(client, face, info, options, payload).await?;
    classify::<T>(client, info, raw)?.into_result()
}

/// [`call_as`], keeping the rest of the success answer (status, headers, bytes) beside the
/// model: for waiters, which hand the final poll's answer back whole when asked.
pub(crate) async fn call_detailed_as<T: geopera_types::DecodeOutput>(
    client: &Client,
    face: crate::engine::Face<'_>,
    info: &'static OperationInfo,
    options: &CallOptions,
    payload: Bytes,
) -> Result<(T, Response<()>), Error> {
    let raw = execute(client, face, info, options, payload).await?;
    classify::<T>(client, info, raw)?.into_parts()
}

/// Calls an operation by id with a JSON body; the body is checked against the operation's
/// input shape first, so an unknown id or a malformed body fails before any request.
pub(crate) async fn invoke(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
) -> Result<Response<serde_json::Value>, Error> {
    invoke_with(client, operation_id, body, CallOptions::default()).await
}

/// [`invoke`] with per-call options (an `Idempotency-Key`, a timeout, ...), its success
/// answer decoded as `T`.
pub(crate) async fn invoke_with<T: DecodeOutput>(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
    options: CallOptions,
) -> Result<Response<T>, Error> {
    let (info, payload) = prepare_invoke(client, operation_id, &body)?;
    let options = CallOptions {
        body_secrets: body_secrets(info, &body),
        ..options
    };
    let raw = execute(client, client.async_face(), info, &options, payload).await?;
    classify(client, info, raw)
}

/// The blocking form of [`invoke_with`].
#[cfg(feature = "blocking")]
pub(crate) fn invoke_with_blocking<T: DecodeOutput + Send + 'static>(
    client: &Client,
    operation_id: &str,
    body: serde_json::Value,
    options: CallOptions,
) -> Result<Response<T>, Error> {
    let (info, payload) = prepare_invoke(client, operation_id, &body)?;
    let options = CallOptions {
        body_secrets: body_secrets(info, &body),
        ..options
    };
    call_blocking(client, info, options, payload)
}

fn prepare_invoke(
    client: &Client,
    operation_id: &str,
    body: &serde_json::Value,
) -> Result<(&'static OperationInfo, Bytes), Error> {
    let info = geopera_types::operations::find(operation_id)
        .ok_or_else(|| Error::invalid(operation_id, "no operation has this id"))?;
    check(client, info, body)?;
    warn_of_undeclared(client, info, body);
    Ok((info, to_payload(info, body)?))
}
