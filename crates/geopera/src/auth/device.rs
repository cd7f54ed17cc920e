//! Signing in on another device (RFC 8628), with PKCE (RFC 7636, S256).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use geopera_types::oidc::{codes, DEVICE_ENDPOINT, TOKEN_ENDPOINT};
use serde::Deserialize;
use sha2::Digest as _;

use crate::auth::oidc::{lenient_seconds, Oidc, TokenSet, Via, PUBLIC_CLIENT_ID};
use crate::auth::Session;
use crate::clock::Clock;
use crate::secret::Secret;
use crate::{Client, Error};

/// How much `slow_down` adds to the polling interval (RFC 8628, section 3.5).
const SLOW_DOWN_STEP: Duration =
    Duration::from_secs(geopera_types::oidc::SLOW_DOWN_STEP_SECS as u64);

/// The polling interval when the provider names none (RFC 8628, section 3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The longest a device code is waited for, whatever lifetime the provider claims. Device codes
/// live minutes; a longer claim comes from a broken or hostile answer, and a blocking wait
/// cannot be cancelled.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A device-flow sign-in in progress: show [`user_code`](Self::user_code) and
/// [`verification_uri`](Self::verification_uri) to the person, then [`wait`](Self::wait)
/// until they approve it in a browser.
///
/// `Debug` shows the user code and the URI, never the device code or the PKCE verifier.
pub struct DeviceAuthorization {
    oidc: Oidc,
    client_id: String,
    device_code: Secret,
    code_verifier: Secret,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: Duration,
    interval: Duration,
    /// The clock of the client that started the flow, and its reading when the provider
    /// answered: how much of the code's life is gone when the wait begins.
    started: (Arc<dyn Clock>, Duration),
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    /// Read as a token answer's lifetimes are ([`lenient_seconds`]): a provider that writes
    /// `"600"` or `600.0` means what it says, and a sign-in need not fail over it.
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    interval: Option<u64>,
}

impl Oidc {
    /// Starts a device-flow sign-in as the public client `geopera-cli` (or the client id set
    /// with [`Oidc::client_id`]), asking for `scope` (space-separated) or the client's default.
    ///
    /// # Errors
    ///
    /// The provider refused ([`Error::SignIn`]) or could not be reached.
    pub async fn device_authorization(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, Error> {
        DeviceAuthorization::start(self.clone(), Via::of(client, &client.http), scope).await
    }

    /// The blocking form of [`Oidc::device_authorization`].
    ///
    /// # Errors
    ///
    /// As for [`Oidc::device_authorization`].
    #[cfg(feature = "blocking")]
    pub fn device_authorization_blocking(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, Error> {
        let oidc = self.clone();
        let scope = scope.map(str::to_owned);
        let counted = client.clone();
        crate::blocking::run(
            &client.blocking,
            crate::caller::Caller::current(),
            move |thread| async move {
                let via = Via::of(&counted, thread.face().http);
                DeviceAuthorization::start(oidc, via, scope.as_deref()).await
            },
        )?
    }
}

/// `raw` as a page to show a person or open in a browser, if it is one: an `http` or `https`
/// URL with a host, written as the URL parser writes it (control characters escaped).
///
/// Why check what the provider says: the caller shows it to a person, opens it in a browser or
/// puts it in a QR code, and a `javascript:` or `file:` URL, or escape sequences for a
/// terminal, do something else there than lead to a sign-in page.
fn page(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let has_host = url.host_str().is_some_and(|host| !host.is_empty());
    (matches!(url.scheme(), "http" | "https") && has_host).then(|| url.into())
}

impl DeviceAuthorization {
    async fn start(oidc: Oidc, via: Via<'_>, scope: Option<&str>) -> Result<Self, Error> {
        let client_id = oidc.client_id_or(PUBLIC_CLIENT_ID).to_owned();
        let verifier = code_verifier()?;
        let challenge = code_challenge(&verifier);
        let mut form = vec![
            ("client_id", client_id.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let answer: DeviceAnswer = oidc.post_form(via, DEVICE_ENDPOINT, &form, &[]).await?;
        let clock = via.limiter.clock.clone();
        let started = (clock.clone(), clock.now());
        let unfit = |what: &str| {
            Error::sign_in(
                "invalid_response",
                Some(format!("the device authorization's {what}")),
                Some(http::StatusCode::OK),
            )
        };
        let verification_uri = page(&answer.verification_uri)
            .ok_or_else(|| unfit("verification_uri is not an http(s) URL with a host"))?;
        // Checked as the SDK's messages check a server's words: a bidirectional mark shows the
        // code to the person in another order than the page expects it typed.
        let code = &answer.user_code;
        if code.trim().is_empty() || code.chars().any(crate::terminal::steers) {
            return Err(unfit(
                "user_code is blank or holds characters that steer a terminal",
            ));
        }
        let verification_uri_complete = answer.verification_uri_complete.and_then(|raw| {
            let checked = page(&raw);
            if checked.is_none() {
                // Optional: the plain page and the code do the same job.
                tracing::warn!(
                    "the device authorization's verification_uri_complete is not an http(s) \
                     URL; left out"
                );
            }
            checked
        });
        // Required (RFC 8628, section 3.2): without it, how long to poll is a guess.
        let expires_in = answer
            .expires_in
            .ok_or_else(|| unfit("expires_in is missing or not a number of seconds"))?;
        let expires_in = Duration::from_secs(expires_in).min(MAX_LIFETIME);
        let interval = answer
            .interval
            .filter(|s| *s > 0)
            .map_or(DEFAULT_INTERVAL, Duration::from_secs);
        // The first poll comes an interval after the start: past the code's lifetime, the
        // wait could only report it expired, having asked nothing.
        if interval > expires_in {
            return Err(unfit(&format!(
                "interval ({} s) is longer than its expires_in ({} s), so the code would \
                 expire before it could be polled once",
                interval.as_secs(),
                expires_in.as_secs()
            )));
        }
        Ok(DeviceAuthorization {
            client_id,
            device_code: Secret::new(answer.device_code),
            code_verifier: Secret::new(verifier),
            user_code: answer.user_code,
            verification_uri,
            verification_uri_complete,
            expires_in,
            interval,
            oidc,
            started,
        })
    }

    /// The code the person types at the verification page: never blank, and without any
    /// character that [steers a terminal](crate::terminal::steers), so it shows as it is typed.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// The page where the person approves the sign-in.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The page with the code filled in, when the provider offers one (for a link or a QR
    /// code).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// How long the person has to approve, from when the flow started (when the provider
    /// answered [`Oidc::device_authorization`]); [`wait`](Self::wait) counts from then too.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// Polls the token endpoint as RFC 8628 asks — every `interval`, five seconds slower
    /// after each `slow_down` — until the person approves, and returns the signed-in session.
    /// Waits go through the client's clock; dropping the future stops polling.
    ///
    /// The person may take minutes to approve, longer than a provider stays free of hiccups:
    /// a poll that fails with an error that may pass ([`Error::is_retryable`]: a 5xx such as
    /// 503, a timeout, a lost connection) is logged and made again an `interval`
    /// later, as a pending one is, unless the two polls before it failed too, when the
    /// sign-in ends with its error: a provider that has stopped answering is reported within
    /// a few intervals, not when the code expires. A 429 is taken as `slow_down` is: the
    /// interval grows by five seconds, and polling goes on. No poll starts past
    /// [`expires_in`](Self::expires_in): the last is given what was left of it when its wait
    /// for a turn under the client's pacing began, at most the provider's
    /// [`request_timeout`](Oidc::request_timeout), so a provider slow to answer it can keep
    /// the wait that long past the expiry. A pause of the API's own that outlasts the code
    /// ends the wait at once when the provider is at the API's origin, whose budget it shares;
    /// one elsewhere is polled on.
    ///
    /// The session comes back holding its first token pair, received before any callback
    /// could be set on it: an application that keeps tokens stores that pair from
    /// [`Session::tokens`], and the pairs of later refreshes from
    /// [`Session::on_refresh`]. Otherwise the sign-in is lost with the process.
    ///
    /// # Errors
    ///
    /// [`Error::SignIn`] with `access_denied` when the person refused, `expired_token` when
    /// the code expired (its description naming the last poll's failure, when it failed), or
    /// the provider's other refusals; the third failure in a row of polls whose errors may
    /// pass; and any other error that asking again cannot mend (a refused certificate, an
    /// answer past 64 KiB).
    pub async fn wait(self, client: &Client) -> Result<Session, Error> {
        self.poll(Via::of(client, &client.http)).await
    }

    /// The blocking form of [`DeviceAuthorization::wait`].
    ///
    /// # Errors
    ///
    /// As for [`DeviceAuthorization::wait`].
    #[cfg(feature = "blocking")]
    pub fn wait_blocking(self, client: &Client) -> Result<Session, Error> {
        let counted = client.clone();
        crate::blocking::run(
            &client.blocking,
            crate::caller::Caller::current(),
            move |thread| async move { self.poll(Via::of(&counted, thread.face().http)).await },
        )?
    }

    async fn poll(self, via: Via<'_>) -> Result<Session, Error> {
        let clock = via.limiter.clock.clone();
        // The first wait comes before the first request, which would find no runtime too late.
        crate::engine::outside_tokio(crate::auth::oidc::operation_of(TOKEN_ENDPOINT))?;
        // The code's life counts from when the provider answered, not from this wait: an
        // application may show the code and call this minutes later.
        let (started_on, started_at) = &self.started;
        let gone = started_on.now().saturating_sub(*started_at);
        let expires = clock
            .now()
            .saturating_add(self.expires_in.saturating_sub(gone));
        let mut interval = self.interval;
        let form = [
            ("grant_type", geopera_types::oidc::DEVICE_CODE_GRANT),
            ("client_id", self.client_id.as_str()),
            ("device_code", self.device_code.expose()),
            ("code_verifier", self.code_verifier.expose()),
        ];
        let secrets = [self.device_code.expose(), self.code_verifier.expose()];
        let counted = via.counts(&self.oidc, TOKEN_ENDPOINT);
        // Why the latest poll failed, when it did: what the expiry names.
        let mut failure: Option<Error> = None;
        let mut failed_in_a_row = 0;
        loop {
            // An interval the answer made huge saturates, and then outlasts the code.
            let next = clock.now().saturating_add(interval);
            if next > expires {
                return Err(expired(failure.as_ref()));
            }
            clock.sleep_until(next).await;
            // An answer after the code expired could only refuse it.
            let left = expires.saturating_sub(clock.now());
            if left.is_zero() {
                return Err(expired(failure.as_ref()));
            }
            let oidc = self
                .oidc
                .clone()
                .request_timeout(left.min(self.oidc.request_time()));
            // A 429's pause that outlasts the code leaves no poll the provider would take:
            // the code is as good as expired, and asking during the pause only meets it again.
            // Only the API's own pause counts, for a provider at the API's origin: one
            // elsewhere is not held by the API's budget.
            let paused = via
                .limiter
                .paused_until(geopera_types::RateClass::Unauthenticated)
                .filter(|_| counted);
            if paused.is_some_and(|until| until >= expires) {
                return Err(expired(failure.as_ref()));
            }
            // Its turn under the pacing may still come after the code expires: the poll then
            // goes at once, as a session's sign-in does, rather than ask too late.
            let this_poll = Via {
                wait_at_most: Some(left),
                ..via
            };
            let received = SystemTime::now();
            match oidc.token(this_poll, &form, &secrets).await {
                Ok(answer) => {
                    let tokens = TokenSet::from_answer(answer, received);
                    return Ok(Session::from_tokens(self.oidc.clone(), tokens).clock(clock));
                }
                Err(Error::SignIn { code, .. }) if code == codes::AUTHORIZATION_PENDING => {
                    (failure, failed_in_a_row) = (None, 0);
                }
                Err(Error::SignIn { code, .. }) if code == codes::SLOW_DOWN => {
                    interval = interval.saturating_add(SLOW_DOWN_STEP);
                    (failure, failed_in_a_row) = (None, 0);
                }
                // HTTP's way of saying `slow_down`: the provider is answering, so this is no
                // outage to count towards giving up, but polling on at the same pace would
                // only be refused again.
                Err(error) if error.status() == Some(http::StatusCode::TOO_MANY_REQUESTS) => {
                    interval = interval.saturating_add(SLOW_DOWN_STEP);
                    tracing::warn!(%error, "a device sign-in poll was refused as too many; polling more slowly");
                    (failure, failed_in_a_row) = (Some(error), 0);
                }
                Err(error) if error.is_retryable() => {
                    failed_in_a_row += 1;
                    if failed_in_a_row >= MAX_FAILED_POLLS_IN_A_ROW {
                        return Err(error);
                    }
                    tracing::warn!(%error, "a device sign-in poll failed; polling again");
                    failure = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// How many polls in a row may fail with an error that may pass before the sign-in ends with
/// the last one: enough to ride out a provider's hiccup, few enough that a provider that has
/// stopped answering is reported within a few intervals rather than when the code expires,
/// minutes later, with the person still waiting at the prompt.
const MAX_FAILED_POLLS_IN_A_ROW: u32 = 3;

/// The error of a device code that expired unapproved, naming the latest poll's failure.
fn expired(failure: Option<&Error>) -> Error {
    let mut description = "the device code expired before it was approved".to_owned();
    if let Some(error) = failure {
        description.push_str(&format!("; the last poll failed: {error}"));
    }
    Error::sign_in(codes::EXPIRED_TOKEN, Some(description), None)
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A PKCE code verifier: 32 random bytes, base64url without padding (43 characters).
fn code_verifier() -> Result<String, Error> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::config(format!("no randomness for the PKCE verifier: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 challenge of a verifier.
fn code_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
