//! What a struck fault sends: a replacement answer, a reset connection, or the real answer's
//! body cut, broken or slowed.

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, RETRY_AFTER};
use http::{HeaderValue, StatusCode};

use super::{FaultKind, FaultRule};
use crate::conn::ConnKill;
use crate::error::{ApiError, Reply};
use crate::state::Shared;

/// The response a before/after fault gives in place of the operation's answer.
pub(crate) async fn instead(rule: &FaultRule, shared: &Shared, kill: Option<ConnKill>) -> Response {
    match replacement(rule, shared) {
        Some(reply) => reply.into_response(),
        None => reset(kill).await,
    }
}

/// What a before/after fault answers, or `None` for a reset.
fn replacement(rule: &FaultRule, shared: &Shared) -> Option<Reply> {
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
                .unwrap_or_else(|| crate::limits::secs_to_window_end(shared).unsigned_abs());
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
            // 204, 205 and 304 have no content (RFC 9110, 15.3.5, 15.3.6, 15.4.5): a body, or
            // the length of one, would make a client that trusts it wait for bytes that never
            // come.
            let body = if matches!(code, 204 | 205 | 304) {
                Bytes::new()
            } else {
                Bytes::from(text)
            };
            let mut reply = Reply {
                status,
                content_type: "text/plain; charset=utf-8",
                headers: Vec::new(),
                body,
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

/// Sends a reply through a body fault.
pub(crate) fn with_body_fault(reply: Reply, kind: &FaultKind) -> Response {
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
            streamed(reply, Body::from_stream(stream), full.len())
        }
        FaultKind::SlowBody(total) => {
            let (pieces, pause) = slow_pieces(&full, *total);
            let stream = futures::stream::unfold(pieces.into_iter(), move |mut rest| async move {
                let piece = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((Ok::<Bytes, Infallible>(piece), rest))
            });
            streamed(reply, Body::from_stream(stream), full.len())
        }
        _ => reply.into_response(),
    }
}

/// `full` cut into at most ten pieces, and the pause before each: the whole body takes `total`,
/// however its length divides (cut in tenths rounded down, a body of 15 bytes came in 15
/// pieces, half as long again as asked).
fn slow_pieces(full: &Bytes, total: Duration) -> (Vec<Bytes>, Duration) {
    const PIECES: usize = 10;
    let step = full.len().div_ceil(PIECES).max(1);
    let pieces: Vec<Bytes> = (0..full.len())
        .step_by(step)
        .map(|start| full.slice(start..(start + step).min(full.len())))
        .collect();
    let pause = total / u32::try_from(pieces.len().max(1)).unwrap_or(1);
    (pieces, pause)
}

/// The reply's status and headers over `body`, announcing the full length.
fn streamed(reply: Reply, body: Body, length: usize) -> Response {
    let mut response = Reply {
        body: Bytes::new(),
        ..reply
    }
    .into_response();
    *response.body_mut() = body;
    if let Ok(length) = HeaderValue::from_str(&length.to_string()) {
        response.headers_mut().insert(CONTENT_LENGTH, length);
    }
    response
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
