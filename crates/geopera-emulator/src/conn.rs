//! The accept loop and each connection's life: protocol, timeouts, resets.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long a client has to send a complete request head, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may sit with no request in progress, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest header-read or idle timeout kept (365 days): the connections' watchdogs add
/// them to the time a connection started or went quiet, which a `Duration::MAX` (a natural
/// way to ask for none) would overflow, ending every connection in a panic.
pub const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);
/// How many connections are served at once, by default: ten times the 1,000 calls in flight
/// a benchmark runs, and few enough that idle connections cannot hold the process's memory
/// and descriptors without bound.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// How often an HTTP/2 connection is pinged at most (half the idle timeout when that is
/// shorter), and how long the ping may go unanswered, so that a peer which vanished without
/// closing does not hold its streams for ever.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
/// The shortest interval between pings, however short the idle timeout.
const HTTP2_PING_FLOOR: Duration = Duration::from_millis(100);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of an HTTP/2 answer hyper is handed at once. hyper asks for another piece only
/// once the stream's window has room for the one before, so an answer not asked for more for
/// the idle timeout is one whose peer made room for less than a piece in that time; a larger
/// piece would make a slow reader look stalled.
const HTTP2_PIECE: usize = 64 * 1024;

/// The most an HTTP/1.1 connection buffers of what it reads, and so the longest request head
/// it takes (a longer one is answered 431): hyper's default, about 400 KB, let each of the
/// connections the cap allows hold that much with a head never finished, some 4 GB in all.
/// A head of this size has room for any credential and cookie a client sends.
const MAX_HTTP1_HEAD_BYTES: usize = 64 * 1024;

/// How long the accept loop pauses after an error that is not about one connection.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Errors that concern only the connection being accepted, not the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// The connection limits [`serve`] applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// Lets a handler drop its connection with a TCP reset.
#[derive(Clone)]
pub(crate) struct ConnKill {
    notify: Arc<Notify>,
    reset: Arc<AtomicBool>,
}

impl ConnKill {
    pub(crate) fn fire(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// Accepts connections until `shutdown` flips, then lets open connections finish (for at
/// most `grace`) and returns.
///
/// At most `max_connections` are served at once. Past that, nothing more is accepted until
/// one closes: the waiting ones stay in the listen backlog, as when descriptors run out,
/// and are served in turn, so a client holding many idle connections costs a task and a
/// descriptor for each only up to the cap (and each of those only until its timeouts).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let max_connections = max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut failing = false;
    let mut full = false;
    loop {
        // A slot first, then the connection it is for; the slot is given back when the
        // connection's task ends. Logged once as the cap is reached and once when there is
        // room again, not for each connection that waits in between.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                if std::mem::take(&mut full) {
                    tracing::info!("fewer than {max_connections} connections open again");
                }
                slot
            }
            Err(_) => {
                if !std::mem::replace(&mut full, true) {
                    tracing::warn!(
                        "{max_connections} connections open, the most served at once; new \
                         ones wait until one closes"
                    );
                }
                tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("accepting connections again");
                    }
                    let _ = stream.set_nodelay(true);
                    let app = app.clone();
                    let shutdown = shutdown.clone();
                    connections.spawn(async move {
                        connection(stream, peer, app, timeouts, shutdown).await;
                        drop(slot);
                    });
                }
                // That one connection failed before it was accepted; the next may not.
                Err(error) if is_per_connection(&error) => {}
                Err(error) => {
                    // Out of descriptors (EMFILE/ENFILE) or memory: the waiting connection
                    // stays queued and the listener stays ready, so retrying at once would
                    // spin a core until a descriptor frees up.
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "cannot accept connections; retrying every {} ms",
                            ACCEPT_BACKOFF.as_millis());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            },
            _ = shutdown.changed() => break,
        }
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        connections.abort_all();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let kill = ConnKill {
        notify: Arc::new(Notify::new()),
        reset: Arc::new(AtomicBool::new(false)),
    };
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        reset: kill.reset.clone(),
        activity: activity.clone(),
    });
    let per_connection = kill.clone();
    let per_request = activity.clone();
    let service = tower::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
        let in_flight = per_request.begin();
        let http2 = request.version() == http::Version::HTTP_2;
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(per_connection.clone());
        let answer = app.clone().oneshot(request.map(Body::new));
        async move {
            let response = answer.await?;
            // The request stays in progress until its body is sent, however slowly.
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                Body::new(Tracked {
                    inner: body,
                    http2,
                    rest: Bytes::new(),
                    in_flight,
                })
            }))
        }
    });
    // HTTP/1.1, or HTTP/2 with prior knowledge (h2c), whichever the client speaks.
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // hyper times each HTTP/1.1 request head, including the wait for the next request on a
    // kept-alive connection. The watchdog below covers what it does not time.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .max_buf_size(MAX_HTTP1_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval((timeouts.idle / 2).clamp(HTTP2_PING_FLOOR, HTTP2_PING_INTERVAL))
        .keep_alive_timeout(HTTP2_PING_TIMEOUT);
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = kill.notify.notified() => {}
        stalled = watchdog(&activity, timeouts) => {
            match stalled {
                Stall::Idle => {
                    // Lets HTTP/2 say goodbye (GOAWAY); HTTP/1.1 closes at once when idle.
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
                }
                // A reset, not a close: a close would leave the kernel still trying to
                // deliver what the socket holds to a peer that takes none of it. Not a GOAWAY
                // either, for an HTTP/2 stream whose window stays shut: that would let the
                // stream run on, and it never ends. Dropping the connection is what frees its
                // answers, as h2 then fails every stream and hyper drops their bodies.
                Stall::Unread => kill.reset.store(true, Ordering::SeqCst),
                Stall::NoRequest => {}
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// Why the watchdog gave up on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stall {
    /// No first request within the header-read timeout.
    NoRequest,
    /// No request in progress for the idle timeout.
    Idle,
    /// An answer in progress, and the peer has taken none of it for the idle timeout (the
    /// socket has been full all that time), or, over HTTP/2, has made room for less than
    /// [`HTTP2_PIECE`] of one stream's answer (hyper has not asked it for more all that time).
    Unread,
}

/// Returns when the connection has stalled: no first request within `header_read` of
/// opening (hyper's own header timer only starts once it has read enough bytes to tell
/// HTTP/1.1 from HTTP/2, so a silent client would otherwise stay), no request in progress
/// for `idle` (hyper has no idle limit for HTTP/2 connections), or an answer that the peer
/// has taken no byte of for `idle` (hyper has no write timeout: a client that asks and never
/// reads would hold the connection and the answer for ever). The last is timed from when a
/// write first found the socket full, never from when the answer began, so slow answers and
/// injected latency are not cut short, and a slow reader, who frees room now and then, is
/// not either. Over HTTP/2 the socket need not fill: a peer that reads the connection but
/// never opens a stream's window holds that answer all the same. There it is timed from when
/// an answer handed hyper a piece that hyper has not asked past, never while the answer waits
/// on its own source.
///
/// Written here because neither hyper nor hyper-util offers a connection idle timeout, and
/// tower's timeouts bound requests, not the gaps between them.
async fn watchdog(activity: &Activity, timeouts: Timeouts) -> Stall {
    loop {
        let (deadline, stall) = {
            let state = activity.state();
            if state.in_flight > 0 {
                let unasked = state.unasked.first().map(|&(since, _)| since);
                let since = [activity.blocked_since(), unasked]
                    .into_iter()
                    .flatten()
                    .min();
                (since.map(|since| since + timeouts.idle), Stall::Unread)
            } else if state.requests == 0 {
                (
                    Some(state.idle_since + timeouts.header_read),
                    Stall::NoRequest,
                )
            } else {
                // hyper ends a request once it holds the answer's last bytes, which may still
                // be on their way to a slow reader: until they are written, the connection
                // is not idle. Over HTTP/2 for one idle timeout at most: hyper's own pings
                // are writes too, and counted whole, they kept an idle connection open for
                // ever.
                let last_write = if activity.is_http2() {
                    activity.last_write().min(state.idle_since + timeouts.idle)
                } else {
                    activity.last_write()
                };
                let since = state.idle_since.max(last_write);
                (Some(since + timeouts.idle), Stall::Idle)
            }
        };
        match deadline {
            None => activity.changed.notified().await,
            Some(at) if Instant::now() >= at => return stall,
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = activity.changed.notified() => {}
                }
            }
        }
    }
}

/// Requests in progress on one connection, and since when it has had none.
struct Activity {
    state: Mutex<ActivityState>,
    changed: Notify,
    /// What [`Activity::wrote`] counts from.
    opened: Instant,
    /// When bytes last went to the socket, in milliseconds since `opened`: an atomic rather
    /// than part of `state`, as every write sets it and nothing waits on it.
    wrote_at_ms: AtomicU64,
    /// When a write first found the socket full with no byte taken since, in milliseconds
    /// since `opened` plus one; 0 while writes go through.
    blocked_at_ms: AtomicU64,
    /// Whether the client opened with HTTP/2's preface, learnt from its first bytes.
    http2: AtomicBool,
    /// Whether its first bytes have been read.
    first_read: AtomicBool,
}

struct ActivityState {
    in_flight: usize,
    requests: u64,
    idle_since: Instant,
    /// HTTP/2 answers that handed hyper a piece it has not yet asked past: since when, and
    /// which request's. One entry at most per answer in progress.
    unasked: BTreeSet<(Instant, u64)>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                requests: 0,
                idle_since: Instant::now(),
                unasked: BTreeSet::new(),
            }),
            changed: Notify::new(),
            opened: Instant::now(),
            wrote_at_ms: AtomicU64::new(0),
            blocked_at_ms: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            first_read: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the connection opened.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes that bytes went to the socket now.
    fn wrote(&self) {
        self.wrote_at_ms.store(self.now_ms(), Ordering::Relaxed);
        self.blocked_at_ms.store(0, Ordering::Relaxed);
    }

    /// Notes that a write found the socket full; the first time since bytes last went
    /// through, the watchdog is told, so that it starts timing.
    fn write_blocked(&self) {
        let at = self.now_ms().saturating_add(1);
        if self
            .blocked_at_ms
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// Since when writes have found the socket full with no byte taken, if they have.
    fn blocked_since(&self) -> Option<Instant> {
        match self.blocked_at_ms.load(Ordering::Relaxed) {
            0 => None,
            at => Some(self.opened + Duration::from_millis(at - 1)),
        }
    }

    /// When bytes last went to the socket (the connection's start if none have).
    /// Notes the client's first bytes: HTTP/2 opens with `PRI * HTTP/2.0`, which no
    /// HTTP/1.1 request begins with.
    fn first_bytes(&self, bytes: &[u8]) {
        // One reader a connection: a load, then a store, never a read-modify-write per read.
        if bytes.is_empty() || self.first_read.load(Ordering::Relaxed) {
            return;
        }
        self.first_read.store(true, Ordering::Relaxed);
        let preface = b"PRI ";
        let seen = bytes.len().min(preface.len());
        self.http2
            .store(bytes[..seen] == preface[..seen], Ordering::Relaxed);
    }

    fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    fn last_write(&self) -> Instant {
        self.opened + Duration::from_millis(self.wrote_at_ms.load(Ordering::Relaxed))
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Marks a request as started; it ends when the returned guard drops.
    fn begin(self: &Arc<Self>) -> InFlight {
        let id = {
            let mut state = self.state();
            state.in_flight += 1;
            state.requests += 1;
            state.requests
        };
        self.changed.notify_one();
        InFlight {
            activity: self.clone(),
            id,
            handed_out: None,
        }
    }
}

/// One request in progress; dropping it (answer sent, or connection gone) ends it.
struct InFlight {
    activity: Arc<Activity>,
    /// Which of the connection's requests, to tell its entry in `unasked` from others'.
    id: u64,
    /// Its entry in `unasked`, if it has one.
    handed_out: Option<Instant>,
}

impl InFlight {
    /// Notes that hyper holds a piece of the answer and has not asked for the next; the
    /// watchdog is told if no other answer has waited longer, so that it starts timing.
    fn handed_out(&mut self) {
        let now = Instant::now();
        let first = {
            let mut state = self.activity.state();
            state.unasked.insert((now, self.id));
            state.unasked.first() == Some(&(now, self.id))
        };
        self.handed_out = Some(now);
        if first {
            self.activity.changed.notify_one();
        }
    }

    /// Notes that hyper asked for more. The watchdog is not told: it wakes at the deadline it
    /// has and finds a later one.
    fn asked(&mut self) {
        if let Some(since) = self.handed_out.take() {
            self.activity.state().unasked.remove(&(since, self.id));
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.activity.state();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.idle_since = Instant::now();
            if let Some(since) = self.handed_out.take() {
                state.unasked.remove(&(since, self.id));
            }
        }
        self.activity.changed.notify_one();
    }
}

/// A response body that keeps its request in progress until it is sent or dropped.
///
/// Over HTTP/2 it also tells the watchdog whether the peer keeps taking the answer: hyper
/// asks for another frame only once the stream's window has room for the one before, so a
/// frame not asked past is a peer that has stopped opening the window. Large frames go to
/// hyper in pieces of [`HTTP2_PIECE`], as hyper would hold a whole one for as long as the
/// peer takes to read it without asking for more. HTTP/1.1 answers pass as they are, a large
/// one in one write; there the socket filling up says the same.
struct Tracked {
    inner: Body,
    http2: bool,
    /// What is left of the last data frame `inner` gave, to hand out before asking it again.
    rest: Bytes,
    in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if !this.http2 {
            return Pin::new(&mut this.inner).poll_frame(cx);
        }
        // Asked again: whatever the body does now, waiting on its own source included, is
        // not the peer's doing.
        this.in_flight.asked();
        if this.rest.is_empty() {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(HTTP2_PIECE));
        this.in_flight.handed_out();
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

/// A TCP stream that closes with a reset (not a FIN) when the handler asked for one, and
/// tells its connection's [`Activity`] when it writes.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
    activity: Arc<Activity>,
}

impl ResettableStream {
    fn note(&self, written: &Poll<io::Result<usize>>) {
        match written {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => {}
        }
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // Linger 0 turns the close into an RST; failure just means a normal close.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(bytes) = buf.filled().get(before..) {
            self.activity.first_bytes(bytes);
        }
        read
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&written);
        written
    }

    // Forwarded so hyper hands a large answer to the socket as it is (one `writev` with the
    // head) instead of first copying it into its own buffer.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
