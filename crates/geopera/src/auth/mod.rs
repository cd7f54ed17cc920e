//! Credentials: what a client proves itself with, and how it keeps that proof valid.
//!
//! Every call asks the client's [`Credentials`] for "a valid credential for this request".
//! What answers decides how long a client can run:
//!
//! - A fixed [`Credential`] — a `gpra_` API key or a token, sent as `Authorization: Bearer`
//!   or as `X-API-Key` — never changes; [`AuthenticatedClient::new`](crate::AuthenticatedClient::new)
//!   uses one.
//! - A [`Session`] signs in through the API's OpenID Connect endpoints (password,
//!   client credentials, a refresh token, or the [device flow](DeviceAuthorization)) and keeps
//!   its access token fresh: it refreshes ahead of expiry, with a little jitter so that a fleet
//!   does not refresh in step, with exactly one refresh in flight however many clones and tasks
//!   use it, and hands every rotated token pair to a callback so an application can store it.
//!
//! A call answered 401 while holding a refreshable credential makes the provider refresh once
//! and the call is sent once more; a second 401, or a refresh the server refuses, is returned
//! as an error ([`ErrorKind::Auth`](crate::ErrorKind::Auth)). A 401 past a redirect is returned
//! too when the call may not be repeated: the API answered the call's own request first.
//!
//! ```no_run
//! # async fn run() -> Result<(), geopera::Error> {
//! use geopera::auth::{Oidc, Session};
//! use geopera::AuthenticatedClient;
//!
//! let base_url = "http://127.0.0.1:8787";
//! let session = Session::password(Oidc::for_base_url(base_url)?, "admin", "admin-password")
//!     .on_refresh(|tokens| {
//!         // Store `tokens` (e.g. the refresh token) to sign in again after a restart.
//!         let _ = tokens.refresh_token();
//!     });
//! let client = AuthenticatedClient::builder_with_credentials(session)
//!     .base_url(base_url)
//!     .build()?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! Secrets (tokens, keys, passwords, refresh tokens) never appear in `Debug` output, errors or
//! logs.

mod device;
pub(crate) mod oidc;
mod session;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};

use crate::secret::Secret;
use crate::Error;

pub use device::DeviceAuthorization;
pub use oidc::{Oidc, TokenSet};
pub use session::{Session, DEFAULT_REFRESH_LEEWAY};

/// A boxed future, as [`Credentials`] methods return (the trait is used as a trait object).
pub type CredentialFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// The source of a client's credentials, asked before every attempt of an operation that
/// needs credentials: one that needs none (`webhooks.drain`) goes without asking, so a source
/// that cannot give one then does not fail it.
///
/// Implement it to take credentials from somewhere the SDK does not know (a secrets manager,
/// a sidecar); [`Credential`] and [`Session`] cover the API's own schemes.
pub trait Credentials: Send + Sync + fmt::Debug + 'static {
    /// The credential for every request when it never changes. A client bakes it into the
    /// headers it prepares once, so a fixed credential costs nothing per call.
    fn fixed(&self) -> Option<Credential> {
        None
    }

    /// A credential valid for the next request.
    ///
    /// # Errors
    ///
    /// No valid credential could be had (a refresh was refused, the token endpoint failed).
    /// A provider of your own ends the call with a failure of its own through
    /// [`Error::credentials`], which keeps it whole for the caller to take back.
    fn credential<'a>(&'a self, cx: AuthContext<'a>) -> CredentialFuture<'a, Credential>;

    /// The API answered 401 to a request that carried `rejected`. Returns whether a new
    /// credential is available, so that the request is worth sending once more.
    ///
    /// # Errors
    ///
    /// A refresh was attempted and failed; the call reports this error instead of the 401.
    fn rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        cx: AuthContext<'a>,
    ) -> CredentialFuture<'a, bool> {
        let _ = (rejected, cx);
        Box::pin(async { Ok(false) })
    }
}

/// What a provider may use while it produces a credential: the HTTP client of the call that
/// asks, so that sign-in requests share its pool, its runtime and its TLS settings.
#[derive(Clone, Copy, Debug)]
pub struct AuthContext<'a> {
    /// The HTTP client, and the limiter that counts sign-in requests.
    pub(crate) via: crate::auth::oidc::Via<'a>,
    /// Where the call was made from, when it is a blocking call: a session must not wait for
    /// a sign-in that only the runtime this call stops could finish.
    pub(crate) blocking: Option<crate::caller::Caller>,
}

impl<'a> AuthContext<'a> {
    /// The HTTP client to send sign-in requests with. The SDK's own follows no redirects; one
    /// the caller brought ([`Client::with_http_client`](crate::Client::with_http_client)) may,
    /// so a provider of its own sends what a redirect must not repeat (a password, a refresh
    /// token) as a body that cannot be sent twice, as the SDK's sign-in requests do.
    pub fn http(&self) -> &'a reqwest::Client {
        self.via.http
    }
}

/// One credential and how it is sent.
///
/// Cloning is cheap. `Debug` shows the scheme, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    scheme: Scheme,
    secret: Secret,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Bearer,
    ApiKeyHeader,
}

impl Credential {
    /// `Authorization: Bearer <token>`: a session token, or a `gpra_` API key (the API
    /// accepts keys both ways).
    pub fn bearer(token: impl Into<String>) -> Self {
        Credential {
            scheme: Scheme::Bearer,
            secret: Secret::new(token.into()),
        }
    }

    /// `X-API-Key: <key>`, as the official command-line client sends `gpra_` keys.
    pub fn api_key(key: impl Into<String>) -> Self {
        Credential {
            scheme: Scheme::ApiKeyHeader,
            secret: Secret::new(key.into()),
        }
    }

    /// The header this credential travels in, marked sensitive.
    ///
    /// # Errors
    ///
    /// The secret is empty or blank, holds white space inside it, or holds characters a header
    /// cannot carry.
    pub(crate) fn header(&self) -> Result<(HeaderName, HeaderValue), Error> {
        // An empty one would be sent as `Bearer ` and refused by the API call by call, as if
        // it had expired; it is a setting that can never work.
        let secret = self.secret.expose();
        if secret.trim().is_empty() {
            return Err(Error::config("the credential is empty"));
        }
        // No token or key holds white space inside it (a bearer token is RFC 6750's
        // `b64token`): one that does is most often a scheme pasted with the token, which would
        // travel as `Bearer Bearer ...` and be refused call by call as an unknown credential.
        // The secret's edges are left to the header check below, as they were.
        if let Some((first, _)) = secret.trim().split_once(char::is_whitespace) {
            return Err(Error::config(if first.eq_ignore_ascii_case("bearer") {
                "the credential begins with the scheme `Bearer`: give the token alone, as the \
                 SDK writes the scheme itself"
            } else {
                "the credential holds white space inside it, which no token or API key does"
            }));
        }
        let (name, text) = match self.scheme {
            Scheme::Bearer => (AUTHORIZATION, format!("Bearer {secret}")),
            Scheme::ApiKeyHeader => (
                HeaderName::from_static(geopera_types::headers::API_KEY),
                secret.to_owned(),
            ),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::config("the credential contains characters not allowed in a header")
        })?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("scheme", &self.scheme)
            .field("secret", &self.secret)
            .finish()
    }
}

impl Credentials for Credential {
    fn fixed(&self) -> Option<Credential> {
        Some(self.clone())
    }

    fn credential<'a>(&'a self, _cx: AuthContext<'a>) -> CredentialFuture<'a, Credential> {
        let credential = self.clone();
        Box::pin(async move { Ok(credential) })
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
