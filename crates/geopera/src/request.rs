//! A request body plus the per-call options that travel with it.

use std::fmt;
use std::time::Duration;

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
#[derive(Clone, Debug)]
#[must_use]
pub struct Request<I> {
    pub(crate) body: I,
    pub(crate) options: CallOptions,
}

/// Options for one call; see [`Request`].
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) api_key: Option<Secret>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) retries: Option<u32>,
    pub(crate) deadline: Option<Duration>,
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("api_key", &self.api_key)
            .field("idempotency_key", &self.idempotency_key)
            .field("timeout", &self.timeout)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
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

    /// The per-attempt timeout override, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl<I> Request<I> {
    /// A request with no per-call options.
    pub fn new(body: I) -> Self {
        Request {
            body,
            options: CallOptions::default(),
        }
    }

    /// The body.
    pub fn body(&self) -> &I {
        &self.body
    }

    /// The per-call options.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// Sends `x-api-key` with this call (the contract accepts it on every operation).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.options.api_key = Some(Secret::new(key.into()));
        self
    }

    /// Sends `Idempotency-Key`, so that the API executes this logical call at most once however
    /// often it is retried. Use one fresh key (a UUID v4) per logical call.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// Overrides the client's timeout for each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Adds a header to this call; an invalid name or value fails the call before sending.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// Overrides how many times this call may be retried (0 disables retries).
    pub fn retries(mut self, retries: u32) -> Self {
        self.options.retries = Some(retries);
        self
    }

    /// Bounds the whole call, every attempt and backoff included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }
}

/// Anything an operation accepts as its body: the input model, a [`Request`] around it, or a
/// `serde_json::Value` that is checked against the model before anything is sent.
pub trait IntoRequest<I> {
    /// Converts into a request.
    ///
    /// # Errors
    ///
    /// A JSON value that does not fit the input model.
    fn into_request(self) -> Result<Request<I>, serde_json::Error>;
}

impl<I> IntoRequest<I> for Request<I> {
    fn into_request(self) -> Result<Request<I>, serde_json::Error> {
        Ok(self)
    }
}

impl<I: serde::de::DeserializeOwned> IntoRequest<I> for serde_json::Value {
    fn into_request(self) -> Result<Request<I>, serde_json::Error> {
        serde_json::from_value(self).map(Request::new)
    }
}

/// Lets an input model be passed directly as a body.
macro_rules! impl_into_request {
    ($ty:ty) => {
        impl $crate::IntoRequest<$ty> for $ty {
            fn into_request(self) -> Result<$crate::Request<$ty>, serde_json::Error> {
                Ok($crate::Request::new(self))
            }
        }
    };
}
pub(crate) use impl_into_request;
