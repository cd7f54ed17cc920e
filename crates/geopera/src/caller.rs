//! Where a call is made from, and which threads' current-thread runtimes have async calls
//! queued for something a blocking call on the same thread would wait for.
//!
//! A current-thread runtime runs its tasks only while its thread drives it. A blocking call
//! made on that thread stops it, so the blocking call must never wait for something (an
//! in-flight slot, a session's sign-in) that an async call of that runtime holds or was
//! promised first: the wait could not end. The limiter and the session both keep such marks;
//! they keep them with [`ThreadMarks`].

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::ThreadId;

use tokio::runtime::{Handle, RuntimeFlavor};

/// Where a call is made from, as far as waiting for a shared resource is concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub(crate) thread: ThreadId,
    /// Whether the thread drives a current-thread Tokio runtime, whose tasks run nowhere else.
    pub(crate) current_thread_runtime: bool,
}

impl Caller {
    /// The calling thread.
    pub(crate) fn current() -> Self {
        Caller {
            thread: std::thread::current().id(),
            current_thread_runtime: Handle::try_current()
                .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::CurrentThread),
        }
    }

    /// The thread, when it drives a current-thread runtime: the one thread that can run the
    /// runtime's tasks.
    pub(crate) fn runtime_thread(self) -> Option<ThreadId> {
        self.current_thread_runtime.then_some(self.thread)
    }
}

/// How many async calls of current-thread runtimes wait for or hold one resource, by the
/// thread that drives each runtime.
#[derive(Debug, Default)]
pub(crate) struct ThreadMarks(Mutex<Vec<(ThreadId, usize)>>);

impl ThreadMarks {
    /// Counts a call on `thread` until the mark is dropped, so that a call given up while
    /// queued is uncounted too.
    pub(crate) fn mark(self: &Arc<Self>, thread: ThreadId) -> ThreadMark {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match counts.iter_mut().find(|(t, _)| *t == thread) {
            Some((_, count)) => *count += 1,
            None => counts.push((thread, 1)),
        }
        ThreadMark {
            marks: self.clone(),
            thread,
        }
    }

    /// Whether an async call of the runtime `thread` drives waits for or holds the resource.
    pub(crate) fn marked(&self, thread: ThreadId) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(t, _)| *t == thread)
    }
}

/// One call counted in [`ThreadMarks`], until dropped.
#[derive(Debug)]
pub(crate) struct ThreadMark {
    marks: Arc<ThreadMarks>,
    thread: ThreadId,
}

impl Drop for ThreadMark {
    fn drop(&mut self) {
        let mut counts = self.marks.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = counts.iter().position(|(t, _)| *t == self.thread) {
            counts[at].1 = counts[at].1.saturating_sub(1);
            if counts[at].1 == 0 {
                counts.swap_remove(at);
            }
        }
    }
}
