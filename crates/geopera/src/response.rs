//! The detailed form of an answer: status, headers, raw bytes and the parsed value.

use bytes::Bytes;
use geopera_types::{DecodeOutput, HttpValidationError, Problem};
use http::{HeaderMap, StatusCode};

use crate::redact::Redactor;
use crate::Error;

/// An answer with everything the API sent, as returned by every `send_detailed`.
///
/// Documented error statuses arrive here as values ([`Parsed::Problem`],
/// [`Parsed::Validation`]) rather than as `Err`, so a fan-out can collect every outcome.
///
/// `Debug` shows the size of [`content`](Self::content), not the bytes: an answer may hold a
/// credential shown once (a new API key), which the typed [`parsed`](Self::parsed) value
/// hides but the raw body cannot.
#[derive(Clone)]
pub struct Response<T> {
    /// The operation that was called.
    pub operation_id: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub content: Bytes,
    /// The body, parsed according to the status.
    pub parsed: Parsed<T>,
    /// How many attempts the call took (1 when nothing was retried).
    pub attempts: u32,
    /// The `X-Request-Id` the call sent, the same on every attempt: generated per logical
    /// call, or the caller's own ([`Request::request_id`](crate::Request::request_id)). Quote
    /// it to find the call in the server's logs.
    pub request_id: String,
    /// The call's credentials, kept out of the error [`Response::into_result`] makes.
    pub(crate) redactor: Redactor,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Response<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A server may echo the call's credential in a header or a problem: shown redacted,
        // as errors are.
        let headers = self.redactor.text(format!("{:?}", self.headers));
        let parsed = self.redactor.text(format!("{:?}", self.parsed));
        f.debug_struct("Response")
            .field("operation_id", &self.operation_id)
            .field("status", &self.status)
            .field("headers", &format_args!("{headers}"))
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .field("parsed", &format_args!("{parsed}"))
            .field("attempts", &self.attempts)
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// The largest error answer read as a [`Problem`](Parsed::Problem) or a
/// [`Validation`](Parsed::Validation) list: 1 MiB. Such documents take a few hundred bytes, and
/// JSON read into a tree takes many times its size in memory (small objects a hundred times
/// and more), so a larger error answer, which the response cap alone would let grow to
/// 64 MiB, is kept as bytes in [`Response::content`] and parsed as
/// [`Unparsed`](Parsed::Unparsed).
pub const MAX_PROBLEM_BYTES: usize = 1 << 20;

/// Reads an error answer as `T` (a problem, a validation list), unless it is longer than
/// [`MAX_PROBLEM_BYTES`].
pub(crate) fn problem_of<T: serde::de::DeserializeOwned>(content: &[u8]) -> Option<T> {
    if content.len() > MAX_PROBLEM_BYTES {
        return None;
    }
    geopera_types::json::from_slice(content).ok()
}

/// What the body of an answer was parsed as.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Parsed<T> {
    /// The operation's success model, on its documented success status.
    Success(T),
    /// An RFC 9457 problem (401, 403, 404, 500, or any `application/problem+json` answer).
    Problem(Problem),
    /// The 422 validation body.
    Validation(HttpValidationError),
    /// Nothing could be parsed: an undocumented status, a body that does not fit, or an error
    /// answer longer than [`MAX_PROBLEM_BYTES`].
    Unparsed,
}

impl<T> Parsed<T> {
    /// The success model, if that is what the answer was.
    pub fn success(&self) -> Option<&T> {
        match self {
            Parsed::Success(value) => Some(value),
            _ => None,
        }
    }
}

impl<T> Response<T> {
    /// Whether the answer carried the success model.
    pub fn is_success(&self) -> bool {
        matches!(self.parsed, Parsed::Success(_))
    }

    /// The success model, or the error `send` would have returned.
    ///
    /// # Errors
    ///
    /// The answer was a problem, a validation failure, an undocumented status or undecodable.
    pub fn into_result(self) -> Result<T, Error>
    where
        T: DecodeOutput,
    {
        self.into_parts().map(|(value, _)| value)
    }

    /// The success model and the rest of the answer (its status, headers and bytes), or the
    /// error [`Response::into_result`] gives: for the SDK's helpers that judge the model and
    /// still hand back the whole answer (a waiter's final poll).
    pub(crate) fn into_parts(self) -> Result<(T, Response<()>), Error>
    where
        T: DecodeOutput,
    {
        let Response {
            operation_id,
            status,
            headers,
            content,
            parsed,
            attempts,
            request_id,
            redactor,
        } = self;
        // A 429 is a refusal whatever its body says.
        let parsed = match parsed {
            Parsed::Success(value) if status != StatusCode::TOO_MANY_REQUESTS => {
                let rest = Response {
                    operation_id,
                    status,
                    headers,
                    content,
                    parsed: Parsed::Success(()),
                    attempts,
                    request_id,
                    redactor,
                };
                return Ok((value, rest));
            }
            other => other,
        };
        let error = failure::<T>(operation_id, status, &headers, content, parsed, attempts);
        Err(redactor.error(error).with_request_id(&request_id))
    }

    /// The same answer with the parsed value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            operation_id: self.operation_id,
            status: self.status,
            headers: self.headers,
            content: self.content,
            parsed: match self.parsed {
                Parsed::Success(value) => Parsed::Success(f(value)),
                Parsed::Problem(p) => Parsed::Problem(p),
                Parsed::Validation(v) => Parsed::Validation(v),
                Parsed::Unparsed => Parsed::Unparsed,
            },
            attempts: self.attempts,
            request_id: self.request_id,
            redactor: self.redactor,
        }
    }
}

/// The error an answer without a usable success model stands for, quoting the answer as it
/// came (the caller redacts it).
fn failure<T: DecodeOutput>(
    operation_id: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    content: Bytes,
    parsed: Parsed<T>,
    attempts: u32,
) -> Error {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Error::rate_limited(operation_id, headers, &content, attempts);
    }
    match parsed {
        Parsed::Problem(problem) => Error::api(operation_id, status, problem, attempts),
        Parsed::Validation(error) => Error::rejected(operation_id, error),
        Parsed::Success(_) | Parsed::Unparsed if status.is_success() => {
            let decoded = T::decode_output(crate::engine::content_type(headers), &content);
            let source = match decoded {
                Err(source) => source,
                Ok(_) => {
                    serde::de::Error::custom("the status is not the documented success status")
                }
            };
            Error::decode(operation_id, status, &content, source)
        }
        Parsed::Success(_) | Parsed::Unparsed => {
            Error::unexpected_status(operation_id, status, content, attempts)
        }
    }
}
