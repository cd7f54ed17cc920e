//! A session that keeps itself signed in.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use geopera_types::oidc::codes;

use crate::auth::oidc::{Oidc, TokenSet, Via, KEY_CLIENT_ID, PUBLIC_CLIENT_ID};
use crate::auth::{AuthContext, Credential, CredentialFuture, Credentials};
use crate::caller::{Caller, ThreadMark, ThreadMarks};
use crate::clock::{Clock, SystemClock};
use crate::secret::Secret;
use crate::Error;

/// How long before expiry an access token is refreshed unless configured otherwise (what the
/// official command-line client does too).
pub const DEFAULT_REFRESH_LEEWAY: Duration = Duration::from_secs(30);

/// The longest a call waits for another task's refresh to finish, unless twice the provider's
/// request timeout is longer, plus the longest 429 pause its client waits out. A refresh is
/// one request with that timeout, after its turn under the client's pacing, for which it
/// waits no longer than that pause (`Session::send_and_adopt`); waiting longer means its task
/// cannot run (for instance, the program blocks the thread of the runtime that drives it),
/// and an error is better than a hang. A blocking call that would stop that
/// thread itself is refused at once (`Session::lock`).
const REFRESH_WAIT: Duration = Duration::from_secs(60);

/// After a failed refresh while the access token is still valid, how long calls keep using
/// it before the next refresh attempt.
const RETRY_REFRESH_AFTER: Duration = Duration::from_secs(10);

/// How long a failed sign-in is answered from memory before the provider is asked again: a
/// wrong password or a revoked token must not turn every call into a sign-in attempt, nor an
/// unreachable provider every waiting call into one more request to it, each after the last.
const REMEMBER_REFUSAL: Duration = Duration::from_secs(5);

/// Called with every new token pair.
type OnRefresh = Arc<dyn Fn(&TokenSet) + Send + Sync>;

/// A signed-in session that refreshes its access token by itself: the [`Credentials`] for a
/// job that runs longer than a token lives (300 s at Geopera).
///
/// - It signs in on first use: constructing one sends nothing, so it can be built anywhere,
///   and the first call — async or blocking — reports a refused sign-in.
/// - It refreshes the access token when less than the leeway (30 s by default, plus up to
///   half of that again at random, fixed per token) is left, and when the API answers 401;
///   a token renewed so and refused again within a few seconds is not renewed again by each
///   call refused (the API refuses every token: each call reports its 401).
/// - Exactly one refresh is in flight at a time, across every clone of the session and every
///   client and task using it; the others wait for its outcome.
/// - Refresh tokens rotate: each new pair goes to the [`on_refresh`](Session::on_refresh)
///   callback, so an application can store it. A refused refresh (revoked, expired, replayed
///   token) is an [`Error::SignIn`]; a session signed in with an API key signs in again with
///   the key instead.
///
/// Configure it before cloning: clones share their tokens, but a setting changed on one clone
/// stays with that clone. The [`clock`](Session::clock) above all: the moments the clones
/// share (when to refresh, how long a refusal holds) are kept on one clock, so a clone given
/// another reads them on the wrong one.
#[derive(Clone)]
pub struct Session {
    config: Arc<Config>,
    state: Arc<State>,
}

#[derive(Clone)]
struct Config {
    oidc: Oidc,
    clock: Arc<dyn Clock>,
    leeway: Duration,
    on_refresh: Option<OnRefresh>,
}

struct State {
    /// Read by every call; written only under `renewing`.
    current: RwLock<Option<Current>>,
    /// Held while the session signs in or refreshes: one at a time. Owned guards, so that the
    /// task sending a token request holds it until the answer is stored, whoever still waits.
    renewing: Arc<tokio::sync::Mutex<Grant>>,
    /// The last refusal and until when it is repeated without asking; written under
    /// `renewing`.
    refused: std::sync::Mutex<Option<Refusal>>,
    /// The credential the last renewal after a 401 gave, and when: refused again within
    /// [`REMEMBER_REFUSAL`], it is no credential a further renewal would make better (a wrong
    /// base URL answering 401 to everything), so the call reports its 401 instead of each call
    /// so answered renewing, and rotating the refresh token, once more. Written under
    /// `renewing`.
    renewed_for_401: std::sync::Mutex<Option<(Credential, Duration)>>,
    /// How many async calls on current-thread runtimes wait for or hold `renewing`, by the
    /// thread that drives the runtime: only that thread runs them.
    on_threads: Arc<ThreadMarks>,
}

/// A request to the token endpoint: its form, and the secret in it, kept out of errors.
struct TokenRequest {
    form: Vec<(&'static str, String)>,
    secret: Secret,
}

/// A sign-in the provider refused, kept to answer callers for a moment.
struct Refusal {
    until: Duration,
    code: String,
    description: Option<String>,
    status: Option<http::StatusCode>,
}

/// How a session signs in when it has no refresh token to use.
enum Grant {
    /// A user's name and password, kept only until the first sign-in succeeds.
    Password { username: String, password: Secret },
    /// An API key exchanged for a session, as often as needed.
    ClientCredentials { api_key: Secret },
    /// Nothing: the session lives as long as its refresh tokens.
    None,
}

/// The lock of a sign-in or refresh, with the grant it may use.
struct GrantGuard {
    /// Dropped first, while the lock is still held.
    _on_thread: Option<ThreadMark>,
    grant: tokio::sync::OwnedMutexGuard<Grant>,
}

impl Deref for GrantGuard {
    type Target = Grant;

    fn deref(&self) -> &Grant {
        &self.grant
    }
}

impl DerefMut for GrantGuard {
    fn deref_mut(&mut self) -> &mut Grant {
        &mut self.grant
    }
}

impl State {
    /// Counts the calling task as waiting for or holding the lock, on its runtime's thread,
    /// for as long as the mark lives, if the task is an async call on a current-thread
    /// runtime (a blocking call's work stops another thread, not this one). The mark goes
    /// with the lock into the task that sends the token request, which runs on the same
    /// runtime.
    fn mark_thread(&self, cx: AuthContext<'_>) -> Option<ThreadMark> {
        if cx.blocking.is_some() {
            return None;
        }
        let thread = Caller::current().runtime_thread()?;
        Some(self.on_threads.mark(thread))
    }
}

/// A sign-in or refresh done: the lock, still held, and what the provider answered.
type Renewed = (GrantGuard, Result<Credential, Error>);

/// A password is used for the first sign-in only; refresh tokens keep the session after it.
fn forget_password(grant: &mut Grant, outcome: &Result<Credential, Error>) {
    if outcome.is_ok() && matches!(grant, Grant::Password { .. }) {
        *grant = Grant::None;
    }
}

/// The tokens in use, with their moments on the session's clock.
struct Current {
    tokens: TokenSet,
    credential: Credential,
    refresh_at: Duration,
    expires_at: Duration,
    refresh_expires_at: Option<Duration>,
}

impl Session {
    fn with(oidc: Oidc, grant: Grant, tokens: Option<TokenSet>) -> Self {
        let config = Config {
            oidc,
            clock: Arc::new(SystemClock::default()),
            leeway: DEFAULT_REFRESH_LEEWAY,
            on_refresh: None,
        };
        let current = tokens.map(|tokens| config.current(tokens, SystemTime::now()));
        Session {
            config: Arc::new(config),
            state: Arc::new(State {
                current: RwLock::new(current),
                renewing: Arc::new(tokio::sync::Mutex::new(grant)),
                refused: std::sync::Mutex::new(None),
                renewed_for_401: std::sync::Mutex::new(None),
                on_threads: Arc::default(),
            }),
        }
    }

    /// A session for a user, signed in with the password grant on first use. The password is
    /// forgotten once the sign-in succeeds; from then on only refresh tokens keep the session.
    pub fn password(oidc: Oidc, username: impl Into<String>, password: impl Into<String>) -> Self {
        let grant = Grant::Password {
            username: username.into(),
            password: Secret::new(password.into()),
        };
        Session::with(oidc, grant, None)
    }

    /// A session for an API key, exchanged with the client-credentials grant (client
    /// `geopera`, the key as its secret). Ahead of each expiry the session exchanges the key
    /// again; no refresh token is involved.
    pub fn client_credentials(oidc: Oidc, api_key: impl Into<String>) -> Self {
        let grant = Grant::ClientCredentials {
            api_key: Secret::new(api_key.into()),
        };
        Session::with(oidc, grant, None)
    }

    /// A session resumed from a stored refresh token; it refreshes on first use.
    pub fn from_refresh_token(oidc: Oidc, refresh_token: impl Into<String>) -> Self {
        let tokens = TokenSet::refresh_only(Secret::new(refresh_token.into()));
        Session::with(oidc, Grant::None, Some(tokens))
    }

    /// A session resumed from stored tokens: the access token is used while it is valid, then
    /// refreshed with the refresh token. An access token no call can send (empty, with a line
    /// break or white space inside) is refreshed at the first call, whatever its expiry.
    pub fn from_tokens(oidc: Oidc, tokens: TokenSet) -> Self {
        Session::with(oidc, Grant::None, Some(tokens))
    }

    /// Calls `callback` with every token pair the session receives from now on — at sign-in
    /// and at each refresh — for example to store the rotated refresh token. An answer whose
    /// access token is refused ([`Error::SignIn`] `invalid_response`) but which rotated the
    /// refresh token is told too, with the access token held before (empty when there was
    /// none), since the refresh token it replaced is spent. It runs on the task that
    /// refreshed, while other callers wait: keep it short. A session that already
    /// holds tokens when this is set (one from [`DeviceAuthorization::wait`](super::DeviceAuthorization::wait)
    /// or [`Session::from_tokens`]) does not hand those over: read them with
    /// [`Session::tokens`].
    #[must_use]
    pub fn on_refresh(mut self, callback: impl Fn(&TokenSet) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.config).on_refresh = Some(Arc::new(callback));
        self
    }

    /// Refreshes this long before the access token expires (plus a random part of up to half
    /// of it). Default: [`DEFAULT_REFRESH_LEEWAY`].
    #[must_use]
    pub fn refresh_leeway(mut self, leeway: Duration) -> Self {
        Arc::make_mut(&mut self.config).leeway = leeway;
        self
    }

    /// Reads time from `clock` instead of the system's, e.g. the same clock a test gives its
    /// client, so that expiry follows simulated time. Set it before the session is cloned:
    /// the token's moments are kept for every clone on the clock set last.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.clock = clock;
        // Moments kept on the old clock mean nothing on the new one: start again from the
        // tokens themselves.
        if let Ok(mut current) = self.state.current.write() {
            if let Some(held) = current.take() {
                *current = Some(config.current(held.tokens, SystemTime::now()));
            }
        }
        self
    }

    /// The tokens in use, if the session has signed in (a session resumed from a refresh
    /// token has none until its first refresh).
    pub fn tokens(&self) -> Option<TokenSet> {
        self.read(|current| current.tokens.clone())
            .filter(|tokens| !tokens.access_token.expose().is_empty())
    }

    fn read<T>(&self, f: impl FnOnce(&Current) -> T) -> Option<T> {
        match self.state.current.read() {
            Ok(current) => current.as_ref().map(f),
            Err(poisoned) => poisoned.get_ref().as_ref().map(f),
        }
    }

    fn store(&self, value: Option<Current>) {
        match self.state.current.write() {
            Ok(mut current) => *current = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }

    /// The credential to use now, if the held one needs no refresh yet.
    fn fresh(&self) -> Option<Credential> {
        let now = self.config.clock.now();
        self.read(|current| (now < current.refresh_at).then(|| current.credential.clone()))
            .flatten()
    }

    /// Takes the lock of a sign-in or refresh, waiting for the one in flight, if any.
    ///
    /// A blocking call made on the thread of a current-thread runtime is refused when an
    /// async call of that runtime waits for the lock or holds it (signing in, say): the lock
    /// goes to that call first, and nothing of that runtime runs until the blocking call
    /// returns, so the wait could never end. Why refuse rather than move the token request
    /// to a thread that is always driven (the client's I/O thread): the request would then
    /// use another pool than the calls it signs in, and it would live only as long as that
    /// thread, which stops with the client's last clone and drops what it runs — rotated
    /// tokens included — while a session outlives any one client. Left where it is, the
    /// request stays the only one in flight and stores its tokens as soon as the runtime
    /// runs again, whoever still waits for them. The refusal is a configuration error, as the
    /// wait that runs out below is: [`Error::WouldDeadlock`] names the operation called and an
    /// in-flight slot, and a provider sees neither.
    async fn lock(&self, cx: AuthContext<'_>) -> Result<GrantGuard, Error> {
        let stopped = cx.blocking.and_then(Caller::runtime_thread);
        if stopped.is_some_and(|thread| self.state.on_threads.marked(thread)) {
            return Err(Error::config(
                "a blocking call would wait for the session's sign-in, which an async call on \
                 the same current-thread runtime is making or waiting to make, and which that \
                 runtime cannot run while the blocking call stops its thread; await the async \
                 form of the call there instead",
            ));
        }
        // Marked before it waits: a blocking call of this thread, made while this task waits
        // (the lock is then promised to this task first), must see it too.
        let on_thread = self.state.mark_thread(cx);
        let patience = self.patience(cx);
        let grant = tokio::time::timeout(patience, self.state.renewing.clone().lock_owned())
            .await
            .map_err(|_| {
                Error::config(format!(
                    "waited {} s for another task to refresh the session; is the runtime that \
                     runs it blocked?",
                    patience.as_secs()
                ))
            })?;
        Ok(GrantGuard {
            _on_thread: on_thread,
            grant,
        })
    }

    /// How long a call through `cx` waits for another task's sign-in or refresh: see
    /// [`REFRESH_WAIT`].
    fn patience(&self, cx: AuthContext<'_>) -> Duration {
        REFRESH_WAIT
            .max(self.config.oidc.request_time().saturating_mul(2))
            .saturating_add(cx.via.max_pause)
    }

    async fn credential_now(&self, cx: AuthContext<'_>) -> Result<Credential, Error> {
        if let Some(credential) = self.fresh() {
            return Ok(credential);
        }
        let grant = self.lock(cx).await?;
        // Whoever held the lock before may have refreshed already, or been refused.
        if let Some(credential) = self.fresh() {
            return Ok(credential);
        }
        if let Some(error) = self.recent_refusal() {
            return Err(error);
        }
        // The lock comes back with the outcome and is held while a failure is recorded.
        let (_grant, renewed) = self.renew(grant, cx).await?;
        match renewed {
            Ok(credential) => Ok(credential),
            Err(error) => {
                // A refused refresh token is refused for good: sent again every few seconds
                // it would spend the provider's budget for its address and end no better.
                // What renews the session next is a grant it kept, or nothing, said here.
                let refused = error.is_grant_refused();
                if refused {
                    self.spend_refresh_token();
                }
                let now = self.config.clock.now();
                let still_valid = self
                    .read(|current| (now < current.expires_at).then(|| current.credential.clone()))
                    .flatten();
                match still_valid {
                    Some(credential) => {
                        tracing::warn!(
                            error = %error,
                            "refreshing the session failed; the access token is still valid"
                        );
                        self.postpone(if refused {
                            Duration::MAX
                        } else {
                            now + RETRY_REFRESH_AFTER
                        });
                        Ok(credential)
                    }
                    None => Err(self.remember(error)),
                }
            }
        }
    }

    /// Drops the held refresh token, which the provider refused.
    fn spend_refresh_token(&self) {
        if let Ok(mut current) = self.state.current.write() {
            if let Some(current) = current.as_mut() {
                current.tokens.refresh_token = None;
            }
        }
    }

    /// The refusal to repeat, if one happened a moment ago.
    fn recent_refusal(&self) -> Option<Error> {
        let now = self.config.clock.now();
        let refused = self.state.refused.lock().ok()?;
        refused
            .as_ref()
            .filter(|refusal| now < refusal.until)
            .map(|refusal| {
                Error::sign_in(
                    refusal.code.clone(),
                    refusal.description.clone(),
                    refusal.status,
                )
            })
    }

    /// Keeps a failure to repeat for a moment: a refusal as it came, and a provider that
    /// could not be reached (a transport failure, a timeout) as `temporarily_unavailable`,
    /// the OAuth word for it, which is retryable as the failure itself was.
    fn remember(&self, error: Error) -> Error {
        let (code, description, status) = match &error {
            Error::SignIn {
                code,
                description,
                status,
            } => (code.clone(), description.clone(), *status),
            other => (
                codes::TEMPORARILY_UNAVAILABLE.to_owned(),
                Some(format!(
                    "the identity provider could not be reached a moment ago: {other}"
                )),
                None,
            ),
        };
        if let Ok(mut refused) = self.state.refused.lock() {
            *refused = Some(Refusal {
                until: self.config.clock.now() + REMEMBER_REFUSAL,
                code,
                description,
                status,
            });
        }
        error
    }

    fn postpone(&self, until: Duration) {
        if let Ok(mut current) = self.state.current.write() {
            if let Some(current) = current.as_mut() {
                current.refresh_at = until.min(current.expires_at);
            }
        }
    }

    async fn rejected_now(
        &self,
        rejected: &Credential,
        cx: AuthContext<'_>,
    ) -> Result<bool, Error> {
        let grant = self.lock(cx).await?;
        let replaced = self
            .read(|current| current.credential != *rejected)
            .unwrap_or(false);
        if replaced {
            // Another task refreshed since this credential was handed out.
            return Ok(true);
        }
        // Calls turned away together wait here in turn: the first one's failure answers the
        // others, as for calls whose token expired, rather than one more token request each.
        if let Some(error) = self.recent_refusal() {
            return Err(error);
        }
        let now = self.config.clock.now();
        let renewed_just_now = self
            .state
            .renewed_for_401
            .lock()
            .map(|renewed| {
                renewed.as_ref().is_some_and(|(credential, at)| {
                    credential == rejected && now < at.saturating_add(REMEMBER_REFUSAL)
                })
            })
            .unwrap_or(false);
        if renewed_just_now {
            return Ok(false);
        }
        let (_grant, renewed) = self.renew(grant, cx).await?;
        match renewed {
            Ok(credential) => {
                if let Ok(mut renewed) = self.state.renewed_for_401.lock() {
                    *renewed = Some((credential, self.config.clock.now()));
                }
                Ok(true)
            }
            // The provider refused the grant too: the session is over.
            Err(error) if error.is_grant_refused() => {
                self.store(None);
                Err(self.remember(error))
            }
            // The provider did not answer (a timeout, a 5xx, `temporarily_unavailable`): the
            // API's 401 ends only the access token. The refresh token, never spent, stays for
            // the next call to try again.
            Err(error) => {
                self.expire_access_token();
                Err(self.remember(error))
            }
        }
    }

    /// Stops handing out the held access token, keeping what renews it.
    fn expire_access_token(&self) {
        let now = self.config.clock.now();
        let mut current = match self.state.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(current) = current.as_mut() {
            current.expires_at = current.expires_at.min(now);
            current.refresh_at = current.refresh_at.min(now);
        }
    }

    /// Signs in or refreshes with the lock `grant`, which comes back with the outcome. `Err`
    /// when the token request's task stopped (the `on_refresh` callback panicked, say): the
    /// lock is released then.
    async fn renew(&self, grant: GrantGuard, cx: AuthContext<'_>) -> Result<Renewed, Error> {
        let oidc = &self.config.oidc;
        let client_id = oidc.client_id_or(PUBLIC_CLIENT_ID).to_owned();
        let now = self.config.clock.now();
        let refresh = self
            .read(|current| {
                let usable = current.refresh_expires_at.is_none_or(|at| now < at);
                current.tokens.refresh_token.clone().filter(|_| usable)
            })
            .flatten();
        let request = match (refresh, &*grant) {
            // A key outlives any session: exchanging it again is the refresh.
            (_, Grant::ClientCredentials { api_key }) => TokenRequest {
                form: vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("client_id", KEY_CLIENT_ID.to_owned()),
                    ("client_secret", api_key.expose().to_owned()),
                ],
                secret: api_key.clone(),
            },
            (Some(refresh), _) => TokenRequest {
                form: vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("client_id", client_id),
                    ("refresh_token", refresh.expose().to_owned()),
                ],
                secret: refresh,
            },
            (None, Grant::Password { username, password }) => TokenRequest {
                form: vec![
                    ("grant_type", "password".to_owned()),
                    ("client_id", client_id),
                    ("username", username.clone()),
                    ("password", password.expose().to_owned()),
                ],
                secret: password.clone(),
            },
            (None, Grant::None) => {
                let ended = Error::sign_in(
                    codes::INVALID_GRANT,
                    Some(
                        "the session has ended: no valid refresh token is left to renew it"
                            .to_owned(),
                    ),
                    None,
                );
                return Ok((grant, Err(ended)));
            }
        };
        self.send_and_adopt(grant, cx, request).await
    }

    /// Sends a token request and makes its answer the session's tokens, out of reach of the
    /// caller's cancellation; the lock `grant` is held until then.
    ///
    /// Why a task: the provider rotates a refresh token as the request arrives. A caller that
    /// stops waiting (its deadline passed, a `select!` took another branch) would drop the
    /// answer, and the session would hold only the spent token, whose reuse ends it; and were
    /// the lock released with the caller, the next call would send that spent token at once.
    /// The task stores the new tokens whoever still waits for them, then releases the lock. On
    /// a blocking call's own runtime, which nothing drives between that thread's calls, an
    /// unfinished task is finished on a thread of its own ([`crate::blocking`]); elsewhere the
    /// runtime finishes it, as long as the program keeps driving it.
    async fn send_and_adopt(
        &self,
        mut grant: GrantGuard,
        mut cx: AuthContext<'_>,
        request: TokenRequest,
    ) -> Result<Renewed, Error> {
        // Other calls wait for this request while the lock is held, and give up after their
        // patience, which counts a 429's pause the client waits out: its turn may take that
        // long, and no longer.
        cx.via.wait_at_most = Some(cx.via.max_pause);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Polled outside any Tokio runtime: nothing to spawn on.
            let outcome = self.exchange(cx.via, &request).await;
            forget_password(&mut grant, &outcome);
            return Ok((grant, outcome));
        };
        let session = self.clone();
        let http = cx.via.http.clone();
        let api = cx.via.api.to_owned();
        let limiter = cx.via.limiter.clone();
        let max_pause = cx.via.max_pause;
        let wait_at_most = cx.via.wait_at_most;
        let user_agent = cx.via.user_agent.cloned();
        let (done, outcome) = tokio::sync::oneshot::channel();
        let task = runtime.spawn(async move {
            let via = Via {
                http: &http,
                api: &api,
                limiter: &limiter,
                max_pause,
                wait_at_most,
                user_agent: user_agent.as_ref(),
            };
            let outcome = session.exchange(via, &request).await;
            forget_password(&mut grant, &outcome);
            // A caller that stopped waiting drops the lock with this.
            let _ = done.send((grant, outcome));
        });
        #[cfg(feature = "blocking")]
        crate::blocking::finish_even_if_left(task);
        #[cfg(not(feature = "blocking"))]
        drop(task);
        outcome.await.map_err(|_| {
            Error::config("the session's token request stopped before it was answered")
        })
    }

    /// One token request and the adoption of its answer.
    async fn exchange(&self, via: Via<'_>, request: &TokenRequest) -> Result<Credential, Error> {
        let form: Vec<(&str, &str)> = request
            .form
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let received = SystemTime::now();
        let secrets = [request.secret.expose()];
        let answer = self.config.oidc.token_answer(via, &form, &secrets).await?;
        if let Some(refused) = Oidc::refusal(&answer, &secrets) {
            let held = self.read(|c| c.tokens.clone());
            if let Some(tokens) = TokenSet::rotated_by(held, answer, received) {
                self.take_up(tokens, received);
            }
            return Err(refused);
        }
        let tokens = TokenSet::from_answer(answer, received)
            .or_refresh_token(self.read(|c| c.tokens.refresh_token.clone()).flatten());
        Ok(self.take_up(tokens, received))
    }

    /// Makes `tokens` the session's current ones and tells the callback.
    fn take_up(&self, tokens: TokenSet, received: SystemTime) -> Credential {
        let current = self.config.current(tokens, received);
        let credential = current.credential.clone();
        let announced = self
            .config
            .on_refresh
            .as_ref()
            .map(|_| current.tokens.clone());
        // Stored before the callback runs: the provider has rotated the refresh token
        // already, so losing the new pair (to a panicking callback, say) would leave only a
        // spent token, whose reuse ends the session.
        self.store(Some(current));
        if let (Some(callback), Some(tokens)) = (&self.config.on_refresh, announced) {
            callback(&tokens);
        }
        credential
    }
}

impl Config {
    /// The moments of `tokens` on the session's clock, counted from `received` (wall clock).
    fn current(&self, tokens: TokenSet, received: SystemTime) -> Current {
        let now = self.clock.now();
        // Bounded, so that no moment below overflows, whatever expiry the tokens were given.
        let left = |at: SystemTime| {
            at.duration_since(received)
                .unwrap_or(Duration::ZERO)
                .min(crate::auth::oidc::MAX_TOKEN_LIFETIME)
        };
        let credential = Credential::bearer(tokens.access_token.expose());
        // A held token no call can send (one stored with its line break, or with its scheme)
        // is taken as spent, so that the first call renews it: kept to its stated expiry, it
        // failed every call as a configuration error until then, the refresh token unused.
        let lifetime = if credential.header().is_ok() {
            left(tokens.expires_at)
        } else {
            Duration::ZERO
        };
        let jitter = self.leeway.mul_f64(fastrand::f64() / 2.0);
        // A token that lives shorter than the leeway is refreshed half-way through.
        let margin = self.leeway.saturating_add(jitter).min(lifetime / 2);
        Current {
            credential,
            refresh_at: now + lifetime - margin,
            expires_at: now + lifetime,
            refresh_expires_at: tokens.refresh_expires_at.map(|at| now + left(at)),
            tokens,
        }
    }
}

impl Credentials for Session {
    fn credential<'a>(&'a self, cx: AuthContext<'a>) -> CredentialFuture<'a, Credential> {
        Box::pin(self.credential_now(cx))
    }

    fn rejected<'a>(
        &'a self,
        rejected: &'a Credential,
        cx: AuthContext<'a>,
    ) -> CredentialFuture<'a, bool> {
        Box::pin(self.rejected_now(rejected, cx))
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("issuer", &self.config.oidc.issuer())
            .field("tokens", &self.tokens())
            .finish_non_exhaustive()
    }
}
