//! The seed's "bounded fan-out with every outcome" pattern as one call.
//!
//! In Python that is a semaphore plus `asyncio.gather(..., return_exceptions=True)`. Here it is
//! [`fan_out`]: at most `limit` calls in flight, and every outcome, success or error, returned
//! in input order. Combined with a client's [`max_in_flight`](crate::ClientBuilder::max_in_flight)
//! and its shared 429 pause, a large fan-out neither exhausts the pool nor hammers the API.

use std::future::Future;

use futures::stream::{self, StreamExt as _};

/// Runs `call` on every input with at most `limit` calls in flight (a `limit` of 0 is taken
/// as 1) and returns every outcome in input order; one failure does not cancel the others.
///
/// ```no_run
/// # async fn run(client: geopera::AuthenticatedClient) {
/// use geopera::{fan_out, models::CatalogSearchInput, operations::catalog_search};
///
/// let collections = ["sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd"];
/// let outcomes = fan_out(collections, 8, |collection| {
///     catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").collections([collection]))
/// })
/// .await;
/// for (collection, outcome) in collections.iter().zip(&outcomes) {
///     match outcome {
///         Ok(page) => println!("{collection}: {} items", page.features.len()),
///         Err(error) => println!("{collection} failed: {error}"),
///     }
/// }
/// # }
/// ```
pub async fn fan_out<I, T, F, Fut>(inputs: I, limit: usize, call: F) -> Vec<Fut::Output>
where
    I: IntoIterator<Item = T>,
    F: FnMut(T) -> Fut,
    Fut: Future,
{
    // Run as they finish, not in order: outcomes held for their turn would count against
    // `limit` (as `buffered`'s do), and one slow call would hold every later input back while
    // the rest of the slots sat idle. Each outcome is put back in its input's place.
    let mut call = call;
    let mut running = stream::iter(inputs.into_iter().enumerate())
        .map(|(index, input)| {
            let outcome = call(input);
            async move { (index, outcome.await) }
        })
        .buffer_unordered(limit.max(1));
    let mut outcomes: Vec<Option<Fut::Output>> = Vec::new();
    while let Some((index, outcome)) = running.next().await {
        if outcomes.len() <= index {
            outcomes.resize_with(index + 1, || None);
        }
        outcomes[index] = Some(outcome);
    }
    // Every input's outcome came back once, so none is missing.
    outcomes.into_iter().flatten().collect()
}

/// [`fan_out`] for blocking code: `limit` threads work through the inputs (fewer when the
/// system cannot start that many, and the calling thread when it can start none); outcomes
/// come back in input order.
///
/// # Panics
///
/// When `call` panics, no further input is started, and once the calls already running have
/// returned, the panic goes on with its own payload — as [`fan_out`]'s does when its future is
/// awaited — so a failing closure does not go on to run every other input first.
#[cfg(feature = "blocking")]
pub fn fan_out_blocking<T, R, F>(inputs: Vec<T>, limit: usize, call: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, PoisonError};

    let count = inputs.len();
    let queue = Mutex::new(inputs.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    let stopped = AtomicBool::new(false);
    let panicked = Mutex::new(None);
    let work = || {
        while !stopped.load(Ordering::Acquire) {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((index, input)) = next else { break };
            // Caught only to stop the other threads taking inputs and to raise it
            // again below; nothing of the closure's is used after it panicked.
            match catch_unwind(AssertUnwindSafe(|| call(input))) {
                Ok(outcome) => {
                    results.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(outcome);
                }
                Err(payload) => {
                    stopped.store(true, Ordering::Release);
                    panicked
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(payload);
                }
            }
        }
    };
    std::thread::scope(|scope| {
        let mut started = 0;
        for _ in 0..limit.clamp(1, count.max(1)) {
            // A system out of threads (a container's `pids.max`) runs the calls on fewer.
            if std::thread::Builder::new()
                .spawn_scoped(scope, work)
                .is_ok()
            {
                started += 1;
            }
        }
        // With none started, the calling thread works through them itself.
        if started == 0 {
            work();
        }
    });
    if let Some(payload) = panicked
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        resume_unwind(payload);
    }
    results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}
