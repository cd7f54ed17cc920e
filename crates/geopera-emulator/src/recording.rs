//! The request log tests read through [`EmulatorHandle::requests`](crate::EmulatorHandle::requests).

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, PROXY_AUTHORIZATION};
use http::HeaderMap;
use serde_json::Value;

/// How many requests the log keeps by default.
pub const DEFAULT_RECORD_LIMIT: usize = 1_000;
/// How many bytes of headers and bodies the log keeps by default (16 MiB).
pub const DEFAULT_RECORD_BUDGET_BYTES: usize = 16 * 1024 * 1024;

/// What stands in for a credential in [`RecordedRequest::headers`].
const REDACTED: &str = "[redacted]";
/// Roughly what one entry costs beyond its headers and body (strings, map slots).
const ENTRY_OVERHEAD_BYTES: usize = 256;
const HEADER_OVERHEAD_BYTES: usize = 32;

/// Headers whose values are credentials: kept only as a keyed hash.
fn is_credential(name: &HeaderName) -> bool {
    name == AUTHORIZATION
        || name == PROXY_AUTHORIZATION
        || name.as_str() == geopera_types::headers::API_KEY
}

/// One request as it arrived, kept for tests to inspect.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The operation id from the path, when the path was `/v1/op/{id}`; `None` for the STAC
    /// `GET` routes, which may run more than one.
    pub operation_id: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The request headers as sent, except credentials: `Authorization`,
    /// `Proxy-Authorization` and `x-api-key` read `[redacted]` (after the scheme, for
    /// `Authorization`); [`header_is`](Self::header_is) tells whether one held a given value.
    pub headers: HeaderMap,
    /// The raw body, when the emulator was built with
    /// [`record_bodies(true)`](crate::EmulatorBuilder::record_bodies) and it fitted the
    /// log's byte budget; empty otherwise.
    pub body: Bytes,
    /// The status answered; `None` when the connection was reset instead.
    pub status: Option<u16>,
    /// The `X-Request-Id` the emulator answered with: the client's own when it sent a usable
    /// one, a generated `req_...` id otherwise. The attempts of one retried call share it.
    pub request_id: String,
    /// Keyed hashes of the credential header values, so a test can check which credential
    /// was sent without the log holding it.
    credentials: Vec<(HeaderName, u64)>,
    hasher: RandomState,
}

impl RecordedRequest {
    /// A header's value as text (`[redacted]` for credentials).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Whether header `name` was sent with exactly `value`; works for credential headers
    /// too, e.g. `header_is("authorization", "Bearer gpra_...")`.
    pub fn header_is(&self, name: &str, value: &str) -> bool {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            return false;
        };
        if is_credential(&name) {
            let wanted = self.hasher.hash_one(value.as_bytes());
            self.credentials
                .iter()
                .any(|(sent, hash)| *sent == name && *hash == wanted)
        } else {
            self.headers
                .get_all(&name)
                .iter()
                .any(|sent| sent.as_bytes() == value.as_bytes())
        }
    }

    /// The body parsed as JSON, if it was kept and is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// What the entry holds, roughly, in bytes: what the log's budget counts.
    fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + HEADER_OVERHEAD_BYTES)
            .sum();
        ENTRY_OVERHEAD_BYTES
            + self.path.len()
            + self.operation_id.as_ref().map_or(0, String::len)
            + self.request_id.len()
            + headers
            + self.body.len()
    }
}

/// The most recent requests, bounded both in count and in bytes, oldest evicted first.
#[derive(Debug)]
pub struct RequestLog {
    entries: VecDeque<RecordedRequest>,
    bytes: usize,
    limit: usize,
    budget: usize,
    bodies: bool,
    hasher: RandomState,
}

impl RequestLog {
    /// An empty log keeping at most `limit` requests and `budget` bytes, with bodies only
    /// when `bodies` is set.
    pub fn new(limit: usize, budget: usize, bodies: bool) -> Self {
        RequestLog {
            entries: VecDeque::new(),
            bytes: 0,
            limit,
            budget,
            bodies,
            hasher: RandomState::new(),
        }
    }

    /// An entry for a request, with credentials replaced by hashes and the body kept only
    /// when the log keeps bodies. Cheap enough to build for every request: nothing is
    /// copied but the non-credential headers.
    pub fn entry(
        &self,
        operation_id: Option<String>,
        method: String,
        path: String,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> RecordedRequest {
        let mut kept = HeaderMap::with_capacity(headers.len());
        let mut credentials = Vec::new();
        for (name, value) in headers {
            if is_credential(name) {
                credentials.push((name.clone(), self.hasher.hash_one(value.as_bytes())));
                kept.append(name.clone(), redacted(name, value));
            } else {
                kept.append(name.clone(), value.clone());
            }
        }
        RecordedRequest {
            operation_id,
            method,
            path,
            headers: kept,
            body: if self.bodies {
                body.clone()
            } else {
                Bytes::new()
            },
            status: None,
            request_id: String::new(),
            credentials,
            hasher: self.hasher.clone(),
        }
    }

    /// Whether entries keep the bodies of their requests.
    pub(crate) fn keeps_bodies(&self) -> bool {
        self.bodies
    }

    /// Appends an entry, evicting the oldest until both bounds hold. A body that alone
    /// exceeds the budget is dropped from its entry; an entry that still does not fit is
    /// not kept.
    pub fn push(&mut self, mut request: RecordedRequest) {
        if self.limit == 0 {
            return;
        }
        let mut weight = request.weight();
        if weight > self.budget && !request.body.is_empty() {
            request.body = Bytes::new();
            weight = request.weight();
        }
        if weight > self.budget {
            return;
        }
        while self.entries.len() >= self.limit || self.bytes + weight > self.budget {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(oldest.weight());
        }
        self.bytes += weight;
        self.entries.push_back(request);
    }

    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

/// `Bearer [redacted]` for `Authorization`, `[redacted]` otherwise: the scheme is not a
/// secret and tells a reader which kind of credential was sent.
fn redacted(name: &HeaderName, value: &HeaderValue) -> HeaderValue {
    let scheme = (name == AUTHORIZATION || name == PROXY_AUTHORIZATION)
        .then(|| value.to_str().ok())
        .flatten()
        .and_then(|text| text.trim().split_once(' '))
        .map(|(scheme, _)| scheme);
    match scheme.map(|scheme| HeaderValue::from_str(&format!("{scheme} {REDACTED}"))) {
        Some(Ok(value)) => value,
        _ => HeaderValue::from_static(REDACTED),
    }
}

#[cfg(test)]
#[path = "recording_tests.rs"]
mod tests;
