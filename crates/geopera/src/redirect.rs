//! Following redirects without letting a credential leave its origin.
//!
//! reqwest's own redirect policy drops only `Authorization` and `Cookie` when a redirect
//! crosses origins; an `x-api-key` or any header a caller added would travel on to the other
//! host. So the HTTP clients the SDK builds never follow redirects themselves: the call engine
//! follows them here, and a hop to another origin (scheme, host or port) carries only headers
//! known to hold no secret. A `catalog.image.quicklook` redirect to a CDN thus gets the user
//! agent and content negotiation, and with a 307 or 308, which repeats the body, its
//! `Content-Type`: nothing else. A body is a credential's carrier too when its
//! operation has `secret_fields` (a share link's password): a 307 or 308, which repeats the
//! body, is not followed to another origin for such a call.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{HeaderMap, ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, LOCATION, USER_AGENT};
use http::{Method, StatusCode};
use url::Url;

/// The most redirects one attempt follows; the answer to the last one is handed back as is.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Headers that may go to another origin: they describe the client and what it accepts, never
/// who it is. Everything else — credentials, cookies, idempotency keys, custom headers — stays
/// with the origin the caller configured.
const CROSS_ORIGIN_HEADERS: [http::HeaderName; 4] =
    [USER_AGENT, ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE];

/// One request of an attempt: the first to the API (borrowing the call's URL and headers, so
/// the common case copies nothing extra), or one hop of a redirect chain.
#[derive(Debug)]
pub(crate) struct Hop<'a> {
    pub(crate) url: Cow<'a, str>,
    pub(crate) method: Method,
    pub(crate) headers: Cow<'a, HeaderMap>,
    /// The body, unless a redirect turned the request into a `GET`.
    pub(crate) body: Option<Bytes>,
    /// Whether the body holds credentials (its operation's `secret_fields`, such as a share
    /// link's password): such a body never goes to another origin.
    pub(crate) secret_body: bool,
    /// How many redirects led here (0 for the request to the API itself).
    pub(crate) redirects: usize,
    /// Whether some redirect on the way here crossed to another origin: the credentials stayed
    /// behind there, so whatever answers (the API's own origin too, after a chain that came
    /// back to it) answers a request that did not carry them.
    pub(crate) left_origin: bool,
}

impl<'a> Hop<'a> {
    /// The request to the API, whose body holds credentials when `secret_body` is set.
    pub(crate) fn first(
        url: &'a str,
        headers: &'a HeaderMap,
        body: Bytes,
        secret_body: bool,
    ) -> Self {
        Hop {
            url: Cow::Borrowed(url),
            method: Method::POST,
            headers: Cow::Borrowed(headers),
            body: Some(body),
            secret_body,
            redirects: 0,
            left_origin: false,
        }
    }

    /// Where a redirect answer sends the request next; `None` when the answer is not a
    /// redirect to follow (not a redirect status, no usable `Location`, a scheme other than
    /// HTTP(S), a user name or password in the `Location`, a 307 or 308 that would carry a body holding credentials to another origin,
    /// or the chain is already [`MAX_REDIRECTS`] long), so it is handed back as is.
    pub(crate) fn follow(&self, status: StatusCode, headers: &HeaderMap) -> Option<Hop<'a>> {
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
            || self.redirects >= MAX_REDIRECTS
        {
            return None;
        }
        let current = Url::parse(&self.url).ok()?;
        let location = headers.get(LOCATION)?.to_str().ok()?;
        let next = current.join(location).ok()?;
        // A `Location` with a user name or password would have the HTTP client send them as
        // an `Authorization` header: a credential the caller never configured, which the
        // Fetch standard refuses to follow across origins. Refused here on any hop.
        if !matches!(next.scheme(), "http" | "https")
            || !next.username().is_empty()
            || next.password().is_some()
        {
            return None;
        }
        // 303 always, and 301/302 for anything but GET/HEAD, become a GET without a body, as
        // browsers and reqwest do; 307 and 308 repeat the request as it was.
        let becomes_get = status == StatusCode::SEE_OTHER
            || (matches!(status.as_u16(), 301 | 302) && self.method == Method::POST);
        let same_origin = current.origin() == next.origin();
        if !becomes_get && self.secret_body && !same_origin {
            return None;
        }
        let mut next_headers = if same_origin {
            self.headers.clone().into_owned()
        } else {
            CROSS_ORIGIN_HEADERS
                .iter()
                .filter_map(|name| Some((name.clone(), self.headers.get(name)?.clone())))
                .collect()
        };
        let (method, body) = if becomes_get {
            next_headers.remove(http::header::CONTENT_TYPE);
            next_headers.remove(http::header::CONTENT_LENGTH);
            (Method::GET, None)
        } else {
            // The body goes on, so what says how to read it goes with it: a content type
            // names a format, never who is asking.
            if let Some(kind) = self.headers.get(http::header::CONTENT_TYPE) {
                next_headers.insert(http::header::CONTENT_TYPE, kind.clone());
            }
            (self.method.clone(), self.body.clone())
        };
        Some(Hop {
            url: Cow::Owned(next.into()),
            method,
            headers: Cow::Owned(next_headers),
            body,
            secret_body: self.secret_body,
            redirects: self.redirects + 1,
            left_origin: self.left_origin || !same_origin,
        })
    }
}

/// `error`, from a request to a hop past the first, with the query and fragment of the URL
/// it names redacted, as [`crate::quoted_url`] quotes a URL.
///
/// Why: the HTTP client names the URL it failed to reach in its message and `Debug`, and past
/// the first hop that URL is a `Location` the server chose — for a quicklook, a CDN's signed
/// URL, whose query is the signature that grants the object for as long as it lives. The
/// scheme, host and path still say where the call was going.
pub(crate) fn without_signature(mut error: reqwest::Error) -> reqwest::Error {
    if let Some(url) = error.url_mut() {
        if url.query().is_some() {
            url.set_query(Some(crate::redact::REDACTED));
        }
        if url.fragment().is_some() {
            url.set_fragment(Some(crate::redact::REDACTED));
        }
    }
    error
}

#[cfg(test)]
#[path = "redirect_tests.rs"]
mod tests;
