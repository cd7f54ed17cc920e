//! The one error type of the SDK.

use std::time::Duration;

use bytes::Bytes;
use geopera_types::{HttpValidationError, Problem};
use http::StatusCode;

/// Why a call failed.
///
/// Documented error answers come with their typed body ([`Error::problem`],
/// [`Error::validation`]); transport-level failures keep their cause in
/// [`std::error::Error::source`]. Tokens never appear in any variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an RFC 9457 problem (401, 403, 404, 409, 500, ...).
    #[error("{status}: {}", problem_text(.problem))]
    Api {
        /// The operation that was called.
        operation_id: &'static str,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The problem the API described.
        problem: Box<Problem>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The API rejected the request body (422).
    #[error("{}: {error}", StatusCode::UNPROCESSABLE_ENTITY)]
    Validation {
        /// The operation that was called.
        operation_id: &'static str,
        /// Every check the body failed.
        error: Box<HttpValidationError>,
    },
    /// The API asked to wait longer than the client is configured to (429 with `Retry-After`).
    #[error("rate limited on {operation_id}: retry after {}s", .retry_after.as_secs())]
    RateLimited {
        /// The operation that was called.
        operation_id: &'static str,
        /// How long the API asked to wait.
        retry_after: Duration,
        /// The problem the API described, when it sent one.
        problem: Option<Box<Problem>>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The API answered with a status the contract does not document for this operation.
    #[error("unexpected status {status} from {operation_id}{}", excerpt_suffix(.body))]
    UnexpectedStatus {
        /// The operation that was called.
        operation_id: &'static str,
        /// The status of the answer.
        status: StatusCode,
        /// The raw body of the answer.
        body: Bytes,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The call did not finish within its timeout or deadline.
    #[error("{operation_id} timed out")]
    Timeout {
        /// The operation that was called.
        operation_id: &'static str,
        /// The underlying cause, when the HTTP client reported one.
        #[source]
        source: Option<reqwest::Error>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The request could not be sent or the answer could not be read.
    #[error("could not reach the API for {operation_id}")]
    Transport {
        /// The operation that was called.
        operation_id: &'static str,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A success answer whose body does not fit the operation's output model.
    #[error("could not decode the {status} answer of {operation_id}: {excerpt}")]
    Decode {
        /// The operation that was called.
        operation_id: &'static str,
        /// The status of the answer.
        status: StatusCode,
        /// The start of the body, for diagnosis.
        excerpt: String,
        /// What the JSON decoder reported.
        #[source]
        source: serde_json::Error,
    },
    /// The request was rejected before sending: a body that does not fit the input model, a
    /// malformed header, or an unknown operation id.
    #[error("invalid request for {operation_id}: {message}")]
    InvalidRequest {
        /// The operation that was called (or the unknown id given).
        operation_id: String,
        /// What is wrong.
        message: String,
    },
    /// The client configuration is unusable (bad base URL, unreadable CA file, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

/// The longest body excerpt kept in an error message.
const EXCERPT_CHARS: usize = 200;

/// The first characters of a body, for messages; never the whole body.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

fn excerpt_suffix(body: &Bytes) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt(body))
    }
}

fn problem_text(problem: &Problem) -> String {
    if problem.detail.is_empty() {
        problem.title.clone()
    } else {
        problem.detail.clone()
    }
}

impl Error {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::Validation { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
            Error::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            _ => None,
        }
    }

    /// The problem the API described, when it answered with one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api { problem, .. } => Some(problem),
            Error::RateLimited { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// The validation failures, when the API rejected the body with 422.
    pub fn validation(&self) -> Option<&HttpValidationError> {
        match self {
            Error::Validation { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the call ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the same call might succeed later (rate limits, server errors, lost
    /// connections). Whether repeating it is *safe* depends on the operation; the client's
    /// retry policy takes care of that.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Api { status, .. } | Error::UnexpectedStatus { status, .. } => {
                matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// The operation the failed call was for.
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            Error::Api { operation_id, .. }
            | Error::Validation { operation_id, .. }
            | Error::RateLimited { operation_id, .. }
            | Error::UnexpectedStatus { operation_id, .. }
            | Error::Timeout { operation_id, .. }
            | Error::Transport { operation_id, .. }
            | Error::Decode { operation_id, .. } => Some(operation_id),
            Error::InvalidRequest { operation_id, .. } => Some(operation_id),
            Error::Config(_) => None,
        }
    }

    /// How many attempts were made before giving up (1 when nothing was retried).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Api { attempts, .. }
            | Error::RateLimited { attempts, .. }
            | Error::UnexpectedStatus { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. } => *attempts,
            Error::Validation { .. } | Error::Decode { .. } => 1,
            Error::InvalidRequest { .. } | Error::Config(_) => 0,
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Error::Api { attempts, .. }
            | Error::RateLimited { attempts, .. }
            | Error::UnexpectedStatus { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. } => *attempts = n,
            _ => {}
        }
    }

    pub(crate) fn invalid(operation_id: &str, message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            operation_id: operation_id.to_owned(),
            message: message.into(),
        }
    }

    /// A body that does not convert into the operation's input model.
    pub(crate) fn body_mismatch(
        info: &geopera_types::OperationInfo,
        error: &serde_json::Error,
    ) -> Self {
        Error::invalid(
            info.id,
            format!("the body does not fit {}: {error}", info.input_type),
        )
    }

    /// A body that cannot be turned into JSON text.
    pub(crate) fn unserializable(operation_id: &str, error: &serde_json::Error) -> Self {
        Error::invalid(
            operation_id,
            format!("the body cannot be serialized: {error}"),
        )
    }

    pub(crate) fn from_reqwest(operation_id: &'static str, source: reqwest::Error) -> Self {
        if source.is_timeout() {
            Error::Timeout {
                operation_id,
                source: Some(source),
                attempts: 1,
            }
        } else {
            Error::Transport {
                operation_id,
                source,
                attempts: 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_reads_like_the_status_line_and_detail() {
        let err = Error::Api {
            operation_id: "orders.archive.place",
            status: StatusCode::FORBIDDEN,
            problem: Box::new(Problem::new(
                403,
                "Forbidden",
                "missing scope 'orders:write' for 'orders.archive.place'",
            )),
            attempts: 1,
        };
        assert_eq!(
            err.to_string(),
            "403 Forbidden: missing scope 'orders:write' for 'orders.archive.place'"
        );
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
        assert!(!err.is_retryable());
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn the_error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() <= 72,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
