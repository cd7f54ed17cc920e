//! `X-Request-Id`: every answer names the request it answers, so a client's logs and the
//! emulator's can be matched — across the attempts of a retried call, which share one id.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The header that carries a request's id, echoed on its answer.
pub const REQUEST_ID_HEADER: &str = geopera_types::headers::REQUEST_ID;

/// The longest id taken from a client, in characters; a longer one is replaced.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// The id a request goes by, for the handlers that record and log it.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) HeaderValue);

impl RequestId {
    /// The id as text (always visible ASCII).
    pub(crate) fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// The client's id when it is one the emulator will repeat: 1 to [`MAX_REQUEST_ID_CHARS`]
/// visible ASCII characters. Anything else could not be logged or echoed safely.
fn accepted(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(REQUEST_ID_HEADER)?;
    let bytes = value.as_bytes();
    let fits = (1..=MAX_REQUEST_ID_CHARS).contains(&bytes.len())
        && bytes.iter().all(|byte| byte.is_ascii_graphic());
    fits.then(|| value.clone())
}

/// A fresh `req_` id: random when the OS can give randomness, a process-wide count if not.
fn generated() -> HeaderValue {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let suffix = crate::rng::os_hex(12)
        .unwrap_or_else(|_| format!("{:024x}", COUNT.fetch_add(1, Ordering::Relaxed)));
    HeaderValue::from_str(&format!("req_{suffix}"))
        .unwrap_or_else(|_| HeaderValue::from_static("req_unnamed"))
}

/// The layer over every route: settles the request's id, hands it to the handler and sets it
/// on whatever answer comes back — success, problem, fault or fallback.
pub(crate) async fn layer(mut request: Request, next: Next) -> Response {
    let id = accepted(request.headers()).unwrap_or_else(generated);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
    response
}

#[cfg(test)]
#[path = "request_id_tests.rs"]
mod tests;
