//! Clients and their configuration.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, COOKIE, USER_AGENT};

use geopera_types::{headers, RateClass};

use crate::auth::{Credential, Credentials};
use crate::base_url::{normalize_base_url, quoted_url, without_userinfo};
#[cfg(feature = "blocking")]
use crate::blocking::BlockingTransport;
use crate::budget::Budget;
use crate::clock::{Clock, SystemClock};
use crate::limiter::Limiter;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::Error;

/// The API's public address.
pub const DEFAULT_BASE_URL: &str = "https://api.geopera.com";

/// The timeout of each attempt unless configured otherwise: from sending the request to
/// reading the whole answer, redirects included. A call with retries may take longer; bound
/// the whole call with [`ClientBuilder::deadline`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The timeout for establishing a connection unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait for the next piece of an answer unless configured otherwise; it is what
/// bounds a stream (`catalog.search_stream`), whose whole length the client-wide timeout does
/// not bound (a call's own [`Request::timeout`](crate::Request::timeout) does).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bytes an answer may have unless configured otherwise; see
/// [`ClientBuilder::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = crate::body::DEFAULT_MAX_RESPONSE_BYTES;

/// The `Accept` sent unless a client-wide header sets its own: JSON for a success, and RFC
/// 9457 problem details for an error, which is what the API answers every operation with.
/// Public so that a program showing the request it would send (a dry run) shows this one.
pub const DEFAULT_ACCEPT: &str = "application/json, application/problem+json";

/// The `User-Agent` sent unless configured otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("geopera-rs/", env!("CARGO_PKG_VERSION"));

/// A client without credentials, for operations that need none (e.g. `webhooks.drain`) or
/// for sending credentials per call.
///
/// Cloning is cheap: clones share one connection pool, which closes when the last clone is
/// dropped. There is nothing to enter or close by hand, unlike Python's `async with`.
#[derive(Clone)]
pub struct Client {
    pub(crate) settings: Arc<Settings>,
    pub(crate) http: reqwest::Client,
    /// How blocking calls make their per-thread HTTP client.
    #[cfg(feature = "blocking")]
    pub(crate) blocking: Arc<BlockingTransport>,
    /// Identifies the async pool: replaced only when the async HTTP client is.
    pool: Arc<PoolId>,
    /// In-flight cap, pacing and 429 pauses, shared by every clone.
    pub(crate) limiter: Arc<Limiter>,
}

/// The identity of one async connection pool.
#[derive(Debug)]
struct PoolId;

/// A client that sends credentials with every call: a fixed token (`Authorization: Bearer`),
/// an API key, or a [`Session`](crate::auth::Session) that keeps itself signed in — see
/// [`crate::auth`].
///
/// Credentials never appear in `Debug` output, logs or errors.
#[derive(Clone)]
pub struct AuthenticatedClient {
    client: Client,
}

/// The per-request settings: cheap to copy-on-write so that `with_*` can share the pool.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) base_url: String,
    /// Every header a call sends before its own options: user agent, defaults, credentials,
    /// cookies, content negotiation. Built once per settings change, not per call.
    pub(crate) prepared: HeaderMap,
    /// Where each call's credential comes from; `None` for a client without credentials.
    pub(crate) credentials: Option<Arc<dyn Credentials>>,
    /// The credential itself when it never changes: part of `prepared`, asked for no more.
    pub(crate) fixed: Option<Credential>,
    pub(crate) headers: HeaderMap,
    pub(crate) cookies: Vec<(String, String)>,
    /// The credentials among `headers` and `cookies`, kept out of errors; built with
    /// `prepared`.
    pub(crate) header_secrets: Option<Arc<[Secret]>>,
    pub(crate) timeout: Option<Duration>,
    /// The longest wait for an answer's head, and then between two chunks of it.
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) raise_on_unexpected_status: bool,
    /// Whether the call engine follows redirects (the HTTP clients themselves never do).
    pub(crate) follow_redirects: bool,
    /// The most bytes an answer, or one line of a stream, may have.
    pub(crate) max_response_bytes: u64,
    /// Whether bodies are checked against the input shapes before sending.
    pub(crate) validate_input: bool,
}

/// The settings a transport is built from, kept to build the blocking one lazily.
#[derive(Clone, Default)]
pub(crate) struct TransportConfig {
    connect_timeout: Option<Duration>,
    verify_tls: bool,
    root_certificates: Vec<reqwest::Certificate>,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    /// The proxy every call goes through, parsed from [`Config::proxy`].
    proxy: Option<reqwest::Proxy>,
    /// Whether the proxy environment variables (and, with the `system-proxy` feature, the OS
    /// settings) apply when no proxy is set.
    system_proxy: bool,
    #[cfg(feature = "http2")]
    http2_prior_knowledge: bool,
    pool_max_idle_per_host: Option<usize>,
    pool_idle_timeout: Option<Duration>,
    /// The platform's trust store, read by the first build and reused by the rest.
    #[cfg(all(feature = "system-roots", not(feature = "native-tls")))]
    system_roots: crate::roots::SystemRoots,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.settings.base_url)
            .field("credentials", &self.settings.credentials)
            .field("timeout", &self.settings.timeout)
            .field(
                "raise_on_unexpected_status",
                &self.settings.raise_on_unexpected_status,
            )
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AuthenticatedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthenticatedClient")
            .field(&self.client)
            .finish()
    }
}

/// What every operation function accepts as its client: [`Client`], [`AuthenticatedClient`]
/// or the fluent [`Geopera`](crate::Geopera).
pub trait ApiClient: sealed::Sealed {
    /// The client whose settings and connection pool the call uses.
    fn core(&self) -> &Client;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Client {}
    impl Sealed for super::AuthenticatedClient {}
    impl Sealed for crate::Geopera {}
}

impl ApiClient for Client {
    fn core(&self) -> &Client {
        self
    }
}

impl ApiClient for AuthenticatedClient {
    fn core(&self) -> &Client {
        &self.client
    }
}

impl Client {
    /// The clock every wait of this client reads — pacing, retries, deadlines, polling. It is
    /// the limiter's, so a clock given to the builder moves all of them together.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.limiter.clock
    }

    /// The credential sent with every call, when the client has a fixed one rather than a
    /// provider (or none).
    pub(crate) fn fixed_secret(&self) -> Option<&Secret> {
        self.settings.fixed.as_ref().map(Credential::secret)
    }

    /// A builder with the defaults: the public API, no timeout override, TLS verified,
    /// redirects not followed.
    pub fn builder() -> ClientBuilder<Client> {
        ClientBuilder::new(None)
    }

    /// A client for `base_url` with every other setting at its default.
    ///
    /// # Errors
    ///
    /// `base_url` is not an `http` or `https` URL.
    pub fn new(base_url: impl Into<String>) -> Result<Self, Error> {
        Self::builder().base_url(base_url).build()
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    /// The default headers sent with every call.
    pub fn headers(&self) -> &HeaderMap {
        &self.settings.headers
    }

    /// The timeout of each attempt, when one is set.
    pub fn timeout(&self) -> Option<Duration> {
        self.settings.timeout
    }

    /// A client with these headers merged over the current ones, sharing this client's pool.
    ///
    /// # Errors
    ///
    /// A header name or value is invalid.
    pub fn with_headers<K, V>(
        &self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut settings = (*self.settings).clone();
        for (name, value) in headers {
            let credentialed = settings.credentials.is_some();
            let (name, value) = default_header(name.as_ref(), value.as_ref(), credentialed)?;
            settings.headers.insert(name, value);
        }
        Ok(self.with_settings(settings))
    }

    /// A client with these cookies merged over the current ones, sharing this client's pool.
    ///
    /// # Errors
    ///
    /// A cookie name or value is invalid.
    pub fn with_cookies<K, V>(
        &self,
        cookies: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut settings = (*self.settings).clone();
        for (name, value) in cookies {
            let cookie = (name.into(), value.into());
            validate_cookie(&cookie)?;
            settings
                .cookies
                .retain(|(existing, _)| *existing != cookie.0);
            settings.cookies.push(cookie);
        }
        Ok(self.with_settings(settings))
    }

    /// A client with a different per-attempt timeout, sharing this client's pool.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        let mut settings = (*self.settings).clone();
        settings.timeout = Some(timeout);
        self.with_settings(settings)
    }

    /// A client with a different retry policy, sharing this client's pool and limits.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Self {
        let mut settings = (*self.settings).clone();
        settings.retry = policy;
        self.with_settings(settings)
    }

    /// The retry policy calls follow.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.settings.retry
    }

    /// The async HTTP client behind this client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// A client that sends its async calls through `http`, e.g. one with a custom transport or
    /// connection limits. Unlike the Python SDK, the base URL, credentials, default headers,
    /// cookies and timeout still apply: `http` only carries the requests.
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`. The SDK follows redirects
    /// itself, dropping credentials at another origin; reqwest's own following, on by
    /// default, would forward `x-api-key`, custom headers and a sign-in's form (a password or
    /// a refresh token, on a 307 or 308) to whatever origin a redirect names.
    pub fn with_http_client(&self, http: reqwest::Client) -> Self {
        Client {
            http,
            pool: Arc::new(PoolId),
            ..self.clone()
        }
    }

    /// A client whose blocking calls go through HTTP clients that `make` builds — one for each
    /// thread that carries blocking calls (a calling thread, or the client's I/O thread), since
    /// a connection pool must stay with the runtime that drives it. Base URL, credentials,
    /// headers, timeouts and the rest still apply.
    ///
    /// Build each client with `.redirect(reqwest::redirect::Policy::none())`, as for
    /// [`Client::with_http_client`].
    #[cfg(feature = "blocking")]
    pub fn with_blocking_http_client(
        &self,
        make: impl Fn() -> reqwest::Client + Send + Sync + 'static,
    ) -> Self {
        Client {
            blocking: BlockingTransport::new(move || Ok(make())),
            ..self.clone()
        }
    }

    fn with_settings(&self, mut settings: Settings) -> Self {
        settings.prepare();
        Client {
            settings: Arc::new(settings),
            ..self.clone()
        }
    }

    /// An authenticated client with `credentials` and this client's settings, sharing its
    /// connection pool and limits: switching credentials costs no new connections.
    ///
    /// The limits shared are the client's in-flight cap, its pacing and the pause a 429 asks
    /// for, which suit credentials of one organization, whose rate budgets the API keeps
    /// together. For credentials of different organizations (a service acting for several
    /// tenants), build a client each with [`Client::builder`]: sharing, one organization's
    /// 429 would pause the other's calls, and one pacing would hold both to one budget.
    ///
    /// # Errors
    ///
    /// A fixed credential holds characters a header cannot carry, or this client sends an
    /// `Authorization` or `X-API-Key` header of its own ([`ClientBuilder::header`]), which
    /// would be replaced by the credential's or sent beside it, where the API reads the
    /// bearer token first.
    pub fn with_credentials(
        &self,
        credentials: impl Credentials,
    ) -> Result<AuthenticatedClient, Error> {
        if let Some(name) = ["authorization", headers::API_KEY]
            .into_iter()
            .find(|name| self.settings.headers.contains_key(*name))
        {
            return Err(Error::config(format!(
                "this client sends a {name} header of its own, which the credential's would \
                 replace or contradict: build the client without it to give it a credential"
            )));
        }
        let mut settings = (*self.settings).clone();
        settings.fixed = credentials.fixed();
        if let Some(credential) = &settings.fixed {
            credential.header()?;
        }
        settings.credentials = Some(Arc::new(credentials));
        warn_if_cleartext(&self.settings.base_url);
        Ok(AuthenticatedClient {
            client: self.with_settings(settings),
        })
    }

    /// Whether two clients send their async calls through the same connection pool (true
    /// for clones and for clients made with `with_headers`, `with_cookies`, `with_timeout`).
    pub fn shares_pool_with(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }
}

impl AuthenticatedClient {
    /// A builder for a client that sends `token` as its bearer credential.
    pub fn builder(token: impl Into<String>) -> ClientBuilder<AuthenticatedClient> {
        ClientBuilder::with_token(token.into())
    }

    /// A builder for a client whose credentials come from `credentials`: a
    /// [`Credential`] (e.g. an API key sent as `X-API-Key`), a
    /// [`Session`](crate::auth::Session), or a provider of your own.
    pub fn builder_with_credentials(
        credentials: impl Credentials,
    ) -> ClientBuilder<AuthenticatedClient> {
        ClientBuilder::new(Some(Arc::new(credentials)))
    }

    /// A client for `base_url` with `token` and every other setting at its default.
    ///
    /// # Errors
    ///
    /// `base_url` is not an `http` or `https` URL, or the token is empty, blank or not a valid
    /// header value.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Result<Self, Error> {
        Self::builder(token).base_url(base_url).build()
    }

    /// The client without its typed credential wrapper (the credentials still apply).
    pub fn as_client(&self) -> &Client {
        &self.client
    }

    /// See [`Client::with_headers`].
    ///
    /// # Errors
    ///
    /// A header name or value is invalid.
    pub fn with_headers<K, V>(
        &self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Ok(AuthenticatedClient {
            client: self.client.with_headers(headers)?,
        })
    }

    /// See [`Client::with_cookies`].
    ///
    /// # Errors
    ///
    /// A cookie name or value is invalid.
    pub fn with_cookies<K, V>(
        &self,
        cookies: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        Ok(AuthenticatedClient {
            client: self.client.with_cookies(cookies)?,
        })
    }

    /// See [`Client::with_timeout`].
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        AuthenticatedClient {
            client: self.client.with_timeout(timeout),
        }
    }

    /// See [`Client::with_http_client`].
    pub fn with_http_client(&self, http: reqwest::Client) -> Self {
        AuthenticatedClient {
            client: self.client.with_http_client(http),
        }
    }

    /// See [`Client::with_blocking_http_client`].
    #[cfg(feature = "blocking")]
    pub fn with_blocking_http_client(
        &self,
        make: impl Fn() -> reqwest::Client + Send + Sync + 'static,
    ) -> Self {
        AuthenticatedClient {
            client: self.client.with_blocking_http_client(make),
        }
    }
}

impl std::ops::Deref for AuthenticatedClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Configures a [`Client`] or [`AuthenticatedClient`].
///
/// Setters never fail; [`build`](ClientBuilder::build) reports the first problem.
#[must_use]
pub struct ClientBuilder<C> {
    config: Config,
    kind: PhantomData<fn() -> C>,
}

/// Everything a builder has been told, whichever client it builds: changing the kind of
/// client is one move of this value.
struct Config {
    credentials: Option<Arc<dyn Credentials>>,
    base_url: String,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    deadline: Option<Duration>,
    retry: RetryPolicy,
    max_in_flight: Option<usize>,
    pacing: Vec<(RateClass, u32)>,
    budget: Option<Arc<dyn Budget>>,
    clock: Option<Arc<dyn Clock>>,
    user_agent: String,
    raise_on_unexpected_status: bool,
    follow_redirects: bool,
    max_response_bytes: u64,
    validate_input: bool,
    transport: TransportConfig,
    ca_files: Vec<PathBuf>,
    /// Kept as a secret: a proxy URL may carry a user name and password.
    proxy: Option<Secret>,
    http: Option<reqwest::Client>,
    #[cfg(feature = "blocking")]
    blocking: Option<Arc<BlockingTransport>>,
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &quoted_url(&self.config.base_url))
            .field("credentials", &self.config.credentials)
            .field("timeout", &self.config.timeout)
            .field("proxy", &self.config.proxy)
            .finish_non_exhaustive()
    }
}

impl<C> ClientBuilder<C> {
    fn new(credentials: Option<Arc<dyn Credentials>>) -> Self {
        ClientBuilder {
            config: Config::new(credentials),
            kind: PhantomData,
        }
    }
}

impl Config {
    fn new(credentials: Option<Arc<dyn Credentials>>) -> Self {
        Config {
            credentials,
            base_url: DEFAULT_BASE_URL.to_owned(),
            headers: Vec::new(),
            cookies: Vec::new(),
            timeout: Some(DEFAULT_TIMEOUT),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            deadline: None,
            retry: RetryPolicy::default(),
            max_in_flight: None,
            pacing: Vec::new(),
            budget: None,
            clock: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            raise_on_unexpected_status: false,
            follow_redirects: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            validate_input: true,
            transport: TransportConfig {
                verify_tls: true,
                system_proxy: true,
                connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
                ..TransportConfig::default()
            },
            ca_files: Vec::new(),
            proxy: None,
            http: None,
            #[cfg(feature = "blocking")]
            blocking: None,
        }
    }
}

impl<C> ClientBuilder<C> {
    /// Where calls go; default `https://api.geopera.com`. Operations are appended as
    /// `/v1/op/{operation_id}`. A client with a credential and a plain `http` base URL of
    /// another machine logs a warning when it is built: the credential goes in clear text.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.config.base_url = base_url.into();
        self
    }

    /// The timeout of each attempt, from sending the request to reading the whole body
    /// (default [`DEFAULT_TIMEOUT`], 60 s); `None` lifts it, leaving only the read timeout
    /// and the deadline, if any.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.timeout = timeout.into();
        self
    }

    /// Bounds every call as a whole — all attempts and the waits between them — unless the
    /// call sets its own ([`Request::deadline`](crate::Request::deadline)).
    ///
    /// A wait before the first attempt that the call could only time out in fails it at once
    /// with the deadline's [`Error::Timeout`](crate::Error::Timeout): a 429's pause of its
    /// class, its paced slot, or the shared budget's wait. Before a retry, such a wait or a
    /// backoff that would end past the deadline ends the call with the answer it would have
    /// retried instead (a 429 as [`Error::RateLimited`](crate::Error::RateLimited), a 503 as
    /// [`Error::Api`](crate::Error::Api)). Only a wait for an in-flight slot
    /// ([`max_in_flight`](Self::max_in_flight)), whose length nobody knows, runs until the
    /// deadline; a call it ends counts no attempt. A
    /// credential is renewed before the call waits for its turn, so a session may sign in
    /// for a call that is then refused.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.config.deadline = Some(deadline);
        self
    }

    /// How failed attempts are retried; see [`RetryPolicy`] (default: 2 retries, safe ones
    /// only, automatic idempotency keys).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// How many retries a call may make (0 disables retrying); shorthand for the policy's
    /// `max_retries`.
    pub fn retries(mut self, retries: u32) -> Self {
        self.config.retry.max_retries = retries;
        self
    }

    /// Caps the requests this client (and all its clones) has in flight at once. A call
    /// waiting out a 429's pause, a hold of the shared [`budget`](Self::budget), or the wait
    /// before a retry, has nothing in flight and holds no slot; one waiting for its turn under
    /// [`pace`](Self::pace) holds its slot, so that it goes on time: a backlog of a slowly
    /// paced class (spend, at 30 a minute) can hold every slot for seconds each, and calls of
    /// other classes queue behind it though their budget is free, so keep such a backlog
    /// below the cap (with [`fan_out`](crate::fan_out)'s limit, say). A call whose answer is
    /// read as it comes (an NDJSON stream, a binary body) gives its slot back once the answer's
    /// head has arrived: the cap bounds requests, not the bodies still being read, which their
    /// readers pace. A cap of 0 counts as 1, and one beyond what Tokio's semaphore can count
    /// (2^61 − 1) as that.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.config.max_in_flight = Some(max);
        self
    }

    /// Spaces requests of one rate-limit class so that at most `per_minute` go out per
    /// minute, shared by all clones. A `per_minute` of 0 turns pacing of that class off. A
    /// call that gives up waiting for its turn (its deadline ran out, or its future was
    /// dropped) gives the turn back to the next call.
    pub fn pace(mut self, class: RateClass, per_minute: u32) -> Self {
        self.config.pacing.retain(|(c, _)| *c != class);
        self.config.pacing.push((class, per_minute));
        self
    }

    /// Paces every class at the API's documented budgets
    /// ([`RateClass::documented_per_minute`]): 600/min by default, 60/min for order placement,
    /// 30/min for other spend operations, and 60/min for those without credentials
    /// (`webhooks.drain`) and the sign-in requests of a session or device flow made through
    /// this client, which draw on no other budget.
    pub fn pace_documented_limits(mut self) -> Self {
        for class in RateClass::ALL {
            self = self.pace(class, class.documented_per_minute());
        }
        self
    }

    /// A rate budget asked before every attempt and told of every 429 with a wait it would
    /// wait out (up to [`RetryPolicy::max_retry_after`]), on top of this
    /// client's own pacing: give every process of an organization one that they share (for
    /// example `budget::RedisBudget`, feature `redis`) so that together they stay inside the
    /// API's per-minute budgets. See [`crate::budget`].
    ///
    /// A hold the budget asks for is waited out, up to [`budget::MAX_HOLD`](crate::budget::MAX_HOLD)
    /// in all, whatever this client's own `max_retry_after`: another process may have reported
    /// a longer `Retry-After` than this one would wait for. A call's
    /// [deadline](Self::deadline) bounds it: a hold that would outlast it fails the call at
    /// once with [`Error::Timeout`](crate::Error::Timeout), or, before a retry, with the
    /// answer the call would have retried.
    pub fn budget(mut self, budget: Arc<dyn Budget>) -> Self {
        self.config.budget = Some(budget);
        self
    }

    /// The clock retries, deadlines and pacing wait on; a test seam, default real time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config.clock = Some(clock);
        self
    }

    /// The timeout for establishing a connection (default [`DEFAULT_CONNECT_TIMEOUT`], 10 s);
    /// `None` lifts it.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.transport.connect_timeout = timeout.into();
        self
    }

    /// The longest wait for an answer to move on (default [`DEFAULT_READ_TIMEOUT`], 60 s): for
    /// its head, counted from when the request starts (connecting and sending the body are
    /// in it, so a large body on a slow link needs a longer one), then between two reads of
    /// its body; `None` lifts it.
    /// The call engine keeps it, so it holds for every call, blocking calls and streams too,
    /// whichever HTTP client carries them; it never runs while an upload's bytes are being sent
    /// (see [`Upload::stall_timeout`](crate::uploads::Upload::stall_timeout)). An attempt
    /// timeout no longer than it makes it moot, and then only the attempt's timer is kept.
    pub fn read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.read_timeout = timeout.into();
        self
    }

    /// The most bytes an answer may have (default [`DEFAULT_MAX_RESPONSE_BYTES`], 64 MiB),
    /// and the longest line of a stream. A longer answer fails the call with
    /// [`Error::TooLarge`] as soon as the cap is passed — or before reading, when the server
    /// announces its length — so a hostile or broken server cannot make the client buffer
    /// without end. A blocking stream reads ahead of its caller by at most one cap of lines
    /// (`Call::stream_blocking`).
    ///
    /// The cap bounds bytes, not what they decode into. An answer read as a JSON tree (a page
    /// of a walk, an [`invoke`](crate::Geopera::invoke) answer, a stream's line) takes more
    /// memory than its text, and a hostile one built of tiny objects (`[{"":0},{"":0},...]`)
    /// tens of times more, so a cap of 64 MiB can cost gigabytes: where memory is tight or
    /// the server is not trusted, set a cap near the largest answer expected.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.config.max_response_bytes = limit;
        self
    }

    /// Whether TLS certificates are verified (default `true`). Turning it off accepts any
    /// certificate for any name, so anyone on the path can read the token, and, for every
    /// other host the client reaches (an upload's storage, a redirect's target), the signed
    /// URL and the bytes: only for a test server whose CA you cannot get; prefer
    /// [`ca_file`](Self::ca_file).
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.config.transport.verify_tls = verify;
        self
    }

    /// Trusts the PEM certificate(s) in this file in addition to the default roots (the
    /// system's trust store; see [TLS and proxies](crate#tls-and-proxies)), for a server
    /// behind a private or corporate CA. May be given more than once. The file is read by
    /// [`build`](ClientBuilder::build), which fails if it is unreadable, is not a regular file
    /// (a named pipe is refused, never waited on), holds more than 16 MiB or holds no
    /// certificate. The file `SSL_CERT_FILE` names, when the system's trust store is read, is
    /// refused only when it is not a regular file or holds more than 16 MiB: one that is
    /// missing or holds no certificate leaves the store without its certificates, with a
    /// `tracing` warning (and HTTPS calls fail as from an unknown issuer).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ca_files.push(path.into());
        self
    }

    /// Uses this rustls configuration for TLS, for what the other knobs do not offer (client
    /// certificates, pinned roots, a custom verifier). It replaces every other TLS setting:
    /// the default roots, [`ca_file`](Self::ca_file), [`verify_tls`](Self::verify_tls) and
    /// the `native-tls` feature. Set its `alpn_protocols` to `h2` and `http/1.1` for HTTP/2
    /// over TLS; without them the connection speaks HTTP/1.1.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.config.transport.tls_config = Some(Arc::new(config));
        self
    }

    /// Sends every call through this proxy, whatever the proxy environment variables say:
    /// `http://host:port` or `https://host:port`, with `user:password@` for basic
    /// authentication. HTTPS calls tunnel through it with `CONNECT`, so the proxy never
    /// sees the token; plain-HTTP calls are forwarded, headers included.
    ///
    /// The URL is kept like a token: never shown in `Debug` or errors. [`build`] fails if it is
    /// not an `http` or `https` URL; one without a scheme (`proxy.internal:3128`) is `http`,
    /// as curl reads it.
    ///
    /// Without this knob, calls follow `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// (and lower-case forms), unless [`no_proxy`](Self::no_proxy) is set or the program runs
    /// as CGI (`REQUEST_METHOD` set: a request could have set them). One of the first three
    /// set to something that is no proxy URL (a stray space, a port past 65535, bytes that
    /// are not UTF-8, a scheme other than `http`, `https` or `socks*`) fails [`build`], naming
    /// the variable: reqwest would pass over it, and calls would go around the proxy. So does
    /// a SOCKS proxy that calls to the base URL would go through: the SDK does not speak
    /// SOCKS. With an async client of the caller's own ([`http_client`](Self::http_client)),
    /// which may speak it, the build goes on with a warning, and the blocking calls, which the
    /// SDK's own transport makes, fail with that error instead.
    ///
    /// [`build`]: ClientBuilder::build
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.config.proxy = Some(Secret::new(url.into()));
        self
    }

    /// Connects directly, ignoring the proxy environment variables and OS proxy settings —
    /// for a process whose environment names a proxy that this client must not use. A
    /// [`proxy`](Self::proxy) set on the builder still applies.
    pub fn no_proxy(mut self) -> Self {
        self.config.transport.system_proxy = false;
        self
    }

    /// Whether every body — input model or JSON — is checked against the operation's input
    /// shape before sending (default `true`). A failure is [`Error::InvalidInput`], listing
    /// each failed check with its location and the API's own wording, and nothing is sent.
    ///
    /// The shape is what the contract states: types, required members, bounds, lengths,
    /// patterns and enumerations. A body that passes can still be refused with a 422
    /// ([`Error::Validation`]) for a rule the API keeps to itself, such as a cap on an amount,
    /// a value it does not know, or a resource that must exist.
    ///
    /// Turn it off when the API has relaxed a limit this SDK's contract still states: bodies
    /// then go out unchecked, and the API's 422 answer is the only validation. The checks
    /// need the `validate` feature (on by default); without it this setting changes nothing
    /// and the API's 422 is the only validation too.
    pub fn validate_input(mut self, validate: bool) -> Self {
        self.config.validate_input = validate;
        self
    }

    /// Whether redirects are followed (default `false`, as in the Python SDK), up to 10 per
    /// attempt. A hop to another origin (scheme, host or port) carries no credential: only
    /// `User-Agent`, `Accept`, `Accept-Encoding` and `Accept-Language` go with it (yours, if
    /// you set them), and with a 307 or 308, which repeats the body, the body and its
    /// `Content-Type` — never `Authorization`, `x-api-key`, cookies, the `Idempotency-Key` or
    /// any other header you added. Nor does a body holding a credential: a 307 or 308 to
    /// another origin is not followed for an operation whose body carries one (a share link's
    /// token and password, a subscription's delivery headers); its answer is the redirect
    /// itself.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.config.follow_redirects = follow;
        self
    }

    /// Adds a header sent with every call. [`build`](Self::build) fails on an invalid name or
    /// value; on `Idempotency-Key` and `X-Request-Id` (each names one call: give them to
    /// [`Request`](crate::Request)); on `Authorization` and `X-API-Key` when the client has a
    /// credential, which travels in its own header; and on the headers the HTTP connection
    /// writes itself (`Content-Length`, `Transfer-Encoding`, `Host`, `Connection` and the
    /// other hop-by-hop ones), whose value of ours would garble the request. A `Content-Type`
    /// or `Accept` given here takes the place of the SDK's own (`application/json`, and
    /// `application/json, application/problem+json` for `Accept`), and a
    /// name given again takes the place of its earlier value: one value per name is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a cookie sent with every call, after those of a `Cookie` header given with
    /// [`header`](Self::header), in the one `Cookie` header a request carries.
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.cookies.push((name.into(), value.into()));
        self
    }

    /// Speaks HTTP/2 without negotiation (`h2c` on plain HTTP, and only `h2` offered over
    /// TLS), to every host the client reaches: the API, and the storage of an upload's signed
    /// URL or the target of a redirect it follows, which must then speak HTTP/2 too (a
    /// storage that speaks HTTP/1.1 only fails the transfer). Without it, HTTP/2 is
    /// negotiated over TLS when a server offers it, and HTTP/1.1 spoken otherwise.
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(mut self, enabled: bool) -> Self {
        self.config.transport.http2_prior_knowledge = enabled;
        self
    }

    /// The most idle connections kept per host.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.config.transport.pool_max_idle_per_host = Some(max);
        self
    }

    /// How long an idle connection is kept. A timeout of a century or more keeps idle
    /// connections until the server closes them: the connection pool's clock cannot reach
    /// that far (`Duration::MAX` would overflow it).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.transport.pool_idle_timeout = Some(timeout);
        self
    }

    /// The `User-Agent`; default `geopera-rs/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.config.user_agent = user_agent.into();
        self
    }

    /// Whether a status the contract does not document for the operation is an
    /// [`Error::UnexpectedStatus`] from `send_detailed` too (default `false`: it is returned as
    /// [`Parsed::Unparsed`](crate::Parsed::Unparsed) or a problem). A 429, undocumented too, is
    /// [`Error::RateLimited`] then, carrying its wait.
    pub fn raise_on_unexpected_status(mut self, raise: bool) -> Self {
        self.config.raise_on_unexpected_status = raise;
        self
    }

    /// Sends async calls through this HTTP client instead of building one; transport
    /// settings above (TLS roots, `ca_file`, `verify_tls`, `tls_config`, proxies, connect
    /// timeout, pool) are then the caller's business, since the client owns its
    /// connections, but base URL, credentials, headers, cookies, the attempt and read
    /// timeouts, response cap and redirect handling still apply. Blocking calls still go
    /// through the SDK's own transport, built from those settings and following the proxy
    /// variables ([`proxy`](Self::proxy)), unless `blocking_http_client` (feature
    /// `blocking`) is given too.
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`: reqwest follows
    /// redirects by default and then forwards `x-api-key` and custom headers to whatever
    /// origin a redirect names, where the SDK's own following would drop them.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.config.http = Some(http);
        self
    }

    /// Has blocking calls go through HTTP clients that `make` builds, one for each thread that
    /// carries blocking calls; see [`Client::with_blocking_http_client`]. Without it, each
    /// such thread's client is built from the transport settings above.
    #[cfg(feature = "blocking")]
    pub fn blocking_http_client(
        mut self,
        make: impl Fn() -> reqwest::Client + Send + Sync + 'static,
    ) -> Self {
        self.config.blocking = Some(BlockingTransport::new(move || Ok(make())));
        self
    }

    fn build_client(mut self) -> Result<Client, Error> {
        let base_url = normalize_base_url(&self.config.base_url)?;
        warn_if_versioned(&base_url);
        let mut headers = HeaderMap::new();
        let user_agent = HeaderValue::from_str(&self.config.user_agent)
            .map_err(|_| Error::config("the user agent is not a valid header value"))?;
        headers.insert(USER_AGENT, user_agent);
        for (name, value) in &self.config.headers {
            let credentialed = self.config.credentials.is_some();
            let (name, value) = default_header(name, value, credentialed)?;
            headers.insert(name, value);
        }
        let fixed = self.config.credentials.as_ref().and_then(|c| c.fixed());
        if let Some(credential) = &fixed {
            credential.header()?;
        }
        // A client of the caller's own follows whatever proxies it was built with; the ones
        // the SDK builds follow the variables, for async calls or blocking ones (an async
        // client of the caller's own leaves the blocking calls to the SDK's, and the reverse).
        #[cfg(feature = "blocking")]
        let builds_blocking = self.config.blocking.is_none();
        #[cfg(not(feature = "blocking"))]
        let builds_blocking = false;
        let builds_async = self.config.http.is_none();
        let follows_variables = (builds_async || builds_blocking)
            && self.config.proxy.is_none()
            && self.config.transport.system_proxy;
        // Why the SDK's blocking transport cannot reach the base URL, when only it follows a
        // SOCKS proxy there: the async client is the caller's, which may speak SOCKS, so the
        // build goes on and each blocking call fails with this.
        let mut blocking_refused: Option<String> = None;
        if follows_variables {
            let socks =
                crate::proxy_env::takes_through_socks(&base_url, |name| std::env::var_os(name));
            if let Some(variable) = socks {
                let refusal = format!(
                    "the proxy variable {variable} sends calls to the base URL through a SOCKS \
                     proxy, which this SDK does not speak; name an HTTP proxy, list the host in \
                     NO_PROXY, or call no_proxy() on the builder"
                );
                if builds_async {
                    return Err(Error::config(refusal));
                }
                tracing::warn!(
                    variable,
                    "the proxy variable {variable} sends calls to the base URL through a SOCKS \
                     proxy: blocking calls, which the SDK's own client makes, will fail"
                );
                blocking_refused = Some(refusal);
            }
            if let Some(variable) = crate::proxy_env::names_socks(|name| std::env::var_os(name)) {
                tracing::warn!(
                    variable,
                    "the proxy variable {variable} names a SOCKS proxy, which this SDK does not \
                     speak: calls to a host NO_PROXY does not list (a signed upload or download \
                     URL elsewhere than the API) will fail"
                );
            }
            warn_if_proxied_in_clear_text(&base_url);
        }
        // Without blocking calls, the async client is the only one: refused above when its.
        #[cfg(not(feature = "blocking"))]
        drop(blocking_refused);
        if self.config.credentials.is_some() {
            warn_if_cleartext(&base_url);
        }
        for cookie in &self.config.cookies {
            validate_cookie(cookie)?;
        }
        for path in &self.config.ca_files {
            let pem = crate::trust_files::read(path).map_err(|why| {
                Error::config(format!("cannot read CA file {}: {why}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    Error::config(format!(
                        "CA file {} holds no valid PEM certificate",
                        path.display()
                    ))
                })?;
            self.config.transport.root_certificates.extend(certs);
        }
        if let Some(url) = &self.config.proxy {
            self.config.transport.proxy = Some(parse_proxy(url.expose())?);
        }
        let http = match self.config.http.take() {
            Some(http) => http,
            None => self.config.transport.build()?,
        };
        #[cfg(feature = "blocking")]
        let blocking = match self.config.blocking.take() {
            Some(blocking) => blocking,
            None => {
                let transport = self.config.transport.clone();
                BlockingTransport::new(move || match &blocking_refused {
                    Some(refusal) => Err(Error::config(refusal.clone())),
                    None => transport.build(),
                })
            }
        };
        let mut settings = Settings {
            base_url,
            prepared: HeaderMap::new(),
            credentials: self.config.credentials,
            fixed,
            headers,
            cookies: self.config.cookies,
            header_secrets: None,
            timeout: self.config.timeout,
            read_timeout: self.config.read_timeout,
            deadline: self.config.deadline,
            retry: self.config.retry,
            raise_on_unexpected_status: self.config.raise_on_unexpected_status,
            follow_redirects: self.config.follow_redirects,
            max_response_bytes: self.config.max_response_bytes,
            validate_input: self.config.validate_input,
        };
        settings.prepare();
        let clock = self
            .config
            .clock
            .unwrap_or_else(|| Arc::new(SystemClock::default()));
        let limiter = Arc::new(Limiter::new(
            clock,
            self.config.max_in_flight,
            &self.config.pacing,
            self.config.budget,
        ));
        Ok(Client {
            settings: Arc::new(settings),
            pool: Arc::new(PoolId),
            http,
            #[cfg(feature = "blocking")]
            blocking,
            limiter,
        })
    }
}

impl<C> ClientBuilder<C> {
    pub(crate) fn with_token(token: String) -> Self {
        ClientBuilder::new(Some(Arc::new(Credential::bearer(token))))
    }

    pub(crate) fn with_credentials(credentials: Arc<dyn Credentials>) -> Self {
        ClientBuilder::new(Some(credentials))
    }

    pub(crate) fn into_authenticated(self) -> ClientBuilder<AuthenticatedClient> {
        ClientBuilder {
            config: self.config,
            kind: PhantomData,
        }
    }
}

impl ClientBuilder<Client> {
    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for the first invalid setting: base URL, header, cookie, CA file,
    /// TLS configuration, proxy, or a proxy variable the client would follow that holds no
    /// proxy URL.
    pub fn build(self) -> Result<Client, Error> {
        self.build_client()
    }
}

impl ClientBuilder<AuthenticatedClient> {
    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for the first invalid setting: base URL, token, header, cookie, CA
    /// file, TLS configuration, proxy, or a proxy variable the client would follow that holds
    /// no proxy URL.
    pub fn build(self) -> Result<AuthenticatedClient, Error> {
        Ok(AuthenticatedClient {
            client: self.build_client()?,
        })
    }
}

impl TransportConfig {
    /// The HTTP client these settings describe: the async calls' one, and each thread's for
    /// blocking calls.
    fn build(&self) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            // The call engine follows redirects itself, dropping credentials across origins.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(n) = self.pool_max_idle_per_host {
            builder = builder.pool_max_idle_per_host(n);
        }
        if let Some(t) = self.pool_idle_timeout {
            // The pool adds the timeout to an `Instant` in a task of its own, where an overflow
            // panics; a timeout no program outlives means "never" anyway.
            let forever = Duration::from_secs(100 * 365 * 24 * 3600);
            builder = builder.pool_idle_timeout((t < forever).then_some(t));
        }
        #[cfg(feature = "http2")]
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        // Calls follow the proxy variables unless told otherwise; an explicit proxy replaces
        // them (reqwest drops its system proxy once one is added).
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy.clone());
        } else if !self.system_proxy {
            builder = builder.no_proxy();
        } else if let Some(name) = crate::proxy_env::unreadable(|name| std::env::var_os(name)) {
            // Its value is not quoted: a proxy URL may carry a password.
            return Err(Error::config(format!(
                "the proxy variable {name} is set but is no proxy URL \
                 ([scheme://][user:password@]host[:port]); calls would go around the proxy, so \
                 correct or unset it"
            )));
        }
        if let Some(tls) = &self.tls_config {
            builder = builder.use_preconfigured_tls((**tls).clone());
        } else {
            // The roots come with the features: the system's trust store (`system-roots`),
            // Mozilla's bundle (`webpki-roots`), or the OS stack's own (`native-tls`).
            //
            // Why `rustls-native-certs` (reqwest's `rustls-tls-native-roots`) and not
            // `rustls-platform-verifier`: reqwest 0.12 has no switch for the latter, so it would
            // take a preconfigured rustls config here, and with it our own versions of
            // `verify_tls(false)` and the extra CA files (or reqwest 0.13, a major version for
            // the whole workspace). Measured on Linux (x86_64, 292 system roots, release build
            // of a one-request program, median of 6 runs):
            //
            //   roots               build a client   first request (TLS)   deps, all targets
            //   webpki (bundled)         0.06 ms           1.2 ms                 133
            //   native-certs             4.8 ms            1.4 ms                 139
            //   platform-verifier        4.3 ms            1.5 ms                 152
            //
            // Binary size differed by under 0.4 % (6.42 MB to 6.44 MB). On Linux both system
            // options read the same store at the same cost, which `roots` pays once per
            // client rather than at every build (0.1 ms a build then, against ~5 ms). The
            // platform verifier's gain (the OS's own checks and revocation on macOS and
            // Windows) is not worth its 13 extra crates and the reimplemented knobs today;
            // revisit with reqwest 0.13, where it is the default.
            #[cfg(feature = "native-tls")]
            {
                builder = builder.use_native_tls();
            }
            // reqwest's default is the OS stack as soon as any crate of the program turns on
            // reqwest's default features; without `native-tls` ours is rustls all the same.
            #[cfg(not(feature = "native-tls"))]
            {
                builder = builder.use_rustls_tls();
                // Only the roots our features name: reqwest's own, which another crate of the
                // program may have switched on, would read the store again or add others.
                builder = builder.tls_built_in_root_certs(false);
                #[cfg(feature = "webpki-roots")]
                {
                    builder = builder.tls_built_in_webpki_certs(true);
                }
                #[cfg(feature = "system-roots")]
                {
                    let own = !self.root_certificates.is_empty();
                    for cert in self.system_roots.certificates(own)?.iter() {
                        builder = builder.add_root_certificate(cert.clone());
                    }
                }
            }
            builder = builder.danger_accept_invalid_certs(!self.verify_tls);
            for cert in &self.root_certificates {
                builder = builder.add_root_certificate(cert.clone());
            }
        }
        builder
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
    }
}

/// A proxy from its URL. No message repeats the URL: it may carry a password.
///
/// One without a scheme (`proxy.internal:3128`, `user:pw@proxy:3128`, as `HTTPS_PROXY` is
/// often written) names an HTTP proxy, as curl and reqwest read it. Parsed as it stands, its
/// host or user name would be taken for a scheme, and refused as one.
fn parse_proxy(raw: &str) -> Result<reqwest::Proxy, Error> {
    let raw = raw.trim();
    let with_scheme;
    let raw = if raw.contains("://") {
        raw
    } else {
        with_scheme = format!("http://{raw}");
        with_scheme.as_str()
    };
    let url = url::Url::parse(raw).map_err(|e| {
        Error::config(format!(
            "the proxy URL is not a URL ({e}); it is not shown, as it may hold a password"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "the proxy URL must use http or https, not {}",
            url.scheme()
        )));
    }
    reqwest::Proxy::all(url).map_err(|_| Error::config("the proxy URL is not usable"))
}

/// Warns when the base URL ends in the API's version ([`crate::base_url_ends_in_version`]).
fn warn_if_versioned(base_url: &str) {
    if crate::base_url_ends_in_version(base_url) {
        tracing::warn!(
            base_url = %crate::quoted_url(base_url),
            default_base_url = DEFAULT_BASE_URL,
            "the base URL ends in /v1, and the SDK adds /v1/op/{{operation_id}} to it, so calls \
             go to .../v1/v1/op/...: leave the version out, as the default base URL does"
        );
    }
}

/// Warns when a client's credential would cross the network unencrypted
/// ([`crate::base_url_in_clear_text`]).
fn warn_if_cleartext(base_url: &str) {
    if crate::base_url_in_clear_text(base_url) {
        tracing::warn!(
            base_url = %without_userinfo(base_url),
            "the client's credential goes in clear text: its base URL is plain http to \
             another machine"
        );
    }
}

/// Warns when a proxy variable takes the client's plain-http calls, to loopback too
/// ([`crate::proxy_env::takes_in_clear_text`]): a credential or a sign-in form then goes in
/// clear text to the proxy, and the calls to the proxy's own loopback, not this machine's.
fn warn_if_proxied_in_clear_text(base_url: &str) {
    if let Some(variable) =
        crate::proxy_env::takes_in_clear_text(base_url, |name| std::env::var_os(name))
    {
        tracing::warn!(
            base_url = %without_userinfo(base_url),
            variable,
            "calls go in clear text to the proxy {variable} names, credentials and sign-in \
             forms included: the base URL is plain http and NO_PROXY does not name its host; \
             list the host in NO_PROXY, or call no_proxy() on the builder"
        );
    }
}

/// A header added by hand, a credential one marked sensitive (HTTP/2 then never indexes it);
/// one the connection writes itself ([`CONNECTION_HEADERS`]) is refused.
///
/// # Errors
/// Why the header cannot be sent, for the caller to make the error of its own kind: a
/// client's configuration ([`Error::Config`]) or one call's request
/// ([`Error::InvalidRequest`]).
pub(crate) fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        format!(
            "the header name {} is not valid: {}",
            refused_name(name),
            why_not_a_name(name)
        )
    })?;
    if CONNECTION_HEADERS.contains(&header_name.as_str()) {
        return Err(format!(
            "the {header_name} header is the HTTP connection's own: it frames the body or \
             steers the connection, and a value given here would contradict what is sent"
        ));
    }
    let mut header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of header {header_name} is not valid"))?;
    header_value.set_sensitive(crate::redact::is_credential_header(name));
    Ok((header_name, header_value))
}

/// How many characters of a name it refuses a message quotes: fewer than the four at which
/// the redactor starts treating the start of a credential as telling (see `redact.rs`).
const REFUSED_NAME_CHARS: usize = 3;

/// What a message shows of a header or cookie name it refuses: its first
/// [`REFUSED_NAME_CHARS`] characters, [`inert`](crate::terminal::inert), and its length. A
/// refused name holds a character no name may (a space, a colon, a line break), which is what
/// a credential given in the wrong place looks like: `Authorization: Bearer gpra_…` given as
/// one name, or a key read from a file with its line break. Quoted whole, as an unknown
/// operation id is quoted in part, it would go to a log with the credential in it.
pub(crate) fn refused_name(name: &str) -> String {
    let count = name.chars().count();
    let start: String = name.chars().take(REFUSED_NAME_CHARS).collect();
    let more = if count > REFUSED_NAME_CHARS {
        "…"
    } else {
        ""
    };
    let unit = if count == 1 {
        "character"
    } else {
        "characters"
    };
    format!(
        "\"{}{more}\" ({count} {unit})",
        crate::terminal::inert(&start)
    )
}

/// A header name as `Debug` shows it: whole when it is one, else as a refusal quotes it
/// ([`refused_name`]).
pub(crate) struct ShownHeaderName<'a>(pub(crate) &'a str);

impl fmt::Debug for ShownHeaderName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if HeaderName::from_bytes(self.0.as_bytes()).is_ok() {
            fmt::Debug::fmt(self.0, f)
        } else {
            f.write_str(&refused_name(self.0))
        }
    }
}

/// Why `name`, which `HeaderName` refused, is no header name: the first character that is not
/// an RFC 9110 token character, by its place, or its length.
fn why_not_a_name(name: &str) -> String {
    if name.is_empty() {
        return "it is empty".to_owned();
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    match name.chars().enumerate().find(|(_, c)| !token(*c)) {
        Some((at, c)) => format!(
            "character {} is {c:?}, which no name may hold (letters, digits and !#$%&'*+-.^_`|~)",
            at + 1
        ),
        None => "it is too long".to_owned(),
    }
}

/// Headers the HTTP client writes from the request itself: a `Content-Length` of ours would
/// cut the body short on the wire (or make the server wait for more), and the others describe
/// the connection or its target rather than the call.
const CONNECTION_HEADERS: [&str; 9] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// A header every call of a client sends ([`parse_header`]), refused where the call would
/// not send it as given:
///
/// - an `Idempotency-Key` names one logical call, and a client-wide one would have the API
///   answer every later call with the first one's stored answer;
/// - an `X-Request-Id` names one call too, and every call sends its own;
/// - on a client with a credential, `Authorization` would be replaced by the credential's, and
///   `X-API-Key` beside a bearer token ignored by the API (or replace the credential's own).
fn default_header(
    name: &str,
    value: &str,
    credentialed: bool,
) -> Result<(HeaderName, HeaderValue), Error> {
    let (name, value) = parse_header(name, value).map_err(Error::config)?;
    match name.as_str() {
        headers::IDEMPOTENCY_KEY => Err(Error::config(
            "an Idempotency-Key names one logical call: give it to that call \
             (Request::idempotency_key), not to the client",
        )),
        headers::REQUEST_ID => Err(Error::config(
            "an X-Request-Id names one call, and every call sends its own: give it to that \
             call (Request::request_id), not to the client",
        )),
        "authorization" | headers::API_KEY if credentialed => Err(Error::config(format!(
            "the client's credential is sent in its own header, so a {name} header given here \
             would be replaced or ignored: give the credential to the client \
             (AuthenticatedClient, Credential), or build a Client without one"
        ))),
        _ => Ok((name, value)),
    }
}

fn validate_cookie((name, value): &(String, String)) -> Result<(), Error> {
    let bad = |c: char| c.is_control() || matches!(c, ';' | ',' | ' ' | '"' | '\\');
    if name.is_empty() || name.contains(bad) || name.contains('=') || value.contains(bad) {
        return Err(Error::config(format!(
            "the cookie named {} has an invalid name or value",
            refused_name(name)
        )));
    }
    Ok(())
}

impl Settings {
    fn prepare(&mut self) {
        let mut prepared = self.headers.clone();
        // A `Content-Type` given for the client is sent as given, as one given for a call is
        // and as `Accept` is below; it was once replaced without a word.
        if !prepared.contains_key(CONTENT_TYPE) {
            prepared.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if !prepared.contains_key(ACCEPT) {
            prepared.insert(ACCEPT, HeaderValue::from_static(DEFAULT_ACCEPT));
        }
        if let Some(credential) = &self.fixed {
            // Checked by the builder; a credential that cannot be a header is never stored.
            if let Ok((name, value)) = credential.header() {
                prepared.insert(name, value);
            }
        }
        if !self.cookies.is_empty() {
            let joined = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            // A request carries one `Cookie` header (RFC 6265, section 5.4): the cookies of a
            // `Cookie` header given by hand go first in it, not overwritten by these, except
            // one of a name these set (`with_cookies` merges over the current cookies).
            let value = match prepared.get(COOKIE) {
                Some(given) => joined_cookies(given.as_bytes(), joined.as_bytes(), true),
                None => joined.into_bytes(),
            };
            if let Ok(mut value) = HeaderValue::from_bytes(&value) {
                value.set_sensitive(true);
                prepared.insert(COOKIE, value);
            }
        }
        self.prepared = prepared;
        // Read as UTF-8, not as visible ASCII (`to_str`): every value was given as a `&str`
        // and goes out as its bytes, so one with a non-ASCII character is a credential too.
        self.header_secrets = crate::redact::header_secrets(
            self.headers.iter().filter_map(|(name, value)| {
                Some((name.as_str(), std::str::from_utf8(value.as_bytes()).ok()?))
            }),
            self.cookies.iter().map(|(_, value)| value.as_str()),
        );
    }
}

/// `first`'s cookies and then `second`'s as one `Cookie` value, one pair per name: a pair of
/// the side that gives way (`first` when `second_wins`) whose name the other sets is left out,
/// as a server reads only one of a name (the first, or the last, by its parser). Read as
/// UTF-8 (the values were given as `&str`, and a cookie value may hold more than ASCII); when
/// either is not, both go as they are.
pub(crate) fn joined_cookies(first: &[u8], second: &[u8], second_wins: bool) -> Vec<u8> {
    let (Ok(first), Ok(second)) = (std::str::from_utf8(first), std::str::from_utf8(second)) else {
        return [first, b"; ", second].concat();
    };
    fn pairs(value: &str) -> Vec<&str> {
        value
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .collect()
    }
    let name = |pair: &str| pair.split('=').next().unwrap_or_default().trim().to_owned();
    let (first, second) = (pairs(first), pairs(second));
    let named = |side: &[&str]| side.iter().map(|pair| name(pair)).collect::<Vec<_>>();
    let (first_names, second_names) = (named(&first), named(&second));
    let kept_first = first
        .into_iter()
        .filter(|pair| !second_wins || !second_names.contains(&name(pair)));
    let kept_second = second
        .into_iter()
        .filter(|pair| second_wins || !first_names.contains(&name(pair)));
    kept_first
        .chain(kept_second)
        .collect::<Vec<_>>()
        .join("; ")
        .into_bytes()
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
