//! A rate budget kept in Redis, shared by every process of one organization.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use geopera_types::RateClass;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, Script};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Handle;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use super::{Budget, BudgetFuture, LocalBudget, Reservation, CLASSES, MAX_HOLD};
use crate::Error;

/// Checks every budget a call draws on and counts the call in all of them, or in none: one
/// script, so that no other worker can slip in between the check and the count. Time comes
/// from Redis, so every worker agrees on where a window starts whatever its own clock says.
///
/// `KEYS`: per budget, the prefix of its window counters and its "blocked until" key.
/// `ARGV[1]`: the window length in ms; `ARGV[1 + i]`: the cap of budget `i`, 0 for none.
/// Returns 0 when the call was counted, else the milliseconds to wait before asking again
/// (at least 1: Redis cuts a script's number to an integer, and a hold a fraction of a
/// millisecond away, written by something else, would otherwise read as 0, a grant never
/// counted).
///
/// Both scripts write after reading `TIME`, which Redis 3.2 to 4 allow only once a script has
/// asked for its effects to be replicated (`redis.replicate_commands`, which later versions
/// do always and keep as a no-op): without it, every reservation failed there, and each
/// worker paced alone.
const RESERVE: &str = r"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local index = math.floor(now / window)
local window_end = (index + 1) * window
local budgets = #KEYS / 2
local wait = 0
for i = 1, budgets do
  local blocked = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if blocked - now > wait then wait = blocked - now end
end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for i = 1, budgets do
  local cap = tonumber(ARGV[1 + i])
  local used = tonumber(redis.call('GET', KEYS[2 * i - 1] .. index) or '0')
  if cap > 0 and used >= cap then return math.max(1, window_end - now) end
end
for i = 1, budgets do
  local key = KEYS[2 * i - 1] .. index
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, window + 5000)
  end
end
return 0
";

/// Holds a budget until `ARGV[1]` ms from now on Redis's clock, unless it is already held
/// longer; the key expires soon after the hold ends.
const LIMITED: &str = r"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + hold > blocked then
  redis.call('SET', KEYS[1], now + hold, 'PX', hold + 5000)
end
return 0
";

/// A rate budget shared through Redis by every process that gives it the same key prefix
/// (say, the organization's id), so a fleet of workers stays inside the API's per-minute
/// budgets together.
///
/// Each reservation is one atomic script: it checks the class's window counter (and the
/// organization-wide default one, which the narrower classes also draw on), counts the call
/// when there is room, and otherwise answers how long until the window ends. A 429 seen by
/// any worker holds the class for every worker until its `Retry-After` has passed (an hour
/// at most; a longer wait read back from Redis is taken for garbage and paced locally). Windows
/// are fixed and aligned to Redis's clock (the minute, by default), like the API's; keys
/// expire shortly after their window, so Redis holds a handful of keys per class at most.
/// Any Redis from 3.2 on will do (the scripts need `TIME` and effects replication).
///
/// When Redis does not answer within [`RedisBudgetBuilder::timeout`], or answers what the
/// budget's scripts never do (an error, a reply that is not an integer, more than 64 KiB at
/// once), the call is paced by a [`LocalBudget`] in this process instead (its caps divided by
/// [`RedisBudgetBuilder::fleet_size`]), which has counted the calls Redis granted this process
/// and kept the holds it answered, so that falling back within a window does not spend this
/// process's share of it again; the outage is logged once, and Redis is tried again
/// after [`RedisBudgetBuilder::reconnect_after`], so workers rejoin the shared budget when it
/// returns. Calls never fail or hang on account of Redis.
///
/// Redis is spoken to from a thread of this budget's own, so one budget serves async and
/// blocking calls alike, from any runtime.
///
/// ```no_run
/// # fn main() -> Result<(), geopera::Error> {
/// # let token = "gpra_...";
/// let budget = geopera::budget::RedisBudget::builder("redis://redis.internal:6379/", "org_42")
///     .fleet_size(20) // while Redis is unreachable, each paces itself at 1/20 of the caps
///     .build()?;
/// let client = geopera::AuthenticatedClient::builder(token)
///     .budget(std::sync::Arc::new(budget))
///     .build()?;
/// # drop(client);
/// # Ok(())
/// # }
/// ```
///
/// (The README shows the same lines; a test keeps the two equal, as only builds with the
/// `redis` feature compile this one.)
#[derive(Clone)]
pub struct RedisBudget {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    /// How connections are wrapped in TLS, for a `rediss://` URL.
    tls: Option<tokio_rustls::TlsConnector>,
    /// Key prefixes per class: the window counters' (the window number is appended) and the
    /// "blocked until" key's. The organization sits in braces, a Redis Cluster hash tag, so
    /// all of its keys live on one node and a script may touch them together.
    keys: [(String, String); CLASSES],
    caps: [u32; CLASSES],
    window_ms: u64,
    timeout: Duration,
    reconnect_after_ms: u64,
    local: LocalBudget,
    /// The Redis password, blanked out of what is logged: a Redis refusing a command may
    /// quote it whole, and so the password HELLO sends with AUTH.
    password: Option<crate::secret::Secret>,
    connection: Mutex<Option<Connection>>,
    reserve: Script,
    limited: Script,
    /// Where Redis work runs: a runtime on this budget's thread, which stops when the last
    /// handle to the budget is dropped.
    io: Handle,
    _stop: oneshot::Sender<()>,
    /// Milliseconds since `origin` before which Redis is not tried again.
    down_until: AtomicU64,
    /// Whether an outage has been logged and not yet seen to end.
    down: AtomicBool,
    origin: Instant,
}

impl fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password: show only what is not secret.
        f.debug_struct("RedisBudget")
            .field("keys", &self.shared.keys)
            .field("caps", &self.shared.caps)
            .field("window_ms", &self.shared.window_ms)
            .field("timeout", &self.shared.timeout)
            .field("tls", &self.shared.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisBudget`]; setters never fail, [`build`](Self::build) reports problems.
#[must_use]
pub struct RedisBudgetBuilder {
    url: crate::secret::Secret,
    organization: String,
    namespace: String,
    caps: [u32; CLASSES],
    headroom_percent: u32,
    window: Duration,
    timeout: Duration,
    reconnect_after: Duration,
    fleet_size: u32,
    ca_files: Vec<PathBuf>,
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for RedisBudgetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBudgetBuilder")
            .field("organization", &self.organization)
            .field("namespace", &self.namespace)
            .field("caps", &self.caps)
            .field("headroom_percent", &self.headroom_percent)
            .field("window", &self.window)
            .field("ca_files", &self.ca_files)
            .field("tls_config", &self.tls_config.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisBudget {
    /// A budget in the Redis at `url`, counted for `organization`: every process naming the
    /// same one shares the budget.
    ///
    /// `redis://[[user]:password@]host[:port][/db]` speaks to Redis in clear;
    /// `rediss://` over TLS, checking the server's certificate against the roots the
    /// crate's features choose (the system's trust store with `system-roots`, the bundled
    /// ones with `webpki-roots`) and any [`ca_file`](RedisBudgetBuilder::ca_file), as the
    /// API client does. A managed Redis that requires TLS (as most do) needs `rediss://`; its
    /// password then never crosses the network in clear. The `#insecure` fragment, which
    /// would skip the certificate check, is refused.
    pub fn builder(url: impl Into<String>, organization: impl Into<String>) -> RedisBudgetBuilder {
        let mut caps = [0; CLASSES];
        for class in RateClass::ALL {
            caps[class.index()] = class.documented_per_minute();
        }
        RedisBudgetBuilder {
            url: crate::secret::Secret::new(url.into()),
            organization: organization.into(),
            namespace: "geopera".to_owned(),
            caps,
            headroom_percent: 5,
            window: RateClass::WINDOW,
            timeout: Duration::from_millis(100),
            reconnect_after: Duration::from_secs(1),
            fleet_size: 1,
            ca_files: Vec::new(),
            tls_config: None,
        }
    }

    /// Whether Redis answered the last time it was asked (false during an outage).
    pub fn is_shared(&self) -> bool {
        !self.shared.down.load(Ordering::Relaxed)
    }
}

impl RedisBudgetBuilder {
    /// The first part of every key (default `geopera`), to keep apart applications that
    /// share a Redis. [`build`](Self::build) refuses one holding `{` or `}`, which would move
    /// the hash tag that keeps an organization's keys on one Redis Cluster node.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Allows `per_window` calls of `class` per window across the fleet, before headroom
    /// (default: [`RateClass::documented_per_minute`]); 0 lifts the cap, as on
    /// [`LocalBudget::cap`].
    pub fn cap(mut self, class: RateClass, per_window: u32) -> Self {
        self.caps[class.index()] = per_window;
        self
    }

    /// Leaves this share of each cap unused (default 5 %, rounded up): calls counted at the
    /// very end of a window can reach the API in the next one, and other clients of the
    /// organization may not use the budget.
    pub fn headroom_percent(mut self, percent: u32) -> Self {
        self.headroom_percent = percent.min(100);
        self
    }

    /// The window length (default 60 s, as the API's); shorter ones are for tests against an
    /// emulator with windows as short. [`RedisBudgetBuilder::build`] refuses one longer than an
    /// hour.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long one reservation waits for Redis before pacing on the local budget instead
    /// (default 100 ms); at most the [window](Self::window), checked by
    /// [`build`](Self::build). The reservation that connects spends it on connecting too
    /// (TCP, the TLS handshake of `rediss://`, Redis's `HELLO`), a few round trips: a Redis
    /// farther than some tens of milliseconds needs a longer one, or it is never reached and
    /// each process paces alone, with a warning that Redis is unreachable.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long after a failure Redis is tried again (default 1 s); meanwhile the local
    /// budget paces calls without waiting on Redis.
    pub fn reconnect_after(mut self, wait: Duration) -> Self {
        self.reconnect_after = wait;
        self
    }

    /// How many processes share the budget (default 1): while Redis is unreachable each one
    /// paces itself at this share of the caps, so the fleet stays near the API's budget.
    pub fn fleet_size(mut self, processes: u32) -> Self {
        self.fleet_size = processes.max(1);
        self
    }

    /// Trusts the PEM certificate(s) in this file for a `rediss://` Redis, besides the roots
    /// the crate's features choose: for a Redis behind a private certificate authority, as a
    /// managed one often is. May be given more than once. Read by [`build`](Self::build),
    /// which fails as [`ClientBuilder::ca_file`](crate::ClientBuilder::ca_file)'s does on a
    /// file it cannot use, and refuses it with a `redis://` URL, whose connections have no TLS
    /// to trust it for.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Uses this rustls configuration for a `rediss://` Redis, for what
    /// [`ca_file`](Self::ca_file) does not offer (a client certificate, pinned roots): it
    /// replaces the roots and every CA file. Refused with a `redis://` URL, as `ca_file` is.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls_config = Some(Arc::new(config));
        self
    }

    /// Builds the budget; Redis is first contacted by the first reservation.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the organization is blank, it or the namespace holds `{` or `}`,
    /// the URL is not a Redis URL this build can use, the window is longer than an hour, the
    /// timeout longer than the window, or the budget's I/O thread cannot start; for TLS, when
    /// a `rediss://` URL has a fragment (`#insecure`), a CA file cannot be read or holds no
    /// certificate, no root is trusted at all, or TLS settings come with a `redis://` URL.
    /// Certificates are checked when Redis is first reached: one that fails the check is an
    /// outage, and the budget paces this process alone.
    pub fn build(self) -> Result<RedisBudget, Error> {
        // The organization names whose budget this is, and sits in the keys' hash tag: left
        // blank, every program that forgot it would share one budget, and on Redis Cluster an
        // empty tag (`{}`) scatters one organization's keys over nodes, so that every
        // reservation would fail and each process pace alone. A brace would end the tag early.
        if self.organization.trim().is_empty() {
            return Err(Error::config(
                "the rate budget's organization is blank; name the organization whose budget \
                 the fleet shares",
            ));
        }
        for (what, text) in [
            ("organization", &self.organization),
            ("namespace", &self.namespace),
        ] {
            if text.contains(['{', '}']) {
                return Err(Error::config(format!(
                    "the rate budget's {what} holds '{{' or '}}', which Redis Cluster reads as \
                     the bounds of the hash tag that keeps the organization's keys on one node"
                )));
            }
        }
        // A reservation answered with a wait longer than [`MAX_HOLD`] is taken for a key
        // something else wrote, and Redis for failing: with a longer window, every wait for
        // the window's end would mark Redis as down and each worker would pace alone, the
        // fleet past its shared cap.
        if self.window > MAX_HOLD {
            return Err(Error::config(format!(
                "the rate budget's window of {:?} is longer than {MAX_HOLD:?}, the longest wait \
                 a reservation on Redis can answer; the API's windows are a minute",
                self.window
            )));
        }
        // The timeout is what keeps a stalled Redis from holding calls: one as long as the
        // window (or `Duration::MAX`) would let it hold them for the whole window it reserves
        // in, or for ever, where the local budget should have taken over.
        if self.timeout > self.window {
            return Err(Error::config(format!(
                "the rate budget's timeout of {:?} is longer than its window of {:?}: a \
                 reservation would wait on Redis past the window it reserves in, instead of \
                 pacing on the local budget",
                self.timeout, self.window
            )));
        }
        let (url, over_tls) = read_tls_scheme(self.url.expose())?;
        let client = redis::Client::open(url.as_ref())
            .map_err(|e| Error::config(format!("the Redis URL of the rate budget: {e}")))?;
        let tls = if over_tls {
            Some(self.tls_connector()?)
        } else if !self.ca_files.is_empty() || self.tls_config.is_some() {
            return Err(Error::config(
                "the rate budget was given a CA file or a TLS configuration, but its Redis URL \
                 is redis://, which speaks to Redis in clear, password included: use rediss://",
            ));
        } else {
            None
        };
        let password = client
            .get_connection_info()
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(|p| crate::secret::Secret::new(p.to_owned()));
        // No cap (0) stays none; a cap stays at least one call, whatever the headroom.
        let caps = self.caps.map(|cap| {
            let headroom = (u64::from(cap) * u64::from(self.headroom_percent)).div_ceil(100);
            let kept = u32::try_from(u64::from(cap).saturating_sub(headroom)).unwrap_or(cap);
            if cap == 0 {
                0
            } else {
                kept.max(1)
            }
        });
        let window_ms = u64::try_from(self.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let local = LocalBudget::with_caps(
            self.window,
            caps.map(|cap| (cap > 0).then(|| (cap / self.fleet_size).max(1))),
        );
        let org = &self.organization;
        let ns = &self.namespace;
        let keys = RateClass::ALL.map(|class| {
            let name = class.name();
            (
                format!("{ns}:{{{org}}}:{name}:w:"),
                format!("{ns}:{{{org}}}:{name}:blocked"),
            )
        });
        let (io, stop) = io_thread()?;
        Ok(RedisBudget {
            shared: Arc::new(Shared {
                client,
                tls,
                keys,
                caps,
                window_ms,
                timeout: self.timeout,
                reconnect_after_ms: u64::try_from(self.reconnect_after.as_millis())
                    .unwrap_or(u64::MAX),
                local,
                password,
                connection: Mutex::new(None),
                reserve: Script::new(RESERVE),
                limited: Script::new(LIMITED),
                io,
                _stop: stop,
                down_until: AtomicU64::new(0),
                down: AtomicBool::new(false),
                origin: Instant::now(),
            }),
        })
    }
}

impl RedisBudgetBuilder {
    /// How a `rediss://` budget's connections are wrapped: the TLS configuration given, or
    /// rustls (on `ring`, as reqwest's) trusting the features' roots and the CA files.
    fn tls_connector(&self) -> Result<tokio_rustls::TlsConnector, Error> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        if let Some(config) = &self.tls_config {
            return Ok(tokio_rustls::TlsConnector::from(config.clone()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for path in &self.ca_files {
            let pem = crate::trust_files::read(path).map_err(|why| {
                Error::config(format!("cannot read CA file {}: {why}", path.display()))
            })?;
            let certificates = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(Error::config(format!(
                    "CA file {} holds no valid PEM certificate",
                    path.display()
                )));
            }
        }
        #[cfg(feature = "system-roots")]
        let problems = {
            let store = crate::roots::read().map_err(Error::Config)?;
            roots.add_parsable_certificates(store.certificates);
            store.problems
        };
        #[cfg(not(feature = "system-roots"))]
        let problems: Vec<String> = Vec::new();
        #[cfg(feature = "webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if roots.is_empty() {
            let mut message = "the rate budget's Redis URL is rediss://, but no certificate \
                               authority is trusted to vouch for the server: give one with \
                               RedisBudgetBuilder::ca_file, or turn on the system-roots or \
                               webpki-roots feature"
                .to_owned();
            for problem in &problems {
                message.push_str("; ");
                message.push_str(problem);
            }
            return Err(Error::config(message));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("the rate budget's TLS settings: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}

/// The URL as the Redis client reads it, and whether it asks for TLS: `rediss://` and
/// `valkeys://` are read as `redis://` and `valkey://`, since the budget makes its connections
/// itself ([`Bounded::open`]) and wraps them in TLS there. A URL that does not parse is left
/// to the Redis client, whose errors quote no password.
///
/// # Errors
///
/// A TLS URL with a fragment: `#insecure`, the only one the Redis client reads, turns off
/// the certificate check, which anyone on the path could then pass as the Redis.
fn read_tls_scheme(text: &str) -> Result<(Cow<'_, str>, bool), Error> {
    let Ok(mut url) = url::Url::parse(text) else {
        return Ok((Cow::Borrowed(text), false));
    };
    let plain = match url.scheme() {
        "rediss" => "redis",
        "valkeys" => "valkey",
        _ => return Ok((Cow::Borrowed(text), false)),
    };
    if url.fragment().is_some() {
        return Err(Error::config(
            "the rate budget's Redis URL ends in a fragment such as #insecure, which would \
             skip checking the server's certificate; leave it out, and trust the certificate \
             authority of a private Redis instead (RedisBudgetBuilder::ca_file, or a trust \
             store named by SSL_CERT_FILE)",
        ));
    }
    if url.set_scheme(plain).is_err() {
        return Err(Error::config("the rate budget's Redis URL cannot be read"));
    }
    Ok((Cow::Owned(url.into()), true))
}

/// Starts the thread Redis is spoken from. Its runtime runs until the budget is dropped.
fn io_thread() -> Result<(Handle, oneshot::Sender<()>), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config(format!("cannot start the rate budget's runtime: {e}")))?;
    let handle = runtime.handle().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("geopera-budget-io".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                let _ = stopped.await;
            });
        })
        .map_err(|e| Error::config(format!("cannot start the rate budget's thread: {e}")))?;
    Ok((handle, stop))
}

/// A connection to Redis and the task that drives it, which ends when the last clone is
/// dropped (the Redis client's own task would wait for answers to the requests sent, for ever
/// from a Redis that never answers).
#[derive(Clone)]
struct Connection {
    multiplexed: MultiplexedConnection,
    _driver: Arc<Driver>,
}

/// Stops the task that drives a connection when dropped.
struct Driver(JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The most Redis may send between two requests: a handful of bytes answers a script, a few
/// hundred the handshake. A reply of more is no answer of Redis's to this budget (a length
/// header of gigabytes and as many bytes after it), and reading it whole would hold it all in
/// memory until the timeout.
const MAX_UNASKED_BYTES: usize = 64 << 10;

/// The byte stream to Redis, which fails a read that takes what Redis sent since the last
/// request past [`MAX_UNASKED_BYTES`].
struct Bounded {
    stream: Box<dyn Stream>,
    /// Bytes read since the last write.
    unasked: usize,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> Stream for S {}

impl Bounded {
    /// Connects to the Redis `info` names, as the Redis client would, through `tls` when
    /// the URL asked for it: the server's certificate must name the URL's host.
    async fn open(
        info: &redis::ConnectionInfo,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> redis::RedisResult<Self> {
        let stream: Box<dyn Stream> = match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(info.tcp_settings().nodelay())?;
                match tls {
                    None => Box::new(stream),
                    Some(connector) => {
                        let name = rustls::pki_types::ServerName::try_from(host.clone())
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                        Box::new(connector.connect(name, stream).await?)
                    }
                }
            }
            #[cfg(unix)]
            ConnectionAddr::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            // `RedisBudgetBuilder::build` refused the URL already.
            _ => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "a Redis address this build cannot connect to",
                )))
            }
        };
        Ok(Bounded { stream, unasked: 0 })
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        self.unasked = self.unasked.saturating_add(read);
        if self.unasked > MAX_UNASKED_BYTES {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "Redis sent more than {} KiB unasked, more than any answer to this budget",
                    MAX_UNASKED_BYTES >> 10
                ),
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.stream).poll_write(cx, buf))?;
        if written > 0 {
            self.unasked = 0;
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Runs `script`, whose text is `source`, on `keys` and `args`: EVALSHA, and EVAL when Redis
/// does not have the script (restarted, flushed, a new replica), which also keeps it for the
/// next EVALSHA. Not SCRIPT LOAD and EVALSHA again, as the Redis client does: it checks the
/// digest SCRIPT LOAD answers with a debug assertion, a panic on a Redis that answers another.
async fn run_script<T: redis::FromRedisValue>(
    connection: &mut MultiplexedConnection,
    script: &Script,
    source: &str,
    keys: &[&str],
    args: &[u64],
) -> redis::RedisResult<T> {
    let command = |name: &str, body: &str| {
        let mut command = redis::cmd(name);
        command.arg(body).arg(keys.len()).arg(keys).arg(args);
        command
    };
    match command("EVALSHA", script.get_hash())
        .query_async(connection)
        .await
    {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            command("EVAL", source).query_async(connection).await
        }
        answer => answer,
    }
}

/// Why Redis could not be used this time.
enum Failure {
    Redis(redis::RedisError),
    TimedOut,
    Gone,
    /// A wait longer than any this budget writes ([`MAX_HOLD`]): what Redis holds is not
    /// ours (a key written by something else), and is treated as Redis failing, so no call
    /// hangs on it.
    Absurd(u64),
    /// A reply the reservation script never gives: anything but a whole number of
    /// milliseconds, 0 or more.
    NotAnAnswer,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Redis(e) => write!(f, "{e}"),
            Failure::TimedOut => f.write_str("no answer in time"),
            Failure::Gone => f.write_str("the budget's I/O thread stopped"),
            Failure::NotAnAnswer => f.write_str(
                "Redis answered a reservation with something other than a whole number of \
                 milliseconds, which the budget's script always answers",
            ),
            Failure::Absurd(wait) => write!(
                f,
                "Redis answered a wait of {wait} ms, longer than any this budget writes"
            ),
        }
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether Redis is resting after a failure.
    fn resting(&self) -> bool {
        self.now_ms() < self.down_until.load(Ordering::Relaxed)
    }

    fn failed(&self, failure: &Failure) {
        self.down_until.store(
            self.now_ms().saturating_add(self.reconnect_after_ms),
            Ordering::Relaxed,
        );
        if !self.down.swap(true, Ordering::Relaxed) {
            let mut shown = failure.to_string();
            if let Some(password) = &self.password {
                shown = shown.replace(password.expose(), crate::REDACTED);
            }
            // Redis's own words (an error's text), shown as the SDK shows a server's.
            let shown = crate::error::server_words(&shown);
            tracing::warn!(
                error = %shown,
                "shared rate budget unreachable: pacing on this process's budget until Redis answers"
            );
        }
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("shared rate budget reachable again");
        }
    }

    /// A connection, made if there is none. Made here rather than by the Redis client, so
    /// that what Redis sends is read through [`Bounded`]; the callers bound the whole of it,
    /// handshake included, by the timeout.
    async fn connection(&self) -> Result<Connection, Failure> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = &*slot {
            return Ok(connection.clone());
        }
        let info = self.client.get_connection_info();
        let stream = Bounded::open(info, self.tls.as_ref())
            .await
            .map_err(Failure::Redis)?;
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(self.timeout));
        let (multiplexed, driver) =
            MultiplexedConnection::new_with_config(info.redis_settings(), stream, config)
                .await
                .map_err(Failure::Redis)?;
        let connection = Connection {
            multiplexed,
            _driver: Arc::new(Driver(self.io.spawn(driver))),
        };
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the connection after a failure, so the next attempt makes a new one.
    async fn drop_connection(&self) {
        *self.connection.lock().await = None;
    }

    async fn run_reserve(self: Arc<Self>, class: RateClass) -> Result<u64, Failure> {
        let mut connection = self.connection().await?;
        let budgets = class.drawn_from();
        let mut keys = Vec::with_capacity(2 * budgets.len());
        for c in budgets {
            let (window, blocked) = &self.keys[c.index()];
            keys.extend([window.as_str(), blocked.as_str()]);
        }
        let mut args = vec![self.window_ms];
        args.extend(budgets.iter().map(|c| u64::from(self.caps[c.index()])));
        // An integer, strictly: the Redis client would read a double or a string of digits as
        // a number too, and a NaN or negative double as 0, a grant.
        let result = match run_script(
            &mut connection.multiplexed,
            &self.reserve,
            RESERVE,
            &keys,
            &args,
        )
        .await
        {
            Ok(redis::Value::Int(wait)) => u64::try_from(wait).map_err(|_| Failure::NotAnAnswer),
            Ok(_) => Err(Failure::NotAnAnswer),
            Err(e) => Err(Failure::Redis(e)),
        };
        if result.is_err() {
            self.drop_connection().await;
        }
        result
    }

    async fn run_limited(self: Arc<Self>, class: RateClass, hold_ms: u64) -> Result<(), Failure> {
        let mut connection = self.connection().await?;
        let keys = [self.keys[class.index()].1.as_str()];
        let result: Result<i64, _> = run_script(
            &mut connection.multiplexed,
            &self.limited,
            LIMITED,
            &keys,
            &[hold_ms],
        )
        .await;
        if result.is_err() {
            self.drop_connection().await;
        }
        result.map(drop).map_err(Failure::Redis)
    }

    /// Runs Redis work on the budget's thread, waiting at most the timeout for it.
    async fn on_io<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, Failure>> + Send + 'static,
    ) -> Result<T, Failure> {
        let timeout = self.timeout;
        // Bounded on the I/O thread too, so a stalled Redis does not pile up tasks there.
        let task = self.io.spawn(async move {
            match tokio::time::timeout(timeout, work).await {
                Ok(result) => result,
                Err(_) => Err(Failure::TimedOut),
            }
        });
        match tokio::time::timeout(timeout.saturating_add(Duration::from_millis(20)), task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Gone),
            Err(_) => Err(Failure::TimedOut),
        }
    }
}

impl Budget for RedisBudget {
    fn reserve(&self, class: RateClass) -> BudgetFuture<'_, Reservation> {
        Box::pin(async move {
            let shared = &self.shared;
            if shared.resting() {
                return shared.local.reserve_now(class);
            }
            let answer = shared
                .on_io(shared.clone().run_reserve(class))
                .await
                .and_then(|wait| match wait {
                    wait if u128::from(wait) > MAX_HOLD.as_millis() => Err(Failure::Absurd(wait)),
                    wait => Ok(wait),
                });
            // What Redis answers is kept by the local budget too, which stands in for it
            // when it cannot answer: falling back within a window the fleet has spent (or been
            // told to hold), it would otherwise grant its whole share of it again.
            match answer {
                Ok(0) => {
                    shared.answered();
                    shared.local.count_now(class);
                    Reservation::Granted
                }
                Ok(wait) => {
                    shared.answered();
                    let wait = Duration::from_millis(wait);
                    shared.local.limited_now(class, wait);
                    Reservation::Wait(wait)
                }
                Err(failure) => {
                    if matches!(failure, Failure::TimedOut) {
                        // The connection may be wedged; start afresh next time.
                        let fresh = shared.clone();
                        drop(
                            shared
                                .io
                                .spawn(async move { fresh.drop_connection().await }),
                        );
                    }
                    shared.failed(&failure);
                    shared.local.reserve_now(class)
                }
            }
        })
    }

    fn limited(&self, class: RateClass, retry_after: Duration) -> BudgetFuture<'_, ()> {
        self.shared.local.limited_now(class, retry_after);
        if !self.shared.resting() {
            // Told in the background: the caller already pauses on its own, and the other
            // workers need not have the news before this call goes on.
            let shared = self.shared.clone();
            let hold_ms = u64::try_from(retry_after.min(MAX_HOLD).as_millis()).unwrap_or(u64::MAX);
            let io = shared.io.clone();
            drop(io.spawn(async move {
                let result = match tokio::time::timeout(
                    shared.timeout,
                    shared.clone().run_limited(class, hold_ms),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => {
                        // Cut off mid-request, the connection may be wedged, its answer still
                        // owed: the next request on it would be handed that answer, or wait
                        // behind it. Start afresh, as a reservation that timed out does.
                        shared.drop_connection().await;
                        Err(Failure::TimedOut)
                    }
                };
                if let Err(failure) = result {
                    shared.failed(&failure);
                }
            }));
        }
        Box::pin(std::future::ready(()))
    }
}
