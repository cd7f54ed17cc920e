//! The API's OpenID Connect endpoints, and the token answers they give.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::base_url::checked_url;
use crate::body::ReadError;
use crate::bounds::Bounds;
use crate::limiter::{Limiter, SendBy};
use crate::secret::Secret;
use crate::{Client, Error};

use geopera_types::oidc::{codes, DEVICE_ENDPOINT, TOKEN_ENDPOINT};
pub(crate) use geopera_types::oidc::{KEY_CLIENT_ID, PUBLIC_CLIENT_ID};
use geopera_types::RateClass;

/// What errors of a request to the provider name as its operation, by its endpoint: the
/// token endpoint's, or the device authorization's.
pub(crate) fn operation_of(endpoint: &str) -> &'static str {
    match endpoint {
        DEVICE_ENDPOINT => "oidc.device_authorization",
        _ => "oidc.token",
    }
}

/// The largest token-endpoint answer read: a token answer is well under a kilobyte.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// Where the size cap named in an [`Error::TooLarge`] for `operation_id` comes from, for its
/// message: the provider's answers have their own fixed cap, which no builder setting moves,
/// so pointing a user at `max_response_bytes` for them would send them to the wrong knob.
pub(crate) fn size_cap_of(operation_id: &str) -> &'static str {
    if operation_id == operation_of(DEVICE_ENDPOINT) || operation_id == operation_of(TOKEN_ENDPOINT)
    {
        "the fixed cap of an identity provider's answer"
    } else {
        "ClientBuilder::max_response_bytes"
    }
}

/// What a request to the identity provider goes out through: the HTTP client of the call or
/// client that asks, and that client's limiter.
///
/// Why the limiter: the API counts sign-in requests as it counts calls without credentials,
/// per client address ([`RateClass::Unauthenticated`]). Unpaced, they pushed a client that
/// drains webhooks at that budget's full pace over it in every minute it signed in, and a
/// drain met a 429. So each one takes a paced slot of that class, as a drain does, waits out
/// its pauses and its shared budget, and a 429 it meets pauses the class for everyone. Only
/// a provider at the API's own origin (as [`Oidc::for_base_url`] finds it) is counted so: one
/// elsewhere is not the API, whose budget neither its requests nor its 429s touch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Via<'a> {
    pub(crate) http: &'a reqwest::Client,
    /// The client's base URL, whose origin is the API's.
    pub(crate) api: &'a str,
    pub(crate) limiter: &'a Arc<Limiter>,
    /// The longest 429 pause the client waits out
    /// ([`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after)): a longer one
    /// holds nothing, as for a call.
    pub(crate) max_pause: Duration,
    /// The longest the request waits for its turn, if it may not wait for as long as its
    /// turn takes: a session's sign-in, which other calls wait for (`Session::lock`). One
    /// whose turn comes later goes at once, and the provider's own limit guards it.
    pub(crate) wait_at_most: Option<Duration>,
    /// The client's `User-Agent`, which sign-ins send as calls do: a provider or a gateway
    /// in front of it may refuse requests without one. The client's other headers stay with
    /// its calls, as they may be secrets of the API's.
    pub(crate) user_agent: Option<&'a HeaderValue>,
}

impl<'a> Via<'a> {
    /// Through `http`, counted by `client`'s limiter.
    pub(crate) fn of(client: &'a Client, http: &'a reqwest::Client) -> Self {
        Via {
            http,
            api: &client.settings.base_url,
            limiter: &client.limiter,
            max_pause: client.settings.retry.max_retry_after,
            wait_at_most: None,
            user_agent: client.settings.prepared.get(http::header::USER_AGENT),
        }
    }

    /// Whether a request to `endpoint` is the API's to count: the endpoint shares its origin.
    fn counted(&self, endpoint: &url::Url) -> bool {
        url::Url::parse(self.api).is_ok_and(|api| api.origin() == endpoint.origin())
    }

    /// Whether `oidc`'s request to the endpoint named `name` is the API's to count, and so
    /// held by the API's pauses as well as paced.
    pub(crate) fn counts(&self, oidc: &Oidc, name: &str) -> bool {
        url::Url::parse(&oidc.endpoint(name)).is_ok_and(|url| self.counted(&url))
    }

    /// Waits for the request's turn under the client's pacing of the per-address budget, for
    /// at most [`wait_at_most`](Via::wait_at_most).
    async fn take_turn(&self, operation: &str) {
        let clock = &self.limiter.clock;
        let send_by = SendBy(
            self.wait_at_most
                .map(|wait| clock.now().saturating_add(wait)),
        );
        let class = RateClass::Unauthenticated;
        if self.limiter.pace(operation, class, send_by).await.is_err() {
            tracing::debug!(
                operation_id = operation,
                ?class,
                "a sign-in request's turn comes later than the calls waiting for it would \
                 wait: sending it now"
            );
        }
    }

    /// A 429 of the provider, answered at `answered_at` on the limiter's clock, holds back
    /// every request of the budget it spoke for, as a call's 429 does
    /// ([`Limiter::pause_until`]): `Retry-After` in seconds counts from the answer.
    async fn limited(&self, headers: &http::HeaderMap, answered_at: Duration) {
        let Some(asked) = crate::retry::read_retry_after(headers) else {
            return;
        };
        if asked.wait > self.max_pause {
            return;
        }
        let since = if asked.dated {
            self.limiter.clock.now()
        } else {
            answered_at
        };
        let class = RateClass::Unauthenticated;
        self.limiter
            .pause_until(class, since.saturating_add(asked.wait));
        self.limiter.tell_limited(class, asked.wait).await;
    }
}

/// How long one request to the identity provider may take, unless
/// [`Oidc::request_timeout`] says otherwise.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a Geopera identity provider lives and which client id to sign in as.
///
/// Sign-in requests go to this origin only: refresh tokens and passwords never travel
/// anywhere else, and redirects from it are not followed.
#[derive(Clone, Debug)]
pub struct Oidc {
    issuer: String,
    client_id: Option<String>,
    request_timeout: Duration,
}

impl Oidc {
    /// The provider with this issuer URL (`https://host/realms/public`), read as a base URL
    /// is ([`check_base_url`](crate::check_base_url)): spaces and line breaks around it and a
    /// trailing `/` are dropped.
    ///
    /// Why a query or fragment is refused: every endpoint's path is added after the issuer,
    /// so either would swallow it and send each sign-in to the issuer URL itself, and the URL
    /// is shown by `Debug`, where a key in a query must not appear.
    ///
    /// # Errors
    ///
    /// The URL is not an `http` or `https` URL, or carries a user name, a password, a query
    /// or a fragment.
    pub fn new(issuer: impl Into<String>) -> Result<Self, Error> {
        let raw = issuer.into();
        let issuer = checked_url("issuer URL", &raw, None)?;
        // A sign-in sends a password, an API key or a refresh token, each worth more than the
        // access token a client's own warning is about.
        if crate::base_url_in_clear_text(&issuer) {
            tracing::warn!(
                issuer = %issuer,
                "sign-in secrets (a password, an API key, a refresh token) go in clear text: \
                 the issuer URL is plain http to another machine"
            );
        }
        Ok(Oidc {
            issuer,
            client_id: None,
            request_timeout: REQUEST_TIMEOUT,
        })
    }

    /// The provider serving the API at `base_url`, as the API and the emulator do. The base
    /// URL is read as a client's is, so the same text finds the same API and provider.
    ///
    /// # Errors
    ///
    /// The URL is not an `http` or `https` URL, or carries a user name, a password, a query
    /// or a fragment.
    pub fn for_base_url(base_url: &str) -> Result<Self, Error> {
        let base_url = checked_url("base URL", base_url, None)?;
        Oidc::new(geopera_types::oidc::issuer(base_url.as_str()))
    }

    /// Signs in as another public OAuth client than `geopera-cli` (password, refresh-token and
    /// device-code grants). The client-credentials grant always uses `geopera`, whose secret
    /// is the API key.
    #[must_use]
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// How long each request to the provider may take, its answer read (default 30 s): every
    /// sign-in, refresh and device-flow poll made through this provider. A command-line
    /// tool's own `--timeout` belongs here, so that no sign-in step outwaits it.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long each request to the provider may take ([`Oidc::request_timeout`]).
    pub(crate) fn request_time(&self) -> Duration {
        self.request_timeout
    }

    /// The issuer URL, without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn client_id_or(&self, default: &'static str) -> &str {
        self.client_id.as_deref().unwrap_or(default)
    }

    pub(crate) fn endpoint(&self, name: &str) -> String {
        geopera_types::oidc::endpoint(&self.issuer, name)
    }

    /// Asks the token endpoint for tokens with `form` (a grant); `secrets` are the form's
    /// credentials, kept out of any error. An answer [`refusal`](Self::refusal) turns down is
    /// an error.
    pub(crate) async fn token(
        &self,
        via: Via<'_>,
        form: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<TokenAnswer, Error> {
        let answer = self.token_answer(via, form, secrets).await?;
        match Self::refusal(&answer, secrets) {
            Some(refused) => Err(refused),
            None => Ok(answer),
        }
    }

    /// [`token`](Self::token)'s answer before it is judged, for a session, which keeps the
    /// rotated refresh token of an answer whose access token it refuses.
    pub(crate) async fn token_answer(
        &self,
        via: Via<'_>,
        form: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<TokenAnswer, Error> {
        self.post_form(via, TOKEN_ENDPOINT, form, secrets).await
    }

    /// Why a token answer's access token cannot be taken up, if it cannot.
    pub(crate) fn refusal(answer: &TokenAnswer, secrets: &[&str]) -> Option<Error> {
        if answer.access_token.is_empty() {
            return Some(sign_in_error(
                StatusCode::OK,
                "invalid_response",
                Some("the token answer holds no access token".to_owned()),
                secrets,
            ));
        }
        // Taken up, a token the SDK will not send would fail every call as a configuration
        // error until it expired (years, for a lifetime as long), and never be refreshed: it
        // is refused here instead, by the rule every call applies to it. Characters no header
        // can carry are one reason; white space inside it (a provider writing `Bearer` into
        // the token) is another.
        if crate::auth::Credential::bearer(answer.access_token.as_str())
            .header()
            .is_err()
        {
            return Some(sign_in_error(
                StatusCode::OK,
                "invalid_response",
                Some(
                    "the access token holds white space or characters an HTTP header cannot \
                     carry, so no call could send it"
                        .to_owned(),
                ),
                secrets,
            ));
        }
        None
    }

    /// Renews tokens with `refresh_token` (the refresh-token grant, as the public client
    /// `geopera-cli` or the one set with [`Oidc::client_id`]), once, with no
    /// [`Session`](crate::auth::Session) holding them.
    ///
    /// For a program that keeps the tokens itself — a command-line tool whose credentials
    /// file other processes share, refreshing under its own file lock — so that the answer
    /// is checked by the rules a session applies, not by a copy of them: an empty access
    /// token, one no header can carry and one with white space inside are refused; a
    /// lifetime written as a string or a fraction is read leniently, since the answer holds a
    /// rotated refresh token and the one sent is already spent; an answer without a refresh
    /// token (or with an empty one) keeps `refresh_token`, as a provider that does not rotate
    /// it leaves it out. Whether the provider stated a lifetime at all is
    /// [`TokenSet::stated_expires_at`]. A refused answer's rotated refresh token is not
    /// returned with the error (errors carry no credential); a [`Session`] keeps it.
    ///
    /// [`Session`]: crate::auth::Session
    ///
    /// The request uses `client`'s HTTP client (its TLS roots and proxies) and this
    /// provider's [`request_timeout`](Oidc::request_timeout). When the provider is at the
    /// API's origin (`client`'s base URL), it is counted as the API counts it, against the
    /// budget of calls without credentials ([`RateClass::Unauthenticated`]): `client`'s
    /// pacing and 429 pauses of that class hold it, and a 429 it meets pauses them.
    ///
    /// # Errors
    ///
    /// [`Error::SignIn`] when the provider refuses (its OAuth error code and HTTP status), or
    /// answers 2xx with something that is no usable token (`invalid_response`);
    /// [`Error::TooLarge`] for an answer past 64 KiB; a timeout or transport error when it
    /// could not be reached.
    pub async fn refresh(&self, client: &Client, refresh_token: &str) -> Result<TokenSet, Error> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id_or(PUBLIC_CLIENT_ID)),
            ("refresh_token", refresh_token),
        ];
        let received = SystemTime::now();
        let answer = self
            .token(Via::of(client, &client.http), &form, &[refresh_token])
            .await?;
        Ok(TokenSet::from_answer(answer, received)
            .or_refresh_token(Some(Secret::new(refresh_token.to_owned()))))
    }

    /// Posts a form to one of the provider's endpoints and reads its JSON answer, or the
    /// OAuth error it gives instead.
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        via: Via<'_>,
        endpoint: &str,
        form: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<T, Error> {
        let operation = operation_of(endpoint);
        crate::engine::outside_tokio(operation)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        // Parsed here rather than by the HTTP client, so that the address the answer came
        // from is compared below with the one sent to, spelled the same way.
        let url = url::Url::parse(&self.endpoint(endpoint)).map_err(|e| {
            Error::config(format!(
                "the identity provider's {endpoint} URL is invalid: {e}"
            ))
        })?;
        // The form goes as a body that cannot be sent twice, its length still announced: an
        // HTTP client of the caller's that follows redirects (reqwest's default) would replay
        // a reusable one, refresh token, password or API key included, to whatever origin a
        // 307 or 308 names. Such a redirect now comes back as the answer, which is refused.
        let length = body.len();
        let once = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(
            bytes::Bytes::from(body),
        )));
        let counted = via.counted(&url);
        if counted {
            via.take_turn(operation).await;
        }
        let sent = crate::clock::Sent::now(&*via.limiter.clock);
        let mut request = via.http.post(url.clone());
        if let Some(user_agent) = via.user_agent {
            request = request.header(http::header::USER_AGENT, user_agent.clone());
        }
        let mut response = request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(once))
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(|e| Error::from_reqwest(operation, e))?;
        // A 301, 302 or 303 is followed by such a client as a GET without the form: nothing
        // secret went, but the answer is another address's, and a token from there is not the
        // provider's to give.
        if *response.url() != url {
            return Err(sign_in_error(
                response.status(),
                "invalid_response",
                Some(format!(
                    "the answer of {endpoint} came from another address than the identity \
                     provider's, after a redirect that sign-in requests do not follow"
                )),
                secrets,
            ));
        }
        let status = response.status();
        if counted && status == StatusCode::TOO_MANY_REQUESTS {
            via.limited(response.headers(), sent.answered_at(&*via.limiter.clock))
                .await;
        }
        // The request's own timeout above bounds the body too.
        let content = crate::body::read(&mut response, MAX_ANSWER_BYTES, &Bounds::none())
            .await
            .map_err(|error| match error {
                ReadError::TooLarge => Error::too_large(operation, MAX_ANSWER_BYTES),
                ReadError::Transport(e) => Error::from_reqwest(operation, e),
                ReadError::Elapsed(limit) => Error::timed_out(operation, limit),
            })?;
        if status.is_success() {
            return serde_json::from_slice::<T>(&content).map_err(|e| {
                sign_in_error(
                    status,
                    "invalid_response",
                    Some(format!(
                        "the answer of {endpoint} does not fit: {}",
                        crate::error::unquoted_decoder(&e)
                    )),
                    secrets,
                )
            });
        }
        match serde_json::from_slice::<OAuthError>(&content) {
            Ok(refusal) => Err(sign_in_error(
                status,
                &refusal.error,
                refusal.error_description,
                secrets,
            )),
            Err(_) => Err(sign_in_error(
                status,
                "invalid_response",
                Some(format!(
                    "the identity provider answered {status} without an OAuth error"
                )),
                secrets,
            )),
        }
    }
}

/// An OAuth 2.0 error answer (RFC 6749, section 5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The error for a refused or unreadable sign-in answer, with the request's secrets removed
/// from anything the provider said.
fn sign_in_error(
    status: StatusCode,
    code: &str,
    description: Option<String>,
    secrets: &[&str],
) -> Error {
    // Each secret as sent — inside a form, where a space is `+` and `$` is `%24` — and as
    // typed: a provider may quote the request's body, or the value it decoded.
    let spellings: Vec<String> = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .flat_map(|secret| {
            let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let percent = form.replace('+', "%20");
            [(*secret).to_owned(), form, percent]
        })
        .collect();
    let clean = |text: String| {
        crate::redact::redact_text(text, &spellings)
            .chars()
            .take(500)
            .collect::<String>()
    };
    // A registered code is a public word, so it hides no secret, and redacting a short
    // password out of it ("invalid_grant" and the password "grant") would make it another code.
    let code = if REGISTERED_CODES.contains(&code) {
        code.to_owned()
    } else {
        clean(code.to_owned())
    };
    Error::sign_in(code, description.map(clean), Some(status))
}

/// The OAuth error codes of RFC 6749 (section 5.2), RFC 8628 (section 3.5) and RFC 7009
/// (section 2.2.1), which the SDK and its callers match on, and the SDK's own
/// `invalid_response`.
const REGISTERED_CODES: &[&str] = &[
    "invalid_response",
    codes::INVALID_REQUEST,
    codes::INVALID_CLIENT,
    codes::INVALID_GRANT,
    codes::UNAUTHORIZED_CLIENT,
    codes::UNSUPPORTED_GRANT_TYPE,
    codes::INVALID_SCOPE,
    codes::ACCESS_DENIED,
    codes::SERVER_ERROR,
    codes::TEMPORARILY_UNAVAILABLE,
    codes::AUTHORIZATION_PENDING,
    codes::SLOW_DOWN,
    codes::EXPIRED_TOKEN,
    codes::UNSUPPORTED_TOKEN_TYPE,
];

/// A token endpoint's success answer (RFC 6749, section 5.1), as the provider sends it.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    /// Empty when the answer has none, or not as a string: such an answer is refused, but
    /// read, since its refresh token may be the only one left ([`TokenSet::rotated_by`]).
    #[serde(default, deserialize_with = "text_or_empty")]
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(crate) refresh_expires_in: Option<u64>,
    /// Read leniently, as the lifetimes are: a scope written as a list of words is joined
    /// with spaces, and one of any other form is none, rather than the answer refused with
    /// the rotated refresh token it holds.
    #[serde(default, deserialize_with = "words_or_none")]
    pub(crate) scope: Option<String>,
}

/// A string member as it is, a list of strings joined with spaces (RFC 6749's spelling of a
/// scope), and any other value as none.
fn words_or_none<'de, D: serde::Deserializer<'de>>(into: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(into)? {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Array(words) => words
            .iter()
            .map(serde_json::Value::as_str)
            .collect::<Option<Vec<_>>>()
            .map(|words| words.join(" ")),
        _ => None,
    })
}

impl TokenAnswer {
    /// When the refresh token expires, if the answer says: a lifetime of zero states none
    /// (Keycloak sends it for an offline token, which has no fixed expiry).
    fn refresh_expires_at(&self, received: SystemTime) -> Option<SystemTime> {
        self.refresh_expires_in
            .filter(|s| *s > 0)
            .map(|s| after(received, s))
    }
}

/// A string member as it is, and any other value as the empty string.
fn text_or_empty<'de, D: serde::Deserializer<'de>>(into: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(into)? {
        serde_json::Value::String(text) => Ok(text),
        _ => Ok(String::new()),
    }
}

/// A lifetime in seconds as providers write it: an integer as RFC 6749 says, but also a
/// fraction (rounded down), a negative number (none left), a number too large for any clock
/// (the longest lifetime) or a numeric string; anything else is no lifetime at all.
///
/// Why not refuse such an answer: it holds the tokens the provider has just issued, a rotated
/// refresh token among them, and the one it replaces is spent. Throwing the answer away over
/// its lifetime would end the session at the next refresh.
///
/// Why the member is read as raw text: a number past the range of an `f64` (`1e400`) is no
/// JSON value `serde_json` will build, and failing it would fail the whole answer.
pub(crate) fn lenient_seconds<'de, D: serde::Deserializer<'de>>(
    into: D,
) -> Result<Option<u64>, D::Error> {
    let raw = Box::<serde_json::value::RawValue>::deserialize(into)?;
    let (text, quoted) = match serde_json::from_str::<String>(raw.get()) {
        Ok(text) => (text, true),
        Err(_) => (raw.get().to_owned(), false),
    };
    let text = text.trim();
    if let Ok(whole) = text.parse::<u64>() {
        return Ok(Some(whole));
    }
    // The parse of a JSON number past the range of an `f64` is infinite; a string saying
    // `inf` or `NaN` names no number of seconds.
    Ok(text
        .parse::<f64>()
        .ok()
        .filter(|number| !number.is_nan() && (!quoted || number.is_finite()))
        // Saturating: an infinite lifetime is the longest one, a negative one none.
        .map(|number| number.max(0.0).floor() as u64))
}

/// The tokens of a session at one moment: what to store to sign in again later.
///
/// `Debug` shows when the tokens expire, never the tokens.
#[derive(Clone)]
pub struct TokenSet {
    pub(crate) access_token: Secret,
    pub(crate) refresh_token: Option<Secret>,
    pub(crate) expires_at: SystemTime,
    /// Whether `expires_at` comes from a lifetime the provider (or the caller) gave, rather
    /// than the one assumed without it.
    pub(crate) expiry_stated: bool,
    pub(crate) refresh_expires_at: Option<SystemTime>,
    pub(crate) scope: Option<String>,
}

/// The longest lifetime a token is taken to have. A provider that grants more (or sends
/// `expires_in` near 2^64, which no clock can add) gets its token refreshed after this.
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The shortest lifetime an access token is taken to have, in seconds, whatever the provider
/// says ([`TokenSet::from_answer`]).
const MIN_TOKEN_LIFETIME_SECS: u64 = 10;

/// `seconds` after `received`, at most [`MAX_TOKEN_LIFETIME`].
fn after(received: SystemTime, seconds: u64) -> SystemTime {
    let lifetime = Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME);
    received.checked_add(lifetime).unwrap_or(received)
}

impl TokenSet {
    /// Tokens kept from an earlier run: an access token valid until `expires_at` (wall-clock
    /// time), and the refresh token that renews it.
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: Option<String>,
        expires_at: SystemTime,
    ) -> Self {
        TokenSet {
            access_token: Secret::new(access_token.into()),
            refresh_token: refresh_token.map(Secret::new),
            expires_at,
            expiry_stated: true,
            refresh_expires_at: None,
            scope: None,
        }
    }

    pub(crate) fn from_answer(answer: TokenAnswer, received: SystemTime) -> Self {
        // Without `expires_in` the token is treated as valid for one access-token lifetime
        // of the API (300 s), the shortest it grants. One said to expire at once is still
        // used for a moment: taken at its word, every call would refresh it first. Should it
        // really be spent, the API's 401 renews it, as for any token revoked early.
        let lifetime = answer
            .expires_in
            .unwrap_or(300)
            .max(MIN_TOKEN_LIFETIME_SECS);
        let refresh_expires_at = answer.refresh_expires_at(received);
        TokenSet {
            access_token: Secret::new(answer.access_token),
            refresh_token: answer
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            expires_at: after(received, lifetime),
            expiry_stated: answer.expires_in.is_some(),
            refresh_expires_at,
            scope: answer.scope,
        }
    }

    /// The access token, sent as `Authorization: Bearer`.
    pub fn access_token(&self) -> &str {
        self.access_token.expose()
    }

    /// The refresh token, when the provider gave one.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_ref().map(Secret::expose)
    }

    /// When the access token expires (wall-clock time).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// When the access token expires, if the provider said: `None` when its answer gave no
    /// lifetime (or none that reads as seconds), [`expires_at`](Self::expires_at) being then
    /// the 300 s assumed. A stated lifetime is held within the bounds
    /// [`expires_at`](Self::expires_at) keeps to, so a lifetime of zero reads as a few
    /// seconds, not as a token already spent.
    ///
    /// Why both: a session needs a moment to refresh at, so it assumes one; a program that
    /// stores the tokens for others to read (the official command-line client writes a null
    /// expiry for an unknown one) should not turn that assumption into a stated fact.
    pub fn stated_expires_at(&self) -> Option<SystemTime> {
        self.expiry_stated.then_some(self.expires_at)
    }

    /// Tokens that can only renew: no access token a call could send, and `refresh_token`.
    pub(crate) fn refresh_only(refresh_token: Secret) -> Self {
        TokenSet {
            access_token: Secret::new(String::new()),
            refresh_token: Some(refresh_token),
            expires_at: SystemTime::UNIX_EPOCH,
            expiry_stated: false,
            refresh_expires_at: None,
            scope: None,
        }
    }

    /// `held` (or, with none held, [`refresh_only`](Self::refresh_only) tokens) renewed by
    /// `answer`'s refresh token alone, for an answer whose access token was refused; `None`
    /// when it holds no refresh token.
    ///
    /// Why keep it: the provider rotated the refresh token as it answered, so the one held is
    /// spent, and throwing the new one away with the access token would end the session at
    /// the next refresh. The access token held stays as it was, to its own expiry.
    pub(crate) fn rotated_by(
        held: Option<TokenSet>,
        answer: TokenAnswer,
        received: SystemTime,
    ) -> Option<Self> {
        let refresh_expires_at = answer.refresh_expires_at(received);
        let rotated = Secret::new(answer.refresh_token.filter(|t| !t.is_empty())?);
        let mut tokens = match held {
            Some(mut held) => {
                held.refresh_token = Some(rotated);
                held
            }
            None => TokenSet::refresh_only(rotated),
        };
        tokens.refresh_expires_at = refresh_expires_at;
        Some(tokens)
    }

    /// `kept` as the refresh token, when the answer these tokens came from gave none: a
    /// refresh answer may leave the refresh token unchanged by omitting it.
    pub(crate) fn or_refresh_token(mut self, kept: Option<Secret>) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = kept;
        }
        self
    }

    /// When the refresh token expires, when the provider said.
    pub fn refresh_expires_at(&self) -> Option<SystemTime> {
        self.refresh_expires_at
    }

    /// The scopes granted, space-separated, when the provider said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("expiry_stated", &self.expiry_stated)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
