//! A request body plus the per-call options that travel with it.

use std::fmt;
use std::time::Duration;

use geopera_types::headers;

use crate::secret::Secret;

/// A body with per-call options: an `x-api-key`, an `Idempotency-Key`, a timeout, extra
/// headers.
///
/// Every operation accepts a plain body too (it converts into a `Request` with no options), so
/// there is one set of functions per operation rather than one per combination of options.
///
/// ```
/// use std::time::Duration;
/// use geopera::{models::CatalogSearchInput, Request};
///
/// let request = Request::new(CatalogSearchInput::new("earthsearch-aws"))
///     .idempotency_key("3f8d2c1e-0b7a-4c55-9d41-1f2e3a4b5c6d")
///     .timeout(Duration::from_secs(5))
///     .header("x-request-source", "nightly-batch");
/// assert_eq!(request.options().idempotency_key(), Some("3f8d2c1e-0b7a-4c55-9d41-1f2e3a4b5c6d"));
/// ```
///
/// A JSON body works the same way: `Request::new(serde_json::json!({...}))` is accepted by any
/// operation, and its members — those the model does not know included — are sent as given.
#[derive(Clone)]
#[must_use]
pub struct Request<I> {
    pub(crate) body: Body<I>,
    pub(crate) options: CallOptions,
}

/// What a request carries: the input model, or JSON that is checked against the operation's
/// input shape and sent exactly as given.
#[derive(Clone)]
pub(crate) enum Body<I> {
    Typed(I),
    Json(serde_json::Value),
}

/// A JSON body's credentials stay out of `Debug` as a typed input's do: the members that are
/// credentials in some operation (its `secret_fields`) are shown redacted. Which operation the
/// body is for is not known until it is sent, so every operation's names count.
impl<I: fmt::Debug + 'static> fmt::Debug for Request<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: &dyn fmt::Debug = match &self.body {
            Body::Typed(body) => match (body as &dyn std::any::Any).downcast_ref() {
                Some(json) => &RedactedJson(json),
                None => body,
            },
            Body::Json(json) => &RedactedJson(json),
        };
        f.debug_struct("Request")
            .field("body", body)
            .field("options", &self.options)
            .finish()
    }
}

/// JSON shown with the values of credential members redacted (see [`Request`]'s `Debug`).
struct RedactedJson<'a>(&'a serde_json::Value);

impl fmt::Debug for RedactedJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serde_json::Value::Object(members) = self.0 else {
            return fmt::Debug::fmt(self.0, f);
        };
        let mut map = f.debug_map();
        for (name, value) in members {
            if is_secret_field(name) {
                map.entry(name, &format_args!("<redacted>"));
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// Whether `name` is a credential member of any operation's body.
fn is_secret_field(name: &str) -> bool {
    geopera_types::operations::ALL
        .iter()
        .any(|info| info.secret_fields.contains(&name))
}

/// Options for one call; see [`Request`].
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) api_key: Option<Secret>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) retries: Option<u32>,
    pub(crate) deadline: Option<Duration>,
    /// The credentials the body itself carries (its operation's `secret_fields`), kept out of
    /// errors like the call's own; set where the body becomes JSON.
    pub(crate) body_secrets: Option<std::sync::Arc<[Secret]>>,
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("api_key", &self.api_key)
            .field("idempotency_key", &self.idempotency_key)
            .field("request_id", &self.request_id)
            .field("timeout", &self.timeout)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| crate::client::ShownHeaderName(name))
                    .collect::<Vec<_>>(),
            )
            .field("retries", &self.retries)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl CallOptions {
    /// The `Idempotency-Key` this call sends, if one was set.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// The `X-Request-Id` this call sends, if the caller chose one; otherwise each call gets
    /// a fresh one when it is sent.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The per-attempt timeout override, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl Request<serde_json::Value> {
    /// The JSON body and the options, for calls by operation id.
    pub(crate) fn into_json_parts(self) -> (serde_json::Value, CallOptions) {
        let body = match self.body {
            Body::Typed(value) | Body::Json(value) => value,
        };
        (body, self.options)
    }
}

impl<I> Request<I> {
    /// A request with no per-call options.
    pub fn new(body: I) -> Self {
        Request {
            body: Body::Typed(body),
            options: CallOptions::default(),
        }
    }

    /// The body, unless the request carries JSON for an operation whose input is another
    /// type (a `serde_json::Value` passed where `I` is expected).
    pub fn body(&self) -> Option<&I> {
        match &self.body {
            Body::Typed(body) => Some(body),
            Body::Json(_) => None,
        }
    }

    /// The per-call options.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// Sends `x-api-key` with this call (the contract accepts it on every operation). An
    /// empty or blank key fails the call before sending.
    ///
    /// This is the credential of a call on a [`Client`](crate::Client) without one of its
    /// own. On a client with a credential, that credential decides who calls: a bearer token
    /// is sent beside this key and the API reads the token (bearer wins), and a credential
    /// sent as `x-api-key` itself takes this key's place. To call as another key, use a
    /// client of that key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.options.api_key = Some(Secret::new(key.into()));
        self
    }

    /// Sends `Idempotency-Key`, so that the API executes this logical call at most once however
    /// often it is retried. Use one fresh key per logical call ([`new_idempotency_key`]). A
    /// page walk (`pages`, `items`) sends the request's options with every page, this key
    /// included; paged operations are reads, which the API does not claim keys for.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// Sends `id` as this call's `X-Request-Id` instead of a generated one — to carry an id
    /// your own system already logs. Every attempt of the call sends it, and the call's
    /// [`Response::request_id`](crate::Response::request_id) and
    /// [`Error::request_id`](crate::Error::request_id) report it; without it, each logical call
    /// gets a fresh UUID v4. `header("x-request-id", ..)` does the same. An id that is empty,
    /// blank or not a valid header value fails the call before sending. A page walk (`pages`,
    /// `items`) sends it with every page, so one search of your logs finds the whole walk;
    /// without it, each page gets an id of its own.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.options.request_id = Some(id.into());
        self
    }

    /// Overrides the client's timeout for each attempt of this call. A stream (an NDJSON
    /// answer, a binary body read as it comes) takes no client-wide timeout, since it may
    /// rightly take long; this one applies to it, from sending until its last byte.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Adds a header to this call; an invalid name or value fails the call before sending, as
    /// does a header the HTTP connection writes itself (`Content-Length`, `Host`, ...).
    ///
    /// An `Authorization` header is replaced by the credential of a client that has one, as
    /// [`api_key`](Self::api_key) says of `x-api-key`. A `Cookie` header joins the client's
    /// cookies, whose cookie of a name it sets too gives way to its own.
    ///
    /// The three headers that have their own setter mean the same through this one:
    /// `Idempotency-Key` is [`idempotency_key`](Self::idempotency_key) (so no key is
    /// generated in its place), `x-api-key` is [`api_key`](Self::api_key) (kept out of errors
    /// like any credential) and `X-Request-Id` is [`request_id`](Self::request_id), whatever
    /// the case of the name.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if name.eq_ignore_ascii_case(headers::IDEMPOTENCY_KEY) {
            self.options.idempotency_key = Some(value);
        } else if name.eq_ignore_ascii_case(headers::API_KEY) {
            self.options.api_key = Some(Secret::new(value));
        } else if name.eq_ignore_ascii_case(headers::REQUEST_ID) {
            self.options.request_id = Some(value);
        } else {
            self.options.headers.push((name, value));
        }
        self
    }

    /// Overrides how many times this call may be retried (0 disables retries).
    pub fn retries(mut self, retries: u32) -> Self {
        self.options.retries = Some(retries);
        self
    }

    /// Bounds the whole call, every attempt and backoff included; a wait that would pass it
    /// ends the call at once, as under [`ClientBuilder::deadline`](crate::ClientBuilder::deadline).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }
}

/// Anything an operation accepts as its body: the input model, a [`Request`] around it, or
/// JSON (a `serde_json::Value`, or a `Request` around one).
///
/// Whatever the form, the body is checked against the operation's input shape before anything
/// is sent — the same checks, locations and wording as the API's 422 answer — and a failure is
/// [`Error::InvalidInput`](crate::Error::InvalidInput). JSON is sent exactly as given: members
/// the model does not declare are kept on the wire, as the contract's open schemas allow and
/// as the Python SDK does, never dropped.
pub trait IntoRequest<I> {
    /// Converts into a request.
    fn into_request(self) -> Request<I>;
}

impl<I> IntoRequest<I> for serde_json::Value {
    fn into_request(self) -> Request<I> {
        Request {
            body: Body::Json(self),
            options: CallOptions::default(),
        }
    }
}

impl<I> IntoRequest<I> for Request<serde_json::Value> {
    fn into_request(self) -> Request<I> {
        let json = match self.body {
            Body::Typed(json) | Body::Json(json) => json,
        };
        Request {
            body: Body::Json(json),
            options: self.options,
        }
    }
}

/// A request the crate has already converted (the fluent client's), passed on to the one
/// generic entry point of the runtime.
pub(crate) struct Converted<I>(pub(crate) Request<I>);

impl<I> IntoRequest<I> for Converted<I> {
    fn into_request(self) -> Request<I> {
        self.0
    }
}

impl<I: serde::Serialize> Body<I> {
    /// The body as JSON, ready to be checked and sent.
    pub(crate) fn into_json(self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Body::Typed(body) => serde_json::to_value(body),
            Body::Json(json) => Ok(json),
        }
    }
}

/// Lets an input model, or a [`Request`] around one, be passed directly as a body.
macro_rules! impl_into_request {
    ($ty:ty) => {
        impl $crate::IntoRequest<$ty> for $ty {
            fn into_request(self) -> $crate::Request<$ty> {
                $crate::Request::new(self)
            }
        }

        impl $crate::IntoRequest<$ty> for $crate::Request<$ty> {
            fn into_request(self) -> $crate::Request<$ty> {
                self
            }
        }
    };
}
pub(crate) use impl_into_request;

/// A fresh `Idempotency-Key`, made as the client makes the one it sends with each call of an
/// operation with side effects when the call carries none: a random UUID v4, its 16 bytes
/// straight from the operating system's generator.
///
/// Public for a program that wants to know the key before the call goes out: one that makes it
/// here, keeps it, and sends it with [`Request::idempotency_key`] can name it when the call's
/// outcome is never heard (an interruption, a lost connection), so that a retry sends the same
/// key and the API answers it with the first call's outcome instead of executing it again.
///
/// ```
/// let key = geopera::new_idempotency_key();
/// assert_eq!(key.len(), 36);
/// assert_ne!(key, geopera::new_idempotency_key());
/// let request = geopera::Request::new(serde_json::json!({})).idempotency_key(key.clone());
/// assert_eq!(request.options().idempotency_key(), Some(key.as_str()));
/// ```
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
