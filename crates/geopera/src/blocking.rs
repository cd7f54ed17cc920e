//! Blocking calls: the async engine, driven on the calling thread.
//!
//! There is one call engine ([`crate::engine`]); a blocking call runs it to completion on a
//! current-thread Tokio runtime that belongs to the calling thread, through a connection pool
//! that belongs to that thread too. Nothing is handed to another thread, so a blocking call
//! costs what the async one does, and every behaviour — retries, deadline, limiter, redirects,
//! response cap, tracing — is the same code.
//!
//! Why per thread: a pooled connection is driven by a task on the runtime that opened it. A
//! pool shared between threads would let one thread pick a connection whose runtime is parked
//! on another thread, and wait for ever. So each thread keeps its own runtime and, per client,
//! its own pool, built from the client's transport settings (or the factory given to
//! [`Client::with_blocking_http_client`](crate::Client::with_blocking_http_client)). Both are
//! dropped when the thread ends; a pool is also dropped once its client is gone.
//!
//! From inside a multi-thread Tokio runtime the call moves the worker's other tasks away
//! (`block_in_place`) and proceeds the same way. A current-thread runtime has no other thread
//! to hand its tasks to, so there the call runs on a short-lived helper thread while the
//! caller waits.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::client::Client;
use crate::engine::Face;
use crate::limiter::Caller;
use crate::Error;

/// How the HTTP client of blocking calls is made: once per thread that makes them.
pub(crate) struct BlockingTransport {
    make: Box<dyn Fn() -> Result<reqwest::Client, Error> + Send + Sync>,
}

impl fmt::Debug for BlockingTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingTransport").finish_non_exhaustive()
    }
}

impl BlockingTransport {
    pub(crate) fn new(
        make: impl Fn() -> Result<reqwest::Client, Error> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(BlockingTransport {
            make: Box::new(make),
        })
    }
}

/// What one thread keeps for its blocking calls.
struct Shell {
    runtime: Rc<Runtime>,
    /// One pool per client transport, dropped once the transport is.
    pools: Vec<(Weak<BlockingTransport>, reqwest::Client)>,
}

thread_local! {
    static SHELL: RefCell<Option<Shell>> = const { RefCell::new(None) };
}

/// What a blocking call's future is given: this thread's pool, and the thread it stops.
pub(crate) struct Thread {
    http: reqwest::Client,
    caller: Caller,
}

impl Thread {
    /// The face to run the engine through.
    pub(crate) fn face(&self) -> Face<'_> {
        Face {
            http: &self.http,
            blocking: Some(self.caller),
        }
    }
}

/// Runs the future `work` makes, blocking until it is done, from wherever the caller is.
///
/// # Errors
///
/// The thread's runtime or HTTP client could not be built.
pub(crate) fn run<F>(
    client: &Client,
    caller: Caller,
    work: impl FnOnce(Thread) -> F + Send,
) -> Result<F::Output, Error>
where
    F: Future,
    F::Output: Send,
{
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Err(_) => on_this_thread(client, caller, work),
        Ok(RuntimeFlavor::CurrentThread) => std::thread::scope(|scope| {
            match scope.spawn(|| on_this_thread(client, caller, work)).join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }),
        // Multi-thread runtimes: hand this worker's other tasks to another thread first.
        Ok(_) => tokio::task::block_in_place(|| on_this_thread(client, caller, work)),
    }
}

fn on_this_thread<F: Future>(
    client: &Client,
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
                            Error::Config(format!("cannot start a runtime for blocking calls: {e}"))
                        })?,
                ),
                pools: Vec::new(),
            }),
        };
        let http = shell.pool(&client.blocking)?;
        Ok((shell.runtime.clone(), http))
    })?;
    // The cell is released before running: nothing the work does can find it borrowed.
    Ok(runtime.block_on(work(Thread { http, caller })))
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
