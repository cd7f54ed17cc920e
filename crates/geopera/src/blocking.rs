//! Blocking calls: the async engine, driven to completion for a thread that waits.
//!
//! There is one call engine ([`crate::engine`]); a blocking call runs its future — request,
//! retries, and decoding of the answer — and waits for the result. Where it runs depends on
//! how busy the client is, because the two ways have opposite costs:
//!
//! - **On the calling thread**, when no other blocking call of the client is in flight: a
//!   current-thread Tokio runtime and a connection pool that belong to the thread run the
//!   call, so nothing is handed to another thread and a lone blocking call costs what an async
//!   one does.
//! - **On the client's I/O thread**, when other blocking calls are in flight: one thread with
//!   one runtime runs them all, as an async client would, reading many connections per wake-up;
//!   each caller sleeps until its answer is handed back. Many threads each driving their own
//!   connection would spend more time switching between each other than working.
//!
//! Where a handed-back answer is decoded depends on the cores the process may use and on the
//! answer's size. With several cores, each caller decodes its own, so that callers decode in
//! parallel rather than one after another on the I/O thread. With one (a pinned process, a
//! container with one CPU), nothing runs in parallel anyway, and the I/O thread decodes small
//! answers: the value is built from that thread's warm allocator caches, and the caller only
//! wakes to return it. A large answer is still decoded by its caller, who frees it later: a
//! value of thousands of allocations freed by a thread other than the one that made them goes
//! back through that thread's arena one chunk at a time, which costs more than the warm caches
//! save ([`Thread::decodes`]).
//!
//! Why pools are kept apart: a pooled connection is driven by a task on the runtime that
//! opened it, so a pool shared across runtimes would let one thread pick a connection whose
//! runtime is parked on another, and wait for ever. Each calling thread and each I/O thread
//! has its own, built from the client's transport settings (or the factory given to
//! [`Client::with_blocking_http_client`](crate::Client::with_blocking_http_client)).
//!
//! From inside a multi-thread Tokio runtime a call first moves the worker's other tasks away
//! (`block_in_place`); inside a current-thread runtime, whose thread cannot run a second
//! runtime, it always goes to the I/O thread.
//!
//! A call that returns while a task it started must still run to its end (a session's token
//! request, whose answer holds the rotated tokens) leaves that task to a thread of its own,
//! with the runtime and the connection it runs on ([`finish_even_if_left`]).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt as _;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::caller::Caller;
use crate::engine::Face;
use crate::Error;

type MakeHttp = dyn Fn() -> Result<reqwest::Client, Error> + Send + Sync;

/// How blocking calls of one client are carried: how to make an HTTP client for a thread, how
/// many calls are in flight, and the I/O thread, started on first need.
pub(crate) struct BlockingTransport {
    make: Box<MakeHttp>,
    in_flight: AtomicUsize,
    io_thread: OnceLock<IoThread>,
    /// Held while the I/O thread is started, so that two first calls at once start one.
    starting: std::sync::Mutex<()>,
    /// Whether jobs on the I/O thread decode the answers they hand back
    /// ([`Thread::decodes`]); learnt on first need.
    io_thread_decodes: OnceLock<bool>,
}

/// The thread that runs a client's blocking calls while others are in flight.
struct IoThread {
    /// Where calls are queued for the thread; dropped with the transport, which ends it.
    jobs: mpsc::UnboundedSender<Job>,
    /// Its pool: used only by jobs on that thread, whose runtime drives its connections.
    http: reqwest::Client,
}

/// One blocking call's work, as the I/O thread runs it.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

impl fmt::Debug for BlockingTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingTransport")
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl BlockingTransport {
    pub(crate) fn new(
        make: impl Fn() -> Result<reqwest::Client, Error> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(BlockingTransport {
            make: Box::new(make),
            in_flight: AtomicUsize::new(0),
            io_thread: OnceLock::new(),
            starting: std::sync::Mutex::new(()),
            io_thread_decodes: OnceLock::new(),
        })
    }

    /// The I/O thread, started on first use. It runs until the transport (the last clone of
    /// its client) is dropped, which closes its queue.
    ///
    /// A failure to start it is not kept: kept, a moment's shortage (of threads, of file
    /// descriptors) as the first calls met at once would fail every concurrent blocking call
    /// of the client for its life, while calls made one at a time went on.
    fn io_thread(&self) -> Result<&IoThread, Error> {
        if let Some(thread) = self.io_thread.get() {
            return Ok(thread);
        }
        let _starting = self
            .starting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(thread) = self.io_thread.get() {
            return Ok(thread);
        }
        let thread = IoThread::start(&*self.make)?;
        Ok(self.io_thread.get_or_init(|| thread))
    }

    /// Whether the process may use one core only. Read once: on Linux it reads the process's
    /// CPU affinity and its cgroup's quota.
    fn io_thread_decodes(&self) -> bool {
        *self.io_thread_decodes.get_or_init(|| {
            std::thread::available_parallelism().is_ok_and(|cores| cores.get() == 1)
        })
    }
}

impl IoThread {
    /// Starts the thread, with the HTTP client `make` builds. `make`'s error is the call's as it
    /// came: wrapped once more, a configuration error said "invalid client configuration"
    /// twice.
    fn start(make: &MakeHttp) -> Result<IoThread, Error> {
        let http = make()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::config(format!("cannot start the runtime of blocking calls: {e}"))
            })?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("geopera-blocking-io".to_owned())
            .spawn(move || {
                // Calls arrive through a queue rather than being spawned from the calling
                // threads: a spawn from outside wakes the runtime's driver with a system call
                // every time, while a queue wakes this task only when it is idle, so a busy
                // thread takes a burst of calls for one wake-up. It runs until the transport
                // is gone and the queue closes.
                TO_FINISH.with(|cell| *cell.borrow_mut() = Some(Vec::new()));
                IS_IO_THREAD.with(|cell| cell.set(true));
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        drop(tokio::spawn(job));
                    }
                    // Dropped with the runtime, a task a call left to finish (a token
                    // request, whose answer holds the rotated tokens) would be cancelled
                    // mid-way; each is bounded by its own request's timeout.
                    let left = TO_FINISH.with(|cell| cell.borrow_mut().take());
                    for task in left.unwrap_or_default() {
                        let _ = task.await;
                    }
                });
            })
            .map_err(|e| {
                Error::config(format!(
                    "cannot start the I/O thread of blocking calls: {e}"
                ))
            })?;
        Ok(IoThread { jobs, http })
    }
}

/// What a blocking call's future is given: the pool of the thread it runs on, and the thread
/// it stops.
pub(crate) struct Thread {
    http: reqwest::Client,
    caller: Caller,
    /// The largest answer decoded where the work runs ([`Thread::decodes`]).
    decodes_up_to: usize,
}

/// The largest answer the I/O thread decodes for its caller (with one core). Between the
/// sizes measured: a 10-item page (11 KB) decodes faster there, a 500-item one (550 KB) slower.
const DECODED_ON_IO_THREAD: usize = 64 * 1024;

impl Thread {
    /// Whether the work should decode an answer of `len` bytes itself rather than hand it back
    /// raw for the calling thread to decode: always on the calling thread, where both are the
    /// same, and on the I/O thread for an answer of up to [`DECODED_ON_IO_THREAD`] bytes when
    /// the process may use one core only (see the module's docs).
    pub(crate) fn decodes(&self, len: usize) -> bool {
        len <= self.decodes_up_to
    }

    /// The face to run the engine through.
    pub(crate) fn face(&self) -> Face<'_> {
        Face {
            http: &self.http,
            blocking: Some(self.caller),
        }
    }
}

/// What one thread keeps to run blocking calls itself.
struct Shell {
    runtime: Rc<Runtime>,
    /// One pool per client transport, dropped once the transport is.
    pools: Vec<(Weak<BlockingTransport>, reqwest::Client)>,
}

thread_local! {
    static SHELL: RefCell<Option<Shell>> = const { RefCell::new(None) };
    /// While this thread runs a call on its own runtime: the call's tasks that must finish
    /// even if the call returns first ([`finish_even_if_left`]).
    static TO_FINISH: RefCell<Option<Vec<JoinHandle<()>>>> = const { RefCell::new(None) };
    /// Whether this thread is the I/O thread of a client's blocking calls.
    static IS_IO_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes sure `task`, spawned on the current runtime, runs to its end even when the call that
/// spawned it returns first (a session's token request, whose answer holds rotated tokens).
///
/// A runtime that someone keeps driving (the caller's own) finishes it by itself. A blocking
/// call's runtime on its own thread is driven only during that thread's calls, so such a task
/// is kept, and [`run_here`] hands the runtime to a thread of its own to finish it if the call
/// returns before it does. The I/O thread's runtime is driven until its client is dropped,
/// and finishes the tasks it kept before it stops.
pub(crate) fn finish_even_if_left(task: JoinHandle<()>) {
    TO_FINISH.with(|cell| match &mut *cell.borrow_mut() {
        Some(kept) => {
            // The I/O thread keeps its tasks for the client's life: those done are let go.
            kept.retain(|kept| !kept.is_finished());
            kept.push(task);
        }
        None => drop(task),
    });
}

/// Finishes `tasks` on a thread of its own, with the runtime that drives them (and the
/// connections they use). The calling thread leaves its runtime and pools behind and makes
/// new ones on its next call: a rare cost, paid only when a call returned mid-refresh.
fn finish_elsewhere(runtime: Rc<Runtime>, tasks: Vec<JoinHandle<()>>) {
    drop(SHELL.with(|cell| cell.borrow_mut().take()));
    match Rc::try_unwrap(runtime) {
        Ok(runtime) => {
            let finisher = std::thread::Builder::new()
                .name("geopera-blocking-finish".to_owned())
                .spawn(move || {
                    for task in tasks {
                        let _ = runtime.block_on(task);
                    }
                });
            if let Err(error) = finisher {
                // The tasks are dropped with the closure: as if the call had cancelled them.
                tracing::warn!(%error, "cannot start a thread to finish a token request");
            }
        }
        // Still shared (never so today): finish them here, late rather than lost.
        Err(runtime) => {
            for task in tasks {
                let _ = runtime.block_on(task);
            }
        }
    }
}

/// Counts a call in flight on a transport for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the future `work` makes to completion and returns its output, blocking the calling
/// thread, from wherever the caller is.
///
/// # Errors
///
/// A runtime, the I/O thread or an HTTP client for them could not be made.
pub(crate) fn run<F>(
    transport: &Arc<BlockingTransport>,
    caller: Caller,
    work: impl FnOnce(Thread) -> F + Send + 'static,
) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let alone = transport.in_flight.fetch_add(1, Ordering::AcqRel) == 0;
    let _in_flight = InFlight(&transport.in_flight);
    // A blocking call made from code that runs on an I/O thread (a waiter's progress callback,
    // an upload's, while the wait or the upload rides on it) would queue its work behind the
    // very job that waits for it, and both would wait for ever, every timer of that thread
    // stopped with them. It runs on a thread of its own instead.
    if IS_IO_THREAD.with(std::cell::Cell::get) {
        return on_a_thread_of_its_own(transport, caller, work);
    }
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Err(_) if alone => run_here(transport, caller, work),
        Err(_) => on_io_thread(transport, caller, work),
        // This thread drives a runtime already and cannot drive a second one; while the call
        // runs, no task of that runtime can run either.
        Ok(RuntimeFlavor::CurrentThread) => on_io_thread(transport, caller, work),
        // Multi-thread runtimes: hand this worker's other tasks to another thread first.
        Ok(_) if alone => tokio::task::block_in_place(|| run_here(transport, caller, work)),
        Ok(_) => tokio::task::block_in_place(|| on_io_thread(transport, caller, work)),
    }
}

/// Runs the future `work` makes on this thread's own runtime and pool. For threads that are
/// not driving a runtime already (the stream reader's).
///
/// # Errors
///
/// The thread's runtime or HTTP client could not be made.
pub(crate) fn run_here<F: Future>(
    transport: &Arc<BlockingTransport>,
    caller: Caller,
    work: impl FnOnce(Thread) -> F,
) -> Result<F::Output, Error> {
    let (runtime, http) = SHELL.with(|cell| -> Result<_, Error> {
        let mut shell = cell.borrow_mut();
        let shell = match &mut *shell {
            Some(shell) => shell,
            None => shell.insert(Shell {
                runtime: Rc::new(
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            Error::config(format!("cannot start a runtime for blocking calls: {e}"))
                        })?,
                ),
                pools: Vec::new(),
            }),
        };
        let http = shell.pool(transport)?;
        Ok((shell.runtime.clone(), http))
    })?;
    // The cell is released before running: nothing the work does can find it borrowed.
    TO_FINISH.with(|cell| *cell.borrow_mut() = Some(Vec::new()));
    let output = runtime.block_on(work(Thread {
        http,
        caller,
        decodes_up_to: usize::MAX,
    }));
    let unfinished: Vec<_> = TO_FINISH
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_default()
        .into_iter()
        .filter(|task| !task.is_finished())
        .collect();
    if !unfinished.is_empty() {
        finish_elsewhere(runtime, unfinished);
    }
    Ok(output)
}

/// Runs the work as [`run_here`] does, on a new thread that lives as long as the call, and
/// sleeps until it ends; its panic is resumed here, as [`on_io_thread`] resumes one.
///
/// # Errors
///
/// The thread, its runtime or its HTTP client could not be made.
fn on_a_thread_of_its_own<F>(
    transport: &Arc<BlockingTransport>,
    caller: Caller,
    work: impl FnOnce(Thread) -> F + Send + 'static,
) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::scope(|scope| {
        let running = std::thread::Builder::new()
            .name("geopera-blocking-nested".to_owned())
            .spawn_scoped(scope, move || run_here(transport, caller, work))
            .map_err(|e| {
                Error::config(format!("cannot start a thread for a blocking call: {e}"))
            })?;
        running
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Hands the work to the transport's I/O thread and sleeps until its output comes back.
/// When the calling thread drives a current-thread runtime, that runtime's tasks wait until
/// the call returns: the work knows it from `caller` ([`crate::engine::Face::blocking`]).
///
/// A panic in the work (the caller's credentials provider, say) is caught on the I/O thread,
/// which goes on serving the other calls, and resumed on the calling thread, as it would be
/// had the call run there: the caller's code panicked, not the SDK's thread.
fn on_io_thread<F>(
    transport: &BlockingTransport,
    caller: Caller,
    work: impl FnOnce(Thread) -> F + Send + 'static,
) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let gone = || Error::config("the I/O thread of blocking calls has stopped");
    let io_thread = transport.io_thread()?;
    let http = io_thread.http.clone();
    let decodes_up_to = if transport.io_thread_decodes() {
        DECODED_ON_IO_THREAD
    } else {
        0
    };
    let (done, outcome) = std::sync::mpsc::sync_channel(1);
    // A thread that has stopped drops the job, and with it the sender.
    let job: Job = Box::pin(async move {
        // Made inside the caught future, so that a panic while making it is caught too.
        let work = async move {
            work(Thread {
                http,
                caller,
                decodes_up_to,
            })
            .await
        };
        // Unwind safety: what the work shares with other calls (the client's limiter, a
        // session) sits behind locks and guards that an unwinding drop releases, and the
        // caller, who gets the panic back, never sees the work's output.
        let output = AssertUnwindSafe(work).catch_unwind().await;
        // The caller may have given up (its thread panicked); nothing is left to do then.
        let _ = done.send(output);
    });
    io_thread.jobs.send(job).map_err(|_| gone())?;
    match outcome.recv() {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(gone()),
    }
}

impl Shell {
    /// This thread's pool for `transport`, made on first use.
    fn pool(&mut self, transport: &Arc<BlockingTransport>) -> Result<reqwest::Client, Error> {
        self.pools.retain(|(owner, _)| owner.strong_count() > 0);
        let found = self
            .pools
            .iter()
            .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(transport)));
        if let Some((_, http)) = found {
            return Ok(http.clone());
        }
        let http = (transport.make)()?;
        self.pools.push((Arc::downgrade(transport), http.clone()));
        Ok(http)
    }
}

/// The reading end of a stream handed to blocking code: a bounded channel from the reader
/// thread ([`handover`]), whose other end learns at once when this one is dropped.
///
/// Why not the channel alone: a reader waiting on the network for the next chunk would learn
/// that nobody wants it only when that chunk came and could not be sent — from a silent server,
/// never — so a dropped iterator would keep its thread and its connection for as long as the
/// server kept quiet.
pub(crate) struct Handed<T> {
    items: std::sync::mpsc::IntoIter<(T, usize)>,
    held: Arc<Held>,
    /// Dropped with this end, which wakes the reader ([`Handing::next_of`]).
    _gone: tokio::sync::oneshot::Sender<()>,
}

impl<T> Iterator for Handed<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let Some((item, bytes)) = self.items.next() else {
            self.resume_panic();
            return None;
        };
        self.held.release(bytes);
        Some(item)
    }
}

impl<T> Handed<T> {
    /// Resumes here the panic that ended the reader, if one did ([`Handing::panicked`]): the
    /// caller's code panicked there (its credentials provider, say), and an async stream
    /// would have panicked in its caller's task, where a blocking one ended as if the
    /// answer had been empty.
    pub(crate) fn resume_panic(&self) {
        let panic = self
            .held
            .panic
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The reader thread's end of a [`handover`].
pub(crate) struct Handing<T> {
    items: std::sync::mpsc::SyncSender<(T, usize)>,
    held: Arc<Held>,
    gone: tokio::sync::oneshot::Receiver<()>,
}

/// The bytes handed over and not yet taken, against the hand-over's budget.
///
/// Why bytes as well as items: a count alone bounds memory only when items are small, and an
/// NDJSON line may be as long as the response-size cap, so a count of them lets a server fill
/// the hand-over with that many caps' worth while the caller is slow.
struct Held {
    bytes: AtomicUsize,
    budget: usize,
    /// Woken when the caller takes an item; only the reader waits on it.
    taken: tokio::sync::Notify,
    /// The panic that ended the reader, for the caller to resume.
    panic: std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Held {
    /// Waits until `bytes` more fit the budget, and counts them. With nothing held, any item
    /// fits: an item longer than the budget still goes, alone.
    async fn admit(&self, bytes: usize) {
        loop {
            // Only the reader adds, so what it reads here can only shrink before it adds.
            let held = self.bytes.load(Ordering::Acquire);
            if held == 0 || held.saturating_add(bytes) <= self.budget {
                self.bytes.fetch_add(bytes, Ordering::AcqRel);
                return;
            }
            // A release between the load and this wait leaves a permit, so none is missed.
            self.taken.notified().await;
        }
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.taken.notify_one();
        }
    }
}

impl<T> Handing<T> {
    /// Ends the hand-over with the reader's `panic`, which the [`Handed`] end resumes once it
    /// has taken every item sent before.
    pub(crate) fn panicked(self, panic: Box<dyn std::any::Any + Send>) {
        *self
            .held
            .panic
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(panic);
    }

    /// The next item of `stream`, or `None` once the stream ends or the [`Handed`] end is
    /// dropped, whichever comes first: a reader never waits on the network for nobody.
    pub(crate) async fn next_of<S>(&mut self, stream: &mut S) -> Option<S::Item>
    where
        S: futures::Stream + Unpin,
    {
        use futures::StreamExt as _;

        self.unless_gone(stream.next()).await.flatten()
    }

    /// What `work` comes to, or `None` when the [`Handed`] end is dropped first. The
    /// opening of a stream is waited for this way too: its answer's head may be long in
    /// coming (retries, a silent server, no read timeout), and the iterator may be dropped
    /// before it comes, as an async stream may.
    pub(crate) async fn unless_gone<F: Future>(&mut self, work: F) -> Option<F::Output> {
        match futures::future::select(std::pin::pin!(work), &mut self.gone).await {
            futures::future::Either::Left((output, _)) => Some(output),
            futures::future::Either::Right(_) => None,
        }
    }

    /// Hands `item` over, waiting while the channel is full; `false` when the [`Handed`] end
    /// is gone. It counts nothing against the byte budget: for items of a bounded size.
    pub(crate) fn send(&self, item: T) -> bool {
        self.items.send((item, 0)).is_ok()
    }

    /// Hands over `item`, which stands for `bytes` of the answer, once they fit the byte
    /// budget and the channel has room; `false` when the [`Handed`] end is gone first.
    pub(crate) async fn send_weighed(&mut self, item: T, bytes: usize) -> bool {
        let held = self.held.clone();
        self.unless_gone(held.admit(bytes)).await.is_some()
            && self.items.send((item, bytes)).is_ok()
    }
}

/// A bounded hand-over of `bound` items from a reader thread to blocking code, holding at
/// most `budget` bytes of items sent with [`Handing::send_weighed`] (or one item, when
/// longer).
pub(crate) fn handover<T>(bound: usize, budget: usize) -> (Handing<T>, Handed<T>) {
    let (items, receiver) = std::sync::mpsc::sync_channel(bound);
    let (gone_sender, gone) = tokio::sync::oneshot::channel();
    let held = Arc::new(Held {
        bytes: AtomicUsize::new(0),
        budget,
        taken: tokio::sync::Notify::new(),
        panic: std::sync::Mutex::new(None),
    });
    (
        Handing {
            items,
            held: held.clone(),
            gone,
        },
        Handed {
            items: receiver.into_iter(),
            held,
            _gone: gone_sender,
        },
    )
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
